package sqlite

import (
	"context"
	"time"

	"github.com/coffre/coffre/vault"
)

const qRequestCounts = `SELECT tenant_id, count(*), coalesce(sum(due_at < ?), 0)
	FROM data_requests WHERE state NOT IN ('completed', 'rejected')
	GROUP BY tenant_id ORDER BY tenant_id`

// RequestCounts implements vault.RequestStore: every tenant's open
// requests, and those due before dueBefore.
func (db *DB) RequestCounts(ctx context.Context, dueBefore time.Time) ([]vault.RequestCount, error) {
	const op = "sqlite.RequestCounts"
	rows, err := db.r.QueryContext(ctx, qRequestCounts, ceilMicro(dueBefore))
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var out []vault.RequestCount
	for rows.Next() {
		var c vault.RequestCount
		if err := rows.Scan(&c.TenantID, &c.Open, &c.Due); err != nil {
			return nil, fail(ctx, op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	return out, nil
}
