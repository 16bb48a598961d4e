package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

var _ vault.RequestStore = (*DB)(nil)

// requestColumns are the columns of data_requests scanRequest reads, in
// order: all but the tenant.
const requestColumns = `id, type, subject_id, channel, received_at, identity, identity_method, state, reason,
	due_at, extension_months, extension_reason, assignee_id, created_by, updated_at, completed_at, version`

// Statements on requests, codes and suppressions. DataRequests names every
// filter member: an unset one (empty, false, NULL) selects nothing out.
const (
	qInsertRequest = `INSERT INTO data_requests (tenant_id, ` + requestColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdateRequest = `UPDATE data_requests SET type = ?3, subject_id = ?4, channel = ?5, received_at = ?6,
			identity = ?7, identity_method = ?8, state = ?9, reason = ?10, due_at = ?11, extension_months = ?12,
			extension_reason = ?13, assignee_id = ?14, created_by = ?15, updated_at = ?16, completed_at = ?17,
			version = ?18
		WHERE tenant_id = ?1 AND id = ?2`
	qRequestVersion = `SELECT version FROM data_requests WHERE tenant_id = ? AND id = ?`
	qRequest        = `SELECT ` + requestColumns + ` FROM data_requests WHERE tenant_id = ? AND id = ?`
	qRequests       = `SELECT ` + requestColumns + ` FROM data_requests
		WHERE tenant_id = ?1
			AND (?2 = '' OR state = ?2)
			AND (?3 = '' OR subject_id = ?3)
			AND (?4 = 0 OR state NOT IN ('completed', 'rejected'))
			AND (?5 IS NULL OR due_at < ?5)
		ORDER BY due_at, id
		LIMIT ?6`

	qPutCode = `INSERT INTO verification_codes (tenant_id, request_id, hash, expires_at, attempts, used_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, request_id) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at,
			attempts = excluded.attempts, used_at = excluded.used_at`
	qCode       = `SELECT hash, expires_at, attempts, used_at FROM verification_codes WHERE tenant_id = ? AND request_id = ?`
	qUpdateCode = `UPDATE verification_codes SET attempts = ?, used_at = ? WHERE tenant_id = ? AND request_id = ?
		AND attempts = ? AND used_at IS NULL`
	qCodeExists = `SELECT 1 FROM verification_codes WHERE tenant_id = ? AND request_id = ?`

	qInsertSuppression = `INSERT INTO suppressions (tenant_id, field, token, request_id, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, field, token) DO NOTHING`
)

// suppressedChunk is how many tokens one query of Suppressed looks up,
// well below SQLite's limit on parameters.
const suppressedChunk = 500

var (
	errNoRequest = vault.Errorf(vault.ENOTFOUND, "Request not found.")
	errNoCode    = vault.Errorf(vault.ENOTFOUND, "Verification code not found.")
	errCodeRace  = vault.Errorf(vault.ECONFLICT, "The verification code was used or tried meanwhile.")
)

// CreateRequest stores r and appends e, unsequenced, in one transaction. A
// zero r.UpdatedAt is set to the store's clock, in r too, and a zero e.Time
// too. It returns EINVALID for a request without tenant, id or subject, of
// an unknown type or state, with a zero ReceivedAt or DueAt or an
// extension outside 0 to 2 months, or an entry the audit log could not
// encode; ENOTFOUND if the tenant does not exist; ECONFLICT if the tenant
// has a request with r's id, or r is open and the tenant has an open
// request of its type about its subject.
func (db *DB) CreateRequest(ctx context.Context, r *vault.DataRequest, e *vault.AuditEntry) error {
	const op = "sqlite.CreateRequest"
	if err := validRequest(op, r); err != nil {
		return err
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	updatedAt := storedTime(orNow(r.UpdatedAt, now))
	err := db.write(ctx, func(tx *wtx) error {
		if _, err := tx.execSQL(qInsertRequest, append([]any{r.TenantID}, requestArgs(r, updatedAt)...)...); err != nil {
			return err
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	r.UpdatedAt = orNow(r.UpdatedAt, updatedAt)
	return nil
}

// DataRequest returns one request. It returns EINVALID for an empty tenant
// or id and ENOTFOUND if the tenant has no such request.
func (db *DB) DataRequest(ctx context.Context, tenantID, id string) (*vault.DataRequest, error) {
	const op = "sqlite.DataRequest"
	if tenantID == "" || id == "" {
		return nil, invalid(op, "Tenant id and request id are required.")
	}
	r, err := scanRequest(tenantID, db.r.QueryRowContext(ctx, qRequest, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(ctx, op, errNoRequest)
	} else if err != nil {
		return nil, fail(ctx, op, err)
	}
	return r, nil
}

// DataRequests returns the tenant's requests that f selects, those due
// first (DueAt, then id byte-wise), at most f.Limit of them (0: all);
// none is no error. DueBefore is compared to the nanosecond. It returns
// EINVALID for an empty tenant or a negative limit.
func (db *DB) DataRequests(ctx context.Context, f vault.RequestFilter) ([]*vault.DataRequest, error) {
	const op = "sqlite.DataRequests"
	switch {
	case f.TenantID == "":
		return nil, invalid(op, "Tenant id is required.")
	case f.Limit < 0:
		return nil, invalid(op, "Limit must not be negative.")
	}
	var before sql.NullInt64
	if !f.DueBefore.IsZero() {
		before = sql.NullInt64{Int64: ceilMicro(f.DueBefore), Valid: true}
	}
	limit := int64(f.Limit)
	if limit == 0 {
		limit = -1 // no limit
	}
	rows, err := db.r.QueryContext(ctx, qRequests, f.TenantID, f.State, f.SubjectID, boolInt(f.Open), before, limit)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var rs []*vault.DataRequest
	for rows.Next() {
		r, err := scanRequest(f.TenantID, rows)
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

// UpdateRequest replaces everything of the stored request but its tenant
// and id with r, and appends e, unsequenced, in one transaction. A zero
// r.UpdatedAt is set to the store's clock, in r too, and a zero e.Time
// too. It returns ENOTFOUND if the request is absent, ECONFLICT if its
// stored version is not r.Version-1 or r is open and the tenant has
// another open request of its type about its subject, and EINVALID as
// CreateRequest.
func (db *DB) UpdateRequest(ctx context.Context, r *vault.DataRequest, e *vault.AuditEntry) error {
	const op = "sqlite.UpdateRequest"
	if err := validRequest(op, r); err != nil {
		return err
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	updatedAt := storedTime(orNow(r.UpdatedAt, now))
	err := db.write(ctx, func(tx *wtx) error {
		if err := tx.updateRequest(r, updatedAt); err != nil {
			return err
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	r.UpdatedAt = orNow(r.UpdatedAt, updatedAt)
	return nil
}

// PutVerificationCode stores c, replacing the request's code, all of it
// (attempts and use included). It appends no audit entry. It returns
// ENOTFOUND if the tenant has no such request, and EINVALID for a nil
// code, an empty tenant, request or hash, a zero ExpiresAt or negative
// Attempts.
func (db *DB) PutVerificationCode(ctx context.Context, c *vault.VerificationCode) error {
	const op = "sqlite.PutVerificationCode"
	if err := validCode(op, c); err != nil {
		return err
	}
	if len(c.Hash) == 0 || c.ExpiresAt.IsZero() {
		return invalid(op, "Code hash and expiry are required.")
	}
	err := db.write(ctx, func(tx *wtx) error {
		if _, err := tx.requestVersion(c.TenantID, c.RequestID); err != nil {
			return err
		}
		_, err := tx.execSQL(qPutCode, c.TenantID, c.RequestID, c.Hash, toMicro(c.ExpiresAt), c.Attempts, toNullMicro(c.UsedAt))
		return err
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// VerificationCode returns a request's code. It returns EINVALID for an
// empty tenant or request and ENOTFOUND if the request has no code.
func (db *DB) VerificationCode(ctx context.Context, tenantID, requestID string) (*vault.VerificationCode, error) {
	const op = "sqlite.VerificationCode"
	if tenantID == "" || requestID == "" {
		return nil, invalid(op, "Tenant id and request id are required.")
	}
	c := &vault.VerificationCode{TenantID: tenantID, RequestID: requestID}
	var expiresAt int64
	var usedAt sql.NullInt64
	err := db.r.QueryRowContext(ctx, qCode, tenantID, requestID).Scan(&c.Hash, &expiresAt, &c.Attempts, &usedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(ctx, op, errNoCode)
	} else if err != nil {
		return nil, fail(ctx, op, err)
	}
	c.ExpiresAt, c.UsedAt = fromMicro(expiresAt), fromNullMicro(usedAt)
	return c, nil
}

// UpdateVerificationCode records one attempt: it stores c's Attempts and
// UsedAt and appends e, unsequenced, in one transaction; a zero e.Time is
// set to the store's clock. It returns ENOTFOUND if the request has no
// code, ECONFLICT unless the stored code is unused with Attempts
// c.Attempts-1 (the single writer makes the check and the write one
// step), and EINVALID
// for a nil code, an empty tenant or request, negative Attempts or an
// entry the audit log could not encode.
func (db *DB) UpdateVerificationCode(ctx context.Context, c *vault.VerificationCode, e *vault.AuditEntry) error {
	const op = "sqlite.UpdateVerificationCode"
	if err := validCode(op, c); err != nil {
		return err
	}
	if err := checkEntry(op, e, db.now()); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *wtx) error {
		res, err := tx.execSQL(qUpdateCode, c.Attempts, toNullMicro(c.UsedAt), c.TenantID, c.RequestID, c.Attempts-1)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			if err := tx.QueryRowContext(tx.ctx, qCodeExists, c.TenantID, c.RequestID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return errNoCode
			} else if err != nil {
				return err
			}
			return errCodeRace
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// EraseSubject erases the contact r.SubjectID of r's tenant as
// EraseContact does (the record with its wrapped key, its lookup entries
// and segmentation tokens), adds the suppressions s that are not listed
// yet, replaces the request as UpdateRequest does and appends e, all in
// one transaction: all or nothing. Zero times (r.UpdatedAt, in r too, a
// suppression's CreatedAt, e.Time) are set to the store's clock. It
// returns ENOTFOUND if the request or the contact is absent, ECONFLICT if
// the request's stored version is not r.Version-1, and EINVALID as
// UpdateRequest or for a nil suppression, one without field or token or
// of another tenant than r's.
func (db *DB) EraseSubject(ctx context.Context, r *vault.DataRequest, s []*vault.Suppression, e *vault.AuditEntry) error {
	const op = "sqlite.EraseSubject"
	if err := validRequest(op, r); err != nil {
		return err
	}
	if err := validSuppressions(op, r.TenantID, s); err != nil {
		return err
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	updatedAt := storedTime(orNow(r.UpdatedAt, now))
	err := db.write(ctx, func(tx *wtx) error {
		version, err := tx.requestVersion(r.TenantID, r.ID)
		if err != nil {
			return err
		}
		if version != r.Version-1 {
			return staleRequest(version, r)
		}
		key, ok := packID(r.SubjectID)
		if !ok {
			return errNoContact
		}
		if err := tx.eraseContact(r.TenantID, key); err != nil {
			return err
		}
		for _, x := range s {
			if _, err := tx.execSQL(qInsertSuppression, r.TenantID, x.Field, x.Token, x.RequestID,
				toMicro(orNow(x.CreatedAt, now))); err != nil {
				return err
			}
		}
		if err := tx.updateRequest(r, updatedAt); err != nil {
			return err
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	r.UpdatedAt = orNow(r.UpdatedAt, updatedAt)
	return nil
}

// Suppressed returns the tokens of the list that are on the tenant's
// suppression list for field, exact bytes, in the order given, each once;
// none (and no error) for none. It returns EINVALID for an empty tenant,
// field or token.
func (db *DB) Suppressed(ctx context.Context, tenantID, field string, tokens [][]byte) ([][]byte, error) {
	const op = "sqlite.Suppressed"
	if tenantID == "" || field == "" {
		return nil, invalid(op, "Tenant id and field are required.")
	}
	for _, t := range tokens {
		if len(t) == 0 {
			return nil, invalid(op, "Tokens must not be empty.")
		}
	}
	found := make(map[string]bool)
	for chunk := range slices.Chunk(tokens, suppressedChunk) {
		args := make([]any, 0, 2+len(chunk))
		args = append(args, tenantID, field)
		for _, t := range chunk {
			args = append(args, t)
		}
		q := `SELECT token FROM suppressions WHERE tenant_id = ? AND field = ? AND token IN (?` +
			strings.Repeat(", ?", len(chunk)-1) + `)`
		rows, err := db.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fail(ctx, op, err)
		}
		for rows.Next() {
			var t []byte
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return nil, fail(ctx, op, err)
			}
			found[string(t)] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fail(ctx, op, err)
		}
	}
	var out [][]byte
	for _, t := range tokens {
		if found[string(t)] {
			delete(found, string(t))
			out = append(out, slices.Clone(t))
		}
	}
	return out, nil
}

// requestVersion returns the stored version of a request; ENOTFOUND if
// there is none.
func (tx *wtx) requestVersion(tenantID, id string) (int64, error) {
	var version int64
	err := tx.QueryRowContext(tx.ctx, qRequestVersion, tenantID, id).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errNoRequest
	}
	return version, err
}

// updateRequest checks r's version against the stored one and replaces
// the request, with updatedAt as its UpdatedAt.
func (tx *wtx) updateRequest(r *vault.DataRequest, updatedAt time.Time) error {
	version, err := tx.requestVersion(r.TenantID, r.ID)
	if err != nil {
		return err
	}
	if version != r.Version-1 {
		return staleRequest(version, r)
	}
	_, err = tx.execSQL(qUpdateRequest, append([]any{r.TenantID}, requestArgs(r, updatedAt)...)...)
	return err
}

func staleRequest(version int64, r *vault.DataRequest) error {
	return vault.Errorf(vault.ECONFLICT, "Request was changed since it was read: version %d, want %d.", version, r.Version-1)
}

// requestArgs returns the values of r for requestColumns, with updatedAt
// as its UpdatedAt.
func requestArgs(r *vault.DataRequest, updatedAt time.Time) []any {
	return []any{r.ID, r.Type, r.SubjectID, r.Channel, toMicro(r.ReceivedAt), r.Identity, r.IdentityMethod, r.State,
		r.Reason, toMicro(r.DueAt), r.ExtensionMonths, r.ExtensionReason, r.AssigneeID, r.CreatedBy,
		toMicro(updatedAt), toNullMicro(r.CompletedAt), r.Version}
}

// scanRequest reads requestColumns into a request of the tenant.
func scanRequest(tenantID string, row interface{ Scan(...any) error }) (*vault.DataRequest, error) {
	r := vault.DataRequest{TenantID: tenantID}
	var receivedAt, dueAt, updatedAt int64
	var completedAt sql.NullInt64
	if err := row.Scan(&r.ID, &r.Type, &r.SubjectID, &r.Channel, &receivedAt, &r.Identity, &r.IdentityMethod,
		&r.State, &r.Reason, &dueAt, &r.ExtensionMonths, &r.ExtensionReason, &r.AssigneeID, &r.CreatedBy,
		&updatedAt, &completedAt, &r.Version); err != nil {
		return nil, err
	}
	r.ReceivedAt, r.DueAt, r.UpdatedAt = fromMicro(receivedAt), fromMicro(dueAt), fromMicro(updatedAt)
	r.CompletedAt = fromNullMicro(completedAt)
	return &r, nil
}

// requestStates are the states a request may be in.
var requestStates = []string{vault.StateReceived, vault.StateVerified, vault.StateInProgress, vault.StateCompleted, vault.StateRejected}

// validRequest checks what the schema does not: ids, a known type and
// state, the times a deadline needs.
func validRequest(op string, r *vault.DataRequest) error {
	switch {
	case r == nil:
		return invalid(op, "Request is required.")
	case r.TenantID == "" || r.ID == "" || r.SubjectID == "":
		return invalid(op, "Request tenant id, id and subject are required.")
	case !slices.Contains(vault.RequestTypes, r.Type):
		return invalid(op, "Unknown request type.")
	case !slices.Contains(requestStates, r.State):
		return invalid(op, "Unknown request state.")
	case r.ReceivedAt.IsZero() || r.DueAt.IsZero():
		return invalid(op, "Request receipt and due times are required.")
	case r.ExtensionMonths < 0 || r.ExtensionMonths > 2:
		return invalid(op, "A request is extended by 0 to 2 months.")
	}
	return nil
}

// validCode checks a code's keys and attempts.
func validCode(op string, c *vault.VerificationCode) error {
	switch {
	case c == nil:
		return invalid(op, "Verification code is required.")
	case c.TenantID == "" || c.RequestID == "":
		return invalid(op, "Code tenant id and request id are required.")
	case c.Attempts < 0:
		return invalid(op, "Code attempts must not be negative.")
	}
	return nil
}

// validSuppressions checks that each suppression names a field and a
// token of the tenant.
func validSuppressions(op, tenantID string, s []*vault.Suppression) error {
	for i, x := range s {
		switch {
		case x == nil:
			return invalid(op, "Suppression %d is nil.", i)
		case x.Field == "" || len(x.Token) == 0:
			return invalid(op, "Suppression %d needs a field and a token.", i)
		case x.TenantID != tenantID:
			return invalid(op, "Suppression %d is of another tenant than the request.", i)
		}
	}
	return nil
}
