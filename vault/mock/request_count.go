package mock

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/coffre/coffre/vault"
)

// RequestCounts implements vault.RequestStore.
func (s *Store) RequestCounts(ctx context.Context, dueBefore time.Time) ([]vault.RequestCount, error) {
	if err := s.lock(ctx, "mock.RequestCounts"); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []vault.RequestCount
	for tenant, rs := range s.requests {
		c := vault.RequestCount{TenantID: tenant}
		for _, r := range rs {
			if r.State == vault.StateCompleted || r.State == vault.StateRejected {
				continue
			}
			c.Open++
			if r.DueAt.Before(dueBefore) {
				c.Due++
			}
		}
		if c.Open > 0 {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b vault.RequestCount) int { return cmp.Compare(a.TenantID, b.TenantID) })
	return out, nil
}
