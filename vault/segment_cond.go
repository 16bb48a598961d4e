package vault

import (
	"bytes"
	"context"
	"time"
)

// CondOp is the kind of a Cond.
type CondOp int

// Condition kinds. A store sees And, Or, Not, True, False, Tokens, Flag and
// Time; Consent is resolved into Tokens by the service first.
const (
	CondTrue CondOp = iota
	CondFalse
	CondAnd
	CondOr
	CondNot
	// CondTokens holds when the record has at least one of Tokens.
	CondTokens
	// CondFlag holds when the record's flag Flag ("restricted" or
	// "objected") equals Value.
	CondFlag
	// CondTime holds when From <= the record's Column ("created_at" or
	// "updated_at") < Until; a zero bound is open.
	CondTime
	// CondConsent holds when the record's consent Consent is granted.
	CondConsent
)

// Flags and time columns a Cond may name.
const (
	FlagRestricted = "restricted"
	FlagObjected   = "objected"
	ColumnCreated  = "created_at"
	ColumnUpdated  = "updated_at"
)

// Cond is a condition on contact records that a store evaluates inside its
// query, over tokens, flags and timestamps: never a plaintext value. A
// segment query is the user's filter and the policy's residual conditions
// joined with And.
type Cond struct {
	Op       CondOp
	Children []*Cond
	Tokens   [][]byte
	Flag     string
	Value    bool
	Column   string
	From     time.Time
	Until    time.Time
	Consent  string
}

// Matches is the reference semantics of a Cond on one record, in Go: what
// the stores' SQL must agree with, and what the in-memory store runs.
// CondConsent reads the record's consent state.
func (c *Cond) Matches(r *Record) bool {
	switch c.Op {
	case CondTrue:
		return true
	case CondFalse:
		return false
	case CondAnd:
		for _, ch := range c.Children {
			if !ch.Matches(r) {
				return false
			}
		}
		return true
	case CondOr:
		for _, ch := range c.Children {
			if ch.Matches(r) {
				return true
			}
		}
		return false
	case CondNot:
		return len(c.Children) == 1 && !c.Children[0].Matches(r)
	case CondTokens:
		for _, want := range c.Tokens {
			for _, t := range r.Tokens {
				if bytes.Equal(want, t) {
					return true
				}
			}
		}
		return false
	case CondFlag:
		switch c.Flag {
		case FlagRestricted:
			return r.Flags.Restricted == c.Value
		case FlagObjected:
			return r.Flags.Objected == c.Value
		}
		return false
	case CondTime:
		var t time.Time
		switch c.Column {
		case ColumnCreated:
			t = r.CreatedAt
		case ColumnUpdated:
			t = r.UpdatedAt
		default:
			return false
		}
		return (c.From.IsZero() || !t.Before(c.From)) && (c.Until.IsZero() || t.Before(c.Until))
	case CondConsent:
		return r.Consents[c.Consent].Granted
	}
	return false
}

// SegmentStore evaluates segment conditions inside the database. Every
// method is scoped to one tenant. A Cond given to a store holds no
// CondConsent; a store answers EINVALID for a Cond it cannot express,
// never a wider result.
type SegmentStore interface {
	// CountContacts counts the tenant's records that match c.
	CountContacts(ctx context.Context, tenantID string, c *Cond) (int64, error)
	// ListContacts returns at most limit records of the tenant that match
	// c, in id order, after the id afterID ("" for the first page).
	ListContacts(ctx context.Context, tenantID string, c *Cond, afterID string, limit int) ([]*Record, error)
	// SaveSegment stores a named segment; ECONFLICT if the tenant has one
	// with that name.
	SaveSegment(ctx context.Context, s *SavedSegment, e *AuditEntry) error
	// Segment returns a saved segment; ENOTFOUND if absent.
	Segment(ctx context.Context, tenantID, name string) (*SavedSegment, error)
	// Segments lists a tenant's saved segments by name.
	Segments(ctx context.Context, tenantID string) ([]*SavedSegment, error)
	// DeleteSegment deletes a saved segment and appends e in one
	// transaction; ENOTFOUND if absent.
	DeleteSegment(ctx context.Context, tenantID, name string, e *AuditEntry) error
}

// SavedSegment is a named filter a tenant keeps to re-run. The filter is
// the client's JSON document: criteria such as districts and interests,
// never a person's data.
type SavedSegment struct {
	TenantID  string
	Name      string
	Filter    []byte
	OwnerID   string
	CreatedAt time.Time
}

// SegmentScope is what a policy lets a principal reach in a segment query
// or export: the conditions every record must meet, run by the database
// with the user's filter, and the answers allowed.
type SegmentScope struct {
	Cond *Cond
	// Answers lists "count" and "list" as allowed (an export is its own
	// action).
	Answers []string
	// MinCount is the smallest count given exactly to a principal who
	// gets aggregates only; smaller ones are reported as "< MinCount".
	MinCount int
	// Revision and DecisionID identify the policy and the evaluation.
	Revision   string
	DecisionID string
}

// SegmentScoper is implemented by authorisers that can turn their rules
// into conditions for segment queries. req.Resource describes no record.
type SegmentScoper interface {
	SegmentScope(ctx context.Context, req *AuthzRequest) (*SegmentScope, error)
}
