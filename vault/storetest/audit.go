package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

func testAudit(t *testing.T, open func(t *testing.T) vault.Store) {
	// Every write commits its entry pending, exactly once, and nothing is
	// visible to AuditEntries before the sequencer numbers it.
	t.Run("Pending", func(t *testing.T) {
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

		reads := []*vault.AuditEntry{NewEntry(tn.ID, vault.ActionContactRead, r.ID), NewEntry(tn.ID, vault.ActionContactSearch, "")}
		mustCode(t, "AppendAudit", s.AppendAudit(t.Context(), reads), "")
		want = append(want, reads...)

		e = NewEntry(tn.ID, vault.ActionContactErase, r.ID)
		mustCode(t, "EraseContact", s.EraseContact(t.Context(), tn.ID, r.ID, e), "")
		want = append(want, e)

		for i, e := range want {
			checkUnsequenced(t, fmt.Sprintf("write #%d (%s)", i, e.Action), e)
		}
		checkPending(t, s, want...)
		// Reading the pending entries does not take them.
		checkPending(t, s, want...)
		ps, err := s.PendingAudit(t.Context(), 2)
		mustCode(t, "PendingAudit(2)", err, "")
		if len(ps) != 2 || ps[0].Entry.RequestID != want[0].RequestID || ps[1].Entry.RequestID != want[1].RequestID {
			t.Errorf("PendingAudit(2) = %d entries, want the first 2 written", len(ps))
		}
		checkAudit(t, s, tn.ID)
		if head, err := s.AuditHead(t.Context()); err != nil || head != nil {
			t.Errorf("AuditHead before sequencing = %x, %v; want nil, nil", head, err)
		}
	})

	t.Run("Fields", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		full := NewEntry(tn.ID, vault.ActionContactCreate, "")
		full.Time = time.Date(2024, 2, 29, 13, 14, 15, 161718000, time.UTC)
		full.Fields = []string{"given_name", "family_name", "email", "phone", "consent.newsletter"}
		full.Outcome = vault.OutcomeDenied
		full.Sealed = RandomBytes(4096)
		bare := &vault.AuditEntry{Time: Now(), TenantID: tn.ID, Action: vault.ActionContactCreate, Outcome: vault.OutcomeOK}
		// Strings that need quoting or escaping somewhere, and a zero time
		// the store stamps.
		odd := NewEntry(tn.ID, "contact.read", "")
		odd.Time = time.Time{}
		odd.Fields = []string{`a"b`, `c\d`, "e,f", "{g}", "NULL", "", " h ", "é€😀", "'i'"}
		odd.Purpose, odd.ActorID, odd.PolicyRevision = "purpose \"with\" 'quotes'", "tok\\1", "rev\t2\n"
		var want []*vault.AuditEntry
		for _, e := range []*vault.AuditEntry{full, bare, odd} {
			r := NewRecord(tn.ID)
			c := *e
			c.Subject = r.ID
			mustCode(t, "CreateContact", s.CreateContact(t.Context(), r, &c), "")
			want = append(want, &c)
		}
		// The same entries appended as a batch, and one alone.
		batch := []*vault.AuditEntry{ptr(*full), ptr(*bare), ptr(*odd)}
		mustCode(t, "AppendAudit(3)", s.AppendAudit(t.Context(), batch), "")
		one := ptr(*odd)
		mustCode(t, "AppendAudit(1)", s.AppendAudit(t.Context(), []*vault.AuditEntry{one}), "")
		want = append(want, append(batch, one)...)
		for _, e := range want {
			if e.Time.IsZero() {
				t.Fatalf("write left a zero e.Time, want the store's time")
			}
		}
		checkPending(t, s, want...)
		settle(t, s)
		var seqd []*vault.AuditEntry
		for i, e := range want {
			seqd = append(seqd, WithSeq(e, uint64(i)))
		}
		checkAudit(t, s, tn.ID, seqd...)
		CheckLog(t, s)
	})

	// Sequencing numbers the pending entries 0, 1, … in the order written,
	// and stores what the tree needs.
	t.Run("Sequence", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		var want []*vault.AuditEntry
		for range 5 {
			want = append(want, MustCreateContact(t, s, NewRecord(tn.ID)))
		}
		reads := []*vault.AuditEntry{NewEntry(tn.ID, "contact.read", ""), NewEntry(tn.ID, "contact.read", ""), NewEntry(tn.ID, "contact.read", "")}
		mustCode(t, "AppendAudit", s.AppendAudit(t.Context(), reads), "")
		want = append(want, reads...)

		tree := SequenceAll(t, s)
		if tree.Size() != 8 {
			t.Fatalf("tree size after sequencing 8 entries = %d", tree.Size())
		}
		checkPending(t, s)
		head, err := s.AuditHead(t.Context())
		mustCode(t, "AuditHead", err, "")
		if b, _ := tree.MarshalBinary(); string(head) != string(b) {
			t.Errorf("AuditHead = %x, want the sequencer's head %x", head, b)
		}
		for i := range want {
			want[i] = WithSeq(want[i], uint64(i))
		}
		checkAudit(t, s, tn.ID, want...)
		CheckLog(t, s)

		// Nothing pending: sequencing again changes nothing.
		if again := SequenceAll(t, s); string(again.Root()) != string(tree.Root()) || again.Size() != 8 {
			t.Errorf("sequencing with nothing pending changed the tree")
		}
		// Later entries follow on.
		e := MustCreateContact(t, s, NewRecord(tn.ID))
		SequenceAll(t, s)
		checkAudit(t, s, tn.ID, append(want, WithSeq(e, 8))...)
		CheckLog(t, s)
	})

	t.Run("DenseConcurrent", func(t *testing.T) {
		s := open(t)
		tenants := []*vault.Tenant{MustCreateTenant(t, s), MustCreateTenant(t, s)}
		stop := StartSequencer(s, time.Millisecond)
		const workers, each = 16, 20
		entries := make([][]*vault.AuditEntry, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					tn := tenants[(w+i)%len(tenants)]
					r := NewRecord(tn.ID)
					e := NewEntry(tn.ID, vault.ActionContactCreate, r.ID)
					var err error
					if i%5 == 4 {
						e.Action = vault.ActionContactRead
						err = s.AppendAudit(t.Context(), []*vault.AuditEntry{e})
					} else {
						err = s.CreateContact(t.Context(), r, e)
					}
					if err != nil {
						t.Errorf("worker %d: write #%d = %v, want nil", w, i, err)
						return
					}
					entries[w] = append(entries[w], e)
				}
			})
		}
		wg.Wait()
		tree, err := stop()
		if err != nil {
			t.Fatalf("sequencer: %v", err)
		}
		if t.Failed() {
			return
		}
		if tree.Size() != workers*each {
			t.Errorf("tree size = %d, want %d", tree.Size(), workers*each)
		}
		checkPending(t, s)
		checkDense(t, s, tenants, slices.Concat(entries...))
		CheckLog(t, s)
	})

	// Sequencers racing over the same pending entries number each once:
	// the loser of each race finds the head moved and starts again.
	t.Run("ConcurrentSequencers", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		var written []*vault.AuditEntry
		for range 10 {
			batch := make([]*vault.AuditEntry, 20)
			for i := range batch {
				batch[i] = NewEntry(tn.ID, vault.ActionContactRead, "")
			}
			mustCode(t, "AppendAudit(20)", s.AppendAudit(t.Context(), batch), "")
			written = append(written, batch...)
		}
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				if _, err := Sequence(context.Background(), s, 7+i); err != nil {
					t.Errorf("sequencer %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		checkPending(t, s)
		checkDense(t, s, []*vault.Tenant{tn}, written)
		if tree := CheckLog(t, s); tree.Size() != uint64(len(written)) {
			t.Errorf("tree size = %d, want %d", tree.Size(), len(written))
		}
	})

	t.Run("DenseAfterFailures", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		var ok []*vault.AuditEntry
		ok = append(ok, MustCreateContact(t, s, r))
		for range 5 {
			dup := NewRecord(tn.ID)
			SetLookupToken(dup, FieldEmail, LookupToken(r, FieldEmail))
			checkCode(t, "CreateContact(taken email)", s.CreateContact(t.Context(), dup, NewEntry(tn.ID, vault.ActionContactCreate, dup.ID)), vault.ECONFLICT)
			stale := CloneRecord(r)
			checkCode(t, "UpdateContact(stale)", s.UpdateContact(t.Context(), stale, NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)), vault.ECONFLICT)
			bad := NewEntry(tn.ID, vault.ActionContactRead, "")
			bad.Time = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
			checkCode(t, "AppendAudit(entry of 1960)", s.AppendAudit(t.Context(), []*vault.AuditEntry{NewEntry(tn.ID, vault.ActionContactRead, ""), bad}), vault.EINVALID)
			ok = append(ok, MustCreateContact(t, s, NewRecord(tn.ID)))
		}
		checkPending(t, s, ok...)
		settle(t, s)
		for i := range ok {
			ok[i] = WithSeq(ok[i], uint64(i))
		}
		checkAudit(t, s, tn.ID, ok...)
	})

	t.Run("AppendAudit", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		batch := make([]*vault.AuditEntry, 64)
		for i := range batch {
			batch[i] = NewEntry(tn.ID, vault.ActionContactRead, vault.NewID(time.Now()))
			batch[i].Fields = []string{fmt.Sprintf("field_%d", i)}
		}
		batch[3].Time = time.Time{}
		mustCode(t, "AppendAudit(64)", s.AppendAudit(t.Context(), batch), "")
		if batch[3].Time.IsZero() {
			t.Errorf("AppendAudit left a zero Time, want the store's time")
		}
		checkPending(t, s, batch...)
		settle(t, s)

		mustCode(t, "AppendAudit(nil)", s.AppendAudit(t.Context(), nil), "")
		mustCode(t, "AppendAudit(empty)", s.AppendAudit(t.Context(), []*vault.AuditEntry{}), "")
		checkPending(t, s)

		// A batch is appended whole or not at all.
		for _, tt := range []struct {
			name  string
			spoil func(e *vault.AuditEntry) *vault.AuditEntry
		}{
			{"Nil", func(e *vault.AuditEntry) *vault.AuditEntry { return nil }},
			{"NoTenant", func(e *vault.AuditEntry) *vault.AuditEntry { e.TenantID = ""; return e }},
			{"NoAction", func(e *vault.AuditEntry) *vault.AuditEntry { e.Action = ""; return e }},
			{"Before1970", func(e *vault.AuditEntry) *vault.AuditEntry {
				e.Time = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)
				return e
			}},
			{"Year10000", func(e *vault.AuditEntry) *vault.AuditEntry {
				e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
				return e
			}},
			{"InvalidUTF8", func(e *vault.AuditEntry) *vault.AuditEntry { e.Purpose = "bad\xff"; return e }},
			{"InvalidUTF8Field", func(e *vault.AuditEntry) *vault.AuditEntry { e.Fields = []string{"ok", "\xc3"}; return e }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				b := []*vault.AuditEntry{NewEntry(tn.ID, vault.ActionContactRead, ""), NewEntry(tn.ID, vault.ActionContactRead, "")}
				b = append(b, tt.spoil(NewEntry(tn.ID, vault.ActionContactRead, "")))
				checkCode(t, "AppendAudit", s.AppendAudit(t.Context(), b), vault.EINVALID)
				checkPending(t, s)
			})
		}
	})

	t.Run("Filter", testAuditFilter(open))

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
		settle(t, s)
		var got []*vault.AuditEntry
		f := vault.AuditFilter{TenantID: a.ID, Limit: 10}
		for page := 0; ; page++ {
			es, err := s.AuditEntries(t.Context(), f)
			mustCode(t, fmt.Sprintf("AuditEntries(a, from %d, 10)", f.From), err, "")
			if len(es) > 10 {
				t.Fatalf("AuditEntries(a, from %d, 10) = %d entries, want at most 10", f.From, len(es))
			}
			if len(es) == 0 {
				break
			}
			if page > 5 {
				t.Fatalf("AuditEntries(a, …, 10) still returns entries after %d pages", page)
			}
			got = append(got, es...)
			f.From = es[len(es)-1].Seq + 1
		}
		if len(got) != len(wantA) {
			t.Fatalf("AuditEntries(a) paged = %d entries, want %d", len(got), len(wantA))
		}
		for i := range got {
			if d := DiffEntry(got[i], WithSeq(wantA[i], got[i].Seq)); d != "" {
				t.Errorf("AuditEntries(a)[%d]: %s", i, d)
			}
			if i > 0 && got[i].Seq <= got[i-1].Seq {
				t.Errorf("AuditEntries(a)[%d].Seq = %d after %d, want increasing", i, got[i].Seq, got[i-1].Seq)
			}
		}
	})
}

// ptr returns a pointer to a copy of e.
func ptr(e vault.AuditEntry) *vault.AuditEntry { return &e }

// checkDense reports an error unless the sequenced entries of tenants
// have Seq exactly 0..len(written)-1 and are the written entries, each
// once (matched by RequestID, which NewEntry makes unique).
func checkDense(t *testing.T, s vault.Store, tenants []*vault.Tenant, written []*vault.AuditEntry) {
	t.Helper()
	var all []*vault.AuditEntry
	for _, tn := range tenants {
		all = append(all, auditAll(t, s, tn.ID)...)
	}
	slices.SortFunc(all, func(a, b *vault.AuditEntry) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	if len(all) != len(written) {
		t.Errorf("sequenced entries = %d, want %d", len(all), len(written))
	}
	for i, e := range all {
		if e.Seq != uint64(i) {
			t.Errorf("entry #%d: Seq = %d, want %d (Seq must be dense)", i, e.Seq, i)
			break
		}
	}
	byRequest := make(map[string]*vault.AuditEntry)
	for _, e := range written {
		byRequest[e.RequestID] = e
	}
	for _, e := range all {
		w, ok := byRequest[e.RequestID]
		if !ok {
			t.Errorf("entry Seq %d (request %s): not written, or twice in the log", e.Seq, e.RequestID)
			continue
		}
		delete(byRequest, e.RequestID)
		if d := DiffEntry(e, WithSeq(w, e.Seq)); d != "" {
			t.Errorf("entry Seq %d: %s", e.Seq, d)
		}
	}
	if len(byRequest) > 0 {
		t.Errorf("%d written entries missing from the log", len(byRequest))
	}
}

// testAuditFilter checks each field of vault.AuditFilter over a log of two
// tenants.
func testAuditFilter(open func(t *testing.T) vault.Store) func(t *testing.T) {
	return func(t *testing.T) {
		s := open(t)
		a, b := MustCreateTenant(t, s), MustCreateTenant(t, s)
		subjects := []string{vault.NewID(time.Now()), vault.NewID(time.Now()), vault.NewID(time.Now()), ""}
		actors := []string{"tok-alice", "tok-bob", "tok-carol"}
		actions := []string{vault.ActionContactRead, vault.ActionContactUpdate}
		t0 := Now().Add(-time.Hour)
		var log []*vault.AuditEntry
		for i := range 60 {
			tenant := a.ID
			if i%3 == 2 {
				tenant = b.ID
			}
			e := NewEntry(tenant, actions[i%2], subjects[i%4])
			e.ActorID = actors[i%3]
			e.Time = t0.Add(time.Duration(i) * time.Minute)
			log = append(log, e)
		}
		mustCode(t, "AppendAudit", s.AppendAudit(t.Context(), log), "")
		settle(t, s)
		for i := range log {
			log[i] = WithSeq(log[i], uint64(i))
		}
		// Pending entries are never returned.
		late := NewEntry(a.ID, actions[0], subjects[0])
		late.ActorID = actors[0]
		mustCode(t, "AppendAudit(late)", s.AppendAudit(t.Context(), []*vault.AuditEntry{late}), "")

		for _, tt := range []struct {
			name string
			f    vault.AuditFilter
			keep func(e *vault.AuditEntry) bool
		}{
			{"Tenant", vault.AuditFilter{TenantID: a.ID}, func(e *vault.AuditEntry) bool { return e.TenantID == a.ID }},
			{"OtherTenant", vault.AuditFilter{TenantID: b.ID}, func(e *vault.AuditEntry) bool { return e.TenantID == b.ID }},
			{"UnknownTenant", vault.AuditFilter{TenantID: "tenant-unknown"}, func(e *vault.AuditEntry) bool { return false }},
			{"Subject", vault.AuditFilter{TenantID: a.ID, Subject: subjects[1]}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && e.Subject == subjects[1]
			}},
			{"SubjectOfOtherTenant", vault.AuditFilter{TenantID: b.ID, Subject: subjects[0]}, func(e *vault.AuditEntry) bool {
				return e.TenantID == b.ID && e.Subject == subjects[0]
			}},
			{"UnknownSubject", vault.AuditFilter{TenantID: a.ID, Subject: vault.NewID(time.Now())}, func(e *vault.AuditEntry) bool { return false }},
			{"Actor", vault.AuditFilter{TenantID: a.ID, ActorID: actors[1]}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && e.ActorID == actors[1]
			}},
			{"Action", vault.AuditFilter{TenantID: a.ID, Action: actions[1]}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && e.Action == actions[1]
			}},
			{"SubjectAndAction", vault.AuditFilter{TenantID: a.ID, Subject: subjects[2], Action: actions[0]}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && e.Subject == subjects[2] && e.Action == actions[0]
			}},
			{"ActorAndAction", vault.AuditFilter{TenantID: a.ID, ActorID: actors[0], Action: actions[1]}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && e.ActorID == actors[0] && e.Action == actions[1]
			}},
			{"Since", vault.AuditFilter{TenantID: a.ID, Since: t0.Add(40 * time.Minute)}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && !e.Time.Before(t0.Add(40*time.Minute))
			}},
			{"Until", vault.AuditFilter{TenantID: a.ID, Until: t0.Add(10 * time.Minute)}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && e.Time.Before(t0.Add(10*time.Minute))
			}},
			{"SinceUntil", vault.AuditFilter{TenantID: a.ID, Since: t0.Add(20 * time.Minute), Until: t0.Add(30 * time.Minute)}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && !e.Time.Before(t0.Add(20*time.Minute)) && e.Time.Before(t0.Add(30*time.Minute))
			}},
			{"SinceAfterUntil", vault.AuditFilter{TenantID: a.ID, Since: t0.Add(30 * time.Minute), Until: t0.Add(20 * time.Minute)}, func(e *vault.AuditEntry) bool { return false }},
			{"From", vault.AuditFilter{TenantID: a.ID, From: 31}, func(e *vault.AuditEntry) bool { return e.TenantID == a.ID && e.Seq >= 31 }},
			{"FromOtherTenantsEntry", vault.AuditFilter{TenantID: a.ID, From: 32}, func(e *vault.AuditEntry) bool { return e.TenantID == a.ID && e.Seq >= 32 }},
			{"FromPastEnd", vault.AuditFilter{TenantID: a.ID, From: 60}, func(e *vault.AuditEntry) bool { return false }},
			{"FromHuge", vault.AuditFilter{TenantID: a.ID, From: 1<<64 - 1}, func(e *vault.AuditEntry) bool { return false }},
			{"SubjectFrom", vault.AuditFilter{TenantID: a.ID, Subject: subjects[0], From: 10}, func(e *vault.AuditEntry) bool {
				return e.TenantID == a.ID && e.Subject == subjects[0] && e.Seq >= 10
			}},
		} {
			for _, limit := range []int{1, 3, 1000} {
				t.Run(fmt.Sprintf("%s/Limit%d", tt.name, limit), func(t *testing.T) {
					f := tt.f
					f.Limit = limit
					got, err := s.AuditEntries(t.Context(), f)
					mustCode(t, "AuditEntries", err, "")
					var want []*vault.AuditEntry
					for _, e := range log {
						if tt.keep(e) && len(want) < limit {
							want = append(want, e)
						}
					}
					if len(got) != len(want) {
						t.Fatalf("AuditEntries(%+v) = Seq %v, want %v", f, seqs(got), seqs(want))
					}
					for i := range got {
						if d := DiffEntry(got[i], want[i]); d != "" {
							t.Errorf("AuditEntries(%+v)[%d]: %s", f, i, d)
						}
					}
				})
			}
		}

		for _, f := range []vault.AuditFilter{
			{Limit: 10},
			{TenantID: a.ID},
			{TenantID: a.ID, Limit: -1},
			{TenantID: a.ID, Limit: 1001},
		} {
			_, err := s.AuditEntries(t.Context(), f)
			checkCode(t, fmt.Sprintf("AuditEntries(tenant %q, limit %d)", f.TenantID, f.Limit), err, vault.EINVALID)
		}
	}
}
