package vault

import (
	"context"
	"time"
)

// Data-subject request types (GDPR Art. 15 to 21, and consent withdrawal).
const (
	RequestAccess            = "access"
	RequestPortability       = "portability"
	RequestRectification     = "rectification"
	RequestErasure           = "erasure"
	RequestRestriction       = "restriction"
	RequestObjection         = "objection"
	RequestConsentWithdrawal = "consent_withdrawal"
)

// RequestTypes lists every request type.
var RequestTypes = []string{RequestAccess, RequestPortability, RequestRectification, RequestErasure,
	RequestRestriction, RequestObjection, RequestConsentWithdrawal}

// Request states: received → verified → in_progress → completed, or
// rejected from any state before completed.
const (
	StateReceived   = "received"
	StateVerified   = "verified"
	StateInProgress = "in_progress"
	StateCompleted  = "completed"
	StateRejected   = "rejected"
)

// Channels a request arrives by: recorded by staff (a letter, an email, at
// the counter), or made by the person through the API.
const (
	ChannelStaff = "staff"
	ChannelSelf  = "self"
)

// Identity check statuses.
const (
	IdentityPending  = "pending"
	IdentityVerified = "verified"
	IdentityFailed   = "failed"
)

// Reasons are codes, never free text, so that a request record holds no
// personal data. Rejections (Art. 12(5), 17(3)) and extensions (Art. 12(3)).
var (
	RejectReasons    = []string{"identity_not_verified", "manifestly_unfounded", "excessive", "legal_retention", "no_data", "withdrawn_by_subject"}
	ExtensionReasons = []string{"complexity", "number_of_requests"}
	// IdentityMethods are how staff checked identity; "code" is the
	// one-time code sent to the email on file.
	IdentityMethods = []string{"identity_document", "in_person", "known_email", "signed_letter", "code"}
)

// DataRequest is a data-subject request as a store holds it. It names the
// subject by contact id only.
type DataRequest struct {
	ID       string `json:"id"`
	TenantID string `json:"-"`
	Type     string `json:"type"`
	// SubjectID is the contact the request is about.
	SubjectID      string    `json:"subject"`
	Channel        string    `json:"channel"`
	ReceivedAt     time.Time `json:"received_at"`
	Identity       string    `json:"identity"`
	IdentityMethod string    `json:"identity_method,omitempty"`
	State          string    `json:"state"`
	// Reason is the code of a rejection.
	Reason string `json:"reason,omitempty"`
	// DueAt is one calendar month after ReceivedAt, plus the extension.
	DueAt time.Time `json:"due_at"`
	// ExtensionMonths is 0, 1 or 2; ExtensionReason its code.
	ExtensionMonths int    `json:"extension_months"`
	ExtensionReason string `json:"extension_reason,omitempty"`
	AssigneeID      string `json:"assignee,omitempty"`
	// CreatedBy is the token id that recorded the request ("" for one the
	// person made).
	CreatedBy   string    `json:"created_by,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	Version     int64     `json:"version"`
}

// RequestFilter selects a tenant's requests.
type RequestFilter struct {
	TenantID string
	// State, when set, must match.
	State string
	// SubjectID, when set, must match.
	SubjectID string
	// Open keeps only requests not completed nor rejected.
	Open bool
	// DueBefore, when set, keeps requests due before it.
	DueBefore time.Time
	Limit     int
}

// VerificationCode is a one-time code sent to a person to check they hold
// the email on file. Only its hash is stored.
type VerificationCode struct {
	TenantID  string
	RequestID string
	// Hash is HMAC-SHA256 of the code under the tenant's keys.
	Hash      []byte
	ExpiresAt time.Time
	// Attempts counts failed tries; the code is dead after MaxAttempts.
	Attempts int
	UsedAt   time.Time
}

// Suppression is what remains of an erased person: a keyed hash of each
// of their lookup values (keyed apart from the blind index, so that no
// blind index of theirs remains), so that a later import of the same email
// or phone is flagged instead of silently re-creating them.
type Suppression struct {
	TenantID  string
	Field     string
	Token     []byte
	RequestID string
	CreatedAt time.Time
}

// RequestStore persists data-subject requests, their verification codes
// and the suppression list. Every method is scoped to one tenant.
type RequestStore interface {
	// CreateRequest stores r and appends e in one transaction. ECONFLICT
	// when the tenant has an open request (not completed nor rejected) of
	// the same type for the same subject.
	CreateRequest(ctx context.Context, r *DataRequest, e *AuditEntry) error
	// DataRequest returns one request; ENOTFOUND if absent.
	DataRequest(ctx context.Context, tenantID, id string) (*DataRequest, error)
	// DataRequests returns the requests that match f, those due first
	// (DueAt ascending, then ID).
	DataRequests(ctx context.Context, f RequestFilter) ([]*DataRequest, error)
	// UpdateRequest replaces r and appends e in one transaction. ENOTFOUND
	// if absent, ECONFLICT if the stored version is not r.Version-1.
	UpdateRequest(ctx context.Context, r *DataRequest, e *AuditEntry) error
	// PutVerificationCode stores c, replacing the request's previous code.
	PutVerificationCode(ctx context.Context, c *VerificationCode) error
	// VerificationCode returns a request's code; ENOTFOUND if none.
	VerificationCode(ctx context.Context, tenantID, requestID string) (*VerificationCode, error)
	// UpdateVerificationCode records one attempt: it stores c's Attempts
	// and UsedAt and appends e in one transaction, only while the stored
	// code is unused and its Attempts is c.Attempts-1; ECONFLICT otherwise
	// (another attempt came first). Concurrent guesses thus each use up
	// an attempt, and none is ever compared without being counted.
	UpdateVerificationCode(ctx context.Context, c *VerificationCode, e *AuditEntry) error
	// EraseSubject erases a contact as EraseContact does (record, wrapped
	// key, lookups, tokens, segment rows), adds the suppressions, updates
	// the request r (its version checked as UpdateRequest does) and
	// appends e, all in one transaction. ENOTFOUND if the contact is
	// absent.
	EraseSubject(ctx context.Context, r *DataRequest, s []*Suppression, e *AuditEntry) error
	// Suppressed reports which of the given lookup tokens of field are on
	// the tenant's suppression list.
	Suppressed(ctx context.Context, tenantID, field string, tokens [][]byte) ([][]byte, error)
	// RequestCounts counts, for every tenant with open requests (not
	// completed nor rejected), those open and those due before dueBefore,
	// by tenant id: the figures of the deadline metrics.
	RequestCounts(ctx context.Context, dueBefore time.Time) ([]RequestCount, error)
}

// RequestCount is one tenant's open requests.
type RequestCount struct {
	TenantID string
	Open     int
	// Due counts the open requests due before the time asked.
	Due int
}
