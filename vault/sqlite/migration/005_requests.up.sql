-- Data-subject requests (GDPR Art. 15 to 21), their one-time verification
-- codes, and the suppression list erasures leave. None of these tables
-- holds personal data: a request names its subject by contact id and
-- holds codes (type, state, reasons), times and token ids; a code is kept
-- as its keyed hash; a suppression is a keyed hash of an erased person's
-- lookup value (the service keys it apart from the blind index), opaque
-- here.

-- Ids and codes compare byte-wise (BINARY), as the other stores' do.
CREATE TABLE data_requests (
	tenant_id        TEXT    NOT NULL REFERENCES tenants (id),
	id               TEXT    NOT NULL,
	type             TEXT    NOT NULL,
	subject_id       TEXT    NOT NULL,
	channel          TEXT    NOT NULL,
	received_at      INTEGER NOT NULL,
	identity         TEXT    NOT NULL,
	identity_method  TEXT    NOT NULL,
	state            TEXT    NOT NULL,
	reason           TEXT    NOT NULL,
	due_at           INTEGER NOT NULL,
	extension_months INTEGER NOT NULL CHECK (extension_months BETWEEN 0 AND 2),
	extension_reason TEXT    NOT NULL,
	assignee_id      TEXT    NOT NULL,
	created_by       TEXT    NOT NULL,
	updated_at       INTEGER NOT NULL,
	completed_at     INTEGER,
	version          INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;

-- A subject has at most one open request of a type in a tenant: the
-- partial unique index refuses a second, whether a create or an update
-- would make it.
CREATE UNIQUE INDEX data_requests_open ON data_requests (tenant_id, type, subject_id)
	WHERE state NOT IN ('completed', 'rejected');

-- A tenant's requests, those due first.
CREATE INDEX data_requests_due ON data_requests (tenant_id, due_at, id);

-- One code per request, replaced when a new one is sent. The store checks
-- that the request exists, in the write's transaction.
CREATE TABLE verification_codes (
	tenant_id  TEXT    NOT NULL,
	request_id TEXT    NOT NULL,
	hash       BLOB    NOT NULL,
	expires_at INTEGER NOT NULL,
	attempts   INTEGER NOT NULL CHECK (attempts >= 0),
	used_at    INTEGER,
	PRIMARY KEY (tenant_id, request_id)
) STRICT, WITHOUT ROWID;

-- The suppression list: one row per hashed lookup value of an erased
-- person, kept once, with the request that erased them first.
CREATE TABLE suppressions (
	tenant_id  TEXT    NOT NULL,
	field      TEXT    NOT NULL,
	token      BLOB    NOT NULL,
	request_id TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, field, token)
) STRICT, WITHOUT ROWID;
