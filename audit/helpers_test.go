package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
)

const testOrigin = "coffre.test/audit"

// memHashes is an in-memory HashReader: leaf hashes and the node hashes
// that Tree.Append hands back.
type memHashes struct {
	levels map[uint][][]byte
	reads  int
}

var _ audit.HashReader = (*memHashes)(nil)

func newMemHashes() *memHashes { return &memHashes{levels: map[uint][][]byte{}} }

// add stores leaves and the nodes returned when appending them.
func (m *memHashes) add(tb testing.TB, leaves [][]byte, nodes []audit.Node) {
	tb.Helper()
	m.levels[0] = append(m.levels[0], leaves...)
	for _, n := range nodes {
		if n.Level == 0 || n.Level%audit.TileHeight != 0 {
			tb.Fatalf("Append returned node at level %d", n.Level)
		}
		if got := uint64(len(m.levels[n.Level])); got != n.Index {
			tb.Fatalf("Append returned node (%d, %d), want index %d", n.Level, n.Index, got)
		}
		m.levels[n.Level] = append(m.levels[n.Level], n.Hash)
	}
}

func (m *memHashes) ReadHashes(ctx context.Context, level uint, start, end uint64) ([][]byte, error) {
	m.reads++
	l := m.levels[level]
	if start > end || end > uint64(len(l)) {
		return nil, fmt.Errorf("level %d [%d, %d) not stored (have %d)", level, start, end, len(l))
	}
	return slices.Clone(l[start:end]), nil
}

// buildTree appends leaves to an empty tree in batches and stores them.
func buildTree(tb testing.TB, leaves [][]byte, batch int) (*audit.Tree, *memHashes) {
	tb.Helper()
	m := newMemHashes()
	t := &audit.Tree{}
	for i := 0; i < len(leaves); i += batch {
		j := min(i+batch, len(leaves))
		next, nodes, err := t.Append(leaves[i:j]...)
		if err != nil {
			tb.Fatal(err)
		}
		m.add(tb, leaves[i:j], nodes)
		t = next
	}
	return t, m
}

var t0 = time.Date(2025, 3, 1, 9, 30, 0, 123456000, time.UTC)

// genEntry returns a plausible entry number seq.
func genEntry(r *rand.Rand, seq uint64) audit.Entry {
	actions := []string{"contact.read", "contact.update", "contact.create", "contact.segment", "contact.erase"}
	e := audit.Entry{
		Seq:            seq,
		Time:           t0.Add(time.Duration(seq) * 1500 * time.Microsecond),
		Tenant:         fmt.Sprintf("tenant-%d", r.IntN(3)),
		ActorID:        fmt.Sprintf("tok_%08x", r.Uint32()),
		ActorRole:      "agent",
		Action:         actions[r.IntN(len(actions))],
		Subject:        fmt.Sprintf("c_%016x", r.Uint64()),
		Fields:         []string{"email", "phone"}[:r.IntN(3)],
		Purpose:        "casework",
		Outcome:        "ok",
		RequestID:      fmt.Sprintf("req_%012x", r.Uint64()>>16),
		DecisionID:     fmt.Sprintf("dec_%012x", r.Uint64()>>16),
		PolicyRevision: "rev-7",
	}
	if r.IntN(4) == 0 {
		e.Sealed = make([]byte, 48)
		for i := range e.Sealed {
			e.Sealed[i] = byte(r.Uint32())
		}
	}
	return e
}

// row is what a store holds for one entry.
type row struct {
	entry    audit.Entry
	leaf     []byte // stored leaf hash
	redacted bool
}

// fixture is a log as a store would hold it: rows, and checkpoints cut
// every `every` entries and at the end.
type fixture struct {
	skey, vkey string
	signer     *audit.Signer
	rows       []row
	cps        [][]byte // in size order
	sizes      []uint64
	tenant     string
}

func newFixture(tb testing.TB, n, every int) *fixture {
	tb.Helper()
	skey, vkey, err := audit.GenerateKey(testOrigin)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := audit.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{skey: skey, vkey: vkey, signer: s}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		e := genEntry(r, uint64(i))
		leaf, err := e.LeafHash()
		if err != nil {
			tb.Fatal(err)
		}
		f.rows = append(f.rows, row{entry: e, leaf: leaf})
	}
	f.resign(tb, s, 0, every)
	return f
}

// resign recomputes the checkpoints of size > from with signer, over the
// stored leaf hashes, as an attacker holding the key would; the earlier
// ones are kept.
func (f *fixture) resign(tb testing.TB, s *audit.Signer, from uint64, every int) {
	tb.Helper()
	var sizes []uint64
	for n := every; n < len(f.rows); n += every {
		sizes = append(sizes, uint64(n))
	}
	sizes = append(sizes, uint64(len(f.rows)))
	var keep [][]byte
	var keepSizes []uint64
	for i, sz := range f.sizes {
		if sz <= from {
			keep, keepSizes = append(keep, f.cps[i]), append(keepSizes, sz)
		}
	}
	f.cps, f.sizes = keep, keepSizes
	t := &audit.Tree{}
	done := uint64(0)
	for _, sz := range sizes {
		var leaves [][]byte
		for _, r := range f.rows[done:sz] {
			leaves = append(leaves, r.leaf)
		}
		next, _, err := t.Append(leaves...)
		if err != nil {
			tb.Fatal(err)
		}
		t, done = next, sz
		if sz <= from {
			continue
		}
		note, err := s.Sign(sz, t.Root())
		if err != nil {
			tb.Fatal(err)
		}
		f.cps, f.sizes = append(f.cps, note), append(f.sizes, sz)
	}
}

// clone returns a deep enough copy to tamper with.
func (f *fixture) clone() *fixture {
	g := *f
	g.rows = slices.Clone(f.rows)
	g.cps = slices.Clone(f.cps)
	g.sizes = slices.Clone(f.sizes)
	return &g
}

// size is the size of the last checkpoint.
func (f *fixture) size() uint64 {
	if len(f.sizes) == 0 {
		return 0
	}
	return f.sizes[len(f.sizes)-1]
}

// export writes the export the way a store does: header size from the last
// checkpoint, each checkpoint of size n before the first entry with seq >=
// n.
func (f *fixture) export(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := audit.NewExportWriter(&buf, audit.ExportHeader{Origin: testOrigin, Size: f.size(), Tenant: f.tenant})
	if err != nil {
		tb.Fatal(err)
	}
	c := 0
	for _, r := range f.rows {
		for c < len(f.cps) && f.sizes[c] <= r.entry.Seq {
			if err := w.WriteCheckpoint(f.cps[c]); err != nil {
				tb.Fatal(err)
			}
			c++
		}
		if r.redacted {
			err = w.WriteRedacted(r.entry.Seq, r.leaf)
		} else {
			err = w.WriteEntry(&r.entry, r.leaf)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	for ; c < len(f.cps); c++ {
		if err := w.WriteCheckpoint(f.cps[c]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// rehash recomputes the stored leaf hash of row i, as an attacker would.
func (f *fixture) rehash(tb testing.TB, i int) {
	tb.Helper()
	leaf, err := f.rows[i].entry.LeafHash()
	if err != nil {
		tb.Fatal(err)
	}
	f.rows[i].leaf = leaf
}
