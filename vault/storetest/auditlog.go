package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// testAuditLog checks the audit.Store half of a store: sequencing, the
// hashes the tree reads, and checkpoints.
func testAuditLog(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("HeadMoved", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx := t.Context()

		// On an empty log, a sequencer that thinks it has a head is stale.
		appendN(t, s, tn.ID, 2)
		ps := pendingAll(t, s)
		other := randomTree(t, 3)
		otherHead, _ := other.MarshalBinary()
		seqd, nodes, head := BatchOn(t, other, ps)
		err := s.SequenceAudit(ctx, otherHead, seqd, nodes, head)
		if !errors.Is(err, audit.ErrHeadMoved) {
			t.Errorf("SequenceAudit(some head) on an empty log = %v, want ErrHeadMoved", err)
		}
		if h, err := s.AuditHead(ctx); err != nil || h != nil {
			t.Errorf("AuditHead after a refused sequencing = %x, %v; want nil, nil", h, err)
		}
		checkPending(t, s, entriesOf(ps)...)

		tree := SequenceAll(t, s)
		head1, _ := tree.MarshalBinary()
		more := appendN(t, s, tn.ID, 3)
		ps = pendingAll(t, s)
		for _, stale := range []struct {
			name string
			tree *audit.Tree
		}{
			{"Empty", &audit.Tree{}},
			{"SameSizeOtherHashes", randomTree(t, 2)},
			{"Smaller", randomTree(t, 1)},
			{"Larger", randomTree(t, 4)},
		} {
			t.Run(stale.name, func(t *testing.T) {
				var prev []byte
				if stale.tree.Size() > 0 {
					prev, _ = stale.tree.MarshalBinary()
				}
				seqd, nodes, head := BatchOn(t, stale.tree, ps)
				err := s.SequenceAudit(ctx, prev, seqd, nodes, head)
				if !errors.Is(err, audit.ErrHeadMoved) {
					t.Errorf("SequenceAudit(stale head) = %v, want ErrHeadMoved", err)
				}
				if h, err := s.AuditHead(ctx); err != nil || !bytes.Equal(h, head1) {
					t.Errorf("AuditHead after a refused sequencing = %x, %v; want %x", h, err, head1)
				}
				checkPending(t, s, more...)
				CheckLog(t, s)
			})
		}
		// The right head goes through.
		seqd, nodes, head = BatchOn(t, tree, ps)
		mustCode(t, "SequenceAudit(current head)", s.SequenceAudit(ctx, head1, seqd, nodes, head), "")
		checkPending(t, s)
		if got := CheckLog(t, s); got.Size() != 5 {
			t.Errorf("tree size = %d, want 5", got.Size())
		}
	})

	t.Run("AlreadySequenced", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx := t.Context()
		appendN(t, s, tn.ID, 3)
		done := pendingAll(t, s)
		tree := SequenceAll(t, s)
		head, _ := tree.MarshalBinary()
		more := appendN(t, s, tn.ID, 2)
		ps := pendingAll(t, s)
		before := auditAll(t, s, tn.ID)

		for _, tt := range []struct {
			name  string
			batch []audit.Pending
		}{
			{"Sequenced", []audit.Pending{done[1]}},
			{"SequencedAndPending", []audit.Pending{ps[0], done[2], ps[1]}},
			{"Unknown", []audit.Pending{ps[0], {ID: ps[1].ID + 1000, Entry: ps[1].Entry}}},
			{"Twice", []audit.Pending{ps[0], ps[0]}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				seqd, nodes, next := BatchOn(t, tree, tt.batch)
				err := s.SequenceAudit(ctx, head, seqd, nodes, next)
				if err == nil || errors.Is(err, audit.ErrHeadMoved) {
					t.Errorf("SequenceAudit(%s) = %v, want an error other than ErrHeadMoved", tt.name, err)
				}
				if h, err := s.AuditHead(ctx); err != nil || !bytes.Equal(h, head) {
					t.Errorf("AuditHead after a refused sequencing = %x, %v; want %x", h, err, head)
				}
				checkPending(t, s, more...)
				checkAudit(t, s, tn.ID, before...)
				CheckLog(t, s)
			})
		}
		seqd, nodes, next := BatchOn(t, tree, ps)
		mustCode(t, "SequenceAudit(pending)", s.SequenceAudit(ctx, head, seqd, nodes, next), "")
		checkPending(t, s)
		CheckLog(t, s)
	})

	t.Run("Hashes", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		l := buildLog(t, s, 300)
		for _, r := range [][2]uint64{{0, 300}, {0, 1}, {10, 20}, {255, 257}, {299, 300}, {7, 7}} {
			got, err := s.ReadHashes(ctx, 0, r[0], r[1])
			mustCode(t, fmt.Sprintf("ReadHashes(0, %d, %d)", r[0], r[1]), err, "")
			checkHashes(t, fmt.Sprintf("ReadHashes(0, %d, %d)", r[0], r[1]), got, l.leaves[r[0]:r[1]])
		}
		// The one complete node at level 8 covers leaves 0 to 255.
		if len(l.nodes) != 1 || l.nodes[0].Level != 8 || l.nodes[0].Index != 0 {
			t.Fatalf("Tree.Append over 300 leaves returned nodes %v, want (8, 0)", l.nodes)
		}
		got, err := s.ReadHashes(ctx, audit.TileHeight, 0, 1)
		mustCode(t, "ReadHashes(8, 0, 1)", err, "")
		checkHashes(t, "ReadHashes(8, 0, 1)", got, [][]byte{l.nodes[0].Hash})
		for _, r := range []struct {
			level      uint
			start, end uint64
		}{
			{0, 300, 301}, // not sequenced yet
			{0, 299, 301},
			{0, 1000, 1001},
			{audit.TileHeight, 1, 2}, // incomplete
			{audit.TileHeight, 0, 2},
			{2 * audit.TileHeight, 0, 1},
		} {
			if hs, err := s.ReadHashes(ctx, r.level, r.start, r.end); err == nil {
				t.Errorf("ReadHashes(%d, %d, %d) = %d hashes, nil; want an error", r.level, r.start, r.end, len(hs))
			}
		}
		loaded, err := audit.LoadTree(ctx, s, 300)
		mustCode(t, "LoadTree(300)", err, "")
		if !bytes.Equal(loaded.Root(), l.roots[300]) {
			t.Errorf("LoadTree(300).Root() = %x, want %x", loaded.Root(), l.roots[300])
		}
		for _, size := range []uint64{0, 1, 2, 3, 127, 255, 256, 257, 299, 300} {
			root, err := audit.RootAt(ctx, s, size)
			mustCode(t, fmt.Sprintf("RootAt(%d)", size), err, "")
			if !bytes.Equal(root, l.roots[size]) {
				t.Errorf("RootAt(%d) = %x, want %x", size, root, l.roots[size])
			}
		}
	})

	t.Run("Proofs", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		l := buildLog(t, s, 300)
		hasher := rfc6962.DefaultHasher
		for _, size := range []uint64{1, 2, 3, 7, 8, 9, 100, 255, 256, 257, 299, 300} {
			for _, index := range []uint64{0, 1, size / 3, size / 2, size - 2, size - 1} {
				if index >= size {
					continue
				}
				p, err := audit.InclusionProof(ctx, s, index, size)
				mustCode(t, fmt.Sprintf("InclusionProof(%d, %d)", index, size), err, "")
				if err := proof.VerifyInclusion(hasher, index, size, l.leaves[index], p, l.roots[size]); err != nil {
					t.Errorf("InclusionProof(%d, %d) does not verify: %v", index, size, err)
				}
			}
		}
		for _, r := range [][2]uint64{{1, 2}, {1, 300}, {2, 3}, {7, 8}, {8, 9}, {17, 256}, {100, 257}, {255, 256}, {256, 257}, {256, 300}, {299, 300}, {300, 300}} {
			p, err := audit.ConsistencyProof(ctx, s, r[0], r[1])
			mustCode(t, fmt.Sprintf("ConsistencyProof(%d, %d)", r[0], r[1]), err, "")
			if err := proof.VerifyConsistency(hasher, r[0], r[1], p, l.roots[r[0]], l.roots[r[1]]); err != nil {
				t.Errorf("ConsistencyProof(%d, %d) does not verify: %v", r[0], r[1], err)
			}
		}
		// The checks have teeth: a proof against another root fails.
		p, err := audit.InclusionProof(ctx, s, 5, 300)
		mustCode(t, "InclusionProof(5, 300)", err, "")
		if err := proof.VerifyInclusion(hasher, 5, 300, l.leaves[5], p, l.roots[299]); err == nil {
			t.Errorf("InclusionProof(5, 300) verifies against the root of size 299")
		}
	})

	t.Run("SequencedEntries", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx := t.Context()
		want := appendN(t, s, tn.ID, 10)
		SequenceAll(t, s)
		appendN(t, s, tn.ID, 3)
		for _, tt := range []struct {
			start, end uint64
			want       []int
		}{
			{0, 10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
			{2, 5, []int{2, 3, 4}},
			{8, 20, []int{8, 9}},
			{10, 13, nil},
			{5, 5, nil},
			{6, 5, nil},
			{9, math.MaxUint64, []int{9}},
		} {
			es, leaves, err := s.SequencedEntries(ctx, tt.start, tt.end)
			call := fmt.Sprintf("SequencedEntries(%d, %d)", tt.start, tt.end)
			mustCode(t, call, err, "")
			if len(es) != len(tt.want) || len(leaves) != len(es) {
				t.Errorf("%s = %d entries, %d hashes; want %d", call, len(es), len(leaves), len(tt.want))
				continue
			}
			for i, seq := range tt.want {
				if d := DiffEntry(VaultEntry(es[i]), WithSeq(want[seq], uint64(seq))); d != "" {
					t.Errorf("%s[%d]: %s", call, i, d)
				}
				if leaf, err := es[i].LeafHash(); err != nil || !bytes.Equal(leaf, leaves[i]) {
					t.Errorf("%s[%d]: stored leaf %s, want the entry's hash", call, i, short(leaves[i]))
				}
			}
		}
	})

	t.Run("Checkpoints", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		c, err := s.LatestCheckpoint(ctx)
		mustCode(t, "LatestCheckpoint(empty)", err, "")
		if c != nil {
			t.Errorf("LatestCheckpoint(empty) = %+v, want nil", c)
		}
		cs, err := s.Checkpoints(ctx, 0, math.MaxUint64)
		mustCode(t, "Checkpoints(empty)", err, "")
		if len(cs) != 0 {
			t.Errorf("Checkpoints(empty) = %d, want none", len(cs))
		}

		at := Now().Add(-time.Hour)
		cps := map[uint64]*audit.StoredCheckpoint{}
		for i, size := range []uint64{10, 5, 20, 0} {
			c := &audit.StoredCheckpoint{Size: size, Note: RandomBytes(120), CreatedAt: at.Add(time.Duration(i) * time.Second)}
			mustCode(t, fmt.Sprintf("AddCheckpoint(%d)", size), s.AddCheckpoint(ctx, c), "")
			cps[size] = c
		}
		// Adding a size again is a no-op: the first note stays.
		mustCode(t, "AddCheckpoint(10 again)", s.AddCheckpoint(ctx, &audit.StoredCheckpoint{Size: 10, Note: RandomBytes(120), CreatedAt: at}), "")
		// A zero time is the store's.
		stamped := &audit.StoredCheckpoint{Size: 30, Note: RandomBytes(100)}
		mustCode(t, "AddCheckpoint(30, no time)", s.AddCheckpoint(ctx, stamped), "")
		if stamped.CreatedAt.IsZero() {
			t.Errorf("AddCheckpoint left CreatedAt zero, want the store's time")
		}
		cps[30] = stamped

		for _, tt := range []struct {
			from, to uint64
			want     []uint64
		}{
			{0, math.MaxUint64, []uint64{0, 5, 10, 20, 30}},
			{5, 10, []uint64{5, 10}},
			{6, 19, []uint64{10}},
			{11, 19, nil},
			{20, 20, []uint64{20}},
			{21, 29, nil},
			{25, 5, nil},
		} {
			call := fmt.Sprintf("Checkpoints(%d, %d)", tt.from, tt.to)
			cs, err := s.Checkpoints(ctx, tt.from, tt.to)
			mustCode(t, call, err, "")
			if len(cs) != len(tt.want) {
				t.Errorf("%s = %d checkpoints, want sizes %v", call, len(cs), tt.want)
				continue
			}
			for i, size := range tt.want {
				checkCheckpoint(t, fmt.Sprintf("%s[%d]", call, i), cs[i], cps[size])
			}
		}
		c, err = s.LatestCheckpoint(ctx)
		mustCode(t, "LatestCheckpoint", err, "")
		checkCheckpoint(t, "LatestCheckpoint", c, cps[30])

		checkCode(t, "AddCheckpoint(nil)", s.AddCheckpoint(ctx, nil), vault.EINVALID)
		checkCode(t, "AddCheckpoint(no note)", s.AddCheckpoint(ctx, &audit.StoredCheckpoint{Size: 40}), vault.EINVALID)
		if c, _ := s.LatestCheckpoint(ctx); c == nil || c.Size != 30 {
			t.Errorf("LatestCheckpoint after refused adds = %+v, want size 30", c)
		}
	})
}

// appendN appends n entries of the tenant with AppendAudit and returns
// them.
func appendN(t testing.TB, s vault.Store, tenantID string, n int) []*vault.AuditEntry {
	t.Helper()
	es := make([]*vault.AuditEntry, n)
	for i := range es {
		es[i] = NewEntry(tenantID, vault.ActionContactRead, vault.NewID(time.Now()))
	}
	if err := s.AppendAudit(context.Background(), es); err != nil {
		t.Fatalf("AppendAudit(%d) = %v, want nil", n, err)
	}
	return es
}

// entriesOf returns the entries of ps as vault entries.
func entriesOf(ps []audit.Pending) []*vault.AuditEntry {
	es := make([]*vault.AuditEntry, len(ps))
	for i, p := range ps {
		es[i] = VaultEntry(p.Entry)
	}
	return es
}

// randomTree returns a tree of n random leaves.
func randomTree(t testing.TB, n int) *audit.Tree {
	t.Helper()
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = RandomBytes(audit.HashSize)
	}
	tree, _, err := (&audit.Tree{}).Append(leaves...)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// BatchOn returns what a sequencer holding tree would store for ps: the
// entries numbered from tree's size, the nodes and the new head.
func BatchOn(t testing.TB, tree *audit.Tree, ps []audit.Pending) ([]audit.Sequenced, []audit.Node, []byte) {
	t.Helper()
	seqd, leaves, err := number(tree.Size(), ps)
	if err != nil {
		t.Fatal(err)
	}
	next, nodes, err := tree.Append(leaves...)
	if err != nil {
		t.Fatal(err)
	}
	head, err := next.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return seqd, nodes, head
}

// testLog is a log built in a store, with what a tree computed in memory
// says of it.
type testLog struct {
	leaves [][]byte     // leaf hashes by seq
	roots  [][]byte     // roots[n] is the root of the first n leaves
	nodes  []audit.Node // the stored nodes, from one append of every leaf
}

// buildLog appends n entries in batches of 50, sequences them in batches
// of 37 (so that batches straddle tiles), and returns the leaf hashes,
// roots and nodes computed afresh from the entries read back.
func buildLog(t testing.TB, s vault.Store, n int) *testLog {
	t.Helper()
	tn := MustCreateTenant(t, s)
	for done := 0; done < n; done += 50 {
		appendN(t, s, tn.ID, min(50, n-done))
	}
	tree, err := Sequence(context.Background(), s, 37)
	if err != nil {
		t.Fatalf("sequencing: %v", err)
	}
	if tree.Size() != uint64(n) {
		t.Fatalf("tree size = %d, want %d", tree.Size(), n)
	}
	es, stored, err := s.SequencedEntries(context.Background(), 0, uint64(n))
	if err != nil || len(es) != n {
		t.Fatalf("SequencedEntries(0, %d) = %d entries, %v", n, len(es), err)
	}
	l := &testLog{roots: [][]byte{audit.EmptyRoot()}}
	mem := &audit.Tree{}
	for i, e := range es {
		leaf, err := e.LeafHash()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leaf, stored[i]) {
			t.Fatalf("entry %d: stored leaf hash %s, want %s", i, short(stored[i]), short(leaf))
		}
		l.leaves = append(l.leaves, leaf)
		if mem, _, err = mem.Append(leaf); err != nil {
			t.Fatal(err)
		}
		l.roots = append(l.roots, mem.Root())
	}
	if _, l.nodes, err = (&audit.Tree{}).Append(l.leaves...); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tree.Root(), l.roots[n]) {
		t.Fatalf("sequenced tree root = %x, want %x", tree.Root(), l.roots[n])
	}
	return l
}

// checkCheckpoint reports an error unless got equals want.
func checkCheckpoint(t testing.TB, call string, got, want *audit.StoredCheckpoint) {
	t.Helper()
	switch {
	case got == nil:
		t.Errorf("%s = nil, want size %d", call, want.Size)
	case got.Size != want.Size || !bytes.Equal(got.Note, want.Note) || !got.CreatedAt.Equal(want.CreatedAt):
		t.Errorf("%s = size %d, note %s, at %v; want size %d, note %s, at %v", call,
			got.Size, short(got.Note), got.CreatedAt, want.Size, short(want.Note), want.CreatedAt)
	}
}

// testSequenceBatch checks the checks SequenceAudit makes of a batch before
// writing: its head must extend the previous one by exactly its entries,
// numbered in the new range, and its nodes must be at stored levels. A
// previous head that is not the stored one is ErrHeadMoved, whatever it
// holds, so that the sequencer reloads rather than gives up.
func testSequenceBatch(t *testing.T, open func(t *testing.T) vault.Store) {
	s := open(t)
	ctx := t.Context()
	tree := FillAuditLog(t, s, 10)
	head, _ := tree.MarshalBinary()
	ps, err := s.PendingAudit(ctx, 10)
	if err != nil || len(ps) != 1 {
		t.Fatalf("PendingAudit = %d, %v", len(ps), err)
	}
	e := *ps[0].Entry
	e.Seq = tree.Size()
	leaf, _ := e.LeafHash()
	next, nodes, _ := tree.Append(leaf)
	nextHead, _ := next.MarshalBinary()
	further, _, _ := next.Append(leaf)
	furtherHead, _ := further.MarshalBinary()
	ok := audit.Sequenced{ID: ps[0].ID, Seq: e.Seq, LeafHash: leaf}
	for _, tt := range []struct {
		name    string
		prev    []byte
		entries []audit.Sequenced
		nodes   []audit.Node
		head    []byte
		want    error
	}{
		{"SeqBelowHead", head, []audit.Sequenced{{ID: ok.ID, Seq: e.Seq - 1, LeafHash: leaf}}, nodes, nextHead, nil},
		{"SeqPastHead", head, []audit.Sequenced{{ID: ok.ID, Seq: e.Seq + 1, LeafHash: leaf}}, nodes, nextHead, nil},
		{"HeadTooLarge", head, []audit.Sequenced{ok}, nodes, furtherHead, nil},
		{"HeadNotExtending", head, nil, nodes, nextHead, nil},
		{"ShortLeaf", head, []audit.Sequenced{{ID: ok.ID, Seq: e.Seq, LeafHash: leaf[:31]}}, nodes, nextHead, nil},
		{"BadHead", head, []audit.Sequenced{ok}, nodes, []byte("not a tree"), nil},
		{"NodeAtLevel3", head, []audit.Sequenced{ok}, []audit.Node{{Level: 3, Index: 0, Hash: leaf}}, nextHead, nil},
		{"BadPrevHead", []byte("not a tree"), []audit.Sequenced{ok}, nodes, nextHead, audit.ErrHeadMoved},
		{"NilPrevHead", nil, []audit.Sequenced{ok}, nodes, nextHead, audit.ErrHeadMoved},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SequenceAudit(ctx, tt.prev, tt.entries, tt.nodes, tt.head)
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("SequenceAudit = %v, want %v", err, tt.want)
			case tt.want == nil && vault.ErrorCode(err) != vault.EINVALID:
				t.Errorf("SequenceAudit = %v, want EINVALID", err)
			}
		})
	}
	CheckFilledLog(t, s, tree)
	if err := s.SequenceAudit(ctx, head, []audit.Sequenced{ok}, nodes, nextHead); err != nil {
		t.Errorf("SequenceAudit(good batch) = %v, want nil", err)
	}
	CheckLog(t, s)
}
