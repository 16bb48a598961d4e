package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// RFC 6962 domain separation prefixes.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// TileHeight is the number of tree levels between two stored levels. A store
// keeps the leaf hashes (level 0) and the hash of every complete node whose
// level is a non-zero multiple of TileHeight; any other node is rebuilt from
// at most 2^(TileHeight-1) stored hashes of the level below it.
const TileHeight = 8

// ErrOutOfRange is returned for a leaf index or tree size that does not fit
// the request: an index at or past the tree size, a first size larger than
// the second, or a size larger than the tree.
var ErrOutOfRange = errors.New("audit: index or size out of range")

var factory = &compact.RangeFactory{Hash: hashChildren}

// LeafHash returns the RFC 6962 leaf hash of an encoded entry:
// SHA-256(0x00 || encoding).
func LeafHash(encoding []byte) []byte {
	h := sha256.New()
	h.Write([]byte{leafPrefix})
	h.Write(encoding)
	return h.Sum(make([]byte, 0, HashSize))
}

// EmptyRoot returns the root hash of the empty tree, SHA-256 of no bytes.
func EmptyRoot() []byte {
	h := sha256.Sum256(nil)
	return h[:]
}

// hashChildren returns SHA-256(0x01 || left || right).
func hashChildren(left, right []byte) []byte {
	var b [1 + 2*HashSize]byte
	b[0] = nodePrefix
	copy(b[1:], left)
	copy(b[1+HashSize:], right)
	h := sha256.Sum256(b[:])
	return h[:]
}

// Node is the hash of a complete subtree: the node at Level (0 for leaves)
// with the given Index within that level, covering leaves
// [Index<<Level, (Index+1)<<Level).
type Node struct {
	Level uint
	Index uint64
	Hash  []byte
}

// HashReader is the storage the tree reads. A store implements it over the
// leaf hash it keeps with every entry (level 0) and a table of the node
// hashes that Tree.Append returns (levels TileHeight, 2*TileHeight, ...).
type HashReader interface {
	// ReadHashes returns, in index order, the hashes of the nodes at level
	// with indices [start, end). Level is 0 or a multiple of TileHeight, and
	// the nodes are complete nodes of the stored tree. A hash that is not
	// stored is an error.
	ReadHashes(ctx context.Context, level uint, start, end uint64) ([][]byte, error)
}

// Tree is the compact range of a log of Size leaves: the hashes of the
// largest complete subtrees covering [0, Size), at most one per level, which
// is all that is needed to compute the root and to append. A Tree is
// immutable and safe for concurrent use; the zero value is the empty tree.
type Tree struct {
	size   uint64
	hashes [][]byte
	root   []byte
}

// NewTree returns the tree of the given size whose compact range is hashes,
// ordered left to right (largest subtree first), as Tree.Hashes returns it.
func NewTree(size uint64, hashes [][]byte) (*Tree, error) {
	if got, want := len(hashes), compact.RangeSize(0, size); got != want {
		return nil, fmt.Errorf("audit.NewTree: %d hashes for size %d, want %d", got, size, want)
	}
	hs := make([][]byte, len(hashes))
	for i, h := range hashes {
		if len(h) != HashSize {
			return nil, fmt.Errorf("audit.NewTree: hash %d has %d bytes", i, len(h))
		}
		hs[i] = bytes.Clone(h)
	}
	return newTree(size, hs), nil
}

func newTree(size uint64, hashes [][]byte) *Tree {
	t := &Tree{size: size, hashes: hashes}
	t.root = foldRoot(hashes)
	return t
}

// foldRoot returns the root of a tree from its compact range.
func foldRoot(hashes [][]byte) []byte {
	if len(hashes) == 0 {
		return EmptyRoot()
	}
	root := hashes[len(hashes)-1]
	for i := len(hashes) - 2; i >= 0; i-- {
		root = hashChildren(hashes[i], root)
	}
	return root
}

// LoadTree returns the tree of the given size read from r: it reads the
// compact range of [0, size), at most 64 nodes, each rebuilt from at most
// 2^(TileHeight-1) stored hashes.
func LoadTree(ctx context.Context, r HashReader, size uint64) (*Tree, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := nodeHashes(ctx, r, ids)
	if err != nil {
		return nil, fmt.Errorf("audit.LoadTree: %w", err)
	}
	return newTree(size, hashes), nil
}

// Size returns the number of leaves in t.
func (t *Tree) Size() uint64 { return t.size }

// Root returns the RFC 6962 root hash of t.
func (t *Tree) Root() []byte {
	if t.root == nil {
		return EmptyRoot()
	}
	return bytes.Clone(t.root)
}

// Hashes returns a copy of t's compact range, for NewTree.
func (t *Tree) Hashes() [][]byte {
	hs := make([][]byte, len(t.hashes))
	for i, h := range t.hashes {
		hs[i] = bytes.Clone(h)
	}
	return hs
}

// Append returns the tree with leafHashes appended, and the nodes the store
// must keep for HashReader (every node completed by these leaves whose level
// is a non-zero multiple of TileHeight; the leaf hashes themselves are not
// repeated). t is unchanged, so a caller can discard the result if the
// transaction storing the leaves fails.
func (t *Tree) Append(leafHashes ...[]byte) (*Tree, []Node, error) {
	hs := make([][]byte, len(t.hashes), len(t.hashes)+1)
	copy(hs, t.hashes)
	rng, err := factory.NewRange(0, t.size, hs)
	if err != nil {
		return nil, nil, fmt.Errorf("audit.Tree.Append: %w", err)
	}
	var nodes []Node
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level > 0 && id.Level%TileHeight == 0 {
			nodes = append(nodes, Node{Level: id.Level, Index: id.Index, Hash: hash})
		}
	}
	for i, h := range leafHashes {
		if len(h) != HashSize {
			return nil, nil, fmt.Errorf("audit.Tree.Append: leaf hash %d has %d bytes", i, len(h))
		}
		if err := rng.Append(bytes.Clone(h), visit); err != nil {
			return nil, nil, fmt.Errorf("audit.Tree.Append: %w", err)
		}
	}
	return newTree(rng.End(), rng.Hashes()), nodes, nil
}

// MarshalBinary encodes t as its size (8 bytes, big-endian) followed by its
// compact range hashes, so a store can keep the head of the log in one row.
func (t *Tree) MarshalBinary() ([]byte, error) {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(t.hashes)*HashSize), t.size)
	for _, h := range t.hashes {
		b = append(b, h...)
	}
	return b, nil
}

// UnmarshalTree decodes the output of Tree.MarshalBinary.
func UnmarshalTree(b []byte) (*Tree, error) {
	if len(b) < 8 || (len(b)-8)%HashSize != 0 {
		return nil, errors.New("audit.UnmarshalTree: malformed tree")
	}
	size := binary.BigEndian.Uint64(b)
	var hs [][]byte
	for b = b[8:]; len(b) > 0; b = b[HashSize:] {
		hs = append(hs, b[:HashSize])
	}
	t, err := NewTree(size, hs)
	if err != nil {
		return nil, fmt.Errorf("audit.UnmarshalTree: %w", err)
	}
	return t, nil
}

// RootAt returns the root hash of the tree of the given size read from r.
func RootAt(ctx context.Context, r HashReader, size uint64) ([]byte, error) {
	hashes, err := nodeHashes(ctx, r, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, fmt.Errorf("audit.RootAt: %w", err)
	}
	return foldRoot(hashes), nil
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of the given size, as proof.VerifyInclusion takes it. It returns
// ErrOutOfRange if index >= size; the caller checks that size does not
// exceed the stored tree.
func InclusionProof(ctx context.Context, r HashReader, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("audit.InclusionProof: %w: index %d, size %d", ErrOutOfRange, index, size)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("audit.InclusionProof: %w", err)
	}
	p, err := rehash(ctx, r, nodes)
	if err != nil {
		return nil, fmt.Errorf("audit.InclusionProof: %w", err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes size1 and size2, as proof.VerifyConsistency takes it. It returns
// ErrOutOfRange if size1 > size2.
func ConsistencyProof(ctx context.Context, r HashReader, size1, size2 uint64) ([][]byte, error) {
	if size1 > size2 {
		return nil, fmt.Errorf("audit.ConsistencyProof: %w: size %d > %d", ErrOutOfRange, size1, size2)
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("audit.ConsistencyProof: %w", err)
	}
	p, err := rehash(ctx, r, nodes)
	if err != nil {
		return nil, fmt.Errorf("audit.ConsistencyProof: %w", err)
	}
	return p, nil
}

func rehash(ctx context.Context, r HashReader, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := nodeHashes(ctx, r, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hashChildren)
}

// span is a run of stored hashes at one stored level, within one tile.
type span struct {
	level      uint
	start, end uint64
	hashes     [][]byte
}

// nodeHashes returns the hashes of the complete nodes ids. Each node at
// level l is rebuilt from the stored level s = l - l%TileHeight below it:
// its 2^(l-s) descendants there lie within one tile (a run of 2^TileHeight
// stored hashes), so the nodes of a proof, which cluster along one path,
// need one read per tile touched, a handful per proof.
func nodeHashes(ctx context.Context, r HashReader, ids []compact.NodeID) ([][]byte, error) {
	// Group the stored ranges needed by tile, and merge them.
	type tileKey struct {
		level uint
		tile  uint64
	}
	spans := map[tileKey]*span{}
	var order []tileKey
	for _, id := range ids {
		s := id.Level - id.Level%TileHeight
		start, end := id.Index<<(id.Level-s), (id.Index+1)<<(id.Level-s)
		k := tileKey{s, start >> TileHeight}
		sp, ok := spans[k]
		if !ok {
			sp = &span{level: s, start: start, end: end}
			spans[k] = sp
			order = append(order, k)
		}
		sp.start, sp.end = min(sp.start, start), max(sp.end, end)
	}
	for _, k := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sp := spans[k]
		hs, err := r.ReadHashes(ctx, sp.level, sp.start, sp.end)
		if err != nil {
			return nil, fmt.Errorf("read level %d [%d, %d): %w", sp.level, sp.start, sp.end, err)
		}
		if uint64(len(hs)) != sp.end-sp.start {
			return nil, fmt.Errorf("read level %d [%d, %d): got %d hashes", sp.level, sp.start, sp.end, len(hs))
		}
		for i, h := range hs {
			if len(h) != HashSize {
				return nil, fmt.Errorf("read level %d index %d: hash of %d bytes", sp.level, sp.start+uint64(i), len(h))
			}
		}
		sp.hashes = hs
	}
	out := make([][]byte, len(ids))
	var scratch [][]byte
	for i, id := range ids {
		s := id.Level - id.Level%TileHeight
		start := id.Index << (id.Level - s)
		sp := spans[tileKey{s, start >> TileHeight}]
		run := sp.hashes[start-sp.start : start-sp.start+1<<(id.Level-s)]
		if len(run) == 1 {
			out[i] = bytes.Clone(run[0])
			continue
		}
		scratch = append(scratch[:0], run...)
		for len(scratch) > 1 {
			for j := 0; j < len(scratch)/2; j++ {
				scratch[j] = hashChildren(scratch[2*j], scratch[2*j+1])
			}
			scratch = scratch[:len(scratch)/2]
		}
		out[i] = scratch[0]
	}
	return out, nil
}
