package vault

import "time"

// Audit outcomes.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied"
	OutcomeError  = "error"
)

// AuditEntry records one operation. It never holds plaintext personal data:
// the subject is named by its pseudonymous contact id, fields by name.
// A store writes an entry in the same transaction as the change it records.
type AuditEntry struct {
	// Seq is assigned by the store when the entry is appended.
	Seq       int64
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
}
