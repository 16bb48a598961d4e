package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

func testContact(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		e := NewEntry(tn.ID, vault.ActionContactCreate, r.ID)
		mustCode(t, "CreateContact", s.CreateContact(t.Context(), r, e), "")
		checkUnsequenced(t, "CreateContact", e)
		checkRecord(t, s, r)
		checkPending(t, s, e)
		// Once sequenced, it is the first entry of the log.
		settle(t, s)
		checkAudit(t, s, tn.ID, WithSeq(e, 0))
	})

	t.Run("Shapes", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		for _, tt := range []struct {
			name   string
			modify func(r *vault.Record)
		}{
			{"Minimal", func(r *vault.Record) {
				r.Sealed, r.Consents, r.Lookups, r.Tokens = nil, nil, nil, nil
			}},
			{"Empty", func(r *vault.Record) {
				r.Sealed, r.Consents, r.Lookups, r.Tokens = map[string][]byte{}, map[string]vault.ConsentState{}, []vault.Lookup{}, [][]byte{}
			}},
			{"Restricted", func(r *vault.Record) { r.Flags = vault.Flags{Restricted: true} }},
			{"Objected", func(r *vault.Record) { r.Flags = vault.Flags{Objected: true} }},
			{"BothFlags", func(r *vault.Record) { r.Flags = vault.Flags{Restricted: true, Objected: true} }},
			{"NoFlags", func(r *vault.Record) { r.Flags = vault.Flags{} }},
			{"OldTimes", func(r *vault.Record) {
				r.CreatedAt = time.Date(1999, 12, 31, 23, 59, 59, 123456000, time.UTC)
				r.UpdatedAt = time.Date(2001, 2, 3, 4, 5, 6, 789012000, time.UTC)
				r.Consents["newsletter"] = vault.ConsentState{Granted: true, At: time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC)}
			}},
			{"ManyLookups", func(r *vault.Record) {
				r.Lookups = append(r.Lookups, NewLookup("alt_email", true), NewLookup("postal_code", false))
			}},
			{"BigSealed", func(r *vault.Record) { r.Sealed["notes"] = RandomBytes(64 << 10) }},
			{"HighVersion", func(r *vault.Record) { r.Version = 41 }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := NewRecord(tn.ID)
				tt.modify(r)
				MustCreateContact(t, s, r)
				checkRecord(t, s, r)
			})
		}
	})

	t.Run("Copies", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		want := CloneRecord(r)
		MustCreateContact(t, s, r)
		// Neither the caller's record nor a returned one aliases the stored one.
		r.Sealed["given_name"][0] ^= 0xff
		r.WrappedKey[0] ^= 0xff
		r.Lookups[0].Token[0] ^= 0xff
		got, err := s.Contact(t.Context(), tn.ID, r.ID)
		mustCode(t, "Contact", err, "")
		got.Sealed["family_name"][0] ^= 0xff
		got.Tokens[0][0] ^= 0xff
		checkRecord(t, s, want)
	})

	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		MustCreateContact(t, s, r)
		settle(t, s)
		dup := NewRecord(tn.ID)
		dup.ID = r.ID
		e := NewEntry(tn.ID, vault.ActionContactCreate, dup.ID)
		checkCode(t, "CreateContact(existing id)", s.CreateContact(t.Context(), dup, e), vault.ECONFLICT)
		if e.Seq != 0 {
			t.Errorf("failed CreateContact: e.Seq = %d, want 0", e.Seq)
		}
		checkRecord(t, s, r)
		checkPending(t, s)
		checkFound(t, "FindContacts(new email)", find(t, s, tn.ID, FieldEmail, LookupToken(dup, FieldEmail), 10))
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		MustCreateContact(t, s, NewRecord(tn.ID))
		checkAbsent(t, s, tn.ID, vault.NewID(time.Now()))
	})
}

func testIsolation(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OtherTenant", func(t *testing.T) {
		s := open(t)
		a, b := MustCreateTenant(t, s), MustCreateTenant(t, s)
		r := NewRecord(a.ID)
		e := MustCreateContact(t, s, r)

		_, err := s.Contact(t.Context(), b.ID, r.ID)
		checkCode(t, "Contact(other tenant)", err, vault.ENOTFOUND)

		u := CloneRecord(r)
		u.TenantID = b.ID
		u.Version = r.Version + 1
		err = s.UpdateContact(t.Context(), u, NewEntry(b.ID, vault.ActionContactUpdate, r.ID))
		checkCode(t, "UpdateContact(other tenant)", err, vault.ENOTFOUND)

		err = s.EraseContact(t.Context(), b.ID, r.ID, NewEntry(b.ID, vault.ActionContactErase, r.ID))
		checkCode(t, "EraseContact(other tenant)", err, vault.ENOTFOUND)

		for _, l := range r.Lookups {
			call := fmt.Sprintf("FindContacts(other tenant, %s)", l.Field)
			checkFound(t, call, find(t, s, b.ID, l.Field, l.Token, 10))
		}

		checkRecord(t, s, r)
		checkPending(t, s, e)
		settle(t, s)
		checkAudit(t, s, a.ID, WithSeq(e, 0))
		checkAudit(t, s, b.ID)
	})

	t.Run("SameTokenOtherTenant", func(t *testing.T) {
		s := open(t)
		a, b := MustCreateTenant(t, s), MustCreateTenant(t, s)
		ra := NewRecord(a.ID)
		MustCreateContact(t, s, ra)
		rb := NewRecord(b.ID)
		SetLookupToken(rb, FieldEmail, LookupToken(ra, FieldEmail))
		SetLookupToken(rb, FieldPhone, LookupToken(ra, FieldPhone))
		rb.Tokens = ra.Tokens
		e := NewEntry(b.ID, vault.ActionContactCreate, rb.ID)
		checkCode(t, "CreateContact(email of another tenant)", s.CreateContact(t.Context(), rb, e), "")
		for _, f := range []string{FieldEmail, FieldPhone} {
			checkFound(t, "FindContacts(a, "+f+")", find(t, s, a.ID, f, LookupToken(ra, f), 10), ra)
			checkFound(t, "FindContacts(b, "+f+")", find(t, s, b.ID, f, LookupToken(ra, f), 10), rb)
		}
		checkRecord(t, s, ra)
		checkRecord(t, s, rb)
	})
}

func testUnique(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r1 := NewRecord(tn.ID)
		e1 := MustCreateContact(t, s, r1)
		r2 := NewRecord(tn.ID)
		SetLookupToken(r2, FieldEmail, LookupToken(r1, FieldEmail))
		e2 := NewEntry(tn.ID, vault.ActionContactCreate, r2.ID)
		checkCode(t, "CreateContact(taken email)", s.CreateContact(t.Context(), r2, e2), vault.ECONFLICT)
		if e2.Seq != 0 {
			t.Errorf("failed CreateContact: e.Seq = %d, want 0", e2.Seq)
		}
		checkAbsent(t, s, tn.ID, r2.ID)
		checkPending(t, s, e1)
		checkFound(t, "FindContacts(email)", find(t, s, tn.ID, FieldEmail, LookupToken(r1, FieldEmail), 10), r1)
		checkFound(t, "FindContacts(phone of the refused record)", find(t, s, tn.ID, FieldPhone, LookupToken(r2, FieldPhone), 10))
		// The next write's entry follows, with no gap: the failure left none.
		e3 := MustCreateContact(t, s, NewRecord(tn.ID))
		settle(t, s)
		checkAudit(t, s, tn.ID, WithSeq(e1, 0), WithSeq(e3, 1))
	})

	t.Run("OtherField", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r1 := NewRecord(tn.ID)
		MustCreateContact(t, s, r1)
		r2 := NewRecord(tn.ID)
		// The same token under another field is no conflict.
		r2.Lookups = append(r2.Lookups, vault.Lookup{Field: "alt_email", Token: LookupToken(r1, FieldEmail), Unique: true})
		MustCreateContact(t, s, r2)
		checkRecord(t, s, r2)
		checkFound(t, "FindContacts(alt_email)", find(t, s, tn.ID, "alt_email", LookupToken(r1, FieldEmail), 10), r2)
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		token := RandomBytes(32)
		const n = 16
		rs := make([]*vault.Record, n)
		errs := make([]error, n)
		for i := range rs {
			rs[i] = NewRecord(tn.ID)
			SetLookupToken(rs[i], FieldEmail, token)
		}
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range rs {
			wg.Go(func() {
				start.Wait()
				errs[i] = s.CreateContact(t.Context(), rs[i], NewEntry(tn.ID, vault.ActionContactCreate, rs[i].ID))
			})
		}
		start.Done()
		wg.Wait()
		var ok, conflict int
		var winner *vault.Record
		for i, err := range errs {
			switch vault.ErrorCode(err) {
			case "":
				ok++
				winner = rs[i]
			case vault.ECONFLICT:
				conflict++
			default:
				t.Errorf("CreateContact #%d = %v, want nil or ECONFLICT", i, err)
			}
		}
		if ok != 1 || conflict != n-1 {
			t.Fatalf("%d concurrent creates with one email: %d succeeded, %d conflicted, want 1 and %d", n, ok, conflict, n-1)
		}
		checkFound(t, "FindContacts(email)", find(t, s, tn.ID, FieldEmail, token, 100), winner)
		if ps := pendingAll(t, s); len(ps) != 1 || ps[0].Entry.Subject != winner.ID {
			t.Errorf("PendingAudit = %d entries, want 1, about %s", len(ps), winner.ID)
		}
		for _, r := range rs {
			if r != winner {
				checkAbsent(t, s, tn.ID, r.ID)
			}
		}
	})
}

func testFind(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("Shared", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		phone := RandomBytes(32)
		base := Now().Add(-time.Hour)
		var rs []*vault.Record
		for i := range 6 {
			r := NewRecord(tn.ID)
			SetLookupToken(r, FieldPhone, phone)
			r.CreatedAt = base.Add(time.Duration(i) * time.Millisecond)
			rs = append(rs, r)
		}
		// Two records created at the same instant are ordered by id.
		rs[5].CreatedAt = rs[4].CreatedAt
		// Insert in an order unrelated to the expected one.
		for _, i := range rand.Perm(len(rs)) {
			MustCreateContact(t, s, rs[i])
		}
		// A record of another household.
		MustCreateContact(t, s, NewRecord(tn.ID))
		sortRecords(rs)

		for _, limit := range []int{1, 3, 6, 100} {
			call := fmt.Sprintf("FindContacts(phone, limit %d)", limit)
			checkFound(t, call, find(t, s, tn.ID, FieldPhone, phone, limit), rs[:min(limit, len(rs))]...)
		}
	})

	t.Run("Unique", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		MustCreateContact(t, s, r)
		MustCreateContact(t, s, NewRecord(tn.ID))
		checkFound(t, "FindContacts(email)", find(t, s, tn.ID, FieldEmail, LookupToken(r, FieldEmail), 10), r)
	})

	t.Run("None", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		MustCreateContact(t, s, r)
		checkFound(t, "FindContacts(unknown token)", find(t, s, tn.ID, FieldEmail, RandomBytes(32), 10))
		checkFound(t, "FindContacts(token of another field)", find(t, s, tn.ID, FieldEmail, LookupToken(r, FieldPhone), 10))
		checkFound(t, "FindContacts(unknown field)", find(t, s, tn.ID, "nickname", LookupToken(r, FieldEmail), 10))
		checkFound(t, "FindContacts(segmentation token)", find(t, s, tn.ID, FieldEmail, r.Tokens[0], 10))
	})
}

func testUpdate(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		ec := MustCreateContact(t, s, r)

		u := &vault.Record{
			TenantID:   tn.ID,
			ID:         r.ID,
			WrappedKey: RandomBytes(60),
			Sealed: map[string][]byte{
				"given_name": RandomBytes(20),
				FieldEmail:   RandomBytes(44),
				"district":   RandomBytes(21),
			},
			Consents: map[string]vault.ConsentState{
				"newsletter": {Granted: false, At: Now()},
				"events":     {Granted: true, At: Now().Add(-time.Minute)},
			},
			Flags:     vault.Flags{Restricted: true, Objected: false},
			Lookups:   []vault.Lookup{NewLookup(FieldEmail, true), NewLookup("alt_phone", false)},
			Tokens:    [][]byte{RandomBytes(32), RandomBytes(32)},
			CreatedAt: r.CreatedAt.Add(time.Hour), // ignored: CreatedAt never changes
			UpdatedAt: r.UpdatedAt.Add(time.Second),
			Version:   r.Version + 1,
		}
		e := NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)
		mustCode(t, "UpdateContact", s.UpdateContact(t.Context(), u, e), "")
		checkUnsequenced(t, "UpdateContact", e)
		want := CloneRecord(u)
		want.CreatedAt = r.CreatedAt
		checkRecord(t, s, want)
		checkPending(t, s, ec, e)

		checkFound(t, "FindContacts(old email)", find(t, s, tn.ID, FieldEmail, LookupToken(r, FieldEmail), 10))
		checkFound(t, "FindContacts(old phone)", find(t, s, tn.ID, FieldPhone, LookupToken(r, FieldPhone), 10))
		checkFound(t, "FindContacts(new email)", find(t, s, tn.ID, FieldEmail, LookupToken(u, FieldEmail), 10), want)
		checkFound(t, "FindContacts(new alt_phone)", find(t, s, tn.ID, "alt_phone", LookupToken(u, "alt_phone"), 10), want)

		// The old email is free for another record.
		o := NewRecord(tn.ID)
		SetLookupToken(o, FieldEmail, LookupToken(r, FieldEmail))
		MustCreateContact(t, s, o)

		// Updating again, keeping the same unique token, is no conflict.
		u2 := CloneRecord(want)
		u2.Flags = vault.Flags{}
		u2.Version++
		u2.UpdatedAt = u.UpdatedAt.Add(time.Second)
		mustCode(t, "UpdateContact(same email)", s.UpdateContact(t.Context(), u2, NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)), "")
		checkRecord(t, s, u2)
	})

	t.Run("ErrConflictVersion", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r := NewRecord(tn.ID)
		r.Version = 3
		MustCreateContact(t, s, r)
		settle(t, s)
		for _, v := range []int64{0, 1, 2, 3, 5, 100} {
			u := NewRecord(tn.ID)
			u.ID = r.ID
			u.Version = v
			e := NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)
			checkCode(t, fmt.Sprintf("UpdateContact(Version %d over stored 3)", v), s.UpdateContact(t.Context(), u, e), vault.ECONFLICT)
			if e.Seq != 0 {
				t.Errorf("failed UpdateContact: e.Seq = %d, want 0", e.Seq)
			}
		}
		checkRecord(t, s, r)
		checkPending(t, s)
	})

	t.Run("ErrConflictUnique", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		a, b := NewRecord(tn.ID), NewRecord(tn.ID)
		MustCreateContact(t, s, a)
		MustCreateContact(t, s, b)
		settle(t, s)

		u := NewRecord(tn.ID)
		u.ID = b.ID
		u.Version = b.Version + 1
		SetLookupToken(u, FieldEmail, LookupToken(a, FieldEmail))
		e := NewEntry(tn.ID, vault.ActionContactUpdate, b.ID)
		checkCode(t, "UpdateContact(email of another record)", s.UpdateContact(t.Context(), u, e), vault.ECONFLICT)
		if e.Seq != 0 {
			t.Errorf("failed UpdateContact: e.Seq = %d, want 0", e.Seq)
		}
		checkRecord(t, s, a)
		checkRecord(t, s, b)
		checkPending(t, s)
		checkFound(t, "FindContacts(email of a)", find(t, s, tn.ID, FieldEmail, LookupToken(a, FieldEmail), 10), a)
		checkFound(t, "FindContacts(email of b)", find(t, s, tn.ID, FieldEmail, LookupToken(b, FieldEmail), 10), b)
		checkFound(t, "FindContacts(phone of the refused update)", find(t, s, tn.ID, FieldPhone, LookupToken(u, FieldPhone), 10))
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		MustCreateContact(t, s, NewRecord(tn.ID))
		settle(t, s)
		u := NewRecord(tn.ID)
		u.Version = 2
		e := NewEntry(tn.ID, vault.ActionContactUpdate, u.ID)
		checkCode(t, "UpdateContact(missing)", s.UpdateContact(t.Context(), u, e), vault.ENOTFOUND)
		checkAbsent(t, s, tn.ID, u.ID)
		checkPending(t, s)
	})
}

func testErase(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		r, o := NewRecord(tn.ID), NewRecord(tn.ID)
		SetLookupToken(o, FieldPhone, LookupToken(r, FieldPhone))
		o.Tokens = append(o.Tokens, r.Tokens[0])
		MustCreateContact(t, s, r)
		MustCreateContact(t, s, o)
		settle(t, s)

		e := NewEntry(tn.ID, vault.ActionContactErase, r.ID)
		mustCode(t, "EraseContact", s.EraseContact(t.Context(), tn.ID, r.ID, e), "")
		checkUnsequenced(t, "EraseContact", e)
		checkAbsent(t, s, tn.ID, r.ID)
		checkPending(t, s, e)
		checkFound(t, "FindContacts(erased email)", find(t, s, tn.ID, FieldEmail, LookupToken(r, FieldEmail), 10))
		checkFound(t, "FindContacts(shared phone)", find(t, s, tn.ID, FieldPhone, LookupToken(r, FieldPhone), 10), o)
		checkRecord(t, s, o)

		e2 := NewEntry(tn.ID, vault.ActionContactErase, r.ID)
		checkCode(t, "EraseContact(erased)", s.EraseContact(t.Context(), tn.ID, r.ID, e2), vault.ENOTFOUND)
		u := CloneRecord(r)
		u.Version++
		checkCode(t, "UpdateContact(erased)", s.UpdateContact(t.Context(), u, NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)), vault.ENOTFOUND)
		checkPending(t, s, e)

		// The erased record's unique email is free again.
		n := NewRecord(tn.ID)
		SetLookupToken(n, FieldEmail, LookupToken(r, FieldEmail))
		MustCreateContact(t, s, n)
		checkFound(t, "FindContacts(email after re-create)", find(t, s, tn.ID, FieldEmail, LookupToken(r, FieldEmail), 10), n)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		MustCreateContact(t, s, NewRecord(tn.ID))
		settle(t, s)
		id := vault.NewID(time.Now())
		e := NewEntry(tn.ID, vault.ActionContactErase, id)
		checkCode(t, "EraseContact(missing)", s.EraseContact(t.Context(), tn.ID, id, e), vault.ENOTFOUND)
		if e.Seq != 0 {
			t.Errorf("failed EraseContact: e.Seq = %d, want 0", e.Seq)
		}
		checkPending(t, s)
	})
}

func testLoad(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("Bulk", func(t *testing.T) {
		s := open(t)
		tn := MustCreateTenant(t, s)
		const n = 2000
		phone := RandomBytes(32)
		base := Now().Add(-time.Hour)
		rs := make([]*vault.Record, n)
		for i := range rs {
			rs[i] = NewRecord(tn.ID)
			rs[i].CreatedAt = base.Add(time.Duration(i) * time.Microsecond)
			SetLookupToken(rs[i], FieldPhone, phone)
		}
		e := NewEntry(tn.ID, "contact.import", "")
		e.Fields = nil
		mustCode(t, "LoadContacts(2000)", s.LoadContacts(t.Context(), rs, e), "")
		checkUnsequenced(t, "LoadContacts", e)
		checkPending(t, s, e)
		checkFound(t, "FindContacts(shared phone)", find(t, s, tn.ID, FieldPhone, phone, n+1), rs...)
		for _, i := range []int{0, 1, n / 2, n - 1} {
			checkFound(t, fmt.Sprintf("FindContacts(email of #%d)", i), find(t, s, tn.ID, FieldEmail, LookupToken(rs[i], FieldEmail), 10), rs[i])
		}
	})

	for _, tt := range []struct {
		name string
		// spoil makes the batch fail, given a record already stored.
		spoil func(batch []*vault.Record, stored *vault.Record)
	}{
		{"ErrConflictStoredEmail", func(batch []*vault.Record, stored *vault.Record) {
			SetLookupToken(batch[7], FieldEmail, LookupToken(stored, FieldEmail))
		}},
		{"ErrConflictBatchEmail", func(batch []*vault.Record, stored *vault.Record) {
			SetLookupToken(batch[8], FieldEmail, LookupToken(batch[2], FieldEmail))
		}},
		{"ErrConflictStoredID", func(batch []*vault.Record, stored *vault.Record) {
			batch[9].ID = stored.ID
		}},
		{"ErrConflictBatchID", func(batch []*vault.Record, stored *vault.Record) {
			batch[5].ID = batch[1].ID
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			tn := MustCreateTenant(t, s)
			stored := NewRecord(tn.ID)
			MustCreateContact(t, s, stored)
			settle(t, s)
			batch := make([]*vault.Record, 10)
			for i := range batch {
				batch[i] = NewRecord(tn.ID)
			}
			tt.spoil(batch, stored)
			e := NewEntry(tn.ID, "contact.import", "")
			checkCode(t, "LoadContacts", s.LoadContacts(t.Context(), batch, e), vault.ECONFLICT)
			if e.Seq != 0 {
				t.Errorf("failed LoadContacts: e.Seq = %d, want 0", e.Seq)
			}
			for _, r := range batch {
				if r.ID == stored.ID {
					continue
				}
				checkAbsent(t, s, tn.ID, r.ID)
				checkFound(t, "FindContacts(phone of a refused record)", find(t, s, tn.ID, FieldPhone, LookupToken(r, FieldPhone), 10))
			}
			checkRecord(t, s, stored)
			checkPending(t, s)
		})
	}
}
