-- The audit log as package audit's sequencer needs it (see audit/doc.go).
--
-- A write commits its entry unsequenced, in its own transaction: a row of
-- audit_entries with seq and leaf_hash NULL. The writer no longer computes
-- MAX(seq) + 1 under its lock. The sequencer later reads the pending rows
-- in id order, numbers them, and in one write transaction sets their seq
-- and leaf_hash, stores the tree nodes the append completed in audit_nodes
-- and replaces the tree head in audit_head, after checking that the head
-- is still the one it numbered from. Signed checkpoints go to
-- audit_checkpoints.
--
-- Entries committed under 001 were numbered but never hashed; they are
-- kept, in the order of their numbers, as pending entries and get their
-- sequence numbers from the sequencer like any other (the first is 0).

DROP TRIGGER audit_entries_no_update;
DROP TRIGGER audit_entries_no_delete;
DROP INDEX audit_entries_tenant;
DROP INDEX audit_entries_subject;
ALTER TABLE audit_entries RENAME TO audit_entries_v1;

-- id orders the rows as they were written: the store has one writer, which
-- commits in turn, so id order is commit order. AUTOINCREMENT keeps an id
-- from ever being given again, even that of a row removed behind the
-- store's back, so that an id a sequencer read always names the same
-- entry. seq is the leaf index in the Merkle tree, set once by the
-- sequencer together with leaf_hash, the RFC 6962 hash of the entry's
-- canonical encoding (which holds seq). fields is a JSON array of field
-- names, in the order given; sealed is opaque, empty when there is none.
CREATE TABLE audit_entries (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	seq             INTEGER CHECK (seq >= 0),
	leaf_hash       BLOB    CHECK (length(leaf_hash) = 32),
	time            INTEGER NOT NULL,
	tenant_id       TEXT    NOT NULL,
	actor_id        TEXT    NOT NULL,
	actor_role      TEXT    NOT NULL,
	action          TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	fields          TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(fields)),
	purpose         TEXT    NOT NULL,
	outcome         TEXT    NOT NULL,
	request_id      TEXT    NOT NULL,
	decision_id     TEXT    NOT NULL,
	policy_revision TEXT    NOT NULL,
	sealed          BLOB    NOT NULL DEFAULT x'',
	CHECK ((seq IS NULL) = (leaf_hash IS NULL))
) STRICT;

-- The indexes are partial so that a write, the hot path, adds its entry to
-- the table and one index only (the pending queue); the sequencer moves
-- the row into the others. seq is unique among sequenced rows. Queries on
-- sequenced rows state seq >= … or seq < …, which SQLite knows implies
-- seq IS NOT NULL, so that they use these indexes; AuditEntries has one
-- per filter field, each with the tenant first and seq last, so that a
-- page is a range scan in seq order.
CREATE INDEX audit_entries_pending ON audit_entries (id) WHERE seq IS NULL;
CREATE UNIQUE INDEX audit_entries_seq ON audit_entries (seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_entries_subject ON audit_entries (tenant_id, subject, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_entries_actor ON audit_entries (tenant_id, actor_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_entries_action ON audit_entries (tenant_id, action, seq) WHERE seq IS NOT NULL;

INSERT INTO audit_entries (time, tenant_id, actor_id, actor_role, action, subject, fields, purpose, outcome,
		request_id, decision_id, policy_revision)
	SELECT time, tenant_id, actor_id, actor_role, action, subject, fields, purpose, outcome,
		request_id, decision_id, policy_revision
	FROM audit_entries_v1
	ORDER BY seq;

DROP TABLE audit_entries_v1;

-- The complete nodes of the tree at levels 8, 16, 24, … (audit.TileHeight):
-- with the leaf hashes, enough to rebuild any node from at most 128 hashes.
CREATE TABLE audit_nodes (
	level INTEGER NOT NULL CHECK (level > 0 AND level % 8 = 0 AND level <= 64),
	idx   INTEGER NOT NULL CHECK (idx >= 0),
	hash  BLOB    NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

-- Signed checkpoints (C2SP signed notes), one per tree size. created_at is
-- microseconds since the Unix epoch, UTC.
CREATE TABLE audit_checkpoints (
	size       INTEGER NOT NULL PRIMARY KEY CHECK (size >= 0),
	note       BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- The tree head (audit.Tree.MarshalBinary), NULL while nothing is
-- sequenced: one row. It is a cache of what the tables above determine
-- (audit.LoadTree rebuilds it), so it stays updatable; the sequencer
-- replaces it in the transaction that numbers a batch, after checking
-- that it still holds the head the batch was numbered from.
CREATE TABLE audit_head (
	id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	tree BLOB
) STRICT;

INSERT INTO audit_head (id, tree) VALUES (1, NULL);

-- Append-only, enforced by triggers, whoever connects. SQLite has no
-- privileges to revoke and no statement triggers: these row triggers
-- refuse, with RAISE(ABORT), which rolls back the whole statement,
--   - any DELETE of a row of audit_entries, audit_nodes, audit_checkpoints
--     (a DELETE that matches no row changes nothing and is not refused;
--     the truncate optimisation is off on tables with triggers);
--   - any UPDATE of audit_nodes and audit_checkpoints;
--   - an UPDATE of audit_entries other than setting seq and leaf_hash, both
--     at once, on a row where both are NULL, every other column unchanged,
--     to a seq no other entry holds: a sequenced entry is never changed,
--     and an entry is sequenced once;
--   - an INSERT that would replace a row (INSERT OR REPLACE, REPLACE): the
--     rows that REPLACE deletes fire no DELETE trigger unless
--     recursive_triggers is on, so an INSERT into audit_entries must leave
--     seq and leaf_hash NULL and take a new id, and an INSERT into
--     audit_nodes or audit_checkpoints must take a free key. UPDATE OR
--     REPLACE is covered by the UPDATE rules above.
-- The comparison of audit_entries' columns names them one by one, as
-- SQLite cannot compare whole rows: a migration that adds a column must
-- recreate audit_entries_update with it.
--
-- What the triggers cannot stop is whoever can change the schema: the
-- owner of the file may drop a trigger, or the table. That is a deliberate
-- act that the log's hashes and signed checkpoints then expose: the
-- triggers keep the application's own connection from rewriting history,
-- and the tree catches whoever gets past them.

CREATE TRIGGER audit_entries_insert BEFORE INSERT ON audit_entries
	WHEN NEW.seq IS NOT NULL OR NEW.leaf_hash IS NOT NULL
		OR EXISTS (SELECT 1 FROM audit_entries WHERE id = NEW.id)
BEGIN
	SELECT RAISE(ABORT, 'INSERT on audit_entries refused: the audit log is append-only (an entry enters unsequenced, under a new id)');
END;

CREATE TRIGGER audit_entries_update BEFORE UPDATE ON audit_entries
	WHEN OLD.seq IS NOT NULL OR OLD.leaf_hash IS NOT NULL
		OR NEW.seq IS NULL OR NEW.leaf_hash IS NULL
		OR NEW.id IS NOT OLD.id
		OR NEW.time IS NOT OLD.time
		OR NEW.tenant_id IS NOT OLD.tenant_id
		OR NEW.actor_id IS NOT OLD.actor_id
		OR NEW.actor_role IS NOT OLD.actor_role
		OR NEW.action IS NOT OLD.action
		OR NEW.subject IS NOT OLD.subject
		OR NEW.fields IS NOT OLD.fields
		OR NEW.purpose IS NOT OLD.purpose
		OR NEW.outcome IS NOT OLD.outcome
		OR NEW.request_id IS NOT OLD.request_id
		OR NEW.decision_id IS NOT OLD.decision_id
		OR NEW.policy_revision IS NOT OLD.policy_revision
		OR NEW.sealed IS NOT OLD.sealed
		OR EXISTS (SELECT 1 FROM audit_entries WHERE seq = NEW.seq)
BEGIN
	SELECT RAISE(ABORT, 'UPDATE on audit_entries refused: the audit log is append-only (only seq and leaf_hash may be set, once)');
END;

CREATE TRIGGER audit_entries_delete BEFORE DELETE ON audit_entries
BEGIN
	SELECT RAISE(ABORT, 'DELETE on audit_entries refused: the audit log is append-only');
END;

CREATE TRIGGER audit_nodes_insert BEFORE INSERT ON audit_nodes
	WHEN EXISTS (SELECT 1 FROM audit_nodes WHERE level = NEW.level AND idx = NEW.idx)
BEGIN
	SELECT RAISE(ABORT, 'INSERT on audit_nodes refused: the audit log is append-only (a stored node is never replaced)');
END;

CREATE TRIGGER audit_nodes_update BEFORE UPDATE ON audit_nodes
BEGIN
	SELECT RAISE(ABORT, 'UPDATE on audit_nodes refused: the audit log is append-only');
END;

CREATE TRIGGER audit_nodes_delete BEFORE DELETE ON audit_nodes
BEGIN
	SELECT RAISE(ABORT, 'DELETE on audit_nodes refused: the audit log is append-only');
END;

CREATE TRIGGER audit_checkpoints_insert BEFORE INSERT ON audit_checkpoints
	WHEN EXISTS (SELECT 1 FROM audit_checkpoints WHERE size = NEW.size)
BEGIN
	SELECT RAISE(ABORT, 'INSERT on audit_checkpoints refused: the audit log is append-only (a stored checkpoint is never replaced)');
END;

CREATE TRIGGER audit_checkpoints_update BEFORE UPDATE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'UPDATE on audit_checkpoints refused: the audit log is append-only');
END;

CREATE TRIGGER audit_checkpoints_delete BEFORE DELETE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'DELETE on audit_checkpoints refused: the audit log is append-only');
END;
