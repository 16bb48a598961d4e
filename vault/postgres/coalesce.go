package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/coffre/coffre/vault"
)

// The API's most frequent reads, a record by its id (Contact) and records
// by a lookup token (FindContacts), are one small statement each. Each
// costs the database a round trip's fixed work (protocol, executor
// start-up, socket wake-ups) that dwarfs the index probe itself, so
// concurrent reads of one kind are coalesced: at most coalesceSlots
// statements of the kind are in flight, and a read that arrives while they
// are waits and goes with the next statement, which serves every waiting
// read at once. A read that finds a slot free yields its processor once
// (runtime.Gosched), which lets the goroutines already runnable reach the
// queue, and its statement takes the reads queued meanwhile: under load
// requests come in bursts, as the answers of one audit batch go out
// together, and without the yield the first read of each burst went
// alone. The yield adds no timed wait, so a lone read on an idle store
// still runs at once. There is no goroutine of its own: the read whose
// statement ends hands the waiting reads to the first of them, which runs
// their statement. Creates are coalesced the same way, into one
// transaction (contact_creates.go).

// coalesceSlots is how many statements of one kind may be in flight at
// once; coalesceBatch bounds the reads one of them serves. Two slots
// served no more gets per second than one (ten alternated pairs, split
// four to six).
const (
	coalesceSlots = 1
	coalesceBatch = 64
)

// coalescedTimeout bounds a coalesced statement, which runs for several
// requests and so ignores the cancellation of any one of them.
const coalescedTimeout = 10 * time.Second

// coalescedRead is a read that carries its answer, and can be answered
// with an error.
type coalescedRead interface {
	fail(err error)
}

// coalescer queues the reads of one kind that find every slot taken. T is
// the read, which carries its answer.
type coalescer[T coalescedRead] struct {
	mu       sync.Mutex
	inflight int
	queue    []*waiting[T]
	// yield, if set, replaces runtime.Gosched before a statement that
	// found its slot free (tests).
	yield func()
}

// waiting is a read waiting for, or leading, a statement.
type waiting[T coalescedRead] struct {
	read T
	// batch, when set, holds the reads whose statement this read runs.
	batch []*waiting[T]
	// done is closed once the read is answered, or batch is handed over.
	done chan struct{}
}

// do has run answer read, alone or in a batch whose first read is the
// caller's; run must answer every read it is given. do returns ctx's
// error, unanswered, if ctx ends while the read waits in the queue.
func (c *coalescer[T]) do(ctx context.Context, read T, run func(context.Context, []T)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &waiting[T]{read: read}
	if c.enter(w) {
		if c.yield != nil {
			c.yield()
		} else {
			runtime.Gosched()
		}
		c.run(ctx, c.gather(w), run)
		return nil
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		if c.withdraw(w) {
			return ctx.Err()
		}
		// The read is in a statement already, or leads one: wait for it,
		// which coalescedTimeout bounds.
		<-w.done
	}
	if w.batch != nil {
		c.run(ctx, w.batch, run)
	}
	return nil
}

// run answers batch with run, wakes its reads but the first, the caller's,
// and leaves the statement slot. If run panics, the batch's reads fail
// and the slot is left before the panic goes on in the caller: the other
// reads must not wait for ever, nor the reads to come.
func (c *coalescer[T]) run(ctx context.Context, batch []*waiting[T], run func(context.Context, []T)) {
	reads := make([]T, len(batch))
	for i, w := range batch {
		reads[i] = w.read
	}
	defer func() {
		p := recover()
		if p != nil {
			for _, r := range reads {
				r.fail(errStatementPanicked)
			}
		}
		for _, w := range batch[1:] {
			close(w.done)
		}
		c.leave()
		if p != nil {
			panic(p)
		}
	}()
	run(ctx, reads)
}

// errStatementPanicked answers the reads, or creates, of a statement whose
// run panicked.
var errStatementPanicked = vault.Errorf(vault.EINTERNAL, "The operation failed.")

// enter takes a statement slot for w and reports true if one is free;
// otherwise it queues w, whose done channel it makes, and reports false.
func (c *coalescer[T]) enter(w *waiting[T]) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight < coalesceSlots {
		c.inflight++
		return true
	}
	w.done = make(chan struct{})
	c.queue = append(c.queue, w)
	return false
}

// leave passes the caller's statement slot to the first read of the
// queue, with up to coalesceBatch reads to serve, or frees it.
func (c *coalescer[T]) leave() {
	c.mu.Lock()
	if len(c.queue) == 0 {
		c.inflight--
		c.mu.Unlock()
		return
	}
	next := c.dequeue(nil, coalesceBatch)
	c.mu.Unlock()
	next[0].batch = next
	close(next[0].done)
}

// gather returns the batch of w, which holds a slot: w first, then up to
// coalesceBatch-1 reads that queued while it yielded.
func (c *coalescer[T]) gather(w *waiting[T]) []*waiting[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dequeue([]*waiting[T]{w}, coalesceBatch-1)
}

// dequeue moves the first reads of the queue, up to limit, to the end of
// a copy of batch, and returns it. Callers hold c.mu.
func (c *coalescer[T]) dequeue(batch []*waiting[T], limit int) []*waiting[T] {
	n := min(len(c.queue), limit)
	out := make([]*waiting[T], 0, len(batch)+n)
	out = append(append(out, batch...), c.queue[:n]...)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	return out
}

// withdraw takes w out of the queue, and reports whether it was there.
func (c *coalescer[T]) withdraw(w *waiting[T]) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range c.queue {
		if q == w {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return true
		}
	}
	return false
}

// queued returns how many reads wait.
func (c *coalescer[T]) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// queryBatch runs q, the statement of a batch of n reads, with args,
// bounded by coalescedTimeout rather than by ctx's cancellation. Each row
// is the position of its read in the batch (from 1), the record's id if
// withID, and contactColumns; queryBatch calls row with the read's index
// (from 0) and the record. A failed statement or scan, or a position
// outside the batch, is its error.
func (db *DB) queryBatch(ctx context.Context, n int, withID bool, q string, args []any, row func(i int, r *vault.Record)) error {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), coalescedTimeout)
	defer cancel()
	rows, err := db.batched.Query(qctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pos int64
		r := &vault.Record{}
		lead := []any{&pos}
		if withID {
			lead = append(lead, &r.ID)
		}
		if err := scanRecord(rows, r, lead...); err != nil {
			return err
		}
		if pos < 1 || pos > int64(n) {
			return fmt.Errorf("read position %d of %d", pos, n)
		}
		row(int(pos-1), r)
	}
	return rows.Err()
}
