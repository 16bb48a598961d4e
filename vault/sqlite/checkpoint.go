package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/coffre/coffre/audit"
)

// AddCheckpoint stores a signed checkpoint; storing a size already stored
// changes nothing (the first note stays). A zero c.CreatedAt is set to the
// store's time. It returns EINVALID for a nil checkpoint, an empty note or
// a size past 2^62. It is safe for concurrent use.
func (db *DB) AddCheckpoint(ctx context.Context, c *audit.StoredCheckpoint) error {
	const op = "sqlite.AddCheckpoint"
	switch {
	case c == nil || len(c.Note) == 0:
		return invalid(op, "A checkpoint note is required.")
	case c.Size > 1<<62:
		return invalid(op, "Checkpoint size out of range.")
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = storedTime(db.now())
	}
	// Neither ON CONFLICT DO NOTHING nor INSERT OR IGNORE: the trigger that
	// keeps a stored checkpoint from being replaced refuses any insert of a
	// size already stored, before conflicts are looked at. The write lock
	// makes the check and the insert one step.
	err := db.write(ctx, func(tx *wtx) error {
		_, err := tx.execSQL(`INSERT INTO audit_checkpoints (size, note, created_at)
			SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE size = ?1)`,
			int64(c.Size), c.Note, toMicro(c.CreatedAt))
		return err
	})
	if err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// Checkpoints returns the stored checkpoints with from <= Size <= to, by
// size; none if from > to. It is safe for concurrent use.
func (db *DB) Checkpoints(ctx context.Context, from, to uint64) ([]*audit.StoredCheckpoint, error) {
	const op = "sqlite.Checkpoints"
	if from > to {
		return nil, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT size, note, created_at FROM audit_checkpoints
		WHERE size >= ? AND size <= ? ORDER BY size`, int64Of(from), int64Of(to))
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var cs []*audit.StoredCheckpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fail(ctx, op, err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	return cs, nil
}

// LatestCheckpoint returns the checkpoint of the largest size, or nil when
// none is stored. It is safe for concurrent use.
func (db *DB) LatestCheckpoint(ctx context.Context) (*audit.StoredCheckpoint, error) {
	c, err := scanCheckpoint(db.r.QueryRowContext(ctx,
		`SELECT size, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fail(ctx, "sqlite.LatestCheckpoint", err)
	}
	return c, nil
}

func scanCheckpoint(row interface{ Scan(...any) error }) (*audit.StoredCheckpoint, error) {
	var c audit.StoredCheckpoint
	var size, createdAt int64
	if err := row.Scan(&size, &c.Note, &createdAt); err != nil {
		return nil, err
	}
	c.Size, c.CreatedAt = uint64(size), fromMicro(createdAt)
	return &c, nil
}
