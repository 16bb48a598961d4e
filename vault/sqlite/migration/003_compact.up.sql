-- A denser contact layout: the same data in about half the pages, so that
-- bulk loads write less, reads and erasures touch fewer pages, and search
-- can never fall back to a scan of the tenant.
--
-- contacts becomes a rowid table. Its rows (~1 KB: the sealed fields) were
-- the keys of a WITHOUT ROWID b-tree, where SQLite splits full pages in
-- half and never packs them again, leaving them about 60% full; rowid
-- tables append. The id is the UUID's 16 bytes instead of its 36-character
-- text. A record's lookups and tokens move into its row (lookups, tokens:
-- the packed lists of codec.go), so a read is one row, as in the
-- PostgreSQL store.
--
-- The lookup tables are keyed by what is searched, the token first (it is
-- random, so it settles comparisons on the first column), and name their
-- contact by its rid, a few bytes instead of 36. A unique lookup is the key
-- of contact_lookups_unique, which refuses a second contact of the tenant
-- with it; a shared one (a household's phone) is in contact_lookups_shared.
-- Each lookup is stored once: the old tables kept each entry twice (the
-- primary key and an index by token), a unique one three times. The lookup
-- tables have no foreign key to contacts: checking one on a contact's
-- deletion would scan them. The store writes and deletes a contact's
-- entries with its row, in the same transaction, from the list in the row;
-- an erasure checks that it deleted every one.
--
-- Segmentation tokens are kept in the row only. Nothing searches by token
-- yet, and their index cost more than anything else: a page written at
-- random by every create and erasure for each token (seven for a demo
-- contact, as many pages as all the other tables together), and 30% of
-- the file. A segmentation query will add an index fit for it.
--
-- contacts_created is dropped: nothing reads contacts in creation order;
-- search sorts the few records it finds.
--
-- The old tables are renamed here; Migrate then copies their rows in Go
-- (SQL cannot build the packed lists) and drops them, in this migration's
-- transaction.

DROP INDEX contacts_created;
DROP INDEX contact_lookups_unique;
DROP INDEX contact_lookups_token;
DROP INDEX contact_tokens_token;
ALTER TABLE contacts RENAME TO contacts_v1;
ALTER TABLE contact_lookups RENAME TO contact_lookups_v1;
ALTER TABLE contact_tokens RENAME TO contact_tokens_v1;

-- rid is the row's key and the reference the lookup tables hold; it is an
-- alias of the rowid, so VACUUM keeps it. sealed comes last: a large
-- record spills its tail to overflow pages, and the columns before it
-- stay readable without them.
CREATE TABLE contacts (
	rid         INTEGER NOT NULL PRIMARY KEY,
	tenant_id   TEXT    NOT NULL REFERENCES tenants (id),
	id          BLOB    NOT NULL CHECK (length(id) = 16),
	wrapped_key BLOB    NOT NULL,
	lookups     BLOB    NOT NULL,
	tokens      BLOB    NOT NULL,
	consents    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(consents)),
	restricted  INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1)),
	objected    INTEGER NOT NULL DEFAULT 0 CHECK (objected IN (0, 1)),
	version     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	sealed      BLOB    NOT NULL
) STRICT;

CREATE UNIQUE INDEX contacts_id ON contacts (tenant_id, id);

CREATE TABLE contact_lookups_unique (
	token     BLOB    NOT NULL,
	tenant_id TEXT    NOT NULL,
	field     TEXT    NOT NULL,
	contact   INTEGER NOT NULL,
	PRIMARY KEY (token, tenant_id, field)
) STRICT, WITHOUT ROWID;

CREATE TABLE contact_lookups_shared (
	token     BLOB    NOT NULL,
	tenant_id TEXT    NOT NULL,
	field     TEXT    NOT NULL,
	contact   INTEGER NOT NULL,
	PRIMARY KEY (token, tenant_id, field, contact)
) STRICT, WITHOUT ROWID;
