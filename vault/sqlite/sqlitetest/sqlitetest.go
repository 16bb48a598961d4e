// Package sqlitetest helps tests of code built on vault/sqlite; it is not
// for production use.
//
// Tamper edits a store's audit log behind its back, the way whoever holds
// the database file can, for the tests that show such edits are detected.
// SQLite cannot disable a trigger, and PRAGMA has no switch for them:
// Tamper drops the append-only triggers of the log's tables, runs the
// statements and creates the triggers again from the SQL that
// sqlite_master kept of them, all in one transaction, so that no other
// connection ever sees the log unguarded.
package sqlitetest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// AuditTables are the tables of the audit log whose triggers Tamper drops
// and recreates.
var AuditTables = []string{"audit_entries", "audit_nodes", "audit_checkpoints", "audit_head"}

// Tamper runs sql, one or more statements without parameters, on the
// SQLite file at path (the one a vault/sqlite store was opened on) the way
// an attacker with write access to the file would edit the audit log: in
// one transaction, with the triggers that keep AuditTables append-only
// dropped before the statements and recreated, as they were, before the
// commit. A store open on the file may stay open: Tamper waits for its
// write lock, and the store's statements pick up the schema again. Tamper
// fails tb if the file has no such trigger, or if a statement fails.
func Tamper(tb testing.TB, path, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := openRaw(path)
	if err != nil {
		tb.Fatalf("sqlitetest.Tamper: open %s: %v", path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatalf("sqlitetest.Tamper: %v", err)
	}
	defer tx.Rollback()

	triggers, err := auditTriggers(ctx, tx)
	if err != nil {
		tb.Fatalf("sqlitetest.Tamper: list triggers: %v", err)
	}
	if len(triggers) == 0 {
		tb.Fatalf("sqlitetest.Tamper: %s has no trigger on the audit tables", path)
	}
	for _, t := range triggers {
		if _, err := tx.ExecContext(ctx, `DROP TRIGGER "`+strings.ReplaceAll(t.name, `"`, `""`)+`"`); err != nil {
			tb.Fatalf("sqlitetest.Tamper: drop trigger %s: %v", t.name, err)
		}
	}
	// Without arguments the driver runs every statement of the string.
	if _, err := tx.ExecContext(ctx, sql); err != nil {
		tb.Fatalf("sqlitetest.Tamper: %v", err)
	}
	for _, t := range triggers {
		if _, err := tx.ExecContext(ctx, t.sql); err != nil {
			tb.Fatalf("sqlitetest.Tamper: recreate trigger %s: %v", t.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatalf("sqlitetest.Tamper: commit: %v", err)
	}
}

// trigger is a trigger as sqlite_master keeps it.
type trigger struct{ name, sql string }

// auditTriggers returns the triggers on AuditTables.
func auditTriggers(ctx context.Context, tx *sql.Tx) ([]trigger, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'trigger' AND tbl_name IN (SELECT value FROM json_each(?)) ORDER BY name`,
		`["`+strings.Join(AuditTables, `","`)+`"]`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []trigger
	for rows.Next() {
		var t trigger
		if err := rows.Scan(&t.name, &t.sql); err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// openRaw opens the file with the bare driver: write lock taken at BEGIN,
// waiting for a store that holds it.
func openRaw(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path+"?_txlock=immediate&_busy_timeout=10000")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}
