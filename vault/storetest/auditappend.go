package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// testAuditAppend checks the new entries of SequenceAudit, which
// audit.Log.Append stores already sequenced: they read back as written,
// after the pending entries of the same batch; a stale head or an invalid
// batch stores nothing; and two logs appending and sequencing at once on
// one store keep the log dense and verifiable.
func testAuditAppend(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("ReadBack", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx := t.Context()
		l, vkey := NewLog(t, s, 64)

		// On an empty log; on one with a head and two pending entries,
		// which Append numbers first; after a pending entry that Sync
		// numbered; in batches larger than one SequenceAudit.
		var want []*vault.AuditEntry
		for round, n := range []int{1, 3, 300} {
			switch round {
			case 1:
				for _, e := range appendN(t, s, tn.ID, 2) {
					want = append(want, WithSeq(e, uint64(len(want))))
				}
			case 2:
				for _, e := range appendN(t, s, tn.ID, 1) {
					want = append(want, WithSeq(e, uint64(len(want))))
				}
				if n, err := l.Sync(ctx); err != nil || n != uint64(len(want)) {
					t.Fatalf("Sync() = %d, %v, want %d", n, err, len(want))
				}
			}
			es := make([]*audit.Entry, n)
			for i := range es {
				e := NewEntry(tn.ID, vault.ActionContactRead, vault.NewID(time.Now()))
				if i == 0 {
					e.Time = time.Time{} // the log's clock sets it
				}
				es[i] = AuditEntry(e)
			}
			if err := l.Append(ctx, es...); err != nil {
				t.Fatalf("round %d: Append(%d) = %v, want nil", round, n, err)
			}
			for i, e := range es {
				if i == 0 && !e.Time.IsZero() {
					t.Fatalf("Append changed the caller's entry")
				}
				want = append(want, WithSeq(VaultEntry(e), uint64(len(want))))
			}
		}
		checkPending(t, s)
		got, leaves, err := s.SequencedEntries(ctx, 0, uint64(len(want))+10)
		if err != nil || len(got) != len(want) {
			t.Fatalf("SequencedEntries = %d entries, %v; want %d", len(got), err, len(want))
		}
		for i, e := range got {
			if want[i].Time.IsZero() {
				want[i].Time = e.Time // set by the log's clock: checked by the hash below
			}
			if d := DiffEntry(VaultEntry(e), want[i]); d != "" {
				t.Errorf("entry %d: %s", i, d)
			}
			if h, err := e.LeafHash(); err != nil || !bytes.Equal(h, leaves[i]) {
				t.Errorf("entry %d: stored leaf hash is not the hash of the stored entry (%v)", i, err)
			}
		}
		checkVerifies(t, l, vkey, uint64(len(want)))
	})

	t.Run("HeadMovedStoresNothing", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx := t.Context()
		appendN(t, s, tn.ID, 3)
		tree := SequenceAll(t, s)
		head, _ := tree.MarshalBinary()
		for _, stale := range []*audit.Tree{randomTree(t, 3), randomTree(t, 2), tree} {
			prev, _ := stale.MarshalBinary()
			if stale == tree {
				prev = nil // an empty log's head, on a log that has one
			}
			seqd, nodes, next := freshBatch(t, stale, tn.ID, 2)
			err := s.SequenceAudit(ctx, prev, seqd, nodes, next)
			if !errors.Is(err, audit.ErrHeadMoved) {
				t.Errorf("SequenceAudit(new entries, stale head of size %d) = %v, want ErrHeadMoved", stale.Size(), err)
			}
		}
		// From the current head, while an entry is pending: it must be
		// numbered first.
		late := appendN(t, s, tn.ID, 1)
		seqd, nodes, next := freshBatch(t, tree, tn.ID, 2)
		if err := s.SequenceAudit(ctx, head, seqd, nodes, next); !errors.Is(err, audit.ErrHeadMoved) {
			t.Errorf("SequenceAudit(new entries alone, an entry pending) = %v, want ErrHeadMoved", err)
		}
		if h, err := s.AuditHead(ctx); err != nil || !bytes.Equal(h, head) {
			t.Errorf("AuditHead after refused batches = %x, %v; want it unchanged", h, err)
		}
		if es, _, err := s.SequencedEntries(ctx, 0, 100); err != nil || len(es) != 3 {
			t.Errorf("SequencedEntries after refused batches = %d entries, %v; want 3", len(es), err)
		}
		checkPending(t, s, late...)
	})

	t.Run("Invalid", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx := t.Context()
		appendN(t, s, tn.ID, 1)
		tree := SequenceAll(t, s)
		head, _ := tree.MarshalBinary()
		appendN(t, s, tn.ID, 1)
		ps := pendingAll(t, s)
		for _, tt := range []struct {
			name   string
			change func(seqd []audit.Sequenced) []audit.Sequenced
		}{
			{"ZeroTime", func(sq []audit.Sequenced) []audit.Sequenced { sq[1].Entry.Time = time.Time{}; return sq }},
			{"NoTenant", func(sq []audit.Sequenced) []audit.Sequenced { sq[1].Entry.Tenant = ""; return sq }},
			{"EntrySeqDiffers", func(sq []audit.Sequenced) []audit.Sequenced { sq[1].Entry.Seq++; return sq }},
			{"NewBeforePending", func(sq []audit.Sequenced) []audit.Sequenced {
				sq[0], sq[1] = sq[1], sq[0]
				return sq
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				seqd, leaves, err := number(tree.Size(), ps)
				if err != nil {
					t.Fatal(err)
				}
				fresh, freshLeaf := freshEntry(t, tn.ID, tree.Size()+1)
				seqd, leaves = append(seqd, fresh), append(leaves, freshLeaf)
				next, nodes, err := tree.Append(leaves...)
				if err != nil {
					t.Fatal(err)
				}
				nextHead, _ := next.MarshalBinary()
				err = s.SequenceAudit(ctx, head, tt.change(seqd), nodes, nextHead)
				checkCode(t, "SequenceAudit("+tt.name+")", err, vault.EINVALID)
				if h, _ := s.AuditHead(ctx); !bytes.Equal(h, head) {
					t.Error("a refused batch changed the head")
				}
				checkPending(t, s, entriesOf(ps)...)
			})
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		ctx := context.Background()
		l1, vkey := NewLog(t, s, 0)
		l2, _ := NewLog(t, s, 0) // its checkpoints are not read
		const workers, per = 6, 12
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				l := []*audit.Log{l1, l2}[w%2]
				for i := range per {
					var err error
					switch i % 3 {
					case 0, 1:
						err = l.Append(ctx, AuditEntry(NewEntry(tn.ID, vault.ActionContactRead, "")),
							AuditEntry(NewEntry(tn.ID, vault.ActionContactSearch, "")))
					default:
						err = s.AppendAudit(ctx, []*vault.AuditEntry{NewEntry(tn.ID, vault.ActionContactRead, "")})
						if err == nil {
							_, err = l.Sync(ctx)
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		const n = workers * per / 3 * 5 // two appends of two, one pending, per three
		if got, err := l1.Sync(ctx); err != nil || got != n {
			t.Fatalf("Sync() = %d, %v, want %d", got, err, n)
		}
		es, _, err := s.SequencedEntries(ctx, 0, n+10)
		if err != nil || len(es) != n {
			t.Fatalf("SequencedEntries = %d, %v; want %d", len(es), err, n)
		}
		seen := map[string]bool{}
		for i, e := range es {
			if e.Seq != uint64(i) || seen[e.RequestID] {
				t.Fatalf("entry %d: seq %d, request seen before: %v", i, e.Seq, seen[e.RequestID])
			}
			seen[e.RequestID] = true
		}
		checkVerifies(t, l1, vkey, n)
	})
}

// NewLog returns an audit log over s with a new key and batches of at
// most batch entries (0: the default), without its background loop, and
// the key's verifier.
func NewLog(t testing.TB, s audit.Store, batch int) (*audit.Log, string) {
	t.Helper()
	skey, vkey, err := audit.GenerateKey("coffre.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.NewLog(s, audit.LogOptions{Signer: signer, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	return l, vkey
}

// checkVerifies exports the whole log through l and verifies it.
func checkVerifies(t testing.TB, l *audit.Log, vkey string, size uint64) {
	t.Helper()
	var b bytes.Buffer
	if err := l.Export(context.Background(), &b, "", nil); err != nil {
		t.Fatalf("Export = %v", err)
	}
	sum, err := audit.Verify(context.Background(), &b, vkey, audit.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify(export) = %v", err)
	}
	if sum.Size != size {
		t.Errorf("export verified with %d entries, want %d", sum.Size, size)
	}
}

// freshEntry returns a new entry of the tenant numbered seq, as
// SequenceAudit takes it, and its leaf hash.
func freshEntry(t testing.TB, tenantID string, seq uint64) (audit.Sequenced, []byte) {
	t.Helper()
	e := AuditEntry(NewEntry(tenantID, vault.ActionContactRead, vault.NewID(time.Now())))
	e.Seq = seq
	leaf, err := e.LeafHash()
	if err != nil {
		t.Fatal(err)
	}
	return audit.Sequenced{Seq: seq, LeafHash: leaf, Entry: e}, leaf
}

// freshBatch returns n new entries numbered on tree, its nodes and head.
func freshBatch(t testing.TB, tree *audit.Tree, tenantID string, n int) ([]audit.Sequenced, []audit.Node, []byte) {
	t.Helper()
	seqd := make([]audit.Sequenced, n)
	leaves := make([][]byte, n)
	for i := range seqd {
		seqd[i], leaves[i] = freshEntry(t, tenantID, tree.Size()+uint64(i))
	}
	next, nodes, err := tree.Append(leaves...)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := next.MarshalBinary()
	return seqd, nodes, head
}
