package vault

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
)

// appendRecorder is the part of a Store the audit writer uses: it keeps
// the entries of each AppendAudit call, and holds the calls while gate is
// closed.
type appendRecorder struct {
	Store // nil: the writer calls nothing else
	gate  chan struct{}
	// entered receives a value each time a call starts.
	entered chan struct{}

	mu      sync.Mutex
	batches [][]*AuditEntry
}

func (a *appendRecorder) AppendAudit(ctx context.Context, entries []*AuditEntry) error {
	a.entered <- struct{}{}
	<-a.gate
	a.mu.Lock()
	defer a.mu.Unlock()
	a.batches = append(a.batches, append([]*AuditEntry(nil), entries...))
	return nil
}

// stored returns the entries stored, and how many calls stored them.
func (a *appendRecorder) stored() (map[*AuditEntry]int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := map[*AuditEntry]int{}
	for _, b := range a.batches {
		for _, e := range b {
			seen[e]++
		}
	}
	return seen, len(a.batches)
}

func newRecorder() *appendRecorder {
	return &appendRecorder{gate: make(chan struct{}), entered: make(chan struct{}, 1024)}
}

// appendAll runs n appends of one entry each, concurrently, and returns
// their entries and a function that waits for their errors.
func appendAll(w *auditWriter, n int) ([]*AuditEntry, func() []error) {
	entries := make([]*AuditEntry, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range entries {
		entries[i] = &AuditEntry{Action: ActionContactRead}
		wg.Go(func() { errs[i] = w.append(context.Background(), entries[i]) })
	}
	return entries, func() []error { wg.Wait(); return errs }
}

// TestAuditWriterGroups holds the first append in the store while more
// arrive: they share the next calls, each entry is stored once, and each
// caller returns only after its entry was stored.
func TestAuditWriterGroups(t *testing.T) {
	rec := newRecorder()
	w := &auditWriter{store: rec}
	defer w.close()
	first, firstDone := appendAll(w, 1)
	<-rec.entered
	entries, wait := appendAll(w, 50)
	// Let the queue fill while the first call is held.
	time.Sleep(20 * time.Millisecond)
	close(rec.gate)
	errs := append(firstDone(), wait()...)
	for i, err := range errs {
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	seen, calls := rec.stored()
	for i, e := range append(first, entries...) {
		if seen[e] != 1 {
			t.Errorf("entry %d stored %d times, want once", i, seen[e])
		}
	}
	if calls >= 51 {
		t.Errorf("51 entries took %d store calls: no group commit", calls)
	}
}

// TestAuditWriterGathers checks that the writer, having taken an entry,
// yields before it gathers, and takes into the same batch an entry handed
// over meanwhile.
func TestAuditWriterGathers(t *testing.T) {
	rec := newRecorder()
	close(rec.gate)
	w := &auditWriter{store: rec}
	defer w.close()
	var second []*AuditEntry
	var secondDone func() []error
	w.yield = func() {
		if second != nil {
			return
		}
		second, secondDone = appendAll(w, 1)
		// Let it reach the hand-over, as the other tests let the queue
		// fill.
		time.Sleep(20 * time.Millisecond)
	}
	first, firstDone := appendAll(w, 1)
	errs := firstDone()
	if secondDone == nil {
		t.Fatal("the writer did not yield before gathering")
	}
	for i, err := range append(errs, secondDone()...) {
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	seen, calls := rec.stored()
	if seen[first[0]] != 1 || seen[second[0]] != 1 || calls != 1 {
		t.Errorf("entries stored %d and %d times in %d calls, want once each in one call", seen[first[0]], seen[second[0]], calls)
	}
}

// TestAuditWriterClose closes the writer while a batch is in the store and
// more appends wait in its queue: the batch in flight completes, every
// caller returns, each either with its entry stored or with
// errAuditClosed, and appends after close fail.
func TestAuditWriterClose(t *testing.T) {
	rec := newRecorder()
	w := &auditWriter{store: rec}
	first, firstDone := appendAll(w, 1)
	<-rec.entered
	entries, wait := appendAll(w, 30)
	time.Sleep(20 * time.Millisecond)
	closed := make(chan struct{})
	go func() { w.close(); close(closed) }()
	// The writer stops only after the call in flight; the store answers
	// every call from now on.
	time.Sleep(10 * time.Millisecond)
	close(rec.gate)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return")
	}
	done := make(chan []error)
	go func() { done <- append(firstDone(), wait()...) }()
	var errs []error
	select {
	case errs = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("appends queued at close did not return")
	}
	seen, _ := rec.stored()
	all := append(first, entries...)
	if errs[0] != nil || seen[first[0]] != 1 {
		t.Errorf("the append in flight at close: %v, stored %d times; want stored once", errs[0], seen[first[0]])
	}
	for i, err := range errs {
		switch {
		case err == nil && seen[all[i]] != 1:
			t.Errorf("append %d returned nil, but its entry was stored %d times", i, seen[all[i]])
		case err != nil && !errors.Is(err, errAuditClosed):
			t.Errorf("append %d: %v, want nil or errAuditClosed", i, err)
		case err != nil && seen[all[i]] != 0:
			t.Errorf("append %d failed, but its entry was stored", i)
		}
	}
	if err := w.append(context.Background(), &AuditEntry{}); !errors.Is(err, errAuditClosed) {
		t.Errorf("append after close: %v, want errAuditClosed", err)
	}
}

// appendLog is an AuditLog that can append: it counts the entries its
// Append was given.
type appendLog struct {
	AuditLog // nil: nothing else is called
	mu       sync.Mutex
	appended int
}

func (l *appendLog) Append(_ context.Context, entries ...*audit.Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appended += len(entries)
	return nil
}

// pendingRecorder is an appendRecorder that prefers pending appends.
type pendingRecorder struct{ *appendRecorder }

func (pendingRecorder) PrefersPendingAppends() bool { return true }

// TestSetAuditLogRoutesAppends checks where the entries that record no
// change go once the service has a log: to the log, numbered, unless the
// store prefers them pending, and then to the store.
func TestSetAuditLogRoutesAppends(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending bool
	}{{"numbered", false}, {"pending", true}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			close(rec.gate)
			var store Store = rec
			if tc.pending {
				store = pendingRecorder{rec}
			}
			s := NewService(store, nil, nil, nil)
			defer s.Close()
			l := &appendLog{}
			s.SetAuditLog(l)
			e := &AuditEntry{TenantID: "t", Action: ActionContactRead, Time: time.Now()}
			if err := s.audit.append(context.Background(), e); err != nil {
				t.Fatalf("append: %v", err)
			}
			seen, _ := rec.stored()
			inStore, inLog := seen[e], l.appended
			if tc.pending && (inStore != 1 || inLog != 0) {
				t.Errorf("stored %d times, appended to the log %d; want the store once", inStore, inLog)
			}
			if !tc.pending && (inStore != 0 || inLog != 1) {
				t.Errorf("stored %d times, appended to the log %d; want the log once", inStore, inLog)
			}
		})
	}
}
