package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// insertSequencedSQL inserts new entries already sequenced (audit.Log.Append):
// the sequence numbers and leaf hashes, then the arrays of insertEntriesSQL.
var insertSequencedSQL = insertEntriesFrom(1, true)

// pendingExistSQL tells whether any entry is pending, and noPendingFromSQL,
// within appendSequencedSQL, whether none of a transaction at or above $21
// is. Both read at most one row of the pending index in txid order rather
// than asking EXISTS: for EXISTS the planner costs a sequential scan by
// its first matching row, which statistics taken while many entries were
// pending (an ANALYZE after a bulk load, say) make look cheap, and every
// append then read the whole log (9 ms a batch at 34,000 entries). No
// sequential scan returns rows in txid order without a sort of them all,
// so the partial index wins whatever the statistics.
const (
	pendingExistSQL  = `SELECT count(*) > 0 FROM (SELECT FROM audit_entries WHERE seq IS NULL ORDER BY txid LIMIT 1) AS p`
	noPendingFromSQL = `(SELECT count(*) FROM (SELECT FROM audit_entries WHERE seq IS NULL AND txid >= $21::text::xid8
			ORDER BY txid LIMIT 1) AS p) = 0`
)

// appendSequencedSQL is a batch of new entries on a log that has a head,
// in one statement that is its own transaction: it replaces the head only
// if it is still the one the batch was numbered from ($2) and no entry is
// pending, and inserts the entries and the nodes only if it did. Once that
// UPDATE has the head row's lock, it sees every sequencing committed
// before, so a moved head leaves it with no row and the statement writes
// nothing. A pending entry committed after the statement's snapshot is
// one that committed while the batch was being stored: numbering it after
// the batch is as right as before.
//
// The pending check looks only at entries of transactions at or above $21,
// the xmin of the snapshot of an earlier check that found none (migration
// 007): those below had ended by then, and their entries were numbered.
// The statement returns how many entries it inserted and the xmin of its
// own snapshot, the next such bound when it inserted them.
var appendSequencedSQL = `WITH h AS (
	UPDATE audit_head SET tree = $1
	WHERE id AND tree = $2
		AND ` + noPendingFromSQL + `
	RETURNING 1
), n AS (
	INSERT INTO audit_nodes (level, idx, hash)
	SELECT * FROM unnest($3::smallint[], $4::bigint[], $5::bytea[]) WHERE EXISTS (SELECT FROM h)
), e AS (
	` + insertEntriesFrom(6, true) + `
	WHERE EXISTS (SELECT FROM h)
	RETURNING 1
)
SELECT (SELECT count(*) FROM e), pg_snapshot_xmin(pg_current_snapshot())::text`

// freshArrays checks the new entries of a batch as AppendAudit checks an
// entry, except that a zero time is refused (the leaf hash was computed
// over the time given), and returns the arguments of insertSequencedSQL.
func (db *DB) freshArrays(fresh []audit.Sequenced) ([]any, error) {
	seqs, leaves := make([]int64, len(fresh)), make(byteaArray, len(fresh))
	entries := make([]*vault.AuditEntry, len(fresh))
	for i, s := range fresh {
		e, err := vault.NewSequencedEntryOf(s)
		if err != nil {
			return nil, err
		}
		if err := db.checkEntry(e); err != nil {
			return nil, fmt.Errorf("new entry %d: %w", i, err)
		}
		seqs[i], leaves[i], entries[i] = int64(s.Seq), s.LeafHash, e
	}
	return append([]any{seqs, leaves}, entryArrays(entries)...), nil
}

// appendSequenced stores new entries, nodes and head with appendSequencedSQL,
// and returns an error wrapping audit.ErrHeadMoved if the head was not
// prevHead or entries are pending.
func (db *DB) appendSequenced(ctx context.Context, prevHead, head []byte, levels []int16, idxs []int64, hashes byteaArray, freshArgs []any) error {
	cctx, cancel, err := commitContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	floor := db.pendingFloor.Load()
	args := append(append([]any{head, prevHead, levels, idxs, hashes}, freshArgs...), strconv.FormatUint(floor, 10))
	var inserted int64
	var xmin string
	if err := db.batched.QueryRow(cctx, appendSequencedSQL, args...).Scan(&inserted, &xmin); err != nil {
		return mapError(err)
	}
	if inserted == 0 {
		return audit.ErrHeadMoved
	}
	// Nothing was pending at or above floor in this statement's snapshot:
	// every entry of a transaction below its xmin is numbered.
	if x, err := strconv.ParseUint(xmin, 10, 64); err == nil {
		db.raiseFloor(x)
	}
	return nil
}
