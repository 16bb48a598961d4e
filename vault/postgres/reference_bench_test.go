package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The API's throughput goals are set against what PostgreSQL alone does on
// the machine: primary-key selects and single-row inserts at concurrency
// 16 through pgx. The two reference benchmarks measure that yardstick on
// the machine the API figures are taken on, with nothing of Coffre in the
// way: a two-column table, one connection per caller, the smallest
// statement of each kind. scripts/bench-api.sh runs them next to the API
// so that its figures can be read as fractions of them.

const (
	referenceRows   = 10000
	referenceSchema = `CREATE TABLE reference_rows (id bigint PRIMARY KEY, v text NOT NULL);
CREATE TABLE reference_inserts (id bigserial PRIMARY KEY, v text NOT NULL);
INSERT INTO reference_rows SELECT i, md5(i::text) FROM generate_series(0, 9999) AS i;
ANALYZE reference_rows;`
	referenceSelect = `SELECT v FROM reference_rows WHERE id = $1`
	referenceInsert = `INSERT INTO reference_inserts (v) VALUES ($1)`
)

// BenchmarkReferenceSelect is the yardstick of get-by-id: a primary-key
// SELECT of one short row at concurrency 16.
func BenchmarkReferenceSelect(b *testing.B) {
	runReference(b, func(ctx context.Context, pool *pgxpool.Pool, n int64) error {
		var v string
		if err := pool.QueryRow(ctx, referenceSelect, n%referenceRows).Scan(&v); err != nil {
			return fmt.Errorf("select: %w", err)
		}
		if len(v) != 32 {
			return fmt.Errorf("select returned %d bytes, want 32", len(v))
		}
		return nil
	})
}

// BenchmarkReferenceInsert is the yardstick of create: a one-row INSERT,
// committed on its own, at concurrency 16.
func BenchmarkReferenceInsert(b *testing.B) {
	runReference(b, func(ctx context.Context, pool *pgxpool.Pool, n int64) error {
		tag, err := pool.Exec(ctx, referenceInsert, "row "+strconv.FormatInt(n, 10))
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("insert wrote %d rows, want 1", tag.RowsAffected())
		}
		return nil
	})
}

// runReference runs op at concurrency 16 on a pool of one connection per
// caller over the reference tables, n counting the calls from 1, and
// reports the throughput as ops/s, the unit of the API figures it is
// compared with.
func runReference(b *testing.B, op func(ctx context.Context, pool *pgxpool.Pool, n int64) error) {
	pool := openPool(b, benchConcurrency, referenceSchema)
	ctx := context.Background()
	var next atomic.Int64
	setParallelism(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx, pool, next.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}
