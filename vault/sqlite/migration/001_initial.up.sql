-- Initial schema. Times are INTEGER microseconds since the Unix epoch, UTC;
-- NULL where a time is optional. No column ever holds a plaintext personal
-- value: sealed fields and wrapped keys are ciphertext, lookups and tokens
-- are keyed hashes.

CREATE TABLE tenants (
	id         TEXT    NOT NULL PRIMARY KEY,
	keys       BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- contacts holds one sealed record per data subject. consents is a JSON
-- object {"name": {"granted": bool, "at": microseconds}}.
CREATE TABLE contacts (
	tenant_id   TEXT    NOT NULL REFERENCES tenants (id),
	id          TEXT    NOT NULL,
	wrapped_key BLOB    NOT NULL,
	sealed      BLOB    NOT NULL,
	consents    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(consents)),
	restricted  INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1)),
	objected    INTEGER NOT NULL DEFAULT 0 CHECK (objected IN (0, 1)),
	version     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX contacts_created ON contacts (tenant_id, created_at, id);

-- contact_lookups holds the blind indexes of lookup fields. A unique lookup
-- (an email) is unique per tenant and field; a non-unique one (a phone
-- shared by a household) is not.
CREATE TABLE contact_lookups (
	tenant_id  TEXT    NOT NULL,
	contact_id TEXT    NOT NULL,
	field      TEXT    NOT NULL,
	token      BLOB    NOT NULL,
	is_unique  INTEGER NOT NULL CHECK (is_unique IN (0, 1)),
	PRIMARY KEY (tenant_id, contact_id, field, token),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX contact_lookups_unique ON contact_lookups (tenant_id, field, token) WHERE is_unique = 1;
CREATE INDEX contact_lookups_token ON contact_lookups (tenant_id, field, token, contact_id);

-- contact_tokens holds the keyed segmentation tokens of segmentable fields.
CREATE TABLE contact_tokens (
	tenant_id  TEXT NOT NULL,
	contact_id TEXT NOT NULL,
	token      BLOB NOT NULL,
	PRIMARY KEY (tenant_id, contact_id, token),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX contact_tokens_token ON contact_tokens (tenant_id, token, contact_id);

-- api_tokens holds bearer tokens by the SHA-256 hash of their secret.
-- attributes is a JSON object of string arrays, purposes a JSON array.
CREATE TABLE api_tokens (
	id         TEXT    NOT NULL PRIMARY KEY,
	tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
	role       TEXT    NOT NULL,
	attributes TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
	purposes   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(purposes)),
	hash       BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	revoked_at INTEGER
) STRICT;

CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

-- audit_entries is the append-only log. seq is the rowid: with a single
-- writer and no deletes, each entry gets max(seq)+1, so the sequence is
-- dense. fields is a JSON array of field names.
CREATE TABLE audit_entries (
	seq             INTEGER NOT NULL PRIMARY KEY,
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
	policy_revision TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id, seq);
CREATE INDEX audit_entries_subject ON audit_entries (tenant_id, subject, seq);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
	SELECT RAISE(ABORT, 'audit_entries is append-only');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
	SELECT RAISE(ABORT, 'audit_entries is append-only');
END;
