package vault

import "context"

// Actions a principal can attempt.
const (
	ActionContactCreate = "contact.create"
	ActionContactRead   = "contact.read"
	ActionContactSearch = "contact.search"
	ActionContactUpdate = "contact.update"
	ActionContactErase  = "contact.erase"
	ActionTokenCreate   = "token.create"
)

// Field obligations of a decision.
const (
	Clear  = "clear"
	Masked = "masked"
	Hidden = "hidden"
)

// AuthzRequest is one authorisation question. Resource metadata never holds
// decrypted values.
type AuthzRequest struct {
	Principal *Principal
	Action    string
	Purpose   string
	Resource  Resource
}

// Resource describes what an action is attempted on.
type Resource struct {
	TenantID string
	// ContactID is "" for actions on no particular contact (create, search).
	ContactID string
	Consents  map[string]bool
	Flags     Flags
}

// Decision is the answer to an AuthzRequest.
type Decision struct {
	Allow  bool
	Reason string
	// Fields maps each schema field to Clear, Masked or Hidden. A field
	// missing from the map is Hidden.
	Fields map[string]string
	// ID and Revision identify the decision and the policy that made it;
	// both go into the audit entry.
	ID       string
	Revision string
}

// Authorizer decides whether a principal may perform an action. An error
// means no decision could be made and the caller must deny.
// Implementations are safe for concurrent use.
type Authorizer interface {
	Authorize(ctx context.Context, req *AuthzRequest) (*Decision, error)
}
