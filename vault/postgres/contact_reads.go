package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
)

// Reads of one record by its id (Contact) are the API's most frequent
// statement. Each costs the database a round trip's fixed work (protocol,
// executor start-up, socket wake-ups) that dwarfs the primary-key lookup
// itself, so concurrent reads are coalesced: at most maxReadBatches
// statements are in flight, and a read that arrives while they are waits
// and goes with the next statement, which reads every waiting record at
// once. A read that finds a statement slot free runs at once,
// alone, with the single-row statement: coalescing adds no wait when the
// store is not busy. There is no goroutine of its own: the read whose
// statement ends hands the waiting reads to the first of them, which runs
// their statement.

// maxReadBatches is how many coalesced read statements may be in flight
// at once; maxReadBatch bounds the records one of them reads.
const (
	maxReadBatches = 1
	maxReadBatch   = 64
)

// readTimeout bounds a coalesced read statement, which runs for several
// requests and so ignores the cancellation of any one of them.
const readTimeout = 10 * time.Second

// contactReadsSQL reads the records named by two parallel arrays of tenant
// ids and record ids, each with its position in the arrays (from 1). The
// LIMIT keeps the planner from flattening the subquery into a join, which
// on a small table, as every table starts, it would make a hash join over
// a sequential scan and keep in the connection's cached plan: this way
// each id is one probe of the primary key, whatever the table's size.
const contactReadsSQL = `SELECT u.n, c.*
	FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS u(tenant_id, id, n)
	CROSS JOIN LATERAL (SELECT ` + contactColumns + ` FROM contacts
		WHERE tenant_id = u.tenant_id AND id = u.id LIMIT 1) c`

// contactRead is one read waiting for, or leading, a statement.
type contactRead struct {
	tenantID, id string
	rec          *vault.Record
	err          error
	// batch, when set, holds the reads whose statement this read runs.
	batch []*contactRead
	// done is closed once rec or err is set, or batch is handed over.
	done chan struct{}
}

// readCoalescer queues the reads that find every statement slot taken.
type readCoalescer struct {
	mu       sync.Mutex
	inflight int
	queue    []*contactRead
}

// read returns one record, coalesced with concurrent reads.
func (db *DB) read(ctx context.Context, tenantID, id string) (*vault.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &db.reads
	req := &contactRead{tenantID: tenantID, id: id}
	if c.enter(req) {
		db.runReads(ctx, []*contactRead{req})
		return req.rec, req.err
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		if c.withdraw(req) {
			return nil, ctx.Err()
		}
		// The read is in a statement already, or leads one: wait for it,
		// which readTimeout bounds.
		<-req.done
	}
	if req.batch != nil {
		db.runReads(ctx, req.batch)
	}
	return req.rec, req.err
}

// enter takes a statement slot for req and reports true if one is free;
// otherwise it queues req, whose done channel it makes, and reports false.
func (c *readCoalescer) enter(req *contactRead) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight < maxReadBatches {
		c.inflight++
		return true
	}
	req.done = make(chan struct{})
	c.queue = append(c.queue, req)
	return false
}

// leave passes the caller's statement slot to the first read of the
// queue, with up to maxReadBatch reads to run, or frees it.
func (c *readCoalescer) leave() {
	c.mu.Lock()
	if len(c.queue) == 0 {
		c.inflight--
		c.mu.Unlock()
		return
	}
	n := min(len(c.queue), maxReadBatch)
	next := make([]*contactRead, n)
	copy(next, c.queue)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	c.mu.Unlock()
	next[0].batch = next
	close(next[0].done)
}

// withdraw takes req out of the queue, and reports whether it was there.
func (c *readCoalescer) withdraw(req *contactRead) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range c.queue {
		if q == req {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return true
		}
	}
	return false
}

// runReads reads the records of batch, whose first read is the caller's
// own, answers the others, and leaves its statement slot.
func (db *DB) runReads(ctx context.Context, batch []*contactRead) {
	if len(batch) == 1 {
		batch[0].rec, batch[0].err = db.readOne(ctx, batch[0].tenantID, batch[0].id)
	} else {
		db.readMany(ctx, batch)
	}
	for _, r := range batch[1:] {
		close(r.done)
	}
	db.reads.leave()
}

// readOne reads one record with the single-row statement.
func (db *DB) readOne(ctx context.Context, tenantID, id string) (*vault.Record, error) {
	r := &vault.Record{TenantID: tenantID, ID: id}
	row := db.pool.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err := scanRecord(row, r); err != nil {
		return nil, fmt.Errorf("postgres.Contact: %w", mapError(err))
	}
	return r, nil
}

// readMany reads the records of batch with contactReadsSQL and sets each
// read's record, or its error: ENOTFOUND for a record the statement did
// not return, the statement's error for all if it failed.
func (db *DB) readMany(ctx context.Context, batch []*contactRead) {
	tenants, ids := make([]string, len(batch)), make([]string, len(batch))
	for i, r := range batch {
		tenants[i], ids[i] = r.tenantID, r.id
	}
	fail := func(err error) {
		err = fmt.Errorf("postgres.Contact: %w", mapError(err))
		for _, r := range batch {
			r.rec, r.err = nil, err
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
	defer cancel()
	rows, err := db.pool.Query(rctx, contactReadsSQL, tenants, ids)
	if err != nil {
		fail(err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		r := &vault.Record{}
		if err := scanRecord(rows, r, &n); err != nil {
			fail(err)
			return
		}
		if n < 1 || n > int64(len(batch)) {
			fail(fmt.Errorf("read position %d of %d", n, len(batch)))
			return
		}
		req := batch[n-1]
		r.TenantID, r.ID = req.tenantID, req.id
		req.rec = r
	}
	if err := rows.Err(); err != nil {
		fail(err)
		return
	}
	for _, r := range batch {
		if r.rec == nil {
			r.err = fmt.Errorf("postgres.Contact: %w", mapError(pgx.ErrNoRows))
		}
	}
}
