-- Identifiers compare byte-wise (COLLATE "C"): they are keys, never sorted
-- for people, and the C collation keeps index comparisons cheap.

-- Tenants: key material sealed under the root key, opaque here.
CREATE TABLE tenants (
    id         text COLLATE "C" PRIMARY KEY,
    keys       bytea NOT NULL,
    created_at timestamptz NOT NULL
);

-- Contacts: one row per record, no plaintext personal data. sealed is
-- vault.MarshalSealed of the sealed fields; the lookup_* arrays mirror the
-- record's rows of contact_lookups so that a read is one primary-key query;
-- tokens are the keyed segmentation tokens.
CREATE TABLE contacts (
    tenant_id     text COLLATE "C" NOT NULL,
    id            uuid NOT NULL,
    wrapped_key   bytea NOT NULL,
    sealed        bytea NOT NULL,
    consents      jsonb NOT NULL DEFAULT '{}',
    restricted    boolean NOT NULL DEFAULT false,
    objected      boolean NOT NULL DEFAULT false,
    version       bigint NOT NULL,
    tokens        bytea[] NOT NULL DEFAULT '{}',
    lookup_fields text[] NOT NULL DEFAULT '{}',
    lookup_tokens bytea[] NOT NULL DEFAULT '{}',
    lookup_unique boolean[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Segmentation: contacts holding all of a set of tokens.
CREATE INDEX contacts_tokens_idx ON contacts USING gin (tokens);

-- Blind indexes, one index entry per lookup: a unique lookup lives in the
-- partial unique index, which refuses a second record of the tenant with
-- the same field and token; a shared one (a household's phone) in the
-- partial index of non-unique lookups. Queries name is_unique so that the
-- planner can use them. The token leads both indexes: it is random, so it
-- settles almost every comparison on the first column, the cheap one.
CREATE TABLE contact_lookups (
    tenant_id  text COLLATE "C" NOT NULL,
    field      text COLLATE "C" NOT NULL,
    token      bytea NOT NULL,
    contact_id uuid NOT NULL,
    is_unique  boolean NOT NULL
);

CREATE UNIQUE INDEX contact_lookups_unique ON contact_lookups (token, tenant_id, field) WHERE is_unique;

CREATE INDEX contact_lookups_shared ON contact_lookups (token, tenant_id, field, contact_id) WHERE NOT is_unique;

-- API tokens: only the hash of the secret is stored.
CREATE TABLE api_tokens (
    id         text COLLATE "C" PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL,
    role       text NOT NULL,
    attributes jsonb NOT NULL DEFAULT '{}',
    purposes   text[] NOT NULL DEFAULT '{}',
    hash       bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz
);

CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id);

-- Audit log. audit_head holds the last sequence number; a write increments
-- it inside its own transaction, so sequence numbers are dense (a rolled
-- back write gives its number back) at the price of serialising the commits
-- of all writers. The audit log's own design will revisit this.
CREATE TABLE audit_head (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL
);

INSERT INTO audit_head (id, seq) VALUES (true, 0);

CREATE TABLE audit_entries (
    seq             bigint PRIMARY KEY,
    time            timestamptz NOT NULL,
    tenant_id       text COLLATE "C" NOT NULL,
    actor_id        text NOT NULL,
    actor_role      text NOT NULL,
    action          text NOT NULL,
    subject         text NOT NULL,
    fields          text[] NOT NULL,
    purpose         text NOT NULL,
    outcome         text NOT NULL,
    request_id      text NOT NULL,
    decision_id     text NOT NULL,
    policy_revision text NOT NULL
);

CREATE INDEX audit_entries_tenant_idx ON audit_entries (tenant_id, seq);
