package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/audit/audittest"
)

// Log implements the audit log interface of the vault service.
var _ interface {
	Checkpoint(ctx context.Context) (*audit.StoredCheckpoint, error)
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
	Export(ctx context.Context, w io.Writer, tenant string, progress func(done, total uint64)) error
} = (*audit.Log)(nil)

// testLog is a Log over a memory store with the keys to check it.
type testLog struct {
	*audit.Log
	store      *audittest.Store
	skey, vkey string
	v          *audit.Verifier
}

var now0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newTestLog returns an unopened Log over store (a new one if nil), signing
// with skey (a new key if empty).
func newTestLog(tb testing.TB, store *audittest.Store, skey, vkey string, opts audit.LogOptions) *testLog {
	tb.Helper()
	if store == nil {
		store = audittest.NewStore()
	}
	if skey == "" {
		var err error
		if skey, vkey, err = audit.GenerateKey(testOrigin); err != nil {
			tb.Fatal(err)
		}
	}
	s, err := audit.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := audit.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	opts.Signer = s
	if opts.Now == nil {
		opts.Now = func() time.Time { return now0 }
	}
	l, err := audit.NewLog(store, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return &testLog{Log: l, store: store, skey: skey, vkey: vkey, v: v}
}

// mustOpen opens l and closes it at the end of the test.
func (l *testLog) mustOpen(tb testing.TB) {
	tb.Helper()
	if err := l.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
}

func (l *testLog) mustSync(tb testing.TB) uint64 {
	tb.Helper()
	n, err := l.Sync(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func (l *testLog) mustCheckpoint(tb testing.TB) *audit.StoredCheckpoint {
	tb.Helper()
	c, err := l.Checkpoint(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// addEntries commits n generated entries to store.
func addEntries(store *audittest.Store, r *rand.Rand, n int) {
	for range n {
		e := genEntry(r, 0)
		store.Add(&e)
	}
}

// checkStore checks that the store holds n entries, all sequenced, densely
// in row order, each with its correct leaf hash, and returns the leaves.
func checkStore(tb testing.TB, store *audittest.Store, n uint64) [][]byte {
	tb.Helper()
	rows, sequenced, _, _ := store.Stats()
	if uint64(rows) != n || uint64(sequenced) != n {
		tb.Fatalf("store: %d rows, %d sequenced, want %d", rows, sequenced, n)
	}
	for id := int64(1); id <= int64(n); id++ {
		if seq, ok := store.Seq(id); !ok || seq != uint64(id-1) {
			tb.Fatalf("row %d: Seq = %d, %v, want %d, true", id, seq, ok, id-1)
		}
	}
	entries, leaves, err := store.SequencedEntries(context.Background(), 0, n+10)
	if err != nil {
		tb.Fatal(err)
	}
	if uint64(len(entries)) != n {
		tb.Fatalf("SequencedEntries: %d entries, want %d", len(entries), n)
	}
	for i, e := range entries {
		if e.Seq != uint64(i) {
			tb.Fatalf("entry %d has Seq %d", i, e.Seq)
		}
		want, err := e.LeafHash()
		if err != nil {
			tb.Fatal(err)
		}
		if !bytes.Equal(leaves[i], want) {
			tb.Fatalf("entry %d: stored leaf hash %x, want %x", i, leaves[i], want)
		}
	}
	root, err := audit.RootAt(context.Background(), store, n)
	if err != nil {
		tb.Fatal(err)
	}
	if want := naiveRoot(leaves); !bytes.Equal(root, want) {
		tb.Fatalf("RootAt(%d) = %x, naive root %x", n, root, want)
	}
	return leaves
}

// eventually polls f until it is true or the deadline passes.
func eventually(tb testing.TB, what string, f func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNewLog(t *testing.T) {
	s, _, _ := mustSignerTB(t)
	for _, tt := range []struct {
		name  string
		store audit.Store
		opts  audit.LogOptions
		ok    bool
	}{
		{"OK", audittest.NewStore(), audit.LogOptions{Signer: s}, true},
		{"NoSigner", audittest.NewStore(), audit.LogOptions{}, false},
		{"NoStore", nil, audit.LogOptions{Signer: s}, false},
		{"NegativeInterval", audittest.NewStore(), audit.LogOptions{Signer: s, SequenceInterval: -1}, false},
		{"NegativeBatch", audittest.NewStore(), audit.LogOptions{Signer: s, BatchSize: -1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := audit.NewLog(tt.store, tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("NewLog: err = %v, want ok %v", err, tt.ok)
			}
			if err == nil {
				if got := l.Origin(); got != testOrigin {
					t.Errorf("Origin() = %q, want %q", got, testOrigin)
				}
				if got := l.Size(); got != 0 {
					t.Errorf("Size() = %d, want 0", got)
				}
			}
		})
	}
}

// TestLogConcurrentWriters commits entries from 16 goroutines, which also
// call Sync, while the background loop sequences and checkpoints.
func TestLogConcurrentWriters(t *testing.T) {
	const writers, per = 16, 400
	l := newTestLog(t, nil, "", "", audit.LogOptions{
		SequenceInterval: time.Millisecond, CheckpointInterval: 5 * time.Millisecond, BatchSize: 100,
	})
	l.mustOpen(t)
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range per {
				e := genEntry(r, 0)
				e.RequestID = fmt.Sprintf("w%d-%d", w, i)
				l.store.Add(&e)
				if i%50 == 49 {
					if _, err := l.Sync(context.Background()); err != nil {
						errc <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	const n = writers * per
	if got := l.mustSync(t); got != n {
		t.Fatalf("Sync() = %d, want %d", got, n)
	}
	checkStore(t, l.store, n)

	// Every entry committed is in the log once, unchanged.
	entries, _, err := l.store.SequencedEntries(context.Background(), 0, n)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.RequestID] {
			t.Fatalf("request %s sequenced twice", e.RequestID)
		}
		seen[e.RequestID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct entries, want %d", len(seen), n)
	}

	c := l.mustCheckpoint(t)
	cp, err := l.v.Open(c.Note)
	if err != nil {
		t.Fatal(err)
	}
	root, err := audit.RootAt(context.Background(), l.store, n)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != n || !bytes.Equal(cp.Hash, root) {
		t.Fatalf("checkpoint (%d, %x), want (%d, %x)", cp.Size, cp.Hash, n, root)
	}
}

// TestLogTwoProcesses runs two Logs on one store, as a server and a command
// beside it would.
func TestLogTwoProcesses(t *testing.T) {
	t.Run("Concurrent", func(t *testing.T) {
		a := newTestLog(t, nil, "", "", audit.LogOptions{SequenceInterval: time.Millisecond, BatchSize: 64})
		b := newTestLog(t, a.store, a.skey, a.vkey, audit.LogOptions{SequenceInterval: time.Millisecond, BatchSize: 64})
		a.mustOpen(t)
		b.mustOpen(t)
		const writers, per = 8, 500
		var wg sync.WaitGroup
		var failed atomic.Value
		for w := range writers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 8))
				for i := range per {
					e := genEntry(r, 0)
					a.store.Add(&e)
					if i%25 == 0 {
						l := a
						if r.IntN(2) == 0 {
							l = b
						}
						if _, err := l.Sync(context.Background()); err != nil {
							failed.Store(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			t.Fatal(err)
		}
		const n = writers * per
		if got := a.mustSync(t); got != n {
			t.Fatalf("a.Sync() = %d, want %d", got, n)
		}
		if got := b.mustSync(t); got != n {
			t.Fatalf("b.Sync() = %d, want %d", got, n)
		}
		checkStore(t, a.store, n)
		_, _, batches, moved := a.store.Stats()
		t.Logf("%d batches, %d refused as stale", batches, moved)
		ca, cb := a.mustCheckpoint(t), b.mustCheckpoint(t)
		if ca.Size != n || !bytes.Equal(ca.Note, cb.Note) {
			t.Fatalf("checkpoints differ: %d and %d", ca.Size, cb.Size)
		}
	})

	// HeadMoved makes b sequence between a's read of the pending entries and
	// a's SequenceAudit: the store refuses a's stale batch, and a numbers
	// what is left after b's entries.
	t.Run("HeadMoved", func(t *testing.T) {
		ctx := context.Background()
		a := newTestLog(t, nil, "", "", audit.LogOptions{})
		b := newTestLog(t, a.store, a.skey, a.vkey, audit.LogOptions{})
		r := rand.New(rand.NewPCG(1, 1))
		addEntries(a.store, r, 10)
		if got := a.mustSync(t); got != 10 {
			t.Fatalf("a.Sync() = %d, want 10", got)
		}
		addEntries(a.store, r, 5)
		var once atomic.Bool
		a.store.SetFault(func(op string) error {
			if op == "SequenceAudit" && once.CompareAndSwap(false, true) {
				if _, err := b.Sync(ctx); err != nil {
					t.Errorf("b.Sync: %v", err)
				}
			}
			return nil
		})
		if got := a.mustSync(t); got != 15 {
			t.Fatalf("a.Sync() = %d, want 15", got)
		}
		a.store.SetFault(nil)
		if _, _, _, moved := a.store.Stats(); moved != 1 {
			t.Errorf("%d batches refused as stale, want 1", moved)
		}
		if got := b.Size(); got != 15 {
			t.Errorf("b.Size() = %d, want 15", got)
		}
		checkStore(t, a.store, 15)

		// b serves proofs up to what a sequenced since, and its next
		// checkpoint covers it.
		addEntries(a.store, r, 3)
		if got := a.mustSync(t); got != 18 {
			t.Fatalf("a.Sync() = %d, want 18", got)
		}
		if _, err := b.InclusionProof(ctx, 17, 18); err != nil {
			t.Errorf("b.InclusionProof(17, 18): %v", err)
		}
		if _, err := b.ConsistencyProof(ctx, 15, 18); err != nil {
			t.Errorf("b.ConsistencyProof(15, 18): %v", err)
		}
		cb := b.mustCheckpoint(t)
		ca := a.mustCheckpoint(t)
		if cb.Size != 18 || !bytes.Equal(ca.Note, cb.Note) {
			t.Errorf("checkpoints of size %d and %d, want one of 18", ca.Size, cb.Size)
		}
		checkStore(t, a.store, 18)
	})
}

func TestLogCheckpoint(t *testing.T) {
	ctx := context.Background()
	skey, vkey, err := audit.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Empty", func(t *testing.T) {
		l := newTestLog(t, nil, skey, vkey, audit.LogOptions{})
		if c, err := l.LatestCheckpoint(ctx); err != nil || c != nil {
			t.Fatalf("LatestCheckpoint() = %v, %v, want nil, nil", c, err)
		}
		c := l.mustCheckpoint(t)
		cp, err := l.v.Open(c.Note)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != 0 || !bytes.Equal(cp.Hash, audit.EmptyRoot()) {
			t.Errorf("empty checkpoint (%d, %x), want (0, %x)", cp.Size, cp.Hash, audit.EmptyRoot())
		}
	})

	t.Run("OncePerSize", func(t *testing.T) {
		l := newTestLog(t, nil, skey, vkey, audit.LogOptions{})
		r := rand.New(rand.NewPCG(3, 3))
		addEntries(l.store, r, 100)
		c := l.mustCheckpoint(t)
		cp, err := l.v.Open(c.Note)
		if err != nil {
			t.Fatal(err)
		}
		root, err := audit.RootAt(ctx, l.store, 100)
		if err != nil {
			t.Fatal(err)
		}
		if c.Size != 100 || cp.Size != 100 || !bytes.Equal(cp.Hash, root) {
			t.Fatalf("checkpoint (%d, %d, %x), want (100, 100, %x)", c.Size, cp.Size, cp.Hash, root)
		}
		if !c.CreatedAt.Equal(now0) {
			t.Errorf("CreatedAt = %v, want %v", c.CreatedAt, now0)
		}
		again := l.mustCheckpoint(t)
		if !bytes.Equal(again.Note, c.Note) || !again.CreatedAt.Equal(c.CreatedAt) {
			t.Error("second checkpoint at the same size differs from the first")
		}
		latest, err := l.LatestCheckpoint(ctx)
		if err != nil || latest == nil || !bytes.Equal(latest.Note, c.Note) {
			t.Fatalf("LatestCheckpoint() = %v, %v, want the checkpoint of size 100", latest, err)
		}
		addEntries(l.store, r, 1)
		if c := l.mustCheckpoint(t); c.Size != 101 {
			t.Errorf("checkpoint of size %d, want 101", c.Size)
		}
		all, err := l.store.Checkpoints(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all[0].Size != 100 || all[1].Size != 101 {
			t.Errorf("%d checkpoints stored, want sizes 100 and 101", len(all))
		}
	})

	t.Run("WrongKey", func(t *testing.T) {
		l := newTestLog(t, nil, skey, vkey, audit.LogOptions{})
		addEntries(l.store, rand.New(rand.NewPCG(4, 4)), 3)
		c := l.mustCheckpoint(t)
		_, otherV, err := audit.GenerateKey(testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		v, err := audit.NewVerifier(otherV)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Open(c.Note); !errors.Is(err, audit.ErrSignature) {
			t.Errorf("Open with another key: err = %v, want ErrSignature", err)
		}
	})

	// Background: the loop cuts a checkpoint when the size changed, and
	// none while it does not.
	t.Run("Background", func(t *testing.T) {
		l := newTestLog(t, nil, skey, vkey, audit.LogOptions{
			SequenceInterval: time.Millisecond, CheckpointInterval: 2 * time.Millisecond,
		})
		l.mustOpen(t)
		time.Sleep(10 * time.Millisecond)
		if c, _ := l.LatestCheckpoint(ctx); c != nil {
			t.Errorf("checkpoint of size %d cut for the empty log", c.Size)
		}
		r := rand.New(rand.NewPCG(5, 5))
		for range 5 {
			addEntries(l.store, r, 20)
			time.Sleep(3 * time.Millisecond)
		}
		eventually(t, "a checkpoint of size 100", func() bool {
			c, err := l.LatestCheckpoint(ctx)
			return err == nil && c != nil && c.Size == 100
		})
		before, err := l.store.Checkpoints(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		after, err := l.store.Checkpoints(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("%d checkpoints cut while idle", len(after)-len(before))
		}
		for _, c := range after {
			if _, err := l.v.Open(c.Note); err != nil {
				t.Errorf("checkpoint of size %d: %v", c.Size, err)
			}
		}
	})
}

func TestLogProofs(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 9))
	l := newTestLog(t, nil, "", "", audit.LogOptions{BatchSize: 1 + r.IntN(300)})
	target := 2000 + r.IntN(2500)
	for int(l.Size()) < target {
		addEntries(l.store, r, 1+r.IntN(400))
		l.mustSync(t)
	}
	n := l.Size()
	t.Logf("log of %d entries", n)
	leaves := checkStore(t, l.store, n)
	roots := map[uint64][]byte{}
	root := func(size uint64) []byte {
		if roots[size] == nil {
			roots[size] = naiveRoot(leaves[:size])
		}
		return roots[size]
	}

	t.Run("Inclusion", func(t *testing.T) {
		for range 100 {
			size := 1 + r.Uint64N(n)
			index := r.Uint64N(size)
			if r.IntN(10) == 0 {
				size, index = n, n-1
			}
			p, err := l.InclusionProof(ctx, index, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leaves[index], p, root(size)); err != nil {
				t.Fatalf("InclusionProof(%d, %d) does not verify: %v", index, size, err)
			}
		}
	})

	t.Run("Consistency", func(t *testing.T) {
		for i := range 100 {
			to := 1 + r.Uint64N(n)
			from := 1 + r.Uint64N(to)
			if i%10 == 0 {
				from = to
			}
			p, err := l.ConsistencyProof(ctx, from, to)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", from, to, err)
			}
			if from == to && (p == nil || len(p) != 0) {
				t.Fatalf("ConsistencyProof(%d, %d) = %v, want an empty proof", from, to, p)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, to, p, root(from), root(to)); err != nil {
				t.Fatalf("ConsistencyProof(%d, %d) does not verify: %v", from, to, err)
			}
		}
	})

	t.Run("ErrOutOfRange", func(t *testing.T) {
		for _, tt := range []struct {
			name        string
			consistency bool
			a, b        uint64
		}{
			{"InclusionIndexAtSize", false, 5, 5},
			{"InclusionIndexPastSize", false, 6, 5},
			{"InclusionEmpty", false, 0, 0},
			{"InclusionSizePastLog", false, 0, n + 1},
			{"InclusionLastPastLog", false, n, n + 1},
			{"ConsistencyFromZero", true, 0, 5},
			{"ConsistencyZero", true, 0, 0},
			{"ConsistencyFromPastTo", true, 6, 5},
			{"ConsistencyToPastLog", true, 1, n + 1},
			{"ConsistencyBothPastLog", true, n + 1, n + 1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				var err error
				if tt.consistency {
					_, err = l.ConsistencyProof(ctx, tt.a, tt.b)
				} else {
					_, err = l.InclusionProof(ctx, tt.a, tt.b)
				}
				if !errors.Is(err, audit.ErrOutOfRange) {
					t.Errorf("err = %v, want ErrOutOfRange", err)
				}
			})
		}
	})
}

// exportLog builds a log of three tenants with checkpoints at 1000, at
// 4096 (the boundary of an export chunk) and at 4500, and entries past the
// last one.
func exportLog(tb testing.TB) (*testLog, uint64) {
	tb.Helper()
	l := newTestLog(tb, nil, "", "", audit.LogOptions{BatchSize: 1000})
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1000, 3096, 404} {
		addEntries(l.store, r, n)
		l.mustCheckpoint(tb)
	}
	addEntries(l.store, r, 123)
	return l, 4623
}

func TestLogExport(t *testing.T) {
	ctx := context.Background()
	l, n := exportLog(t)

	export := func(t *testing.T, l *testLog, tenant string) []byte {
		t.Helper()
		var buf bytes.Buffer
		var last uint64
		calls := 0
		err := l.Export(ctx, &buf, tenant, func(done, total uint64) {
			calls++
			if done < last || done > total || total != l.Size() {
				t.Errorf("progress(%d, %d) after %d, log size %d", done, total, last, l.Size())
			}
			last = done
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls == 0 || last != l.Size() {
			t.Errorf("progress: %d calls, last done %d, want %d", calls, last, l.Size())
		}
		return buf.Bytes()
	}

	full := export(t, l, "")
	t.Run("Full", func(t *testing.T) {
		s, err := audit.Verify(ctx, bytes.NewReader(full), l.vkey, audit.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Size != n || s.Checkpoints != 4 || s.Redacted != 0 || s.Tenant != "" {
			t.Errorf("Verify: size %d, %d checkpoints, %d redacted, tenant %q; want %d, 4, 0, \"\"",
				s.Size, s.Checkpoints, s.Redacted, s.Tenant, n)
		}
		if got := l.Size(); got != n {
			t.Errorf("Size() = %d, want %d", got, n)
		}
	})

	t.Run("Tenant", func(t *testing.T) {
		const tenant = "tenant-1"
		b := export(t, l, tenant)
		s, err := audit.Verify(ctx, bytes.NewReader(b), l.vkey, audit.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		entries, _, err := l.store.SequencedEntries(ctx, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		// Every subject and request id in the export, wherever it is.
		shown := map[string]bool{}
		for _, m := range regexp.MustCompile(`c_[0-9a-f]{16}|req_[0-9a-f]{12}`).FindAll(b, -1) {
			shown[string(m)] = true
		}
		var others uint64
		for _, e := range entries {
			if e.Tenant == tenant {
				if !shown[e.Subject] || !shown[e.RequestID] {
					t.Fatalf("entry %d of the tenant is missing", e.Seq)
				}
				continue
			}
			others++
			if shown[e.Subject] || shown[e.RequestID] {
				t.Fatalf("entry %d of %s shows in the export of %s", e.Seq, e.Tenant, tenant)
			}
		}
		if s.Size != n || s.Tenant != tenant || s.Redacted != others || s.Checkpoints != 4 {
			t.Errorf("Verify: size %d, tenant %q, %d redacted, %d checkpoints; want %d, %q, %d, 4",
				s.Size, s.Tenant, s.Redacted, s.Checkpoints, n, tenant, others)
		}
		if others == 0 || others == n {
			t.Fatalf("%d entries of other tenants: the test needs some of both", others)
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		lines := bytes.SplitAfter(full, []byte("\n"))
		lines = lines[:len(lines)-1] // after the final newline
		find := func(seq int) int {
			prefix := fmt.Appendf(nil, `{"seq":%d,`, seq)
			for i, line := range lines {
				if bytes.HasPrefix(line, prefix) {
					return i
				}
			}
			t.Fatalf("entry %d not in the export", seq)
			return 0
		}
		for _, tt := range []struct {
			name   string
			tamper func() [][]byte
			err    error
			seq    uint64
		}{
			{"ChangedField", func() [][]byte {
				i := find(1234)
				ls := append([][]byte{}, lines...)
				ls[i] = bytes.Replace(lines[i], []byte(`"outcome":"ok"`), []byte(`"outcome":"no"`), 1)
				return ls
			}, audit.ErrLeafHash, 1234},
			{"DeletedEntry", func() [][]byte {
				i := find(2000)
				return append(append([][]byte{}, lines[:i]...), lines[i+1:]...)
			}, audit.ErrSequence, 2000},
			{"SwappedEntries", func() [][]byte {
				i, j := find(3000), find(3001)
				ls := append([][]byte{}, lines...)
				ls[i], ls[j] = ls[j], ls[i]
				return ls
			}, audit.ErrSequence, 3000},
			{"TruncatedTail", func() [][]byte {
				return lines[:len(lines)-3]
			}, audit.ErrMissing, n - 2},
		} {
			t.Run(tt.name, func(t *testing.T) {
				b := bytes.Join(tt.tamper(), nil)
				_, err := audit.Verify(ctx, bytes.NewReader(b), l.vkey, audit.VerifyOptions{})
				var ve *audit.VerifyError
				if !errors.As(err, &ve) || !errors.Is(err, tt.err) || ve.Seq != tt.seq {
					t.Fatalf("Verify: err = %v, want %v at entry %d", err, tt.err, tt.seq)
				}
			})
		}
	})

	t.Run("WrongKey", func(t *testing.T) {
		_, vkey, err := audit.GenerateKey(testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.Verify(ctx, bytes.NewReader(full), vkey, audit.VerifyOptions{}); !errors.Is(err, audit.ErrSignature) {
			t.Errorf("Verify with another key: err = %v, want ErrSignature", err)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		l := newTestLog(t, nil, "", "", audit.LogOptions{})
		b := export(t, l, "")
		s, err := audit.Verify(ctx, bytes.NewReader(b), l.vkey, audit.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Size != 0 || s.Checkpoints != 1 {
			t.Errorf("Verify: size %d, %d checkpoints, want 0, 1", s.Size, s.Checkpoints)
		}
	})

	t.Run("Extends", func(t *testing.T) {
		// A later export extends the earlier one and its checkpoint.
		first, err := audit.Verify(ctx, bytes.NewReader(full), l.vkey, audit.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		addEntries(l.store, rand.New(rand.NewPCG(30, 30)), 77)
		later := export(t, l, "")
		s, err := audit.Verify(ctx, bytes.NewReader(later), l.vkey, audit.VerifyOptions{
			OldCheckpoint: first.Checkpoint, Previous: bytes.NewReader(full),
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.Size != n+77 {
			t.Errorf("Verify: size %d, want %d", s.Size, n+77)
		}
	})

	t.Run("StoreError", func(t *testing.T) {
		l, _ := exportLog(t)
		boom := errors.New("read failed")
		l.store.SetFault(func(op string) error {
			if op == "SequencedEntries" {
				return boom
			}
			return nil
		})
		if err := l.Export(ctx, &bytes.Buffer{}, "", nil); !errors.Is(err, boom) {
			t.Errorf("Export: err = %v, want %v", err, boom)
		}
	})
}

// syncBuffer is a bytes.Buffer for a logger written from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogStoreError checks that a failing store delays sequencing without
// stopping it, and that the log output holds no entry content.
func TestLogStoreError(t *testing.T) {
	ctx := context.Background()
	const marker = "MARKER-7f3a"
	var out syncBuffer
	logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newTestLog(t, nil, "", "", audit.LogOptions{
		SequenceInterval: time.Millisecond, CheckpointInterval: time.Millisecond, Logger: logger,
	})
	boom := errors.New("database unavailable")
	var failures atomic.Int32
	l.store.SetFault(func(op string) error {
		if op == "SequenceAudit" && failures.Add(1) <= 3 {
			return boom
		}
		return nil
	})
	l.mustOpen(t)
	r := rand.New(rand.NewPCG(6, 6))
	for range 50 {
		e := genEntry(r, 0)
		e.Subject, e.Purpose, e.Sealed = "c_"+marker, marker, []byte(marker)
		l.store.Add(&e)
	}
	eventually(t, "the log to recover", func() bool {
		c, err := l.LatestCheckpoint(ctx)
		return err == nil && c != nil && c.Size == 50
	})
	if got := failures.Load(); got < 4 {
		t.Errorf("%d SequenceAudit calls, want at least 4", got)
	}
	logs := out.String()
	for _, want := range []string{boom.Error(), "failures=3", "recovered"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log output lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, marker) {
		t.Errorf("log output holds entry content:\n%s", logs)
	}
	checkStore(t, l.store, 50)

	t.Run("SyncReturnsError", func(t *testing.T) {
		l.store.SetFault(func(op string) error {
			if op == "PendingAudit" {
				return boom
			}
			return nil
		})
		defer l.store.SetFault(nil)
		if _, err := l.Sync(ctx); !errors.Is(err, boom) {
			t.Errorf("Sync: err = %v, want %v", err, boom)
		}
		if _, err := l.Checkpoint(ctx); !errors.Is(err, boom) {
			t.Errorf("Checkpoint: err = %v, want %v", err, boom)
		}
	})

	t.Run("InvalidEntry", func(t *testing.T) {
		l := newTestLog(t, nil, "", "", audit.LogOptions{})
		addEntries(l.store, r, 3)
		bad := genEntry(r, 0)
		bad.ActorID = "\xff"
		l.store.Add(&bad)
		addEntries(l.store, r, 3)
		n, err := l.Sync(ctx)
		if !errors.Is(err, audit.ErrInvalidEntry) || !strings.Contains(err.Error(), "row 4") {
			t.Fatalf("Sync: err = %v, want ErrInvalidEntry naming row 4", err)
		}
		if n != 0 {
			t.Errorf("Sync() = %d with a bad entry in the first batch, want 0", n)
		}
	})
}

func TestLogOpen(t *testing.T) {
	ctx := context.Background()

	t.Run("StoreError", func(t *testing.T) {
		l := newTestLog(t, nil, "", "", audit.LogOptions{})
		boom := errors.New("no database")
		l.store.SetFault(func(string) error { return boom })
		if err := l.Open(ctx); !errors.Is(err, boom) {
			t.Fatalf("Open: err = %v, want %v", err, boom)
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		l := newTestLog(t, nil, "", "", audit.LogOptions{})
		addEntries(l.store, rand.New(rand.NewPCG(8, 8)), 300)
		l.mustSync(t)
		l2 := newTestLog(t, l.store, "", "", audit.LogOptions{})
		l2.mustOpen(t)
		if got := l2.Size(); got != 300 {
			t.Errorf("Size() after Open = %d, want 300", got)
		}
		if err := l2.Open(ctx); err == nil {
			t.Error("second Open succeeded")
		}
	})

	t.Run("CorruptHead", func(t *testing.T) {
		l := newTestLog(t, nil, "", "", audit.LogOptions{})
		addEntries(l.store, rand.New(rand.NewPCG(9, 9)), 300)
		l.mustSync(t)
		other, _, err := (&audit.Tree{}).Append(randomLeaves(300, 1)...)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := other.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		for _, head := range [][]byte{forged, []byte("garbage")} {
			l.store.SetHead(head)
			l2 := newTestLog(t, l.store, "", "", audit.LogOptions{})
			if err := l2.Open(ctx); err == nil {
				l2.Close()
				t.Errorf("Open over a head of %d bytes not matching the store succeeded", len(head))
			}
		}
	})
}

func TestLogClose(t *testing.T) {
	ctx := context.Background()

	t.Run("StopsGoroutine", func(t *testing.T) {
		before := runtime.NumGoroutine()
		l := newTestLog(t, nil, "", "", audit.LogOptions{
			SequenceInterval: time.Millisecond, CheckpointInterval: time.Millisecond,
		})
		if err := l.Open(ctx); err != nil {
			t.Fatal(err)
		}
		addEntries(l.store, rand.New(rand.NewPCG(10, 10)), 20)
		// Nothing calls Sync: the loop runs.
		eventually(t, "sequencing", func() bool { return l.Size() == 20 })
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the loop to stop", func() bool { return runtime.NumGoroutine() <= before })
		if err := l.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := l.Open(ctx); err == nil {
			t.Error("Open after Close succeeded")
		}
	})

	t.Run("FinalPass", func(t *testing.T) {
		l := newTestLog(t, nil, "", "", audit.LogOptions{
			SequenceInterval: time.Hour, CheckpointInterval: time.Hour,
		})
		if err := l.Open(ctx); err != nil {
			t.Fatal(err)
		}
		addEntries(l.store, rand.New(rand.NewPCG(11, 11)), 50)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		checkStore(t, l.store, 50)
		c, err := l.LatestCheckpoint(ctx)
		if err != nil || c == nil || c.Size != 50 {
			t.Fatalf("LatestCheckpoint() after Close = %v, %v, want size 50", c, err)
		}
	})

	t.Run("FinalPassFails", func(t *testing.T) {
		before := runtime.NumGoroutine()
		l := newTestLog(t, nil, "", "", audit.LogOptions{SequenceInterval: time.Millisecond})
		if err := l.Open(ctx); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("gone")
		l.store.SetFault(func(string) error { return boom })
		if err := l.Close(); !errors.Is(err, boom) {
			t.Errorf("Close: err = %v, want %v", err, boom)
		}
		eventually(t, "the loop to stop", func() bool { return runtime.NumGoroutine() <= before })
	})

	t.Run("NeverOpened", func(t *testing.T) {
		l := newTestLog(t, nil, "", "", audit.LogOptions{})
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// BenchmarkLogSequence measures sequencing alone: each iteration commits
// 65536 entries to a new memory store (not timed) and syncs them.
func BenchmarkLogSequence(b *testing.B) {
	const per = 65536
	r := rand.New(rand.NewPCG(12, 12))
	entries := make([]audit.Entry, per)
	for i := range entries {
		entries[i] = genEntry(r, 0)
	}
	skey, vkey, err := audit.GenerateKey(testOrigin)
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{256, 4096} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			var total uint64
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				l := newTestLog(b, nil, skey, vkey, audit.LogOptions{BatchSize: batch})
				for i := range entries {
					l.store.Add(&entries[i])
				}
				b.StartTimer()
				if got := l.mustSync(b); got != per {
					b.Fatalf("Sync() = %d, want %d", got, per)
				}
				total += per
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkLogConcurrentWriters measures the entries committed by 16
// writers and sequenced by the background loop per second, end to end.
func BenchmarkLogConcurrentWriters(b *testing.B) {
	const writers, per = 16, 4096
	r := rand.New(rand.NewPCG(13, 13))
	entries := make([]audit.Entry, per)
	for i := range entries {
		entries[i] = genEntry(r, 0)
	}
	l := newTestLog(b, nil, "", "", audit.LogOptions{SequenceInterval: time.Millisecond})
	l.mustOpen(b)
	var total uint64
	for b.Loop() {
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for i := range entries {
					l.store.Add(&entries[i])
				}
			})
		}
		wg.Wait()
		total += writers * per
		for l.Size() < total {
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "entries/s")
}
