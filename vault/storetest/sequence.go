package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// Sequence numbers the pending entries of s as the audit log's sequencer
// does, in batches of up to batch entries until none is left: it reads the
// head and the pending entries, numbers them from the tree's size,
// computes their leaf hashes, appends them to the tree and stores the lot
// with SequenceAudit. When another sequencer moved the head
// (audit.ErrHeadMoved) it reloads the head and carries on. It returns the
// tree of the log. Sequence is a test fixture, not the production
// sequencer, but it keeps to the same contract, so several may run at once.
func Sequence(ctx context.Context, s audit.Store, batch int) (*audit.Tree, error) {
	head, tree, err := loadHead(ctx, s)
	if err != nil {
		return nil, err
	}
	for {
		ps, err := s.PendingAudit(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("PendingAudit(%d): %w", batch, err)
		}
		if len(ps) == 0 {
			return tree, nil
		}
		seqd, leaves, err := number(tree.Size(), ps)
		if err != nil {
			return nil, err
		}
		next, nodes, err := tree.Append(leaves...)
		if err != nil {
			return nil, err
		}
		nextHead, err := next.MarshalBinary()
		if err != nil {
			return nil, err
		}
		err = s.SequenceAudit(ctx, head, seqd, nodes, nextHead)
		if errors.Is(err, audit.ErrHeadMoved) {
			if head, tree, err = loadHead(ctx, s); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("SequenceAudit(size %d, %d entries): %w", tree.Size(), len(seqd), err)
		}
		head, tree = nextHead, next
	}
}

// number gives pending entries the sequence numbers from size on and
// returns them with their leaf hashes.
func number(size uint64, ps []audit.Pending) ([]audit.Sequenced, [][]byte, error) {
	seqd := make([]audit.Sequenced, len(ps))
	leaves := make([][]byte, len(ps))
	for i, p := range ps {
		e := *p.Entry
		e.Seq = size + uint64(i)
		leaf, err := e.LeafHash()
		if err != nil {
			return nil, nil, fmt.Errorf("pending entry %d: %w", p.ID, err)
		}
		seqd[i] = audit.Sequenced{ID: p.ID, Seq: e.Seq, LeafHash: leaf}
		leaves[i] = leaf
	}
	return seqd, leaves, nil
}

// loadHead returns the stored head and its tree (empty if nil).
func loadHead(ctx context.Context, s audit.Store) ([]byte, *audit.Tree, error) {
	head, err := s.AuditHead(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("AuditHead: %w", err)
	}
	if head == nil {
		return nil, &audit.Tree{}, nil
	}
	tree, err := audit.UnmarshalTree(head)
	if err != nil {
		return nil, nil, fmt.Errorf("AuditHead: %w", err)
	}
	return head, tree, nil
}

// SequenceAll sequences every pending entry of s (see Sequence), failing
// tb on error, and returns the tree of the log.
func SequenceAll(tb testing.TB, s audit.Store) *audit.Tree {
	tb.Helper()
	tree, err := Sequence(context.Background(), s, 100)
	if err != nil {
		tb.Fatalf("sequencing the pending audit entries: %v", err)
	}
	return tree
}

// StartSequencer runs Sequence on s in a goroutine, then again every
// interval, until stop is called. stop ends the goroutine, sequences what
// is still pending, and returns the tree of the log or the first error
// the sequencer met. The caller must call stop.
func StartSequencer(s audit.Store, interval time.Duration) (stop func() (*audit.Tree, error)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var failed error
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if _, err := Sequence(ctx, s, 1000); err != nil && ctx.Err() == nil {
				failed = err
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() (*audit.Tree, error) {
		cancel()
		<-done
		if failed != nil {
			return nil, failed
		}
		return Sequence(context.Background(), s, 1000)
	}
}

// CheckLog checks everything s holds of the sequenced log against what
// the entries themselves determine, and returns the tree of the log: the
// sequenced entries are numbered 0 to the head's size - 1 with none past
// it, each stored leaf hash is the hash of its entry, the leaf hashes and
// the stored nodes (ReadHashes) are those of the tree built afresh from
// the entries, and the stored head is that tree.
func CheckLog(tb testing.TB, s audit.Store) *audit.Tree {
	tb.Helper()
	ctx := context.Background()
	_, head, err := loadHead(ctx, s)
	if err != nil {
		tb.Fatal(err)
	}
	n := head.Size()
	const page = 1000
	var leaves [][]byte
	for start := uint64(0); start < n; start += page {
		end := min(start+page, n)
		es, ls, err := s.SequencedEntries(ctx, start, end)
		if err != nil {
			tb.Fatalf("SequencedEntries(%d, %d) = %v, want nil", start, end, err)
		}
		if uint64(len(es)) != end-start || len(ls) != len(es) {
			tb.Fatalf("SequencedEntries(%d, %d) = %d entries, %d hashes, want %d", start, end, len(es), len(ls), end-start)
		}
		for i, e := range es {
			if e.Seq != start+uint64(i) {
				tb.Fatalf("SequencedEntries(%d, %d)[%d].Seq = %d, want %d", start, end, i, e.Seq, start+uint64(i))
			}
			leaf, err := e.LeafHash()
			if err != nil {
				tb.Fatalf("entry %d: LeafHash = %v", e.Seq, err)
			}
			if !bytes.Equal(ls[i], leaf) {
				tb.Errorf("entry %d: stored leaf hash %x, want the entry's hash %x", e.Seq, short(ls[i]), short(leaf))
			}
		}
		leaves = append(leaves, ls...)
		hs, err := s.ReadHashes(ctx, 0, start, end)
		if err != nil {
			tb.Fatalf("ReadHashes(0, %d, %d) = %v, want nil", start, end, err)
		}
		checkHashes(tb, fmt.Sprintf("ReadHashes(0, %d, %d)", start, end), hs, ls)
	}
	if es, _, err := s.SequencedEntries(ctx, n, n+10); err != nil || len(es) != 0 {
		tb.Errorf("SequencedEntries(%d, %d) past the head = %d entries, %v; want none", n, n+10, len(es), err)
	}
	want, nodes, err := (&audit.Tree{}).Append(leaves...)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(head.Root(), want.Root()) {
		tb.Errorf("head root = %x, want %x (the root of the stored entries)", head.Root(), want.Root())
	}
	byLevel := map[uint][][]byte{}
	for _, nd := range nodes {
		byLevel[nd.Level] = append(byLevel[nd.Level], nd.Hash)
	}
	for level, hashes := range byLevel {
		got, err := s.ReadHashes(ctx, level, 0, uint64(len(hashes)))
		if err != nil {
			tb.Errorf("ReadHashes(%d, 0, %d) = %v, want nil", level, len(hashes), err)
			continue
		}
		checkHashes(tb, fmt.Sprintf("ReadHashes(%d, 0, %d)", level, len(hashes)), got, hashes)
	}
	return head
}

// checkHashes reports an error unless got equals want.
func checkHashes(tb testing.TB, call string, got, want [][]byte) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Errorf("%s = %d hashes, want %d", call, len(got), len(want))
		return
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			tb.Errorf("%s[%d] = %s, want %s", call, i, short(got[i]), short(want[i]))
			return
		}
	}
}

// FillAuditLog fills s with a sequenced log of n entries (n > 256 gives a
// stored node), a checkpoint of it and one pending entry (from a contact
// create), for tests of a store's append-only rules; it returns the tree.
func FillAuditLog(t *testing.T, s vault.Store, n int) *audit.Tree {
	t.Helper()
	tn := MustCreateTenant(t, s)
	for done := 0; done < n; done += 100 {
		es := make([]*vault.AuditEntry, min(100, n-done))
		for i := range es {
			es[i] = NewEntry(tn.ID, vault.ActionContactRead, vault.NewID(time.Now()))
		}
		if err := s.AppendAudit(t.Context(), es); err != nil {
			t.Fatal(err)
		}
	}
	tree := SequenceAll(t, s)
	if err := s.AddCheckpoint(t.Context(), &audit.StoredCheckpoint{Size: tree.Size(), Note: []byte("signed note")}); err != nil {
		t.Fatal(err)
	}
	MustCreateContact(t, s, NewRecord(tn.ID))
	return tree
}

// CheckFilledLog reports an error unless s still holds what FillAuditLog
// made: the log tree, its one checkpoint and the one pending entry.
func CheckFilledLog(t *testing.T, s vault.Store, tree *audit.Tree) {
	t.Helper()
	if got := CheckLog(t, s); got.Size() != tree.Size() || !bytes.Equal(got.Root(), tree.Root()) {
		t.Errorf("log = size %d root %x, want size %d root %x", got.Size(), got.Root(), tree.Size(), tree.Root())
	}
	if ps, err := s.PendingAudit(t.Context(), 10); err != nil || len(ps) != 1 {
		t.Errorf("PendingAudit = %d entries, %v; want 1", len(ps), err)
	}
	if cs, err := s.Checkpoints(t.Context(), 0, tree.Size()); err != nil || len(cs) != 1 || string(cs[0].Note) != "signed note" {
		t.Errorf("Checkpoints = %d, %v; want the one stored", len(cs), err)
	}
}
