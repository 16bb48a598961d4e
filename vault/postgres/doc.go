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
// the tenant with the same unique lookup.
//
// A write and its audit entry commit in one transaction, whose statements
// are pipelined: BEGIN, the change, the audit entry and COMMIT travel to the
// server together, so a create costs one round trip. Audit sequence numbers
// come from a one-row counter that the writer's transaction increments: they
// are dense, but the commits of all writers are serialised on it (see
// appendAuditSQL). LoadContacts copies rows in with COPY.
//
// A write whose context is done before its commit is sent writes nothing
// and returns the context's error. Once the commit is sent, the write waits
// for the server's answer whatever the context says (up to a bound), so
// that its result is true: a write reported failed was not committed.
//
// A DB is safe for concurrent use.
package postgres
