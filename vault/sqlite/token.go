package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coffre/coffre/vault"
)

const (
	qInsertAPIToken = `
		INSERT INTO api_tokens (id, tenant_id, role, attributes, purposes, hash, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qToken = `
		SELECT id, tenant_id, role, attributes, purposes, hash, created_at, expires_at, revoked_at
		FROM api_tokens WHERE id = ?`
)

// CreateToken stores t and appends e, unsequenced, in one transaction. A
// zero CreatedAt is set to the store's clock, in t too, and a zero e.Time
// too. It returns EINVALID for a nil token, an empty id or tenant, or an
// entry the audit log could not encode, ENOTFOUND if the tenant does not
// exist and ECONFLICT if the id exists.
func (db *DB) CreateToken(ctx context.Context, t *vault.APIToken, e *vault.AuditEntry) error {
	const op = "sqlite.CreateToken"
	if t == nil || t.ID == "" {
		return invalid(op, "Token id is required.")
	}
	if t.TenantID == "" {
		return invalid(op, "Tenant id is required.")
	}
	now := db.now()
	if err := checkEntry(op, e, now); err != nil {
		return err
	}
	attrs := t.Attributes
	if attrs == nil {
		attrs = map[string][]string{}
	}
	attrsJSON, err := json.Marshal(attrs)
	if err != nil {
		return fail(ctx, op, err)
	}
	purposes, err := json.Marshal(nonNilStrings(t.Purposes))
	if err != nil {
		return fail(ctx, op, err)
	}
	createdAt := orNow(t.CreatedAt, now)
	err = db.write(ctx, func(tx *wtx) error {
		if _, err := tx.exec(tx.st.insertAPIToken, t.ID, t.TenantID, t.Role, string(attrsJSON), string(purposes), nonNil(t.Hash),
			toMicro(createdAt), toNullMicro(t.ExpiresAt), toNullMicro(t.RevokedAt)); err != nil {
			return err
		}
		return db.appendEntry(tx, e)
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	t.CreatedAt = createdAt
	return nil
}

// Token returns a token by id. It returns EINVALID for an empty id and
// ENOTFOUND if there is none.
func (db *DB) Token(ctx context.Context, id string) (*vault.APIToken, error) {
	const op = "sqlite.Token"
	if id == "" {
		return nil, invalid(op, "Token id is required.")
	}
	var t vault.APIToken
	var attrs, purposes string
	var createdAt int64
	var expiresAt, revokedAt sql.NullInt64
	err := db.rst.token.QueryRowContext(ctx, id).
		Scan(&t.ID, &t.TenantID, &t.Role, &attrs, &purposes, &t.Hash, &createdAt, &expiresAt, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(ctx, op, vault.Errorf(vault.ENOTFOUND, "Token not found."))
	} else if err != nil {
		return nil, fail(ctx, op, err)
	}
	if err := json.Unmarshal([]byte(attrs), &t.Attributes); err != nil {
		return nil, fail(ctx, op, fmt.Errorf("token attributes: %w", err))
	}
	if err := json.Unmarshal([]byte(purposes), &t.Purposes); err != nil {
		return nil, fail(ctx, op, fmt.Errorf("token purposes: %w", err))
	}
	t.CreatedAt = fromMicro(createdAt)
	t.ExpiresAt = fromNullMicro(expiresAt)
	t.RevokedAt = fromNullMicro(revokedAt)
	return &t, nil
}
