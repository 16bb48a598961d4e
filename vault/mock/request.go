package mock

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

var _ vault.RequestStore = (*Store)(nil)

// now returns the time the store stamps a zero time with: UTC, to the
// microsecond, as the database stores keep it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// CreateRequest implements vault.RequestStore: ECONFLICT if the tenant has
// a request with r's id, or an open request of r's type about r's subject
// while r is open; EINVALID for a request or entry a database store
// refuses (see checkRequest). A zero r.UpdatedAt is set to the current
// time, in r too.
func (s *Store) CreateRequest(ctx context.Context, r *vault.DataRequest, e *vault.AuditEntry) error {
	const op = "mock.CreateRequest"
	if err := first(checkRequest(op, r), checkLogEntry(op, e)); err != nil {
		return err
	}
	if err := s.lock(ctx, op); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.requests[r.TenantID][r.ID]; ok {
		return vault.Errorf(vault.ECONFLICT, "A request with this id already exists.")
	}
	if err := s.oneOpen(r); err != nil {
		return err
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now()
	}
	s.putRequest(r)
	s.append(e)
	return nil
}

// DataRequest implements vault.RequestStore: ENOTFOUND if absent,
// EINVALID for an empty tenant or id.
func (s *Store) DataRequest(ctx context.Context, tenantID, id string) (*vault.DataRequest, error) {
	const op = "mock.DataRequest"
	if err := first(checkID(op, "tenant", tenantID), checkID(op, "id", id)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx, op); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	r, ok := s.requests[tenantID][id]
	if !ok {
		return nil, vault.Errorf(vault.ENOTFOUND, "Request not found.")
	}
	c := *r
	return &c, nil
}

// DataRequests implements vault.RequestStore: the tenant's requests that
// f selects, by DueAt then id, at most f.Limit of them (0: all). EINVALID
// for an empty tenant or a negative limit.
func (s *Store) DataRequests(ctx context.Context, f vault.RequestFilter) ([]*vault.DataRequest, error) {
	const op = "mock.DataRequests"
	if err := checkID(op, "tenant", f.TenantID); err != nil {
		return nil, err
	} else if f.Limit < 0 {
		return nil, invalid(op, "negative limit")
	}
	if err := s.lock(ctx, op); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []*vault.DataRequest
	for _, r := range s.requests[f.TenantID] {
		if (f.State == "" || r.State == f.State) && (f.SubjectID == "" || r.SubjectID == f.SubjectID) &&
			(!f.Open || isOpen(r)) && (f.DueBefore.IsZero() || r.DueAt.Before(f.DueBefore)) {
			c := *r
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *vault.DataRequest) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// UpdateRequest implements vault.RequestStore: it replaces everything but
// the tenant and id. ENOTFOUND if absent, ECONFLICT if the stored version
// is not r.Version-1 or r would be a second open request of its type about
// its subject, EINVALID as CreateRequest. A zero r.UpdatedAt is set to the
// current time, in r too.
func (s *Store) UpdateRequest(ctx context.Context, r *vault.DataRequest, e *vault.AuditEntry) error {
	const op = "mock.UpdateRequest"
	if err := first(checkRequest(op, r), checkLogEntry(op, e)); err != nil {
		return err
	}
	if err := s.lock(ctx, op); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.updatable(r); err != nil {
		return err
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now()
	}
	s.putRequest(r)
	s.append(e)
	return nil
}

// PutVerificationCode implements vault.RequestStore: it replaces the
// request's code whole. ENOTFOUND if the tenant has no such request,
// EINVALID for a nil code, an empty tenant, request or hash, a zero
// ExpiresAt or negative Attempts.
func (s *Store) PutVerificationCode(ctx context.Context, c *vault.VerificationCode) error {
	const op = "mock.PutVerificationCode"
	if err := checkCode(op, c); err != nil {
		return err
	} else if len(c.Hash) == 0 || c.ExpiresAt.IsZero() {
		return invalid(op, "code without hash or expiry")
	}
	if err := s.lock(ctx, op); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.requests[c.TenantID][c.RequestID]; !ok {
		return vault.Errorf(vault.ENOTFOUND, "Request not found.")
	}
	if s.codes[c.TenantID] == nil {
		s.codes[c.TenantID] = make(map[string]*vault.VerificationCode)
	}
	s.codes[c.TenantID][c.RequestID] = cloneCode(c)
	return nil
}

// VerificationCode implements vault.RequestStore: ENOTFOUND if the
// request has no code, EINVALID for an empty tenant or request.
func (s *Store) VerificationCode(ctx context.Context, tenantID, requestID string) (*vault.VerificationCode, error) {
	const op = "mock.VerificationCode"
	if err := first(checkID(op, "tenant", tenantID), checkID(op, "request", requestID)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx, op); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	c, ok := s.codes[tenantID][requestID]
	if !ok {
		return nil, vault.Errorf(vault.ENOTFOUND, "Verification code not found.")
	}
	return cloneCode(c), nil
}

// UpdateVerificationCode implements vault.RequestStore: it records one
// attempt, storing c's Attempts and UsedAt and appending e. ENOTFOUND if
// the request has no code, ECONFLICT unless the stored code is unused with
// Attempts c.Attempts-1, EINVALID for a nil code or entry, an empty tenant or request or
// negative Attempts.
func (s *Store) UpdateVerificationCode(ctx context.Context, c *vault.VerificationCode, e *vault.AuditEntry) error {
	const op = "mock.UpdateVerificationCode"
	if err := first(checkCode(op, c), checkLogEntry(op, e)); err != nil {
		return err
	}
	if err := s.lock(ctx, op); err != nil {
		return err
	}
	defer s.mu.Unlock()
	old, ok := s.codes[c.TenantID][c.RequestID]
	if !ok {
		return vault.Errorf(vault.ENOTFOUND, "Verification code not found.")
	}
	if old.Attempts != c.Attempts-1 || !old.UsedAt.IsZero() {
		return vault.Errorf(vault.ECONFLICT, "The verification code was used or tried meanwhile.")
	}
	old.Attempts, old.UsedAt = c.Attempts, c.UsedAt
	s.append(e)
	return nil
}

// EraseSubject implements vault.RequestStore: it erases the contact
// r.SubjectID as EraseContact does, adds the suppressions not listed yet,
// replaces the request as UpdateRequest does and appends e, all or
// nothing. ENOTFOUND if the request or the contact is absent, ECONFLICT
// as UpdateRequest, EINVALID as UpdateRequest or for a nil suppression,
// one without field or token, or of another tenant than r's.
func (s *Store) EraseSubject(ctx context.Context, r *vault.DataRequest, sup []*vault.Suppression, e *vault.AuditEntry) error {
	const op = "mock.EraseSubject"
	if err := first(checkRequest(op, r), checkLogEntry(op, e)); err != nil {
		return err
	}
	for _, x := range sup {
		switch {
		case x == nil:
			return invalid(op, "nil suppression")
		case x.Field == "" || len(x.Token) == 0:
			return invalid(op, "suppression without field or token")
		case x.TenantID != r.TenantID:
			return invalid(op, "suppression of another tenant")
		}
	}
	if err := s.lock(ctx, op); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.updatable(r); err != nil {
		return err
	}
	if _, ok := s.contacts[r.TenantID][r.SubjectID]; !ok {
		return vault.Errorf(vault.ENOTFOUND, "Contact not found.")
	}
	s.remove(r.TenantID, r.SubjectID)
	if s.suppressed[r.TenantID] == nil {
		s.suppressed[r.TenantID] = make(map[string]*vault.Suppression)
	}
	t := now()
	for _, x := range sup {
		k := x.Field + "\x00" + string(x.Token)
		if _, ok := s.suppressed[r.TenantID][k]; ok {
			continue
		}
		c := *x
		c.Token = bytes.Clone(x.Token)
		if c.CreatedAt.IsZero() {
			c.CreatedAt = t
		}
		s.suppressed[r.TenantID][k] = &c
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = t
	}
	s.putRequest(r)
	s.append(e)
	return nil
}

// Suppressed implements vault.RequestStore: the tokens given that are on
// the tenant's suppression list for field, in the order given, each once.
// EINVALID for an empty tenant, field or token.
func (s *Store) Suppressed(ctx context.Context, tenantID, field string, tokens [][]byte) ([][]byte, error) {
	const op = "mock.Suppressed"
	if err := first(checkID(op, "tenant", tenantID), checkID(op, "field", field)); err != nil {
		return nil, err
	}
	for _, t := range tokens {
		if len(t) == 0 {
			return nil, invalid(op, "empty token")
		}
	}
	if err := s.lock(ctx, op); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out [][]byte
	seen := make(map[string]bool)
	for _, t := range tokens {
		k := field + "\x00" + string(t)
		if _, ok := s.suppressed[tenantID][k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, bytes.Clone(t))
		}
	}
	return out, nil
}

// oneOpen returns ECONFLICT if r is open and another open request of the
// tenant has its type and subject.
func (s *Store) oneOpen(r *vault.DataRequest) error {
	if !isOpen(r) {
		return nil
	}
	for id, o := range s.requests[r.TenantID] {
		if id != r.ID && isOpen(o) && o.Type == r.Type && o.SubjectID == r.SubjectID {
			return vault.Errorf(vault.ECONFLICT, "The subject has an open request of this type.")
		}
	}
	return nil
}

// updatable returns ENOTFOUND or ECONFLICT unless r may replace the stored
// request.
func (s *Store) updatable(r *vault.DataRequest) error {
	old, ok := s.requests[r.TenantID][r.ID]
	if !ok {
		return vault.Errorf(vault.ENOTFOUND, "Request not found.")
	}
	if old.Version != r.Version-1 {
		return vault.Errorf(vault.ECONFLICT, "The request was changed concurrently; retry.")
	}
	return s.oneOpen(r)
}

// putRequest stores a copy of r.
func (s *Store) putRequest(r *vault.DataRequest) {
	if s.requests[r.TenantID] == nil {
		s.requests[r.TenantID] = make(map[string]*vault.DataRequest)
	}
	c := *r
	s.requests[r.TenantID][r.ID] = &c
}

func isOpen(r *vault.DataRequest) bool {
	return r.State != vault.StateCompleted && r.State != vault.StateRejected
}

// requestStates are the states a request may be in.
var requestStates = []string{vault.StateReceived, vault.StateVerified, vault.StateInProgress, vault.StateCompleted, vault.StateRejected}

// checkRequest refuses what the database stores refuse: a nil request, no
// tenant, id or subject, an unknown type or state, a zero ReceivedAt or
// DueAt, an extension outside 0 to 2 months.
func checkRequest(op string, r *vault.DataRequest) error {
	switch {
	case r == nil:
		return invalid(op, "nil request")
	case r.TenantID == "" || r.ID == "" || r.SubjectID == "":
		return invalid(op, "request without tenant, id or subject")
	case !slices.Contains(vault.RequestTypes, r.Type):
		return invalid(op, "unknown request type")
	case !slices.Contains(requestStates, r.State):
		return invalid(op, "unknown request state")
	case r.ReceivedAt.IsZero() || r.DueAt.IsZero():
		return invalid(op, "request without receipt or due time")
	case r.ExtensionMonths < 0 || r.ExtensionMonths > 2:
		return invalid(op, "extension outside 0 to 2 months")
	}
	return nil
}

func checkCode(op string, c *vault.VerificationCode) error {
	switch {
	case c == nil:
		return invalid(op, "nil code")
	case c.TenantID == "" || c.RequestID == "":
		return invalid(op, "code without tenant or request")
	case c.Attempts < 0:
		return invalid(op, "negative attempts")
	}
	return nil
}

// checkLogEntry refuses an entry the audit log could not sequence, as the
// database stores do, and sets a zero time to the current time.
func checkLogEntry(op string, e *vault.AuditEntry) error {
	if err := checkEntry(op, e); err != nil {
		return err
	} else if e.TenantID == "" || e.Action == "" {
		return invalid(op, "audit entry without tenant or action")
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	if _, err := e.LogEntry().Encode(); err != nil {
		return invalid(op, "audit entry the log cannot encode")
	}
	return nil
}

func cloneCode(c *vault.VerificationCode) *vault.VerificationCode {
	n := *c
	n.Hash = bytes.Clone(c.Hash)
	return &n
}
