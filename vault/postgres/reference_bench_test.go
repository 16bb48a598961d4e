package postgres_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/vault/postgres/pgtest"
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

// openReference returns a pool of one connection per caller on a fresh
// schema holding the reference tables.
func openReference(b *testing.B) *pgxpool.Pool {
	b.Helper()
	_, u := pgtest.MustOpen(b)
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = benchConcurrency
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), referenceSchema); err != nil {
		b.Fatal(err)
	}
	return pool
}

// BenchmarkReferenceSelect is the yardstick of get-by-id: a primary-key
// SELECT of one short row at concurrency 16.
func BenchmarkReferenceSelect(b *testing.B) {
	pool := openReference(b)
	ctx := context.Background()
	var next atomic.Int64
	setParallelism(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var v string
		for pb.Next() {
			id := next.Add(1) % referenceRows
			if err := pool.QueryRow(ctx, referenceSelect, id).Scan(&v); err != nil {
				b.Errorf("select = %v", err)
				return
			}
			if len(v) != 32 {
				b.Errorf("select returned %d bytes, want 32", len(v))
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkReferenceInsert is the yardstick of create: a one-row INSERT,
// committed on its own, at concurrency 16.
func BenchmarkReferenceInsert(b *testing.B) {
	pool := openReference(b)
	ctx := context.Background()
	var next atomic.Int64
	setParallelism(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tag, err := pool.Exec(ctx, referenceInsert, "row "+strconv.FormatInt(next.Add(1), 10))
			if err != nil {
				b.Errorf("insert = %v", err)
				return
			}
			if tag.RowsAffected() != 1 {
				b.Errorf("insert wrote %d rows, want 1", tag.RowsAffected())
				return
			}
		}
	})
	reportRate(b)
}

// reportRate reports the benchmark's throughput as ops/s, the unit of the
// API figures it is compared with.
func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}
