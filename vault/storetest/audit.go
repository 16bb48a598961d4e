package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

func testAudit(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("Fields", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		full := NewEntry(tn.ID, vault.ActionContactCreate, "")
		full.Time = time.Date(2024, 2, 29, 13, 14, 15, 161718000, time.UTC)
		full.Fields = []string{"given_name", "family_name", "email", "phone", "consent.newsletter"}
		full.Outcome = vault.OutcomeDenied
		bare := &vault.AuditEntry{Time: Now(), TenantID: tn.ID, Action: vault.ActionContactCreate, Outcome: vault.OutcomeOK}
		var want []*vault.AuditEntry
		for _, e := range []*vault.AuditEntry{full, bare} {
			r := NewRecord(tn.ID)
			e.Subject = r.ID
			mustCode(t, "CreateContact", s.CreateContact(t.Context(), r, e), "")
			want = append(want, e)
		}
		checkAppended(t, s, tn.ID, 0, want...)
	})

	t.Run("EveryWrite", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		var want []*vault.AuditEntry
		r := NewRecord(tn.ID)
		want = append(want, MustCreateContact(t, s, r))

		u := CloneRecord(r)
		u.Version++
		e := NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)
		mustCode(t, "UpdateContact", s.UpdateContact(t.Context(), u, e), "")
		want = append(want, e)

		e = NewEntry(tn.ID, vault.ActionTokenCreate, "")
		mustCode(t, "CreateToken", s.CreateToken(t.Context(), NewToken(tn.ID), e), "")
		want = append(want, e)

		e = NewEntry(tn.ID, "contact.import", "")
		mustCode(t, "LoadContacts", s.LoadContacts(t.Context(), []*vault.Record{NewRecord(tn.ID), NewRecord(tn.ID)}, e), "")
		want = append(want, e)

		e = NewEntry(tn.ID, vault.ActionContactErase, r.ID)
		mustCode(t, "EraseContact", s.EraseContact(t.Context(), tn.ID, r.ID, e), "")
		want = append(want, e)

		for i, e := range want {
			if e.Seq != int64(i+1) {
				t.Errorf("write #%d (%s): e.Seq = %d, want %d", i, e.Action, e.Seq, i+1)
			}
		}
		checkAppended(t, s, tn.ID, 0, want...)
	})

	t.Run("Pagination", func(t *testing.T) {
		s := open(t)
		a, b := MustCreateTenant(t, s), MustCreateTenant(t, s)
		var wantA []*vault.AuditEntry
		for i := range 25 {
			wantA = append(wantA, MustCreateContact(t, s, NewRecord(a.ID)))
			if i%3 == 0 {
				MustCreateContact(t, s, NewRecord(b.ID))
			}
		}
		var got []*vault.AuditEntry
		var after int64
		for page := 0; ; page++ {
			es, err := s.AuditEntries(t.Context(), a.ID, after, 10)
			mustCode(t, fmt.Sprintf("AuditEntries(a, %d, 10)", after), err, "")
			if len(es) > 10 {
				t.Fatalf("AuditEntries(a, %d, 10) = %d entries, want at most 10", after, len(es))
			}
			if len(es) == 0 {
				break
			}
			if page > 5 {
				t.Fatalf("AuditEntries(a, …, 10) still returns entries after %d pages", page)
			}
			got = append(got, es...)
			after = es[len(es)-1].Seq
		}
		if len(got) != len(wantA) {
			t.Fatalf("AuditEntries(a) paged = %d entries, want %d", len(got), len(wantA))
		}
		for i := range got {
			if d := DiffEntry(got[i], wantA[i]); d != "" {
				t.Errorf("AuditEntries(a)[%d]: %s", i, d)
			}
		}

		// after may name an entry of another tenant.
		bs := auditAll(t, s, b.ID)
		if len(bs) != 9 {
			t.Fatalf("AuditEntries(b) = %d entries, want 9", len(bs))
		}
		es, err := s.AuditEntries(t.Context(), a.ID, bs[4].Seq, 3)
		mustCode(t, "AuditEntries(a, seq of b, 3)", err, "")
		var want []int64
		for _, e := range wantA {
			if e.Seq > bs[4].Seq && len(want) < 3 {
				want = append(want, e.Seq)
			}
		}
		if !slices.Equal(seqs(es), want) {
			t.Errorf("AuditEntries(a, %d, 3) = %v, want %v", bs[4].Seq, seqs(es), want)
		}

		es, err = s.AuditEntries(t.Context(), a.ID, wantA[len(wantA)-1].Seq, 10)
		mustCode(t, "AuditEntries(a, last, 10)", err, "")
		if len(es) != 0 {
			t.Errorf("AuditEntries(a, last, 10) = %v, want none", seqs(es))
		}
		es, err = s.AuditEntries(t.Context(), "tenant-without-entries", 0, 10)
		mustCode(t, "AuditEntries(unknown tenant)", err, "")
		if len(es) != 0 {
			t.Errorf("AuditEntries(unknown tenant) = %v, want none", seqs(es))
		}
	})

	t.Run("DenseConcurrent", func(t *testing.T) {
		s := open(t)
		tenants := []*vault.Tenant{MustCreateTenant(t, s), MustCreateTenant(t, s)}
		const workers, each = 16, 20
		entries := make([][]*vault.AuditEntry, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					tn := tenants[(w+i)%len(tenants)]
					r := NewRecord(tn.ID)
					e := NewEntry(tn.ID, vault.ActionContactCreate, r.ID)
					if err := s.CreateContact(t.Context(), r, e); err != nil {
						t.Errorf("worker %d: CreateContact #%d = %v, want nil", w, i, err)
						return
					}
					entries[w] = append(entries[w], e)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		checkDense(t, s, tenants, workers*each, slices.Concat(entries...))
	})

	t.Run("DenseAfterFailures", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		var ok []*vault.AuditEntry
		ok = append(ok, MustCreateContact(t, s, r))
		for i := range 5 {
			dup := NewRecord(tn.ID)
			SetLookupToken(dup, FieldEmail, LookupToken(r, FieldEmail))
			checkCode(t, "CreateContact(taken email)", s.CreateContact(t.Context(), dup, NewEntry(tn.ID, vault.ActionContactCreate, dup.ID)), vault.ECONFLICT)
			stale := CloneRecord(r)
			checkCode(t, "UpdateContact(stale)", s.UpdateContact(t.Context(), stale, NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)), vault.ECONFLICT)
			ok = append(ok, MustCreateContact(t, s, NewRecord(tn.ID)))
			if got, want := ok[len(ok)-1].Seq, int64(i+2); got != want {
				t.Errorf("CreateContact after failures: e.Seq = %d, want %d", got, want)
			}
		}
		checkAppended(t, s, tn.ID, 0, ok...)
	})
}

// checkDense reports an error unless the entries of tenants have Seq
// exactly 1..n, and are the entries in written.
func checkDense(t *testing.T, s vault.Store, tenants []*vault.Tenant, n int, written []*vault.AuditEntry) {
	t.Helper()
	var all []*vault.AuditEntry
	for _, tn := range tenants {
		all = append(all, auditAll(t, s, tn.ID)...)
	}
	slices.SortFunc(all, func(a, b *vault.AuditEntry) int { return int(a.Seq - b.Seq) })
	if len(all) != n {
		t.Errorf("audit entries = %d, want %d", len(all), n)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Errorf("entry #%d: Seq = %d, want %d (Seq must be dense)", i, e.Seq, i+1)
			break
		}
	}
	bySeq := make(map[int64]*vault.AuditEntry)
	for _, e := range written {
		if bySeq[e.Seq] != nil {
			t.Errorf("two writes got Seq %d", e.Seq)
		}
		bySeq[e.Seq] = e
	}
	for _, e := range all {
		if d := DiffEntry(e, bySeq[e.Seq]); d != "" {
			t.Errorf("entry Seq %d: %s", e.Seq, d)
		}
	}
}
