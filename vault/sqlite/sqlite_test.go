package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/audit/audittest"
	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/sqlite"
	"github.com/coffre/coffre/vault/storetest"
)

// MustOpen opens a store in a fresh file of a t.TempDir(), closed when the
// test ends.
func MustOpen(tb testing.TB, opts ...sqlite.Option) *sqlite.DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "coffre.db"), opts...)
}

func mustOpenPath(tb testing.TB, path string, opts ...sqlite.Option) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		tb.Fatalf("Open(%s) = %v, want nil", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v, want nil", err)
		}
	})
	return db
}

// rawOpen opens the file with the bare driver, to look under the store.
func rawOpen(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	raw, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		tb.Fatalf("sql.Open(%s) = %v", path, err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

func count(tb testing.TB, raw *sql.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := raw.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s = %v", query, err)
	}
	return n
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vault.Store { return MustOpen(t) })
}

// TestAuditStore runs the audit.Store conformance suite, committing
// entries the way the vault's reads do, with AppendAudit.
func TestAuditStore(t *testing.T) {
	audittest.TestStore(t, func(t *testing.T) audittest.Harness {
		db := MustOpen(t)
		return audittest.Harness{Store: db, Add: func(ctx context.Context, entries ...*audit.Entry) error {
			es := make([]*vault.AuditEntry, len(entries))
			for i, e := range entries {
				es[i] = vault.AuditEntryOf(e)
			}
			return db.AppendAudit(ctx, es)
		}}
	})
}

func TestOpen(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "coffre.db")
		db := mustOpenPath(t, path)
		mustPing(t, db)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("Stat(%s) = %v", path, err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("mode of the database file = %v, want 0600", mode)
		}
		raw := rawOpen(t, path)
		var mode string
		if err := raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("PRAGMA journal_mode = %q, %v, want wal", mode, err)
		}
		if n := count(t, raw, "SELECT count(*) FROM schema_migrations"); n < 1 {
			t.Errorf("schema_migrations rows = %d, want at least 1", n)
		}
		for i, name := range []string{"001_initial", "002_audit_log", "003_compact", "004_segments", "005_requests"} {
			if n := count(t, raw, "SELECT count(*) FROM schema_migrations WHERE name = ? AND version = ?", name, i+1); n != 1 {
				t.Errorf("schema_migrations rows for %s = %d, want 1", name, n)
			}
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "coffre.db")
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		tn := storetest.MustCreateTenant(t, db)
		r := storetest.NewRecord(tn.ID)
		storetest.MustCreateContact(t, db, r)
		if err := db.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
			t.Errorf("Stat(-wal) after Close = %v, want not exist", err)
		}

		db = mustOpenPath(t, path)
		// Migrate again: nothing to do, nothing lost.
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate() on a migrated file = %v, want nil", err)
		}
		got, err := db.Contact(t.Context(), tn.ID, r.ID)
		if err != nil {
			t.Fatalf("Contact after reopen = %v, want nil", err)
		}
		if d := storetest.DiffRecord(got, r); d != "" {
			t.Errorf("Contact after reopen: %s", d)
		}
		// The entry written before closing is still pending; the next one
		// follows it.
		e := storetest.MustCreateContact(t, db, storetest.NewRecord(tn.ID))
		if tree := storetest.SequenceAll(t, db); tree.Size() != 2 {
			t.Errorf("tree size after reopening and sequencing = %d, want 2", tree.Size())
		}
		es, err := db.AuditEntries(t.Context(), vault.AuditFilter{TenantID: tn.ID, Limit: 10})
		if err != nil || len(es) != 2 || es[1].Seq != 1 || es[1].RequestID != e.RequestID {
			t.Errorf("AuditEntries after reopen = %d entries, %v; want the second write's entry at Seq 1", len(es), err)
		}
		storetest.CheckLog(t, db)
		if n := count(t, rawOpen(t, path), "SELECT count(*) FROM schema_migrations WHERE version = 1"); n != 1 {
			t.Errorf("schema_migrations rows for version 1 = %d, want 1", n)
		}
	})

	t.Run("ErrNewerSchema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "coffre.db")
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		db.Close()
		raw := rawOpen(t, path)
		if _, err := raw.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future.up.sql', 0)"); err != nil {
			t.Fatalf("insert future migration: %v", err)
		}
		raw.Close()
		if db, err := sqlite.Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(file migrated by a newer version) = nil, want an error")
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro", "x#y.db"} {
			_, err := sqlite.Open(t.Context(), path)
			if code := vault.ErrorCode(err); code != vault.EINVALID {
				t.Errorf("Open(%q) = %v, want code %q", path, err, vault.EINVALID)
			}
		}
	})

	t.Run("ErrNoDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "coffre.db")
		if db, err := sqlite.Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%s) = nil, want an error", path)
		}
	})
}

func mustPing(t *testing.T, db *sqlite.DB) {
	t.Helper()
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() = %v, want nil", err)
	}
}

func TestWithNow(t *testing.T) {
	now := time.Date(2030, 5, 6, 7, 8, 9, 101112000, time.UTC)
	db := MustOpen(t, sqlite.WithNow(func() time.Time { return now }))
	tn := &vault.Tenant{ID: "tenant-clock", Keys: []byte{1}}
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatalf("CreateTenant = %v", err)
	}
	r := storetest.NewRecord(tn.ID)
	r.CreatedAt, r.UpdatedAt = time.Time{}, time.Time{}
	e := storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID)
	e.Time = time.Time{}
	if err := db.CreateContact(t.Context(), r, e); err != nil {
		t.Fatalf("CreateContact = %v", err)
	}
	if !r.CreatedAt.Equal(now) || !r.UpdatedAt.Equal(now) || !e.Time.Equal(now) || !tn.CreatedAt.Equal(now) {
		t.Errorf("zero times set to %v, %v, %v, %v, want %v", r.CreatedAt, r.UpdatedAt, e.Time, tn.CreatedAt, now)
	}
	got, err := db.Contact(t.Context(), tn.ID, r.ID)
	if err != nil {
		t.Fatalf("Contact = %v", err)
	}
	if d := storetest.DiffRecord(got, r); d != "" {
		t.Errorf("Contact: %s", d)
	}
	storetest.SequenceAll(t, db)
	es, err := db.AuditEntries(t.Context(), vault.AuditFilter{TenantID: tn.ID, Limit: 10})
	if err != nil || len(es) != 1 || !es[0].Time.Equal(now) {
		t.Errorf("AuditEntries = %v, %v, want one entry at %v", es, err, now)
	}
	c := &audit.StoredCheckpoint{Size: 1, Note: []byte("note")}
	if err := db.AddCheckpoint(t.Context(), c); err != nil || !c.CreatedAt.Equal(now) {
		t.Errorf("AddCheckpoint = %v, CreatedAt %v; want nil, %v", err, c.CreatedAt, now)
	}
}

func TestCreateContact_ErrTenantNotFound(t *testing.T) {
	db := MustOpen(t)
	r := storetest.NewRecord("tenant-missing")
	err := db.CreateContact(t.Context(), r, storetest.NewEntry(r.TenantID, vault.ActionContactCreate, r.ID))
	if code := vault.ErrorCode(err); code != vault.ENOTFOUND {
		t.Errorf("CreateContact(unknown tenant) = %v, want code %q", err, vault.ENOTFOUND)
	}
	k := storetest.NewToken("tenant-missing")
	err = db.CreateToken(t.Context(), k, storetest.NewEntry(k.TenantID, vault.ActionTokenCreate, ""))
	if code := vault.ErrorCode(err); code != vault.ENOTFOUND {
		t.Errorf("CreateToken(unknown tenant) = %v, want code %q", err, vault.ENOTFOUND)
	}
}

func TestConflictMessage(t *testing.T) {
	db := MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	r := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, r)
	dup := storetest.NewRecord(tn.ID)
	storetest.SetLookupToken(dup, storetest.FieldEmail, storetest.LookupToken(r, storetest.FieldEmail))
	err := db.CreateContact(t.Context(), dup, storetest.NewEntry(tn.ID, vault.ActionContactCreate, dup.ID))
	if got, want := vault.ErrorMessage(err), "Another contact has the same email."; got != want {
		t.Errorf("ErrorMessage(CreateContact(taken email)) = %q, want %q", got, want)
	}
}

// TestErase_Shredded checks that erasing removes every row of the record
// and, once the store is closed, every byte of its wrapped key, sealed
// fields, lookups and tokens from the file: secure_delete overwrites them
// in the pages that held them, and the pages freed (the overflow pages of
// a large record) are zeroed too.
func TestErase_Shredded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		modify func(r *vault.Record)
	}{
		{"OK", func(r *vault.Record) {}},
		// Sealed fields larger than a page spill to overflow pages, which
		// the erasure frees.
		{"Overflow", func(r *vault.Record) { r.Sealed["notes"] = storetest.RandomBytes(20 << 10) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "coffre.db")
			db, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			defer db.Close()
			tn := storetest.MustCreateTenant(t, db)
			r := storetest.NewRecord(tn.ID)
			tt.modify(r)
			storetest.MustCreateContact(t, db, r)
			for range 50 {
				storetest.MustCreateContact(t, db, storetest.NewRecord(tn.ID))
			}
			if err := db.EraseContact(t.Context(), tn.ID, r.ID, storetest.NewEntry(tn.ID, vault.ActionContactErase, r.ID)); err != nil {
				t.Fatalf("EraseContact = %v", err)
			}

			raw := rawOpen(t, path)
			if n := count(t, raw, "SELECT count(*) FROM contacts WHERE id = ?", uuidBytes(t, r.ID)); n != 0 {
				t.Errorf("contacts rows of the erased record = %d, want 0", n)
			}
			for _, l := range r.Lookups {
				for _, table := range []string{"contact_lookups_unique", "contact_lookups_shared"} {
					if n := count(t, raw, "SELECT count(*) FROM "+table+" WHERE token = ?", l.Token); n != 0 {
						t.Errorf("%s rows of the erased record's %s = %d, want 0", table, l.Field, n)
					}
				}
			}
			raw.Close()
			if err := db.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}

			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile = %v", err)
			}
			secrets := map[string][]byte{"wrapped key": r.WrappedKey}
			for k, v := range r.Sealed {
				if len(v) > 0 {
					secrets["sealed "+k] = v
				}
			}
			for _, l := range r.Lookups {
				secrets["lookup "+l.Field] = l.Token
			}
			for i, tok := range r.Tokens {
				secrets[fmt.Sprintf("token %d", i)] = tok
			}
			for name, b := range secrets {
				if bytes.Contains(file, b) {
					t.Errorf("database file still holds the erased record's %s", name)
				}
			}
		})
	}
}

// uuidBytes returns the 16 bytes of a canonical UUID.
func uuidBytes(tb testing.TB, id string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil || len(b) != 16 {
		tb.Fatalf("uuidBytes(%q): not a UUID", id)
	}
	return b
}

// TestConcurrency hammers one store with 16 goroutines of mixed reads and
// writes while a sequencer numbers the audit entries every millisecond:
// with a single writer and a read pool, no call may fail with SQLITE_BUSY
// or any other error, and the audit log is dense, one entry per write.
func TestConcurrency(t *testing.T) {
	db := MustOpen(t)
	ctx := t.Context()
	stop := storetest.StartSequencer(db, time.Millisecond)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	tn := storetest.MustCreateTenant(t, db)
	phone := storetest.RandomBytes(32)
	seed := make([]*vault.Record, 32)
	for i := range seed {
		seed[i] = storetest.NewRecord(tn.ID)
		storetest.SetLookupToken(seed[i], storetest.FieldPhone, phone)
	}
	if err := db.LoadContacts(ctx, seed, storetest.NewEntry(tn.ID, "contact.import", "")); err != nil {
		t.Fatalf("LoadContacts = %v", err)
	}
	shared := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, shared)

	const workers, ops = 16, 50
	var mu sync.Mutex
	writes := 2 // the load and the shared record
	var errs []string
	report := func(w int, op string, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf("worker %d: %s = %v", w, op, err))
	}
	wrote := func() {
		mu.Lock()
		writes++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []*vault.Record
			for range ops {
				switch op := rng.IntN(10); {
				case op == 0 || len(mine) == 0:
					r := storetest.NewRecord(tn.ID)
					if err := db.CreateContact(ctx, r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID)); err != nil {
						report(w, "CreateContact", err)
						continue
					}
					wrote()
					mine = append(mine, r)
				case op == 1:
					r := mine[rng.IntN(len(mine))]
					u := storetest.CloneRecord(r)
					u.Version++
					u.Flags.Restricted = !u.Flags.Restricted
					u.Lookups[0] = storetest.NewLookup(storetest.FieldEmail, true)
					if err := db.UpdateContact(ctx, u, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)); err != nil {
						report(w, "UpdateContact(own)", err)
						continue
					}
					wrote()
					*r = *u
				case op == 2:
					// Racing updates of one record: ECONFLICT is the only
					// acceptable failure.
					cur, err := db.Contact(ctx, tn.ID, shared.ID)
					if err != nil {
						report(w, "Contact(shared)", err)
						continue
					}
					cur.Version++
					cur.Flags.Objected = !cur.Flags.Objected
					switch err := db.UpdateContact(ctx, cur, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, cur.ID)); vault.ErrorCode(err) {
					case "":
						wrote()
					case vault.ECONFLICT:
					default:
						report(w, "UpdateContact(shared)", err)
					}
				case op == 3 && len(mine) > 1:
					r := mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					if err := db.EraseContact(ctx, tn.ID, r.ID, storetest.NewEntry(tn.ID, vault.ActionContactErase, r.ID)); err != nil {
						report(w, "EraseContact", err)
						continue
					}
					wrote()
				case op == 4:
					batch := []*vault.Record{storetest.NewRecord(tn.ID), storetest.NewRecord(tn.ID), storetest.NewRecord(tn.ID)}
					if err := db.LoadContacts(ctx, batch, storetest.NewEntry(tn.ID, "contact.import", "")); err != nil {
						report(w, "LoadContacts", err)
						continue
					}
					wrote()
				case op == 5:
					k := storetest.NewToken(tn.ID)
					if err := db.CreateToken(ctx, k, storetest.NewEntry(tn.ID, vault.ActionTokenCreate, "")); err != nil {
						report(w, "CreateToken", err)
						continue
					}
					wrote()
					if _, err := db.Token(ctx, k.ID); err != nil {
						report(w, "Token", err)
					}
				case op == 6:
					rs, err := db.FindContacts(ctx, tn.ID, storetest.FieldPhone, phone, 100)
					if err != nil || len(rs) != len(seed) {
						report(w, fmt.Sprintf("FindContacts(shared phone) = %d records", len(rs)), err)
					}
				case op == 7:
					f := vault.AuditFilter{TenantID: tn.ID, From: uint64(rng.IntN(100)), Limit: 50}
					if rng.IntN(2) == 0 {
						f.Action = vault.ActionContactCreate
					}
					if _, err := db.AuditEntries(ctx, f); err != nil {
						report(w, "AuditEntries", err)
					}
					if err := db.AppendAudit(ctx, []*vault.AuditEntry{storetest.NewEntry(tn.ID, vault.ActionContactRead, "")}); err != nil {
						report(w, "AppendAudit", err)
						continue
					}
					wrote()
				default:
					r := seed[rng.IntN(len(seed))]
					if _, err := db.Contact(ctx, tn.ID, r.ID); err != nil {
						report(w, "Contact", err)
					}
					r = mine[rng.IntN(len(mine))]
					if _, err := db.Contact(ctx, tn.ID, r.ID); err != nil {
						report(w, "Contact(own)", err)
					}
				}
			}
		})
	}
	wg.Wait()
	tree, err := stop()
	stopped = true
	if err != nil {
		t.Errorf("sequencer: %v", err)
	}
	for _, e := range errs {
		t.Error(e)
	}
	if len(errs) > 0 || err != nil {
		return
	}

	if tree.Size() != uint64(writes) {
		t.Errorf("tree size = %d, want one entry per successful write, %d", tree.Size(), writes)
	}
	next := uint64(0)
	f := vault.AuditFilter{TenantID: tn.ID, Limit: 1000}
	for {
		es, err := db.AuditEntries(ctx, f)
		if err != nil {
			t.Fatalf("AuditEntries = %v", err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if e.Seq != next {
				t.Fatalf("audit Seq %d, want %d", e.Seq, next)
			}
			next++
		}
		f.From = next
	}
	if next != uint64(writes) {
		t.Errorf("audit entries = %d, want one per successful write, %d", next, writes)
	}
	storetest.CheckLog(t, db)
}

// TestWrite_Batch queues writes behind a long load, so that the writer
// takes them as one batch, and makes half of them fail: each failed write
// is rolled back alone, its audit entry with it, and the others commit.
func TestWrite_Batch(t *testing.T) {
	db := MustOpen(t)
	ctx := t.Context()
	tn := storetest.MustCreateTenant(t, db)
	taken := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, taken)

	big := make([]*vault.Record, 3000)
	for i := range big {
		big[i] = storetest.NewRecord(tn.ID)
	}
	loaded := make(chan error, 1)
	go func() { loaded <- db.LoadContacts(ctx, big, storetest.NewEntry(tn.ID, "contact.import", "")) }()

	const n = 40
	type result struct {
		r   *vault.Record
		e   *vault.AuditEntry
		err error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		r := storetest.NewRecord(tn.ID)
		if i%2 == 1 {
			storetest.SetLookupToken(r, storetest.FieldEmail, storetest.LookupToken(taken, storetest.FieldEmail))
		}
		e := storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID)
		wg.Go(func() { results[i] = result{r, e, db.CreateContact(ctx, r, e)} })
	}
	wg.Wait()
	if err := <-loaded; err != nil {
		t.Fatalf("LoadContacts = %v", err)
	}

	if tree := storetest.SequenceAll(t, db); tree.Size() != 2+n/2 {
		t.Errorf("audit entries = %d, want %d (the tenant's first record, the load, one per successful create)", tree.Size(), 2+n/2)
	}
	audited := make(map[string]int)
	es, err := db.AuditEntries(ctx, vault.AuditFilter{TenantID: tn.ID, Action: vault.ActionContactCreate, Limit: 1000})
	if err != nil {
		t.Fatalf("AuditEntries = %v", err)
	}
	for _, e := range es {
		audited[e.Subject]++
	}
	for i, res := range results {
		_, err := db.Contact(ctx, tn.ID, res.r.ID)
		if i%2 == 1 {
			if code := vault.ErrorCode(res.err); code != vault.ECONFLICT {
				t.Errorf("CreateContact(taken email) = %v, want code %q", res.err, vault.ECONFLICT)
			}
			if vault.ErrorCode(err) != vault.ENOTFOUND {
				t.Errorf("Contact(refused record) = %v, want code %q", err, vault.ENOTFOUND)
			}
			if audited[res.r.ID] != 0 {
				t.Errorf("refused record %s is audited", res.r.ID)
			}
			continue
		}
		if res.err != nil {
			t.Errorf("CreateContact = %v, want nil", res.err)
			continue
		}
		if err != nil {
			t.Errorf("Contact(created record) = %v, want nil", err)
		}
		if audited[res.r.ID] != 1 {
			t.Errorf("created record %s is audited %d times, want once", res.r.ID, audited[res.r.ID])
		}
	}
}

// TestWrite_BatchConflict queues pairs of creates with the same unique
// email behind a long load, so that both of a pair share a batch: one
// wins, and the other, refused because of a write not yet committed when
// it failed, returns only once that write is, so that its caller finds
// the winner.
func TestWrite_BatchConflict(t *testing.T) {
	db := MustOpen(t)
	ctx := t.Context()
	tn := storetest.MustCreateTenant(t, db)
	big := make([]*vault.Record, 3000)
	for i := range big {
		big[i] = storetest.NewRecord(tn.ID)
	}
	loaded := make(chan error, 1)
	go func() { loaded <- db.LoadContacts(ctx, big, storetest.NewEntry(tn.ID, "contact.import", "")) }()

	const pairs = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := make(map[string]int)
	for i := range 2 * pairs {
		r := storetest.NewRecord(tn.ID)
		email := []byte(fmt.Sprintf("email-%d", i/2))
		storetest.SetLookupToken(r, storetest.FieldEmail, email)
		wg.Go(func() {
			err := db.CreateContact(ctx, r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID))
			switch vault.ErrorCode(err) {
			case "":
				mu.Lock()
				wins[string(email)]++
				mu.Unlock()
			case vault.ECONFLICT:
				found, ferr := db.FindContacts(ctx, tn.ID, storetest.FieldEmail, email, 10)
				if ferr != nil || len(found) != 1 || found[0].ID == r.ID {
					t.Errorf("FindContacts(email) after a conflict on it = %d records, %v; want the winner", len(found), ferr)
				}
			default:
				t.Errorf("CreateContact = %v, want nil or code %q", err, vault.ECONFLICT)
			}
		})
	}
	wg.Wait()
	if err := <-loaded; err != nil {
		t.Fatalf("LoadContacts = %v", err)
	}
	for i := range pairs {
		if n := wins[fmt.Sprintf("email-%d", i)]; n != 1 {
			t.Errorf("creates with email %d that succeeded = %d, want 1", i, n)
		}
	}
}

// TestClose_Pending closes the store while writes wait for the writer:
// each returns, with nil or EUNAVAILABLE, and Close neither hangs nor
// fails.
func TestClose_Pending(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "coffre.db"))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	tn := storetest.MustCreateTenant(t, db)
	big := make([]*vault.Record, 2000)
	for i := range big {
		big[i] = storetest.NewRecord(tn.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	wg.Go(func() { errs <- db.LoadContacts(t.Context(), big, storetest.NewEntry(tn.ID, "contact.import", "")) })
	for range 19 {
		wg.Go(func() {
			r := storetest.NewRecord(tn.ID)
			errs <- db.CreateContact(t.Context(), r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID))
		})
	}
	time.Sleep(10 * time.Millisecond)
	if err := db.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if code := vault.ErrorCode(err); err != nil && code != vault.EUNAVAILABLE {
			t.Errorf("write during Close = %v, want nil or code %q", err, vault.EUNAVAILABLE)
		}
	}
	r := storetest.NewRecord(tn.ID)
	err = db.CreateContact(t.Context(), r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID))
	if code := vault.ErrorCode(err); code != vault.EUNAVAILABLE {
		t.Errorf("CreateContact after Close = %v, want code %q", err, vault.EUNAVAILABLE)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// TestContactID checks that contact ids are UUIDs, which the store keeps
// as 16 bytes: another id cannot be stored and is never found.
func TestContactID(t *testing.T) {
	db := MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	stored := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, stored)
	for _, id := range []string{"contact-1", strings.ToUpper(vault.NewID(time.Now())), vault.NewID(time.Now()) + "0"} {
		r := storetest.NewRecord(tn.ID)
		r.ID = id
		err := db.CreateContact(t.Context(), r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, id))
		if code := vault.ErrorCode(err); code != vault.EINVALID {
			t.Errorf("CreateContact(id %q) = %v, want code %q", id, err, vault.EINVALID)
		}
		if _, err := db.Contact(t.Context(), tn.ID, id); vault.ErrorCode(err) != vault.ENOTFOUND {
			t.Errorf("Contact(id %q) = %v, want code %q", id, err, vault.ENOTFOUND)
		}
		err = db.EraseContact(t.Context(), tn.ID, id, storetest.NewEntry(tn.ID, vault.ActionContactErase, id))
		if code := vault.ErrorCode(err); code != vault.ENOTFOUND {
			t.Errorf("EraseContact(id %q) = %v, want code %q", id, err, vault.ENOTFOUND)
		}
	}
	if _, err := db.Contact(t.Context(), tn.ID, strings.ToUpper(stored.ID)); vault.ErrorCode(err) != vault.ENOTFOUND {
		t.Errorf("Contact(upper-case id of a stored record) = %v, want code %q", err, vault.ENOTFOUND)
	}
}

// TestLookups_Repeated checks how a record's repeated lookups and tokens
// are kept: once, a lookup unique if any of its copies is.
func TestLookups_Repeated(t *testing.T) {
	db := MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	r := storetest.NewRecord(tn.ID)
	phone := storetest.LookupToken(r, storetest.FieldPhone)
	r.Lookups = append(r.Lookups, vault.Lookup{Field: storetest.FieldPhone, Token: phone, Unique: true}, r.Lookups[0])
	r.Tokens = append(r.Tokens, r.Tokens[1], r.Tokens[0])
	storetest.MustCreateContact(t, db, r)

	got, err := db.Contact(t.Context(), tn.ID, r.ID)
	if err != nil {
		t.Fatalf("Contact = %v", err)
	}
	want := storetest.CloneRecord(r)
	want.Lookups = []vault.Lookup{r.Lookups[0], {Field: storetest.FieldPhone, Token: phone, Unique: true}}
	want.Tokens = r.Tokens[:3]
	if d := storetest.DiffRecord(got, want); d != "" {
		t.Errorf("Contact: %s", d)
	}
	o := storetest.NewRecord(tn.ID)
	o.Lookups = append(o.Lookups, vault.Lookup{Field: storetest.FieldPhone, Token: phone, Unique: true})
	err = db.CreateContact(t.Context(), o, storetest.NewEntry(tn.ID, vault.ActionContactCreate, o.ID))
	if code := vault.ErrorCode(err); code != vault.ECONFLICT {
		t.Errorf("CreateContact(phone unique in another record too) = %v, want code %q", err, vault.ECONFLICT)
	}
}

// TestUpdate_LookupKind moves a lookup between unique and shared and
// checks that search and the unique constraint follow.
func TestUpdate_LookupKind(t *testing.T) {
	db := MustOpen(t)
	ctx := t.Context()
	tn := storetest.MustCreateTenant(t, db)
	r := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, r)
	email := storetest.LookupToken(r, storetest.FieldEmail)

	u := storetest.CloneRecord(r)
	u.Version++
	u.Lookups[0].Unique = false // email: unique -> shared
	if err := db.UpdateContact(ctx, u, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, r.ID)); err != nil {
		t.Fatalf("UpdateContact = %v", err)
	}
	o := storetest.NewRecord(tn.ID)
	storetest.SetLookupToken(o, storetest.FieldEmail, email)
	o.Lookups[0].Unique = false
	storetest.MustCreateContact(t, db, o)
	rs, err := db.FindContacts(ctx, tn.ID, storetest.FieldEmail, email, 10)
	if err != nil || len(rs) != 2 {
		t.Fatalf("FindContacts(shared email) = %d records, %v, want 2", len(rs), err)
	}

	u2 := storetest.CloneRecord(u)
	u2.Version++
	u2.Lookups[0].Unique = true // back to unique: o shares it
	err = db.UpdateContact(ctx, u2, storetest.NewEntry(tn.ID, vault.ActionContactUpdate, r.ID))
	if code := vault.ErrorCode(err); code != "" {
		t.Fatalf("UpdateContact(unique again) = %v, want nil: a shared copy does not block a unique one", err)
	}
	got, err := db.Contact(ctx, tn.ID, r.ID)
	if err != nil {
		t.Fatalf("Contact = %v", err)
	}
	if d := storetest.DiffRecord(got, u2); d != "" {
		t.Errorf("Contact after the updates: %s", d)
	}
	if err := db.EraseContact(ctx, tn.ID, r.ID, storetest.NewEntry(tn.ID, vault.ActionContactErase, r.ID)); err != nil {
		t.Fatalf("EraseContact = %v", err)
	}
	rs, err = db.FindContacts(ctx, tn.ID, storetest.FieldEmail, email, 10)
	if err != nil || len(rs) != 1 || rs[0].ID != o.ID {
		t.Errorf("FindContacts(email) after the erasure = %d records, %v, want only the other record", len(rs), err)
	}
}

// TestQueryPlans checks that the hot reads search indexes and never scan
// a table, whatever the statistics: a search that scanned the tenant's
// contacts took half a second with 100,000 of them.
func TestQueryPlans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	db := mustOpenPath(t, path)
	tn := storetest.MustCreateTenant(t, db)
	storetest.MustCreateContact(t, db, storetest.NewRecord(tn.ID))
	raw := rawOpen(t, path)
	for name, q := range map[string]string{"Contact": sqlite.QueryContact, "FindContacts": sqlite.QueryFindContacts} {
		n := strings.Count(q, "?")
		if strings.Contains(q, "?4") {
			n = 4
		}
		args := make([]any, n)
		for i := range args {
			args[i] = []byte("x")
		}
		rows, err := raw.Query("EXPLAIN QUERY PLAN "+q, args...)
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
		if len(plan) == 0 {
			t.Errorf("plan of %s is empty", name)
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") && strings.Contains(step, "contact") {
				t.Errorf("plan of %s scans a table: %q in %q", name, step, plan)
			}
		}
	}
}

// TestMigrate_V1 fills a file with the first schema, as the first
// release wrote it, and opens it: the records, their lookups and tokens
// and the audit log come through the migrations, to the compact layout
// among others, which frees more than half the file (the segmentation
// indexes of 004 take some back), and the store works on.
func TestMigrate_V1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	raw, err := sql.Open("sqlite", path+"?_foreign_keys=1&_journal_mode=WAL")
	if err != nil {
		t.Fatalf("sql.Open = %v", err)
	}
	schema, err := sqlite.V1Schema()
	if err != nil {
		t.Fatalf("V1Schema = %v", err)
	}
	tx, err := raw.Begin()
	if err != nil {
		t.Fatalf("Begin = %v", err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := tx.Exec(q, args...); err != nil {
			t.Fatalf("%.60s = %v", q, err)
		}
	}
	mustExec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`)
	mustExec(schema)
	mustExec(`INSERT INTO schema_migrations VALUES (1, '001_initial', 0)`)

	tenants := []*vault.Tenant{storetest.NewTenant(), storetest.NewTenant()}
	for _, tn := range tenants {
		mustExec(`INSERT INTO tenants (id, keys, created_at) VALUES (?, ?, ?)`, tn.ID, tn.Keys, tn.CreatedAt.UnixMicro())
	}
	phone := storetest.RandomBytes(32)
	var rs []*vault.Record
	for i := range 1500 {
		r := storetest.NewRecord(tenants[i%2].ID)
		r.CreatedAt = r.CreatedAt.Add(time.Duration(i) * time.Microsecond)
		r.Version = int64(1 + i%3)
		r.Flags.Restricted = i%5 == 0
		if i%100 == 0 {
			storetest.SetLookupToken(r, storetest.FieldPhone, phone)
		}
		if i == 7 {
			r.Sealed["notes"] = storetest.RandomBytes(9000) // overflow pages
			r.Consents = nil
			r.Tokens = nil
		}
		consents := map[string]map[string]any{}
		for name, c := range r.Consents {
			consents[name] = map[string]any{"granted": c.Granted, "at": c.At.UnixMicro()}
		}
		cj, err := json.Marshal(consents)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(`INSERT INTO contacts (tenant_id, id, wrapped_key, sealed, consents, restricted, objected, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.TenantID, r.ID, r.WrappedKey, vault.MarshalSealed(r.Sealed), string(cj),
			r.Flags.Restricted, r.Flags.Objected, r.Version, r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro())
		for _, l := range r.Lookups {
			mustExec(`INSERT INTO contact_lookups (tenant_id, contact_id, field, token, is_unique) VALUES (?, ?, ?, ?, ?)`,
				r.TenantID, r.ID, l.Field, l.Token, l.Unique)
		}
		for _, tok := range r.Tokens {
			mustExec(`INSERT INTO contact_tokens (tenant_id, contact_id, token) VALUES (?, ?, ?)`, r.TenantID, r.ID, tok)
		}
		rs = append(rs, r)
	}
	for seq := 1; seq <= 3; seq++ {
		mustExec(`INSERT INTO audit_entries (seq, time, tenant_id, actor_id, actor_role, action, subject, fields, purpose, outcome, request_id, decision_id, policy_revision)
			VALUES (?, 0, ?, 'tok', 'agent', 'contact.create', ?, '[]', 'casework', 'ok', 'req', 'dec', 'rev')`, seq, tenants[0].ID, rs[seq*2].ID)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	if err := raw.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat = %v", err)
	}

	db := mustOpenPath(t, path)
	ctx := t.Context()
	for _, r := range rs {
		got, err := db.Contact(ctx, r.TenantID, r.ID)
		if err != nil {
			t.Fatalf("Contact(%s) after the migration = %v", r.ID, err)
		}
		if d := storetest.DiffRecord(got, r); d != "" {
			t.Fatalf("Contact(%s) after the migration: %s", r.ID, d)
		}
	}
	for _, r := range []*vault.Record{rs[0], rs[7], rs[1499]} {
		found, err := db.FindContacts(ctx, r.TenantID, storetest.FieldEmail, storetest.LookupToken(r, storetest.FieldEmail), 10)
		if err != nil || len(found) != 1 || found[0].ID != r.ID {
			t.Errorf("FindContacts(email of %s) = %d records, %v, want it", r.ID, len(found), err)
		}
	}
	found, err := db.FindContacts(ctx, tenants[0].ID, storetest.FieldPhone, phone, 100)
	if err != nil || len(found) != 15 {
		t.Errorf("FindContacts(shared phone) = %d records, %v, want 15", len(found), err)
	}
	for i := 1; i < len(found); i++ {
		if found[i].CreatedAt.Before(found[i-1].CreatedAt) {
			t.Errorf("FindContacts(shared phone): record %d is older than record %d", i, i-1)
		}
	}
	// The tokens of the first schema reach the segmentation index.
	for _, r := range []*vault.Record{rs[0], rs[8], rs[1499]} {
		c := &vault.Cond{Op: vault.CondTokens, Tokens: [][]byte{r.Tokens[1]}}
		if n, err := db.CountContacts(ctx, r.TenantID, c); err != nil || n != 1 {
			t.Errorf("CountContacts(a token of %s) = %d, %v, want 1", r.ID, n, err)
		}
	}
	dup := storetest.NewRecord(rs[4].TenantID)
	storetest.SetLookupToken(dup, storetest.FieldEmail, storetest.LookupToken(rs[4], storetest.FieldEmail))
	err = db.CreateContact(ctx, dup, storetest.NewEntry(dup.TenantID, vault.ActionContactCreate, dup.ID))
	if code := vault.ErrorCode(err); code != vault.ECONFLICT {
		t.Errorf("CreateContact(email of a migrated record) = %v, want code %q", err, vault.ECONFLICT)
	}
	e := storetest.NewEntry(tenants[0].ID, vault.ActionContactErase, rs[2].ID)
	if err := db.EraseContact(ctx, tenants[0].ID, rs[2].ID, e); err != nil {
		t.Fatalf("EraseContact(migrated record) = %v", err)
	}
	if n, err := db.CountContacts(ctx, tenants[0].ID, &vault.Cond{Op: vault.CondTokens, Tokens: rs[2].Tokens}); err != nil || n != 0 {
		t.Errorf("CountContacts(the tokens of an erased migrated record) = %d, %v, want 0", n, err)
	}
	if tree := storetest.SequenceAll(t, db); tree.Size() != 4 {
		t.Errorf("audit entries after the migration and an erasure = %d, want 4", tree.Size())
	}

	raw = rawOpen(t, path)
	for _, table := range []string{"contacts_v1", "contact_lookups_v1", "contact_tokens_v1", "contact_tokens"} {
		if n := count(t, raw, "SELECT count(*) FROM sqlite_schema WHERE name = ?", table); n != 0 {
			t.Errorf("table %s exists after the migration", table)
		}
	}
	if n := count(t, raw, "SELECT count(*) FROM schema_migrations WHERE version = 3 AND name = '003_compact'"); n != 1 {
		t.Errorf("schema_migrations rows for 003_compact = %d, want 1", n)
	}
	if n := count(t, raw, "PRAGMA freelist_count"); n*4 > count(t, raw, "PRAGMA page_count") {
		t.Errorf("free pages after the migration = %d, want at most a quarter of the file", n)
	}
	raw.Close()
	if err := db.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat = %v", err)
	}
	// 003 frees more than half the file; 004 takes some of it back for
	// the segmentation indexes.
	if after.Size() > before.Size()*7/10 {
		t.Errorf("file size after the migration = %d, want at most 70%% of %d", after.Size(), before.Size())
	}
	t.Logf("file size: %d bytes before the migration, %d after", before.Size(), after.Size())
}
