package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/coffre/coffre/vault"
)

// maxBatch bounds how many writes share a transaction.
const maxBatch = 128

// States of a write: the writer starts a queued write unless its caller
// gave up on it first.
const (
	queued int32 = iota
	started
	abandoned
)

// A write is one call's change, waiting for the writer goroutine. run
// executes it in a transaction shared with the other writes of its batch;
// own, set instead for migrations, executes it alone, outside any
// transaction.
type write struct {
	ctx   context.Context
	run   func(tx *wtx) error
	own   func(ctx context.Context, conn *sql.Conn) error
	state atomic.Int32
	done  chan error // buffered: the writer never waits for the caller
}

// wtx is what a write runs on: the writer's connection, with the write
// statements prepared on it, inside the batch's transaction.
type wtx struct {
	// ctx is the writer's context, not the caller's: a statement is never
	// interrupted half-way, which would roll back the whole batch. A
	// write that must stop early (a long load) checks its caller's
	// context between statements and returns its error.
	ctx  context.Context
	conn *sql.Conn
	st   *writeStmts
}

// exec runs a prepared statement.
func (tx *wtx) exec(s *sql.Stmt, args ...any) (sql.Result, error) {
	return s.ExecContext(tx.ctx, args...)
}

// queryRow runs a prepared query.
func (tx *wtx) queryRow(s *sql.Stmt, args ...any) *sql.Row {
	return s.QueryRowContext(tx.ctx, args...)
}

// execSQL runs a statement that is not prepared: one of the rare writes.
func (tx *wtx) execSQL(query string, args ...any) (sql.Result, error) {
	return tx.conn.ExecContext(tx.ctx, query, args...)
}

// QueryRowContext makes tx a querier, on the writer's context.
func (tx *wtx) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	return tx.conn.QueryRowContext(tx.ctx, query, args...)
}

// QueryContext makes tx a querier, on the writer's context.
func (tx *wtx) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.conn.QueryContext(tx.ctx, query, args...)
}

// errClosed is the error of a write submitted to a closed store.
var errClosed = vault.Errorf(vault.EUNAVAILABLE, "The store is closed.")

// write runs fn as one all-or-nothing change and returns when it is
// durable or failed. It returns ctx's error if ctx ends before the writer
// starts fn; once started, fn's outcome is reported whatever ctx does,
// so that an error never hides a committed write.
func (db *DB) write(ctx context.Context, fn func(tx *wtx) error) error {
	return db.submit(ctx, &write{ctx: ctx, run: fn, done: make(chan error, 1)})
}

// exclusive runs fn on the writer's connection between batches, with no
// transaction open: fn manages its own.
func (db *DB) exclusive(ctx context.Context, fn func(ctx context.Context, conn *sql.Conn) error) error {
	return db.submit(ctx, &write{ctx: ctx, own: fn, done: make(chan error, 1)})
}

// submit hands w to the writer goroutine and waits for its outcome, or
// for ctx to end while w is still queued.
func (db *DB) submit(ctx context.Context, w *write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case db.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return errClosed
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		if w.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		// Started: the batch decides, and soon.
		return <-w.done
	}
}

// writeLoop is the writer goroutine: it takes the writes waiting when it
// is free, runs them in one transaction and commits once for all, so
// that concurrent writers share the cost of a synchronous commit. It
// returns when the store closes, after the batch in hand.
func (db *DB) writeLoop() {
	batch := make([]*write, 0, maxBatch)
	var next *write
	for {
		if next == nil {
			select {
			case next = <-db.writes:
			case <-db.closing:
				return
			}
		}
		if next.own != nil {
			db.runOwn(next)
			next = nil
			continue
		}
		batch = append(batch[:0], next)
		next = nil
	gather:
		for len(batch) < maxBatch {
			select {
			case w := <-db.writes:
				if w.own != nil {
					next = w
					break gather
				}
				batch = append(batch, w)
			default:
				break gather
			}
		}
		db.runBatch(batch)
		clear(batch)
	}
}

// claim marks w started and reports whether its caller still wants it;
// if not, it answers w.
func claim(w *write) bool {
	if !w.state.CompareAndSwap(queued, started) {
		return false // abandoned: the caller returned ctx's error
	}
	if err := w.ctx.Err(); err != nil {
		w.done <- err
		return false
	}
	return true
}

// runOwn runs an exclusive write, with its caller's context: it holds the
// writer alone, so stopping it half-way harms no other write.
func (db *DB) runOwn(w *write) {
	if claim(w) {
		w.done <- w.own(w.ctx, db.wconn)
	}
}

// runBatch runs the writes of a batch in one transaction, each in its own
// savepoint: a failed write is rolled back alone. Every write is answered
// once the transaction has ended, a failed one too: its failure may come
// from what an earlier write of the batch did (a unique value it took), so
// its caller must not see the store before that write is committed. If the
// commit fails, every write of the batch is told so.
func (db *DB) runBatch(batch []*write) {
	live := batch[:0]
	for _, w := range batch {
		if claim(w) {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return
	}
	st, tx := &db.wst, &wtx{ctx: db.wctx, conn: db.wconn, st: &db.wst}
	if _, err := tx.exec(st.begin); err != nil {
		answer(live, fmt.Errorf("begin: %w", err))
		return
	}
	if len(live) == 1 {
		// Alone: no savepoint needed.
		w := live[0]
		if err := w.run(tx); err != nil {
			db.rollback()
			w.done <- err
			return
		}
		if _, err := tx.exec(st.commit); err != nil {
			db.rollback()
			w.done <- fmt.Errorf("commit: %w", err)
			return
		}
		w.done <- nil
		return
	}
	errs := make([]error, len(live))
	committed := 0
	for i, w := range live {
		if _, err := tx.exec(st.savepoint); err != nil {
			db.rollback()
			answer(live, fmt.Errorf("savepoint: %w", err))
			return
		}
		err := w.run(tx)
		if err == nil {
			if _, rerr := tx.exec(st.release); rerr != nil {
				err = fmt.Errorf("release savepoint: %w", rerr)
			}
		}
		if err == nil {
			committed++
			continue
		}
		if _, rerr := tx.exec(st.rollbackTo); rerr != nil {
			// SQLite rolled back the whole transaction (I/O error, full
			// disk): the batch is lost.
			db.rollback()
			answer(live, fmt.Errorf("batch rolled back: %w", errors.Join(err, rerr)))
			return
		}
		tx.exec(st.release) // the savepoint, now empty
		errs[i] = err
	}
	if committed == 0 {
		db.rollback()
	} else if _, err := tx.exec(st.commit); err != nil {
		db.rollback()
		answer(live, fmt.Errorf("commit: %w", err))
		return
	}
	for i, w := range live {
		w.done <- errs[i]
	}
}

// rollback ends the writer's transaction, if SQLite has not already.
func (db *DB) rollback() {
	db.wst.rollback.ExecContext(db.wctx)
}

// answer tells each of ws the outcome err.
func answer(ws []*write, err error) {
	for _, w := range ws {
		w.done <- err
	}
}
