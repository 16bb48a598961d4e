package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/coffre/coffre/vault"
)

// contactColumns are the columns scanContact reads, in order.
const contactColumns = `tenant_id, id, wrapped_key, sealed, consents, restricted, objected, version, created_at, updated_at`

// Statements of the hot paths, prepared at Open (see stmts).
const (
	qInsertContact  = `INSERT INTO contacts (` + contactColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertLookup   = `INSERT INTO contact_lookups (tenant_id, contact_id, field, token, is_unique) VALUES (?, ?, ?, ?, ?)`
	qInsertToken    = `INSERT INTO contact_tokens (tenant_id, contact_id, token) VALUES (?, ?, ?)`
	qFindUnique     = `SELECT contact_id FROM contact_lookups WHERE tenant_id = ? AND field = ? AND token = ? AND is_unique = 1`
	qContact        = `SELECT ` + contactColumns + ` FROM contacts WHERE tenant_id = ? AND id = ?`
	qContactLookups = `SELECT contact_id, field, token, is_unique FROM contact_lookups WHERE tenant_id = ? AND contact_id = ?`
	qContactTokens  = `SELECT contact_id, token FROM contact_tokens WHERE tenant_id = ? AND contact_id = ?`
	qFindContacts   = `
		SELECT ` + contactColumns + ` FROM contacts
		WHERE tenant_id = ? AND id IN (
			SELECT contact_id FROM contact_lookups WHERE tenant_id = ? AND field = ? AND token = ?)
		ORDER BY created_at, id
		LIMIT ?`
	// The ids of several records travel as one JSON array parameter.
	qLookupsIn = `
		SELECT contact_id, field, token, is_unique FROM contact_lookups
		WHERE tenant_id = ? AND contact_id IN (SELECT value FROM json_each(?))`
	qTokensIn = `
		SELECT contact_id, token FROM contact_tokens
		WHERE tenant_id = ? AND contact_id IN (SELECT value FROM json_each(?))`
)

// CreateContact stores r and appends e, unsequenced, in one transaction. A
// zero CreatedAt or UpdatedAt is set to the store's clock, in r too, and a
// zero e.Time too. It returns EINVALID for a malformed record or an entry
// the audit log could not encode, ENOTFOUND if the tenant does not exist,
// and ECONFLICT if the id exists or a unique lookup token is taken in the
// tenant.
func (db *DB) CreateContact(ctx context.Context, r *vault.Record, e *vault.AuditEntry) error {
	const op = "sqlite.CreateContact"
	if err := validRecord(op, r); err != nil {
		return err
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fail(ctx, op, err)
	}
	defer tx.Rollback()
	w := db.contactWriter(ctx, tx)
	if err := w.create(ctx, r, now); err != nil {
		return fail(ctx, op, err)
	}
	if err := db.appendEntry(ctx, tx, e); err != nil {
		return fail(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
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
	tx, err := db.beginRead(ctx)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer tx.Rollback()
	r, err := scanContact(tx.StmtContext(ctx, db.st.contact).QueryRowContext(ctx, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(ctx, op, vault.Errorf(vault.ENOTFOUND, "Contact not found."))
	} else if err != nil {
		return nil, fail(ctx, op, err)
	}
	if err := db.loadIndexes(ctx, tx, []*vault.Record{r}); err != nil {
		return nil, fail(ctx, op, err)
	}
	return r, nil
}

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
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fail(ctx, op, err)
	}
	defer tx.Rollback()
	w := db.contactWriter(ctx, tx)
	if err := w.update(ctx, r, now); err != nil {
		return fail(ctx, op, err)
	}
	if err := db.appendEntry(ctx, tx, e); err != nil {
		return fail(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
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
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fail(ctx, op, err)
	}
	defer tx.Rollback()
	if err := eraseContact(ctx, tx, tenantID, id); err != nil {
		return fail(ctx, op, err)
	}
	if err := db.appendEntry(ctx, tx, e); err != nil {
		return fail(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
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
	tx, err := db.beginRead(ctx)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer tx.Rollback()
	rs, err := db.findContacts(ctx, tx, tenantID, field, token, limit)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	if err := db.loadIndexes(ctx, tx, rs); err != nil {
		return nil, fail(ctx, op, err)
	}
	return rs, nil
}

// LoadContacts stores every record of rs and appends e, unsequenced, in
// one transaction: all or nothing. Zero times are set as by CreateContact.
// It returns EINVALID for an empty batch, a nil or malformed record or a
// malformed entry, ENOTFOUND if a tenant does not exist, and ECONFLICT if
// an id exists or a unique lookup token is taken, in the store or earlier
// in the batch.
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
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fail(ctx, op, err)
	}
	defer tx.Rollback()
	w := db.contactWriter(ctx, tx)
	for i, r := range rs {
		if err := w.create(ctx, r, now); err != nil {
			return fail(ctx, fmt.Sprintf("%s: record %d", op, i), err)
		}
	}
	if err := db.appendEntry(ctx, tx, e); err != nil {
		return fail(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
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
	case len(r.WrappedKey) == 0:
		return invalid(op, "Record wrapped key is required.")
	}
	for _, l := range r.Lookups {
		if l.Field == "" || len(l.Token) == 0 {
			return invalid(op, "Record lookups need a field and a token.")
		}
	}
	for _, t := range r.Tokens {
		if len(t) == 0 {
			return invalid(op, "Record tokens must not be empty.")
		}
	}
	return nil
}

// contactWriter writes records in one transaction with the prepared
// statements of the writer.
type contactWriter struct {
	tx            *sql.Tx
	insertContact *sql.Stmt
	insertLookup  *sql.Stmt
	insertToken   *sql.Stmt
	findUnique    *sql.Stmt
}

// contactWriter returns a writer for tx; its statements close with tx.
func (db *DB) contactWriter(ctx context.Context, tx *sql.Tx) *contactWriter {
	return &contactWriter{
		tx:            tx,
		insertContact: tx.StmtContext(ctx, db.st.insertContact),
		insertLookup:  tx.StmtContext(ctx, db.st.insertLookup),
		insertToken:   tx.StmtContext(ctx, db.st.insertToken),
		findUnique:    tx.StmtContext(ctx, db.st.findUnique),
	}
}

// create inserts r with its lookups and tokens.
func (w *contactWriter) create(ctx context.Context, r *vault.Record, now time.Time) error {
	consents, err := marshalConsents(r.Consents)
	if err != nil {
		return err
	}
	if _, err := w.insertContact.ExecContext(ctx, r.TenantID, r.ID, r.WrappedKey, vault.MarshalSealed(r.Sealed), consents,
		boolInt(r.Flags.Restricted), boolInt(r.Flags.Objected), r.Version,
		toMicro(orNow(r.CreatedAt, now)), toMicro(orNow(r.UpdatedAt, now))); err != nil {
		return err
	}
	return w.insertIndexes(ctx, r)
}

// update checks r's version against the stored one and replaces the
// record, its lookups and its tokens.
func (w *contactWriter) update(ctx context.Context, r *vault.Record, now time.Time) error {
	var version int64
	err := w.tx.QueryRowContext(ctx, `SELECT version FROM contacts WHERE tenant_id = ? AND id = ?`, r.TenantID, r.ID).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return vault.Errorf(vault.ENOTFOUND, "Contact not found.")
	} else if err != nil {
		return err
	}
	if version != r.Version-1 {
		return vault.Errorf(vault.ECONFLICT, "Contact was changed since it was read: version %d, want %d.", version, r.Version-1)
	}
	consents, err := marshalConsents(r.Consents)
	if err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(ctx, `
		UPDATE contacts
		SET wrapped_key = ?, sealed = ?, consents = ?, restricted = ?, objected = ?, version = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`,
		r.WrappedKey, vault.MarshalSealed(r.Sealed), consents, boolInt(r.Flags.Restricted), boolInt(r.Flags.Objected),
		r.Version, toMicro(orNow(r.UpdatedAt, now)), r.TenantID, r.ID); err != nil {
		return err
	}
	if err := deleteIndexes(ctx, w.tx, r.TenantID, r.ID); err != nil {
		return err
	}
	return w.insertIndexes(ctx, r)
}

// insertIndexes inserts r's lookups and tokens, once each. A unique lookup
// already held by another record is ECONFLICT naming the field (a schema
// name, never a value); the partial unique index backs this check.
func (w *contactWriter) insertIndexes(ctx context.Context, r *vault.Record) error {
	seen := make(map[string]bool)
	for _, l := range r.Lookups {
		key := l.Field + "\x00" + string(l.Token)
		if seen[key] {
			continue
		}
		seen[key] = true
		unique := l.Unique || hasUnique(r.Lookups, l)
		if unique {
			var other string
			err := w.findUnique.QueryRowContext(ctx, r.TenantID, l.Field, l.Token).Scan(&other)
			if err == nil && other != r.ID {
				return vault.Errorf(vault.ECONFLICT, "Another contact has the same %s.", l.Field)
			} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, err := w.insertLookup.ExecContext(ctx, r.TenantID, r.ID, l.Field, l.Token, boolInt(unique)); err != nil {
			return err
		}
	}
	clear(seen)
	for _, t := range r.Tokens {
		if seen[string(t)] {
			continue
		}
		seen[string(t)] = true
		if _, err := w.insertToken.ExecContext(ctx, r.TenantID, r.ID, t); err != nil {
			return err
		}
	}
	return nil
}

// hasUnique reports whether ls holds l's field and token as a unique
// lookup, so that a duplicate listed twice is unique if either says so.
func hasUnique(ls []vault.Lookup, l vault.Lookup) bool {
	for _, o := range ls {
		if o.Unique && o.Field == l.Field && bytes.Equal(o.Token, l.Token) {
			return true
		}
	}
	return false
}

// eraseContact deletes a record with its lookups and tokens; ENOTFOUND if
// there is none.
func eraseContact(ctx context.Context, tx *sql.Tx, tenantID, id string) error {
	if err := deleteIndexes(ctx, tx, tenantID, id); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return vault.Errorf(vault.ENOTFOUND, "Contact not found.")
	}
	return nil
}

// deleteIndexes deletes a record's lookups and tokens.
func deleteIndexes(ctx context.Context, tx *sql.Tx, tenantID, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM contact_lookups WHERE tenant_id = ? AND contact_id = ?`, tenantID, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM contact_tokens WHERE tenant_id = ? AND contact_id = ?`, tenantID, id)
	return err
}

// findContacts returns the records found by a lookup, without their
// lookups and tokens.
func (db *DB) findContacts(ctx context.Context, tx *sql.Tx, tenantID, field string, token []byte, limit int) ([]*vault.Record, error) {
	rows, err := tx.StmtContext(ctx, db.st.findContacts).QueryContext(ctx, tenantID, tenantID, field, token, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []*vault.Record
	for rows.Next() {
		r, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// loadIndexes fills in the lookups and tokens of rs, records of one
// tenant, with two queries whatever their number. Lookups come sorted by
// field and token, tokens by value.
func (db *DB) loadIndexes(ctx context.Context, tx *sql.Tx, rs []*vault.Record) error {
	if len(rs) == 0 {
		return nil
	}
	byID := make(map[string]*vault.Record, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	lookups, tokens := tx.StmtContext(ctx, db.st.contactLookups), tx.StmtContext(ctx, db.st.contactTokens)
	key := any(rs[0].ID)
	if len(rs) > 1 {
		ids := make([]string, len(rs))
		for i, r := range rs {
			ids[i] = r.ID
		}
		b, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		lookups, tokens, key = tx.StmtContext(ctx, db.st.lookupsIn), tx.StmtContext(ctx, db.st.tokensIn), string(b)
	}

	rows, err := lookups.QueryContext(ctx, rs[0].TenantID, key)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l vault.Lookup
		if err := rows.Scan(&id, &l.Field, &l.Token, &l.Unique); err != nil {
			return err
		}
		if r := byID[id]; r != nil {
			r.Lookups = append(r.Lookups, l)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()

	rows, err = tokens.QueryContext(ctx, rs[0].TenantID, key)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var t []byte
		if err := rows.Scan(&id, &t); err != nil {
			return err
		}
		if r := byID[id]; r != nil {
			r.Tokens = append(r.Tokens, t)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range rs {
		sort.Slice(r.Lookups, func(i, j int) bool {
			if r.Lookups[i].Field != r.Lookups[j].Field {
				return r.Lookups[i].Field < r.Lookups[j].Field
			}
			return bytes.Compare(r.Lookups[i].Token, r.Lookups[j].Token) < 0
		})
		sort.Slice(r.Tokens, func(i, j int) bool { return bytes.Compare(r.Tokens[i], r.Tokens[j]) < 0 })
	}
	return nil
}

// scanContact reads contactColumns into a record without lookups and
// tokens.
func scanContact(row interface{ Scan(...any) error }) (*vault.Record, error) {
	var r vault.Record
	var sealed []byte
	var consents string
	var createdAt, updatedAt int64
	if err := row.Scan(&r.TenantID, &r.ID, &r.WrappedKey, &sealed, &consents,
		&r.Flags.Restricted, &r.Flags.Objected, &r.Version, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	var err error
	if r.Sealed, err = vault.UnmarshalSealed(sealed); err != nil {
		return nil, fmt.Errorf("contact sealed fields: %w", err)
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
