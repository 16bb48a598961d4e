-- The audit log as package audit's sequencer needs it (see audit/doc.go).
--
-- A write commits its entry unsequenced, in its own transaction: a row of
-- audit_entries with seq and leaf_hash NULL. Writers share no row, so their
-- commits no longer queue on the one-row counter of 001. The sequencer
-- later reads the pending rows in id order, numbers them, and in one
-- transaction sets their seq and leaf_hash, stores the tree nodes the
-- append completed in audit_nodes and replaces the tree head in
-- audit_head, whose row lock serialises sequencers. Signed checkpoints go
-- to audit_checkpoints.
--
-- Entries committed under 001 were numbered by the counter but never
-- hashed; they are kept, in their order, as pending entries and get their
-- sequence numbers from the sequencer like any other.

ALTER TABLE audit_entries RENAME TO audit_entries_v1;
ALTER INDEX audit_entries_pkey RENAME TO audit_entries_v1_pkey;
ALTER INDEX audit_entries_tenant_idx RENAME TO audit_entries_v1_tenant_idx;
DROP TABLE audit_head;

-- id orders the rows as they were written; seq is the leaf index in the
-- Merkle tree, set once by the sequencer together with leaf_hash, the
-- RFC 6962 hash of the entry's canonical encoding (which holds seq).
-- Identifier columns compare byte-wise, like the other tables' keys.
CREATE TABLE audit_entries (
    id              bigserial PRIMARY KEY,
    seq             bigint CHECK (seq >= 0),
    leaf_hash       bytea CHECK (octet_length(leaf_hash) = 32),
    time            timestamptz NOT NULL,
    tenant_id       text COLLATE "C" NOT NULL,
    actor_id        text COLLATE "C" NOT NULL,
    actor_role      text NOT NULL,
    action          text COLLATE "C" NOT NULL,
    subject         text COLLATE "C" NOT NULL,
    fields          text[] NOT NULL,
    purpose         text NOT NULL,
    outcome         text NOT NULL,
    request_id      text NOT NULL,
    decision_id     text NOT NULL,
    policy_revision text NOT NULL,
    sealed          bytea NOT NULL,
    CONSTRAINT audit_entries_sequenced CHECK ((seq IS NULL) = (leaf_hash IS NULL))
);

-- The indexes are partial so that a write, the hot path, adds an entry to
-- two indexes only (the primary key and the pending queue); the sequencer
-- moves the row into the others. seq is unique among sequenced rows (NULLs
-- never conflict, so this is the UNIQUE constraint without the index
-- entries of the pending rows). Queries on sequenced rows state seq >= …,
-- which implies seq IS NOT NULL, so the planner uses these indexes.
CREATE INDEX audit_entries_pending ON audit_entries (id) WHERE seq IS NULL;
CREATE UNIQUE INDEX audit_entries_seq ON audit_entries (seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_entries_subject ON audit_entries (tenant_id, subject, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_entries_actor ON audit_entries (tenant_id, actor_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_entries_action ON audit_entries (tenant_id, action, seq) WHERE seq IS NOT NULL;

INSERT INTO audit_entries (time, tenant_id, actor_id, actor_role, action, subject, fields, purpose, outcome,
        request_id, decision_id, policy_revision, sealed)
    SELECT time, tenant_id, actor_id, actor_role, action, subject, fields, purpose, outcome,
        request_id, decision_id, policy_revision, ''::bytea
    FROM audit_entries_v1
    ORDER BY seq;

DROP TABLE audit_entries_v1;

-- The complete nodes of the tree at levels 8, 16, 24, … (audit.TileHeight):
-- with the leaf hashes, enough to rebuild any node from at most 128 hashes.
CREATE TABLE audit_nodes (
    level smallint NOT NULL CHECK (level > 0 AND level % 8 = 0),
    idx   bigint NOT NULL CHECK (idx >= 0),
    hash  bytea NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP signed notes), one per tree size.
CREATE TABLE audit_checkpoints (
    size       bigint PRIMARY KEY CHECK (size >= 0),
    note       bytea NOT NULL,
    created_at timestamptz NOT NULL
);

-- The tree head (audit.Tree.MarshalBinary), NULL while nothing is
-- sequenced. It is a cache of what the tables above determine (LoadTree
-- rebuilds it), so it stays updatable; its row lock is what serialises
-- sequencers, which check it still holds the head they read.
CREATE TABLE audit_head (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    tree bytea
);

INSERT INTO audit_head (id, tree) VALUES (true, NULL);

-- Append-only, enforced twice.
--
-- Privileges: the role running the migrations, which is the role the
-- store connects as unless a deployment separates them, and PUBLIC lose
-- UPDATE, DELETE and TRUNCATE on the log tables; the sequencer keeps the
-- right to UPDATE the two columns it sets. A role without ownership of the
-- tables is then refused by the privilege system itself (SQLSTATE 42501).
--
-- Privileges are not enough: a superuser bypasses them, and an owner,
-- though its own rights were revoked, may grant them back. So triggers
-- refuse the same changes whoever asks, owners and superusers included,
-- with the same SQLSTATE (42501, insufficient_privilege):
--   - DELETE and TRUNCATE of audit_entries, audit_nodes, audit_checkpoints;
--   - any UPDATE of audit_nodes and audit_checkpoints;
--   - an UPDATE of audit_entries other than setting seq and leaf_hash, both
--     at once, on a row where both are NULL, every other column unchanged:
--     a sequenced entry is never changed, and an entry is sequenced once.
-- Statement triggers refuse a DELETE even when it matches no row. Only an
-- owner or a superuser can disable them (ALTER TABLE … DISABLE TRIGGER), a
-- deliberate act that the log's hashes and signed checkpoints then expose:
-- the triggers keep the application's own connection from rewriting
-- history, and the tree catches whoever gets past them. To take even the
-- owner's powers from the application, run the migrations as an owner role
-- and the store as a role granted only SELECT and INSERT on these tables,
-- UPDATE (seq, leaf_hash) on audit_entries, all rights on audit_head and
-- USAGE on audit_entries_id_seq.

CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION audit_entries_sequence_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unsequenced audit_entries;
BEGIN
    IF OLD.seq IS NOT NULL OR OLD.leaf_hash IS NOT NULL THEN
        RAISE EXCEPTION 'UPDATE of sequenced audit entry % refused: the audit log is append-only', OLD.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The new row without seq and leaf_hash must be the old row: comparing
    -- whole rows covers the columns a later migration adds, and costs a few
    -- microseconds per entry sequenced.
    unsequenced := NEW;
    unsequenced.seq := NULL;
    unsequenced.leaf_hash := NULL;
    IF NEW.seq IS NULL OR NEW.leaf_hash IS NULL OR unsequenced IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'UPDATE of audit entry refused: the audit log is append-only (only seq and leaf_hash may be set, once)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_entries_update BEFORE UPDATE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_sequence_once();
CREATE TRIGGER audit_entries_refuse BEFORE DELETE OR TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_nodes_refuse BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_checkpoints_refuse BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries, audit_nodes, audit_checkpoints FROM PUBLIC, CURRENT_USER;
GRANT UPDATE (seq, leaf_hash) ON audit_entries TO CURRENT_USER;
