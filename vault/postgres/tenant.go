package postgres

import (
	"context"
	"fmt"

	"github.com/coffre/coffre/vault"
)

// CreateTenant stores a new tenant. A zero t.CreatedAt is set to the
// store's time. It returns EINVALID for a nil tenant, an empty id or nil
// keys, and ECONFLICT if the id exists.
func (db *DB) CreateTenant(ctx context.Context, t *vault.Tenant) error {
	if t == nil || t.ID == "" || t.Keys == nil {
		return vault.Errorf(vault.EINVALID, "Tenant id and keys are required.")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.now()
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO tenants (id, keys, created_at) VALUES ($1, $2, $3)`,
		t.ID, t.Keys, t.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres.CreateTenant: %w", mapError(err))
	}
	return nil
}

// Tenant returns a tenant: ENOTFOUND if there is none with that id,
// EINVALID for an empty id.
func (db *DB) Tenant(ctx context.Context, id string) (*vault.Tenant, error) {
	if id == "" {
		return nil, vault.Errorf(vault.EINVALID, "Tenant id is required.")
	}
	t := &vault.Tenant{ID: id}
	err := db.pool.QueryRow(ctx, `SELECT keys, created_at FROM tenants WHERE id = $1`, id).
		Scan(&t.Keys, &t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("postgres.Tenant: %w", mapError(err))
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}
