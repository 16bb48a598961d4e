package sqlite_test

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/sqlite"
	"github.com/coffre/coffre/vault/storetest"
)

var segN = flag.Int("seg.n", 0, "TestSegmentScale: number of contacts to load (0 skips the test)")

// TestSegmentScale loads -seg.n synthetic contacts and reports the time
// of the segment benchmark's queries, the best of five runs.
//
//	go test ./vault/sqlite -run TestSegmentScale -seg.n 100000 -v
func TestSegmentScale(t *testing.T) {
	if *segN <= 0 {
		t.Skip("set -seg.n to run")
	}
	db := MustOpen(t)
	d := storetest.LoadSegmentData(t, db, *segN, false)
	for _, line := range storetest.TimeSegments(t, db, d, 5) {
		t.Log(line)
	}
}

// BenchmarkSegments measures the segment benchmark's queries over 100,000
// contacts.
func BenchmarkSegments(b *testing.B) {
	db := MustOpen(b)
	storetest.BenchSegments(b, db, storetest.LoadSegmentData(b, db, 100000, false))
}

// TestSegmentQueryPlans checks that segment queries read the tenant's
// entries of contacts_segment, never the table, and search segment_tokens
// by token, never scan it.
func TestSegmentQueryPlans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	db := mustOpenPath(t, path)
	tn := storetest.MustCreateTenant(t, db)
	r := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, r)
	raw := rawOpen(t, path)
	c := &vault.Cond{Op: vault.CondAnd, Children: []*vault.Cond{
		{Op: vault.CondTokens, Tokens: r.Tokens[:2]},
		{Op: vault.CondNot, Children: []*vault.Cond{{Op: vault.CondTokens, Tokens: r.Tokens[2:]}}},
		{Op: vault.CondFlag, Flag: vault.FlagObjected, Value: false},
		{Op: vault.CondTime, Column: vault.ColumnUpdated, From: r.UpdatedAt},
	}}
	count, list, countArgs, listArgs, err := sqlite.SegmentQueries(tn.ID, c, 50)
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{"CountContacts": {count, countArgs}, "ListContacts": {list, listArgs}} {
		rows, err := raw.Query("EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("EXPLAIN QUERY PLAN %s = %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatalf("scan plan: %v", err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, "INDEX contacts_segment (tenant_id=?") {
			t.Errorf("plan of %s does not search contacts_segment by tenant: %q", name, plan)
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") && (strings.Contains(step, "segment_tokens") || !strings.Contains(step, "INDEX")) {
				t.Errorf("plan of %s scans a table: %q in %q", name, step, plan)
			}
		}
		if name == "CountContacts" && !strings.Contains(joined, "COVERING INDEX contacts_segment") {
			t.Errorf("plan of %s reads the contacts table: %q", name, plan)
		}
	}
}

// TestSegmentTokens checks segment_tokens under the writes: each of a
// record's distinct tokens has one entry, an update adds and deletes the
// tokens that changed, an erasure leaves none, a failed load none of its
// batch.
func TestSegmentTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	db := mustOpenPath(t, path)
	raw := rawOpen(t, path)
	ctx := t.Context()
	entries := func() int { return count(t, raw, "SELECT count(*) FROM segment_tokens") }
	tn := storetest.MustCreateTenant(t, db)
	a, b := storetest.NewRecord(tn.ID), storetest.NewRecord(tn.ID)
	b.Tokens = append(b.Tokens, a.Tokens[0], b.Tokens[1]) // shared with a, and repeated
	storetest.MustCreateContact(t, db, a)
	storetest.MustCreateContact(t, db, b)
	if n := entries(); n != 7 {
		t.Fatalf("segment_tokens entries = %d, want 7", n)
	}
	u := storetest.CloneRecord(a)
	u.Version++
	u.Tokens = [][]byte{a.Tokens[0], storetest.RandomBytes(16)}
	if err := db.UpdateContact(ctx, u, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, a.ID)); err != nil {
		t.Fatalf("UpdateContact = %v", err)
	}
	if n := entries(); n != 6 {
		t.Errorf("segment_tokens entries after an update = %d, want 6", n)
	}
	if err := db.EraseContact(ctx, tn.ID, b.ID, storetest.NewEntry(tn.ID, vault.ActionContactErase, b.ID)); err != nil {
		t.Fatalf("EraseContact = %v", err)
	}
	if n := entries(); n != 2 {
		t.Errorf("segment_tokens entries after an erasure = %d, want 2", n)
	}
	for _, tok := range b.Tokens {
		if n := count(t, raw, "SELECT count(*) FROM segment_tokens WHERE token = ? AND contact NOT IN (SELECT rid FROM contacts)", tok); n != 0 {
			t.Errorf("segment_tokens holds a token of the erased record")
		}
	}
	batch := []*vault.Record{storetest.NewRecord(tn.ID), storetest.NewRecord(tn.ID)}
	batch[1].ID = a.ID
	if err := db.LoadContacts(ctx, batch, storetest.NewEntry(tn.ID, "contact.import", "")); vault.ErrorCode(err) != vault.ECONFLICT {
		t.Fatalf("LoadContacts(stored id) = %v, want ECONFLICT", err)
	}
	if n := entries(); n != 2 {
		t.Errorf("segment_tokens entries after a failed load = %d, want 2", n)
	}
}

// TestSaveSegment_ErrConflictMessage checks that a taken name is named as
// such.
func TestSaveSegment_ErrConflictMessage(t *testing.T) {
	db := MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	for i, want := range []string{"", "A segment with this name already exists."} {
		err := db.SaveSegment(t.Context(), storetest.NewSegment(tn.ID, "s"), storetest.NewEntry(tn.ID, vault.ActionSegmentSave, ""))
		if got := vault.ErrorMessage(err); i > 0 && got != want {
			t.Errorf("ErrorMessage(SaveSegment(taken name)) = %q, want %q", got, want)
		}
	}
}
