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
// and flags. A record is one row of contacts; its lookups are kept both on
// that row (so that reading a record is one primary-key query) and in
// contact_lookups, whose partial unique index enforces unique lookups.
//
// A write and its audit entry commit in one transaction. The statements of
// a write are pipelined: BEGIN, the change, the audit entry and COMMIT
// travel to the server together, so a create costs one round trip and the
// audit sequence lock is held only while the server runs the transaction.
// LoadContacts copies rows in with COPY.
//
// A DB is safe for concurrent use.
package postgres
