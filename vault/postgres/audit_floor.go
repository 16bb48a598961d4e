package postgres

import (
	"slices"

	"github.com/coffre/coffre/audit"
)

// The pending floor is a transaction id below which every audit entry is
// numbered (migration 007 keeps each entry's writer transaction id). The
// pending queue's partial indexes keep the entries of numbered rows until
// VACUUM; reading the queue from the floor up skips them. The floor rises
// to the xmin of a snapshot in which every entry then pending at or above
// it was seen, once those entries are numbered: a transaction below that
// xmin had ended, so its entry, if committed, was among them.
//
// The floor lives in the DB, in memory: each process starts from 0 and
// reads the whole queue once. Transaction ids compare only within one
// cluster; entries restored from another cluster's dump, whose ids may be
// lower than this cluster's, are found by that first read.

// pendingRead is what a PendingAudit that came back short saw: the xmin of
// its snapshot and the ids it returned, all that was pending at or above
// the floor.
type pendingRead struct {
	xmin uint64
	ids  []int64
}

// notePending keeps a short read of the pending queue; with nothing
// pending, the floor rises to its xmin at once.
func (db *DB) notePending(xmin uint64, ps []audit.Pending) {
	if len(ps) == 0 {
		db.raiseFloor(xmin)
		return
	}
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	db.floorMu.Lock()
	db.lastPending = &pendingRead{xmin: xmin, ids: ids}
	db.floorMu.Unlock()
}

// sequenced is told the pending ids a committed SequenceAudit numbered: if
// they include every id of the last short read, the floor rises to its
// xmin.
func (db *DB) sequenced(ids []int64) {
	db.floorMu.Lock()
	lp := db.lastPending
	all := lp != nil
	if all {
		sorted := slices.Sorted(slices.Values(ids))
		for _, id := range lp.ids {
			if _, ok := slices.BinarySearch(sorted, id); !ok {
				all = false
				break
			}
		}
	}
	if all {
		db.lastPending = nil
	}
	db.floorMu.Unlock()
	if all {
		db.raiseFloor(lp.xmin)
	}
}

// raiseFloor sets the floor to x unless it is higher already.
func (db *DB) raiseFloor(x uint64) {
	for old := db.pendingFloor.Load(); x > old && !db.pendingFloor.CompareAndSwap(old, x); old = db.pendingFloor.Load() {
	}
}
