package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/vault"
)

var _ vault.RequestStore = (*DB)(nil)

// requestColumns are the columns of data_requests scanRequest reads, in
// order: all but the tenant.
const requestColumns = `id, type, subject_id, channel, received_at, identity, identity_method, state, reason,
	due_at, extension_months, extension_reason, assignee_id, created_by, updated_at, completed_at, version`

// Statements on requests. The listing names every filter member: an unset
// one (empty, false, NULL) selects nothing out, and LIMIT NULL is none.
const (
	insertRequestSQL = `INSERT INTO data_requests (tenant_id, ` + requestColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`
	updateRequestSQL = `UPDATE data_requests SET type = $3, subject_id = $4, channel = $5, received_at = $6,
			identity = $7, identity_method = $8, state = $9, reason = $10, due_at = $11, extension_months = $12,
			extension_reason = $13, assignee_id = $14, created_by = $15, updated_at = $16, completed_at = $17,
			version = $18
		WHERE tenant_id = $1 AND id = $2`
	lockRequestSQL = `SELECT version FROM data_requests WHERE tenant_id = $1 AND id = $2 FOR UPDATE`
	requestsSQL    = `SELECT ` + requestColumns + ` FROM data_requests
		WHERE tenant_id = $1
			AND ($2::text = '' OR state = $2)
			AND ($3::text = '' OR subject_id = $3)
			AND (NOT $4::boolean OR state NOT IN ('completed', 'rejected'))
			AND ($5::timestamptz IS NULL OR due_at < $5)
		ORDER BY due_at, id
		LIMIT $6`
)

var (
	errNoRequest = vault.Errorf(vault.ENOTFOUND, "Request not found.")
	errNoCode    = vault.Errorf(vault.ENOTFOUND, "Verification code not found.")
	errCodeRace  = vault.Errorf(vault.ECONFLICT, "The verification code was used or tried meanwhile.")
	errNoContact = vault.Errorf(vault.ENOTFOUND, "Contact not found.")
)

// CreateRequest stores r and appends e, unsequenced, in one transaction,
// in one round trip. A zero r.UpdatedAt is set to the store's time. It
// returns EINVALID for a request without tenant, id or subject, of an
// unknown type or state, with a zero ReceivedAt or DueAt or an extension
// outside 0 to 2 months, or a nil or invalid entry; ECONFLICT if the
// tenant has a request with r's id, or r is open and the tenant has an
// open request of its type about its subject (data_requests_open).
func (db *DB) CreateRequest(ctx context.Context, r *vault.DataRequest, e *vault.AuditEntry) error {
	const op = "postgres.CreateRequest"
	if err := checkRequest(r); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = db.now()
	}
	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer t.rollback()
	t.queue(insertRequestSQL, requestArgs(r)...)
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	return nil
}

// DataRequest returns one request: ENOTFOUND if the tenant has none with
// that id, EINVALID for an empty tenant or id.
func (db *DB) DataRequest(ctx context.Context, tenantID, id string) (*vault.DataRequest, error) {
	const op = "postgres.DataRequest"
	if tenantID == "" || id == "" {
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Tenant and request id are required."))
	}
	r, err := scanRequest(tenantID, db.pool.QueryRow(ctx, `SELECT `+requestColumns+` FROM data_requests
		WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", op, errNoRequest)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	return r, nil
}

// DataRequests returns the tenant's requests that f selects, those due
// first (DueAt, then id byte-wise), at most f.Limit of them (0: all), in
// one query on data_requests_due; none is no error. DueBefore is compared
// to the nanosecond. It returns EINVALID for an empty tenant or a
// negative limit.
func (db *DB) DataRequests(ctx context.Context, f vault.RequestFilter) ([]*vault.DataRequest, error) {
	const op = "postgres.DataRequests"
	switch {
	case f.TenantID == "":
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Tenant id is required."))
	case f.Limit < 0:
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Limit must not be negative."))
	}
	// Stored times are whole microseconds: due_at < DueBefore holds
	// exactly when due_at < DueBefore rounded up. A bound beyond the
	// range of stored times is no bound, or selects nothing.
	var before *time.Time
	switch {
	case f.DueBefore.IsZero() || f.DueBefore.After(maxTimestamp):
	case !f.DueBefore.After(minTimestamp):
		return nil, nil
	default:
		b := ceilMicro(f.DueBefore)
		before = &b
	}
	var limit *int64
	if f.Limit > 0 {
		n := int64(f.Limit)
		limit = &n
	}
	rows, err := db.pool.Query(ctx, requestsSQL, f.TenantID, f.State, f.SubjectID, f.Open, before, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer rows.Close()
	var rs []*vault.DataRequest
	for rows.Next() {
		r, err := scanRequest(f.TenantID, rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, mapError(err))
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	return rs, nil
}

// UpdateRequest replaces everything of the stored request but its tenant
// and id with r, and appends e, in one transaction of two round trips: the
// first locks the row and reads its version. A zero r.UpdatedAt is set to
// the store's time. It returns ENOTFOUND if the request is absent,
// ECONFLICT if its stored version is not r.Version-1 or r is open and the
// tenant has another open request of its type about its subject, and
// EINVALID as CreateRequest.
func (db *DB) UpdateRequest(ctx context.Context, r *vault.DataRequest, e *vault.AuditEntry) error {
	const op = "postgres.UpdateRequest"
	if err := checkRequest(r); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = db.now()
	}
	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer t.rollback()
	version := lockRequest(t, r)
	if err := t.flush(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	if err := checkVersion(*version, r); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	t.queue(updateRequestSQL, requestArgs(r)...)
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	return nil
}

// PutVerificationCode stores c, replacing the request's code, all of it
// (attempts and use included), in one statement. It appends no audit
// entry. It returns ENOTFOUND if the tenant has no such request, and
// EINVALID for a nil code, an empty tenant, request or hash, a zero
// ExpiresAt or negative Attempts.
func (db *DB) PutVerificationCode(ctx context.Context, c *vault.VerificationCode) error {
	const op = "postgres.PutVerificationCode"
	if err := checkCode(c); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(c.Hash) == 0 || c.ExpiresAt.IsZero() {
		return fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Code hash and expiry are required."))
	}
	ct, err := db.pool.Exec(ctx, `INSERT INTO verification_codes (tenant_id, request_id, hash, expires_at, attempts, used_at)
		SELECT tenant_id, id, $3, $4, $5, $6 FROM data_requests WHERE tenant_id = $1 AND id = $2
		ON CONFLICT (tenant_id, request_id) DO UPDATE SET hash = EXCLUDED.hash, expires_at = EXCLUDED.expires_at,
			attempts = EXCLUDED.attempts, used_at = EXCLUDED.used_at`,
		c.TenantID, c.RequestID, c.Hash, c.ExpiresAt, c.Attempts, nullTime(c.UsedAt))
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	if ct.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", op, errNoRequest)
	}
	return nil
}

// VerificationCode returns a request's code: ENOTFOUND if the request has
// none, EINVALID for an empty tenant or request.
func (db *DB) VerificationCode(ctx context.Context, tenantID, requestID string) (*vault.VerificationCode, error) {
	const op = "postgres.VerificationCode"
	if tenantID == "" || requestID == "" {
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Tenant and request id are required."))
	}
	c := &vault.VerificationCode{TenantID: tenantID, RequestID: requestID}
	var usedAt *time.Time
	err := db.pool.QueryRow(ctx, `SELECT hash, expires_at, attempts, used_at FROM verification_codes
		WHERE tenant_id = $1 AND request_id = $2`, tenantID, requestID).Scan(&c.Hash, &c.ExpiresAt, &c.Attempts, &usedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", op, errNoCode)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	c.ExpiresAt = c.ExpiresAt.UTC()
	if usedAt != nil {
		c.UsedAt = usedAt.UTC()
	}
	return c, nil
}

// UpdateVerificationCode records one attempt: it stores c's Attempts and
// UsedAt and appends e in one transaction of two round trips, the entry
// queued once the update is known to apply. It returns ENOTFOUND if the
// request has no code, ECONFLICT unless the stored code is unused with
// Attempts c.Attempts-1, and EINVALID for a nil code, an empty tenant or
// request, negative Attempts or a nil or invalid entry.
func (db *DB) UpdateVerificationCode(ctx context.Context, c *vault.VerificationCode, e *vault.AuditEntry) error {
	const op = "postgres.UpdateVerificationCode"
	if err := checkCode(c); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer t.rollback()
	// The row is locked first: concurrent attempts take turns, and each
	// must follow the one before (see vault.RequestStore).
	t.queue(`SELECT attempts, used_at IS NULL FROM verification_codes WHERE tenant_id = $1 AND request_id = $2 FOR UPDATE`,
		c.TenantID, c.RequestID).QueryRow(func(row pgx.Row) error {
		var attempts int
		var unused bool
		if err := row.Scan(&attempts, &unused); errors.Is(err, pgx.ErrNoRows) {
			return errNoCode
		} else if err != nil {
			return err
		}
		if attempts != c.Attempts-1 || !unused {
			return errCodeRace
		}
		return nil
	})
	t.queue(`UPDATE verification_codes SET attempts = $3, used_at = $4 WHERE tenant_id = $1 AND request_id = $2`,
		c.TenantID, c.RequestID, c.Attempts, nullTime(c.UsedAt))
	if err := t.flush(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	return nil
}

// EraseSubject erases the contact r.SubjectID of r's tenant as
// EraseContact does (the record with its wrapped key, its lookups and its
// row of contact_segments), adds the suppressions s not listed yet,
// replaces the request as UpdateRequest does and appends e, all in one
// transaction of two round trips: the first locks the request, reads its
// version and deletes the contact, the second does the rest and commits.
// Zero times (r.UpdatedAt, a suppression's CreatedAt) are set to the
// store's time. It returns ENOTFOUND if the request or the contact is
// absent, ECONFLICT if the request's stored version is not r.Version-1,
// and EINVALID as UpdateRequest or for a nil suppression, one without
// field or token or of another tenant than r's.
func (db *DB) EraseSubject(ctx context.Context, r *vault.DataRequest, s []*vault.Suppression, e *vault.AuditEntry) error {
	const op = "postgres.EraseSubject"
	if err := checkRequest(r); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	for i, x := range s {
		switch {
		case x == nil:
			return fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Suppression %d is nil.", i))
		case x.Field == "" || len(x.Token) == 0:
			return fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Suppression %d needs a field and a token.", i))
		case x.TenantID != r.TenantID:
			return fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Suppression %d is of another tenant than the request.", i))
		}
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !vault.ValidID(r.SubjectID) {
		return fmt.Errorf("%s: %w", op, errNoContact)
	}
	now := db.now()
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}

	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	defer t.rollback()

	version := lockRequest(t, r)
	var old []vault.Lookup
	t.queue(`DELETE FROM contacts WHERE tenant_id = $1 AND id = $2
		RETURNING lookup_fields, lookup_tokens, lookup_unique`,
		r.TenantID, r.SubjectID).QueryRow(func(row pgx.Row) error {
		var fields []string
		var tokens [][]byte
		var unique []bool
		if err := row.Scan(&fields, &tokens, &unique); errors.Is(err, pgx.ErrNoRows) {
			return errNoContact
		} else if err != nil {
			return err
		}
		old = joinLookups(fields, tokens, unique)
		return nil
	})
	if err := t.flush(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	if err := checkVersion(*version, r); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}

	deleteLookups(t, r.TenantID, r.SubjectID, old)
	deleteSegment(t, r.TenantID, r.SubjectID)
	if len(s) > 0 {
		fields, tokens, requests, times := make([]string, len(s)), make(byteaArray, len(s)), make([]string, len(s)), make([]time.Time, len(s))
		for i, x := range s {
			fields[i], tokens[i], requests[i], times[i] = x.Field, x.Token, x.RequestID, x.CreatedAt
			if times[i].IsZero() {
				times[i] = now
			}
		}
		t.queue(`INSERT INTO suppressions (tenant_id, field, token, request_id, created_at)
			SELECT $1::text, u.field, u.token, u.request_id, u.created_at
			FROM unnest($2::text[], $3::bytea[], $4::text[], $5::timestamptz[]) AS u (field, token, request_id, created_at)
			ON CONFLICT (tenant_id, field, token) DO NOTHING`,
			r.TenantID, fields, tokens, requests, times)
	}
	t.queue(updateRequestSQL, requestArgs(r)...)
	db.appendAudit(t, e)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, mapError(err))
	}
	return nil
}

// Suppressed returns the tokens of the list that are on the tenant's
// suppression list for field, exact bytes, in the order given, each once,
// with one query; none (and no error) for none. It returns EINVALID for an
// empty tenant, field or token.
func (db *DB) Suppressed(ctx context.Context, tenantID, field string, tokens [][]byte) ([][]byte, error) {
	const op = "postgres.Suppressed"
	if tenantID == "" || field == "" {
		return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Tenant and field are required."))
	}
	for _, tok := range tokens {
		if len(tok) == 0 {
			return nil, fmt.Errorf("%s: %w", op, vault.Errorf(vault.EINVALID, "Tokens must not be empty."))
		}
	}
	if len(tokens) == 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT token FROM suppressions
		WHERE tenant_id = $1 AND field = $2 AND token = ANY ($3::bytea[])`, tenantID, field, byteaArray(tokens))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapError(err))
	}
	listed := make(map[string]bool, len(found))
	for _, tok := range found {
		listed[string(tok)] = true
	}
	var out [][]byte
	for _, tok := range tokens {
		if listed[string(tok)] {
			delete(listed, string(tok))
			out = append(out, slices.Clone(tok))
		}
	}
	return out, nil
}

// lockRequest queues the read of a request's version, its row locked
// until the transaction ends; the version is set during the flush, which
// fails with ENOTFOUND if there is no such request.
func lockRequest(t *tx, r *vault.DataRequest) *int64 {
	version := new(int64)
	t.queue(lockRequestSQL, r.TenantID, r.ID).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(version); errors.Is(err, pgx.ErrNoRows) {
			return errNoRequest
		} else if err != nil {
			return err
		}
		return nil
	})
	return version
}

// checkVersion returns ECONFLICT unless r follows the stored version.
func checkVersion(stored int64, r *vault.DataRequest) error {
	if stored != r.Version-1 {
		return vault.Errorf(vault.ECONFLICT, "The request was changed by another request.")
	}
	return nil
}

// requestArgs returns the values of r for the tenant and requestColumns.
func requestArgs(r *vault.DataRequest) []any {
	return []any{r.TenantID, r.ID, r.Type, r.SubjectID, r.Channel, r.ReceivedAt, r.Identity, r.IdentityMethod, r.State,
		r.Reason, r.DueAt, r.ExtensionMonths, r.ExtensionReason, r.AssigneeID, r.CreatedBy, r.UpdatedAt,
		nullTime(r.CompletedAt), r.Version}
}

// scanRequest reads requestColumns into a request of the tenant.
func scanRequest(tenantID string, row pgx.Row) (*vault.DataRequest, error) {
	r := &vault.DataRequest{TenantID: tenantID}
	var completedAt *time.Time
	if err := row.Scan(&r.ID, &r.Type, &r.SubjectID, &r.Channel, &r.ReceivedAt, &r.Identity, &r.IdentityMethod,
		&r.State, &r.Reason, &r.DueAt, &r.ExtensionMonths, &r.ExtensionReason, &r.AssigneeID, &r.CreatedBy,
		&r.UpdatedAt, &completedAt, &r.Version); err != nil {
		return nil, err
	}
	r.ReceivedAt, r.DueAt, r.UpdatedAt = r.ReceivedAt.UTC(), r.DueAt.UTC(), r.UpdatedAt.UTC()
	if completedAt != nil {
		r.CompletedAt = completedAt.UTC()
	}
	return r, nil
}

// requestStates are the states a request may be in.
var requestStates = []string{vault.StateReceived, vault.StateVerified, vault.StateInProgress, vault.StateCompleted, vault.StateRejected}

// checkRequest returns EINVALID unless r can be stored: ids, a known type
// and state, the times a deadline needs, an extension of 0 to 2 months.
func checkRequest(r *vault.DataRequest) error {
	switch {
	case r == nil:
		return vault.Errorf(vault.EINVALID, "A request is required.")
	case r.TenantID == "" || r.ID == "" || r.SubjectID == "":
		return vault.Errorf(vault.EINVALID, "Request tenant, id and subject are required.")
	case !slices.Contains(vault.RequestTypes, r.Type):
		return vault.Errorf(vault.EINVALID, "Unknown request type.")
	case !slices.Contains(requestStates, r.State):
		return vault.Errorf(vault.EINVALID, "Unknown request state.")
	case r.ReceivedAt.IsZero() || r.DueAt.IsZero():
		return vault.Errorf(vault.EINVALID, "Request receipt and due times are required.")
	case r.ExtensionMonths < 0 || r.ExtensionMonths > 2:
		return vault.Errorf(vault.EINVALID, "A request is extended by 0 to 2 months.")
	}
	return nil
}

// checkCode returns EINVALID unless c names a request and its attempts
// are not negative.
func checkCode(c *vault.VerificationCode) error {
	switch {
	case c == nil:
		return vault.Errorf(vault.EINVALID, "A verification code is required.")
	case c.TenantID == "" || c.RequestID == "":
		return vault.Errorf(vault.EINVALID, "Code tenant and request id are required.")
	case c.Attempts < 0:
		return vault.Errorf(vault.EINVALID, "Code attempts must not be negative.")
	}
	return nil
}
