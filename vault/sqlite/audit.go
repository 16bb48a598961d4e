package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// entryColumns are the columns of audit_entries that a write sets, in the
// order of entryArgs and entryRow.dest.
const entryColumns = `time, tenant_id, actor_id, actor_role, action, subject, fields, purpose, outcome,
	request_id, decision_id, policy_revision, sealed`

// qAppendEntry appends one unsequenced entry: seq and leaf_hash stay NULL
// until the sequencer sets them, and the row enters only the table and the
// index of pending entries.
const qAppendEntry = `INSERT INTO audit_entries (` + entryColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// maxAuditLimit is the largest AuditFilter.Limit AuditEntries accepts.
const maxAuditLimit = 1000

// checkEntry stamps a zero e.Time with now, in UTC to the microsecond as
// it is stored, and returns EINVALID unless e can enter the log: an entry the sequencer could not encode (a string
// that is not UTF-8, a time outside the years 1970 to 9999, an oversized
// entry) would stop the log at it, so it fails the write instead.
func checkEntry(op string, e *vault.AuditEntry, now time.Time) error {
	switch {
	case e == nil:
		return invalid(op, "Audit entry is required.")
	case e.TenantID == "":
		return invalid(op, "Audit entry tenant id is required.")
	case e.Action == "":
		return invalid(op, "Audit entry action is required.")
	}
	if e.Time.IsZero() {
		e.Time = storedTime(now)
	}
	if _, err := e.LogEntry().Encode(); err != nil {
		return fmt.Errorf("%s: %w: %w", op, vault.Errorf(vault.EINVALID, "Invalid audit entry."), err)
	}
	return nil
}

// appendEntry appends e, unsequenced, in tx. e must have passed
// checkEntry.
func (db *DB) appendEntry(tx *wtx, e *vault.AuditEntry) error {
	if db.noAudit {
		return nil
	}
	return appendEntryTo(tx, e)
}

// appendEntryTo appends e in tx, audited or not.
func appendEntryTo(tx *wtx, e *vault.AuditEntry) error {
	args, err := entryArgs(e)
	if err != nil {
		return err
	}
	_, err = tx.exec(tx.st.appendEntry, args...)
	return err
}

// entryArgs returns the values of e for entryColumns.
func entryArgs(e *vault.AuditEntry) ([]any, error) {
	fields, err := json.Marshal(nonNilStrings(e.Fields))
	if err != nil {
		return nil, err
	}
	return []any{toMicro(e.Time), e.TenantID, e.ActorID, e.ActorRole, e.Action, e.Subject, string(fields),
		e.Purpose, e.Outcome, e.RequestID, e.DecisionID, e.PolicyRevision, nonNil(e.Sealed)}, nil
}

// AppendAudit appends unsequenced entries in one write transaction, all or
// none. Zero times are set to the store's time. An empty batch appends
// nothing. It returns EINVALID, before writing anything, for a nil entry
// or one without tenant or action, or one the log could not encode. It is
// safe for concurrent use; it queues for the single writer like every
// write.
func (db *DB) AppendAudit(ctx context.Context, entries []*vault.AuditEntry) error {
	const op = "sqlite.AppendAudit"
	if len(entries) == 0 {
		return nil
	}
	now := db.now()
	for i, e := range entries {
		if err := checkEntry(fmt.Sprintf("%s: entry %d", op, i), e, now); err != nil {
			return err
		}
	}
	err := db.write(ctx, func(tx *wtx) error {
		for i, e := range entries {
			if err := appendEntryTo(tx, e); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// AuditEntries returns up to f.Limit sequenced entries of f.TenantID with
// Seq >= f.From that match the filter, in Seq order; unsequenced entries
// are never returned. Each filter field that is set narrows the result:
// Subject, ActorID and Action by equality (each has an index with the
// tenant and seq), Since <= Time < Until. It returns EINVALID for a filter
// without tenant or with a limit outside 1 to 1000. It is safe for
// concurrent use.
func (db *DB) AuditEntries(ctx context.Context, f vault.AuditFilter) ([]*vault.AuditEntry, error) {
	const op = "sqlite.AuditEntries"
	switch {
	case f.TenantID == "":
		return nil, invalid(op, "Tenant id is required.")
	case f.Limit < 1 || f.Limit > maxAuditLimit:
		return nil, invalid(op, "Limit must be between 1 and %d.", maxAuditLimit)
	}
	var q strings.Builder
	q.WriteString(`SELECT seq, ` + entryColumns + ` FROM audit_entries WHERE tenant_id = ? AND seq >= ?`)
	args := []any{f.TenantID, int64Of(f.From)}
	and := func(cond string, v any) {
		q.WriteString(" AND " + cond + " ?")
		args = append(args, v)
	}
	if f.Subject != "" {
		and("subject =", f.Subject)
	}
	if f.ActorID != "" {
		and("actor_id =", f.ActorID)
	}
	if f.Action != "" {
		and("action =", f.Action)
	}
	if !f.Since.IsZero() {
		and("time >=", toMicro(f.Since))
	}
	if !f.Until.IsZero() {
		and("time <", toMicro(f.Until))
	}
	q.WriteString(" ORDER BY seq LIMIT ?")
	args = append(args, f.Limit)

	rows, err := db.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var es []*vault.AuditEntry
	for rows.Next() {
		var r entryRow
		if err := rows.Scan(append([]any{&r.seq}, r.dest()...)...); err != nil {
			return nil, fail(ctx, op, err)
		}
		e, err := r.audit()
		if err != nil {
			return nil, fail(ctx, op, err)
		}
		es = append(es, vault.AuditEntryOf(e))
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	return es, nil
}

// PendingAudit returns up to limit entries that are committed but not yet
// sequenced, by row id: the order they were committed in, as the store has
// a single writer, so a later call never returns an entry with a smaller
// id than an earlier one did. Entry.Seq is zero. It returns EINVALID for a
// limit below 1. It is safe for concurrent use.
func (db *DB) PendingAudit(ctx context.Context, limit int) ([]audit.Pending, error) {
	const op = "sqlite.PendingAudit"
	if limit < 1 {
		return nil, invalid(op, "Limit must be at least 1.")
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, `+entryColumns+`
		FROM audit_entries WHERE seq IS NULL ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var ps []audit.Pending
	for rows.Next() {
		var id int64
		var r entryRow
		if err := rows.Scan(append([]any{&id}, r.dest()...)...); err != nil {
			return nil, fail(ctx, op, err)
		}
		e, err := r.audit()
		if err != nil {
			return nil, fail(ctx, op, fmt.Errorf("entry row %d: %w", id, err))
		}
		ps = append(ps, audit.Pending{ID: id, Entry: e})
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	return ps, nil
}

// SequencedEntries returns the sequenced entries with start <= Seq < end,
// in Seq order, and their stored leaf hashes; none if start >= end. It
// returns what is stored: a missing entry is a gap, for the verifier to
// name. It reads the whole range in one snapshot; callers page through
// long logs. It is safe for concurrent use.
func (db *DB) SequencedEntries(ctx context.Context, start, end uint64) ([]*audit.Entry, [][]byte, error) {
	const op = "sqlite.SequencedEntries"
	if start >= end {
		return nil, nil, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT seq, leaf_hash, `+entryColumns+`
		FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq`, int64Of(start), int64Of(end))
	if err != nil {
		return nil, nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var es []*audit.Entry
	var leaves [][]byte
	for rows.Next() {
		var r entryRow
		var leaf []byte
		if err := rows.Scan(append([]any{&r.seq, &leaf}, r.dest()...)...); err != nil {
			return nil, nil, fail(ctx, op, err)
		}
		e, err := r.audit()
		if err != nil {
			return nil, nil, fail(ctx, op, err)
		}
		es = append(es, e)
		leaves = append(leaves, leaf)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fail(ctx, op, err)
	}
	return es, leaves, nil
}

// entryRow is an entry as scanned from audit_entries.
type entryRow struct {
	seq                                                int64
	time                                               int64
	tenant, actorID, actorRole, action, subject        string
	fields                                             string
	purpose, outcome, requestID, decisionID, policyRev string
	sealed                                             []byte
}

// dest returns the scan destinations of entryColumns.
func (r *entryRow) dest() []any {
	return []any{&r.time, &r.tenant, &r.actorID, &r.actorRole, &r.action, &r.subject, &r.fields,
		&r.purpose, &r.outcome, &r.requestID, &r.decisionID, &r.policyRev, &r.sealed}
}

// audit returns the row as an audit.Entry: empty fields and sealed as nil.
func (r *entryRow) audit() (*audit.Entry, error) {
	e := &audit.Entry{Seq: uint64(r.seq), Time: fromMicro(r.time), Tenant: r.tenant, ActorID: r.actorID,
		ActorRole: r.actorRole, Action: r.action, Subject: r.subject, Purpose: r.purpose, Outcome: r.outcome,
		RequestID: r.requestID, DecisionID: r.decisionID, PolicyRevision: r.policyRev, Sealed: r.sealed}
	if r.fields != "[]" {
		if err := json.Unmarshal([]byte(r.fields), &e.Fields); err != nil {
			return nil, fmt.Errorf("audit entry fields: %w", err)
		}
	}
	if len(e.Fields) == 0 {
		e.Fields = nil
	}
	if len(e.Sealed) == 0 {
		e.Sealed = nil
	}
	return e, nil
}

// storedTime returns t as the store keeps it: in UTC, to the microsecond.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// int64Of returns u as an INTEGER, saturating: sequence numbers and sizes
// never reach 2^63, so a larger bound means "no bound".
func int64Of(u uint64) int64 {
	if u > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(u)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
