package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
)

// contactReadsSQL reads the records named by two parallel arrays of tenant
// ids and record ids, each with its position in the arrays (from 1). The
// LIMIT keeps the planner from flattening the subquery into a join, which
// on a small table, as every table starts, it would make a hash join over
// a sequential scan and keep in the connection's cached plan: this way
// each id is one probe of the primary key, whatever the table's size. The
// ids travel as text and are cast in the statement: pgx cannot encode Go
// strings as a binary uuid[], and its fallback to the text format cost
// 6.2 µs a statement against 0.9 µs for two text arrays.
const contactReadsSQL = `SELECT u.n, c.*
	FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(tenant_id, id, n)
	CROSS JOIN LATERAL (SELECT ` + contactColumns + ` FROM contacts
		WHERE tenant_id = u.tenant_id AND id = u.id::uuid LIMIT 1) c`

// contactRead is one read of a record by its id, with its answer.
type contactRead struct {
	tenantID, id string
	rec          *vault.Record
	err          error
}

// fail answers r with err.
func (r *contactRead) fail(err error) { r.rec, r.err = nil, err }

// read returns one record, coalesced with concurrent reads.
func (db *DB) read(ctx context.Context, tenantID, id string) (*vault.Record, error) {
	r := &contactRead{tenantID: tenantID, id: id}
	if err := db.reads.do(ctx, r, db.runReads); err != nil {
		return nil, err
	}
	return r.rec, r.err
}

// runReads answers batch: one read with the single-row statement, more
// with contactReadsSQL.
func (db *DB) runReads(ctx context.Context, batch []*contactRead) {
	if len(batch) == 1 {
		batch[0].rec, batch[0].err = db.readOne(ctx, batch[0].tenantID, batch[0].id)
		return
	}
	db.readMany(ctx, batch)
}

// readOne reads one record with the single-row statement.
func (db *DB) readOne(ctx context.Context, tenantID, id string) (*vault.Record, error) {
	r := &vault.Record{TenantID: tenantID, ID: id}
	row := db.batched.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts WHERE tenant_id = $1 AND id = $2`, tenantID, id)
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
	err := db.queryBatch(ctx, len(batch), false, contactReadsSQL, []any{tenants, ids}, func(i int, r *vault.Record) {
		req := batch[i]
		r.TenantID, r.ID = req.tenantID, req.id
		req.rec = r
	})
	if err != nil {
		err = fmt.Errorf("postgres.Contact: %w", mapError(err))
		for _, r := range batch {
			r.fail(err)
		}
		return
	}
	for _, r := range batch {
		if r.rec == nil {
			r.err = fmt.Errorf("postgres.Contact: %w", mapError(pgx.ErrNoRows))
		}
	}
}
