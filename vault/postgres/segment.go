package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffre/coffre/vault"
)

var _ vault.SegmentStore = (*DB)(nil)

// A segment query runs on contact_segments (see migration 003), the narrow
// copy of each contact's tokens, flags and times, and reads the contacts
// table only for the records of a page. A vault.Cond becomes a boolean
// SQL expression over the row s of contact_segments, every value a
// parameter:
//
//	True, False       TRUE, FALSE
//	And, Or           (a AND b …), (a OR b …); TRUE and FALSE when empty
//	Not               (NOT a)
//	Tokens            s.tokens && $n::bigint[], the keys of the tokens
//	                  (segmentKey); FALSE for an empty list
//	Flag              s.restricted, NOT s.restricted (objected alike)
//	Time              s.created_at >= $n AND s.created_at < $m, a zero
//	                  bound left out (updated_at alike)
//
// The queries are sent as unnamed statements (pgx.QueryExecModeExec for
// a count, in one round trip; pgx.QueryExecModeDescribeExec for a
// listing, whose records then come back in the binary format): PostgreSQL
// plans each with its parameter values, so that the GIN index's
// statistics weigh the tokens asked for, where a cached generic plan
// would guess.

// Limits of a condition: deeper or larger ones are EINVALID, before they
// reach the server's stack or its limit of 65,535 parameters.
const (
	maxCondDepth = 64
	maxCondNodes = 10000
)

// listWalk is how many rows of the tenant, in id order, a listing checks
// before it turns to the indexes: when fewer than a page of them match,
// matches are rare (or rare there), and finding all those that follow
// through the GIN index and sorting them costs less than walking on. It
// is at least listWalkPages pages' worth. Over a million contacts, a walk
// checks about two rows a microsecond, and the index path costs 20 to 80
// ms, about what a count costs: 40,000 rows find a page of a filter that
// matches one contact in 800, such as five conditions, in some 15 ms.
//
// The walk starts with a probe of the first listProbe rows of it: when
// not one of them matches, the filter is rare there (one in 4,000 or
// less, or its matches lie elsewhere in id order, as with "created in the
// last year" over records walked oldest first), the rest of the walk
// would most likely come back short too, and the listing turns to the
// indexes at once instead of walking 36,000 more rows for nothing.
const (
	listWalk       = 40000
	listWalkPages  = 100
	listProbe      = 4000
	listProbePages = 10
)

// CountContacts counts the tenant's records that c matches, in one query.
// It returns EINVALID for an empty tenant or a condition the store cannot
// express: nil, CondConsent, an unknown op, flag or column, a Not without
// exactly one child, an empty token, or one deeper than 64 levels or
// larger than 10,000 nodes. It is safe for concurrent use.
func (db *DB) CountContacts(ctx context.Context, tenantID string, c *vault.Cond) (int64, error) {
	const op = "postgres.CountContacts"
	if tenantID == "" {
		return 0, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Tenant id is required."))
	}
	query, args, err := countSQL(c, tenantID)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	var n int64
	if err := db.pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", op, mapError(err))
	}
	return n, nil
}

// countSQL returns the count query of c. A conjunction holding one negated
// token condition, rest AND NOT x, is counted as count(rest) − count(rest
// AND x), in one statement (one snapshot): the GIN index cannot find the
// rows that lack a token, but it finds those that have it, and the
// partial index of open records counts the rest without reading the
// table.
func countSQL(c *vault.Cond, tenantID string) (string, []any, error) {
	rest, x, ok := splitNegation(c)
	if !ok {
		cond, args, err := buildCond(pgx.QueryExecModeExec, c, tenantID)
		if err != nil {
			return "", nil, err
		}
		return countQuery(cond), args, nil
	}
	q := condSQL{args: []any{pgx.QueryExecModeExec, tenantID}}
	if err := q.cond(rest, 0); err != nil {
		return "", nil, err
	}
	restSQL := q.b.String()
	q.b.Reset()
	if err := q.cond(x, 0); err != nil {
		return "", nil, err
	}
	return `SELECT (` + countQuery(restSQL) + `) - (` + countQuery(restSQL+` AND `+q.b.String()) + `)`, q.args, nil
}

// splitNegation finds, in a conjunction (nested ones flattened) or on its
// own, exactly one negated token condition: c is then rest AND NOT x. rest
// is True when nothing else is left.
func splitNegation(c *vault.Cond) (rest, x *vault.Cond, ok bool) {
	if c == nil {
		return nil, nil, false
	}
	var terms []*vault.Cond
	var flatten func(c *vault.Cond)
	flatten = func(c *vault.Cond) {
		if c != nil && c.Op == vault.CondAnd {
			for _, ch := range c.Children {
				flatten(ch)
			}
			return
		}
		terms = append(terms, c)
	}
	flatten(c)
	rest = &vault.Cond{Op: vault.CondAnd}
	for _, t := range terms {
		if x == nil && t != nil && t.Op == vault.CondNot && len(t.Children) == 1 && t.Children[0] != nil &&
			t.Children[0].Op == vault.CondTokens && len(t.Children[0].Tokens) > 0 {
			x = t.Children[0]
			continue
		}
		rest.Children = append(rest.Children, t)
	}
	if x == nil {
		return nil, nil, false
	}
	if len(rest.Children) == 0 {
		rest = &vault.Cond{Op: vault.CondTrue}
	}
	return rest, x, true
}

// ListContacts returns at most limit records of the tenant that c
// matches, in id order, after the id afterID ("" for the first page). It
// returns EINVALID for an empty tenant, a limit below 1, an afterID that
// is neither empty nor a canonical UUID, or a condition CountContacts
// refuses. It is safe for concurrent use.
//
// It walks the tenant's rows in id order, which finds a page at once
// when matches are common; when the first listWalk rows hold less than a
// page, or the tenant's rows run out, it looks up the matches after the
// last record found through the indexes and sorts them (see listWalk).
// The two statements may see different snapshots: a record written in
// between may be missed or seen, as a page is not a snapshot of the
// segment anyway.
func (db *DB) ListContacts(ctx context.Context, tenantID string, c *vault.Cond, afterID string, limit int) ([]*vault.Record, error) {
	const op = "postgres.ListContacts"
	switch {
	case tenantID == "":
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Tenant id is required."))
	case limit < 1:
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Limit must be at least 1."))
	case afterID != "" && !vault.ValidID(afterID):
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "The contact id to list after is not a contact id."))
	}
	walk := max(listWalk, listWalkPages*limit)
	probe := min(walk, max(listProbe, listProbePages*limit))
	if db.listWalk > 0 {
		walk, probe = db.listWalk, max(1, db.listWalk/3)
	}

	// The walk: the records of the matching rows among the tenant's next
	// rows in id order, first the probe, then, if the probe found some
	// but not a page, the rest of the walk after the last one found.
	rs, err := db.walk(ctx, tenantID, c, afterID, probe, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(rs) > 0 && len(rs) < limit && probe < walk {
		more, err := db.walk(ctx, tenantID, c, rs[len(rs)-1].ID, walk-probe, limit-len(rs))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		rs = append(rs, more...)
	}
	if len(rs) == limit {
		return rs, nil
	}

	// Matches are rare in the rows walked, or the tenant's rows ran out:
	// find the matches after the last record found, or after afterID,
	// through the indexes, all of them (MATERIALIZED keeps the planner
	// from walking on in id order), and keep the first. Where few rows
	// are left, the planner reads them by id instead. The parameters are
	// the tenant, the number of records missing, the id to start after
	// if any, then the condition's.
	fixed := []any{tenantID, limit - len(rs)}
	if len(rs) > 0 {
		fixed = append(fixed, rs[len(rs)-1].ID)
	} else if afterID != "" {
		fixed = append(fixed, afterID)
	}
	cond, args, err := buildCond(pgx.QueryExecModeDescribeExec, c, fixed...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	more, err := db.listQuery(ctx, tenantID, restQuery(cond, len(fixed) == 3), args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return append(rs, more...), nil
}

// walk returns the records of c's matches among the tenant's next n rows
// in id order after afterID ("" for the first), at most limit of them.
// The parameters of walkQuery are the tenant, n, the limit, afterID if
// any, then the condition's.
func (db *DB) walk(ctx context.Context, tenantID string, c *vault.Cond, afterID string, n, limit int) ([]*vault.Record, error) {
	fixed := []any{tenantID, n, limit}
	if afterID != "" {
		fixed = append(fixed, afterID)
	}
	cond, args, err := buildCond(pgx.QueryExecModeDescribeExec, c, fixed...)
	if err != nil {
		return nil, err
	}
	return db.listQuery(ctx, tenantID, walkQuery(cond, afterID != ""), args)
}

// listQuery runs a query of ListContacts, whose rows are contactColumns
// and the id, and returns the records.
func (db *DB) listQuery(ctx context.Context, tenantID, sql string, args []any) ([]*vault.Record, error) {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	var rs []*vault.Record
	for rows.Next() {
		r := &vault.Record{TenantID: tenantID}
		if err := scanRecord(rows, r, &r.ID); err != nil {
			return nil, mapError(err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(err)
	}
	return rs, nil
}

// countQuery returns the query of CountContacts, given the condition's
// expression. Its parameters are the tenant, then the condition's.
func countQuery(cond string) string {
	return `SELECT count(*) FROM contact_segments s WHERE s.tenant_id = $1 AND ` + cond
}

// walkQuery returns the first query of ListContacts, given the
// condition's expression: the records of the rows that match among the
// tenant's next rows in id order. Its parameters are the tenant, the
// walk's length, the limit, afterID if after is set, then the
// condition's.
func walkQuery(cond string, after bool) string {
	afterID := ""
	if after {
		afterID = `AND s.id > $4::uuid`
	}
	// The hits are limited before the join, so that the planner, knowing
	// at most $3 rows come out, fetches their records one by one through
	// the primary key; joined before the limit, it merged the whole walk
	// with the contacts in id order, reading every record walked.
	return `
		SELECT c.id, ` + prefixed("c.", contactColumns) + `
		FROM (
			SELECT w.id FROM (
				SELECT s.id, ` + cond + ` AS hit
				FROM contact_segments s
				WHERE s.tenant_id = $1 ` + afterID + `
				ORDER BY s.id
				LIMIT $2
			) w
			WHERE w.hit
			ORDER BY w.id
			LIMIT $3
		) h
		JOIN contacts c ON c.tenant_id = $1 AND c.id = h.id
		ORDER BY h.id`
}

// restQuery returns the second query of ListContacts, given the
// condition's expression: the first records that match, after an id if
// after is set, found through the indexes. Its parameters are the
// tenant, the number of records, the id if after is set, then the
// condition's.
func restQuery(cond string, after bool) string {
	afterID := ""
	if after {
		afterID = `AND s.id > $3::uuid`
	}
	return `
		WITH m AS MATERIALIZED (
			SELECT s.id FROM contact_segments s
			WHERE s.tenant_id = $1 ` + afterID + ` AND ` + cond + `
		)
		SELECT c.id, ` + prefixed("c.", contactColumns) + `
		FROM (SELECT id FROM m ORDER BY id LIMIT $2) x
		JOIN contacts c ON c.tenant_id = $1 AND c.id = x.id
		ORDER BY c.id`
}

// prefixed qualifies each of a comma-separated list of columns.
func prefixed(prefix, columns string) string {
	cs := strings.Split(columns, ",")
	for i, c := range cs {
		cs[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cs, ", ")
}

// segmentKey returns the key contact_segments.tokens holds for a
// segmentation token: the first 8 bytes of its SHA-256, big-endian, as a
// signed integer (see migration 003).
func segmentKey(token []byte) int64 {
	h := sha256.Sum256(token)
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// segmentKeys returns the keys of tokens, sorted, without repeats, never
// nil.
func segmentKeys(tokens [][]byte) []int64 {
	keys := make([]int64, len(tokens))
	for i, t := range tokens {
		keys[i] = segmentKey(t)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// segmentValues returns the contact_segments row of r, in the order of
// segmentColumns.
func segmentValues(r *vault.Record) []any {
	return []any{r.TenantID, r.ID, r.CreatedAt, r.UpdatedAt, r.Flags.Restricted, r.Flags.Objected, segmentKeys(r.Tokens)}
}

// segmentColumns are the columns of contact_segments.
var segmentColumns = []string{"tenant_id", "id", "created_at", "updated_at", "restricted", "objected", "tokens"}

// updateSegment queues the update of r's contact_segments row, from the
// contacts row just updated, but for the tokens: all but the creation
// time, which never changes. A missing row is inserted: the table is
// rebuilt from contacts wherever it could have disagreed (a check of the
// rows changed could not stop the transaction, whose COMMIT travels in
// the same batch).
func updateSegment(t *tx, r *vault.Record) {
	t.queue(`INSERT INTO contact_segments (tenant_id, id, created_at, updated_at, restricted, objected, tokens)
		SELECT tenant_id, id, created_at, updated_at, restricted, objected, $3
		FROM contacts WHERE tenant_id = $1 AND id = $2
		ON CONFLICT (tenant_id, id) DO UPDATE SET updated_at = EXCLUDED.updated_at,
			restricted = EXCLUDED.restricted, objected = EXCLUDED.objected, tokens = EXCLUDED.tokens`,
		r.TenantID, r.ID, segmentKeys(r.Tokens))
}

// deleteSegment queues the delete of a contact's contact_segments row.
func deleteSegment(t *tx, tenantID, id string) {
	t.queue(`DELETE FROM contact_segments WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// buildCond returns the SQL expression of c over the row s of
// contact_segments, and the arguments of a query whose parameters are
// fixed then the expression's, preceded by mode, which must send the
// query as an unnamed statement.
func buildCond(mode pgx.QueryExecMode, c *vault.Cond, fixed ...any) (string, []any, error) {
	q := condSQL{args: append([]any{mode}, fixed...)}
	if err := q.cond(c, 0); err != nil {
		return "", nil, err
	}
	return q.b.String(), q.args, nil
}

// condSQL builds the SQL expression of a vault.Cond and its parameters;
// args[0] is the query's mode, not a parameter.
type condSQL struct {
	b     strings.Builder
	args  []any
	nodes int
}

// param adds a parameter and returns its placeholder.
func (q *condSQL) param(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args)-1)
}

var errCond = vault.Errorf(vault.EINVALID, "The segment condition cannot be evaluated by the store.")

// cond writes the expression of c, at the given depth.
func (q *condSQL) cond(c *vault.Cond, depth int) error {
	if c == nil {
		return errCond
	}
	q.nodes++
	if depth > maxCondDepth || q.nodes > maxCondNodes {
		return vault.Errorf(vault.EINVALID, "The segment condition is too large.")
	}
	switch c.Op {
	case vault.CondTrue:
		q.b.WriteString("TRUE")
	case vault.CondFalse:
		q.b.WriteString("FALSE")
	case vault.CondAnd, vault.CondOr:
		if len(c.Children) == 0 {
			q.b.WriteString(map[vault.CondOp]string{vault.CondAnd: "TRUE", vault.CondOr: "FALSE"}[c.Op])
			return nil
		}
		sep := map[vault.CondOp]string{vault.CondAnd: " AND ", vault.CondOr: " OR "}[c.Op]
		q.b.WriteByte('(')
		for i, ch := range c.Children {
			if i > 0 {
				q.b.WriteString(sep)
			}
			if err := q.cond(ch, depth+1); err != nil {
				return err
			}
		}
		q.b.WriteByte(')')
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
		for _, t := range c.Tokens {
			if len(t) == 0 {
				return errCond
			}
		}
		if len(c.Tokens) == 0 {
			q.b.WriteString("FALSE")
			return nil
		}
		q.b.WriteString("s.tokens && " + q.param(segmentKeys(c.Tokens)) + "::bigint[]")
	case vault.CondFlag:
		switch c.Flag {
		case vault.FlagRestricted, vault.FlagObjected:
		default:
			return errCond
		}
		if !c.Value {
			q.b.WriteString("NOT ")
		}
		q.b.WriteString("s." + c.Flag)
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

// The range of timestamptz: a stored time is within it.
var (
	minTimestamp = time.Date(-4713, time.November, 24, 0, 0, 0, 0, time.UTC)
	maxTimestamp = time.Date(294276, time.December, 31, 23, 59, 59, 999999000, time.UTC)
)

// time writes the range of a CondTime. Stored times are whole
// microseconds, so a bound with a fraction is rounded up: t >= From holds
// exactly when t >= From rounded up, and t < Until when t < Until rounded
// up. A bound beyond the range of stored times is open or empty.
func (q *condSQL) time(c *vault.Cond) {
	col := "s." + c.Column
	from, until := c.From, c.Until
	switch {
	case !from.IsZero() && from.After(maxTimestamp), !until.IsZero() && !until.After(minTimestamp):
		q.b.WriteString("FALSE")
		return
	}
	var parts []string
	if !from.IsZero() && from.After(minTimestamp) {
		parts = append(parts, col+" >= "+q.param(ceilMicro(from))+"::timestamptz")
	}
	if !until.IsZero() && !until.After(maxTimestamp) {
		parts = append(parts, col+" < "+q.param(ceilMicro(until))+"::timestamptz")
	}
	if len(parts) == 0 {
		q.b.WriteString("TRUE")
		return
	}
	q.b.WriteString("(" + strings.Join(parts, " AND ") + ")")
}

// ceilMicro rounds t up to the microsecond, in UTC.
func ceilMicro(t time.Time) time.Time {
	t = t.UTC()
	if d := t.Truncate(time.Microsecond); !d.Equal(t) {
		return d.Add(time.Microsecond)
	}
	return t
}

// SaveSegment stores a named segment and appends e, unsequenced, in one
// transaction, in one round trip. A zero g.CreatedAt is set to the
// store's time. It returns EINVALID for a nil segment, an empty tenant or
// name, or a nil or invalid entry, and ECONFLICT if the tenant has a
// segment of that name.
func (db *DB) SaveSegment(ctx context.Context, g *vault.SavedSegment, e *vault.AuditEntry) error {
	const op = "postgres.SaveSegment"
	if g == nil || g.TenantID == "" || g.Name == "" {
		return fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Segment tenant and name are required."))
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = db.now()
	}
	filter := g.Filter
	if filter == nil {
		filter = []byte{}
	}
	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer t.rollback()
	t.queue(`INSERT INTO segments (tenant_id, name, filter, owner_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
		g.TenantID, g.Name, filter, g.OwnerID, g.CreatedAt)
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	return nil
}

// Segment returns a saved segment: ENOTFOUND if the tenant has none of
// that name, EINVALID for an empty tenant or name.
func (db *DB) Segment(ctx context.Context, tenantID, name string) (*vault.SavedSegment, error) {
	const op = "postgres.Segment"
	if tenantID == "" || name == "" {
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Segment tenant and name are required."))
	}
	g := &vault.SavedSegment{TenantID: tenantID, Name: name}
	err := db.pool.QueryRow(ctx, `SELECT filter, owner_id, created_at FROM segments WHERE tenant_id = $1 AND name = $2`,
		tenantID, name).Scan(&g.Filter, &g.OwnerID, &g.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.ENOTFOUND, "Segment not found."))
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	g.CreatedAt = g.CreatedAt.UTC()
	return g, nil
}

// Segments returns the tenant's saved segments ordered by name, byte-wise;
// none is no error. It returns EINVALID for an empty tenant.
func (db *DB) Segments(ctx context.Context, tenantID string) ([]*vault.SavedSegment, error) {
	const op = "postgres.Segments"
	if tenantID == "" {
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Tenant id is required."))
	}
	rows, err := db.pool.Query(ctx, `SELECT name, filter, owner_id, created_at FROM segments
		WHERE tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer rows.Close()
	var gs []*vault.SavedSegment
	for rows.Next() {
		g := &vault.SavedSegment{TenantID: tenantID}
		if err := rows.Scan(&g.Name, &g.Filter, &g.OwnerID, &g.CreatedAt); err != nil {
			return nil, fmt.Errorf("%s: %w", op, mapError(err))
		}
		g.CreatedAt = g.CreatedAt.UTC()
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	return gs, nil
}

// DeleteSegment deletes a saved segment and appends e, unsequenced, in one
// transaction. It returns ENOTFOUND if the tenant has no segment of that
// name, EINVALID for an empty tenant or name or a nil or invalid entry.
func (db *DB) DeleteSegment(ctx context.Context, tenantID, name string, e *vault.AuditEntry) error {
	const op = "postgres.DeleteSegment"
	if tenantID == "" || name == "" {
		return fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Segment tenant and name are required."))
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer t.rollback()
	// The delete must be known to have deleted a row before the entry is
	// queued: a batch's COMMIT would commit the entry whatever a callback
	// says.
	t.queue(`DELETE FROM segments WHERE tenant_id = $1 AND name = $2`, tenantID, name).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() == 0 {
			return vault.Errorf(vault.ENOTFOUND, "Segment not found.")
		}
		return nil
	})
	if err := t.flush(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	return nil
}
