package audit_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
)

// genExport writes an export of n generated entries with a checkpoint every
// `every` entries, as a store would, and returns it with the verifier key.
func genExport(tb testing.TB, n, every int) ([]byte, string) {
	tb.Helper()
	s, _, vkey := mustSignerTB(tb)
	var buf bytes.Buffer
	w, err := audit.NewExportWriter(&buf, audit.ExportHeader{Origin: testOrigin, Size: uint64(n)})
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 12))
	tree := &audit.Tree{}
	leaves := make([][]byte, 0, every)
	for i := 0; i < n; {
		leaves = leaves[:0]
		for ; i < n && len(leaves) < every; i++ {
			e := genEntry(r, uint64(i))
			leaf, err := e.LeafHash()
			if err != nil {
				tb.Fatal(err)
			}
			if err := w.WriteEntry(&e, leaf); err != nil {
				tb.Fatal(err)
			}
			leaves = append(leaves, leaf)
		}
		if tree, _, err = tree.Append(leaves...); err != nil {
			tb.Fatal(err)
		}
		note, err := s.Sign(tree.Size(), tree.Root())
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.WriteCheckpoint(note); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), vkey
}

func mustSignerTB(tb testing.TB) (*audit.Signer, string, string) {
	tb.Helper()
	skey, vkey, err := audit.GenerateKey(testOrigin)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := audit.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	return s, skey, vkey
}

// BenchmarkVerify verifies an export of a million entries with a checkpoint
// every 4096 entries (about one a second at 4,000 writes a second).
func BenchmarkVerify(b *testing.B) {
	const n = 1_000_000
	export, vkey := genExport(b, n, 4096)
	b.SetBytes(int64(len(export)))
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		start := cpuTime()
		s, err := audit.Verify(context.Background(), bytes.NewReader(export), vkey, audit.VerifyOptions{})
		cpu += cpuTime() - start
		if err != nil || s.Size != n {
			b.Fatalf("Verify() = %+v, %v", s, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	if cpu > 0 {
		// CPU time of the whole process (garbage collector included): on
		// a busy machine, wall time overstates the cost.
		b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "entries/cpu-s")
	}
}

// proofLog is a stored log of a million leaves for the proof benchmarks.
func proofLog(b *testing.B) (*audit.Tree, *memHashes) {
	b.Helper()
	return buildTree(b, randomLeaves(1_000_000, 13), 4096)
}

func BenchmarkInclusionProof1M(b *testing.B) {
	ctx := context.Background()
	tree, m := proofLog(b)
	r := rand.New(rand.NewPCG(1, 1))
	m.reads = 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := audit.InclusionProof(ctx, m, r.Uint64N(tree.Size()), tree.Size()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.reads)/float64(b.N), "reads/op")
}

func BenchmarkConsistencyProof1M(b *testing.B) {
	ctx := context.Background()
	tree, m := proofLog(b)
	r := rand.New(rand.NewPCG(2, 2))
	m.reads = 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := audit.ConsistencyProof(ctx, m, 1+r.Uint64N(tree.Size()-1), tree.Size()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.reads)/float64(b.N), "reads/op")
}

func BenchmarkLoadTree1M(b *testing.B) {
	ctx := context.Background()
	tree, m := proofLog(b)
	for b.Loop() {
		if _, err := audit.LoadTree(ctx, m, tree.Size()-1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend appends batches of 64 leaves, as a sequencer would.
func BenchmarkAppend(b *testing.B) {
	leaves := randomLeaves(64, 14)
	tree := &audit.Tree{}
	b.ReportAllocs()
	for b.Loop() {
		next, _, err := tree.Append(leaves...)
		if err != nil {
			b.Fatal(err)
		}
		tree = next
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "leaves/s")
}
