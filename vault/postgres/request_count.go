package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/vault"
)

const requestCountsSQL = `SELECT tenant_id, count(*), count(*) FILTER (WHERE due_at < $1)
	FROM data_requests WHERE state NOT IN ('completed', 'rejected')
	GROUP BY tenant_id ORDER BY tenant_id`

// RequestCounts implements vault.RequestStore: every tenant's open
// requests, and those due before dueBefore.
func (db *DB) RequestCounts(ctx context.Context, dueBefore time.Time) ([]vault.RequestCount, error) {
	const op = "postgres.RequestCounts"
	rows, err := db.pool.Query(ctx, requestCountsSQL, dueBefore)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer rows.Close()
	var out []vault.RequestCount
	for rows.Next() {
		var c vault.RequestCount
		if err := rows.Scan(&c.TenantID, &c.Open, &c.Due); err != nil {
			return nil, fmt.Errorf("%s: %w", op, mapError(err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	return out, nil
}
