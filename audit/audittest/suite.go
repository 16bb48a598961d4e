package audittest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
)

// Harness is a store under test and the way to commit entries to it.
type Harness struct {
	// Store is empty when the harness is made.
	Store audit.Store
	// Add commits entries unsequenced, in one transaction, the way the
	// store's writers do. It must be safe for concurrent use.
	Add func(ctx context.Context, entries ...*audit.Entry) error
}

// TestStore runs the audit.Store conformance suite. newHarness is called
// once per subtest and returns an empty store; it registers its own
// cleanup with t.Cleanup.
//
// The suite checks what audit.Log relies on: entries come back from
// PendingAudit oldest first and unchanged (the leaf hash the Log computes
// must match the entry later exported); SequenceAudit is all or nothing,
// refuses a stale head with audit.ErrHeadMoved and an entry sequenced
// twice, and of two concurrent calls from the same head exactly one wins;
// the stored hashes rebuild the tree; checkpoints are stored once per size;
// and a Log over the store sequences concurrent writers densely and
// exports a log that audit.Verify accepts.
func TestStore(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newHarness(t)) })
	t.Run("Pending", func(t *testing.T) { testPending(t, newHarness(t)) })
	t.Run("Sequence", func(t *testing.T) { testSequence(t, newHarness(t)) })
	t.Run("HeadMoved", func(t *testing.T) { testHeadMoved(t, newHarness(t)) })
	t.Run("ExactlyOnce", func(t *testing.T) { testExactlyOnce(t, newHarness(t)) })
	t.Run("ConcurrentSequencers", func(t *testing.T) { testConcurrentSequencers(t, newHarness(t)) })
	t.Run("Checkpoints", func(t *testing.T) { testCheckpoints(t, newHarness(t)) })
	t.Run("Log", func(t *testing.T) { testLog(t, newHarness(t)) })
}

// Entry returns a plausible entry for tests, different for each n, using
// every field: several fields, non-ASCII text and, for odd n, sealed
// bytes. Its Seq is 0.
func Entry(n int) *audit.Entry {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	tenants := []string{"mairie", "asso-été", "clinique"}
	actions := []string{"contact.read", "contact.update", "contact.create", "contact.erase"}
	e := &audit.Entry{
		Time:           time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC).Add(time.Duration(n) * 1001 * time.Microsecond),
		Tenant:         tenants[n%len(tenants)],
		ActorID:        fmt.Sprintf("tok_%08x", r.Uint32()),
		ActorRole:      "agent",
		Action:         actions[r.IntN(len(actions))],
		Subject:        fmt.Sprintf("c_%016x", r.Uint64()),
		Fields:         []string{"email", "téléphone", "address"}[:n%4],
		Purpose:        "suivi du dossier",
		Outcome:        "ok",
		RequestID:      fmt.Sprintf("req_%d", n),
		DecisionID:     fmt.Sprintf("dec_%x", r.Uint64()),
		PolicyRevision: "rev-3",
	}
	if n%2 == 1 {
		e.Sealed = make([]byte, 40)
		for i := range e.Sealed {
			e.Sealed[i] = byte(r.Uint32())
		}
	}
	return e
}

// sameEntry reports whether a and b encode alike at sequence number seq.
func sameEntry(tb testing.TB, a, b *audit.Entry, seq uint64) bool {
	tb.Helper()
	x, y := *a, *b
	x.Seq, y.Seq = seq, seq
	ex, err := x.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	ey, err := y.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Equal(ex, ey)
}

func mustAdd(tb testing.TB, h Harness, entries ...*audit.Entry) {
	tb.Helper()
	if err := h.Add(context.Background(), entries...); err != nil {
		tb.Fatal(err)
	}
}

func mustPending(tb testing.TB, s audit.Store, limit int) []audit.Pending {
	tb.Helper()
	p, err := s.PendingAudit(context.Background(), limit)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustHead(tb testing.TB, s audit.Store) []byte {
	tb.Helper()
	h, err := s.AuditHead(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// batch numbers pending from tree as the Log does, and returns what
// SequenceAudit takes.
func batch(tb testing.TB, tree *audit.Tree, pending []audit.Pending) ([]audit.Sequenced, []audit.Node, *audit.Tree, []byte) {
	tb.Helper()
	var seqs []audit.Sequenced
	var leaves [][]byte
	for i, p := range pending {
		e := *p.Entry
		e.Seq = tree.Size() + uint64(i)
		h, err := e.LeafHash()
		if err != nil {
			tb.Fatal(err)
		}
		seqs = append(seqs, audit.Sequenced{ID: p.ID, Seq: e.Seq, LeafHash: h})
		leaves = append(leaves, h)
	}
	next, nodes, err := tree.Append(leaves...)
	if err != nil {
		tb.Fatal(err)
	}
	head, err := next.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return seqs, nodes, next, head
}

// sequenceAll sequences every pending entry from the stored head, in
// batches of n, and returns the tree.
func sequenceAll(tb testing.TB, s audit.Store, n int) *audit.Tree {
	tb.Helper()
	ctx := context.Background()
	prev := mustHead(tb, s)
	tree := &audit.Tree{}
	if prev != nil {
		var err error
		if tree, err = audit.UnmarshalTree(prev); err != nil {
			tb.Fatal(err)
		}
	}
	for {
		pending := mustPending(tb, s, n)
		if len(pending) == 0 {
			return tree
		}
		seqs, nodes, next, head := batch(tb, tree, pending)
		if err := s.SequenceAudit(ctx, prev, seqs, nodes, head); err != nil {
			tb.Fatal(err)
		}
		tree, prev = next, head
	}
}

func testEmpty(t *testing.T, h Harness) {
	ctx := context.Background()
	if head := mustHead(t, h.Store); head != nil {
		t.Errorf("AuditHead() = %x, want nil", head)
	}
	if p := mustPending(t, h.Store, 10); len(p) != 0 {
		t.Errorf("PendingAudit(10) returned %d entries, want 0", len(p))
	}
	if c, err := h.Store.LatestCheckpoint(ctx); err != nil || c != nil {
		t.Errorf("LatestCheckpoint() = %v, %v, want nil, nil", c, err)
	}
	if cs, err := h.Store.Checkpoints(ctx, 0, 1<<62); err != nil || len(cs) != 0 {
		t.Errorf("Checkpoints() = %d checkpoints, %v, want none", len(cs), err)
	}
	if es, ls, err := h.Store.SequencedEntries(ctx, 0, 10); err != nil || len(es) != 0 || len(ls) != 0 {
		t.Errorf("SequencedEntries(0, 10) = %d entries, %d hashes, %v, want none", len(es), len(ls), err)
	}
}

func testPending(t *testing.T, h Harness) {
	in := []*audit.Entry{Entry(0), Entry(1), Entry(2), Entry(3), Entry(4)}
	mustAdd(t, h, in[:3]...)
	mustAdd(t, h, in[3])
	mustAdd(t, h, in[4])
	p := mustPending(t, h.Store, 10)
	if len(p) != len(in) {
		t.Fatalf("PendingAudit(10) returned %d entries, want %d", len(p), len(in))
	}
	for i := range p {
		if i > 0 && p[i].ID <= p[i-1].ID {
			t.Errorf("PendingAudit: row id %d after %d, want increasing", p[i].ID, p[i-1].ID)
		}
		if !sameEntry(t, p[i].Entry, in[i], 0) {
			t.Errorf("PendingAudit: entry %d differs from the one committed", i)
		}
	}
	if p := mustPending(t, h.Store, 2); len(p) != 2 {
		t.Errorf("PendingAudit(2) returned %d entries, want 2", len(p))
	}
}

func testSequence(t *testing.T, h Harness) {
	ctx := context.Background()
	const n = 700 // past two complete nodes of level 8
	var in []*audit.Entry
	for i := range n {
		in = append(in, Entry(i))
	}
	for i := 0; i < n; i += 100 {
		mustAdd(t, h, in[i:min(i+100, n)]...)
	}
	tree := sequenceAll(t, h.Store, 300)
	if tree.Size() != n {
		t.Fatalf("sequenced %d entries, want %d", tree.Size(), n)
	}
	got, err := audit.UnmarshalTree(mustHead(t, h.Store))
	if err != nil {
		t.Fatal(err)
	}
	if got.Size() != n || !bytes.Equal(got.Root(), tree.Root()) {
		t.Errorf("AuditHead() is a tree of size %d, want the one of size %d stored", got.Size(), n)
	}
	if p := mustPending(t, h.Store, 10); len(p) != 0 {
		t.Errorf("PendingAudit returned %d entries after sequencing all", len(p))
	}
	entries, leaves, err := h.Store.SequencedEntries(ctx, 0, n+5)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n || len(leaves) != n {
		t.Fatalf("SequencedEntries(0, %d) = %d entries, %d hashes, want %d", n+5, len(entries), len(leaves), n)
	}
	for i, e := range entries {
		if e.Seq != uint64(i) {
			t.Fatalf("SequencedEntries: entry %d has Seq %d", i, e.Seq)
		}
		if !sameEntry(t, e, in[i], uint64(i)) {
			t.Fatalf("SequencedEntries: entry %d differs from the one committed", i)
		}
		if want, _ := e.LeafHash(); !bytes.Equal(leaves[i], want) {
			t.Fatalf("SequencedEntries: entry %d does not match its stored leaf hash", i)
		}
	}
	if es, _, err := h.Store.SequencedEntries(ctx, 650, 660); err != nil || len(es) != 10 || es[0].Seq != 650 {
		t.Errorf("SequencedEntries(650, 660) = %d entries, %v", len(es), err)
	}
	hs, err := h.Store.ReadHashes(ctx, 0, 10, 20)
	if err != nil || len(hs) != 10 || !bytes.Equal(hs[0], leaves[10]) {
		t.Errorf("ReadHashes(0, 10, 20) = %d hashes, %v; want the leaf hashes", len(hs), err)
	}
	if hs, err := h.Store.ReadHashes(ctx, audit.TileHeight, 0, 2); err != nil || len(hs) != 2 {
		t.Errorf("ReadHashes(%d, 0, 2) = %d hashes, %v, want 2", audit.TileHeight, len(hs), err)
	}
	for _, size := range []uint64{1, 255, 256, 257, 512, 699, n} {
		root, err := audit.RootAt(ctx, h.Store, size)
		if err != nil {
			t.Fatalf("RootAt(%d): %v", size, err)
		}
		want, _, err := (&audit.Tree{}).Append(leaves[:size]...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(root, want.Root()) {
			t.Errorf("RootAt(%d) from the stored hashes is wrong", size)
		}
	}
}

func testHeadMoved(t *testing.T, h Harness) {
	ctx := context.Background()
	mustAdd(t, h, Entry(0), Entry(1))
	pending := mustPending(t, h.Store, 1)
	seqs, nodes, tree, head := batch(t, &audit.Tree{}, pending)
	current := head
	if err := h.Store.SequenceAudit(ctx, []byte("not the head"), seqs, nodes, head); !errors.Is(err, audit.ErrHeadMoved) {
		t.Fatalf("SequenceAudit from a wrong head on an empty log: err = %v, want ErrHeadMoved", err)
	}
	if err := h.Store.SequenceAudit(ctx, nil, seqs, nodes, head); err != nil {
		t.Fatal(err)
	}
	// Both entries are pending for a sequencer that read before the first
	// batch; its batch is refused and changes nothing.
	pending = mustPending(t, h.Store, 10)
	if len(pending) != 1 {
		t.Fatalf("PendingAudit returned %d entries, want 1", len(pending))
	}
	seqs, nodes, _, head = batch(t, &audit.Tree{}, pending)
	for _, prev := range [][]byte{nil, []byte("not the head")} {
		if err := h.Store.SequenceAudit(ctx, prev, seqs, nodes, head); !errors.Is(err, audit.ErrHeadMoved) {
			t.Errorf("SequenceAudit from head %q: err = %v, want ErrHeadMoved", prev, err)
		}
	}
	if got := mustHead(t, h.Store); !bytes.Equal(got, current) {
		t.Error("a refused batch changed the head")
	}
	if p := mustPending(t, h.Store, 10); len(p) != 1 {
		t.Errorf("a refused batch changed the pending entries: %d pending, want 1", len(p))
	}
	seqs, nodes, _, head = batch(t, tree, pending)
	if err := h.Store.SequenceAudit(ctx, current, seqs, nodes, head); err != nil {
		t.Fatalf("SequenceAudit from the current head: %v", err)
	}
}

func testExactlyOnce(t *testing.T, h Harness) {
	ctx := context.Background()
	mustAdd(t, h, Entry(0), Entry(1), Entry(2))
	first := mustPending(t, h.Store, 1)
	seqs, nodes, tree, head := batch(t, &audit.Tree{}, first)
	if err := h.Store.SequenceAudit(ctx, nil, seqs, nodes, head); err != nil {
		t.Fatal(err)
	}
	// A batch from the current head that repeats the sequenced entry fails
	// whole.
	rest := mustPending(t, h.Store, 10)
	seqs2, nodes2, _, head2 := batch(t, tree, append(rest, first...))
	if err := h.Store.SequenceAudit(ctx, head, seqs2, nodes2, head2); err == nil {
		t.Fatal("SequenceAudit numbered an entry twice")
	}
	if got := mustHead(t, h.Store); !bytes.Equal(got, head) {
		t.Error("a failed batch changed the head")
	}
	if p := mustPending(t, h.Store, 10); len(p) != 2 {
		t.Errorf("a failed batch sequenced entries: %d pending, want 2", len(p))
	}
	if es, _, err := h.Store.SequencedEntries(ctx, 0, 10); err != nil || len(es) != 1 {
		t.Errorf("SequencedEntries after a failed batch = %d entries, %v, want 1", len(es), err)
	}
}

func testConcurrentSequencers(t *testing.T, h Harness) {
	ctx := context.Background()
	tree := &audit.Tree{}
	var prev []byte
	for round := range 5 {
		mustAdd(t, h, Entry(2*round), Entry(2*round+1))
		pending := mustPending(t, h.Store, 10)
		seqs, nodes, next, head := batch(t, tree, pending)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = h.Store.SequenceAudit(ctx, prev, seqs, nodes, head) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, audit.ErrHeadMoved):
				t.Errorf("round %d: a losing SequenceAudit failed with %v, want ErrHeadMoved", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of 4 concurrent SequenceAudit calls from one head succeeded, want 1", round, won)
		}
		tree, prev = next, head
	}
	if es, _, err := h.Store.SequencedEntries(ctx, 0, 100); err != nil || len(es) != 10 {
		t.Errorf("SequencedEntries = %d entries, %v, want 10", len(es), err)
	}
}

func testCheckpoints(t *testing.T, h Harness) {
	ctx := context.Background()
	skey, vkey, err := audit.GenerateKey("coffre.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := audit.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	note := func(size uint64, root byte) []byte {
		n, err := signer.Sign(size, bytes.Repeat([]byte{root}, audit.HashSize))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, size := range []uint64{5, 2, 9, 0} {
		if err := h.Store.AddCheckpoint(ctx, &audit.StoredCheckpoint{Size: size, Note: note(size, 1), CreatedAt: at}); err != nil {
			t.Fatalf("AddCheckpoint(%d): %v", size, err)
		}
	}
	// Storing a size again is a no-op: the first note stays.
	if err := h.Store.AddCheckpoint(ctx, &audit.StoredCheckpoint{Size: 5, Note: note(5, 2), CreatedAt: at}); err != nil {
		t.Fatalf("AddCheckpoint(5) again: %v", err)
	}
	cs, err := h.Store.Checkpoints(ctx, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Size != 2 || cs[1].Size != 5 {
		t.Fatalf("Checkpoints(1, 5) = %d checkpoints, want sizes 2 and 5", len(cs))
	}
	if !bytes.Equal(cs[1].Note, note(5, 1)) {
		t.Error("a second checkpoint of size 5 replaced the first")
	}
	if c, err := verifier.Open(cs[0].Note); err != nil || c.Size != 2 {
		t.Errorf("stored note of size 2 does not open: %v", err)
	}
	if d := cs[0].CreatedAt.Sub(at); d < -time.Second || d > time.Second {
		t.Errorf("CreatedAt = %v, want %v", cs[0].CreatedAt, at)
	}
	if cs, err := h.Store.Checkpoints(ctx, 6, 8); err != nil || len(cs) != 0 {
		t.Errorf("Checkpoints(6, 8) = %d checkpoints, %v, want none", len(cs), err)
	}
	if cs, err := h.Store.Checkpoints(ctx, 0, 100); err != nil || len(cs) != 4 {
		t.Errorf("Checkpoints(0, 100) = %d checkpoints, %v, want 4", len(cs), err)
	}
	if c, err := h.Store.LatestCheckpoint(ctx); err != nil || c == nil || c.Size != 9 {
		t.Errorf("LatestCheckpoint() = %v, %v, want size 9", c, err)
	}
}

// testLog runs an audit.Log over the store: concurrent writers, two Logs,
// an export that must verify.
func testLog(t *testing.T, h Harness) {
	ctx := context.Background()
	skey, vkey, err := audit.GenerateKey("coffre.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	logs := make([]*audit.Log, 2)
	for i := range logs {
		l, err := audit.NewLog(h.Store, audit.LogOptions{Signer: signer, SequenceInterval: time.Millisecond, BatchSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Open(ctx); err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		logs[i] = l
	}
	const writers, per = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				if err := h.Add(ctx, Entry(w*per+i)); err != nil {
					errs <- err
					return
				}
				if i%10 == 9 {
					if _, err := logs[i%2].Sync(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const n = writers * per
	for i, l := range logs {
		if got, err := l.Sync(ctx); err != nil || got != n {
			t.Fatalf("log %d: Sync() = %d, %v, want %d", i, got, err, n)
		}
	}
	entries, _, err := h.Store.SequencedEntries(ctx, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		if e.Seq != uint64(i) || seen[e.RequestID] {
			t.Fatalf("entry %d: Seq %d, request %s seen before: %v", i, e.Seq, e.RequestID, seen[e.RequestID])
		}
		seen[e.RequestID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d entries sequenced, want %d", len(seen), n)
	}
	for _, tenant := range []string{"", "asso-été"} {
		var b bytes.Buffer
		if err := logs[0].Export(ctx, &b, tenant, nil); err != nil {
			t.Fatal(err)
		}
		s, err := audit.Verify(ctx, &b, vkey, audit.VerifyOptions{})
		if err != nil {
			t.Fatalf("export of tenant %q: %v", tenant, err)
		}
		if s.Size != n {
			t.Errorf("export of tenant %q: %d entries, want %d", tenant, s.Size, n)
		}
	}
}
