package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffre/coffre/vault"
)

// CreateToken stores t and appends e, unsequenced, in one transaction, in
// one round trip. A zero t.CreatedAt is set to the store's time. It returns
// EINVALID for a nil or incomplete token or entry, and ECONFLICT if the id
// exists.
func (db *DB) CreateToken(ctx context.Context, t *vault.APIToken, e *vault.AuditEntry) error {
	if t == nil || t.ID == "" || t.TenantID == "" || len(t.Hash) == 0 {
		return vault.Errorf(vault.EINVALID, "Token id, tenant and hash are required.")
	}
	if err := db.checkEntry(e); err != nil {
		return fmt.Errorf("postgres.CreateToken: %w", err)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.now()
	}
	attrs, err := json.Marshal(t.Attributes)
	if err != nil {
		return fmt.Errorf("postgres.CreateToken: %w", err)
	}
	if t.Attributes == nil {
		attrs = []byte("{}")
	}
	purposes := t.Purposes
	if purposes == nil {
		purposes = []string{}
	}

	tx, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres.CreateToken: %w", mapError(err))
	}
	defer tx.rollback()

	tx.queue(`INSERT INTO api_tokens (id, tenant_id, role, attributes, purposes, hash, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.TenantID, t.Role, attrs, purposes, t.Hash, t.CreatedAt, nullTime(t.ExpiresAt), nullTime(t.RevokedAt))
	db.appendAudit(tx, e)
	if err := tx.commit(ctx); err != nil {
		return fmt.Errorf("postgres.CreateToken: %w", mapError(err))
	}
	return nil
}

// Token returns a token by id: ENOTFOUND if absent, EINVALID for an empty
// id.
func (db *DB) Token(ctx context.Context, id string) (*vault.APIToken, error) {
	if id == "" {
		return nil, vault.Errorf(vault.EINVALID, "Token id is required.")
	}
	t := &vault.APIToken{ID: id}
	var attrs []byte
	var expires, revoked *time.Time
	err := db.pool.QueryRow(ctx, `SELECT tenant_id, role, attributes, purposes, hash, created_at, expires_at, revoked_at
		FROM api_tokens WHERE id = $1`, id).
		Scan(&t.TenantID, &t.Role, &attrs, &t.Purposes, &t.Hash, &t.CreatedAt, &expires, &revoked)
	if err != nil {
		return nil, fmt.Errorf("postgres.Token: %w", mapError(err))
	}
	if err := json.Unmarshal(attrs, &t.Attributes); err != nil {
		return nil, fmt.Errorf("postgres.Token: attributes: %w", err)
	}
	if len(t.Attributes) == 0 {
		t.Attributes = nil
	}
	if len(t.Purposes) == 0 {
		t.Purposes = nil
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if expires != nil {
		t.ExpiresAt = expires.UTC()
	}
	if revoked != nil {
		t.RevokedAt = revoked.UTC()
	}
	return t, nil
}

// nullTime returns nil for the zero time, which the token columns store as
// NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
