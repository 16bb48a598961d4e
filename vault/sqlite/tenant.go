package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/coffre/coffre/vault"
)

const (
	qInsertTenant = `INSERT INTO tenants (id, keys, created_at) VALUES (?, ?, ?)`
	qTenant       = `SELECT id, keys, created_at FROM tenants WHERE id = ?`
)

// CreateTenant stores a new tenant. A zero CreatedAt is set to the store's
// clock, in t too. It returns EINVALID for a nil tenant or an empty id and
// ECONFLICT if the id exists.
func (db *DB) CreateTenant(ctx context.Context, t *vault.Tenant) error {
	const op = "sqlite.CreateTenant"
	if t == nil || t.ID == "" {
		return invalid(op, "Tenant id is required.")
	}
	createdAt := orNow(t.CreatedAt, db.now())
	err := db.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(tx.st.insertTenant, t.ID, nonNil(t.Keys), toMicro(createdAt))
		return err
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	t.CreatedAt = createdAt
	return nil
}

// Tenant returns a tenant. It returns EINVALID for an empty id and
// ENOTFOUND if there is none with that id.
func (db *DB) Tenant(ctx context.Context, id string) (*vault.Tenant, error) {
	const op = "sqlite.Tenant"
	if id == "" {
		return nil, invalid(op, "Tenant id is required.")
	}
	var t vault.Tenant
	var createdAt int64
	err := db.rst.tenant.QueryRowContext(ctx, id).Scan(&t.ID, &t.Keys, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(ctx, op, vault.Errorf(vault.ENOTFOUND, "Tenant not found."))
	} else if err != nil {
		return nil, fail(ctx, op, err)
	}
	t.CreatedAt = fromMicro(createdAt)
	return &t, nil
}
