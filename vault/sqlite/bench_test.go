package sqlite_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/sqlite"
	"github.com/coffre/coffre/vault/storetest"
)

// benchConcurrency is the number of concurrent callers of the parallel
// audit benchmarks, the concurrency of the API's performance targets.
const benchConcurrency = 16

// setParallelism makes b.RunParallel run at least benchConcurrency
// goroutines.
func setParallelism(b *testing.B) {
	b.SetParallelism((benchConcurrency + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
}

// BenchmarkCreateContactAudited measures CreateContact (record, lookups
// and unsequenced audit entry in one transaction) at concurrency 16.
func BenchmarkCreateContactAudited(b *testing.B) {
	db := MustOpen(b)
	setParallelism(b)
	storetest.BenchCreateContact(b, db)
}

// BenchmarkCreateContactNoAudit is BenchmarkCreateContactAudited with the
// audit entry left out of the transaction: the ratio of the two is what
// the audit costs a write.
func BenchmarkCreateContactNoAudit(b *testing.B) {
	db := MustOpen(b)
	sqlite.SkipAudit(db)
	setParallelism(b)
	storetest.BenchCreateContact(b, db)
}

// BenchmarkCreateContactSequenced is BenchmarkCreateContactAudited with a
// sequencer numbering the entries meanwhile, as in production: its
// batches take turns with the writes on the single writer.
func BenchmarkCreateContactSequenced(b *testing.B) {
	db := MustOpen(b)
	setParallelism(b)
	stop := storetest.StartSequencer(db, 100*time.Millisecond)
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
			db := MustOpen(b)
			setParallelism(b)
			storetest.BenchAppendAudit(b, db, batch)
		})
	}
}

// BenchmarkSequence measures the sequencer over b.N pending entries, in
// batches of 1,000: reading them, hashing, and storing sequence numbers,
// leaf hashes, nodes and head.
func BenchmarkSequence(b *testing.B) {
	db := MustOpen(b)
	tn := storetest.MustCreateTenant(b, db)
	ctx := context.Background()
	for done := 0; done < b.N; done += 1000 {
		es := make([]*vault.AuditEntry, min(1000, b.N-done))
		for i := range es {
			es[i] = storetest.NewEntry(tn.ID, vault.ActionContactRead, vault.NewID(time.Now()))
		}
		if err := db.AppendAudit(ctx, es); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	tree, err := storetest.Sequence(ctx, db, 1000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	if tree.Size() != uint64(b.N) {
		b.Fatalf("sequenced %d entries, want %d", tree.Size(), b.N)
	}
}
