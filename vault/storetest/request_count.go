package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

// testRequestCounts: RequestCounts counts every tenant's open requests and
// those due before the time given, and leaves out closed ones and tenants
// without open requests.
func testRequestCounts(t *testing.T, open func(t *testing.T) vault.Store) {
	f := newRequestFixture(t, open)
	other := MustCreateTenant(t, f.s)
	quiet := MustCreateTenant(t, f.s)
	cut := Now().Add(10 * 24 * time.Hour)
	add := func(tenant, state string, due time.Time) {
		r := NewRequest(tenant, vault.RequestAccess, vault.NewID(Now()))
		r.State, r.DueAt = state, due
		if state == vault.StateCompleted || state == vault.StateRejected {
			r.CompletedAt = Now()
		}
		f.mustCreateRequest(t, r)
	}
	add(f.tn.ID, vault.StateReceived, cut.Add(-time.Hour))  // open, due
	add(f.tn.ID, vault.StateInProgress, cut.Add(time.Hour)) // open, not due
	add(f.tn.ID, vault.StateCompleted, cut.Add(-time.Hour)) // closed
	add(other.ID, vault.StateVerified, cut.Add(-48*time.Hour))
	add(quiet.ID, vault.StateRejected, cut.Add(-time.Hour))
	got, err := f.rs.RequestCounts(t.Context(), cut)
	mustCode(t, "RequestCounts", err, "")
	want := []vault.RequestCount{{TenantID: f.tn.ID, Open: 2, Due: 1}, {TenantID: other.ID, Open: 1, Due: 1}}
	slices.SortFunc(want, func(a, b vault.RequestCount) int {
		if a.TenantID < b.TenantID {
			return -1
		}
		return 1
	})
	// Other tests' tenants may share the store: keep the three of this one.
	var mine []vault.RequestCount
	for _, c := range got {
		if c.TenantID == f.tn.ID || c.TenantID == other.ID || c.TenantID == quiet.ID {
			mine = append(mine, c)
		}
	}
	if !slices.Equal(mine, want) {
		t.Errorf("RequestCounts = %+v, want %+v", mine, want)
	}
}
