package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// BenchCreateContact measures CreateContact of fixture records, with
// b.RunParallel, on s, which must be empty or hold other tenants.
func BenchCreateContact(b *testing.B, s vault.Store) {
	tn := MustCreateTenant(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := NewRecord(tn.ID)
			if err := s.CreateContact(ctx, r, NewEntry(tn.ID, vault.ActionContactCreate, r.ID)); err != nil {
				b.Errorf("CreateContact = %v, want nil", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
}

// BenchGetContact measures Contact, with b.RunParallel, over n fixture
// records it first loads into s.
func BenchGetContact(b *testing.B, s vault.Store, n int) {
	tn := MustCreateTenant(b, s)
	ctx := context.Background()
	rs := make([]*vault.Record, n)
	for i := range rs {
		rs[i] = NewRecord(tn.ID)
	}
	if err := s.LoadContacts(ctx, rs, NewEntry(tn.ID, "contact.import", "")); err != nil {
		b.Fatalf("LoadContacts(%d) = %v, want nil", n, err)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := rs[int(next.Add(1))%n]
			if _, err := s.Contact(ctx, tn.ID, r.ID); err != nil {
				b.Errorf("Contact = %v, want nil", err)
				return
			}
		}
	})
}

// BenchAppendAudit measures AppendAudit of batches of batch fixture
// entries, with b.RunParallel, on s, and reports entries/s. Nothing
// sequences them meanwhile.
func BenchAppendAudit(b *testing.B, s vault.Store, batch int) {
	tn := MustCreateTenant(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		es := make([]*vault.AuditEntry, batch)
		for pb.Next() {
			for i := range es {
				es[i] = NewEntry(tn.ID, vault.ActionContactRead, "")
			}
			if err := s.AppendAudit(ctx, es); err != nil {
				b.Errorf("AppendAudit(%d) = %v, want nil", batch, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "entries/s")
}

// BenchLogAppend measures audit.Log.Append on s, one call at a time as the
// service's audit writer makes them, with batches of batch fixture entries
// (the writer's group commit gathers one to a few dozen), and reports the
// entries numbered and stored per second.
func BenchLogAppend(b *testing.B, s vault.Store, batch int) {
	tn := MustCreateTenant(b, s)
	l, _ := NewLog(b, s, 0)
	ctx := context.Background()
	es := make([]*audit.Entry, batch)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for j := range es {
			es[j] = AuditEntry(NewEntry(tn.ID, vault.ActionContactRead, ""))
		}
		if err := l.Append(ctx, es...); err != nil {
			b.Fatalf("Append(%d) = %v, want nil", batch, err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "entries/s")
}

// BenchSequence measures the sequencer on s over b.N pending entries, in
// batches of 1,000: reading them, hashing, and storing sequence numbers,
// leaf hashes, nodes and head.
func BenchSequence(b *testing.B, s vault.Store) {
	tn := MustCreateTenant(b, s)
	ctx := context.Background()
	for done := 0; done < b.N; done += 1000 {
		es := make([]*vault.AuditEntry, min(1000, b.N-done))
		for i := range es {
			es[i] = NewEntry(tn.ID, vault.ActionContactRead, vault.NewID(time.Now()))
		}
		if err := s.AppendAudit(ctx, es); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	tree, err := Sequence(ctx, s, 1000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	if tree.Size() != uint64(b.N) {
		b.Fatalf("sequenced %d entries, want %d", tree.Size(), b.N)
	}
}
