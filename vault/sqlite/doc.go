// Package sqlite is the embedded vault.Store: a single SQLite file, driven
// by the pure-Go modernc.org/sqlite, so that Coffre runs on a fresh machine
// with no database to set up.
//
// The file is opened in WAL mode with foreign keys on and a busy timeout.
// Writes go through a pool of exactly one connection that begins every
// transaction with BEGIN IMMEDIATE, so writers queue in the process instead
// of racing for SQLite's lock; reads go through a separate pool of
// read-only connections, which WAL lets run beside the writer. The result
// is that a store used by one process never reports SQLITE_BUSY. Two
// processes on one file still work, each waiting up to the busy timeout for
// the other's writes.
//
// Every write commits its data change and the audit entry that records it
// in one transaction. Audit entries are numbered by their rowid: with one
// writer and triggers refusing UPDATE and DELETE on the log, the sequence
// is dense (1, 2, 3, …).
//
// Commits are synchronous (synchronous=FULL): an acknowledged erasure
// survives a power cut. secure_delete is on, so an erased record's wrapped
// key, sealed fields and tokens are overwritten in the database file; older
// copies of those pages may remain in the write-ahead log until it is
// checkpointed and reused, and the log is removed when the store is closed.
//
// The schema lives in migration/NNN_name.up.sql, embedded in the binary,
// applied in order by Migrate and recorded in schema_migrations. A shipped
// migration is never edited; a change is a new file.
package sqlite
