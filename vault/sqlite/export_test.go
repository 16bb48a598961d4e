package sqlite

import (
	"database/sql"
	"testing"
)

// Writer returns a connection to db's file with the settings of db's
// writer, closed when tb ends: what it runs meets the same triggers and
// constraints as a write of the store. The writer's own connection
// belongs to its goroutine.
func Writer(tb testing.TB, db *DB) *sql.DB {
	tb.Helper()
	w, err := sql.Open("sqlite", writerDSN(db.path))
	if err != nil {
		tb.Fatalf("sql.Open(%s) = %v", db.path, err)
	}
	w.SetMaxOpenConns(1)
	tb.Cleanup(func() { w.Close() })
	return w
}

// SkipAudit makes db's writes leave out their audit entry, so that the
// benchmarks can tell what the entry costs.
func SkipAudit(db *DB) { db.noAudit = true }

// Reader returns db's read pool.
func Reader(db *DB) *sql.DB { return db.r }

// The queries of the hot reads, for the tests of their plans.
const (
	QueryContact      = qContact
	QueryFindContacts = qFindContacts
)

// V1Schema is the schema of the first migration, for the tests of the
// migration from it.
func V1Schema() (string, error) {
	b, err := migrations.ReadFile("migration/001_initial.up.sql")
	return string(b), err
}
