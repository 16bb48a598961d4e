package http

import (
	"net/http"
	"time"

	"github.com/coffre/coffre/vault"
)

// maxTokenTTL bounds a token's lifetime, so that ttl_seconds cannot
// overflow a time.Duration.
const maxTokenTTL = 10 * 366 * 24 * time.Hour

// tokenRequest is the body of POST /v1/tokens. The tenant is always the
// caller's.
type tokenRequest struct {
	Role       string              `json:"role"`
	Attributes map[string][]string `json:"attributes"`
	Purposes   []string            `json:"purposes"`
	// TTLSeconds is 0 for a token that does not expire.
	TTLSeconds int64 `json:"ttl_seconds"`
}

// tokenCreated is the answer of POST /v1/tokens. Token is the bearer
// token: it is shown this once and cannot be read again.
type tokenCreated struct {
	Token      string              `json:"token"`
	ID         string              `json:"id"`
	TenantID   string              `json:"tenant_id"`
	Role       string              `json:"role"`
	Attributes map[string][]string `json:"attributes"`
	Purposes   []string            `json:"purposes"`
	CreatedAt  time.Time           `json:"created_at"`
	ExpiresAt  *time.Time          `json:"expires_at,omitempty"`
}

// createToken serves POST /v1/tokens: 201 with the new token. The
// service's authoriser decides who may create tokens (admins only with
// the shipped roles).
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if !s.readInto(w, r, &req) {
		return
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int64(maxTokenTTL/time.Second) {
		s.writeError(w, r, &vault.Error{Code: vault.EINVALID, Message: "Invalid token request.",
			Fields: []vault.FieldError{{Field: "ttl_seconds", Reason: "must be between 0 (no expiry) and 316224000 (ten years)"}}})
		return
	}
	ctx := r.Context()
	secret, t, err := s.svc.CreateToken(ctx, principalFrom(ctx), vault.TokenSpec{
		Role:       req.Role,
		Attributes: req.Attributes,
		Purposes:   req.Purposes,
		TTL:        time.Duration(req.TTLSeconds) * time.Second,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := tokenCreated{Token: secret, ID: t.ID, TenantID: t.TenantID, Role: t.Role,
		Attributes: t.Attributes, Purposes: t.Purposes, CreatedAt: t.CreatedAt}
	if out.Attributes == nil {
		out.Attributes = map[string][]string{}
	}
	if out.Purposes == nil {
		out.Purposes = []string{}
	}
	if !t.ExpiresAt.IsZero() {
		out.ExpiresAt = &t.ExpiresAt
	}
	s.writeJSON(w, r, http.StatusCreated, out)
}
