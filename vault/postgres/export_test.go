package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// SkipAudit makes db's writes leave out their audit entry, so that the
// benchmarks can tell what the entry costs.
func SkipAudit(db *DB) { db.noAudit = true }

// Pool returns db's connection pool: the application's own connections.
func Pool(db *DB) *pgxpool.Pool { return db.pool }

// MapError exposes mapError to the external tests.
var MapError = mapError

// ConsentsJSON and ParseConsents expose the consents codec to the tests.
var (
	ConsentsJSON  = consentsJSON
	ParseConsents = parseConsents
)

// PendingFloor returns the transaction id below which db knows every
// audit entry to be numbered.
func PendingFloor(db *DB) uint64 { return db.pendingFloor.Load() }

// HoldReads takes every statement slot of db's coalesced reads, so that
// the reads that follow queue; queued tells how many wait, and release
// hands them their statements.
func HoldReads(db *DB) (queued func() int, release func()) {
	c := &db.reads
	c.mu.Lock()
	held := maxReadBatches - c.inflight
	c.inflight = maxReadBatches
	c.mu.Unlock()
	queued = func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.queue)
	}
	release = func() {
		for range held {
			c.leave()
		}
	}
	return queued, release
}

// MaxReadBatch is how many queued reads one statement reads at most.
const MaxReadBatch = maxReadBatch
