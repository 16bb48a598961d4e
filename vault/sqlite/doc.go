// Package sqlite is the embedded vault.Store: a single SQLite file, driven
// by the pure-Go modernc.org/sqlite, so that Coffre runs on a fresh machine
// with no database to set up.
//
// # Connections
//
// The file is opened in WAL mode. Writes go through one connection, owned
// by a writer goroutine (writer.go); reads through a pool of read-only
// connections, which WAL lets run beside the writer. A point read is one
// statement, hence one consistent snapshot, with no transaction around
// it. Within one process no call ever meets SQLITE_BUSY: writers queue in
// the process, never for SQLite's lock. Two processes on one file still
// work, each waiting up to the busy timeout for the other's writes.
//
// # Group commit
//
// The writer takes every write waiting when it is free and runs them in
// one transaction (BEGIN IMMEDIATE), each in its own savepoint, then
// commits once. A write that fails is rolled back to its savepoint alone;
// every write is answered once the transaction has ended, a failed one
// too, since an earlier write of the batch may be why it failed. Each call
// is thus all or nothing, as with a transaction of its own, and is
// acknowledged only when durable, while concurrent writers share the cost
// of a synchronous commit: a batch of writes costs about what one did. A
// caller whose context ends while its write waits gets the context's
// error and the write is dropped; once the writer started it, the caller
// gets its outcome.
//
// # Audit log
//
// Every write commits its data change and the audit entry that records it
// in one transaction, the entry unsequenced: writers share no counter, and
// an entry that the audit log could not encode fails the write with
// EINVALID. DB implements audit.Store for the log's sequencer (audit.Log),
// which numbers the committed entries densely, 0, 1, 2, …, in the order
// they were committed: SequenceAudit checks the tree head and stores a
// batch's numbers, leaf hashes, tree nodes and new head in one write, so
// sequencers in one process or several agree. AppendAudit appends the
// entries of reads, searches and denials in one write, pending; the
// server's log appends them numbered instead (audit.Log.Append), as new
// entries of a SequenceAudit batch, so each is written once.
//
// The log is append-only in the file itself: triggers refuse any DELETE on
// audit_entries, audit_nodes and audit_checkpoints, any UPDATE of nodes
// and checkpoints, any UPDATE of an entry but the sequencer's setting of
// its number and leaf hash once, any INSERT that would replace a row, and
// any INSERT of a numbered entry but the next one of the log. Whoever may
// rewrite the schema may drop them; the log's hashes and signed
// checkpoints then show what was changed (see the migrations 002_audit_log
// and 006_audit_append, and package audit).
//
// # Durability and erasure
//
// Commits are synchronous (synchronous=FULL): an acknowledged write, an
// erasure included, survives a power cut. secure_delete is ON: an erased
// record's wrapped key, sealed fields, lookups and tokens are overwritten
// with zeros in the pages that held them, and the pages the erasure frees
// (the overflow pages of a large record) are zeroed too. secure_delete=FAST
// would skip the latter and leave those bytes on the free list; the test
// of erasure fails with it. Older copies of the pages may remain in the
// write-ahead log until it is checkpointed (SQLite does so every thousand
// pages written) and its frames are overwritten; the log is removed when
// the store is closed.
//
// # Layout
//
// A contact is one row of contacts, keyed by an integer rid, found by its
// tenant and id (the 16 bytes of a UUID: contact ids must be lower-case
// UUIDs, as vault.NewID makes them), and holding the record's lookups and
// segmentation tokens as packed lists (codec.go), so that a read is one
// row. The lookup tables, keyed by token, find contacts for a search and
// make unique lookups unique; the store writes them with the row and
// deletes them from the list in the row. The migration 003_compact
// explains the choices and what they saved.
//
// Each connection has a page cache: 64 MiB for the writer, whose bulk
// loads insert at random places in the lookup tables, 8 MiB per reader.
//
// # Migrations
//
// The schema lives in migration/NNN_name.up.sql, embedded in the binary,
// applied in order by Migrate and recorded in schema_migrations, each in
// one transaction with the data step Go code adds where SQL cannot express
// it (dataSteps). A shipped migration is never edited; a change is a new
// file. After a migration that leaves more than a quarter of the file
// free, Migrate compacts it with VACUUM.
package sqlite
