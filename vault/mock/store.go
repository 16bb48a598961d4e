package mock

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/coffre/coffre/audit/audittest"
	"github.com/coffre/coffre/vault"
)

// Store is an in-memory vault.Store for tests. Every method works on deep
// copies, so callers cannot change stored state behind its back, and every
// write and its audit entry happen under one lock, all or nothing. It is
// safe for concurrent use. The zero value is not usable; call NewStore.
// Audit entries go to an embedded in-memory audit log store, whose
// sequencer methods the Store thereby implements.
type Store struct {
	*audittest.Store

	mu       sync.Mutex
	closed   bool
	tenants  map[string]*vault.Tenant
	contacts map[string]map[string]*vault.Record // tenant -> id -> record
	unique   map[string]map[string]string        // tenant -> field NUL token -> id
	tokens   map[string]*vault.APIToken
	segments map[string]map[string]*vault.SavedSegment     // tenant -> name -> segment
	requests map[string]map[string]*vault.DataRequest      // tenant -> id -> request
	codes    map[string]map[string]*vault.VerificationCode // tenant -> request id -> code
	// suppressed holds the tenant's suppressions by field NUL token.
	suppressed map[string]map[string]*vault.Suppression
}

var _ vault.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		tenants:  make(map[string]*vault.Tenant),
		contacts: make(map[string]map[string]*vault.Record),
		unique:   make(map[string]map[string]string),
		tokens:   make(map[string]*vault.APIToken),
		segments: make(map[string]map[string]*vault.SavedSegment),
		requests: make(map[string]map[string]*vault.DataRequest),
		codes:    make(map[string]map[string]*vault.VerificationCode),
		Store:    audittest.NewStore(),

		suppressed: make(map[string]map[string]*vault.Suppression),
	}
}

// lock takes the store's lock unless ctx is done or the store is closed;
// the caller unlocks on success.
func (s *Store) lock(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return vault.Errorf(vault.EUNAVAILABLE, "The store is closed.")
	}
	return nil
}

// Ping implements vault.Store: EUNAVAILABLE once closed.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.lock(ctx, "mock.Ping"); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// Close implements vault.Store. Later calls fail with EUNAVAILABLE.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// CreateTenant implements vault.TenantStore.
func (s *Store) CreateTenant(ctx context.Context, t *vault.Tenant) error {
	if t == nil || t.ID == "" {
		return invalid("mock.CreateTenant", "tenant without id")
	}
	if err := s.lock(ctx, "mock.CreateTenant"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.tenants[t.ID]; ok {
		return vault.Errorf(vault.ECONFLICT, "Tenant already exists.")
	}
	c := *t
	c.Keys = bytes.Clone(t.Keys)
	s.tenants[t.ID] = &c
	return nil
}

// Tenant implements vault.TenantStore.
func (s *Store) Tenant(ctx context.Context, id string) (*vault.Tenant, error) {
	if err := checkID("mock.Tenant", "tenant", id); err != nil {
		return nil, err
	}
	if err := s.lock(ctx, "mock.Tenant"); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	t, ok := s.tenants[id]
	if !ok {
		return nil, vault.Errorf(vault.ENOTFOUND, "Tenant not found.")
	}
	c := *t
	c.Keys = bytes.Clone(t.Keys)
	return &c, nil
}

// CreateContact implements vault.ContactStore.
func (s *Store) CreateContact(ctx context.Context, r *vault.Record, e *vault.AuditEntry) error {
	if err := first(checkRecord("mock.CreateContact", r), checkEntry("mock.CreateContact", e)); err != nil {
		return err
	}
	if err := s.lock(ctx, "mock.CreateContact"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.insertable(r, nil); err != nil {
		return err
	}
	for _, l := range r.Suppression {
		if _, ok := s.suppressed[r.TenantID][l.Field+"\x00"+string(l.Token)]; ok {
			return vault.SuppressedError(l.Field)
		}
	}
	s.insert(r)
	s.append(e)
	return nil
}

// Contact implements vault.ContactStore.
func (s *Store) Contact(ctx context.Context, tenantID, id string) (*vault.Record, error) {
	if err := first(checkID("mock.Contact", "tenant", tenantID), checkID("mock.Contact", "id", id)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx, "mock.Contact"); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	r, ok := s.contacts[tenantID][id]
	if !ok {
		return nil, vault.Errorf(vault.ENOTFOUND, "Contact not found.")
	}
	return cloneRecord(r), nil
}

// UpdateContact implements vault.ContactStore.
func (s *Store) UpdateContact(ctx context.Context, r *vault.Record, e *vault.AuditEntry) error {
	if err := first(checkRecord("mock.UpdateContact", r), checkEntry("mock.UpdateContact", e)); err != nil {
		return err
	}
	if err := s.lock(ctx, "mock.UpdateContact"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	old, ok := s.contacts[r.TenantID][r.ID]
	if !ok {
		return vault.Errorf(vault.ENOTFOUND, "Contact not found.")
	}
	if old.Version != r.Version-1 {
		return vault.Errorf(vault.ECONFLICT, "The contact was changed concurrently; retry.")
	}
	if err := s.insertable(r, old); err != nil {
		return err
	}
	s.insert(r)
	s.contacts[r.TenantID][r.ID].CreatedAt = old.CreatedAt
	s.append(e)
	return nil
}

// EraseContact implements vault.ContactStore.
func (s *Store) EraseContact(ctx context.Context, tenantID, id string, e *vault.AuditEntry) error {
	const op = "mock.EraseContact"
	if err := first(checkID(op, "tenant", tenantID), checkID(op, "id", id), checkEntry(op, e)); err != nil {
		return err
	}
	if err := s.lock(ctx, "mock.EraseContact"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.contacts[tenantID][id]; !ok {
		return vault.Errorf(vault.ENOTFOUND, "Contact not found.")
	}
	s.remove(tenantID, id)
	s.append(e)
	return nil
}

// FindContacts implements vault.ContactStore.
func (s *Store) FindContacts(ctx context.Context, tenantID, field string, token []byte, limit int) ([]*vault.Record, error) {
	const op = "mock.FindContacts"
	if err := first(checkID(op, "tenant", tenantID), checkID(op, "field", field)); err != nil {
		return nil, err
	} else if len(token) == 0 || limit <= 0 {
		return nil, invalid(op, "empty token or limit")
	}
	if err := s.lock(ctx, "mock.FindContacts"); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []*vault.Record
	for _, r := range s.contacts[tenantID] {
		for _, l := range r.Lookups {
			if l.Field == field && bytes.Equal(l.Token, token) {
				out = append(out, r)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	for i, r := range out {
		out[i] = cloneRecord(r)
	}
	return out, nil
}

// LoadContacts implements vault.ContactStore: all records or none.
func (s *Store) LoadContacts(ctx context.Context, rs []*vault.Record, e *vault.AuditEntry) error {
	const op = "mock.LoadContacts"
	if len(rs) == 0 {
		return invalid(op, "empty batch")
	} else if err := checkEntry(op, e); err != nil {
		return err
	}
	for _, r := range rs {
		if err := checkRecord(op, r); err != nil {
			return err
		}
	}
	if err := s.lock(ctx, "mock.LoadContacts"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	// Check the batch against the store and against itself before
	// inserting anything.
	staged := NewStore()
	for _, r := range rs {
		if err := s.insertable(r, nil); err != nil {
			return err
		}
		if err := staged.insertable(r, nil); err != nil {
			return err
		}
		staged.insert(r)
	}
	for _, r := range rs {
		s.insert(r)
	}
	s.append(e)
	return nil
}

// CreateToken implements vault.TokenStore.
func (s *Store) CreateToken(ctx context.Context, t *vault.APIToken, e *vault.AuditEntry) error {
	if err := first(checkToken("mock.CreateToken", t), checkEntry("mock.CreateToken", e)); err != nil {
		return err
	}
	if err := s.lock(ctx, "mock.CreateToken"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.tokens[t.ID]; ok {
		return vault.Errorf(vault.ECONFLICT, "Token already exists.")
	}
	s.tokens[t.ID] = cloneToken(t)
	s.append(e)
	return nil
}

// Token implements vault.TokenStore.
func (s *Store) Token(ctx context.Context, id string) (*vault.APIToken, error) {
	if err := checkID("mock.Token", "id", id); err != nil {
		return nil, err
	}
	if err := s.lock(ctx, "mock.Token"); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return nil, vault.Errorf(vault.ENOTFOUND, "Token not found.")
	}
	return cloneToken(t), nil
}

// AppendAudit implements vault.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, entries []*vault.AuditEntry) error {
	if len(entries) == 0 {
		return invalid("mock.AppendAudit", "no entries")
	}
	if err := s.lock(ctx, "mock.AppendAudit"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, e := range entries {
		s.append(e)
	}
	return nil
}

// AuditEntries implements vault.AuditStore over the sequenced entries.
func (s *Store) AuditEntries(ctx context.Context, f vault.AuditFilter) ([]*vault.AuditEntry, error) {
	if err := checkID("mock.AuditEntries", "tenant", f.TenantID); err != nil {
		return nil, err
	} else if f.Limit < 1 || f.Limit > 1000 {
		return nil, invalid("mock.AuditEntries", "limit must be between 1 and 1000")
	}
	var out []*vault.AuditEntry
	for from := f.From; len(out) < f.Limit; from += 1024 {
		entries, _, err := s.SequencedEntries(ctx, from, from+1024)
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			break
		}
		for _, e := range entries {
			if ve := vault.AuditEntryOf(e); f.Match(ve) && len(out) < f.Limit {
				out = append(out, ve)
			}
		}
	}
	return out, nil
}

// insertable reports ECONFLICT if r cannot be stored: its id is taken (by
// a record other than old), or one of its unique lookups is taken by
// another record.
func (s *Store) insertable(r *vault.Record, old *vault.Record) error {
	if _, ok := s.contacts[r.TenantID][r.ID]; ok && old == nil {
		return vault.Errorf(vault.ECONFLICT, "Contact already exists.")
	}
	seen := make(map[string]bool, len(r.Lookups))
	for _, l := range r.Lookups {
		if !l.Unique {
			continue
		}
		k := uniqueKey(l)
		if id, ok := s.unique[r.TenantID][k]; (ok && id != r.ID) || seen[k] {
			return vault.Errorf(vault.ECONFLICT, "A contact with the same %s already exists.", l.Field)
		}
		seen[k] = true
	}
	return nil
}

func uniqueKey(l vault.Lookup) string { return l.Field + "\x00" + string(l.Token) }

// insert stores r, replacing the record with its id if there is one.
func (s *Store) insert(r *vault.Record) {
	s.remove(r.TenantID, r.ID)
	if s.contacts[r.TenantID] == nil {
		s.contacts[r.TenantID] = make(map[string]*vault.Record)
		s.unique[r.TenantID] = make(map[string]string)
	}
	s.contacts[r.TenantID][r.ID] = cloneRecord(r)
	for _, l := range r.Lookups {
		if l.Unique {
			s.unique[r.TenantID][uniqueKey(l)] = r.ID
		}
	}
}

// remove deletes a record and its unique lookups, if it exists.
func (s *Store) remove(tenantID, id string) {
	old, ok := s.contacts[tenantID][id]
	if !ok {
		return
	}
	for _, l := range old.Lookups {
		if l.Unique && s.unique[tenantID][uniqueKey(l)] == id {
			delete(s.unique[tenantID], uniqueKey(l))
		}
	}
	delete(s.contacts[tenantID], id)
}

// append keeps a copy of e as a pending audit entry.
func (s *Store) append(e *vault.AuditEntry) {
	if e == nil {
		return
	}
	le := e.LogEntry()
	le.Fields = slices.Clone(e.Fields)
	le.Sealed = slices.Clone(e.Sealed)
	s.Add(le)
}

func cloneRecord(r *vault.Record) *vault.Record {
	c := *r
	c.WrappedKey = bytes.Clone(r.WrappedKey)
	c.Sealed = make(map[string][]byte, len(r.Sealed))
	for k, v := range r.Sealed {
		c.Sealed[k] = bytes.Clone(v)
	}
	c.Consents = maps.Clone(r.Consents)
	c.Lookups = make([]vault.Lookup, len(r.Lookups))
	for i, l := range r.Lookups {
		c.Lookups[i] = vault.Lookup{Field: l.Field, Token: bytes.Clone(l.Token), Unique: l.Unique}
	}
	c.Tokens = make([][]byte, len(r.Tokens))
	for i, t := range r.Tokens {
		c.Tokens[i] = bytes.Clone(t)
	}
	return &c
}

func cloneToken(t *vault.APIToken) *vault.APIToken {
	c := *t
	c.Hash = bytes.Clone(t.Hash)
	c.Purposes = slices.Clone(t.Purposes)
	if t.Attributes != nil {
		c.Attributes = make(map[string][]string, len(t.Attributes))
		for k, v := range t.Attributes {
			c.Attributes[k] = slices.Clone(v)
		}
	}
	return &c
}
