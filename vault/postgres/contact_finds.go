package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/coffre/coffre/vault"
)

// findSQL finds the records of one lookup token ($1 to $3, at most $4 of
// them). The unique and the shared lookups have partial indexes of their
// own: one branch each. Each record is then one probe of the primary key:
// the LIMIT keeps the planner from flattening the lateral subquery into a
// join, which on a small table, as every table starts, it plans as a scan
// of the tenant's records probing the lookups for each, and a connection
// keeps that plan once it caches it.
const findSQL = `SELECT c.*
	FROM (
		SELECT contact_id FROM contact_lookups
		WHERE tenant_id = $1 AND field = $2 AND token = $3 AND is_unique
		UNION ALL
		SELECT contact_id FROM contact_lookups
		WHERE tenant_id = $1 AND field = $2 AND token = $3 AND NOT is_unique
	) l
	CROSS JOIN LATERAL (SELECT id, ` + contactColumns + ` FROM contacts
		WHERE tenant_id = $1 AND id = l.contact_id LIMIT 1) c
	ORDER BY c.created_at, c.id
	LIMIT $4`

// findManySQL is findSQL for each row of four parallel arrays (tenant,
// field, token, limit), each record with the position of its row (from
// 1), in that order and then in findSQL's. The lateral subquery, kept
// whole by its LIMIT, runs once per row.
var findManySQL = `SELECT u.n, f.*
	FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int[]) WITH ORDINALITY AS u(tenant_id, field, token, lim, n)
	CROSS JOIN LATERAL (` + strings.NewReplacer("$1", "u.tenant_id", "$2", "u.field", "$3", "u.token", "$4", "u.lim").Replace(findSQL) + `) f
	ORDER BY u.n, f.created_at, f.id`

// contactFind is one search by a lookup token, with its answer.
type contactFind struct {
	tenantID, field string
	token           []byte
	limit           int
	recs            []*vault.Record
	err             error
}

// fail answers f with err.
func (f *contactFind) fail(err error) { f.recs, f.err = nil, err }

// find returns the records of one lookup token, coalesced with concurrent
// finds.
func (db *DB) find(ctx context.Context, tenantID, field string, token []byte, limit int) ([]*vault.Record, error) {
	f := &contactFind{tenantID: tenantID, field: field, token: token, limit: limit}
	if err := db.finds.do(ctx, f, db.runFinds); err != nil {
		return nil, err
	}
	return f.recs, f.err
}

// runFinds answers batch: one find with findSQL, more with findManySQL.
func (db *DB) runFinds(ctx context.Context, batch []*contactFind) {
	if len(batch) == 1 {
		f := batch[0]
		f.recs, f.err = db.findOne(ctx, f)
		return
	}
	db.findMany(ctx, batch)
}

// findOne runs findSQL for f.
func (db *DB) findOne(ctx context.Context, f *contactFind) ([]*vault.Record, error) {
	rows, err := db.batched.Query(ctx, findSQL, f.tenantID, f.field, f.token, f.limit)
	if err != nil {
		return nil, fmt.Errorf("postgres.FindContacts: %w", mapError(err))
	}
	defer rows.Close()
	var rs []*vault.Record
	for rows.Next() {
		r := &vault.Record{TenantID: f.tenantID}
		if err := scanRecord(rows, r, &r.ID); err != nil {
			return nil, fmt.Errorf("postgres.FindContacts: %w", mapError(err))
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.FindContacts: %w", mapError(err))
	}
	return rs, nil
}

// findMany runs findManySQL for batch and sets each find's records, or,
// if the statement fails, the same error for all.
func (db *DB) findMany(ctx context.Context, batch []*contactFind) {
	tenants, fields := make([]string, len(batch)), make([]string, len(batch))
	tokens, limits := make(byteaArray, len(batch)), make([]int32, len(batch))
	for i, f := range batch {
		tenants[i], fields[i], tokens[i], limits[i] = f.tenantID, f.field, f.token, int32(min(f.limit, math.MaxInt32))
	}
	err := db.queryBatch(ctx, len(batch), true, findManySQL, []any{tenants, fields, tokens, limits}, func(i int, r *vault.Record) {
		f := batch[i]
		r.TenantID = f.tenantID
		f.recs = append(f.recs, r)
	})
	if err != nil {
		err = fmt.Errorf("postgres.FindContacts: %w", mapError(err))
		for _, f := range batch {
			f.fail(err)
		}
	}
}
