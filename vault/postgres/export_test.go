package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

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

// HoldReads takes every statement slot of db's coalesced reads by id, so
// that the reads that follow queue; queued tells how many wait, and
// release hands them their statements. HoldFinds does the same for the
// reads by lookup token.
func HoldReads(db *DB) (queued func() int, release func()) { return hold(&db.reads) }

// HoldFinds is HoldReads for FindContacts.
func HoldFinds(db *DB) (queued func() int, release func()) { return hold(&db.finds) }

func hold[T coalescedRead](c *coalescer[T]) (queued func() int, release func()) {
	c.mu.Lock()
	held := coalesceSlots - c.inflight
	c.inflight = coalesceSlots
	c.mu.Unlock()
	release = func() {
		for range held {
			c.leave()
		}
	}
	return c.queued, release
}

// MaxReadBatch is how many queued reads one statement serves at most.
const MaxReadBatch = coalesceBatch

// PendingChecks are the statements that ask whether entries are pending,
// each with at most one parameter: the transaction id floor.
var PendingChecks = []string{pendingExistSQL, "SELECT " + strings.ReplaceAll(noPendingFromSQL, "$21", "$1")}

// HoldCreates is HoldReads for CreateContact.
func HoldCreates(db *DB) (queued func() int, release func()) { return hold(&db.creates) }

// BatchedSetting returns the value of a setting on a connection of the
// pool of the coalesced statements.
func BatchedSetting(ctx context.Context, db *DB, name string) (string, error) {
	var v string
	err := db.batched.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}
