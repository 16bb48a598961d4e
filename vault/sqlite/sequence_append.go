package sqlite

import (
	"fmt"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// qAppendSequenced inserts a new entry already sequenced (audit.Log.Append).
// The insert trigger admits it only as the next entry of the log.
const qAppendSequenced = `INSERT INTO audit_entries (seq, leaf_hash, ` + entryColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// splitFresh returns the pending entries of a batch and its new ones
// (audit.Sequenced.Entry set), which must come last, in seq order. The
// batch has passed checkBatch.
func splitFresh(entries []audit.Sequenced) (pending, fresh []audit.Sequenced, err error) {
	n := len(entries)
	for n > 0 && entries[n-1].Entry != nil {
		n--
	}
	pending, fresh = entries[:n], entries[n:]
	for _, s := range pending {
		if s.Entry != nil {
			return nil, nil, vault.Errorf(vault.EINVALID, "New audit entries must follow the pending ones.")
		}
	}
	for i, s := range fresh {
		if s.Entry.Seq != s.Seq || (i > 0 && s.Seq != fresh[i-1].Seq+1) ||
			(i == 0 && n > 0 && s.Seq != maxSeq(pending)+1) {
			return nil, nil, vault.Errorf(vault.EINVALID, "New audit entries must be numbered in order after the pending ones, as their Seq.")
		}
	}
	return pending, fresh, nil
}

func maxSeq(entries []audit.Sequenced) uint64 {
	var m uint64
	for _, s := range entries {
		m = max(m, s.Seq)
	}
	return m
}

// appendSequencedTo inserts the new entry of s in tx, checked as
// AppendAudit checks an entry, except that a zero time is refused: the leaf
// hash was computed over the time given.
func appendSequencedTo(tx *wtx, s audit.Sequenced, now time.Time) error {
	e, err := vault.NewSequencedEntryOf(s)
	if err != nil {
		return err
	}
	if err := checkEntry("sqlite.SequenceAudit", e, now); err != nil {
		return err
	}
	args, err := entryArgs(e)
	if err != nil {
		return err
	}
	if _, err := tx.exec(tx.st.appendSequenced, append([]any{int64Of(s.Seq), s.LeafHash}, args...)...); err != nil {
		return fmt.Errorf("seq %d: %w", s.Seq, err)
	}
	return nil
}
