package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// A bearer token reads coffre_<id>_<secret>: a 16-character id that names
// the stored token and a 43-character secret (32 random bytes, base64url).
// Only SHA-256 of the secret is stored; a presented secret is compared with
// it in constant time.
const (
	tokenPrefix    = "coffre_"
	tokenIDLen     = 16
	tokenSecretLen = 43
)

// OperatorID and OperatorRole name the local operator (the coffre command
// run on the server) as an audit actor.
const (
	OperatorID   = "operator"
	OperatorRole = "operator"
)

var (
	tokenIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	attrNameRE      = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// IssueToken creates a token for the local operator (the CLI): it creates
// the tenant first if it does not exist. It returns the bearer token, shown
// once and never stored. EINVALID for a bad spec. It must not be reachable
// from the network; the HTTP API uses CreateToken.
func (s *Service) IssueToken(ctx context.Context, spec TokenSpec) (string, *APIToken, error) {
	if err := s.EnsureTenant(ctx, spec.TenantID); err != nil {
		return "", nil, err
	}
	op := &Principal{ID: OperatorID, TenantID: spec.TenantID, Role: OperatorRole}
	return s.createToken(ctx, op, spec, nil)
}

// CreateToken creates a token in p's tenant if policy lets p do so.
// EFORBIDDEN, EINVALID.
func (s *Service) CreateToken(ctx context.Context, p *Principal, spec TokenSpec) (_ string, _ *APIToken, err error) {
	if p == nil {
		return "", nil, Errorf(EUNAUTHORIZED, "Authentication required.")
	}
	defer s.recordFailure(ctx, p, ActionTokenCreate, "", "", &err)
	spec.TenantID = p.TenantID
	d, err := s.authorize(ctx, p, ActionTokenCreate, "", Resource{Kind: KindToken, TenantID: p.TenantID})
	if err != nil {
		return "", nil, err
	}
	return s.createToken(ctx, p, spec, d)
}

func (s *Service) createToken(ctx context.Context, p *Principal, spec TokenSpec, d *Decision) (string, *APIToken, error) {
	if err := s.checkSpec(&spec); err != nil {
		return "", nil, err
	}
	var idb [10]byte
	var secret [32]byte
	rand.Read(idb[:])
	rand.Read(secret[:])
	id := tokenIDEncoding.EncodeToString(idb[:])
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	h := sha256.Sum256([]byte(sec))
	now := s.now()
	t := &APIToken{ID: id, TenantID: spec.TenantID, Role: spec.Role, Attributes: spec.Attributes,
		Purposes: spec.Purposes, Hash: h[:], CreatedAt: now}
	if spec.TTL > 0 {
		t.ExpiresAt = now.Add(spec.TTL)
	}
	e := s.entry(ctx, p, ActionTokenCreate, "", "", nil, d)
	if err := s.store.CreateToken(ctx, t, e); err != nil {
		return "", nil, fmt.Errorf("vault.CreateToken: %w", err)
	}
	return tokenPrefix + id + "_" + sec, t, nil
}

func (s *Service) checkSpec(spec *TokenSpec) error {
	if !ValidTenantID(spec.TenantID) {
		return Errorf(EINVALID, "Invalid tenant id.")
	}
	if !slices.Contains(Roles, spec.Role) {
		return Errorf(EINVALID, "Unknown role; roles are %s.", strings.Join(Roles, ", "))
	}
	if spec.TTL < 0 {
		return Errorf(EINVALID, "A token's lifetime must be positive.")
	}
	for k, vs := range spec.Attributes {
		if !attrNameRE.MatchString(k) {
			return Errorf(EINVALID, "Attribute names are lower-case identifiers of at most 32 characters.")
		}
		if len(vs) == 0 || len(vs) > 100 {
			return Errorf(EINVALID, "An attribute has 1 to 100 values.")
		}
		for _, v := range vs {
			if v == "" || len(v) > 100 {
				return Errorf(EINVALID, "Attribute values are 1 to 100 characters.")
			}
		}
	}
	for _, pu := range spec.Purposes {
		if !slices.Contains(s.schema.Purposes, pu) {
			return Errorf(EINVALID, "Unknown purpose; the schema's purposes are %s.", strings.Join(s.schema.Purposes, ", "))
		}
	}
	return nil
}

// Authenticate returns the principal a bearer token stands for.
// EUNAUTHORIZED for a malformed, unknown, forged, expired or revoked token,
// with one message for all of them.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	denied := Errorf(EUNAUTHORIZED, "Invalid or expired token.")
	if len(bearer) != len(tokenPrefix)+tokenIDLen+1+tokenSecretLen || !strings.HasPrefix(bearer, tokenPrefix) || bearer[len(tokenPrefix)+tokenIDLen] != '_' {
		return nil, denied
	}
	id := bearer[len(tokenPrefix) : len(tokenPrefix)+tokenIDLen]
	sec := bearer[len(tokenPrefix)+tokenIDLen+1:]
	h := sha256.Sum256([]byte(sec))
	now := s.Now()
	if p, ok := s.tokens.get(id, h, now); ok {
		return p, nil
	}
	t, err := s.store.Token(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, denied
	} else if err != nil {
		return nil, fmt.Errorf("vault.Authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(h[:], t.Hash) != 1 || !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) {
		return nil, denied
	}
	p := t.Principal()
	s.tokens.put(id, h, p, t.ExpiresAt, now)
	return p, nil
}

// tokenCacheTTL bounds how long a verified token is trusted without a
// store read: a revocation takes effect within this time.
const tokenCacheTTL = 10 * time.Second

// tokenCacheMax bounds the cache; it is emptied when full.
const tokenCacheMax = 10000

// tokenCache remembers recently verified tokens so that a busy client does
// not cost a store read per request.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]cachedToken
}

type cachedToken struct {
	hash  [32]byte
	p     *Principal
	until time.Time
}

func (c *tokenCache) get(id string, h [32]byte, now time.Time) (*Principal, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) || subtle.ConstantTimeCompare(e.hash[:], h[:]) != 1 {
		return nil, false
	}
	cp := *e.p
	cp.Attributes = maps.Clone(e.p.Attributes)
	cp.Purposes = slices.Clone(e.p.Purposes)
	return &cp, true
}

func (c *tokenCache) put(id string, h [32]byte, p *Principal, expires, now time.Time) {
	until := now.Add(tokenCacheTTL)
	if !expires.IsZero() && expires.Before(until) {
		until = expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tokenCacheMax {
		c.m = make(map[string]cachedToken)
	}
	c.m[id] = cachedToken{hash: h, p: p, until: until}
}
