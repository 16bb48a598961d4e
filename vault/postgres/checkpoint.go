package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// AddCheckpoint stores a signed checkpoint; storing a size already stored
// changes nothing (the first note stays). A zero c.CreatedAt is set to the
// store's time. It returns EINVALID for a nil checkpoint or an empty note.
// It is safe for concurrent use.
func (db *DB) AddCheckpoint(ctx context.Context, c *audit.StoredCheckpoint) error {
	if c == nil || len(c.Note) == 0 {
		return vault.Errorf(vault.EINVALID, "A checkpoint note is required.")
	}
	if c.Size > 1<<62 {
		return vault.Errorf(vault.EINVALID, "Checkpoint size out of range.")
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = db.now()
	}
	// DO NOTHING, not DO UPDATE: an upsert would fire the trigger that
	// refuses updates, and a stored checkpoint is never replaced.
	_, err := db.pool.Exec(ctx, `INSERT INTO audit_checkpoints (size, note, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (size) DO NOTHING`, int64(c.Size), c.Note, c.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres.AddCheckpoint: %w", mapError(err))
	}
	return nil
}

// Checkpoints returns the stored checkpoints with from <= Size <= to, by
// size; none if from > to. It is safe for concurrent use.
func (db *DB) Checkpoints(ctx context.Context, from, to uint64) ([]*audit.StoredCheckpoint, error) {
	if from > to {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT size, note, created_at FROM audit_checkpoints
		WHERE size >= $1 AND size <= $2 ORDER BY size`, int64Of(from), int64Of(to))
	if err != nil {
		return nil, fmt.Errorf("postgres.Checkpoints: %w", mapError(err))
	}
	cs, err := pgx.CollectRows(rows, scanCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("postgres.Checkpoints: %w", mapError(err))
	}
	return cs, nil
}

// LatestCheckpoint returns the checkpoint of the largest size, or nil when
// none is stored. It is safe for concurrent use.
func (db *DB) LatestCheckpoint(ctx context.Context) (*audit.StoredCheckpoint, error) {
	rows, err := db.pool.Query(ctx, `SELECT size, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("postgres.LatestCheckpoint: %w", mapError(err))
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanCheckpoint)
	if errNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres.LatestCheckpoint: %w", mapError(err))
	}
	return c, nil
}

func scanCheckpoint(row pgx.CollectableRow) (*audit.StoredCheckpoint, error) {
	var c audit.StoredCheckpoint
	var size int64
	if err := row.Scan(&size, &c.Note, &c.CreatedAt); err != nil {
		return nil, err
	}
	c.Size, c.CreatedAt = uint64(size), c.CreatedAt.UTC()
	return &c, nil
}
