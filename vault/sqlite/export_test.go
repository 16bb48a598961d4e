package sqlite

import "database/sql"

// Writer returns db's writer: the application's own connection, which
// every write goes through.
func Writer(db *DB) *sql.DB { return db.w }

// SkipAudit makes db's writes leave out their audit entry, so that the
// benchmarks can tell what the entry costs.
func SkipAudit(db *DB) { db.noAudit = true }

// Reader returns db's read pool.
func Reader(db *DB) *sql.DB { return db.r }
