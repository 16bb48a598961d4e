-- Segmentation: counting and listing a tenant's contacts that match a
-- condition over segmentation tokens, restriction flags and timestamps
-- (vault.Cond), inside the database.
--
-- contact_segments is a narrow copy of what a condition reads from a
-- contact: one row of about 180 bytes per contact where the contacts row,
-- sealed fields included, is about a kilobyte. A query that visits a
-- tenth of a million contacts then reads some 20,000 pages instead of
-- 130,000. The store writes it in the transaction of every write of a
-- contact: CreateContact inserts the row, UpdateContact updates it (the
-- creation time never changes), EraseContact deletes it, LoadContacts
-- copies the rows of the batch after the contacts. An erased contact
-- leaves no row; like the contacts row, its dead tuple and index entries
-- last until VACUUM, and hold keyed hashes, never a value.
--
-- tokens holds a 64-bit key per segmentation token: the first 8 bytes of
-- SHA-256(token), big-endian, as a signed bigint (the SQL expression of
-- the backfill below, and segmentKey in Go). A token is an HMAC under a
-- per-tenant key, so hashing again adds no secret; it makes the key of a
-- token of any length depend on all of its bytes, so that a token never
-- matches a longer or shorter one that begins like it. Two distinct
-- tokens share a key with probability 2^-64 per pair: among the few
-- thousand segmentable values of a tenant (districts, postal codes,
-- interests, birth years, support levels, consents), a collision, which
-- would make a condition on one value also match contacts holding the
-- other, has a probability below 10^-12. Eight bytes per token instead of
-- the token's 16 or 32 keep the row and the index small.
--
-- A GIN index over tokens answers "holds one of these tokens" (&&) with a
-- bitmap of rows; conditions on flags and times are checked on the
-- narrow rows it points to. The primary key orders a tenant's rows by id,
-- the order a listing pages in: a list walks it, checking each row, until
-- it has a page, and falls back on the GIN index when matches are rare
-- (see segment.go).
--
-- Columns are ordered so that the row has no alignment padding.
CREATE TABLE contact_segments (
    tenant_id  text COLLATE "C" NOT NULL,
    id         uuid NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    restricted boolean NOT NULL,
    objected   boolean NOT NULL,
    tokens     bigint[] NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

INSERT INTO contact_segments (tenant_id, id, created_at, updated_at, restricted, objected, tokens)
    SELECT c.tenant_id, c.id, c.created_at, c.updated_at, c.restricted, c.objected,
        ARRAY(SELECT DISTINCT ('x' || encode(substr(sha256(t), 1, 8), 'hex'))::bit(64)::bigint
              FROM unnest(c.tokens) AS t)
    FROM contacts c;

CREATE INDEX contact_segments_tokens ON contact_segments USING gin (tokens);

ANALYZE contact_segments;

-- The GIN index of contacts.tokens served nothing (no query searched the
-- wide rows by token) and cost every write of a contact an index update
-- per token. contact_segments_tokens replaces it.
DROP INDEX contacts_tokens_idx;

-- Saved segments: a tenant's named filters, the client's JSON document as
-- it was sent (criteria, never a person's data). Names compare and sort
-- byte-wise.
CREATE TABLE segments (
    tenant_id  text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    filter     bytea NOT NULL,
    owner_id   text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
