package vault

import "context"

// Actions a principal can attempt.
const (
	ActionContactCreate  = "contact.create"
	ActionContactRead    = "contact.read"
	ActionContactSearch  = "contact.search"
	ActionContactUpdate  = "contact.update"
	ActionContactErase   = "contact.erase"
	ActionContactSegment = "contact.segment"
	ActionContactExport  = "contact.export"
	ActionTokenCreate    = "token.create"
	// ActionSegmentSave and ActionSegmentDelete name the audit entries of
	// saved segments; the authoriser is asked contact.segment for them.
	ActionSegmentSave   = "segment.save"
	ActionSegmentDelete = "segment.delete"
	ActionPolicyRead    = "policy.read"
	// ActionPolicyReload is not asked of the authoriser: it names the audit
	// entry written when the policy changes or fails to load.
	ActionPolicyReload = "policy.reload"
)

// Kinds of resource an action is attempted on.
const (
	KindContact = "contact"
	KindToken   = "token"
	KindAudit   = "audit"
	KindPolicy  = "policy"
)

// Field obligations of a decision.
const (
	Clear  = "clear"
	Masked = "masked"
	Hidden = "hidden"
)

// AuthzRequest is one authorisation question. Nothing in it is a decrypted
// personal value: the resource is described by its tenant, flags, consents
// and segmentation tokens.
type AuthzRequest struct {
	Principal *Principal
	Action    string
	Purpose   string
	Resource  Resource
	// Scope holds, for each field that scopes access (Field.Scope), the
	// segmentation tokens of the principal's attribute values for it, hex
	// encoded: a volunteer's districts, as tokens.
	Scope map[string][]string
}

// Resource describes what an action is attempted on.
type Resource struct {
	// Kind is one of KindContact, KindToken, KindAudit, KindPolicy.
	Kind     string
	TenantID string
	// ContactID is "" for actions on no particular contact (create,
	// search, segment). It is not given to a policy, so that decisions do
	// not depend on which contact it is beyond what the other fields say.
	ContactID string
	// Self reports whether the contact is the principal's own record (the
	// principal's "subject" attribute names it).
	Self     bool
	Consents map[string]bool
	Flags    Flags
	// Tokens holds, for each field of AuthzRequest.Scope, those of the
	// record's segmentation tokens that equal one of the principal's: a
	// non-empty list means the record is inside the principal's scope for
	// that field.
	Tokens map[string][]string
	// Request is the data-subject request the operation serves, or nil.
	Request *RequestContext
	// SetFlags is, for a contact.update that does nothing but turn on
	// some of the record's flags (FlagRestricted, FlagObjected), those
	// flags; the sealed data and the consents stay as they are. It is nil
	// for every other question, an update of fields or consents included,
	// so that a rule can allow a flag alone and nothing more.
	SetFlags []string

	// recordTokens are the stored contact's tokens, from which the service
	// computes Tokens.
	recordTokens [][]byte
}

// SubjectAttribute is the principal attribute naming the contact a
// principal is (a citizen's own record).
const SubjectAttribute = "subject"

// RequestContext describes the data-subject request an operation is done
// for.
type RequestContext struct {
	ID    string
	Type  string
	State string
	// Subject reports whether the request is about this resource.
	Subject bool
}

// Decision is the answer to an AuthzRequest.
type Decision struct {
	Allow  bool
	Reason string
	// Conceal makes a denial look like the resource does not exist (404),
	// for resources outside the principal's reach.
	Conceal bool
	// Fields maps each schema field to Clear, Masked or Hidden. A field
	// missing from the map is Hidden.
	Fields map[string]string
	// ID and Revision identify the decision and the policy that made it;
	// both go into the audit entry.
	ID       string
	Revision string
}

// Authorizer decides whether a principal may perform an action. An error
// means no decision could be made and the caller must deny. A decision may
// be shared between calls: callers must not change it.
// Implementations are safe for concurrent use.
type Authorizer interface {
	Authorize(ctx context.Context, req *AuthzRequest) (*Decision, error)
}

// PolicyInfo is what an Authorizer can tell about the policy it applies.
type PolicyInfo struct {
	Revision string       `json:"revision"`
	Source   string       `json:"source"`
	Files    []PolicyFile `json:"files"`
	LoadedAt string       `json:"loaded_at"`
	// LastError is the reason the newest reload attempt failed, or "" when
	// the policy in force is the newest one.
	LastError string `json:"last_error,omitempty"`
}

// PolicyFile is one file of a policy bundle.
type PolicyFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// PolicyDescriber is implemented by authorisers that can describe their
// policy.
type PolicyDescriber interface {
	PolicyInfo() PolicyInfo
}
