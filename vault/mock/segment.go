package mock

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

var _ vault.SegmentStore = (*Store)(nil)

// CountContacts implements vault.SegmentStore with the reference
// semantics, (*vault.Cond).Matches. It returns EINVALID for an empty
// tenant or a Cond a store cannot express (see checkCond).
func (s *Store) CountContacts(ctx context.Context, tenantID string, c *vault.Cond) (int64, error) {
	const op = "mock.CountContacts"
	if err := first(checkID(op, "tenant", tenantID), checkCond(op, c)); err != nil {
		return 0, err
	}
	if err := s.lock(ctx, op); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.contacts[tenantID] {
		if c.Matches(r) {
			n++
		}
	}
	return n, nil
}

// ListContacts implements vault.SegmentStore with the reference
// semantics. It returns EINVALID for an empty tenant, a limit below 1, an
// afterID that is neither empty nor a canonical UUID, or a Cond a store
// cannot express.
func (s *Store) ListContacts(ctx context.Context, tenantID string, c *vault.Cond, afterID string, limit int) ([]*vault.Record, error) {
	const op = "mock.ListContacts"
	if err := first(checkID(op, "tenant", tenantID), checkCond(op, c)); err != nil {
		return nil, err
	} else if limit < 1 {
		return nil, invalid(op, "limit below 1")
	} else if afterID != "" && !vault.ValidID(afterID) {
		return nil, invalid(op, "afterID is not a contact id")
	}
	if err := s.lock(ctx, op); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []*vault.Record
	for id, r := range s.contacts[tenantID] {
		if id > afterID && c.Matches(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *vault.Record) int { return strings.Compare(a.ID, b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	for i, r := range out {
		out[i] = cloneRecord(r)
	}
	return out, nil
}

// SaveSegment implements vault.SegmentStore: ECONFLICT if the tenant has
// a segment of that name, EINVALID for a nil segment or entry, an empty
// tenant or name. A zero CreatedAt is set to the current time.
func (s *Store) SaveSegment(ctx context.Context, g *vault.SavedSegment, e *vault.AuditEntry) error {
	const op = "mock.SaveSegment"
	if g == nil {
		return invalid(op, "nil segment")
	}
	if err := first(checkID(op, "tenant", g.TenantID), checkID(op, "name", g.Name), checkEntry(op, e)); err != nil {
		return err
	} else if e.TenantID == "" || e.Action == "" {
		return invalid(op, "audit entry without tenant or action")
	}
	if err := s.lock(ctx, op); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.segments[g.TenantID][g.Name]; ok {
		return vault.Errorf(vault.ECONFLICT, "A segment with this name already exists.")
	}
	c := cloneSegment(g)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	if s.segments[g.TenantID] == nil {
		s.segments[g.TenantID] = make(map[string]*vault.SavedSegment)
	}
	s.segments[g.TenantID][g.Name] = c
	s.append(e)
	return nil
}

// Segment implements vault.SegmentStore: ENOTFOUND if absent, EINVALID for
// an empty tenant or name.
func (s *Store) Segment(ctx context.Context, tenantID, name string) (*vault.SavedSegment, error) {
	const op = "mock.Segment"
	if err := first(checkID(op, "tenant", tenantID), checkID(op, "name", name)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx, op); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	g, ok := s.segments[tenantID][name]
	if !ok {
		return nil, vault.Errorf(vault.ENOTFOUND, "Segment not found.")
	}
	return cloneSegment(g), nil
}

// Segments implements vault.SegmentStore: the tenant's segments by name,
// byte-wise; EINVALID for an empty tenant.
func (s *Store) Segments(ctx context.Context, tenantID string) ([]*vault.SavedSegment, error) {
	const op = "mock.Segments"
	if err := checkID(op, "tenant", tenantID); err != nil {
		return nil, err
	}
	if err := s.lock(ctx, op); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []*vault.SavedSegment
	for _, g := range s.segments[tenantID] {
		out = append(out, cloneSegment(g))
	}
	slices.SortFunc(out, func(a, b *vault.SavedSegment) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteSegment implements vault.SegmentStore: ENOTFOUND if absent,
// EINVALID for an empty tenant or name or a nil entry.
func (s *Store) DeleteSegment(ctx context.Context, tenantID, name string, e *vault.AuditEntry) error {
	const op = "mock.DeleteSegment"
	if err := first(checkID(op, "tenant", tenantID), checkID(op, "name", name), checkEntry(op, e)); err != nil {
		return err
	}
	if err := s.lock(ctx, op); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.segments[tenantID][name]; !ok {
		return vault.Errorf(vault.ENOTFOUND, "Segment not found.")
	}
	delete(s.segments[tenantID], name)
	s.append(e)
	return nil
}

func cloneSegment(g *vault.SavedSegment) *vault.SavedSegment {
	c := *g
	c.Filter = bytes.Clone(g.Filter)
	return &c
}

// checkCond refuses, as the database stores do, a Cond they cannot
// express: nil (or a nil child), an unknown op, CondConsent (the service
// resolves it into tokens), a Not without exactly one child, an unknown
// flag or time column, an empty token.
func checkCond(op string, c *vault.Cond) error {
	if c == nil {
		return invalid(op, "nil condition")
	}
	switch c.Op {
	case vault.CondTrue, vault.CondFalse:
	case vault.CondAnd, vault.CondOr, vault.CondNot:
		if c.Op == vault.CondNot && len(c.Children) != 1 {
			return invalid(op, "not needs one condition")
		}
		for _, ch := range c.Children {
			if err := checkCond(op, ch); err != nil {
				return err
			}
		}
	case vault.CondTokens:
		for _, t := range c.Tokens {
			if len(t) == 0 {
				return invalid(op, "empty token")
			}
		}
	case vault.CondFlag:
		if c.Flag != vault.FlagRestricted && c.Flag != vault.FlagObjected {
			return invalid(op, "unknown flag")
		}
	case vault.CondTime:
		if c.Column != vault.ColumnCreated && c.Column != vault.ColumnUpdated {
			return invalid(op, "unknown time column")
		}
	default:
		return invalid(op, "condition the store cannot express")
	}
	return nil
}
