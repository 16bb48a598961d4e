package postgres

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coffre/coffre/vault"
)

// contactColumns are the columns of contacts that make up a record besides
// its tenant and id, in the order scanRecord reads them.
const contactColumns = `wrapped_key, sealed, consents, restricted, objected, version, tokens,
	lookup_fields, lookup_tokens, lookup_unique, created_at, updated_at`

// copyColumns are the columns LoadContacts copies, in the order of
// contactValues.
var copyColumns = []string{"tenant_id", "id", "wrapped_key", "sealed", "consents", "restricted", "objected",
	"version", "tokens", "lookup_fields", "lookup_tokens", "lookup_unique", "created_at", "updated_at"}

// CreateContact stores r and appends e in one transaction, in one round
// trip. Zero r.CreatedAt and r.UpdatedAt are set to the store's time; e is
// committed unsequenced (see AppendAudit). It returns EINVALID for a nil or
// incomplete record or entry, and ECONFLICT if the id exists or a unique
// lookup token is taken in the tenant.
func (db *DB) CreateContact(ctx context.Context, r *vault.Record, e *vault.AuditEntry) error {
	if err := db.checkWrite(r, e); err != nil {
		return fmt.Errorf("postgres.CreateContact: %w", err)
	}
	now := db.now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	vals, err := contactValues(r)
	if err != nil {
		return fmt.Errorf("postgres.CreateContact: %w", err)
	}

	if db.noAudit {
		e = nil
	}
	shape, args := createArgs(r, vals, e)
	// The statement commits alone or with concurrent creates
	// (contact_creates.go); once it is sent, the request's end does not
	// stop it: the caller learns whether the record was created.
	c := &contactCreate{sql: createSQL(shape), args: args}
	if err := db.create(ctx, c); err != nil {
		return fmt.Errorf("postgres.CreateContact: %w", mapError(err))
	}
	if suppressed := c.suppressed; suppressed != nil {
		if !validFieldName(*suppressed) {
			return fmt.Errorf("postgres.CreateContact: %w", vault.Errorf(vault.EINTERNAL, "A suppression check named no field."))
		}
		return fmt.Errorf("postgres.CreateContact: %w", vault.SuppressedError(*suppressed))
	}
	return nil
}

// Contact returns a record with one primary-key query, shared with
// concurrent calls when the store is busy (contact_reads.go): ENOTFOUND if the
// tenant has no record with that id, EINVALID for an empty tenant or id.
func (db *DB) Contact(ctx context.Context, tenantID, id string) (*vault.Record, error) {
	if tenantID == "" || id == "" {
		return nil, vault.Errorf(vault.EINVALID, "Tenant and contact id are required.")
	}
	if !vault.ValidID(id) {
		return nil, vault.Errorf(vault.ENOTFOUND, "Contact not found.")
	}
	return db.read(ctx, tenantID, id)
}

// UpdateContact replaces everything of the stored record but its tenant,
// id and CreatedAt with r, and appends e, in one transaction. A zero
// r.UpdatedAt is set to the store's time and r.CreatedAt to the stored one.
// It returns ENOTFOUND if the record is absent, ECONFLICT if its stored
// version is not r.Version-1 or a unique lookup token is taken by another
// record, and EINVALID for a nil or incomplete record or entry.
func (db *DB) UpdateContact(ctx context.Context, r *vault.Record, e *vault.AuditEntry) error {
	if err := db.checkWrite(r, e); err != nil {
		return fmt.Errorf("postgres.UpdateContact: %w", err)
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = db.now()
	}
	vals, err := contactValues(r)
	if err != nil {
		return fmt.Errorf("postgres.UpdateContact: %w", err)
	}

	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres.UpdateContact: %w", mapError(err))
	}
	defer t.rollback()

	var version int64
	var old []vault.Lookup
	t.queue(`SELECT version, lookup_fields, lookup_tokens, lookup_unique FROM contacts
		WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, r.TenantID, r.ID).QueryRow(func(row pgx.Row) error {
		var fields []string
		var tokens [][]byte
		var unique []bool
		if err := row.Scan(&version, &fields, &tokens, &unique); err != nil {
			return err
		}
		old = joinLookups(fields, tokens, unique)
		return nil
	})
	if err := t.flush(ctx); err != nil {
		return fmt.Errorf("postgres.UpdateContact: %w", mapError(err))
	}
	if version != r.Version-1 {
		return fmt.Errorf("postgres.UpdateContact: %w", vault.Errorf(vault.ECONFLICT, "The contact was changed by another request."))
	}

	removed, added := diffLookups(old, r.Lookups)
	deleteLookups(t, r.TenantID, r.ID, removed)
	insertLookups(t, r.TenantID, r.ID, added)
	createdAt := r.CreatedAt
	t.queue(`UPDATE contacts SET wrapped_key = $3, sealed = $4, consents = $5, restricted = $6, objected = $7,
			version = $8, tokens = $9, lookup_fields = $10, lookup_tokens = $11, lookup_unique = $12, updated_at = $13
		WHERE tenant_id = $1 AND id = $2
		RETURNING created_at`, append(vals[:12:12], vals[13])...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&createdAt)
	})
	updateSegment(t, r)
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("postgres.UpdateContact: %w", mapError(err))
	}
	r.CreatedAt = createdAt.UTC()
	return nil
}

// EraseContact deletes the record (its wrapped key with it), its lookups
// and its row of contact_segments, and appends e, in one transaction. It returns ENOTFOUND if the
// tenant has no record with that id, EINVALID for empty ids or a nil or
// invalid entry.
func (db *DB) EraseContact(ctx context.Context, tenantID, id string, e *vault.AuditEntry) error {
	if tenantID == "" || id == "" {
		return vault.Errorf(vault.EINVALID, "Tenant and contact id are required.")
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("postgres.EraseContact: %w", err)
	}
	if !vault.ValidID(id) {
		return vault.Errorf(vault.ENOTFOUND, "Contact not found.")
	}

	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres.EraseContact: %w", mapError(err))
	}
	defer t.rollback()

	var old []vault.Lookup
	t.queue(`DELETE FROM contacts WHERE tenant_id = $1 AND id = $2
		RETURNING lookup_fields, lookup_tokens, lookup_unique`,
		tenantID, id).QueryRow(func(row pgx.Row) error {
		var fields []string
		var tokens [][]byte
		var unique []bool
		if err := row.Scan(&fields, &tokens, &unique); err != nil {
			return err
		}
		old = joinLookups(fields, tokens, unique)
		return nil
	})
	if err := t.flush(ctx); err != nil {
		return fmt.Errorf("postgres.EraseContact: %w", mapError(err))
	}
	deleteLookups(t, tenantID, id, old)
	deleteSegment(t, tenantID, id)
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("postgres.EraseContact: %w", mapError(err))
	}
	return nil
}

// FindContacts returns at most limit records of the tenant whose lookup
// token for field equals token, ordered by CreatedAt then id; none (and no
// error) if nothing matches. Its statement is shared with concurrent calls
// when the store is busy (contact_finds.go). It returns EINVALID for an empty tenant, field
// or token, or a limit below 1.
func (db *DB) FindContacts(ctx context.Context, tenantID, field string, token []byte, limit int) ([]*vault.Record, error) {
	if tenantID == "" || field == "" || len(token) == 0 || limit < 1 {
		return nil, vault.Errorf(vault.EINVALID, "Tenant, field, token and a positive limit are required.")
	}
	return db.find(ctx, tenantID, field, token, limit)
}

// LoadContacts bulk-inserts records, their rows of contact_segments and
// their lookups with COPY and appends e, in one transaction: all or
// nothing. Zero CreatedAt and UpdatedAt are set to the
// store's time. It returns EINVALID for an empty batch, a nil or incomplete
// record or a nil or invalid entry, and ECONFLICT if an id or a unique lookup token is
// taken, by a stored record or by another record of the batch.
func (db *DB) LoadContacts(ctx context.Context, rs []*vault.Record, e *vault.AuditEntry) error {
	if len(rs) == 0 {
		return vault.Errorf(vault.EINVALID, "No contacts to load.")
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("postgres.LoadContacts: %w", err)
	}
	now := db.now()
	nl := 0
	for i, r := range rs {
		if err := checkRecord(r); err != nil {
			return fmt.Errorf("postgres.LoadContacts: record %d: %w", i, err)
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		if r.UpdatedAt.IsZero() {
			r.UpdatedAt = now
		}
		nl += len(r.Lookups)
	}

	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres.LoadContacts: %w", mapError(err))
	}
	defer t.rollback()
	if err := t.flush(ctx); err != nil { // BEGIN
		return fmt.Errorf("postgres.LoadContacts: %w", mapError(err))
	}

	conn := t.conn.Conn()
	vals := make([]any, 0, len(copyColumns)) // reused: pgx encodes a row before asking for the next
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"contacts"}, copyColumns, pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) {
		v, err := appendContactValues(vals[:0], rs[i])
		if err == nil {
			v[1] = uuidBytes(rs[i].ID)
		}
		return v, err
	}))
	if err != nil {
		return fmt.Errorf("postgres.LoadContacts: contacts: %w", mapError(err))
	}
	seg := make([]any, 0, len(segmentColumns))
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"contact_segments"}, segmentColumns, pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) {
		seg = append(seg[:0], segmentValues(rs[i])...)
		seg[1] = uuidBytes(rs[i].ID)
		return seg, nil
	}))
	if err != nil {
		return fmt.Errorf("postgres.LoadContacts: segments: %w", mapError(err))
	}
	if nl > 0 {
		next := 0             // the next record
		var cur *vault.Record // the record being copied
		var ls []vault.Lookup // its lookups not yet copied
		row := make([]any, 5)
		_, err = conn.CopyFrom(ctx, pgx.Identifier{"contact_lookups"}, []string{"tenant_id", "field", "token", "contact_id", "is_unique"},
			pgx.CopyFromFunc(func() ([]any, error) {
				for len(ls) == 0 {
					if next == len(rs) {
						return nil, nil
					}
					cur, ls = rs[next], distinctLookups(rs[next].Lookups)
					next++
				}
				l := ls[0]
				ls = ls[1:]
				row[0], row[1], row[2], row[3], row[4] = cur.TenantID, l.Field, l.Token, uuidBytes(cur.ID), l.Unique
				return row, nil
			}))
		if err != nil {
			return fmt.Errorf("postgres.LoadContacts: lookups: %w", mapError(err))
		}
	}
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("postgres.LoadContacts: %w", mapError(err))
	}
	return nil
}

// checkWrite checks the arguments of a single-record write and stamps e.
func (db *DB) checkWrite(r *vault.Record, e *vault.AuditEntry) error {
	if err := checkRecord(r); err != nil {
		return err
	}
	return db.checkEntry(e)
}

// checkRecord returns EINVALID unless r can be stored.
func checkRecord(r *vault.Record) error {
	switch {
	case r == nil:
		return vault.Errorf(vault.EINVALID, "A record is required.")
	case r.TenantID == "":
		return vault.Errorf(vault.EINVALID, "Tenant id is required.")
	case !vault.ValidID(r.ID):
		return vault.Errorf(vault.EINVALID, "Contact id must be a lower-case UUID.")
	case r.WrappedKey == nil:
		return vault.Errorf(vault.EINVALID, "Wrapped key is required.")
	}
	for _, ls := range [][]vault.Lookup{r.Lookups, r.Suppression} {
		for _, l := range ls {
			if l.Field == "" || len(l.Token) == 0 {
				return vault.Errorf(vault.EINVALID, "Lookup field and token are required.")
			}
		}
	}
	for _, tok := range r.Tokens {
		if len(tok) == 0 {
			return vault.Errorf(vault.EINVALID, "Segmentation tokens must not be empty.")
		}
	}
	return nil
}

// contactValues returns the values of r for copyColumns.
func contactValues(r *vault.Record) ([]any, error) {
	return appendContactValues(make([]any, 0, len(copyColumns)), r)
}

// appendContactValues appends the values of r for copyColumns to vals.
func appendContactValues(vals []any, r *vault.Record) ([]any, error) {
	consents, err := consentsJSON(r.Consents)
	if err != nil {
		return nil, err
	}
	fields, tokens, unique := splitLookups(r.Lookups)
	segs := byteaArray(r.Tokens)
	if segs == nil {
		segs = byteaArray{}
	}
	return append(vals, r.TenantID, r.ID, r.WrappedKey, vault.MarshalSealed(r.Sealed), consents,
		r.Flags.Restricted, r.Flags.Objected, r.Version, segs, fields, tokens, unique,
		r.CreatedAt, r.UpdatedAt), nil
}

// uuidBytes returns the bytes of a valid UUID in text form. COPY's binary
// format needs them: pgx encodes a string as a uuid only after a failed
// attempt, which costs an error per row.
func uuidBytes(id string) [16]byte {
	u, _ := vault.IDBytes(id)
	return u
}

// insertLookups queues the insert of a record's lookups, if any.
func insertLookups(t *tx, tenantID, id string, ls []vault.Lookup) {
	ls = distinctLookups(ls)
	if len(ls) == 0 {
		return
	}
	fields, tokens, unique := splitLookups(ls)
	t.queue(`INSERT INTO contact_lookups (tenant_id, field, token, contact_id, is_unique)
		SELECT $1::text, l.field, l.token, $2::uuid, l.is_unique
		FROM unnest($3::text[], $4::bytea[], $5::boolean[]) AS l (field, token, is_unique)`,
		tenantID, id, fields, tokens, unique)
}

// deleteLookups queues the delete of a record's lookups, if any: one
// statement per partial index.
func deleteLookups(t *tx, tenantID, id string, ls []vault.Lookup) {
	var unique, shared []vault.Lookup
	for _, l := range ls {
		if l.Unique {
			unique = append(unique, l)
		} else {
			shared = append(shared, l)
		}
	}
	if len(unique) > 0 {
		fields, tokens, _ := splitLookups(unique)
		t.queue(`DELETE FROM contact_lookups cl
			USING unnest($3::text[], $4::bytea[]) AS l (field, token)
			WHERE cl.tenant_id = $1 AND cl.field = l.field AND cl.token = l.token AND cl.is_unique
				AND cl.contact_id = $2`,
			tenantID, id, fields, tokens)
	}
	if len(shared) > 0 {
		fields, tokens, _ := splitLookups(shared)
		t.queue(`DELETE FROM contact_lookups cl
			USING unnest($3::text[], $4::bytea[]) AS l (field, token)
			WHERE cl.tenant_id = $1 AND cl.field = l.field AND cl.token = l.token AND NOT cl.is_unique
				AND cl.contact_id = $2`,
			tenantID, id, fields, tokens)
	}
}

// distinctLookups returns ls without repeats, so that a record listing a
// lookup twice has it indexed once (and does not conflict with itself).
func distinctLookups(ls []vault.Lookup) []vault.Lookup {
	seen := func(i int) bool {
		for _, m := range ls[:i] {
			if sameLookup(ls[i], m) {
				return true
			}
		}
		return false
	}
	for i := range ls {
		if seen(i) {
			out := slices.Clone(ls[:i])
			for k := i + 1; k < len(ls); k++ {
				if !seen(k) {
					out = append(out, ls[k])
				}
			}
			return out
		}
	}
	return ls
}

// sameLookup reports whether a and b are the same lookup.
func sameLookup(a, b vault.Lookup) bool {
	return a.Field == b.Field && a.Unique == b.Unique && bytes.Equal(a.Token, b.Token)
}

// scanRecord reads the contactColumns of a row into r, preceded by the
// columns scanned into lead, if any (the id, for one).
func scanRecord(row pgx.Row, r *vault.Record, lead ...any) error {
	// The bytea[] columns scan into FlatArray, which pgx fills without
	// reflection; a [][]byte would take its reflective path.
	var (
		sealed, consents []byte
		fields           []string
		segs, tokens     byteaArray
		unique           []bool
	)
	dest := []any{&r.WrappedKey, &sealed, &consents, &r.Flags.Restricted, &r.Flags.Objected, &r.Version,
		&segs, &fields, &tokens, &unique, &r.CreatedAt, &r.UpdatedAt}
	if len(lead) > 0 {
		dest = append(lead, dest...)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	var err error
	if r.Sealed, err = vault.UnmarshalSealed(sealed); err != nil {
		return err
	}
	if r.Consents, err = parseConsents(consents); err != nil {
		return err
	}
	r.Lookups = joinLookups(fields, tokens, unique)
	r.Tokens = nil
	if len(segs) > 0 {
		r.Tokens = segs
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return nil
}

// byteaArray is a bytea[] parameter. pgx encodes a FlatArray without
// reflection; a [][]byte takes its reflective path, which was a quarter of
// the parameter encoding of a create.
type byteaArray = pgtype.FlatArray[[]byte]

// splitLookups returns the columns of lookups, never nil.
func splitLookups(ls []vault.Lookup) (fields []string, tokens byteaArray, unique []bool) {
	fields, tokens, unique = make([]string, len(ls)), make(byteaArray, len(ls)), make([]bool, len(ls))
	for i, l := range ls {
		fields[i], tokens[i], unique[i] = l.Field, l.Token, l.Unique
	}
	return fields, tokens, unique
}

// joinLookups is the inverse of splitLookups.
func joinLookups(fields []string, tokens [][]byte, unique []bool) []vault.Lookup {
	if len(fields) == 0 || len(fields) != len(tokens) {
		return nil
	}
	ls := make([]vault.Lookup, len(fields))
	for i := range fields {
		ls[i] = vault.Lookup{Field: fields[i], Token: tokens[i]}
		if i < len(unique) {
			ls[i].Unique = unique[i]
		}
	}
	return ls
}

// diffLookups returns the lookups of old that new lacks and those of new
// that old lacks; a lookup whose uniqueness changed is in both.
func diffLookups(old, new []vault.Lookup) (removed, added []vault.Lookup) {
	has := func(ls []vault.Lookup, l vault.Lookup) bool {
		return slices.ContainsFunc(ls, func(m vault.Lookup) bool { return sameLookup(l, m) })
	}
	for _, l := range old {
		if !has(new, l) {
			removed = append(removed, l)
		}
	}
	for _, l := range new {
		if !has(old, l) {
			added = append(added, l)
		}
	}
	return removed, added
}
