package postgres_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// refusals are changes to the log that the database must refuse, on a log
// whose entries 0 to 4 are sequenced and one entry is pending.
var refusals = []struct{ name, sql string }{
	{"UpdateField", `UPDATE audit_entries SET purpose = 'forged' WHERE seq = 0`},
	{"UpdateTime", `UPDATE audit_entries SET time = time + interval '1 hour' WHERE seq = 1`},
	{"UpdateSealed", `UPDATE audit_entries SET sealed = '' WHERE seq = 1`},
	{"UpdateSeq", `UPDATE audit_entries SET seq = 100000 WHERE seq = 0`},
	{"UpdateLeafHash", `UPDATE audit_entries SET leaf_hash = sha256('x') WHERE seq = 0`},
	{"Unsequence", `UPDATE audit_entries SET seq = NULL, leaf_hash = NULL WHERE seq = 4`},
	{"UpdatePending", `UPDATE audit_entries SET purpose = 'forged' WHERE seq IS NULL`},
	{"UpdateTxid", `UPDATE audit_entries SET txid = '1' WHERE seq IS NULL`},
	{"SequenceWithField", `UPDATE audit_entries SET seq = 100000, leaf_hash = sha256('x'), actor_id = 'forged' WHERE seq IS NULL`},
	{"SequenceWithoutLeaf", `UPDATE audit_entries SET seq = 100000 WHERE seq IS NULL`},
	{"Delete", `DELETE FROM audit_entries WHERE seq = 5`},
	{"DeleteNothing", `DELETE FROM audit_entries WHERE false`},
	{"DeletePending", `DELETE FROM audit_entries WHERE seq IS NULL`},
	{"Truncate", `TRUNCATE audit_entries`},
	{"UpdateNode", `UPDATE audit_nodes SET hash = sha256('x')`},
	{"DeleteNode", `DELETE FROM audit_nodes`},
	{"TruncateNodes", `TRUNCATE audit_nodes`},
	{"UpdateCheckpoint", `UPDATE audit_checkpoints SET note = 'forged'`},
	{"DeleteCheckpoint", `DELETE FROM audit_checkpoints`},
	{"TruncateCheckpoints", `TRUNCATE audit_checkpoints`},
	{"TruncateAll", `TRUNCATE audit_entries, audit_nodes, audit_checkpoints`},
}

// checkRefused reports an error unless err is the database refusing the
// change as insufficient_privilege, by a trigger of the audit log
// ("append-only" in the message) or the privilege system ("permission
// denied"), as want says.
func checkRefused(t *testing.T, call string, err error, want string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("%s = %v, want SQLSTATE 42501", call, err)
		return
	}
	if !strings.Contains(pe.Message, want) {
		t.Errorf("%s = %q, want it refused with %q", call, pe.Message, want)
	}
}

// TestAppendOnly checks that the application's own connections, as the
// superuser the test database runs as, cannot change or remove what the
// log holds: the triggers refuse it.
func TestAppendOnly(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	tree := storetest.FillAuditLog(t, db, 300)
	pool := postgres.Pool(db)
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := pool.Exec(t.Context(), r.sql)
			checkRefused(t, r.sql, err, "append-only")
		})
	}
	storetest.CheckFilledLog(t, db, tree)
	// The sequencer's own update still goes through.
	if got := storetest.SequenceAll(t, db); got.Size() != tree.Size()+1 {
		t.Errorf("tree size after sequencing = %d, want %d", got.Size(), tree.Size()+1)
	}
}

// TestAppendOnlyPrivileges runs the store as a role that owns its tables
// but is no superuser, the usual deployment: the privileges the migration
// revoked refuse UPDATE, DELETE and TRUNCATE before any trigger runs,
// except the UPDATE of seq and leaf_hash the sequencer needs, which the
// trigger refuses on a sequenced entry. The store works under that role.
func TestAppendOnlyPrivileges(t *testing.T) {
	u := pgtest.NewSchema(t)
	admin := pgtest.Conn(t, u)
	ctx := t.Context()
	role := "coffre_test_app_" + hex.EncodeToString(storetest.RandomBytes(6))
	var schema string
	if err := admin.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN NOSUPERUSER"); err != nil {
		t.Skipf("cannot create a role: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		ident := pgx.Identifier{role}.Sanitize()
		if _, err := admin.Exec(ctx, "DROP OWNED BY "+ident+" CASCADE"); err != nil {
			t.Errorf("drop owned by %s: %v", role, err)
		}
		if _, err := admin.Exec(ctx, "DROP ROLE "+ident); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	if _, err := admin.Exec(ctx, "GRANT USAGE, CREATE ON SCHEMA "+pgx.Identifier{schema}.Sanitize()+" TO "+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, withUser(t, u, role))
	if err != nil {
		t.Fatalf("Open as %s = %v", role, err)
	}
	t.Cleanup(func() { db.Close() })
	var super bool
	if err := postgres.Pool(db).QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil || super {
		t.Fatalf("store role is superuser = %t, %v; want a plain role", super, err)
	}

	tree := storetest.FillAuditLog(t, db, 300)
	pool := postgres.Pool(db)
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := pool.Exec(t.Context(), r.sql)
			// Setting seq or leaf_hash alone is granted: the trigger is
			// what refuses it here.
			want := "permission denied"
			if r.name == "UpdateSeq" || r.name == "UpdateLeafHash" || r.name == "Unsequence" || r.name == "SequenceWithoutLeaf" {
				want = "append-only"
			}
			checkRefused(t, r.sql, err, want)
		})
	}
	storetest.CheckFilledLog(t, db, tree)

	// Everything else works under the role.
	tn := storetest.MustCreateTenant(t, db)
	storetest.MustCreateContact(t, db, storetest.NewRecord(tn.ID))
	if got := storetest.SequenceAll(t, db); got.Size() != tree.Size()+2 {
		t.Errorf("tree size after sequencing = %d, want %d", got.Size(), tree.Size()+2)
	}
	storetest.CheckLog(t, db)
	es, err := db.AuditEntries(ctx, vault.AuditFilter{TenantID: tn.ID, Limit: 10})
	if err != nil || len(es) != 1 {
		t.Errorf("AuditEntries = %d entries, %v; want 1", len(es), err)
	}
}

// withUser returns the connection string u with its user set to role.
func withUser(t *testing.T, u, role string) string {
	t.Helper()
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		p.User = url.User(role)
		return p.String()
	}
	return u + " user=" + role
}

// TestTamper checks pgtest.Tamper: with the triggers disabled, as a
// superuser may, the changes TestAppendOnly shows refused go through, and
// what they did shows in what the store returns, for the verifier to
// find. The triggers are back on afterwards.
func TestTamper(t *testing.T) {
	db, u := pgtest.MustOpen(t)
	tree := storetest.FillAuditLog(t, db, 300)
	ctx := t.Context()
	n := tree.Size()

	pgtest.Tamper(t, u, `UPDATE audit_entries SET purpose = 'forged' WHERE seq = 3`)
	es, leaves, err := db.SequencedEntries(ctx, 3, 4)
	if err != nil || len(es) != 1 {
		t.Fatalf("SequencedEntries(3, 4) = %d entries, %v", len(es), err)
	}
	if es[0].Purpose != "forged" {
		t.Errorf("purpose of entry 3 after tampering = %q, want forged", es[0].Purpose)
	}
	if leaf, _ := es[0].LeafHash(); bytes.Equal(leaf, leaves[0]) {
		t.Errorf("entry 3 changed but still matches its stored leaf hash")
	}

	// Two entries swapped (through a free number: seq is unique).
	pgtest.Tamper(t, u, `UPDATE audit_entries SET seq = 1000000 WHERE seq = 1;
		UPDATE audit_entries SET seq = 1 WHERE seq = 2;
		UPDATE audit_entries SET seq = 2 WHERE seq = 1000000`)
	es, leaves, err = db.SequencedEntries(ctx, 1, 3)
	if err != nil || len(es) != 2 {
		t.Fatalf("SequencedEntries(1, 3) = %d entries, %v", len(es), err)
	}
	for i, e := range es {
		if e.Seq != uint64(1+i) {
			t.Errorf("entry %d has Seq %d", 1+i, e.Seq)
		}
		if leaf, _ := e.LeafHash(); bytes.Equal(leaf, leaves[i]) {
			t.Errorf("swapped entry %d still matches its stored leaf hash", e.Seq)
		}
	}

	// A deleted entry leaves a gap, a truncated tail a short log.
	pgtest.Tamper(t, u, `DELETE FROM audit_entries WHERE seq = 5`)
	pgtest.Tamper(t, u, fmt.Sprintf(`DELETE FROM audit_entries WHERE seq >= %d`, n-10))
	es, _, err = db.SequencedEntries(ctx, 0, n)
	if err != nil || uint64(len(es)) != n-11 {
		t.Errorf("SequencedEntries(0, %d) after deletes = %d entries, %v; want %d", n, len(es), err, n-11)
	}
	if len(es) > 5 && es[5].Seq != 6 {
		t.Errorf("SequencedEntries(0, %d)[5].Seq = %d, want 6 (a gap at 5)", n, es[5].Seq)
	}
	if _, err := db.ReadHashes(ctx, 0, 0, n); err == nil {
		t.Errorf("ReadHashes(0, 0, %d) over a gap = nil error, want one", n)
	}

	pgtest.Tamper(t, u, `UPDATE audit_nodes SET hash = sha256('forged')`)
	pgtest.Tamper(t, u, `TRUNCATE audit_checkpoints`)
	if c, err := db.LatestCheckpoint(ctx); err != nil || c != nil {
		t.Errorf("LatestCheckpoint after truncation = %v, %v; want nil", c, err)
	}

	// The triggers are on again.
	for _, r := range refusals {
		_, err := postgres.Pool(db).Exec(ctx, r.sql)
		checkRefused(t, r.sql, err, "append-only")
	}
}

// TestAppendAuditAtomic checks that a batch the database refuses on its
// last entry (a NUL byte, valid UTF-8 but not in a text column) leaves no
// entry behind.
func TestAppendAuditAtomic(t *testing.T) {
	db, _ := pgtest.MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	es := []*vault.AuditEntry{
		storetest.NewEntry(tn.ID, vault.ActionContactRead, ""),
		storetest.NewEntry(tn.ID, vault.ActionContactRead, ""),
		storetest.NewEntry(tn.ID, vault.ActionContactRead, ""),
	}
	es[2].RequestID = "req\x00"
	if err := db.AppendAudit(t.Context(), es); vault.ErrorCode(err) != vault.EINVALID {
		t.Errorf("AppendAudit(NUL in last entry) = %v, want EINVALID", err)
	}
	if ps, err := db.PendingAudit(t.Context(), 10); err != nil || len(ps) != 0 {
		t.Errorf("PendingAudit after a refused batch = %d entries, %v; want none", len(ps), err)
	}
}

// TestMigrateAuditEntries checks that entries written under the first
// schema, numbered by its counter, become pending entries in the order of
// their numbers, and are then sequenced like any other.
func TestMigrateAuditEntries(t *testing.T) {
	u := pgtest.NewSchema(t)
	conn := pgtest.Conn(t, u)
	ctx := t.Context()
	init, err := os.ReadFile("migration/001_init.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
		string(init),
		`INSERT INTO schema_migrations (version, name) VALUES (1, 'init')`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, actor := range []string{"tok-first", "tok-second", "tok-third"} {
		if _, err := conn.Exec(ctx, `WITH head AS (UPDATE audit_head SET seq = seq + 1 RETURNING seq)
			INSERT INTO audit_entries (seq, time, tenant_id, actor_id, actor_role, action, subject, fields,
				purpose, outcome, request_id, decision_id, policy_revision)
			VALUES ((SELECT seq FROM head), $1, 'tenant-a', $2, 'agent', 'contact.create', '', '{email}',
				'case-work', 'ok', 'req', '', '')`, at.Add(time.Duration(i)*time.Second), actor); err != nil {
			t.Fatal(err)
		}
	}
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("Open over schema version 1 = %v", err)
	}
	defer db.Close()
	ps, err := db.PendingAudit(ctx, 10)
	if err != nil || len(ps) != 3 {
		t.Fatalf("PendingAudit after migrating = %d entries, %v; want 3", len(ps), err)
	}
	for i, actor := range []string{"tok-first", "tok-second", "tok-third"} {
		e := ps[i].Entry
		if e.ActorID != actor || !e.Time.Equal(at.Add(time.Duration(i)*time.Second)) || len(e.Fields) != 1 || e.Sealed != nil {
			t.Errorf("PendingAudit[%d] = %+v, want the entry of %s", i, e, actor)
		}
	}
	if tree := storetest.SequenceAll(t, db); tree.Size() != 3 {
		t.Errorf("tree size = %d, want 3", tree.Size())
	}
	es, err := db.AuditEntries(ctx, vault.AuditFilter{TenantID: "tenant-a", Limit: 10})
	if err != nil || len(es) != 3 || es[0].ActorID != "tok-first" || es[2].Seq != 2 {
		t.Errorf("AuditEntries after sequencing = %d entries, %v", len(es), err)
	}
}
