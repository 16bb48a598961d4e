package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// coalescedCreate is a create queued behind a held slot, with what it
// must come to.
type coalescedCreate struct {
	rec     *vault.Record
	entry   *vault.AuditEntry
	code    string // "" when the create must succeed, eitherOutcome when it may fail
	written bool   // whether the record must exist afterwards, unless eitherOutcome
}

// eitherOutcome is the code of a create that may succeed or fail with
// ECONFLICT: one of two creates of one unique email, queued in an order
// the test does not set.
const eitherOutcome = "either"

// runCreates queues cs behind the held create slot, with one more create
// whose context ends while it waits, lets them run and checks each
// outcome, the records and the pending entries. It returns the writer
// transaction ids of the entries of the creates that succeeded.
func runCreates(t *testing.T, db *postgres.DB, cs []coalescedCreate) map[string]bool {
	t.Helper()
	ctx := context.Background()
	errs := make([]error, len(cs))
	cancelledRec := storetest.NewRecord(cs[0].rec.TenantID)
	cancelled := runQueued(t, postgres.HoldCreates, db, len(cs), func(i int) {
		errs[i] = db.CreateContact(ctx, cs[i].rec, cs[i].entry)
	}, func(ctx context.Context) error {
		return db.CreateContact(ctx, cancelledRec, storetest.NewEntry(cancelledRec.TenantID, vault.ActionContactCreate, cancelledRec.ID))
	})
	if !errors.Is(cancelled, context.Canceled) {
		t.Errorf("a create cancelled while queued returned %v, want context.Canceled", cancelled)
	}
	if _, err := db.Contact(ctx, cancelledRec.TenantID, cancelledRec.ID); vault.ErrorCode(err) != vault.ENOTFOUND {
		t.Errorf("the create cancelled while queued wrote its record: %v", err)
	}
	txids := map[string]bool{}
	for i, c := range cs {
		if c.code == eitherOutcome {
			if errs[i] != nil && vault.ErrorCode(errs[i]) != vault.ECONFLICT {
				t.Errorf("create %d: %v, want success or ECONFLICT", i, errs[i])
			}
			c.code, c.written = vault.ErrorCode(errs[i]), errs[i] == nil
		}
		if got := vault.ErrorCode(errs[i]); got != c.code || (c.code == "") != (errs[i] == nil) {
			t.Errorf("create %d: %v, want code %q", i, errs[i], c.code)
		}
		got, err := db.Contact(ctx, c.rec.TenantID, c.rec.ID)
		switch {
		case c.written && err != nil:
			t.Errorf("create %d: record not stored: %v", i, err)
		case !c.written && vault.ErrorCode(err) != vault.ENOTFOUND:
			t.Errorf("create %d: Contact = %v, want ENOTFOUND", i, err)
		case c.written && c.code == "":
			if d := storetest.DiffRecord(got, c.rec); d != "" {
				t.Errorf("create %d: %s", i, d)
			}
		}
		var n int
		var txid string
		err = postgres.Pool(db).QueryRow(ctx, `SELECT count(*), coalesce(min(txid::text), '') FROM audit_entries
			WHERE tenant_id = $1 AND request_id = $2`, c.entry.TenantID, c.entry.RequestID).Scan(&n, &txid)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1}[errs[i] == nil]; n != want {
			t.Errorf("create %d: %d audit entries, want %d", i, n, want)
		}
		if errs[i] == nil {
			txids[txid] = true
		}
	}
	return txids
}

// TestCoalescedCreates queues creates behind the held slot: those that
// can all succeed commit in one transaction; a batch the database refuses
// (two records with the same unique email, an id taken) runs each create
// again alone, so that each gets the outcome it would have had alone; a
// suppressed create fails alone in the batch and writes nothing.
func TestCoalescedCreates(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	ctx := context.Background()
	a, b := storetest.MustCreateTenant(t, db), storetest.MustCreateTenant(t, db)
	newCreate := func(tn *vault.Tenant) coalescedCreate {
		r := storetest.NewRecord(tn.ID)
		return coalescedCreate{rec: r, entry: storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID), written: true}
	}

	t.Run("OneTransaction", func(t *testing.T) {
		var cs []coalescedCreate
		for i := range 20 {
			cs = append(cs, newCreate([]*vault.Tenant{a, b}[i%2]))
		}
		// A listed suppression token fails its own create, not the batch.
		listed := storetest.RandomBytes(32)
		if _, err := postgres.Pool(db).Exec(ctx, `INSERT INTO suppressions (tenant_id, field, token, request_id, created_at)
			VALUES ($1, $2, $3, 'req-test', now())`, a.ID, storetest.FieldEmail, listed); err != nil {
			t.Fatal(err)
		}
		cs[6].rec.Suppression = []vault.Lookup{{Field: storetest.FieldEmail, Token: listed}}
		cs[6].code, cs[6].written = vault.ECONFLICT, false
		txids := runCreates(t, db, cs)
		if len(txids) != 1 {
			t.Errorf("the creates committed in %d transactions, want 1", len(txids))
		}
	})

	t.Run("Refused", func(t *testing.T) {
		taken := newCreate(a)
		storetest.MustCreateContact(t, db, taken.rec)
		var cs []coalescedCreate
		for range 12 {
			cs = append(cs, newCreate(a))
		}
		// Two creates of one unique email: one of them wins.
		storetest.SetLookupToken(cs[7].rec, storetest.FieldEmail, storetest.LookupToken(cs[3].rec, storetest.FieldEmail))
		cs[3].code, cs[7].code = eitherOutcome, eitherOutcome
		// An email another record holds.
		storetest.SetLookupToken(cs[9].rec, storetest.FieldEmail, storetest.LookupToken(taken.rec, storetest.FieldEmail))
		cs[9].code, cs[9].written = vault.ECONFLICT, false
		// An id taken: the existing record stays as it was.
		dup := storetest.NewRecord(a.ID)
		dup.ID = taken.rec.ID
		cs = append(cs, coalescedCreate{rec: dup, entry: storetest.NewEntry(a.ID, vault.ActionContactCreate, dup.ID), code: vault.ECONFLICT, written: true})
		txids := runCreates(t, db, cs)
		if len(txids) != len(cs)-3 {
			t.Errorf("the creates that succeeded committed in %d transactions, want each its own (%d)", len(txids), len(cs)-3)
		}
		_, err3 := db.Contact(ctx, a.ID, cs[3].rec.ID)
		_, err7 := db.Contact(ctx, a.ID, cs[7].rec.ID)
		if (err3 == nil) == (err7 == nil) {
			t.Errorf("of two creates of one unique email, Contact answers %v and %v: want one record", err3, err7)
		}
		got, err := db.Contact(ctx, a.ID, taken.rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := storetest.DiffRecord(got, taken.rec); d != "" {
			t.Errorf("the record whose id was taken: %s", d)
		}
	})
}
