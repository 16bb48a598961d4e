package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
)

// appendAuditSQL appends an entry with the next sequence number. Seq is
// global to the store and dense: the one-row audit_head is incremented in
// the writer's transaction, so a rolled-back write gives its number back
// and concurrent writers queue on the row lock until the holder commits.
// That serialises the commits of all writers (their WAL flushes included);
// pipelining keeps the lock held only while the server runs the rest of
// the transaction. The audit log's own design will revisit this for
// throughput, e.g. by sequencing entries after commit.
const appendAuditSQL = `WITH head AS (UPDATE audit_head SET seq = seq + 1 RETURNING seq)
INSERT INTO audit_entries (seq, time, tenant_id, actor_id, actor_role, action, subject, fields,
	purpose, outcome, request_id, decision_id, policy_revision)
VALUES ((SELECT seq FROM head), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING seq`

// stamp sets a zero e.Time to the store's time.
func (db *DB) stamp(e *vault.AuditEntry) {
	if e.Time.IsZero() {
		e.Time = db.now()
	}
}

// appendAudit queues the append of e, which must be the last statement
// before commit; its sequence number goes to *seq.
func (db *DB) appendAudit(t *tx, e *vault.AuditEntry, seq *int64) {
	fields := e.Fields
	if fields == nil {
		fields = []string{}
	}
	t.queue(appendAuditSQL, e.Time, e.TenantID, e.ActorID, e.ActorRole, e.Action, e.Subject, fields,
		e.Purpose, e.Outcome, e.RequestID, e.DecisionID, e.PolicyRevision).QueryRow(func(row pgx.Row) error {
		return row.Scan(seq)
	})
}

// AuditEntries returns up to limit entries of the tenant with Seq > after,
// in Seq order. It returns EINVALID for an empty tenant id or a limit below
// 1.
func (db *DB) AuditEntries(ctx context.Context, tenantID string, after int64, limit int) ([]*vault.AuditEntry, error) {
	if tenantID == "" || limit < 1 {
		return nil, vault.Errorf(vault.EINVALID, "Tenant id and a positive limit are required.")
	}
	rows, err := db.pool.Query(ctx, `SELECT seq, time, tenant_id, actor_id, actor_role, action, subject, fields,
			purpose, outcome, request_id, decision_id, policy_revision
		FROM audit_entries
		WHERE tenant_id = $1 AND seq > $2
		ORDER BY seq
		LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres.AuditEntries: %w", mapError(err))
	}
	defer rows.Close()
	var es []*vault.AuditEntry
	for rows.Next() {
		e := &vault.AuditEntry{}
		if err := rows.Scan(&e.Seq, &e.Time, &e.TenantID, &e.ActorID, &e.ActorRole, &e.Action, &e.Subject, &e.Fields,
			&e.Purpose, &e.Outcome, &e.RequestID, &e.DecisionID, &e.PolicyRevision); err != nil {
			return nil, fmt.Errorf("postgres.AuditEntries: %w", mapError(err))
		}
		e.Time = e.Time.UTC()
		if len(e.Fields) == 0 {
			e.Fields = nil
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.AuditEntries: %w", mapError(err))
	}
	return es, nil
}
