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
// in one transaction, the entry unsequenced: writers share no counter, and
// an entry that the audit log could not encode fails the write with
// EINVALID. DB implements audit.Store for the log's sequencer (audit.Log),
// which numbers the committed entries densely, 0, 1, 2, …, in the order
// they were committed: SequenceAudit checks the tree head and stores a
// batch's numbers, leaf hashes, tree nodes and new head in one write
// transaction, so sequencers in one process or several agree. AppendAudit
// appends the entries of reads, searches and denials in one transaction.
//
// The log is append-only in the file itself: triggers refuse any DELETE on
// audit_entries, audit_nodes and audit_checkpoints, any UPDATE of nodes
// and checkpoints, any UPDATE of an entry but the sequencer's setting of
// its number and leaf hash once, and any INSERT that would replace a row.
// Whoever may rewrite the schema may drop them; the log's hashes and
// signed checkpoints then show what was changed (see the migration
// 002_audit_log and package audit).
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
