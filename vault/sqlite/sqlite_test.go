package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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
		for i, name := range []string{"001_initial", "002_audit_log"} {
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
// fields and tokens from the file.
func TestErase_Shredded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer db.Close()
	tn := storetest.MustCreateTenant(t, db)
	r := storetest.NewRecord(tn.ID)
	storetest.MustCreateContact(t, db, r)
	for range 50 {
		storetest.MustCreateContact(t, db, storetest.NewRecord(tn.ID))
	}
	if err := db.EraseContact(t.Context(), tn.ID, r.ID, storetest.NewEntry(tn.ID, vault.ActionContactErase, r.ID)); err != nil {
		t.Fatalf("EraseContact = %v", err)
	}

	raw := rawOpen(t, path)
	for _, q := range []string{
		"SELECT count(*) FROM contacts WHERE id = ?",
		"SELECT count(*) FROM contact_lookups WHERE contact_id = ?",
		"SELECT count(*) FROM contact_tokens WHERE contact_id = ?",
	} {
		if n := count(t, raw, q, r.ID); n != 0 {
			t.Errorf("%s = %d after erasure, want 0", q, n)
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

func BenchmarkCreateContact(b *testing.B) {
	storetest.BenchCreateContact(b, MustOpen(b))
}

func BenchmarkGetContact(b *testing.B) {
	storetest.BenchGetContact(b, MustOpen(b), 10000)
}
