// Package postgres is the production vault.Store, on PostgreSQL through
// pgx/v5.
//
// Open connects a pool and applies the embedded migrations
// (migration/NNN_name.up.sql, each in its own transaction, recorded in
// schema_migrations and serialised between concurrent starters by an
// advisory lock). Every table is created in the first schema of the
// connection's search_path, so a schema can be chosen with the search_path
// parameter of the database URL.
//
// The database only ever sees what vault.Record holds: sealed bytes,
// wrapped keys, keyed blind-index and segmentation tokens, consent states
// and flags. A record is one row of contacts, so that reading it is one
// primary-key query; its lookups are kept on that row too, and in
// contact_lookups, whose partial unique index refuses a second record of
// the tenant with the same unique lookup. Concurrent reads by id, and
// concurrent searches by lookup token, share statements when the store is
// busy (coalesce.go): a read that finds its kind's statement in flight
// waits for the next one, which serves every waiting read, and one that
// finds none yields once and takes along the reads that queued meanwhile.
//
// A write and its audit entry commit in one transaction, whose statements
// are pipelined: BEGIN, the change, the audit entry and COMMIT travel to the
// server together, in one round trip. A create is a single statement, an
// INSERT whose WITH clauses check the suppression list and write the
// record, its lookups, its segment row and its entry (create.go), its own
// transaction; concurrent creates are pipelined together into one
// transaction, and run again alone if the database refuses one of them
// (contact_creates.go). LoadContacts copies rows in with COPY.
//
// # Audit log
//
// The entry a write commits is unsequenced: a row of audit_entries whose
// seq and leaf_hash are NULL, numbered only by its bigserial id. Writers
// share no row and take no lock another writer waits for, so their commits
// (and WAL flushes, which PostgreSQL groups) proceed in parallel; the
// one-row counter of the first schema, which serialised every audited
// write, is gone. AppendAudit appends entries that record no change
// (reads, searches, denials) as one INSERT per batch, its own transaction,
// and the service sends them there rather than through the log
// (PrefersPendingAppends), the sequencer numbering them with the entries of
// changes. audit.Log.Append, which numbers entries at once, is served
// too: SequenceAudit stores such a batch, when nothing is pending, in one
// statement: an INSERT whose WITH clause replaces the head only if it is
// still the one the batch was numbered from, and whose rows and nodes are
// written only if it was (sequence_append.go). Such an entry is written
// once; an entry of a change is inserted pending and numbered by an UPDATE
// later. The statement's check that nothing is pending reads only entries
// of transactions at or above the xmin of the last check that found none
// (each entry keeps its writer's transaction id, migration 007), so it does
// not walk the index entries that numbered rows leave until VACUUM, and it
// asks for the first such entry in txid order rather than EXISTS, so that
// no statistics make it a scan of the whole log.
//
// DB implements audit.Store for the log's sequencer: PendingAudit reads
// the pending rows by id, from the pending floor up (audit_floor.go), and
// SequenceAudit sets their seq and leaf hash
// in one UPDATE, stores the tree nodes at levels 8, 16, … in audit_nodes
// and replaces the tree head in audit_head, in one transaction that first
// locks the head row and checks it is the head the sequencer started from
// (audit.ErrHeadMoved otherwise), so concurrent sequencers cannot number
// the same entries. ReadHashes serves proofs from the leaf hashes and
// audit_nodes; signed checkpoints live in audit_checkpoints.
//
// The database keeps the log append-only (migration 002): triggers refuse
// DELETE and TRUNCATE on the log tables, any UPDATE of nodes and
// checkpoints, and any UPDATE of an entry but the one that sequences it;
// privileges revoke the same from the migrating role, which keeps only
// UPDATE of seq and leaf_hash.
//
// A write whose context is done before its commit is sent writes nothing
// and returns the context's error. Once the commit is sent, the write waits
// for the server's answer whatever the context says (up to a bound), so
// that its result is true: a write reported failed was not committed.
//
// A DB is safe for concurrent use.
package postgres
