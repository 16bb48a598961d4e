package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/storetest"
)

// benchConcurrency is the number of concurrent callers of the parallel
// benchmarks, the concurrency of the API's performance targets.
const benchConcurrency = 16

// setParallelism makes b.RunParallel run benchConcurrency goroutines.
func setParallelism(b *testing.B) {
	b.SetParallelism((benchConcurrency + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
}

// BenchmarkCreateContact measures CreateContact (record, lookups and
// unsequenced audit entry in one transaction) at concurrency 16.
func BenchmarkCreateContact(b *testing.B) {
	db, _ := pgtest.MustOpen(b)
	setParallelism(b)
	storetest.BenchCreateContact(b, db)
}

// BenchmarkCreateContactNoAudit is BenchmarkCreateContact with the audit
// entry left out of the transaction: the ratio of the two is what the
// audit costs a write.
func BenchmarkCreateContactNoAudit(b *testing.B) {
	db, _ := pgtest.MustOpen(b)
	postgres.SkipAudit(db)
	setParallelism(b)
	storetest.BenchCreateContact(b, db)
}

// BenchmarkCreateContactSequenced is BenchmarkCreateContact with a
// sequencer numbering the entries meanwhile, as in production, on the same
// database and CPUs.
func BenchmarkCreateContactSequenced(b *testing.B) {
	db, _ := pgtest.MustOpen(b)
	setParallelism(b)
	stop := storetest.StartSequencer(db, 5*time.Millisecond)
	storetest.BenchCreateContact(b, db)
	b.StopTimer()
	if _, err := stop(); err != nil {
		b.Fatalf("sequencer: %v", err)
	}
}

// BenchmarkAppendAudit measures AppendAudit at concurrency 16, one entry
// per call (what a lone read appends) and batches of 64 (what the
// service's group commit gathers under load).
func BenchmarkAppendAudit(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("Batch%d", batch), func(b *testing.B) {
			db, _ := pgtest.MustOpen(b)
			setParallelism(b)
			storetest.BenchAppendAudit(b, db, batch)
		})
	}
}

// BenchmarkLogAppend measures the log's appends of reads' entries (see
// storetest.BenchLogAppend).
func BenchmarkLogAppend(b *testing.B) {
	for _, batch := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("Batch%d", batch), func(b *testing.B) {
			db, _ := pgtest.MustOpen(b)
			storetest.BenchLogAppend(b, db, batch)
		})
	}
}

// BenchmarkSequence measures the sequencer (see storetest.BenchSequence).
func BenchmarkSequence(b *testing.B) {
	db, _ := pgtest.MustOpen(b)
	storetest.BenchSequence(b, db)
}

// BenchmarkGetContact measures Contact over 10,000 records at concurrency
// 16.
func BenchmarkGetContact(b *testing.B) {
	db, _ := pgtest.MustOpen(b)
	setParallelism(b)
	storetest.BenchGetContact(b, db, 10000)
}

// BenchmarkLoadContacts measures LoadContacts in batches of 5,000 records
// (the service's default); records/s is the bulk-load rate.
func BenchmarkLoadContacts(b *testing.B) {
	db, _ := pgtest.MustOpen(b)
	tn := storetest.MustCreateTenant(b, db)
	const batch = 5000
	rs := make([]*vault.Record, batch)
	b.ResetTimer()
	var store time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range rs {
			rs[j] = storetest.NewRecord(tn.ID)
		}
		b.StartTimer()
		start := time.Now()
		if err := db.LoadContacts(context.Background(), rs, storetest.NewEntry(tn.ID, "contact.import", "")); err != nil {
			b.Fatalf("LoadContacts = %v, want nil", err)
		}
		store += time.Since(start)
	}
	b.ReportMetric(float64(b.N*batch)/store.Seconds(), "records/s")
}

// plaintextSchema is the baseline: the same contacts without protection,
// personal fields in plain text columns, the same keys and indexes (unique
// email, shared phone, GIN over the segmentable interests), no audit.
const plaintextSchema = `CREATE TABLE plaintext_contacts (
	tenant_id     text NOT NULL,
	id            uuid NOT NULL,
	given_name    text,
	family_name   text,
	email         text,
	phone         text,
	address       text,
	postal_code   text,
	district      text,
	birth_date    text,
	interests     text[] NOT NULL DEFAULT '{}',
	support_level text,
	notes         text,
	consents      jsonb NOT NULL DEFAULT '{}',
	restricted    boolean NOT NULL DEFAULT false,
	objected      boolean NOT NULL DEFAULT false,
	version       bigint NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX plaintext_contacts_email ON plaintext_contacts (tenant_id, email);
CREATE INDEX plaintext_contacts_phone ON plaintext_contacts (tenant_id, phone);
CREATE INDEX plaintext_contacts_interests ON plaintext_contacts USING gin (interests);`

const plaintextInsert = `INSERT INTO plaintext_contacts (tenant_id, id, given_name, family_name, email, phone,
	address, postal_code, district, birth_date, interests, support_level, notes, consents, restricted, objected,
	version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`

const plaintextGet = `SELECT given_name, family_name, email, phone, address, postal_code, district, birth_date,
	interests, support_level, notes, consents, restricted, objected, version, created_at, updated_at
FROM plaintext_contacts WHERE tenant_id = $1 AND id = $2`

// openPlaintext returns a pool, of the store's default size, on a fresh
// schema holding the baseline table.
func openPlaintext(b *testing.B) *pgxpool.Pool {
	return openPool(b, postgres.DefaultMaxConns(), plaintextSchema)
}

// openPool returns a pool of at most maxConns connections on a fresh
// schema, where it has run schema.
func openPool(b *testing.B, maxConns int32, schema string) *pgxpool.Pool {
	b.Helper()
	_, u := pgtest.MustOpen(b)
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), schema); err != nil {
		b.Fatal(err)
	}
	return pool
}

var plainSeq atomic.Int64

// plaintextArgs returns the values of a baseline contact as the service
// would hold them before sealing.
func plaintextArgs(tenantID string) []any {
	n := plainSeq.Add(1)
	now := storetest.Now()
	return []any{tenantID, vault.NewID(now), "Marianne", "Dupont-Lefèvre",
		fmt.Sprintf("marianne.dupont%d@example.org", n), fmt.Sprintf("+3361234%05d", n%100000),
		"12 rue de la République, 69001 Lyon", "69001", "lyon-1", "1984-05-17",
		[]string{"environment", "transport"}, "3", "Met at the market; wants the newsletter.",
		[]byte(`{"newsletter":{"granted":true,"at":"2025-01-01T00:00:00Z"},"sms":{"granted":false,"at":"2025-01-01T00:00:00Z"}}`),
		false, false, int64(1), now, now}
}

// BenchmarkPlaintextInsert is the baseline of BenchmarkCreateContact: one
// INSERT of plain text columns per contact, no audit entry.
func BenchmarkPlaintextInsert(b *testing.B) {
	pool := openPlaintext(b)
	ctx := context.Background()
	setParallelism(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := pool.Exec(ctx, plaintextInsert, plaintextArgs("tenant-bench")...); err != nil {
				b.Errorf("insert = %v", err)
				return
			}
		}
	})
}

// BenchmarkPlaintextGet is the baseline of BenchmarkGetContact: a
// primary-key SELECT over 10,000 plain text contacts.
func BenchmarkPlaintextGet(b *testing.B) {
	pool := openPlaintext(b)
	ctx := context.Background()
	const n = 10000
	ids := make([]string, n)
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = plaintextArgs("tenant-bench")
		ids[i] = rows[i][1].(string)
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"plaintext_contacts"}, []string{"tenant_id", "id", "given_name",
		"family_name", "email", "phone", "address", "postal_code", "district", "birth_date", "interests",
		"support_level", "notes", "consents", "restricted", "objected", "version", "created_at", "updated_at"},
		pgx.CopyFromRows(rows))
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	setParallelism(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var (
			given, family, email, phone, address, postal, district, birth, level, notes *string
			interests                                                                   []string
			consents                                                                    []byte
			restricted, objected                                                        bool
			version                                                                     int64
			created, updated                                                            time.Time
		)
		for pb.Next() {
			id := ids[int(next.Add(1))%n]
			err := pool.QueryRow(ctx, plaintextGet, "tenant-bench", id).Scan(&given, &family, &email, &phone,
				&address, &postal, &district, &birth, &interests, &level, &notes, &consents, &restricted, &objected,
				&version, &created, &updated)
			if err != nil {
				b.Errorf("get = %v", err)
				return
			}
		}
	})
}
