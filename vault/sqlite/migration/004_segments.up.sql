-- Segmentation: counting and listing a tenant's contacts that match a
-- condition over segmentation tokens, restriction flags and timestamps
-- (vault.Cond), inside the database.
--
-- segment_tokens is the index by token that 003 left out: one entry per
-- segmentation token of a contact, keyed by the token (exact, all its
-- bytes) and naming the contact by its rid. "Holds one of these tokens"
-- is then a range search per token; the contacts holding it are read off
-- the key, in rid order. Like the lookup tables, it has no foreign key:
-- the store writes a contact's entries with its row, in the same
-- transaction (create and bulk load insert them, an update the tokens
-- added and deletes those removed, from the list in the row, an erasure
-- deletes them all, each of which must exist), so an erased contact
-- leaves no entry. It costs each write of a contact a b-tree insert or
-- delete per token changed: the price of a segment query that never reads
-- the contacts it does not return.
--
-- contacts_segment holds, for each contact, the columns a condition reads
-- besides tokens, after the tenant and the id: the tenant's contacts in id
-- order, the order a listing pages in, each with its flags and times and
-- (as in every index) its rid. A count or a listing reads this index, not
-- the table, whose rows carry the sealed fields: a count reads none of
-- them, a listing the rows of the page only. The entries are about 60
-- bytes, so a tenant of 100,000 contacts is some 1,500 pages.
--
-- A condition on tokens becomes rid IN (the contacts that segment_tokens
-- lists for them), checked against each entry of contacts_segment.

CREATE TABLE segment_tokens (
	token   BLOB    NOT NULL,
	contact INTEGER NOT NULL,
	PRIMARY KEY (token, contact)
) STRICT, WITHOUT ROWID;

CREATE INDEX contacts_segment ON contacts (tenant_id, id, restricted, objected, created_at, updated_at);

-- Saved segments: a tenant's named filters, the client's JSON document as
-- it was sent (criteria, never a person's data). Names compare and sort
-- byte-wise (BINARY).
CREATE TABLE segments (
	tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
	name       TEXT    NOT NULL,
	filter     BLOB    NOT NULL,
	owner_id   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, name)
) STRICT, WITHOUT ROWID;

-- Migrate then fills segment_tokens from the token lists of the contacts'
-- rows, in Go (SQL cannot read the packed lists), in this migration's
-- transaction.
