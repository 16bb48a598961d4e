package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/coffre/coffre/vault"
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
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fail(ctx, op, err)
	}
	defer tx.Rollback()
	if err := createTenant(ctx, tx, t, createdAt); err != nil {
		return fail(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
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
	t, err := findTenant(ctx, db.r, id)
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	return t, nil
}

func createTenant(ctx context.Context, tx *sql.Tx, t *vault.Tenant, createdAt time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, keys, created_at) VALUES (?, ?, ?)`,
		t.ID, nonNil(t.Keys), toMicro(createdAt))
	return err
}

func findTenant(ctx context.Context, q querier, id string) (*vault.Tenant, error) {
	var t vault.Tenant
	var createdAt int64
	err := q.QueryRowContext(ctx, `SELECT id, keys, created_at FROM tenants WHERE id = ?`, id).
		Scan(&t.ID, &t.Keys, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vault.Errorf(vault.ENOTFOUND, "Tenant not found.")
	} else if err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicro(createdAt)
	return &t, nil
}
