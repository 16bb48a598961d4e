// Package audittest provides an in-memory audit.Store for tests of the
// audit log and of what is built on it, and a conformance suite, TestStore,
// that the database stores run to show they implement audit.Store as the
// audit.Log expects.
package audittest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/coffre/coffre/audit"
)

// Store is an in-memory audit.Store. It is safe for concurrent use and
// stricter than the interface asks: SequenceAudit refuses, with nothing
// changed, a batch whose sequence numbers do not continue the log densely,
// an entry unknown or already sequenced, a leaf hash of the wrong size, and
// node hashes that do not continue their level; and a stale head with
// audit.ErrHeadMoved. The zero value is not usable; call NewStore.
type Store struct {
	mu      sync.Mutex
	rows    []row      // row id i+1 at index i
	first   int        // every row before index first is sequenced
	bySeq   []int      // row index of each sequence number
	levels  [][][]byte // node hashes by level/audit.TileHeight, from 1
	head    []byte
	cps     []*audit.StoredCheckpoint // by size
	fault   func(op string) error
	moved   int
	batches int
}

type row struct {
	entry     audit.Entry
	sequenced bool
	seq       uint64
	leaf      []byte
}

var _ audit.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store { return &Store{} }

// Add commits e unsequenced, as a writer's transaction would, and returns
// its row id. e's Seq is ignored.
func (s *Store) Add(e *audit.Entry) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *e
	c.Seq = 0
	c.Fields = slices.Clone(e.Fields)
	c.Sealed = bytes.Clone(e.Sealed)
	s.rows = append(s.rows, row{entry: c})
	return int64(len(s.rows))
}

// SetFault makes every store method first call f with its name (such as
// "SequenceAudit") and fail with the error f returns, if any. f runs
// without the store's lock held, so it may call the store or a Log. A nil
// f removes the fault.
func (s *Store) SetFault(f func(op string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetHead replaces the stored head, for tests of a corrupted store.
func (s *Store) SetHead(head []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.head = bytes.Clone(head)
}

// Stats reports the entries committed, the entries sequenced, the batches
// SequenceAudit accepted and the ones it refused with audit.ErrHeadMoved.
func (s *Store) Stats() (rows, sequenced, batches, moved int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows), len(s.bySeq), s.batches, s.moved
}

// Seq returns the sequence number of row id, and whether it has one.
func (s *Store) Seq(id int64) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > int64(len(s.rows)) {
		return 0, false
	}
	r := s.rows[id-1]
	return r.seq, r.sequenced
}

func (s *Store) check(op string) error {
	s.mu.Lock()
	f := s.fault
	s.mu.Unlock()
	if f != nil {
		if err := f(op); err != nil {
			return err
		}
	}
	return nil
}

// ReadHashes implements audit.HashReader.
func (s *Store) ReadHashes(ctx context.Context, level uint, start, end uint64) ([][]byte, error) {
	if err := s.check("ReadHashes"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if start > end {
		return nil, fmt.Errorf("audittest.ReadHashes: level %d [%d, %d): bad range", level, start, end)
	}
	if level == 0 {
		if end > uint64(len(s.bySeq)) {
			return nil, fmt.Errorf("audittest.ReadHashes: level 0 [%d, %d): %d stored", start, end, len(s.bySeq))
		}
		out := make([][]byte, 0, end-start)
		for _, i := range s.bySeq[start:end] {
			out = append(out, bytes.Clone(s.rows[i].leaf))
		}
		return out, nil
	}
	if level%audit.TileHeight != 0 {
		return nil, fmt.Errorf("audittest.ReadHashes: level %d is not stored", level)
	}
	k := int(level/audit.TileHeight) - 1
	if k >= len(s.levels) || end > uint64(len(s.levels[k])) {
		return nil, fmt.Errorf("audittest.ReadHashes: level %d [%d, %d): not stored", level, start, end)
	}
	out := make([][]byte, 0, end-start)
	for _, h := range s.levels[k][start:end] {
		out = append(out, bytes.Clone(h))
	}
	return out, nil
}

// AuditHead implements audit.Store.
func (s *Store) AuditHead(ctx context.Context) ([]byte, error) {
	if err := s.check("AuditHead"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.head), nil
}

// PendingAudit implements audit.Store.
func (s *Store) PendingAudit(ctx context.Context, limit int) ([]audit.Pending, error) {
	if err := s.check("PendingAudit"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.first < len(s.rows) && s.rows[s.first].sequenced {
		s.first++
	}
	var out []audit.Pending
	for i := s.first; i < len(s.rows) && len(out) < limit; i++ {
		if s.rows[i].sequenced {
			continue
		}
		e := s.rows[i].entry
		e.Fields = slices.Clone(e.Fields)
		e.Sealed = bytes.Clone(e.Sealed)
		out = append(out, audit.Pending{ID: int64(i) + 1, Entry: &e})
	}
	return out, nil
}

// SequenceAudit implements audit.Store.
func (s *Store) SequenceAudit(ctx context.Context, prevHead []byte, entries []audit.Sequenced, nodes []audit.Node, head []byte) error {
	if err := s.check("SequenceAudit"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !bytes.Equal(prevHead, s.head) {
		s.moved++
		return audit.ErrHeadMoved
	}
	if len(entries) > 0 && entries[0].Entry != nil && len(s.bySeq) < len(s.rows) {
		// New entries alone while some are pending.
		s.moved++
		return audit.ErrHeadMoved
	}
	// Check everything before changing anything: all or nothing.
	size := uint64(len(s.bySeq))
	seen := map[int64]bool{}
	for i, e := range entries {
		if e.Entry != nil {
			// A new entry, inserted sequenced, after the pending ones.
			switch {
			case e.Seq != size+uint64(i) || e.Entry.Seq != e.Seq:
				return fmt.Errorf("audittest.SequenceAudit: new entry numbered %d, want %d", e.Seq, size+uint64(i))
			case len(e.LeafHash) != audit.HashSize:
				return fmt.Errorf("audittest.SequenceAudit: new entry %d: leaf hash of %d bytes", e.Seq, len(e.LeafHash))
			case i+1 < len(entries) && entries[i+1].Entry == nil:
				return fmt.Errorf("audittest.SequenceAudit: pending row %d after a new entry", entries[i+1].ID)
			}
			if _, err := e.Entry.Encode(); err != nil {
				return fmt.Errorf("audittest.SequenceAudit: new entry %d: %w", e.Seq, err)
			}
			continue
		}
		switch {
		case e.ID < 1 || e.ID > int64(len(s.rows)):
			return fmt.Errorf("audittest.SequenceAudit: row %d does not exist", e.ID)
		case s.rows[e.ID-1].sequenced || seen[e.ID]:
			return fmt.Errorf("audittest.SequenceAudit: row %d is already sequenced", e.ID)
		case e.Seq != size+uint64(i):
			return fmt.Errorf("audittest.SequenceAudit: row %d numbered %d, want %d", e.ID, e.Seq, size+uint64(i))
		case len(e.LeafHash) != audit.HashSize:
			return fmt.Errorf("audittest.SequenceAudit: row %d: leaf hash of %d bytes", e.ID, len(e.LeafHash))
		}
		seen[e.ID] = true
	}
	next := map[uint]uint64{}
	for _, n := range nodes {
		if n.Level == 0 || n.Level%audit.TileHeight != 0 || len(n.Hash) != audit.HashSize {
			return fmt.Errorf("audittest.SequenceAudit: bad node (%d, %d)", n.Level, n.Index)
		}
		k := int(n.Level/audit.TileHeight) - 1
		want, ok := next[n.Level]
		if !ok && k < len(s.levels) {
			want = uint64(len(s.levels[k]))
		}
		if n.Index != want {
			return fmt.Errorf("audittest.SequenceAudit: node (%d, %d), want index %d", n.Level, n.Index, want)
		}
		next[n.Level] = want + 1
	}
	if _, err := audit.UnmarshalTree(head); err != nil {
		return fmt.Errorf("audittest.SequenceAudit: %w", err)
	}
	for _, e := range entries {
		if e.Entry != nil {
			ne := *e.Entry
			ne.Fields = slices.Clone(ne.Fields)
			ne.Sealed = bytes.Clone(ne.Sealed)
			s.rows = append(s.rows, row{entry: ne, sequenced: true, seq: e.Seq, leaf: bytes.Clone(e.LeafHash)})
			s.bySeq = append(s.bySeq, len(s.rows)-1)
			continue
		}
		r := &s.rows[e.ID-1]
		r.sequenced, r.seq, r.leaf = true, e.Seq, bytes.Clone(e.LeafHash)
		s.bySeq = append(s.bySeq, int(e.ID-1))
	}
	for _, n := range nodes {
		k := int(n.Level/audit.TileHeight) - 1
		for len(s.levels) <= k {
			s.levels = append(s.levels, nil)
		}
		s.levels[k] = append(s.levels[k], bytes.Clone(n.Hash))
	}
	s.head = bytes.Clone(head)
	s.batches++
	return nil
}

// AddCheckpoint implements audit.Store.
func (s *Store) AddCheckpoint(ctx context.Context, c *audit.StoredCheckpoint) error {
	if err := s.check("AddCheckpoint"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c == nil || len(c.Note) == 0 {
		return errors.New("audittest.AddCheckpoint: empty checkpoint")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := slices.BinarySearchFunc(s.cps, c.Size, func(c *audit.StoredCheckpoint, size uint64) int {
		return cmp.Compare(c.Size, size)
	})
	if found {
		return nil
	}
	s.cps = slices.Insert(s.cps, i, cloneCheckpoint(c))
	return nil
}

// Checkpoints implements audit.Store.
func (s *Store) Checkpoints(ctx context.Context, from, to uint64) ([]*audit.StoredCheckpoint, error) {
	if err := s.check("Checkpoints"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*audit.StoredCheckpoint
	for _, c := range s.cps {
		if c.Size >= from && c.Size <= to {
			out = append(out, cloneCheckpoint(c))
		}
	}
	return out, nil
}

// LatestCheckpoint implements audit.Store.
func (s *Store) LatestCheckpoint(ctx context.Context) (*audit.StoredCheckpoint, error) {
	if err := s.check("LatestCheckpoint"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cps) == 0 {
		return nil, nil
	}
	return cloneCheckpoint(s.cps[len(s.cps)-1]), nil
}

// SequencedEntries implements audit.Store.
func (s *Store) SequencedEntries(ctx context.Context, start, end uint64) ([]*audit.Entry, [][]byte, error) {
	if err := s.check("SequencedEntries"); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	end = min(end, uint64(len(s.bySeq)))
	if start >= end {
		return nil, nil, nil
	}
	entries := make([]*audit.Entry, 0, end-start)
	leaves := make([][]byte, 0, end-start)
	for seq := start; seq < end; seq++ {
		r := &s.rows[s.bySeq[seq]]
		e := r.entry
		e.Seq = seq
		e.Fields = slices.Clone(e.Fields)
		e.Sealed = bytes.Clone(e.Sealed)
		entries = append(entries, &e)
		leaves = append(leaves, bytes.Clone(r.leaf))
	}
	return entries, leaves, nil
}

func cloneCheckpoint(c *audit.StoredCheckpoint) *audit.StoredCheckpoint {
	d := *c
	d.Note = bytes.Clone(c.Note)
	return &d
}
