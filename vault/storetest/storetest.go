package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/coffre/coffre/audit"
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
	t.Run("AuditLog", func(t *testing.T) { testAuditLog(t, open) })
	t.Run("AuditAppend", func(t *testing.T) { testAuditAppend(t, open) })
	t.Run("SequenceBatch", func(t *testing.T) { testSequenceBatch(t, open) })
	t.Run("Context", func(t *testing.T) { testContext(t, open) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, open) })
	t.Run("Segment", func(t *testing.T) { RunSegments(t, open) })
	t.Run("Request", func(t *testing.T) { RunRequests(t, open) })
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

// auditAll returns every sequenced audit entry of the tenant.
func auditAll(t testing.TB, s vault.Store, tenantID string) []*vault.AuditEntry {
	t.Helper()
	var all []*vault.AuditEntry
	f := vault.AuditFilter{TenantID: tenantID, Limit: 500}
	for {
		es, err := s.AuditEntries(context.Background(), f)
		if err != nil {
			t.Fatalf("AuditEntries(%s, from %d) = %v, want nil", tenantID, f.From, err)
		}
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
		f.From = es[len(es)-1].Seq + 1
	}
}

// checkAudit reports an error unless the tenant's sequenced entries are
// exactly want, Seq included.
func checkAudit(t testing.TB, s vault.Store, tenantID string, want ...*vault.AuditEntry) {
	t.Helper()
	got := auditAll(t, s, tenantID)
	if len(got) != len(want) {
		t.Errorf("AuditEntries(%s) = %d entries %v, want %d", tenantID, len(got), seqs(got), len(want))
		return
	}
	for i := range got {
		if d := DiffEntry(got[i], want[i]); d != "" {
			t.Errorf("AuditEntries(%s)[%d]: %s", tenantID, i, d)
		}
	}
}

// pendingAll returns every pending entry of s.
func pendingAll(t testing.TB, s vault.Store) []audit.Pending {
	t.Helper()
	ps, err := s.PendingAudit(context.Background(), 1<<20)
	if err != nil {
		t.Fatalf("PendingAudit = %v, want nil", err)
	}
	return ps
}

// checkPending reports an error unless the pending entries of s are
// exactly want, in the order written (by increasing id), unsequenced.
func checkPending(t testing.TB, s vault.Store, want ...*vault.AuditEntry) {
	t.Helper()
	got := pendingAll(t, s)
	if len(got) != len(want) {
		var actions []string
		for _, p := range got {
			actions = append(actions, p.Entry.Action)
		}
		t.Errorf("PendingAudit = %d entries %v, want %d", len(got), actions, len(want))
		return
	}
	for i, p := range got {
		if i > 0 && p.ID <= got[i-1].ID {
			t.Errorf("PendingAudit[%d].ID = %d after %d, want increasing ids", i, p.ID, got[i-1].ID)
		}
		if p.Entry.Seq != 0 {
			t.Errorf("PendingAudit[%d].Entry.Seq = %d, want 0", i, p.Entry.Seq)
		}
		if d := DiffEntry(VaultEntry(p.Entry), WithSeq(want[i], 0)); d != "" {
			t.Errorf("PendingAudit[%d]: %s", i, d)
		}
	}
}

// settle sequences every pending entry, so that checkPending then sees
// only what follows.
func settle(t testing.TB, s vault.Store) {
	t.Helper()
	SequenceAll(t, s)
}

// checkUnsequenced reports an error if a write set the Seq of its entry.
func checkUnsequenced(t testing.TB, call string, e *vault.AuditEntry) {
	t.Helper()
	if e.Seq != 0 {
		t.Errorf("%s: e.Seq = %d, want 0 (a write leaves its entry unsequenced)", call, e.Seq)
	}
}

func seqs(es []*vault.AuditEntry) []uint64 {
	s := make([]uint64, len(es))
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
