package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

var _ audit.Store = (*DB)(nil)

// ReadHashes returns the hashes of the nodes at level with indices [start,
// end), in index order: at level 0 the leaf hashes of the sequenced
// entries (by seq), at levels that are multiples of audit.TileHeight the
// stored nodes. It returns ENOTFOUND if any of them is not stored, and
// EINVALID for another level or start > end. It is safe for concurrent
// use.
func (db *DB) ReadHashes(ctx context.Context, level uint, start, end uint64) ([][]byte, error) {
	if start > end || level%audit.TileHeight != 0 || level > 64 {
		return nil, vault.Errorf(vault.EINVALID, "Invalid hash range.")
	}
	if start == end {
		return nil, nil
	}
	var rows pgx.Rows
	var err error
	if level == 0 {
		rows, err = db.pool.Query(ctx, `SELECT leaf_hash FROM audit_entries
			WHERE seq >= $1 AND seq < $2 ORDER BY seq`, int64Of(start), int64Of(end))
	} else {
		rows, err = db.pool.Query(ctx, `SELECT hash FROM audit_nodes
			WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, int16(level), int64Of(start), int64Of(end))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres.ReadHashes: %w", mapError(err))
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("postgres.ReadHashes: %w", mapError(err))
	}
	// The indices are unique and within the range: all are there if as
	// many rows came back.
	if uint64(len(hashes)) != end-start {
		return nil, fmt.Errorf("postgres.ReadHashes: level %d [%d, %d): %d hashes stored: %w",
			level, start, end, len(hashes), vault.Errorf(vault.ENOTFOUND, "Audit hashes not stored."))
	}
	return hashes, nil
}

// AuditHead returns the stored tree head, or nil while nothing is
// sequenced. It is safe for concurrent use.
func (db *DB) AuditHead(ctx context.Context) ([]byte, error) {
	head, err := scanBytes(db.pool.QueryRow(ctx, `SELECT tree FROM audit_head WHERE id`))
	if err != nil {
		return nil, fmt.Errorf("postgres.AuditHead: %w", mapError(err))
	}
	return head, nil
}

// SequenceAudit stores a batch of the sequencer's work in one transaction:
// it locks the head row and checks it still holds prevHead (nil for an
// empty log), else returns an error wrapping audit.ErrHeadMoved and changes
// nothing; it sets the seq and leaf hash of every pending entry in one
// statement, and fails the whole call with ECONFLICT if any of them is
// already sequenced or absent; it inserts the new entries (Entry set,
// after the pending ones) with their seq and leaf hash; it stores nodes
// and replaces the head with head. A batch of new entries alone is refused
// with audit.ErrHeadMoved while entries are pending; on a log that has a
// head it is a single statement (appendSequenced).
//
// The batch must extend prevHead: head's size is prevHead's plus
// len(entries), and the entries' sequence numbers are exactly the new
// indices. Anything else, a leaf or node hash that is not 32 bytes or a
// node at a level that is not stored is EINVALID, before anything is
// written. The row lock on the head serialises concurrent sequencers; it
// is safe for concurrent use.
func (db *DB) SequenceAudit(ctx context.Context, prevHead []byte, entries []audit.Sequenced, nodes []audit.Node, head []byte) error {
	ids, seqs, leaves, fresh, err := sequencedArrays(prevHead, entries, head)
	if err != nil {
		// A batch that does not extend prevHead is invalid only when
		// prevHead is the stored head; otherwise the sequencer is stale,
		// and ErrHeadMoved tells it to reload rather than give up.
		if stored, serr := db.AuditHead(ctx); serr == nil && !bytes.Equal(stored, prevHead) {
			return fmt.Errorf("postgres.SequenceAudit: %w", audit.ErrHeadMoved)
		}
		return fmt.Errorf("postgres.SequenceAudit: %w", err)
	}
	levels, idxs, hashes, err := nodeArrays(nodes)
	if err != nil {
		return fmt.Errorf("postgres.SequenceAudit: %w", err)
	}
	var freshArgs []any
	if len(fresh) > 0 {
		if freshArgs, err = db.freshArrays(fresh); err != nil {
			return fmt.Errorf("postgres.SequenceAudit: %w", err)
		}
		if len(ids) == 0 && prevHead != nil {
			// Only new entries on a log that has a head: one statement.
			if err := db.appendSequenced(ctx, prevHead, head, levels, idxs, hashes, freshArgs); err != nil {
				return fmt.Errorf("postgres.SequenceAudit: %w", err)
			}
			return nil
		}
	}

	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres.SequenceAudit: %w", mapError(err))
	}
	defer t.rollback()

	// First round trip: lock and read the head, then number the entries.
	// The update runs after the lock is granted, so it sees every
	// sequencing committed before; if the head moved meanwhile it is
	// rolled back.
	var stored []byte
	var locked bool
	var updated int64
	t.queue(`SELECT tree FROM audit_head WHERE id FOR UPDATE`).QueryRow(func(row pgx.Row) error {
		var err error
		if stored, err = scanBytes(row); err != nil {
			return err
		}
		locked = true
		return nil
	})
	if len(ids) > 0 {
		t.queue(`UPDATE audit_entries e SET seq = u.seq, leaf_hash = u.leaf_hash
			FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS u (id, seq, leaf_hash)
			WHERE e.id = u.id AND e.seq IS NULL`, ids, seqs, leaves).Exec(func(ct pgconn.CommandTag) error {
			updated = ct.RowsAffected()
			return nil
		})
	}
	var pendingLeft bool
	if len(ids) == 0 && len(fresh) > 0 {
		// New entries alone: refused while entries are pending.
		t.queue(pendingExistSQL).QueryRow(func(row pgx.Row) error { return row.Scan(&pendingLeft) })
	}
	err = t.flush(ctx)
	if locked && (!bytes.Equal(stored, prevHead) || pendingLeft) {
		return fmt.Errorf("postgres.SequenceAudit: %w", audit.ErrHeadMoved)
	}
	if err != nil {
		return fmt.Errorf("postgres.SequenceAudit: %w", mapError(err))
	}
	if updated != int64(len(ids)) {
		return fmt.Errorf("postgres.SequenceAudit: %d of %d entries pending: %w", updated, len(ids),
			vault.Errorf(vault.ECONFLICT, "An audit entry is already sequenced or does not exist."))
	}

	// Second round trip: new entries, nodes, head and commit.
	if len(fresh) > 0 {
		t.queue(insertSequencedSQL, freshArgs...)
	}
	if len(nodes) > 0 {
		t.queue(`INSERT INTO audit_nodes (level, idx, hash)
			SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])`, levels, idxs, hashes)
	}
	t.queue(`INSERT INTO audit_head (id, tree) VALUES (true, $1)
		ON CONFLICT (id) DO UPDATE SET tree = excluded.tree`, head)
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("postgres.SequenceAudit: %w", mapError(err))
	}
	db.sequenced(ids)
	return nil
}

// sequencedArrays checks that entries and head extend prevHead and returns
// the columns of the update of the pending entries, and the new entries
// (audit.Sequenced.Entry set), which must come last and take the largest
// numbers.
func sequencedArrays(prevHead []byte, entries []audit.Sequenced, head []byte) (ids, seqs []int64, leaves byteaArray, fresh []audit.Sequenced, err error) {
	var from uint64
	if prevHead != nil {
		prev, err := audit.UnmarshalTree(prevHead)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("%w: previous head: %w", vault.Errorf(vault.EINVALID, "Invalid tree head."), err)
		}
		from = prev.Size()
	}
	next, err := audit.UnmarshalTree(head)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: head: %w", vault.Errorf(vault.EINVALID, "Invalid tree head."), err)
	}
	if next.Size() < from || next.Size()-from != uint64(len(entries)) {
		return nil, nil, nil, nil, vault.Errorf(vault.EINVALID, "The head of size %d does not add %d entries to size %d.",
			next.Size(), len(entries), from)
	}
	seen := make([]bool, len(entries))
	n := len(entries)
	for n > 0 && entries[n-1].Entry != nil {
		n--
	}
	ids, seqs, leaves, fresh = make([]int64, n), make([]int64, n), make(byteaArray, n), entries[n:]
	for i, s := range entries {
		if s.Seq < from || s.Seq >= next.Size() || seen[s.Seq-from] {
			return nil, nil, nil, nil, vault.Errorf(vault.EINVALID, "Sequence numbers must be %d to %d, once each.", from, next.Size()-1)
		}
		seen[s.Seq-from] = true
		if len(s.LeafHash) != audit.HashSize {
			return nil, nil, nil, nil, vault.Errorf(vault.EINVALID, "A leaf hash must be %d bytes.", audit.HashSize)
		}
		switch {
		case i < n && s.Entry != nil:
			return nil, nil, nil, nil, vault.Errorf(vault.EINVALID, "New audit entries must follow the pending ones.")
		case i >= n && (s.Seq < from+uint64(n) || s.Entry.Seq != s.Seq):
			return nil, nil, nil, nil, vault.Errorf(vault.EINVALID, "A new audit entry must be numbered after the pending ones, as its Seq.")
		case i < n:
			ids[i], seqs[i], leaves[i] = s.ID, int64(s.Seq), s.LeafHash
		}
	}
	return ids, seqs, leaves, fresh, nil
}

// nodeArrays checks nodes and returns the columns of audit_nodes.
func nodeArrays(nodes []audit.Node) (levels []int16, idxs []int64, hashes byteaArray, err error) {
	levels, idxs, hashes = make([]int16, len(nodes)), make([]int64, len(nodes)), make(byteaArray, len(nodes))
	for i, n := range nodes {
		if n.Level == 0 || n.Level%audit.TileHeight != 0 || n.Level > 64 || n.Index > 1<<62 || len(n.Hash) != audit.HashSize {
			return nil, nil, nil, vault.Errorf(vault.EINVALID, "Invalid tree node.")
		}
		levels[i], idxs[i], hashes[i] = int16(n.Level), int64(n.Index), n.Hash
	}
	return levels, idxs, hashes, nil
}

// errNoRows reports whether err is pgx.ErrNoRows.
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
