package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

var _ vault.SegmentStore = (*DB)(nil)

// A segment query reads contacts through contacts_segment, the index of
// each contact's id, flags and times (see migration 004), and tokens
// through segment_tokens. A vault.Cond becomes a boolean SQL expression
// over the contact c, every value a parameter:
//
//	True, False       1, 0
//	And, Or           (a AND b …), (a OR b …), nested two by two so that
//	                  SQLite's expression depth grows with the logarithm
//	                  of the number of children; 1 and 0 when empty
//	Not               (NOT a)
//	Tokens            c.rid IN (SELECT contact FROM segment_tokens
//	                  WHERE token IN (?, …)) in a count, EXISTS (SELECT 1
//	                  FROM segment_tokens WHERE contact = c.rid AND token
//	                  IN (?, …)) in a listing; 0 for an empty list
//	Flag              c.restricted = 1, c.restricted = 0 (objected alike)
//	Time              c.created_at >= ? AND c.created_at < ?, in
//	                  microseconds, a zero bound left out (updated_at
//	                  alike)
//
// A count tests every contact of the tenant: SQLite runs each IN
// subquery once, into a temporary b-tree of the contacts holding the
// tokens, which the test of each contact then searches. A listing tests
// contacts in id order until it has a page, often a few hundred: building
// the set of, say, every contact with newsletter consent would cost more
// than the page, so it searches segment_tokens by (token, rid) for each
// contact it tests. Measured over 100,000 contacts, a count of contacts in
// 2 of 20 districts with newsletter consent took 36 ms with sets and 180
// with searches; the first page of 50, 19 ms with sets and 3 with
// searches.

// Limits of a condition: deeper or larger ones are EINVALID. They keep
// the statement within SQLite's limits of expression depth (1,000) and
// parameters (32,766).
const (
	maxCondDepth  = 64
	maxCondNodes  = 10000
	maxCondParams = 30000
)

// qCountContacts and qListContacts frame a condition's expression;
// INDEXED BY makes SQLite read contacts_segment, where the tenant's
// contacts are in id order with every column a condition reads, rather
// than the table or the index by id alone.
const (
	qCountContacts = `SELECT count(*) FROM contacts AS c INDEXED BY contacts_segment WHERE c.tenant_id = ? AND `
	qListContacts  = `SELECT ` + contactColumns + ` FROM contacts AS c INDEXED BY contacts_segment
		WHERE c.tenant_id = ? AND c.id > ? AND %s
		ORDER BY c.id
		LIMIT ?`
)

// CountContacts counts the tenant's records that c matches. It returns
// EINVALID for an empty tenant or a condition the store cannot express:
// nil, CondConsent, an unknown op, flag or column, a Not without exactly
// one child, an empty token, or one deeper than 64 levels, larger than
// 10,000 nodes or holding more than 30,000 tokens and times. It is safe
// for concurrent use.
func (db *DB) CountContacts(ctx context.Context, tenantID string, c *vault.Cond) (int64, error) {
	const op = "sqlite.CountContacts"
	if tenantID == "" {
		return 0, invalid(op, "Tenant id is required.")
	}
	cond, args, err := buildCond(c, false, tenantID)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	var n int64
	if err := db.r.QueryRowContext(ctx, qCountContacts+cond, args...).Scan(&n); err != nil {
		return 0, fail(ctx, op, err)
	}
	return n, nil
}

// ListContacts returns at most limit records of the tenant that c
// matches, in id order, after the id afterID ("" for the first page). It
// returns EINVALID for an empty tenant, a limit below 1, an afterID that
// is neither empty nor a canonical UUID, or a condition CountContacts
// refuses. It reads the tenant's index entries from afterID on until it
// has a page, and the rows of the page. It is safe for concurrent use.
func (db *DB) ListContacts(ctx context.Context, tenantID string, c *vault.Cond, afterID string, limit int) ([]*vault.Record, error) {
	const op = "sqlite.ListContacts"
	switch {
	case tenantID == "":
		return nil, invalid(op, "Tenant id is required.")
	case limit < 1:
		return nil, invalid(op, "Limit must be at least 1.")
	}
	after := []byte{} // before every id
	if afterID != "" {
		var ok bool
		if after, ok = packID(afterID); !ok {
			return nil, invalid(op, "The contact id to list after is not a contact id.")
		}
	}
	cond, args, err := buildCond(c, true, tenantID, after)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rows, err := db.r.QueryContext(ctx, fmt.Sprintf(qListContacts, cond), append(args, limit)...)
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

// buildCond returns the SQL expression of c over the contact c, and the
// arguments of a query whose parameters are fixed then the expression's.
// With probe set, a condition on tokens searches segment_tokens for each
// contact tested (see condSQL).
func buildCond(c *vault.Cond, probe bool, fixed ...any) (string, []any, error) {
	q := condSQL{args: fixed, probe: probe}
	if err := q.cond(c, 0); err != nil {
		return "", nil, err
	}
	if len(q.args) > maxCondParams {
		return "", nil, errCondSize
	}
	return q.b.String(), q.args, nil
}

// condSQL builds the SQL expression of a vault.Cond and its parameters.
type condSQL struct {
	b     strings.Builder
	args  []any
	nodes int
	// probe writes a condition on tokens as a search of segment_tokens
	// for each contact tested, instead of a set of contacts built once.
	probe bool
}

var (
	errCond     = vault.Errorf(vault.EINVALID, "The segment condition cannot be evaluated by the store.")
	errCondSize = vault.Errorf(vault.EINVALID, "The segment condition is too large.")
)

// cond writes the expression of c, at the given depth.
func (q *condSQL) cond(c *vault.Cond, depth int) error {
	if c == nil {
		return errCond
	}
	q.nodes++
	if depth > maxCondDepth || q.nodes > maxCondNodes {
		return errCondSize
	}
	switch c.Op {
	case vault.CondTrue:
		q.b.WriteString("1")
	case vault.CondFalse:
		q.b.WriteString("0")
	case vault.CondAnd:
		return q.join(c.Children, " AND ", "1", depth)
	case vault.CondOr:
		return q.join(c.Children, " OR ", "0", depth)
	case vault.CondNot:
		if len(c.Children) != 1 {
			return errCond
		}
		q.b.WriteString("(NOT ")
		if err := q.cond(c.Children[0], depth+1); err != nil {
			return err
		}
		q.b.WriteByte(')')
	case vault.CondTokens:
		ts := normTokens(c.Tokens)
		if len(ts) > 0 && len(ts[0]) == 0 { // sorted: an empty token comes first
			return errCond
		}
		if len(ts) == 0 {
			q.b.WriteString("0")
			return nil
		}
		if q.probe {
			q.b.WriteString("EXISTS (SELECT 1 FROM segment_tokens WHERE contact = c.rid AND token IN (")
		} else {
			q.b.WriteString("c.rid IN (SELECT contact FROM segment_tokens WHERE token IN (")
		}
		for i, t := range ts {
			if i > 0 {
				q.b.WriteString(", ")
			}
			q.b.WriteByte('?')
			q.args = append(q.args, t)
		}
		q.b.WriteString("))")
	case vault.CondFlag:
		switch c.Flag {
		case vault.FlagRestricted, vault.FlagObjected:
		default:
			return errCond
		}
		q.b.WriteString("c." + c.Flag + " = " + map[bool]string{true: "1", false: "0"}[c.Value])
	case vault.CondTime:
		switch c.Column {
		case vault.ColumnCreated, vault.ColumnUpdated:
		default:
			return errCond
		}
		q.time(c)
	default:
		return errCond
	}
	return nil
}

// join writes the children joined by sep, two halves at a time, or
// empty when there are none.
func (q *condSQL) join(cs []*vault.Cond, sep, empty string, depth int) error {
	switch len(cs) {
	case 0:
		q.b.WriteString(empty)
		return nil
	case 1:
		return q.cond(cs[0], depth+1)
	}
	q.b.WriteByte('(')
	if err := q.join(cs[:len(cs)/2], sep, empty, depth); err != nil {
		return err
	}
	q.b.WriteString(sep)
	if err := q.join(cs[len(cs)/2:], sep, empty, depth); err != nil {
		return err
	}
	q.b.WriteByte(')')
	return nil
}

// The range of stored times, microseconds since the epoch in an int64.
var (
	minStored = time.UnixMicro(math.MinInt64)
	maxStored = time.UnixMicro(math.MaxInt64)
)

// time writes the range of a CondTime. Stored times are whole
// microseconds, so a bound with a fraction is rounded up: t >= From holds
// exactly when t >= From rounded up, and t < Until when t < Until rounded
// up. A bound beyond the range of stored times is open or empty.
func (q *condSQL) time(c *vault.Cond) {
	col := "c." + c.Column
	from, until := c.From, c.Until
	switch {
	case !from.IsZero() && !from.Before(maxStored), !until.IsZero() && !until.After(minStored):
		q.b.WriteString("0")
		return
	}
	var parts []string
	if !from.IsZero() && from.After(minStored) {
		parts = append(parts, col+" >= ?")
		q.args = append(q.args, ceilMicro(from))
	}
	if !until.IsZero() && until.Before(maxStored) {
		parts = append(parts, col+" < ?")
		q.args = append(q.args, ceilMicro(until))
	}
	if len(parts) == 0 {
		q.b.WriteString("1")
		return
	}
	q.b.WriteString("(" + strings.Join(parts, " AND ") + ")")
}

// ceilMicro returns t in microseconds since the epoch, rounded up; t is
// strictly between minStored and maxStored.
func ceilMicro(t time.Time) int64 {
	us := t.UnixMicro()
	if time.UnixMicro(us).Before(t) {
		us++
	}
	return us
}

// insertTokens adds the contact rid's entries of segment_tokens for ts,
// normalised by normTokens.
func (tx *wtx) insertTokens(rid int64, ts [][]byte) error {
	for _, t := range ts {
		if _, err := tx.exec(tx.st.insertToken, t, rid); err != nil {
			return fmt.Errorf("segment token of contact %d: %w", rid, err)
		}
	}
	return nil
}

// deleteTokens deletes the contact rid's entries of segment_tokens for
// ts, each of which must exist: a missing one means the row and the
// token table disagree, and the change is refused rather than leave an
// entry behind.
func (tx *wtx) deleteTokens(rid int64, ts [][]byte) error {
	for _, t := range ts {
		if err := deleted(tx.exec(tx.st.deleteToken, t, rid)); err != nil {
			return fmt.Errorf("segment token of contact %d: %w", rid, err)
		}
	}
	return nil
}

// diffTokens returns the tokens of old that new lacks and those of new
// that old lacks; both are normalised by normTokens.
func diffTokens(old, new [][]byte) (gone, added [][]byte) {
	i, j := 0, 0
	for i < len(old) || j < len(new) {
		switch {
		case j == len(new) || (i < len(old) && bytes.Compare(old[i], new[j]) < 0):
			gone = append(gone, old[i])
			i++
		case i == len(old) || bytes.Compare(old[i], new[j]) > 0:
			added = append(added, new[j])
			j++
		default:
			i++
			j++
		}
	}
	return gone, added
}

// fillSegmentTokens is the data step of 004_segments: it fills
// segment_tokens from the token lists of the contacts' rows, a page of
// rows at a time in rid order.
func fillSegmentTokens(ctx context.Context, tx *sql.Tx) error {
	insert, err := tx.PrepareContext(ctx, qInsertToken)
	if err != nil {
		return err
	}
	defer insert.Close()
	const page = 1000
	type row struct {
		rid    int64
		tokens [][]byte
	}
	last := int64(math.MinInt64)
	for {
		rows, err := tx.QueryContext(ctx, `SELECT rid, tokens FROM contacts WHERE rid > ? ORDER BY rid LIMIT ?`, last, page)
		if err != nil {
			return err
		}
		var rs []row
		for rows.Next() {
			var r row
			var packed []byte
			if err := rows.Scan(&r.rid, &packed); err != nil {
				rows.Close()
				return err
			}
			if r.tokens, err = unpackTokens(packed); err != nil {
				rows.Close()
				return fmt.Errorf("contact %d: tokens: %w", r.rid, err)
			}
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range rs {
			for _, t := range normTokens(r.tokens) {
				if _, err := insert.ExecContext(ctx, t, r.rid); err != nil {
					return fmt.Errorf("contact %d: token: %w", r.rid, err)
				}
			}
		}
		if len(rs) < page {
			return nil
		}
		last = rs[len(rs)-1].rid
	}
}

// Statements on saved segments.
const (
	qSegment  = `SELECT filter, owner_id, created_at FROM segments WHERE tenant_id = ? AND name = ?`
	qSegments = `SELECT name, filter, owner_id, created_at FROM segments WHERE tenant_id = ? ORDER BY name`
)

// SaveSegment stores a named segment and appends e, unsequenced, in one
// transaction. A zero CreatedAt is set to the store's clock, in g too,
// and a zero e.Time too. It returns EINVALID for a nil segment, an empty
// tenant or name, or an entry the audit log could not encode, ENOTFOUND if
// the tenant does not exist, and ECONFLICT if the tenant has a segment of
// that name.
func (db *DB) SaveSegment(ctx context.Context, g *vault.SavedSegment, e *vault.AuditEntry) error {
	const op = "sqlite.SaveSegment"
	if g == nil || g.TenantID == "" || g.Name == "" {
		return invalid(op, "Segment tenant and name are required.")
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	createdAt := orNow(g.CreatedAt, now)
	err := db.write(ctx, func(tx *wtx) error {
		if _, err := tx.execSQL(`INSERT INTO segments (tenant_id, name, filter, owner_id, created_at) VALUES (?, ?, ?, ?, ?)`,
			g.TenantID, g.Name, nonNil(g.Filter), g.OwnerID, toMicro(createdAt)); err != nil {
			return err
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	g.CreatedAt = createdAt
	return nil
}

// Segment returns a saved segment. It returns EINVALID for an empty tenant
// or name and ENOTFOUND if the tenant has no segment of that name.
func (db *DB) Segment(ctx context.Context, tenantID, name string) (*vault.SavedSegment, error) {
	const op = "sqlite.Segment"
	if tenantID == "" || name == "" {
		return nil, invalid(op, "Segment tenant and name are required.")
	}
	g := &vault.SavedSegment{TenantID: tenantID, Name: name}
	var createdAt int64
	err := db.r.QueryRowContext(ctx, qSegment, tenantID, name).Scan(&g.Filter, &g.OwnerID, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(ctx, op, errNoSegment)
	} else if err != nil {
		return nil, fail(ctx, op, err)
	}
	g.CreatedAt = fromMicro(createdAt)
	return g, nil
}

var errNoSegment = vault.Errorf(vault.ENOTFOUND, "Segment not found.")

// Segments returns the tenant's saved segments ordered by name, byte-wise;
// none is no error. It returns EINVALID for an empty tenant.
func (db *DB) Segments(ctx context.Context, tenantID string) ([]*vault.SavedSegment, error) {
	const op = "sqlite.Segments"
	if tenantID == "" {
		return nil, invalid(op, "Tenant id is required.")
	}
	rows, err := db.r.QueryContext(ctx, qSegments, tenantID)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var gs []*vault.SavedSegment
	for rows.Next() {
		g := &vault.SavedSegment{TenantID: tenantID}
		var createdAt int64
		if err := rows.Scan(&g.Name, &g.Filter, &g.OwnerID, &createdAt); err != nil {
			return nil, fail(ctx, op, err)
		}
		g.CreatedAt = fromMicro(createdAt)
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	return gs, nil
}

// DeleteSegment deletes a saved segment and appends e, unsequenced, in one
// transaction. A zero e.Time is set to the store's clock. It returns
// EINVALID for an empty tenant or name or an entry the audit log could not
// encode, and ENOTFOUND if the tenant has no segment of that name.
func (db *DB) DeleteSegment(ctx context.Context, tenantID, name string, e *vault.AuditEntry) error {
	const op = "sqlite.DeleteSegment"
	if tenantID == "" || name == "" {
		return invalid(op, "Segment tenant and name are required.")
	}
	if err := checkEntry(op, e, db.now()); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *wtx) error {
		res, err := tx.execSQL(`DELETE FROM segments WHERE tenant_id = ? AND name = ?`, tenantID, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errNoSegment
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	return nil
}
