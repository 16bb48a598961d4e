package audit

import (
	"context"
	"errors"
	"time"
)

// ErrHeadMoved is returned by Store.SequenceAudit when the stored tree head
// is no longer the one the sequencer read: another process sequenced
// entries meanwhile. The sequencer reloads the head and tries again.
var ErrHeadMoved = errors.New("audit: tree head moved")

// Pending is an entry that was committed with the change it records but has
// no sequence number yet. ID is the store's own row id; Entry.Seq is unset.
type Pending struct {
	ID    int64
	Entry *Entry
}

// Sequenced assigns a sequence number and a leaf hash to an entry: to the
// pending row ID, or, when Entry is set, to a new entry that the store
// inserts already sequenced (Log.Append), with ID unused.
type Sequenced struct {
	ID       int64
	Seq      uint64
	LeafHash []byte
	// Entry is the new entry, with Seq set, or nil for a pending row.
	Entry *Entry
}

// StoredCheckpoint is a signed checkpoint as a store keeps it.
type StoredCheckpoint struct {
	Size      uint64
	Note      []byte
	CreatedAt time.Time
}

// Store is the storage the Log consumes; vault/postgres and vault/sqlite
// implement it over their audit tables. Implementations are safe for
// concurrent use.
type Store interface {
	HashReader

	// AuditHead returns the stored tree head (Tree.MarshalBinary), or nil
	// when no entry has been sequenced yet.
	AuditHead(ctx context.Context) ([]byte, error)

	// PendingAudit returns up to limit committed entries that have no
	// sequence number yet, oldest row id first.
	PendingAudit(ctx context.Context, limit int) ([]Pending, error)

	// SequenceAudit, in one transaction, checks that the stored head is
	// still prevHead (nil for an empty log; ErrHeadMoved otherwise), sets
	// the sequence number and leaf hash of each pending entry (each exactly
	// once: an entry already sequenced fails the whole call), inserts each
	// new entry (Sequenced.Entry) with its number and leaf hash, stores the
	// node hashes Tree.Append returned, and replaces the head with head.
	// The new entries follow the pending ones: their numbers are larger.
	// A batch of new entries alone is refused with ErrHeadMoved while the
	// store holds pending entries, so that these are numbered first.
	SequenceAudit(ctx context.Context, prevHead []byte, entries []Sequenced, nodes []Node, head []byte) error

	// AddCheckpoint stores a signed checkpoint of the given size. Storing a
	// size that is already stored is a no-op.
	AddCheckpoint(ctx context.Context, c *StoredCheckpoint) error

	// Checkpoints returns the stored checkpoints with from <= Size <= to,
	// by size.
	Checkpoints(ctx context.Context, from, to uint64) ([]*StoredCheckpoint, error)

	// LatestCheckpoint returns the checkpoint of the largest size, or nil
	// when there is none.
	LatestCheckpoint(ctx context.Context) (*StoredCheckpoint, error)

	// SequencedEntries returns the entries with start <= Seq < end, in
	// sequence order, with their stored leaf hashes. Entries past the
	// sequenced size are not returned.
	SequencedEntries(ctx context.Context, start, end uint64) ([]*Entry, [][]byte, error)
}
