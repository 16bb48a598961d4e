package postgres_test

import (
	"context"
	"crypto/rand"
	"flag"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

var (
	loadN     = flag.Int("load.n", 0, "TestLoadContactsLarge: number of records to bulk-load (0 skips the test)")
	loadBatch = flag.Int("load.batch", 5000, "TestLoadContactsLarge: records per LoadContacts call")
)

// count returns the number of rows of a table of the store's schema.
func count(t testing.TB, u, table string) int64 {
	t.Helper()
	conn := pgtest.Conn(t, u)
	var n int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// counts returns the row counts of the tables LoadContacts writes.
func counts(t testing.TB, u string) [3]int64 {
	t.Helper()
	return [3]int64{count(t, u, "contacts"), count(t, u, "contact_lookups"), count(t, u, "audit_entries")}
}

// TestLoadContactsAllOrNothing checks that a COPY that fails anywhere, even
// on its last row or while copying lookups, leaves no trace.
func TestLoadContactsAllOrNothing(t *testing.T) {
	db, u := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	stored := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, stored)
	before := counts(t, u)

	batch := func() []*vault.Record {
		rs := make([]*vault.Record, 3000)
		for i := range rs {
			rs[i] = storetest.NewRecord(tn.ID)
		}
		return rs
	}
	for _, tt := range []struct {
		name  string
		spoil func(rs []*vault.Record)
		code  string
	}{
		{"LastRowStoredID", func(rs []*vault.Record) { rs[len(rs)-1].ID = stored.ID }, vault.ECONFLICT},
		{"LastRowStoredEmail", func(rs []*vault.Record) {
			storetest.SetLookupToken(rs[len(rs)-1], storetest.FieldEmail, storetest.LookupToken(stored, storetest.FieldEmail))
		}, vault.ECONFLICT},
		{"FirstAndLastSameEmail", func(rs []*vault.Record) {
			storetest.SetLookupToken(rs[len(rs)-1], storetest.FieldEmail, storetest.LookupToken(rs[0], storetest.FieldEmail))
		}, vault.ECONFLICT},
		{"InvalidID", func(rs []*vault.Record) { rs[len(rs)-1].ID = "not-a-uuid" }, vault.EINVALID},
		{"TenantIDWithNUL", func(rs []*vault.Record) { rs[len(rs)-1].TenantID = "bad\x00tenant" }, vault.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := batch()
			tt.spoil(rs)
			e := storetest.NewEntry(tn.ID, "contact.import", "")
			err := db.LoadContacts(context.Background(), rs, e)
			if got := vault.ErrorCode(err); got != tt.code {
				t.Fatalf("LoadContacts = %v (code %q), want code %q", err, got, tt.code)
			}
			if e.Seq != 0 {
				t.Errorf("failed LoadContacts: e.Seq = %d, want 0", e.Seq)
			}
			if got := counts(t, u); got != before {
				t.Errorf("rows (contacts, lookups, audit) after a failed load = %v, want %v", got, before)
			}
		})
	}

	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		rs := make([]*vault.Record, 20000)
		for i := range rs {
			rs[i] = storetest.NewRecord(tn.ID)
		}
		time.AfterFunc(20*time.Millisecond, cancel)
		err := db.LoadContacts(ctx, rs, storetest.NewEntry(tn.ID, "contact.import", ""))
		if err == nil {
			t.Skip("the load finished before the cancellation")
		}
		if got := counts(t, u); got != before {
			t.Errorf("rows (contacts, lookups, audit) after a cancelled load = %v, want %v", got, before)
		}
	})

	// The store still works, and the log holds the two creates only.
	storetest.MustCreateContact(t, db, storetest.NewRecord(tn.ID))
	if tree := storetest.SequenceAll(t, db); tree.Size() != 2 {
		t.Errorf("audit log after failed loads: %d entries, want 2", tree.Size())
	}
}

// vocabulary returns n random 32-byte tokens.
func vocabulary(n int) [][]byte {
	v := make([][]byte, n)
	for i := range v {
		v[i] = make([]byte, 32)
		rand.Read(v[i])
	}
	return v
}

// realisticRecord returns a record shaped like a sealed civic contact:
// eleven sealed fields, unique email and shared phone lookups, and
// segmentation tokens drawn from small vocabularies (district, age band,
// support level, interests), as real segmentable values are.
func realisticRecord(tenantID string, now time.Time, districts, bands, levels, interests [][]byte) *vault.Record {
	r := storetest.NewRecord(tenantID)
	for _, f := range []string{"address", "postal_code", "district", "birth_date", "support_level", "notes"} {
		r.Sealed[f] = storetest.RandomBytes(28 + mrand.IntN(40))
	}
	r.Tokens = [][]byte{districts[mrand.IntN(len(districts))], bands[mrand.IntN(len(bands))],
		levels[mrand.IntN(len(levels))], interests[mrand.IntN(len(interests))]}
	r.CreatedAt, r.UpdatedAt = now, now
	return r
}

// TestLoadContactsLarge measures a bulk load of -load.n realistic records
// in LoadContacts calls of -load.batch records, and reports the rate of
// store time (the time spent in LoadContacts).
//
//	go test ./vault/postgres -run TestLoadContactsLarge -load.n 1000000 -v
func TestLoadContactsLarge(t *testing.T) {
	if *loadN <= 0 {
		t.Skip("set -load.n to run")
	}
	db, u := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	districts, bands, levels, interests := vocabulary(40), vocabulary(8), vocabulary(5), vocabulary(30)
	var store, gen time.Duration
	for done := 0; done < *loadN; {
		start := time.Now()
		n := min(*loadBatch, *loadN-done)
		now := storetest.Now()
		rs := make([]*vault.Record, n)
		for i := range rs {
			rs[i] = realisticRecord(tn.ID, now, districts, bands, levels, interests)
		}
		gen += time.Since(start)
		start = time.Now()
		if err := db.LoadContacts(context.Background(), rs, storetest.NewEntry(tn.ID, "contact.import", "")); err != nil {
			t.Fatalf("LoadContacts(records %d-%d) = %v", done, done+n, err)
		}
		store += time.Since(start)
		done += n
	}
	if got := count(t, u, "contacts"); got != int64(*loadN) {
		t.Errorf("contacts = %d, want %d", got, *loadN)
	}
	t.Logf("loaded %d records in batches of %d: store time %v (%.0f records/s), generation %v",
		*loadN, *loadBatch, store.Round(time.Millisecond), float64(*loadN)/store.Seconds(), gen.Round(time.Millisecond))
}
