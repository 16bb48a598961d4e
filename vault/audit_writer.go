package vault

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/audit"
)

// auditWriter appends the audit entries that record no data change (reads,
// searches, denied and failed attempts) by group commit: concurrent callers
// share one store transaction, and each returns only once its own entry is
// durable, so an access is never answered before it is on record. While one
// batch commits, the next one gathers, so batches grow with load and a
// single writer keeps up with many readers (SQLite has one writer anyway;
// on PostgreSQL it turns a commit per read into a commit per batch).
//
// Entries come in bursts: a coalesced store read answers several requests
// at once, and their entries follow each other within microseconds. A
// writer that finds an entry waiting yields its processor once
// (runtime.Gosched) before it gathers, so that the goroutines of the burst
// already runnable add theirs to the same batch; without the yield it
// took the first one or two and left the rest a whole commit behind. On
// PostgreSQL at c16 batches grew from 5.6 to 6.5 entries. The yield adds
// no timed wait: an entry alone on an idle server goes at once.
//
// Once the service has an audit log that can append (audit.Log.Append),
// a batch goes to the log rather than to the store, unless the store
// prefers pending appends (PendingAppender): the log numbers the entries
// and stores them sequenced, with the new tree head, in one statement, so
// an answered read is already in the tree and the store writes its entry
// once instead of inserting it pending and numbering it later. Either
// way the entry is durable before the read is answered.
type auditWriter struct {
	store Store
	// log, when set, takes the batches.
	log atomic.Pointer[entryAppender]

	// yield, if set, replaces runtime.Gosched before a batch is gathered
	// (tests).
	yield func()

	once    sync.Once
	reqs    chan *auditReq
	stop    chan struct{}
	stopped sync.WaitGroup
}

// auditBatchMax bounds the entries of one append transaction.
const auditBatchMax = 256

// auditWriters is the number of batches that may commit at once. One: a
// second writer takes the first entry that arrives while the first one
// commits and commits it almost alone, so batches stay at two or three
// entries and the database pays a commit, a WAL flush and a disk sync for
// each. With one writer everything that arrives during a commit goes into
// the next, which costs a reader at most the rest of the commit in flight
// (a fraction of a millisecond) and divides the commits by the batch size.
const auditWriters = 1

// auditAppendTimeout bounds one append transaction.
const auditAppendTimeout = 10 * time.Second

type auditReq struct {
	entries []*AuditEntry
	done    chan error
}

var errAuditClosed = errors.New("vault: audit writer closed")

// append blocks until entries are durable in the store, or fails.
func (w *auditWriter) append(ctx context.Context, entries ...*AuditEntry) error {
	w.once.Do(w.start)
	r := &auditReq{entries: entries, done: make(chan error, 1)}
	select {
	case w.reqs <- r:
	case <-w.stop:
		return errAuditClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over the entry may be written whatever ctx does, so
	// wait for the outcome: the store call is bounded by its own timeout.
	return <-r.done
}

func (w *auditWriter) start() {
	w.reqs = make(chan *auditReq)
	w.stop = make(chan struct{})
	for i := 0; i < auditWriters; i++ {
		w.stopped.Add(1)
		go w.run()
	}
}

func (w *auditWriter) run() {
	defer w.stopped.Done()
	var batch []*auditReq
	var entries []*AuditEntry
	for {
		select {
		case r := <-w.reqs:
			batch, entries = append(batch[:0], r), append(entries[:0], r.entries...)
		case <-w.stop:
			return
		}
		if w.yield != nil {
			w.yield()
		} else {
			runtime.Gosched()
		}
	gather:
		for len(entries) < auditBatchMax {
			select {
			case r := <-w.reqs:
				batch, entries = append(batch, r), append(entries, r.entries...)
			default:
				break gather
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), auditAppendTimeout)
		err := w.write(ctx, entries)
		cancel()
		if err != nil {
			err = fmt.Errorf("vault.auditWriter: %w", err)
		}
		for _, r := range batch {
			r.done <- err
		}
		clear(batch)
		clear(entries)
	}
}

// entryAppender is the part of the audit log that appends entries that
// record no change at once, sequenced (audit.Log.Append).
type entryAppender interface {
	Append(ctx context.Context, entries ...*audit.Entry) error
}

// appendTo makes the writer hand its batches to l, or to the store when
// l is nil.
func (w *auditWriter) appendTo(l entryAppender) {
	if l == nil {
		w.log.Store(nil)
		return
	}
	w.log.Store(&l)
}

// write stores one batch, through the log if there is one.
func (w *auditWriter) write(ctx context.Context, entries []*AuditEntry) error {
	if l := w.log.Load(); l != nil {
		les := make([]*audit.Entry, len(entries))
		for i, e := range entries {
			if e == nil {
				return Errorf(EINVALID, "An audit entry is required.")
			}
			les[i] = e.LogEntry()
		}
		return (*l).Append(ctx, les...)
	}
	return w.store.AppendAudit(ctx, entries)
}

// close stops the writer; appends in flight complete first.
func (w *auditWriter) close() {
	w.once.Do(func() { w.stop = make(chan struct{}) })
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.stopped.Wait()
}
