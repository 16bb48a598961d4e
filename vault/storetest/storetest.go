package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/coffre/coffre/vault"
)

// Run runs the conformance suite against the stores open returns. open is
// called once per subtest and must return a fresh, empty, migrated store;
// closing it is the caller's business (typically with t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("Tenant", func(t *testing.T) { testTenant(t, open) })
	t.Run("Contact", func(t *testing.T) { testContact(t, open) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open) })
	t.Run("Unique", func(t *testing.T) { testUnique(t, open) })
	t.Run("Find", func(t *testing.T) { testFind(t, open) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open) })
	t.Run("Erase", func(t *testing.T) { testErase(t, open) })
	t.Run("Load", func(t *testing.T) { testLoad(t, open) })
	t.Run("Token", func(t *testing.T) { testToken(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Context", func(t *testing.T) { testContext(t, open) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, open) })
}

// checkCode reports an error unless err has the code want ("" for nil).
func checkCode(t testing.TB, call string, err error, want string) {
	t.Helper()
	if got := vault.ErrorCode(err); got != want {
		if want == "" {
			t.Errorf("%s = %v, want nil", call, err)
		} else {
			t.Errorf("%s = %v (code %q), want code %q", call, err, got, want)
		}
	}
}

// mustCode is checkCode that stops the test.
func mustCode(t testing.TB, call string, err error, want string) {
	t.Helper()
	if got := vault.ErrorCode(err); got != want {
		if want == "" {
			t.Fatalf("%s = %v, want nil", call, err)
		}
		t.Fatalf("%s = %v (code %q), want code %q", call, err, got, want)
	}
}

// checkRecord reports an error unless s holds want.
func checkRecord(t testing.TB, s vault.Store, want *vault.Record) {
	t.Helper()
	got, err := s.Contact(context.Background(), want.TenantID, want.ID)
	if err != nil {
		t.Errorf("Contact(%s) = %v, want nil", want.ID, err)
		return
	}
	if d := DiffRecord(got, want); d != "" {
		t.Errorf("Contact(%s): %s", want.ID, d)
	}
}

// checkAbsent reports an error unless the record is ENOTFOUND.
func checkAbsent(t testing.TB, s vault.Store, tenantID, id string) {
	t.Helper()
	_, err := s.Contact(context.Background(), tenantID, id)
	checkCode(t, fmt.Sprintf("Contact(%s)", id), err, vault.ENOTFOUND)
}

// find calls FindContacts and fails the test on error.
func find(t testing.TB, s vault.Store, tenantID, field string, token []byte, limit int) []*vault.Record {
	t.Helper()
	rs, err := s.FindContacts(context.Background(), tenantID, field, token, limit)
	if err != nil {
		t.Fatalf("FindContacts(%s, %x) = %v, want nil", field, token[:4], err)
	}
	return rs
}

// checkFound reports an error unless got holds exactly want, in order.
func checkFound(t testing.TB, call string, got []*vault.Record, want ...*vault.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %s, want %s", call, ids(got), ids(want))
		return
	}
	for i := range got {
		if d := DiffRecord(got[i], want[i]); d != "" {
			t.Errorf("%s[%d]: %s", call, i, d)
		}
	}
}

func ids(rs []*vault.Record) []string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.ID
	}
	return s
}

// auditAll returns every audit entry of the tenant.
func auditAll(t testing.TB, s vault.Store, tenantID string) []*vault.AuditEntry {
	t.Helper()
	var all []*vault.AuditEntry
	var after int64
	for {
		es, err := s.AuditEntries(context.Background(), tenantID, after, 500)
		if err != nil {
			t.Fatalf("AuditEntries(%s, %d, 500) = %v, want nil", tenantID, after, err)
		}
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
		after = es[len(es)-1].Seq
	}
}

// lastSeq returns the highest Seq of the tenant's entries, 0 if none.
func lastSeq(t testing.TB, s vault.Store, tenantID string) int64 {
	t.Helper()
	es := auditAll(t, s, tenantID)
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

// checkAppended reports an error unless the tenant's entries after seq
// are exactly want, each with the Seq the store set on it.
func checkAppended(t testing.TB, s vault.Store, tenantID string, after int64, want ...*vault.AuditEntry) {
	t.Helper()
	got, err := s.AuditEntries(context.Background(), tenantID, after, 1000)
	if err != nil {
		t.Fatalf("AuditEntries(%s, %d, 1000) = %v, want nil", tenantID, after, err)
	}
	if len(got) != len(want) {
		t.Errorf("AuditEntries(%s, %d) = %d entries %v, want %d", tenantID, after, len(got), seqs(got), len(want))
		return
	}
	for i := range got {
		if want[i].Seq == 0 {
			t.Errorf("entry %d: Seq of the appended entry = 0, want the store to set it", i)
		}
		if d := DiffEntry(got[i], want[i]); d != "" {
			t.Errorf("AuditEntries(%s, %d)[%d]: %s", tenantID, after, i, d)
		}
	}
}

func seqs(es []*vault.AuditEntry) []int64 {
	s := make([]int64, len(es))
	for i, e := range es {
		s[i] = e.Seq
	}
	return s
}

// sortRecords sorts rs the way FindContacts must: CreatedAt, then id.
func sortRecords(rs []*vault.Record) {
	sort.SliceStable(rs, func(i, j int) bool {
		if !rs[i].CreatedAt.Equal(rs[j].CreatedAt) {
			return rs[i].CreatedAt.Before(rs[j].CreatedAt)
		}
		return rs[i].ID < rs[j].ID
	})
}
