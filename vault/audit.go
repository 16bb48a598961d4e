package vault

import (
	"time"

	"github.com/coffre/coffre/audit"
)

// Audit outcomes.
const (
	OutcomeOK       = "ok"
	OutcomeDenied   = "denied"
	OutcomeNotFound = "not_found"
	OutcomeInvalid  = "invalid"
	OutcomeConflict = "conflict"
	OutcomeError    = "error"
)

// outcomeOf names the audit outcome of an operation's error.
func outcomeOf(err error) string {
	switch ErrorCode(err) {
	case "":
		return OutcomeOK
	case EFORBIDDEN, EUNAUTHORIZED:
		return OutcomeDenied
	case ENOTFOUND:
		return OutcomeNotFound
	case EINVALID, ETOOLARGE:
		return OutcomeInvalid
	case ECONFLICT:
		return OutcomeConflict
	}
	return OutcomeError
}

// AuditEntry records one operation. It never holds plaintext personal data:
// the subject is named by its pseudonymous contact id, fields by name, and
// anything personal that must be kept goes in Sealed, under the subject's
// data key, so erasing the person shreds it while the log still verifies.
//
// A store writes an entry unsequenced, in the same transaction as the
// change it records; the audit log's sequencer later gives it its sequence
// number and leaf hash (see package audit).
type AuditEntry struct {
	// Seq is the entry's leaf index in the audit log, from 0. It is set
	// on entries read back from a store, once sequenced.
	Seq       uint64
	Time      time.Time
	TenantID  string
	ActorID   string
	ActorRole string
	Action    string
	// Subject is the contact id the operation was about, or "".
	Subject string
	// Fields names the fields read or written.
	Fields    []string
	Purpose   string
	Outcome   string
	RequestID string
	// DecisionID and PolicyRevision identify the authorisation decision.
	DecisionID     string
	PolicyRevision string
	// Sealed holds personal details sealed under the subject's key, or nil.
	Sealed []byte
}

// AuditFilter selects sequenced audit entries of one tenant.
type AuditFilter struct {
	TenantID string
	// Subject, ActorID and Action, when set, must match exactly.
	Subject string
	ActorID string
	Action  string
	// Since and Until, when set, bound the entry time: Since <= Time < Until.
	Since time.Time
	Until time.Time
	// From is the first sequence number to return (a cursor).
	From uint64
	// Limit is the most entries to return, 1 to 1000.
	Limit int
}

// LogEntry returns the entry in the audit log's form.
func (e *AuditEntry) LogEntry() *audit.Entry {
	return &audit.Entry{
		Seq: e.Seq, Time: e.Time, Tenant: e.TenantID, ActorID: e.ActorID, ActorRole: e.ActorRole,
		Action: e.Action, Subject: e.Subject, Fields: e.Fields, Purpose: e.Purpose, Outcome: e.Outcome,
		RequestID: e.RequestID, DecisionID: e.DecisionID, PolicyRevision: e.PolicyRevision, Sealed: e.Sealed,
	}
}

// AuditEntryOf returns a log entry in the vault's form.
func AuditEntryOf(e *audit.Entry) *AuditEntry {
	return &AuditEntry{
		Seq: e.Seq, Time: e.Time, TenantID: e.Tenant, ActorID: e.ActorID, ActorRole: e.ActorRole,
		Action: e.Action, Subject: e.Subject, Fields: e.Fields, Purpose: e.Purpose, Outcome: e.Outcome,
		RequestID: e.RequestID, DecisionID: e.DecisionID, PolicyRevision: e.PolicyRevision, Sealed: e.Sealed,
	}
}

// NewSequencedEntryOf returns the new entry of a batch the log numbered
// (audit.Sequenced.Entry) in the vault's form, for a store to insert as it
// is: EINVALID if its time is zero, since its leaf hash covers the time
// given and the store may not stamp one.
func NewSequencedEntryOf(s audit.Sequenced) (*AuditEntry, error) {
	if s.Entry.Time.IsZero() {
		return nil, Errorf(EINVALID, "A new audit entry must have its time.")
	}
	return AuditEntryOf(s.Entry), nil
}

// Match reports whether a sequenced entry passes the filter's conditions
// (tenant, subject, actor, action, time range and cursor; not the limit).
func (f *AuditFilter) Match(e *AuditEntry) bool {
	return e.TenantID == f.TenantID && e.Seq >= f.From &&
		(f.Subject == "" || e.Subject == f.Subject) &&
		(f.ActorID == "" || e.ActorID == f.ActorID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until))
}
