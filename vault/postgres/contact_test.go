package postgres_test

import (
	"testing"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// TestFailedWritesReleaseConnection checks, on a pool of one connection,
// that every way a write can fail (in its first statements, in a later
// one, on a version check between two round trips) ends its transaction:
// the next write on the same connection starts afresh and commits.
func TestFailedWritesReleaseConnection(t *testing.T) {
	db, _ := pgtest.MustOpen(t, postgres.WithMaxConns(1))
	tn := storetest.MustCreateTenant(t, db)
	ctx := t.Context()
	r := storetest.NewRecord(tn.ID)
	var want []*vault.AuditEntry
	want = append(want, storetest.MustCreateContact(t, db, r))

	failures := []struct {
		name string
		call func() error
		code string
	}{
		{"CreateContact(existing id)", func() error {
			dup := storetest.NewRecord(tn.ID)
			dup.ID = r.ID
			return db.CreateContact(ctx, dup, storetest.NewEntry(tn.ID, vault.ActionContactCreate, dup.ID))
		}, vault.ECONFLICT},
		{"CreateContact(taken email)", func() error {
			dup := storetest.NewRecord(tn.ID)
			storetest.SetLookupToken(dup, storetest.FieldEmail, storetest.LookupToken(r, storetest.FieldEmail))
			return db.CreateContact(ctx, dup, storetest.NewEntry(tn.ID, vault.ActionContactCreate, dup.ID))
		}, vault.ECONFLICT},
		{"UpdateContact(missing)", func() error {
			u := storetest.NewRecord(tn.ID)
			u.Version = 2
			return db.UpdateContact(ctx, u, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, u.ID))
		}, vault.ENOTFOUND},
		{"UpdateContact(stale)", func() error {
			return db.UpdateContact(ctx, storetest.CloneRecord(r), storetest.NewEntry(tn.ID, vault.ActionContactUpdate, r.ID))
		}, vault.ECONFLICT},
		{"EraseContact(missing)", func() error {
			id := storetest.NewRecord(tn.ID).ID
			return db.EraseContact(ctx, tn.ID, id, storetest.NewEntry(tn.ID, vault.ActionContactErase, id))
		}, vault.ENOTFOUND},
		{"CreateToken(existing id)", func() error {
			k := storetest.NewToken(tn.ID)
			if err := db.CreateToken(ctx, k, storetest.NewEntry(tn.ID, vault.ActionTokenCreate, "")); err != nil {
				return err
			}
			want = append(want, nil) // the first create succeeded; checked by count below
			return db.CreateToken(ctx, k, storetest.NewEntry(tn.ID, vault.ActionTokenCreate, ""))
		}, vault.ECONFLICT},
	}
	for _, f := range failures {
		if err := f.call(); vault.ErrorCode(err) != f.code {
			t.Errorf("%s = %v, want code %q", f.name, err, f.code)
		}
		n := storetest.NewRecord(tn.ID)
		e := storetest.NewEntry(tn.ID, vault.ActionContactCreate, n.ID)
		if err := db.CreateContact(ctx, n, e); err != nil {
			t.Fatalf("CreateContact after %s = %v, want nil", f.name, err)
		}
		want = append(want, e)
	}
	ps, err := db.PendingAudit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != len(want) {
		t.Errorf("PendingAudit = %d entries, want %d", len(ps), len(want))
	}
}

// TestUpdateLookups checks that UpdateContact rewrites only the lookups
// that changed, including one that only changed uniqueness.
func TestUpdateLookups(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	ctx := t.Context()
	r := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, r)

	// The shared phone becomes unique, the email stays, a lookup is listed
	// twice.
	u := storetest.CloneRecord(r)
	u.Version++
	u.Lookups[1].Unique = true
	u.Lookups = append(u.Lookups, u.Lookups[0])
	if err := db.UpdateContact(ctx, u, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)); err != nil {
		t.Fatalf("UpdateContact = %v, want nil", err)
	}
	phone := storetest.LookupToken(r, storetest.FieldPhone)
	found, err := db.FindContacts(ctx, tn.ID, storetest.FieldPhone, phone, 10)
	if err != nil || len(found) != 1 {
		t.Fatalf("FindContacts(phone) = %d records, %v; want 1", len(found), err)
	}
	// Now unique: another record cannot take it.
	o := storetest.NewRecord(tn.ID)
	storetest.SetLookupToken(o, storetest.FieldPhone, phone)
	o.Lookups[1].Unique = true
	if err := db.CreateContact(ctx, o, storetest.NewEntry(tn.ID, vault.ActionContactCreate, o.ID)); vault.ErrorCode(err) != vault.ECONFLICT {
		t.Errorf("CreateContact(phone made unique) = %v, want ECONFLICT", err)
	}
	email := storetest.LookupToken(r, storetest.FieldEmail)
	if found, err := db.FindContacts(ctx, tn.ID, storetest.FieldEmail, email, 10); err != nil || len(found) != 1 {
		t.Errorf("FindContacts(email listed twice) = %d records, %v; want 1", len(found), err)
	}
	got, err := db.Contact(ctx, tn.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := storetest.DiffRecord(got, u); d != "" {
		t.Errorf("Contact after update: %s", d)
	}

	// Erasing removes every lookup, the repeated one included.
	if err := db.EraseContact(ctx, tn.ID, r.ID, storetest.NewEntry(tn.ID, vault.ActionContactErase, r.ID)); err != nil {
		t.Fatal(err)
	}
	for _, l := range u.Lookups {
		if found, err := db.FindContacts(ctx, tn.ID, l.Field, l.Token, 10); err != nil || len(found) != 0 {
			t.Errorf("FindContacts(%s) after erase = %d records, %v; want none", l.Field, len(found), err)
		}
	}
}
