package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/coffre/coffre/audit"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// naiveRoot is RFC 6962 section 2.1 MTH, written from the RFC: the largest
// power of two smaller than n splits the leaves.
func naiveRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0]
	}
	k := 1 << (bits.Len(uint(len(leaves)-1)) - 1)
	h := sha256.Sum256(append(append([]byte{1}, naiveRoot(leaves[:k])...), naiveRoot(leaves[k:])...))
	return h[:]
}

func leafHashes(inputs [][]byte) [][]byte {
	out := make([][]byte, len(inputs))
	for i, in := range inputs {
		out[i] = audit.LeafHash(in)
	}
	return out
}

func randomLeaves(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([][]byte, n)
	for i := range out {
		out[i] = audit.LeafHash(fmt.Appendf(nil, "leaf %d %d", i, r.Uint64()))
	}
	return out
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestRFC6962Vectors checks hashes and roots against the RFC 6962 test
// vectors of the Certificate Transparency reference implementation.
func TestRFC6962Vectors(t *testing.T) {
	if got, want := audit.EmptyRoot(), mustHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); !bytes.Equal(got, want) {
		t.Errorf("EmptyRoot() = %x, want %x", got, want)
	}
	if got, want := audit.LeafHash(nil), mustHex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"); !bytes.Equal(got, want) {
		t.Errorf("LeafHash(\"\") = %x, want %x", got, want)
	}
	inputs := [][]byte{{}, {0x00}, {0x10}, {0x20, 0x21}, {0x30, 0x31}, {0x40, 0x41, 0x42, 0x43},
		{0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
		mustHex("606162636465666768696a6b6c6d6e6f")}
	roots := []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	leaves := leafHashes(inputs)
	for n, want := range roots {
		t.Run(fmt.Sprintf("size %d", n), func(t *testing.T) {
			tree, _ := buildTree(t, leaves[:n], 1)
			if got := tree.Root(); hex.EncodeToString(got) != want {
				t.Errorf("Tree.Root() = %x, want %s", got, want)
			}
			if got := naiveRoot(leaves[:n]); hex.EncodeToString(got) != want {
				t.Errorf("naiveRoot() = %x, want %s (the test's reference is wrong)", got, want)
			}
		})
	}
}

func TestTreeMatchesNaive(t *testing.T) {
	leaves := randomLeaves(1100, 1)
	for _, batch := range []int{1, 7, 256, 1100} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			m := newMemHashes()
			tree := &audit.Tree{}
			for i := 0; i < len(leaves); i += batch {
				j := min(i+batch, len(leaves))
				next, nodes, err := tree.Append(leaves[i:j]...)
				if err != nil {
					t.Fatal(err)
				}
				m.add(t, leaves[i:j], nodes)
				if got, want := tree.Size(), uint64(i); got != want {
					t.Fatalf("Append changed the receiver: Size() = %d, want %d", got, want)
				}
				tree = next
				if got, want := tree.Root(), naiveRoot(leaves[:j]); !bytes.Equal(got, want) {
					t.Fatalf("Root() at size %d = %x, want %x", j, got, want)
				}
			}
			if got, want := len(m.levels[8]), len(leaves)/256; got != want {
				t.Errorf("stored %d nodes at level 8, want %d", got, want)
			}
		})
	}
}

func TestTreeFromStorage(t *testing.T) {
	ctx := context.Background()
	leaves := randomLeaves(70000, 2) // reaches the stored level 16
	tree, m := buildTree(t, leaves, 1000)
	if got := len(m.levels[16]); got != 1 {
		t.Fatalf("stored %d nodes at level 16, want 1", got)
	}
	r := rand.New(rand.NewPCG(5, 6))
	sizes := []uint64{0, 1, 2, 255, 256, 257, 65535, 65536, 65537, 70000}
	for range 30 {
		sizes = append(sizes, 1+r.Uint64N(70000))
	}
	for _, size := range sizes {
		want := naiveRoot(leaves[:size])
		got, err := audit.RootAt(ctx, m, size)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("RootAt(%d) = %x, %v; want %x", size, got, err, want)
		}
		loaded, err := audit.LoadTree(ctx, m, size)
		if err != nil {
			t.Fatalf("LoadTree(%d) error %v", size, err)
		}
		if !bytes.Equal(loaded.Root(), want) || loaded.Size() != size {
			t.Errorf("LoadTree(%d) = size %d root %x, want root %x", size, loaded.Size(), loaded.Root(), want)
		}
		// A loaded tree appends like the original.
		if size < 70000 {
			next, _, err := loaded.Append(leaves[size:]...)
			if err != nil || !bytes.Equal(next.Root(), tree.Root()) {
				t.Errorf("LoadTree(%d).Append(rest) root = %x, %v; want %x", size, next.Root(), err, tree.Root())
			}
		}
	}
	if _, err := audit.RootAt(ctx, m, 70001); err == nil {
		t.Error("RootAt(size past the stored tree) = nil error")
	}
}

func TestTreeMarshal(t *testing.T) {
	for _, n := range []int{0, 1, 5, 1000} {
		tree, _ := buildTree(t, randomLeaves(n, 3), 10)
		b, err := tree.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := audit.UnmarshalTree(b)
		if err != nil || got.Size() != tree.Size() || !bytes.Equal(got.Root(), tree.Root()) {
			t.Errorf("UnmarshalTree(MarshalBinary()) size %d: %v", n, err)
		}
		again, err := audit.NewTree(tree.Size(), tree.Hashes())
		if err != nil || !bytes.Equal(again.Root(), tree.Root()) {
			t.Errorf("NewTree(Size(), Hashes()) size %d: %v", n, err)
		}
	}
	bad := [][]byte{nil, {1, 2, 3}, append(make([]byte, 7), 1)}
	for _, b := range bad {
		if _, err := audit.UnmarshalTree(b); err == nil {
			t.Errorf("UnmarshalTree(%x) = nil error", b)
		}
	}
	if _, err := audit.NewTree(3, [][]byte{make([]byte, 32)}); err == nil {
		t.Error("NewTree(3, one hash) = nil error")
	}
	if _, _, err := (&audit.Tree{}).Append([]byte{1}); err == nil {
		t.Error("Append(short hash) = nil error")
	}
}

func TestInclusionProof(t *testing.T) {
	ctx := context.Background()
	leaves := randomLeaves(5000, 4)
	_, m := buildTree(t, leaves, 333)
	r := rand.New(rand.NewPCG(7, 8))
	type pair struct{ index, size uint64 }
	pairs := []pair{{0, 1}, {0, 2}, {1, 2}, {255, 256}, {256, 257}, {4999, 5000}, {0, 5000}}
	for range 200 {
		size := 1 + r.Uint64N(5000)
		pairs = append(pairs, pair{r.Uint64N(size), size})
	}
	// Every pair of a small tree.
	for size := uint64(1); size <= 40; size++ {
		for index := range size {
			pairs = append(pairs, pair{index, size})
		}
	}
	for _, p := range pairs {
		root := naiveRoot(leaves[:p.size])
		got, err := audit.InclusionProof(ctx, m, p.index, p.size)
		if err != nil {
			t.Fatalf("InclusionProof(%d, %d) error %v", p.index, p.size, err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.index, p.size, leaves[p.index], got, root); err != nil {
			t.Errorf("VerifyInclusion(%d, %d) = %v", p.index, p.size, err)
		}
		wrong := leaves[(p.index+1)%uint64(len(leaves))]
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.index, p.size, wrong, got, root); err == nil {
			t.Errorf("VerifyInclusion(%d, %d, wrong leaf) = nil", p.index, p.size)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.index, p.size, leaves[p.index], got, audit.EmptyRoot()); err == nil {
			t.Errorf("VerifyInclusion(%d, %d, wrong root) = nil", p.index, p.size)
		}
	}
	t.Run("ErrOutOfRange", func(t *testing.T) {
		if _, err := audit.InclusionProof(ctx, m, 5, 5); !errors.Is(err, audit.ErrOutOfRange) {
			t.Errorf("InclusionProof(5, 5) error = %v, want ErrOutOfRange", err)
		}
	})
	t.Run("not stored", func(t *testing.T) {
		if _, err := audit.InclusionProof(ctx, m, 5, 6000); err == nil {
			t.Error("InclusionProof(5, 6000) = nil error")
		}
	})
}

func TestConsistencyProof(t *testing.T) {
	ctx := context.Background()
	leaves := randomLeaves(5000, 5)
	_, m := buildTree(t, leaves, 100)
	r := rand.New(rand.NewPCG(9, 10))
	type pair struct{ size1, size2 uint64 }
	pairs := []pair{{0, 0}, {0, 10}, {1, 1}, {1, 2}, {256, 257}, {255, 4096}, {4096, 5000}, {4999, 5000}}
	for range 200 {
		size2 := r.Uint64N(5001)
		pairs = append(pairs, pair{r.Uint64N(size2 + 1), size2})
	}
	for size2 := uint64(1); size2 <= 40; size2++ {
		for size1 := uint64(1); size1 <= size2; size1++ {
			pairs = append(pairs, pair{size1, size2})
		}
	}
	for _, p := range pairs {
		root1, root2 := naiveRoot(leaves[:p.size1]), naiveRoot(leaves[:p.size2])
		got, err := audit.ConsistencyProof(ctx, m, p.size1, p.size2)
		if err != nil {
			t.Fatalf("ConsistencyProof(%d, %d) error %v", p.size1, p.size2, err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, p.size1, p.size2, got, root1, root2); err != nil {
			t.Errorf("VerifyConsistency(%d, %d) = %v", p.size1, p.size2, err)
		}
		if p.size1 > 0 && p.size1 < p.size2 {
			forked := naiveRoot(append([][]byte{leaves[1]}, leaves[1:p.size1]...))
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, p.size1, p.size2, got, forked, root2); err == nil {
				t.Errorf("VerifyConsistency(%d, %d, wrong old root) = nil", p.size1, p.size2)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, p.size1, p.size2, got, root1, audit.EmptyRoot()); err == nil {
				t.Errorf("VerifyConsistency(%d, %d, wrong new root) = nil", p.size1, p.size2)
			}
		}
	}
	if _, err := audit.ConsistencyProof(ctx, m, 3, 2); !errors.Is(err, audit.ErrOutOfRange) {
		t.Errorf("ConsistencyProof(3, 2) error = %v, want ErrOutOfRange", err)
	}
}

// TestProofReads checks that a proof reads a bounded number of tiles, not
// a number of hashes growing with the tree.
func TestProofReads(t *testing.T) {
	ctx := context.Background()
	leaves := randomLeaves(1<<17+12345, 6)
	_, m := buildTree(t, leaves, 4096)
	size := uint64(len(leaves))
	for _, index := range []uint64{0, 77777, size - 1} {
		m.reads = 0
		if _, err := audit.InclusionProof(ctx, m, index, size); err != nil {
			t.Fatal(err)
		}
		if m.reads > 12 {
			t.Errorf("InclusionProof(%d, %d) made %d reads, want at most 12", index, size, m.reads)
		}
	}
	m.reads = 0
	if _, err := audit.ConsistencyProof(ctx, m, 99999, size); err != nil {
		t.Fatal(err)
	}
	if m.reads > 12 {
		t.Errorf("ConsistencyProof made %d reads, want at most 12", m.reads)
	}
}
