-- Data-subject requests (GDPR Art. 15 to 21), their one-time verification
-- codes, and the suppression list erasures leave. None of these tables
-- holds personal data: a request names its subject by contact id and
-- holds codes (type, state, reasons), times and token ids; a code is kept
-- as its keyed hash; a suppression is a keyed hash of an erased person's
-- lookup value (the service keys it apart from the blind index), opaque
-- here.
--
-- Request ids are text, like the other stores' (the service makes them
-- UUIDs): a request table holds a few rows per subject at most, so the
-- bytes a uuid column would save do not matter, and the store keeps any
-- id it is given. Identifiers and codes compare byte-wise.

CREATE TABLE data_requests (
    tenant_id        text COLLATE "C" NOT NULL,
    id               text COLLATE "C" NOT NULL,
    type             text COLLATE "C" NOT NULL,
    subject_id       text COLLATE "C" NOT NULL,
    channel          text NOT NULL,
    received_at      timestamptz NOT NULL,
    identity         text NOT NULL,
    identity_method  text NOT NULL,
    state            text COLLATE "C" NOT NULL,
    reason           text NOT NULL,
    due_at           timestamptz NOT NULL,
    extension_months integer NOT NULL CHECK (extension_months BETWEEN 0 AND 2),
    extension_reason text NOT NULL,
    assignee_id      text NOT NULL,
    created_by       text NOT NULL,
    updated_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    version          bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- A subject has at most one open request of a type in a tenant: the
-- partial unique index refuses a second, whether a create or an update
-- would make it, and concurrent creates too (the second waits for the
-- first to commit, then conflicts).
CREATE UNIQUE INDEX data_requests_open ON data_requests (tenant_id, type, subject_id)
    WHERE state NOT IN ('completed', 'rejected');

-- A tenant's requests, those due first.
CREATE INDEX data_requests_due ON data_requests (tenant_id, due_at, id);

-- One code per request, replaced when a new one is sent.
CREATE TABLE verification_codes (
    tenant_id  text COLLATE "C" NOT NULL,
    request_id text COLLATE "C" NOT NULL,
    hash       bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts   integer NOT NULL CHECK (attempts >= 0),
    used_at    timestamptz,
    PRIMARY KEY (tenant_id, request_id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES data_requests (tenant_id, id)
);

-- The suppression list: one row per hashed lookup value of an erased
-- person, kept once, with the request that erased them first.
CREATE TABLE suppressions (
    tenant_id  text COLLATE "C" NOT NULL,
    field      text COLLATE "C" NOT NULL,
    token      bytea NOT NULL,
    request_id text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, field, token)
);
