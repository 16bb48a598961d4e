package sqlite_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
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

// BenchmarkLogAppend measures the log's appends of reads' entries (see
// storetest.BenchLogAppend).
func BenchmarkLogAppend(b *testing.B) {
	for _, batch := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("Batch%d", batch), func(b *testing.B) {
			storetest.BenchLogAppend(b, MustOpen(b), batch)
		})
	}
}

// BenchmarkSequence measures the sequencer (see storetest.BenchSequence).
func BenchmarkSequence(b *testing.B) {
	db := MustOpen(b)
	storetest.BenchSequence(b, db)
}

func BenchmarkCreateContact(b *testing.B) {
	storetest.BenchCreateContact(b, MustOpen(b))
}

func BenchmarkGetContact(b *testing.B) {
	storetest.BenchGetContact(b, MustOpen(b), 10000)
}

// loadRecords stores n fixture records of the tenant, in batches.
func loadRecords(tb testing.TB, db *sqlite.DB, tenantID string, n int) []*vault.Record {
	tb.Helper()
	rs := make([]*vault.Record, n)
	for i := range rs {
		rs[i] = storetest.NewRecord(tenantID)
	}
	for i := 0; i < n; i += 5000 {
		if err := db.LoadContacts(context.Background(), rs[i:min(i+5000, n)], storetest.NewEntry(tenantID, "contact.import", "")); err != nil {
			tb.Fatalf("LoadContacts = %v", err)
		}
	}
	return rs
}

// BenchmarkEraseContact measures EraseContact at concurrency 16 in a
// store of at least 10,000 records.
func BenchmarkEraseContact(b *testing.B) {
	db := MustOpen(b)
	tn := storetest.MustCreateTenant(b, db)
	rs := loadRecords(b, db, tn.ID, max(b.N, 10000))
	var next atomic.Int64
	ctx := context.Background()
	setParallelism(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := rs[next.Add(1)-1]
			if err := db.EraseContact(ctx, tn.ID, r.ID, storetest.NewEntry(tn.ID, vault.ActionContactErase, r.ID)); err != nil {
				b.Errorf("EraseContact = %v, want nil", err)
				return
			}
		}
	})
}

// BenchmarkFindContacts measures FindContacts by a unique lookup at
// concurrency 16 in a store of 10,000 records.
func BenchmarkFindContacts(b *testing.B) {
	db := MustOpen(b)
	tn := storetest.MustCreateTenant(b, db)
	rs := loadRecords(b, db, tn.ID, 10000)
	var next atomic.Int64
	ctx := context.Background()
	setParallelism(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := rs[int(next.Add(1))%len(rs)]
			found, err := db.FindContacts(ctx, tn.ID, storetest.FieldEmail, storetest.LookupToken(r, storetest.FieldEmail), 10)
			if err != nil || len(found) != 1 {
				b.Errorf("FindContacts = %d records, %v, want 1", len(found), err)
				return
			}
		}
	})
}

// BenchmarkLoadContacts loads batches of 5,000 records into a growing
// store and reports records per second.
func BenchmarkLoadContacts(b *testing.B) {
	db := MustOpen(b)
	tn := storetest.MustCreateTenant(b, db)
	const batch = 5000
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		rs := make([]*vault.Record, batch)
		for i := range rs {
			rs[i] = storetest.NewRecord(tn.ID)
		}
		b.StartTimer()
		if err := db.LoadContacts(ctx, rs, storetest.NewEntry(tn.ID, "contact.import", "")); err != nil {
			b.Fatalf("LoadContacts = %v", err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
}
