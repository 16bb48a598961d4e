package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

var _ audit.Store = (*DB)(nil)

// qSequenceEntries sets the sequence numbers and leaf hashes of a batch of
// pending entries in one statement: ?1 is a JSON array of [id, seq]
// pairs, ?2 the leaf hashes end to end, 32 bytes each, in the same order.
// It changes no row of an entry already sequenced or unknown, and one row
// only of an id listed twice, so that the rows it changed are the batch's
// length only if every entry was pending. The batch is scanned and each
// row found by its id.
//
// One statement rather than one per entry: a statement that may abort (a
// trigger may refuse it) journals each page it changes, so that it can be
// undone alone, and statements per entry would journal the same index
// pages once per entry.
const qSequenceEntries = `UPDATE audit_entries SET seq = b.seq, leaf_hash = b.leaf_hash
	FROM (SELECT j.value ->> 0 AS id, j.value ->> 1 AS seq, substr(?2, j.key * 32 + 1, 32) AS leaf_hash
		FROM json_each(?1) AS j) AS b
	WHERE audit_entries.id = b.id AND audit_entries.seq IS NULL`

// The sequencer's other statements, prepared on the writer.
const (
	qReadHead     = `SELECT tree FROM audit_head WHERE id = 1`
	qPendingExist = `SELECT EXISTS (SELECT 1 FROM audit_entries WHERE seq IS NULL)`
	qInsertNode   = `INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)`
	qUpsertHead   = `INSERT INTO audit_head (id, tree) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET tree = excluded.tree`
)

// ReadHashes returns the hashes of the nodes at level with indices [start,
// end), in index order: at level 0 the leaf hashes of the sequenced
// entries (by seq), at levels that are multiples of audit.TileHeight the
// stored nodes. It returns ENOTFOUND if any of them is not stored, and
// EINVALID for another level or start > end. It is safe for concurrent
// use.
func (db *DB) ReadHashes(ctx context.Context, level uint, start, end uint64) ([][]byte, error) {
	const op = "sqlite.ReadHashes"
	if start > end || level%audit.TileHeight != 0 || level > 64 {
		return nil, invalid(op, "Invalid hash range.")
	}
	if start == end {
		return nil, nil
	}
	var rows *sql.Rows
	var err error
	if level == 0 {
		rows, err = db.r.QueryContext(ctx, `SELECT leaf_hash FROM audit_entries
			WHERE seq >= ? AND seq < ? ORDER BY seq`, int64Of(start), int64Of(end))
	} else {
		rows, err = db.r.QueryContext(ctx, `SELECT hash FROM audit_nodes
			WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx`, int64(level), int64Of(start), int64Of(end))
	}
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	defer rows.Close()
	var hashes [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, fail(ctx, op, err)
		}
		hashes = append(hashes, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	// The indices are unique and within the range: all are there if as
	// many rows came back.
	if uint64(len(hashes)) != end-start {
		return nil, fmt.Errorf("%s: level %d [%d, %d): %d hashes stored: %w",
			op, level, start, end, len(hashes), vault.Errorf(vault.ENOTFOUND, "Audit hashes not stored."))
	}
	return hashes, nil
}

// AuditHead returns the stored tree head, or nil while nothing is
// sequenced. It is safe for concurrent use.
func (db *DB) AuditHead(ctx context.Context) ([]byte, error) {
	head, err := readHead(ctx, db.r)
	if err != nil {
		return nil, fail(ctx, "sqlite.AuditHead", err)
	}
	return head, nil
}

// readHead reads the head row; a missing row or a NULL head is nil.
func readHead(ctx context.Context, q querier) ([]byte, error) {
	return scanHead(q.QueryRowContext(ctx, qReadHead))
}

// scanHead scans the row of qReadHead; a missing row or a NULL head is nil.
func scanHead(row *sql.Row) ([]byte, error) {
	var head []byte
	err := row.Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return head, err
}

// SequenceAudit stores a batch of the sequencer's work in one write (see
// writer.go), which runs under the write lock (BEGIN IMMEDIATE on the
// single writer), so no other sequencer, in this process or another on
// the same file, commits between its check and its writes:
// it reads the head and checks it still holds prevHead (nil for an empty
// log), else returns an error wrapping audit.ErrHeadMoved and changes
// nothing; it sets the seq and leaf hash of every pending entry, and fails
// the whole call with ECONFLICT, changing nothing, if any of them is
// already sequenced, absent or listed twice; it inserts the new entries
// (Entry set, after the pending ones, in seq order) with their seq and
// leaf hash, but refuses new entries alone with audit.ErrHeadMoved while
// entries are pending; it stores nodes and replaces the head with head.
//
// The batch must extend prevHead: head's size is prevHead's plus
// len(entries), and the entries' sequence numbers are exactly the new
// indices. Anything else, a leaf or node hash that is not 32 bytes or a
// node at a level that is not stored is EINVALID, and changes nothing.
// It is safe for concurrent use.
func (db *DB) SequenceAudit(ctx context.Context, prevHead []byte, entries []audit.Sequenced, nodes []audit.Node, head []byte) error {
	const op = "sqlite.SequenceAudit"
	// What does not depend on the stored head is checked before the write
	// lock is taken.
	next, err := audit.UnmarshalTree(head)
	if err != nil {
		return fmt.Errorf("%s: %w: head: %w", op, vault.Errorf(vault.EINVALID, "Invalid tree head."), err)
	}
	for _, s := range entries {
		if len(s.LeafHash) != audit.HashSize {
			return invalid(op, "A leaf hash must be %d bytes.", audit.HashSize)
		}
	}
	for _, n := range nodes {
		if n.Level == 0 || n.Level%audit.TileHeight != 0 || n.Level > 64 || n.Index > 1<<62 || len(n.Hash) != audit.HashSize {
			return invalid(op, "Invalid tree node.")
		}
	}

	now := db.now()
	err = db.write(ctx, func(tx *wtx) error {
		stored, err := scanHead(tx.queryRow(tx.st.readHead))
		if err != nil {
			return err
		}
		if !bytes.Equal(stored, prevHead) {
			return audit.ErrHeadMoved
		}
		// prevHead is the stored head, which only this method writes, after
		// checking it: it decodes unless the file was edited. Empty is the
		// empty log, as nil.
		var from uint64
		if len(prevHead) > 0 {
			prev, err := audit.UnmarshalTree(prevHead)
			if err != nil {
				return fmt.Errorf("stored head: %w", err)
			}
			from = prev.Size()
		}
		if err := checkBatch(from, next.Size(), entries); err != nil {
			return err
		}

		pending, fresh, err := splitFresh(entries)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			pairs, leaves := sequencedArgs(pending)
			res, err := tx.exec(tx.st.sequenceEntries, pairs, leaves)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n != int64(len(pending)) {
				return fmt.Errorf("%d of %d entries pending: %w", n, len(pending),
					vault.Errorf(vault.ECONFLICT, "An audit entry is already sequenced or does not exist."))
			}
		}
		if len(pending) == 0 && len(fresh) > 0 {
			// New entries alone: refused while entries are pending.
			var left bool
			if err := tx.queryRow(tx.st.pendingExist).Scan(&left); err != nil {
				return err
			} else if left {
				return audit.ErrHeadMoved
			}
		}
		for i, s := range fresh {
			if err := appendSequencedTo(tx, s, now); err != nil {
				return fmt.Errorf("new entry %d: %w", i, err)
			}
		}
		for _, n := range nodes {
			if _, err := tx.exec(tx.st.insertNode, int64(n.Level), int64(n.Index), n.Hash); err != nil {
				return err
			}
		}
		_, err = tx.exec(tx.st.upsertHead, head)
		return err
	})
	if errors.Is(err, audit.ErrHeadMoved) {
		return fmt.Errorf("%s: %w", op, err)
	} else if err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// sequencedArgs returns the arguments of qSequenceEntries for entries.
func sequencedArgs(entries []audit.Sequenced) (pairs string, leaves []byte) {
	b := make([]byte, 0, 2+len(entries)*24)
	leaves = make([]byte, 0, len(entries)*audit.HashSize)
	b = append(b, '[')
	for i, s := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, s.ID, 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, s.Seq, 10)
		b = append(b, ']')
		leaves = append(leaves, s.LeafHash...)
	}
	return string(append(b, ']')), leaves
}

// checkBatch returns EINVALID unless entries, numbered on a tree of size
// from, make a tree of size to: one entry for each number in [from, to).
func checkBatch(from, to uint64, entries []audit.Sequenced) error {
	if to < from || to-from != uint64(len(entries)) {
		return vault.Errorf(vault.EINVALID, "The head of size %d does not add %d entries to size %d.", to, len(entries), from)
	}
	seen := make([]bool, len(entries))
	for _, s := range entries {
		if s.Seq < from || s.Seq >= to || seen[s.Seq-from] {
			return vault.Errorf(vault.EINVALID, "Sequence numbers must be %d to %d, once each.", from, to-1)
		}
		seen[s.Seq-from] = true
	}
	return nil
}
