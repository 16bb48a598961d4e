package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/vault"
)

// contactColumns are the columns scanContact reads, in order.
const contactColumns = `id, wrapped_key, sealed, lookups, tokens, consents, restricted, objected, version, created_at, updated_at`

// Statements on contacts, prepared at Open (see writeStmts and readStmts).
const (
	qInsertContact = `
		INSERT INTO contacts (tenant_id, id, wrapped_key, sealed, lookups, tokens, consents, restricted, objected, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qContactForWrite = `SELECT rid, version, lookups, tokens FROM contacts WHERE tenant_id = ? AND id = ?`
	qUpdateContact   = `
		UPDATE contacts
		SET wrapped_key = ?, sealed = ?, lookups = ?, tokens = ?, consents = ?, restricted = ?, objected = ?, version = ?, updated_at = ?
		WHERE rid = ?`
	qDeleteContact = `DELETE FROM contacts WHERE rid = ?`
	qInsertUnique  = `INSERT INTO contact_lookups_unique (token, tenant_id, field, contact) VALUES (?, ?, ?, ?)`
	qInsertShared  = `INSERT INTO contact_lookups_shared (token, tenant_id, field, contact) VALUES (?, ?, ?, ?)`
	qDeleteUnique  = `DELETE FROM contact_lookups_unique WHERE token = ? AND tenant_id = ? AND field = ? AND contact = ?`
	qDeleteShared  = `DELETE FROM contact_lookups_shared WHERE token = ? AND tenant_id = ? AND field = ? AND contact = ?`
	qInsertToken   = `INSERT INTO segment_tokens (token, contact) VALUES (?, ?)`
	qDeleteToken   = `DELETE FROM segment_tokens WHERE token = ? AND contact = ?`

	qContact = `SELECT ` + contactColumns + ` FROM contacts WHERE tenant_id = ? AND id = ?`
	// The lookup tables lead, so that a search reads the few rows found
	// and sorts them, whatever the tenant's size: left to choose, SQLite
	// walked the tenant's contacts in creation order to skip the sort.
	qFindContacts = `
		SELECT ` + contactColumns + `
		FROM (
			SELECT contact FROM contact_lookups_unique WHERE token = ?1 AND tenant_id = ?2 AND field = ?3
			UNION ALL
			SELECT contact FROM contact_lookups_shared WHERE token = ?1 AND tenant_id = ?2 AND field = ?3
		) AS l CROSS JOIN contacts ON contacts.rid = l.contact
		ORDER BY created_at, id
		LIMIT ?4`
)

// CreateContact stores r and appends e, unsequenced, in one transaction. A
// zero CreatedAt or UpdatedAt is set to the store's clock, in r too, and a
// zero e.Time too. It returns EINVALID for a malformed record (an id that
// is not a lower-case UUID) or an entry the audit log could not encode,
// ENOTFOUND if the tenant does not exist, and ECONFLICT if the id exists
// or a unique lookup token is taken in the tenant.
func (db *DB) CreateContact(ctx context.Context, r *vault.Record, e *vault.AuditEntry) error {
	const op = "sqlite.CreateContact"
	if err := validRecord(op, r); err != nil {
		return err
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *wtx) error {
		if err := tx.checkSuppression(r); err != nil {
			return err
		}
		if _, err := tx.createContact(r, now); err != nil {
			return err
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	r.CreatedAt, r.UpdatedAt = orNow(r.CreatedAt, now), orNow(r.UpdatedAt, now)
	return nil
}

// Contact returns a record. It returns EINVALID for an empty tenant or id
// and ENOTFOUND if the tenant has no such record.
func (db *DB) Contact(ctx context.Context, tenantID, id string) (*vault.Record, error) {
	const op = "sqlite.Contact"
	if tenantID == "" || id == "" {
		return nil, invalid(op, "Tenant id and contact id are required.")
	}
	key, ok := packID(id)
	if !ok {
		return nil, fail(ctx, op, errNoContact)
	}
	// One statement, so one consistent snapshot: no transaction needed.
	r, err := scanContact(tenantID, db.rst.contact.QueryRowContext(ctx, tenantID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(ctx, op, errNoContact)
	} else if err != nil {
		return nil, fail(ctx, op, err)
	}
	return r, nil
}

var errNoContact = vault.Errorf(vault.ENOTFOUND, "Contact not found.")

// UpdateContact replaces everything in the stored record but its id,
// tenant and CreatedAt with r, and appends e, unsequenced, in one
// transaction. A zero UpdatedAt is set to the store's clock, in r too, and
// a zero e.Time too. It returns EINVALID for a malformed record or entry
// (see CreateContact), ENOTFOUND if the record is absent, and ECONFLICT if
// the stored version is not r.Version-1 or a unique lookup token is taken
// by another record.
func (db *DB) UpdateContact(ctx context.Context, r *vault.Record, e *vault.AuditEntry) error {
	const op = "sqlite.UpdateContact"
	if err := validRecord(op, r); err != nil {
		return err
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *wtx) error {
		if err := tx.updateContact(r, now); err != nil {
			return err
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	r.UpdatedAt = orNow(r.UpdatedAt, now)
	return nil
}

// EraseContact deletes the record, its wrapped key, lookups and tokens,
// and appends e, unsequenced, in one transaction. A zero e.Time is set to
// the store's clock. It returns EINVALID for an empty tenant or id or a
// malformed entry (see CreateContact) and ENOTFOUND if the record is
// absent.
func (db *DB) EraseContact(ctx context.Context, tenantID, id string, e *vault.AuditEntry) error {
	const op = "sqlite.EraseContact"
	if tenantID == "" || id == "" {
		return invalid(op, "Tenant id and contact id are required.")
	}
	if err := checkEntry(op, e, db.now()); err != nil {
		return err
	}
	key, ok := packID(id)
	if !ok {
		return fail(ctx, op, errNoContact)
	}
	err := db.write(ctx, func(tx *wtx) error {
		if err := tx.eraseContact(tenantID, key); err != nil {
			return err
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// FindContacts returns at most limit records of the tenant whose lookup
// token for field equals token, ordered by CreatedAt then id; none is not
// an error. It returns EINVALID for an empty tenant, field or token or a
// limit below 1.
func (db *DB) FindContacts(ctx context.Context, tenantID, field string, token []byte, limit int) ([]*vault.Record, error) {
	const op = "sqlite.FindContacts"
	switch {
	case tenantID == "" || field == "" || len(token) == 0:
		return nil, invalid(op, "Tenant id, field and token are required.")
	case limit < 1:
		return nil, invalid(op, "Limit must be at least 1.")
	}
	rows, err := db.rst.findContacts.QueryContext(ctx, token, tenantID, field, limit)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var rs []*vault.Record
	for rows.Next() {
		r, err := scanContact(tenantID, rows)
		if err != nil {
			return nil, fail(ctx, op, err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	return rs, nil
}

// LoadContacts stores every record of rs and appends e, unsequenced, in
// one transaction: all or nothing. Zero times are set as by CreateContact.
// It returns EINVALID for an empty batch, a nil or malformed record or a
// malformed entry, ENOTFOUND if a tenant does not exist, and ECONFLICT if
// an id exists or a unique lookup token is taken, in the store or earlier
// in the batch. It stops early, with ctx's error, when ctx ends.
func (db *DB) LoadContacts(ctx context.Context, rs []*vault.Record, e *vault.AuditEntry) error {
	const op = "sqlite.LoadContacts"
	if len(rs) == 0 {
		return invalid(op, "No records to load.")
	}
	for i, r := range rs {
		if err := validRecord(fmt.Sprintf("%s: record %d", op, i), r); err != nil {
			return err
		}
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *wtx) error {
		for i, r := range rs {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if _, err := tx.createContact(r, now); err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	for _, r := range rs {
		r.CreatedAt, r.UpdatedAt = orNow(r.CreatedAt, now), orNow(r.UpdatedAt, now)
	}
	return nil
}

// validRecord checks what the schema cannot: ids, a wrapped key, lookups
// and tokens that name something.
func validRecord(op string, r *vault.Record) error {
	switch {
	case r == nil:
		return invalid(op, "Record is required.")
	case r.TenantID == "" || r.ID == "":
		return invalid(op, "Record tenant id and id are required.")
	case !vault.ValidID(r.ID):
		return invalid(op, "Record id must be a lower-case UUID.")
	case len(r.WrappedKey) == 0:
		return invalid(op, "Record wrapped key is required.")
	}
	for _, l := range r.Lookups {
		if l.Field == "" || len(l.Token) == 0 {
			return invalid(op, "Record lookups need a field and a token.")
		}
	}
	for _, l := range r.Suppression {
		if l.Field == "" || len(l.Token) == 0 {
			return invalid(op, "Record suppression tokens need a field and a token.")
		}
	}
	for _, t := range r.Tokens {
		if len(t) == 0 {
			return invalid(op, "Record tokens must not be empty.")
		}
	}
	return nil
}

// checkSuppression returns the error of vault.SuppressedError for the
// first of r's suppression tokens on the tenant's suppression list.
func (tx *wtx) checkSuppression(r *vault.Record) error {
	for _, l := range r.Suppression {
		var one int
		err := tx.QueryRowContext(tx.ctx, `SELECT 1 FROM suppressions WHERE tenant_id = ? AND field = ? AND token = ?`,
			r.TenantID, l.Field, l.Token).Scan(&one)
		switch {
		case err == nil:
			return vault.SuppressedError(l.Field)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
	}
	return nil
}

// createContact inserts r, its lookup entries and its segmentation
// tokens, and returns its rid.
func (tx *wtx) createContact(r *vault.Record, now time.Time) (int64, error) {
	key, ok := packID(r.ID)
	if !ok {
		return 0, vault.Errorf(vault.EINVALID, "Record id must be a lower-case UUID.")
	}
	consents, err := marshalConsents(r.Consents)
	if err != nil {
		return 0, err
	}
	ls, ts := normLookups(r.Lookups), normTokens(r.Tokens)
	res, err := tx.exec(tx.st.insertContact, r.TenantID, key, r.WrappedKey, vault.MarshalSealed(r.Sealed),
		packLookups(ls), packTokens(ts), consents, boolInt(r.Flags.Restricted), boolInt(r.Flags.Objected),
		r.Version, toMicro(orNow(r.CreatedAt, now)), toMicro(orNow(r.UpdatedAt, now)))
	if err != nil {
		return 0, err
	}
	rid, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if err := tx.insertLookups(r.TenantID, rid, ls); err != nil {
		return 0, err
	}
	return rid, tx.insertTokens(rid, ts)
}

// updateContact checks r's version against the stored one and replaces
// the record, then its lookup entries and segmentation tokens that
// changed.
func (tx *wtx) updateContact(r *vault.Record, now time.Time) error {
	key, ok := packID(r.ID)
	if !ok {
		return errNoContact
	}
	rid, version, oldLs, oldTs, err := tx.contactForWrite(r.TenantID, key)
	if err != nil {
		return err
	}
	if version != r.Version-1 {
		return vault.Errorf(vault.ECONFLICT, "Contact was changed since it was read: version %d, want %d.", version, r.Version-1)
	}
	consents, err := marshalConsents(r.Consents)
	if err != nil {
		return err
	}
	ls, ts := normLookups(r.Lookups), normTokens(r.Tokens)
	if _, err := tx.exec(tx.st.updateContact, r.WrappedKey, vault.MarshalSealed(r.Sealed), packLookups(ls), packTokens(ts),
		consents, boolInt(r.Flags.Restricted), boolInt(r.Flags.Objected), r.Version, toMicro(orNow(r.UpdatedAt, now)), rid); err != nil {
		return err
	}
	gone, added := diffLookups(oldLs, ls)
	if err := tx.deleteLookups(r.TenantID, rid, gone); err != nil {
		return err
	}
	if err := tx.insertLookups(r.TenantID, rid, added); err != nil {
		return err
	}
	goneTs, addedTs := diffTokens(oldTs, ts)
	if err := tx.deleteTokens(rid, goneTs); err != nil {
		return err
	}
	return tx.insertTokens(rid, addedTs)
}

// eraseContact deletes a record, its lookup entries and its segmentation
// tokens; ENOTFOUND if there is none.
func (tx *wtx) eraseContact(tenantID string, key []byte) error {
	rid, _, ls, ts, err := tx.contactForWrite(tenantID, key)
	if err != nil {
		return err
	}
	if err := tx.deleteLookups(tenantID, rid, ls); err != nil {
		return err
	}
	if err := tx.deleteTokens(rid, ts); err != nil {
		return err
	}
	_, err = tx.exec(tx.st.deleteContact, rid)
	return err
}

// contactForWrite returns what a change needs of a stored record: its
// rid, version, lookups and tokens (as normTokens leaves them); ENOTFOUND
// if there is none.
func (tx *wtx) contactForWrite(tenantID string, key []byte) (rid, version int64, ls []vault.Lookup, ts [][]byte, err error) {
	var packedLs, packedTs []byte
	err = tx.queryRow(tx.st.contactForWrite, tenantID, key).Scan(&rid, &version, &packedLs, &packedTs)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil, nil, errNoContact
	} else if err != nil {
		return 0, 0, nil, nil, err
	}
	if ls, err = unpackLookups(packedLs); err != nil {
		return 0, 0, nil, nil, fmt.Errorf("contact lookups: %w", err)
	}
	if ts, err = unpackTokens(packedTs); err != nil {
		return 0, 0, nil, nil, fmt.Errorf("contact tokens: %w", err)
	}
	return rid, version, ls, normTokens(ts), nil
}

// insertLookups inserts lookup entries of the contact rid. A unique
// lookup held by another contact of the tenant is ECONFLICT naming the
// field (a schema name, never a value).
func (tx *wtx) insertLookups(tenantID string, rid int64, ls []vault.Lookup) error {
	for _, l := range ls {
		stmt := tx.st.insertShared
		if l.Unique {
			stmt = tx.st.insertUnique
		}
		if _, err := tx.exec(stmt, l.Token, tenantID, l.Field, rid); err != nil {
			if l.Unique && isConstraint(err) {
				return fmt.Errorf("%w (%v)", vault.Errorf(vault.ECONFLICT, "Another contact has the same %s.", l.Field), err)
			}
			return err
		}
	}
	return nil
}

// deleteLookups deletes lookup entries of the contact rid, each of which
// must exist: a missing one means the row and the lookup tables disagree,
// and the change is refused rather than leave an entry behind.
func (tx *wtx) deleteLookups(tenantID string, rid int64, ls []vault.Lookup) error {
	for _, l := range ls {
		stmt := tx.st.deleteShared
		if l.Unique {
			stmt = tx.st.deleteUnique
		}
		if err := deleted(tx.exec(stmt, l.Token, tenantID, l.Field, rid)); err != nil {
			return fmt.Errorf("lookup %s of contact %d: %w", l.Field, rid, err)
		}
	}
	return nil
}

// deleted checks that a DELETE deleted one row.
func deleted(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("lookup entry missing: %d rows deleted, want 1", n)
	}
	return nil
}

// diffLookups returns the lookups of old that new lacks and those of new
// that old lacks; a lookup that changed between unique and shared is in
// both.
func diffLookups(old, new []vault.Lookup) (gone, added []vault.Lookup) {
	key := func(l vault.Lookup) string {
		return fmt.Sprintf("%t\x00%s\x00%s", l.Unique, l.Field, l.Token)
	}
	in := make(map[string]bool, len(old))
	for _, l := range old {
		in[key(l)] = true
	}
	for _, l := range new {
		if k := key(l); in[k] {
			delete(in, k)
		} else {
			added = append(added, l)
		}
	}
	for _, l := range old {
		if in[key(l)] {
			gone = append(gone, l)
		}
	}
	return gone, added
}

// scanContact reads contactColumns into a record of the tenant.
func scanContact(tenantID string, row interface{ Scan(...any) error }) (*vault.Record, error) {
	r := vault.Record{TenantID: tenantID}
	var key, sealed, lookups, tokens []byte
	var consents string
	var createdAt, updatedAt int64
	if err := row.Scan(&key, &r.WrappedKey, &sealed, &lookups, &tokens, &consents,
		&r.Flags.Restricted, &r.Flags.Objected, &r.Version, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	var err error
	if r.ID, err = unpackID(key); err != nil {
		return nil, err
	}
	if r.Sealed, err = vault.UnmarshalSealed(sealed); err != nil {
		return nil, fmt.Errorf("contact sealed fields: %w", err)
	}
	if r.Lookups, err = unpackLookups(lookups); err != nil {
		return nil, fmt.Errorf("contact lookups: %w", err)
	}
	if r.Tokens, err = unpackTokens(tokens); err != nil {
		return nil, fmt.Errorf("contact tokens: %w", err)
	}
	if r.Consents, err = unmarshalConsents(consents); err != nil {
		return nil, fmt.Errorf("contact consents: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicro(createdAt), fromMicro(updatedAt)
	return &r, nil
}

// consentJSON is a consent as the consents column holds it:
// {"granted": true, "at": microseconds since the epoch}, at omitted for a
// zero time, so that SQL can filter on both.
type consentJSON struct {
	Granted bool   `json:"granted"`
	At      *int64 `json:"at,omitempty"`
}

func marshalConsents(m map[string]vault.ConsentState) (string, error) {
	out := make(map[string]consentJSON, len(m))
	for name, c := range m {
		j := consentJSON{Granted: c.Granted}
		if !c.At.IsZero() {
			at := toMicro(c.At)
			j.At = &at
		}
		out[name] = j
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func unmarshalConsents(s string) (map[string]vault.ConsentState, error) {
	var in map[string]consentJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	m := make(map[string]vault.ConsentState, len(in))
	for name, j := range in {
		c := vault.ConsentState{Granted: j.Granted}
		if j.At != nil {
			c.At = fromMicro(*j.At)
		}
		m[name] = c
	}
	return m, nil
}
