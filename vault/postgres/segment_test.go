package postgres_test

import (
	"context"
	"testing"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// TestSegmentsShortWalk runs the segment suite with listings that walk
// three rows only, so that nearly every page is completed through the
// indexes, the path a listing takes when matches are rare.
func TestSegmentsShortWalk(t *testing.T) {
	storetest.RunSegments(t, func(t *testing.T) vault.Store {
		db, _ := pgtest.MustOpen(t)
		postgres.SetListWalk(db, 3)
		return db
	})
}

// TestSegmentsProbedWalk runs the segment suite with listings that walk
// twelve rows, four of them the probe, so that pages are completed by the
// probe, by the walk's continuation after it, and through the indexes.
func TestSegmentsProbedWalk(t *testing.T) {
	storetest.RunSegments(t, func(t *testing.T) vault.Store {
		db, _ := pgtest.MustOpen(t)
		postgres.SetListWalk(db, 12)
		return db
	})
}

// TestSegmentKey checks that the store's key of a token is the one the
// migration's SQL computes for the rows it fills.
func TestSegmentKey(t *testing.T) {
	_, u := pgtest.MustOpen(t)
	conn := pgtest.Conn(t, u)
	for _, n := range []int{1, 7, 8, 9, 16, 32, 100} {
		for range 20 {
			tok := storetest.RandomBytes(n)
			var got int64
			err := conn.QueryRow(context.Background(),
				`SELECT ('x' || encode(substr(sha256($1::bytea), 1, 8), 'hex'))::bit(64)::bigint`, tok).Scan(&got)
			if err != nil {
				t.Fatal(err)
			}
			if want := postgres.SegmentKey(tok); got != want {
				t.Fatalf("key of %x: SQL %d, Go %d", tok, got, want)
			}
		}
	}
}

// segmentRows returns the number of rows of contact_segments of the
// contact id, in any tenant.
func segmentRows(t testing.TB, u, id string) int {
	t.Helper()
	var n int
	if err := pgtest.Conn(t, u).QueryRow(context.Background(), `SELECT count(*) FROM contact_segments WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSegmentRows checks contact_segments under the writes: an erasure
// leaves nothing of the contact, a failed load nothing of its batch, and
// a write that finds the table disagreeing with contacts is refused.
func TestSegmentRows(t *testing.T) {
	db, u := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	ctx := t.Context()
	r := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, r)
	if n := segmentRows(t, u, r.ID); n != 1 {
		t.Fatalf("contact_segments rows of a created contact = %d, want 1", n)
	}
	if err := db.EraseContact(ctx, tn.ID, r.ID, storetest.NewEntry(tn.ID, vault.ActionContactErase, r.ID)); err != nil {
		t.Fatalf("EraseContact = %v", err)
	}
	if n := segmentRows(t, u, r.ID); n != 0 {
		t.Errorf("contact_segments rows of an erased contact = %d, want 0", n)
	}

	batch := []*vault.Record{storetest.NewRecord(tn.ID), storetest.NewRecord(tn.ID), storetest.NewRecord(tn.ID)}
	stored := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, stored)
	batch[2].ID = stored.ID
	if err := db.LoadContacts(ctx, batch, storetest.NewEntry(tn.ID, "contact.import", "")); vault.ErrorCode(err) != vault.ECONFLICT {
		t.Fatalf("LoadContacts(stored id) = %v, want ECONFLICT", err)
	}
	for _, b := range batch[:2] {
		if n := segmentRows(t, u, b.ID); n != 0 {
			t.Errorf("contact_segments rows of a record of a failed load = %d, want 0", n)
		}
	}
	if n := segmentRows(t, u, stored.ID); n != 1 {
		t.Errorf("contact_segments rows of the stored record = %d, want 1", n)
	}

	// The row gone behind the store's back: an update puts it back.
	if _, err := pgtest.Conn(t, u).Exec(ctx, `DELETE FROM contact_segments WHERE id = $1`, stored.ID); err != nil {
		t.Fatal(err)
	}
	u2 := storetest.CloneRecord(stored)
	u2.Version++
	u2.Flags = vault.Flags{Restricted: true}
	if err := db.UpdateContact(ctx, u2, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, stored.ID)); err != nil {
		t.Fatalf("UpdateContact(without its contact_segments row) = %v", err)
	}
	c := &vault.Cond{Op: vault.CondAnd, Children: []*vault.Cond{
		{Op: vault.CondTokens, Tokens: u2.Tokens[:1]},
		{Op: vault.CondFlag, Flag: vault.FlagRestricted, Value: true},
		{Op: vault.CondTime, Column: vault.ColumnCreated, From: stored.CreatedAt, Until: stored.CreatedAt.Add(1)},
	}}
	if n, err := db.CountContacts(ctx, tn.ID, c); err != nil || n != 1 {
		t.Errorf("CountContacts(the updated record) = %d, %v, want 1", n, err)
	}
}

// TestMigrateSegments takes a store back to before migration 003, with
// contacts, and migrates it again: contact_segments is filled from the
// contacts, with the keys the store computes.
func TestMigrateSegments(t *testing.T) {
	db, u := pgtest.MustOpen(t)
	ctx := t.Context()
	tn := storetest.MustCreateTenant(t, db)
	rs := make([]*vault.Record, 50)
	for i := range rs {
		rs[i] = storetest.NewRecord(tn.ID)
		rs[i].Flags = vault.Flags{Restricted: i%3 == 0, Objected: i%5 == 0}
		if i%2 == 0 {
			rs[i].Tokens = append(rs[i].Tokens, rs[0].Tokens[0], rs[0].Tokens[0]) // shared, and repeated
		}
	}
	rs[7].Tokens = nil
	if err := db.LoadContacts(ctx, rs, storetest.NewEntry(tn.ID, "contact.import", "")); err != nil {
		t.Fatalf("LoadContacts = %v", err)
	}
	if _, err := pgtest.Conn(t, u).Exec(ctx, `
		DROP TABLE contact_segments;
		DROP TABLE segments;
		CREATE INDEX contacts_tokens_idx ON contacts USING gin (tokens);
		DELETE FROM schema_migrations WHERE version = 3`); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate = %v", err)
	}
	want := make(map[string]*vault.Record)
	for _, r := range rs {
		want[r.ID] = r
	}
	for _, c := range []*vault.Cond{
		{Op: vault.CondTrue},
		{Op: vault.CondTokens, Tokens: [][]byte{rs[0].Tokens[0]}},
		{Op: vault.CondTokens, Tokens: [][]byte{rs[9].Tokens[2], rs[30].Tokens[1]}},
		{Op: vault.CondNot, Children: []*vault.Cond{{Op: vault.CondFlag, Flag: vault.FlagRestricted, Value: true}}},
		{Op: vault.CondAnd, Children: []*vault.Cond{
			{Op: vault.CondFlag, Flag: vault.FlagObjected, Value: true},
			{Op: vault.CondTime, Column: vault.ColumnCreated, From: rs[0].CreatedAt, Until: rs[0].CreatedAt.Add(1)},
		}},
	} {
		var n int64
		for _, r := range rs {
			if c.Matches(r) {
				n++
			}
		}
		got, err := db.CountContacts(ctx, tn.ID, c)
		if err != nil || got != n {
			t.Errorf("CountContacts after the migration = %d, %v, want %d", got, err, n)
		}
	}
	// The store writes on, and saves segments.
	r := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, r)
	if n, err := db.CountContacts(ctx, tn.ID, &vault.Cond{Op: vault.CondTokens, Tokens: r.Tokens}); err != nil || n != 1 {
		t.Errorf("CountContacts(tokens of a new record) = %d, %v, want 1", n, err)
	}
	if err := db.SaveSegment(ctx, storetest.NewSegment(tn.ID, "s"), storetest.NewEntry(tn.ID, vault.ActionSegmentSave, "")); err != nil {
		t.Errorf("SaveSegment after the migration = %v", err)
	}
}

// TestSaveSegment_ErrConflictMessage checks that a taken name is named as
// such.
func TestSaveSegment_ErrConflictMessage(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	for i, want := range []string{"", "A segment with this name already exists."} {
		err := db.SaveSegment(t.Context(), storetest.NewSegment(tn.ID, "s"), storetest.NewEntry(tn.ID, vault.ActionSegmentSave, ""))
		if got := vault.ErrorMessage(err); i > 0 && got != want {
			t.Errorf("ErrorMessage(SaveSegment(taken name)) = %q, want %q", got, want)
		}
	}
}
