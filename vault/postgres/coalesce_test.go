package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// testRead is a read of the coalescer's own tests.
type testRead struct {
	n   int
	got int
	err error
}

func (r *testRead) fail(err error) { r.err = err }

// TestCoalescerPanic checks that a statement whose run panics fails the
// reads it was serving, frees its slot for the reads to come, and panics
// in the goroutine that ran it.
func TestCoalescerPanic(t *testing.T) {
	var c coalescer[*testRead]
	queued, release := hold(&c)
	reads := make([]*testRead, 4)
	panicked := make([]any, len(reads))
	var wg sync.WaitGroup
	for i := range reads {
		reads[i] = &testRead{n: i}
		wg.Go(func() {
			defer func() { panicked[i] = recover() }()
			_ = c.do(context.Background(), reads[i], func(context.Context, []*testRead) { panic("broken") })
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for queued() != len(reads) {
		if time.Now().After(deadline) {
			t.Fatalf("%d reads queued, want %d", queued(), len(reads))
		}
		time.Sleep(time.Millisecond)
	}
	release()
	wg.Wait()
	leaders := 0
	for i, r := range reads {
		if panicked[i] != nil {
			leaders++
		}
		if !errors.Is(r.err, errStatementPanicked) {
			t.Errorf("read %d: error %v, want errStatementPanicked", i, r.err)
		}
	}
	if leaders != 1 {
		t.Errorf("%d goroutines panicked, want the one that ran the statement", leaders)
	}
	// The slot is free: a read runs at once.
	r := &testRead{n: 9}
	if err := c.do(context.Background(), r, func(_ context.Context, rs []*testRead) { rs[0].got = rs[0].n }); err != nil || r.got != 9 {
		t.Fatalf("read after the panic: %v, got %d", err, r.got)
	}
}

// TestCoalescerGathers checks that a read that finds its slot free takes
// into its statement the reads that queued while it yielded.
func TestCoalescerGathers(t *testing.T) {
	var c coalescer[*testRead]
	var batches []int
	run := func(_ context.Context, rs []*testRead) {
		batches = append(batches, len(rs))
		for _, r := range rs {
			r.got = r.n
		}
	}
	second := &testRead{n: 2}
	var wg sync.WaitGroup
	c.yield = func() {
		wg.Go(func() {
			if err := c.do(context.Background(), second, run); err != nil {
				t.Errorf("second read: %v", err)
			}
		})
		deadline := time.Now().Add(10 * time.Second)
		for c.queued() != 1 {
			if time.Now().After(deadline) {
				t.Errorf("%d reads queued, want 1", c.queued())
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	first := &testRead{n: 1}
	if err := c.do(context.Background(), first, run); err != nil {
		t.Fatalf("first read: %v", err)
	}
	wg.Wait()
	if first.got != 1 || second.got != 2 {
		t.Errorf("answers %d and %d, want 1 and 2", first.got, second.got)
	}
	if len(batches) != 1 || batches[0] != 2 {
		t.Errorf("statements served %v reads, want one statement of 2", batches)
	}
	if q := c.queued(); q != 0 {
		t.Errorf("%d reads still queued", q)
	}
}
