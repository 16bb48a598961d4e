package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Concurrent creates are coalesced like reads (coalesce.go): a create that
// finds the slot taken waits, and the next batch sends every waiting
// create's statement (createSQL) at once, in one pipeline that ends with
// one Sync. PostgreSQL runs the statements of a pipeline as one implicit
// transaction: the batch costs one round trip, one commit and one flush of
// the write-ahead log instead of one each per create.
//
// Each create's outcome must stay its own. A suppressed create writes
// nothing in its own statement, which reports the field, so it does not
// fail the batch. Any error the server reports (a taken unique lookup, a
// duplicate id, a deadlock) rolls the whole transaction back; each create
// of the batch then runs again alone, in its own statement and
// transaction, and gets the outcome it would have had alone. Only an error
// the server did not report (the connection lost, the time bound reached)
// fails every create of the batch, as it would fail a lone one: whether
// the commit happened is then unknown, and running the creates again
// could answer a conflict for a record that was created.

// contactCreate is one create's statement and parameters, with its
// answer: the field a suppression check found, or the error.
type contactCreate struct {
	sql        string
	args       []any
	suppressed *string
	err        error
}

// fail answers c with err.
func (c *contactCreate) fail(err error) { c.suppressed, c.err = nil, err }

// create runs c, coalesced with concurrent creates. It returns ctx's error,
// with nothing written, if ctx ends before c's statement is sent.
func (db *DB) create(ctx context.Context, c *contactCreate) error {
	if err := db.creates.do(ctx, c, db.runCreates); err != nil {
		return err
	}
	return c.err
}

// runCreates answers batch: one create alone, more in one pipeline, and
// each alone again if the server refused the pipeline.
func (db *DB) runCreates(ctx context.Context, batch []*contactCreate) {
	if len(batch) == 1 {
		db.createOne(ctx, batch[0])
		return
	}
	err := db.createMany(ctx, batch)
	if err == nil {
		return
	}
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		for _, c := range batch {
			db.createOne(ctx, c)
		}
		return
	}
	for _, c := range batch {
		c.fail(err)
	}
}

// createOne runs c's statement alone, its own transaction.
func (db *DB) createOne(ctx context.Context, c *contactCreate) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	c.suppressed, c.err = nil, nil
	if err := db.batched.QueryRow(qctx, c.sql, c.args...).Scan(&c.suppressed); err != nil {
		c.fail(err)
	}
}

// createMany sends the statements of batch in one pipeline, one
// transaction, and answers each create once the transaction has
// committed; on an error it answers none.
func (db *DB) createMany(ctx context.Context, batch []*contactCreate) error {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	b := &pgx.Batch{}
	for _, c := range batch {
		b.Queue(c.sql, c.args...)
	}
	br := db.batched.SendBatch(qctx, b)
	suppressed := make([]*string, len(batch))
	for i := range batch {
		if err := br.QueryRow().Scan(&suppressed[i]); err != nil {
			_ = br.Close()
			return err
		}
	}
	// The transaction commits at the pipeline's end, whose outcome Close
	// reads.
	if err := br.Close(); err != nil {
		return err
	}
	for i, c := range batch {
		c.suppressed, c.err = suppressed[i], nil
	}
	return nil
}
