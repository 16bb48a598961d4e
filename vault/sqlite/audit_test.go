package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/sqlite"
	"github.com/coffre/coffre/vault/sqlite/sqlitetest"
	"github.com/coffre/coffre/vault/storetest"
)

// refusals are changes to the log that the database must refuse, on a log
// of 300 sequenced entries, one pending, one node and one checkpoint.
var refusals = []struct{ name, sql string }{
	{"UpdateField", `UPDATE audit_entries SET purpose = 'forged' WHERE seq = 0`},
	{"UpdateTime", `UPDATE audit_entries SET time = time + 3600000000 WHERE seq = 1`},
	{"UpdateFields", `UPDATE audit_entries SET fields = '["email"]' WHERE seq = 1`},
	{"UpdateSealed", `UPDATE audit_entries SET sealed = x'00' WHERE seq = 1`},
	{"UpdateSeq", `UPDATE audit_entries SET seq = 100000 WHERE seq = 0`},
	{"UpdateLeafHash", `UPDATE audit_entries SET leaf_hash = zeroblob(32) WHERE seq = 0`},
	{"UpdateID", `UPDATE audit_entries SET id = id + 100000 WHERE seq = 0`},
	{"Unsequence", `UPDATE audit_entries SET seq = NULL, leaf_hash = NULL WHERE seq = 4`},
	{"UpdatePending", `UPDATE audit_entries SET purpose = 'forged' WHERE seq IS NULL`},
	{"SequenceWithField", `UPDATE audit_entries SET seq = 100000, leaf_hash = zeroblob(32), actor_id = 'forged' WHERE seq IS NULL`},
	{"SequenceWithoutLeaf", `UPDATE audit_entries SET seq = 100000 WHERE seq IS NULL`},
	// Setting a pending entry's number to one already taken, with REPLACE
	// deleting the entry that holds it, which fires no DELETE trigger.
	{"SequenceOverTaken", `UPDATE OR REPLACE audit_entries SET seq = 3, leaf_hash = zeroblob(32) WHERE seq IS NULL`},
	{"Delete", `DELETE FROM audit_entries WHERE seq = 5`},
	{"DeletePending", `DELETE FROM audit_entries WHERE seq IS NULL`},
	{"DeleteAll", `DELETE FROM audit_entries`},
	{"InsertSequenced", `INSERT INTO audit_entries (seq, leaf_hash, time, tenant_id, actor_id, actor_role, action, subject,
		purpose, outcome, request_id, decision_id, policy_revision) VALUES (100000, zeroblob(32), 0, 't', '', '', 'a', '', '', '', '', '', '')`},
	// A numbered entry enters only as the next one (300), with its leaf.
	{"InsertAtTakenSeq", `INSERT INTO audit_entries (seq, leaf_hash, time, tenant_id, actor_id, actor_role, action, subject,
		purpose, outcome, request_id, decision_id, policy_revision) VALUES (5, zeroblob(32), 0, 't', '', '', 'a', '', '', '', '', '', '')`},
	{"InsertPastNext", `INSERT INTO audit_entries (seq, leaf_hash, time, tenant_id, actor_id, actor_role, action, subject,
		purpose, outcome, request_id, decision_id, policy_revision) VALUES (301, zeroblob(32), 0, 't', '', '', 'a', '', '', '', '', '', '')`},
	{"InsertNextWithoutLeaf", `INSERT INTO audit_entries (seq, time, tenant_id, actor_id, actor_role, action, subject,
		purpose, outcome, request_id, decision_id, policy_revision) VALUES (300, 0, 't', '', '', 'a', '', '', '', '', '', '')`},
	{"ReplaceEntry", `REPLACE INTO audit_entries (id, time, tenant_id, actor_id, actor_role, action, subject,
		purpose, outcome, request_id, decision_id, policy_revision)
		SELECT id, time, tenant_id, actor_id, actor_role, action, subject, 'forged', outcome, request_id, decision_id, policy_revision
		FROM audit_entries WHERE seq = 7`},
	{"ReplaceBySeq", `INSERT OR REPLACE INTO audit_entries (seq, leaf_hash, time, tenant_id, actor_id, actor_role, action, subject,
		purpose, outcome, request_id, decision_id, policy_revision) VALUES (8, zeroblob(32), 0, 't', '', '', 'a', '', '', '', '', '', '')`},
	{"UpdateNode", `UPDATE audit_nodes SET hash = zeroblob(32)`},
	{"DeleteNode", `DELETE FROM audit_nodes`},
	{"ReplaceNode", `REPLACE INTO audit_nodes (level, idx, hash) VALUES (8, 0, zeroblob(32))`},
	{"UpdateCheckpoint", `UPDATE audit_checkpoints SET note = x'00'`},
	{"DeleteCheckpoint", `DELETE FROM audit_checkpoints`},
	{"ReplaceCheckpoint", `INSERT OR REPLACE INTO audit_checkpoints (size, note, created_at) VALUES (300, x'00', 0)`},
	{"UpsertCheckpoint", `INSERT INTO audit_checkpoints (size, note, created_at) VALUES (300, x'00', 0)
		ON CONFLICT (size) DO UPDATE SET note = excluded.note`},
}

// checkRefused reports an error unless err is a trigger of the audit log
// refusing the change.
func checkRefused(t *testing.T, call string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "the audit log is append-only") {
		t.Errorf("%s = %v, want the append-only refusal", call, err)
	}
}

// TestAppendOnly checks that a connection with the settings of the
// store's writer, which every write has, cannot change or remove what the
// log holds: the triggers refuse it.
func TestAppendOnly(t *testing.T) {
	db := MustOpen(t)
	tree := storetest.FillAuditLog(t, db, 300)
	w := sqlite.Writer(t, db)
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := w.ExecContext(t.Context(), r.sql)
			checkRefused(t, r.sql, err)
		})
	}
	storetest.CheckFilledLog(t, db, tree)
	// The sequencer's own update still goes through.
	if got := storetest.SequenceAll(t, db); got.Size() != tree.Size()+1 {
		t.Errorf("tree size after sequencing = %d, want %d", got.Size(), tree.Size()+1)
	}
	storetest.CheckLog(t, db)
}

// TestAppendOnly_Reader checks that the store's read pool, opened
// query_only, cannot write to the log at all, nor to the head.
func TestAppendOnly_Reader(t *testing.T) {
	db := MustOpen(t)
	tree := storetest.FillAuditLog(t, db, 10)
	for _, q := range []string{`DELETE FROM audit_entries`, `UPDATE audit_head SET tree = NULL`,
		`INSERT INTO audit_nodes (level, idx, hash) VALUES (8, 5, zeroblob(32))`} {
		if _, err := sqlite.Reader(db).ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("%s on the read pool = %v, want a read-only error", q, err)
		}
	}
	if got := storetest.CheckLog(t, db); !bytes.Equal(got.Root(), tree.Root()) {
		t.Errorf("the log changed")
	}
}

// testLog is a store holding a sequenced, checkpointed log, with the key
// that verifies it and an export verified before any tampering.
type testLog struct {
	db     *sqlite.DB
	path   string
	log    *audit.Log
	signer *audit.Signer
	vkey   string
	oldCP  []byte
	before []byte
	size   uint64
}

// newTestLog writes n entries through the store's writes and AppendAudit,
// sequences and checkpoints them with an audit.Log, and exports them.
func newTestLog(t *testing.T, n int) *testLog {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "coffre.db")
	db := mustOpenPath(t, path)
	skey, vkey, err := audit.GenerateKey("coffre.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.NewLog(db, audit.LogOptions{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	tn := storetest.MustCreateTenant(t, db)
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			storetest.MustCreateContact(t, db, storetest.NewRecord(tn.ID))
			continue
		}
		if err := db.AppendAudit(ctx, []*vault.AuditEntry{storetest.NewEntry(tn.ID, vault.ActionContactRead, "")}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 50 {
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tl := &testLog{db: db, path: path, log: l, signer: signer, vkey: vkey, oldCP: cp.Note, size: cp.Size}
	tl.before = tl.export(t)
	if _, err := tl.verify(t, tl.before, audit.VerifyOptions{}); err != nil {
		t.Fatalf("Verify(untouched log) = %v, want nil", err)
	}
	return tl
}

func (l *testLog) export(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := l.log.Export(t.Context(), &b, "", nil); err != nil {
		t.Fatalf("Export = %v", err)
	}
	return b.Bytes()
}

func (l *testLog) verify(t *testing.T, export []byte, opts audit.VerifyOptions) (*audit.Summary, error) {
	t.Helper()
	return audit.Verify(t.Context(), bytes.NewReader(export), l.vkey, opts)
}

// checkNamed reports an error unless err is a *audit.VerifyError of kind
// want naming the range [seq, end).
func checkNamed(t *testing.T, err error, want error, seq, end uint64) {
	t.Helper()
	var ve *audit.VerifyError
	if !errors.As(err, &ve) || !errors.Is(err, want) {
		t.Fatalf("Verify = %v, want a VerifyError wrapping %v", err, want)
	}
	if ve.Seq != seq || ve.End != end {
		t.Errorf("Verify = %v, naming [%d, %d); want [%d, %d)", err, ve.Seq, ve.End, seq, end)
	}
}

// TestTamper edits the log with sqlitetest.Tamper, as whoever holds the
// file can, and checks that audit.Verify, given an export made after the
// edit, names the entry; and that the triggers are back afterwards.
func TestTamper(t *testing.T) {
	const n, k = 400, 100
	t.Run("ChangedField", func(t *testing.T) {
		l := newTestLog(t, n)
		sqlitetest.Tamper(t, l.path, fmt.Sprintf(`UPDATE audit_entries SET purpose = 'marketing' WHERE seq = %d`, k))
		es, leaves, err := l.db.SequencedEntries(t.Context(), k, k+1)
		if err != nil || len(es) != 1 || es[0].Purpose != "marketing" {
			t.Fatalf("SequencedEntries(%d, %d) after tampering = %v, %v", k, k+1, es, err)
		}
		if leaf, _ := es[0].LeafHash(); bytes.Equal(leaf, leaves[0]) {
			t.Errorf("entry %d changed but still matches its stored leaf hash", k)
		}
		_, err = l.verify(t, l.export(t), audit.VerifyOptions{})
		checkNamed(t, err, audit.ErrLeafHash, k, k+1)
	})
	t.Run("DeletedEntry", func(t *testing.T) {
		l := newTestLog(t, n)
		sqlitetest.Tamper(t, l.path, fmt.Sprintf(`DELETE FROM audit_entries WHERE seq = %d`, k))
		if _, err := l.db.ReadHashes(t.Context(), 0, 0, l.size); vault.ErrorCode(err) != vault.ENOTFOUND {
			t.Errorf("ReadHashes(0, 0, %d) over a gap = %v, want ENOTFOUND", l.size, err)
		}
		_, err := l.verify(t, l.export(t), audit.VerifyOptions{})
		checkNamed(t, err, audit.ErrSequence, k, k+1)
	})
	t.Run("SwappedEntries", func(t *testing.T) {
		l := newTestLog(t, n)
		// Through a free number: seq is unique.
		sqlitetest.Tamper(t, l.path, fmt.Sprintf(`UPDATE audit_entries SET seq = 1000000 WHERE seq = %d;
			UPDATE audit_entries SET seq = %d WHERE seq = %d;
			UPDATE audit_entries SET seq = %d WHERE seq = 1000000`, k, k, k+50, k+50))
		_, err := l.verify(t, l.export(t), audit.VerifyOptions{})
		checkNamed(t, err, audit.ErrLeafHash, k, k+1)
	})
	t.Run("TruncatedTail", func(t *testing.T) {
		l := newTestLog(t, n)
		// Cut back to k entries, consistently: entries, nodes and
		// checkpoints past k, and the head; a new Log reads the new head
		// and signs a checkpoint of size k with the log's own key.
		tree, err := audit.LoadTree(t.Context(), l.db, k)
		if err != nil {
			t.Fatal(err)
		}
		head, _ := tree.MarshalBinary()
		sqlitetest.Tamper(t, l.path, fmt.Sprintf(`DELETE FROM audit_entries WHERE seq >= %[1]d;
			DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > %[1]d;
			DELETE FROM audit_checkpoints WHERE size > %[1]d;
			UPDATE audit_head SET tree = x'%[2]x'`, k, head))
		if l.log, err = audit.NewLog(l.db, audit.LogOptions{Signer: l.signer}); err != nil {
			t.Fatal(err)
		}
		after := l.export(t)
		// On its own, a log cut back consistently verifies: that is what
		// the old checkpoint and the previous export are kept for.
		if s, err := l.verify(t, after, audit.VerifyOptions{}); err != nil || s.Size != k {
			t.Fatalf("Verify(cut log) = %v, %v; want size %d", s, err, k)
		}
		_, err = l.verify(t, after, audit.VerifyOptions{OldCheckpoint: l.oldCP})
		checkNamed(t, err, audit.ErrMissing, k, l.size)
		_, err = l.verify(t, after, audit.VerifyOptions{Previous: bytes.NewReader(l.before)})
		checkNamed(t, err, audit.ErrMissing, k, l.size)
	})
	t.Run("TriggersBack", func(t *testing.T) {
		db := MustOpen(t)
		tree := storetest.FillAuditLog(t, db, 300)
		var path string
		if err := sqlite.Writer(t, db).QueryRowContext(t.Context(), `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path); err != nil {
			t.Fatal(err)
		}
		var before int
		sqlite.Writer(t, db).QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_master WHERE type = 'trigger'`).Scan(&before)
		// A no-op tamper while the store is open and sequencing.
		sqlitetest.Tamper(t, path, `SELECT 1`)
		for _, r := range refusals {
			_, err := sqlite.Writer(t, db).ExecContext(t.Context(), r.sql)
			checkRefused(t, r.sql, err)
		}
		var after int
		sqlite.Writer(t, db).QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_master WHERE type = 'trigger'`).Scan(&after)
		if before != after || before < 9 {
			t.Errorf("triggers before and after Tamper = %d, %d; want the same, at least 9", before, after)
		}
		storetest.CheckFilledLog(t, db, tree)
	})
}

// TestMigrateAuditEntries checks that entries written under the first
// schema, numbered by MAX(seq) + 1, become pending entries in the order of
// their numbers, and are then sequenced like any other.
func TestMigrateAuditEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	init, err := os.ReadFile("migration/001_initial.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw := rawOpen(t, path)
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
		string(init),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '001_initial', 0)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// Written out of seq order, to show the order kept is seq's.
	for _, i := range []int{1, 0, 2} {
		actor := []string{"tok-first", "tok-second", "tok-third"}[i]
		if _, err := raw.Exec(`INSERT INTO audit_entries (seq, time, tenant_id, actor_id, actor_role, action, subject, fields,
				purpose, outcome, request_id, decision_id, policy_revision)
			VALUES (?, ?, 'tenant-a', ?, 'agent', 'contact.create', '', '["email"]', 'case-work', 'ok', 'req', '', '')`,
			i+1, at.Add(time.Duration(i)*time.Second).UnixMicro(), actor); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db := mustOpenPath(t, path)
	ctx := t.Context()
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
	if err != nil || len(es) != 3 || es[0].ActorID != "tok-first" || es[0].Seq != 0 || es[2].Seq != 2 {
		t.Errorf("AuditEntries after sequencing = %d entries, %v", len(es), err)
	}
	storetest.CheckLog(t, db)
	// The new entries follow, and the triggers of 002 guard them.
	storetest.MustCreateContact(t, db, storetest.NewRecord(storetest.MustCreateTenant(t, db).ID))
	if tree := storetest.SequenceAll(t, db); tree.Size() != 4 {
		t.Errorf("tree size = %d, want 4", tree.Size())
	}
	_, err = sqlite.Writer(t, db).ExecContext(ctx, `DELETE FROM audit_entries`)
	checkRefused(t, "DELETE FROM audit_entries", err)
}

// TestAuditEntries_Text checks that text PostgreSQL could not store (a NUL
// byte) and JSON's special characters round-trip through the log's
// columns: they are valid UTF-8, so the log takes them.
func TestAuditEntries_Text(t *testing.T) {
	db := MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	e := storetest.NewEntry(tn.ID, vault.ActionContactRead, "")
	e.RequestID = "req\x00nul"
	e.Fields = []string{"a\x00b", "<&>", `"\`, "\u2028"}
	if err := db.AppendAudit(t.Context(), []*vault.AuditEntry{e}); err != nil {
		t.Fatalf("AppendAudit = %v", err)
	}
	storetest.SequenceAll(t, db)
	es, err := db.AuditEntries(t.Context(), vault.AuditFilter{TenantID: tn.ID, Limit: 1})
	if err != nil || len(es) != 1 {
		t.Fatalf("AuditEntries = %d, %v", len(es), err)
	}
	if d := storetest.DiffEntry(es[0], storetest.WithSeq(e, 0)); d != "" {
		t.Errorf("AuditEntries: %s", d)
	}
	storetest.CheckLog(t, db)
}

// TestAuditEntries_Plan checks that every filter of AuditEntries, and the
// sequencer's reads, are index searches, not table scans.
func TestAuditEntries_Plan(t *testing.T) {
	db := MustOpen(t)
	w := sqlite.Writer(t, db)
	for _, tt := range []struct{ name, query, index string }{
		{"Tenant", `SELECT * FROM audit_entries WHERE tenant_id = 't' AND seq >= 0 ORDER BY seq LIMIT 10`, "audit_entries_tenant"},
		{"Subject", `SELECT * FROM audit_entries WHERE tenant_id = 't' AND seq >= 0 AND subject = 's' ORDER BY seq LIMIT 10`, "audit_entries_subject"},
		{"Actor", `SELECT * FROM audit_entries WHERE tenant_id = 't' AND seq >= 0 AND actor_id = 'a' ORDER BY seq LIMIT 10`, "audit_entries_actor"},
		{"Action", `SELECT * FROM audit_entries WHERE tenant_id = 't' AND seq >= 0 AND action = 'a' ORDER BY seq LIMIT 10`, "audit_entries_action"},
		{"Pending", `SELECT * FROM audit_entries WHERE seq IS NULL ORDER BY id LIMIT 10`, "audit_entries_pending"},
		{"PendingExist", `SELECT EXISTS (SELECT 1 FROM audit_entries WHERE seq IS NULL)`, "audit_entries_pending"},
		{"Sequenced", `SELECT * FROM audit_entries WHERE seq >= 0 AND seq < 10 ORDER BY seq`, "audit_entries_seq"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			got := strings.Join(plan, "; ")
			if !strings.Contains(got, "USING INDEX "+tt.index) || strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("plan of %s = %q, want a search of %s in order", tt.name, got, tt.index)
			}
		})
	}
}

// TestAppendAudit_Cancelled checks that a batch whose context ends while
// it waits for the writer leaves nothing behind.
func TestAppendAudit_Cancelled(t *testing.T) {
	db := MustOpen(t)
	tn := storetest.MustCreateTenant(t, db)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	es := []*vault.AuditEntry{storetest.NewEntry(tn.ID, vault.ActionContactRead, ""), storetest.NewEntry(tn.ID, vault.ActionContactRead, "")}
	if err := db.AppendAudit(ctx, es); !errors.Is(err, context.Canceled) {
		t.Errorf("AppendAudit(cancelled) = %v, want context.Canceled", err)
	}
	if ps, err := db.PendingAudit(t.Context(), 10); err != nil || len(ps) != 0 {
		t.Errorf("PendingAudit = %d, %v; want none", len(ps), err)
	}
}

// TestTwoStores runs two stores on one file, as two processes would (a
// command beside the server), each with writers and a sequencer: the
// write lock and the head check keep the log dense.
func TestTwoStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	dbs := []*sqlite.DB{mustOpenPath(t, path), mustOpenPath(t, path)}
	tn := storetest.MustCreateTenant(t, dbs[0])
	var stops []func() (*audit.Tree, error)
	for _, db := range dbs {
		stops = append(stops, storetest.StartSequencer(db, time.Millisecond))
	}
	const workers, each = 8, 25
	errs := make(chan error, workers)
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			db := dbs[w%2]
			for i := range each {
				var err error
				if i%2 == 0 {
					r := storetest.NewRecord(tn.ID)
					err = db.CreateContact(t.Context(), r, storetest.NewEntry(tn.ID, vault.ActionContactCreate, r.ID))
				} else {
					err = db.AppendAudit(t.Context(), []*vault.AuditEntry{storetest.NewEntry(tn.ID, vault.ActionContactRead, "")})
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d, write %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, stop := range stops {
		if _, err := stop(); err != nil {
			t.Errorf("sequencer %d: %v", i, err)
		}
	}
	for i, db := range dbs {
		if tree := storetest.CheckLog(t, db); tree.Size() != workers*each {
			t.Errorf("store %d: tree size = %d, want %d", i, tree.Size(), workers*each)
		}
	}
}
