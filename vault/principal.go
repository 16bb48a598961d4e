package vault

import (
	"context"
	"time"
)

// Roles shipped with Coffre.
const (
	RoleAdmin     = "admin"
	RoleDPO       = "dpo"
	RoleAgent     = "agent"
	RoleVolunteer = "volunteer"
	RoleCitizen   = "citizen"
)

// Roles lists every shipped role.
var Roles = []string{RoleAdmin, RoleDPO, RoleAgent, RoleVolunteer, RoleCitizen}

// Principal is the authenticated caller of an operation.
type Principal struct {
	// ID is the id of the API token the caller presented.
	ID         string
	TenantID   string
	Role       string
	Attributes map[string][]string
	Purposes   []string
}

// APIToken is a bearer token as a store holds it: the secret itself is
// never stored, only its SHA-256 hash.
type APIToken struct {
	ID         string
	TenantID   string
	Role       string
	Attributes map[string][]string
	Purposes   []string
	// Hash is SHA-256 of the token's secret part.
	Hash      []byte
	CreatedAt time.Time
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time
	// RevokedAt is zero for a live token.
	RevokedAt time.Time
}

// TokenSpec describes a token to create.
type TokenSpec struct {
	TenantID   string
	Role       string
	Attributes map[string][]string
	Purposes   []string
	// TTL is zero for a token that does not expire.
	TTL time.Duration
}

// Principal returns the principal a token authenticates.
func (t *APIToken) Principal() *Principal {
	return &Principal{ID: t.ID, TenantID: t.TenantID, Role: t.Role, Attributes: t.Attributes, Purposes: t.Purposes}
}

type ctxKey int

const requestIDKey ctxKey = iota

// WithRequestID returns a context carrying the id of the request being
// served, so that audit entries can name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}
