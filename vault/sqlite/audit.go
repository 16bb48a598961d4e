package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffre/coffre/vault"
)

// AuditEntries returns up to limit entries of the tenant with Seq > after,
// in Seq order. It returns EINVALID for an empty tenant or a limit below 1.
func (db *DB) AuditEntries(ctx context.Context, tenantID string, after int64, limit int) ([]*vault.AuditEntry, error) {
	const op = "sqlite.AuditEntries"
	if tenantID == "" {
		return nil, invalid(op, "Tenant id is required.")
	}
	if limit < 1 {
		return nil, invalid(op, "Limit must be at least 1.")
	}
	rows, err := db.r.QueryContext(ctx, `
		SELECT seq, time, tenant_id, actor_id, actor_role, action, subject, fields,
		       purpose, outcome, request_id, decision_id, policy_revision
		FROM audit_entries
		WHERE tenant_id = ? AND seq > ?
		ORDER BY seq
		LIMIT ?`, tenantID, after, limit)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var es []*vault.AuditEntry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fail(ctx, op, err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	return es, nil
}

func scanEntry(rows *sql.Rows) (*vault.AuditEntry, error) {
	var e vault.AuditEntry
	var t int64
	var fields string
	if err := rows.Scan(&e.Seq, &t, &e.TenantID, &e.ActorID, &e.ActorRole, &e.Action, &e.Subject, &fields,
		&e.Purpose, &e.Outcome, &e.RequestID, &e.DecisionID, &e.PolicyRevision); err != nil {
		return nil, err
	}
	e.Time = fromMicro(t)
	if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
		return nil, fmt.Errorf("audit entry %d: fields: %w", e.Seq, err)
	}
	return &e, nil
}

// qAppendEntry appends an entry with Seq one past the highest.
const qAppendEntry = `
	INSERT INTO audit_entries (seq, time, tenant_id, actor_id, actor_role, action, subject, fields,
	                           purpose, outcome, request_id, decision_id, policy_revision)
	VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_entries), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	RETURNING seq`

// validEntry checks the audit entry a write must append.
func validEntry(op string, e *vault.AuditEntry) error {
	switch {
	case e == nil:
		return invalid(op, "Audit entry is required.")
	case e.TenantID == "":
		return invalid(op, "Audit entry tenant id is required.")
	case e.Action == "":
		return invalid(op, "Audit entry action is required.")
	}
	return nil
}

// appendEntry appends e in tx with Seq one past the highest, and returns
// that Seq. The single writer makes max+1 race-free, and a rolled-back
// transaction gives its Seq back, so the sequence stays dense. A zero
// e.Time is stored as now. It does not modify e: callers set e.Seq (and
// e.Time) once the transaction committed.
func (db *DB) appendEntry(ctx context.Context, tx *sql.Tx, e *vault.AuditEntry, now time.Time) (int64, error) {
	fields, err := json.Marshal(nonNilStrings(e.Fields))
	if err != nil {
		return 0, err
	}
	var seq int64
	err = tx.StmtContext(ctx, db.st.appendEntry).QueryRowContext(ctx,
		toMicro(orNow(e.Time, now)), e.TenantID, e.ActorID, e.ActorRole, e.Action, e.Subject, string(fields),
		e.Purpose, e.Outcome, e.RequestID, e.DecisionID, e.PolicyRevision).Scan(&seq)
	return seq, err
}

// appended records on e what appendEntry stored, after the commit.
func appended(e *vault.AuditEntry, seq int64, now time.Time) {
	e.Seq = seq
	e.Time = orNow(e.Time, now)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
