package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/transparency-dev/merkle/compact"
)

// Verify failures: a *VerifyError wraps one of these, or ErrSignature or
// ErrCheckpoint for a checkpoint line that does not open.
var (
	// ErrFormat: a line is not in the canonical export format.
	ErrFormat = errors.New("audit: malformed export")
	// ErrSequence: an entry line holds another sequence number than the
	// next one (an entry deleted, moved or repeated).
	ErrSequence = errors.New("audit: entry out of sequence")
	// ErrLeafHash: an entry does not hash to the leaf hash stored with it
	// (the entry, or its stored hash, was changed).
	ErrLeafHash = errors.New("audit: entry does not match its leaf hash")
	// ErrRootMismatch: the entries since the previous checkpoint, although
	// each matches its stored leaf hash, do not give the signed root (the
	// entries and their stored hashes were both changed).
	ErrRootMismatch = errors.New("audit: entries do not match the signed checkpoint")
	// ErrMissing: entries are missing before a checkpoint or at the end,
	// against the export's own checkpoints and header, the old checkpoint
	// or the previous export.
	ErrMissing = errors.New("audit: entries missing")
	// ErrUnsigned: entries follow the last checkpoint, so no signature
	// covers them.
	ErrUnsigned = errors.New("audit: entries not covered by a checkpoint")
	// ErrFork: the log is not an extension of the old checkpoint or of the
	// previous export, though it may be consistent in itself: history was
	// rewritten and re-signed.
	ErrFork = errors.New("audit: log differs from an earlier checkpoint")
)

// VerifyError is the failure Verify reports: the first entry that does not
// match, and why. Its message holds sequence numbers, sizes and line
// numbers, never the content of an entry.
type VerifyError struct {
	// Err is one of the Verify sentinel errors.
	Err error
	// Seq is the first entry that does not match, is missing or is not
	// proven. [Seq, End) is the range of suspect entries: End is Seq+1 when
	// the failure is pinned to one entry, and larger when only a checkpoint
	// root shows it (the change lies somewhere in the range).
	Seq, End uint64
	// Line is the 1-based line of the export where the failure showed, 0
	// if it showed at the end or outside the export.
	Line int
	// Previous reports that the failure is in the previous export (see
	// VerifyOptions.Previous) rather than in the one being verified.
	Previous bool
	// Detail says what was found, for people.
	Detail string
}

// Error implements the error interface.
func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString("audit.Verify: ")
	if e.Previous {
		b.WriteString("previous export: ")
	}
	if e.End > e.Seq+1 {
		fmt.Fprintf(&b, "entries %d to %d", e.Seq, e.End-1)
	} else {
		fmt.Fprintf(&b, "entry %d", e.Seq)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "audit: "))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns Err, for errors.Is.
func (e *VerifyError) Unwrap() error { return e.Err }

// VerifyOptions are the optional inputs of Verify.
type VerifyOptions struct {
	// OldCheckpoint is a signed checkpoint the verifier obtained earlier
	// (from the API or an earlier export). The log must contain it: its
	// size must not exceed the export's and its root must equal the
	// recomputed root at its size. A root alone cannot say where a
	// rewritten history first differs: the error spans [0, size).
	OldCheckpoint []byte
	// Previous is an earlier export of the same log. It is verified too,
	// and the log must extend it entry by entry, so that a rewritten and
	// re-signed history is pinned to the first entry that differs.
	Previous io.Reader
	// Progress, if set, is called from time to time and at the end with
	// the number of entries verified and the number the header announces.
	Progress func(done, total uint64)
}

// Summary describes a verified export.
type Summary struct {
	Origin string
	// Tenant is the export's tenant, "" for a full export.
	Tenant string
	// Size is the number of entries, Root the root hash at that size and
	// Checkpoint the last signed checkpoint, which proves them; keep it
	// as the OldCheckpoint of the next verification.
	Size       uint64
	Root       []byte
	Checkpoint []byte
	// Checkpoints is the number of checkpoints verified.
	Checkpoints int
	// Redacted is the number of entries shown only as their leaf hash.
	Redacted uint64
}

// progressEvery is how many entries pass between Progress calls and
// context checks.
const progressEvery = 1 << 14

// Verify reads an export from r and checks it against the log's verifier
// key vkey, offline: every entry line is re-encoded and hashed and must
// equal the leaf hash stored with it; sequence numbers must run from 0
// without gaps; every checkpoint must carry a valid signature by vkey and
// its root must equal the root recomputed over all entries up to its size;
// the last checkpoint must cover every entry and the header's size; and the
// log must extend opts.OldCheckpoint and opts.Previous.
//
// It returns a *VerifyError naming the first entry that does not match, or
// another error if vkey, the old checkpoint or the readers fail. Verify
// holds O(log n) hashes in memory whatever the size of the export.
func Verify(ctx context.Context, r io.Reader, vkey string, opts VerifyOptions) (*Summary, error) {
	v, err := NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit.Verify: %w", err)
	}
	var old *Checkpoint
	if opts.OldCheckpoint != nil {
		if old, err = v.Open(opts.OldCheckpoint); err != nil {
			return nil, fmt.Errorf("audit.Verify: old checkpoint: %w", err)
		}
	}
	cur, err := newStream(r, v, false)
	if err != nil {
		return nil, err
	}
	if old != nil && old.Size == 0 && !bytes.Equal(old.Hash, EmptyRoot()) {
		return nil, &VerifyError{Err: ErrFork, Detail: "the old checkpoint of size 0 has a non-empty root"}
	}
	var prev *stream
	if opts.Previous != nil {
		if prev, err = newStream(opts.Previous, v, true); err != nil {
			return nil, err
		}
	}
	var oldRoot []byte // the recomputed root at the old checkpoint's size
	total := cur.hdr.Size
	for {
		ev, err := cur.next()
		if err != nil {
			return nil, err
		}
		if ev == evEOF {
			break
		}
		if ev != evEntry {
			if err := checkOld(old, oldRoot, cur.verified); err != nil {
				return nil, err
			}
			continue
		}
		seq := cur.n - 1
		if prev != nil {
			pl, err := prev.nextEntry()
			if err != nil {
				return nil, err
			}
			if pl == nil {
				prev = nil // ended, and verified, before this log
			} else if !bytes.Equal(pl, cur.leaf) {
				// Prove the previous export first: a difference with an
				// unproven export means nothing.
				line := prev.entryLine
				if err := prev.drain(); err != nil {
					return nil, err
				}
				return nil, &VerifyError{Err: ErrFork, Seq: seq, End: seq + 1, Line: cur.line,
					Detail: fmt.Sprintf("its leaf hash differs from entry %d of the previous export, line %d", seq, line)}
			}
		}
		if old != nil && cur.n == old.Size {
			// Compared once a checkpoint of the export covers this size:
			// a failure of the export itself is more precise.
			oldRoot = cur.root()
		}
		if err := checkOld(old, oldRoot, cur.verified); err != nil {
			return nil, err
		}
		if cur.n%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if opts.Progress != nil {
				opts.Progress(cur.n, total)
			}
		}
	}
	if err := cur.finish(); err != nil {
		return nil, err
	}
	if err := checkOld(old, oldRoot, cur.verified); err != nil {
		return nil, err
	}
	if old != nil && old.Size > cur.n {
		return nil, &VerifyError{Err: ErrMissing, Seq: cur.n, End: old.Size,
			Detail: fmt.Sprintf("the old checkpoint covers %d entries, the export %d", old.Size, cur.n)}
	}
	if prev != nil {
		pl, err := prev.nextEntry()
		if err != nil {
			return nil, err
		}
		if pl != nil {
			if err := prev.drain(); err != nil {
				return nil, err
			}
			return nil, &VerifyError{Err: ErrMissing, Seq: cur.n, End: prev.n,
				Detail: fmt.Sprintf("the previous export holds %d entries, this one %d", prev.n, cur.n)}
		}
	}
	if opts.Progress != nil {
		opts.Progress(cur.n, total)
	}
	return &Summary{Origin: cur.hdr.Origin, Tenant: cur.hdr.Tenant, Size: cur.n, Root: cur.root(),
		Checkpoint: cur.last, Checkpoints: cur.cps, Redacted: cur.redacted}, nil
}

// checkOld compares the old checkpoint with the recomputed root at its
// size, once the export has proven that size.
func checkOld(old *Checkpoint, root []byte, verified uint64) error {
	if old == nil || root == nil || verified < old.Size || bytes.Equal(root, old.Hash) {
		return nil
	}
	return &VerifyError{Err: ErrFork, Seq: 0, End: old.Size,
		Detail: fmt.Sprintf("the export's root at size %d differs from the old checkpoint's; verify against the export that checkpoint came from to name the entry", old.Size)}
}

// tenantAt is the offset of the tenant in 0x00 || entry encoding.
const tenantAt = 1 + 1 + 8 + 8

type event int

const (
	evEOF event = iota
	evEntry
	evCheckpoint
)

// stream verifies one export line by line.
type stream struct {
	v        *Verifier
	r        *bufio.Reader
	previous bool // the stream is VerifyOptions.Previous

	line      int // lines read
	entryLine int // line of the last entry
	long      []byte
	hdr       ExportHeader

	rng      *compact.Range
	n        uint64 // entries read
	verified uint64 // size of the last checkpoint verified
	cps      int
	last     []byte // last checkpoint verified
	leaf     []byte // leaf hash of the last entry read
	redacted uint64

	enc      []byte // 0x00 || entry encoding
	tenantLV []byte // the header's tenant, length-prefixed as in enc
	stored   [HashSize + 1]byte
	note     []byte
}

func newStream(r io.Reader, v *Verifier, previous bool) (*stream, error) {
	s := &stream{v: v, r: bufio.NewReaderSize(r, 1<<20), previous: previous, rng: factory.NewEmptyRange(0)}
	line, err := s.readLine()
	if err == io.EOF {
		return nil, s.fail(ErrFormat, 0, 0, "empty export")
	} else if err != nil {
		return nil, err
	}
	p := lineParser{b: line, ok: true}
	p.lit(`{"coffre_audit_export":`)
	format := p.uint()
	p.lit(`,"origin":`)
	origin := p.str(nil)
	p.lit(`,"tenant":`)
	tenant := p.str(nil)
	p.lit(`,"size":`)
	s.hdr.Size = p.uint()
	p.lit(`}`)
	if !p.ok || p.i != len(line) {
		return nil, s.fail(ErrFormat, 0, 0, "the first line is not an export header")
	}
	if format != ExportFormat {
		return nil, s.fail(ErrFormat, 0, 0, fmt.Sprintf("export format %d, want %d", format, ExportFormat))
	}
	s.hdr.Origin, s.hdr.Tenant = string(origin), string(tenant)
	s.tenantLV = binary.BigEndian.AppendUint32(nil, uint32(len(tenant)))
	s.tenantLV = append(s.tenantLV, tenant...)
	if s.hdr.Origin != v.Origin() {
		return nil, s.fail(ErrCheckpoint, 0, 0, fmt.Sprintf("export of log %q, key of log %q", s.hdr.Origin, v.Origin()))
	}
	return s, nil
}

func (s *stream) fail(err error, seq, end uint64, detail string) *VerifyError {
	if end <= seq {
		end = seq + 1
	}
	return &VerifyError{Err: err, Seq: seq, End: end, Line: s.line, Previous: s.previous, Detail: detail}
}

// readLine returns the next line without its newline, or io.EOF after the
// last one. Every line, the last included, must end in a newline.
func (s *stream) readLine() ([]byte, error) {
	b, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.long = append(s.long[:0], b...)
		for err == bufio.ErrBufferFull && len(s.long) <= MaxLineSize {
			b, err = s.r.ReadSlice('\n')
			s.long = append(s.long, b...)
		}
		b = s.long
	}
	s.line++
	switch {
	case err == io.EOF && len(b) == 0:
		s.line--
		return nil, io.EOF
	case err == io.EOF:
		return nil, s.fail(ErrFormat, s.n, 0, "the last line does not end in a newline")
	case len(b) > MaxLineSize:
		return nil, s.fail(ErrFormat, s.n, 0, fmt.Sprintf("line longer than %d bytes", MaxLineSize))
	case err != nil:
		return nil, fmt.Errorf("audit.Verify: read: %w", err)
	}
	return b[:len(b)-1], nil
}

// root returns the root hash of the entries read so far.
func (s *stream) root() []byte {
	return foldRoot(s.rng.Hashes())
}

// next reads and checks one line.
func (s *stream) next() (event, error) {
	line, err := s.readLine()
	if err == io.EOF {
		return evEOF, nil
	} else if err != nil {
		return evEOF, err
	}
	p := lineParser{b: line, ok: true}
	switch {
	case p.has(`{"seq":`):
		return evEntry, s.entry(&p)
	case p.has(`{"checkpoint":`):
		return evCheckpoint, s.checkpoint(&p)
	}
	return evEOF, s.fail(ErrFormat, s.n, 0, "neither an entry nor a checkpoint")
}

// entry checks an entry line and appends its leaf to the tree.
func (s *stream) entry(p *lineParser) error {
	p.lit(`{"seq":`)
	seq := p.uint()
	if !p.ok {
		return s.fail(ErrFormat, s.n, 0, "invalid sequence number")
	}
	if seq != s.n {
		return s.fail(ErrSequence, s.n, 0, fmt.Sprintf("entry %d is missing or out of order: the line holds entry %d", s.n, seq))
	}
	var leaf []byte
	if p.has(`,"leaf":`) {
		p.lit(`,"leaf":`)
		stored := p.b64(s.stored[:0])
		p.lit(`}`)
		if !p.ok || p.i != len(p.b) || len(stored) != HashSize {
			return s.fail(ErrFormat, seq, 0, "malformed redacted entry")
		}
		if s.hdr.Tenant == "" {
			return s.fail(ErrFormat, seq, 0, "a redacted entry in a full export")
		}
		leaf = bytes.Clone(stored)
		s.redacted++
	} else {
		enc := append(s.enc[:0], leafPrefix, Version)
		enc = binary.BigEndian.AppendUint64(enc, seq)
		p.lit(`,"time":`)
		enc = binary.BigEndian.AppendUint64(enc, uint64(p.time()))
		p.lit(`,"tenant":`)
		enc = p.lenString(enc)
		p.lit(`,"actor_id":`)
		enc = p.lenString(enc)
		p.lit(`,"actor_role":`)
		enc = p.lenString(enc)
		p.lit(`,"action":`)
		enc = p.lenString(enc)
		p.lit(`,"subject":`)
		enc = p.lenString(enc)
		p.lit(`,"fields":[`)
		at, count := len(enc), uint32(0)
		enc = append(enc, 0, 0, 0, 0)
		if !p.has(`]`) {
			for p.ok {
				enc = p.lenString(enc)
				count++
				if !p.has(`,`) {
					break
				}
				p.lit(`,`)
			}
		}
		binary.BigEndian.PutUint32(enc[at:], count)
		p.lit(`],"purpose":`)
		enc = p.lenString(enc)
		p.lit(`,"outcome":`)
		enc = p.lenString(enc)
		p.lit(`,"request_id":`)
		enc = p.lenString(enc)
		p.lit(`,"decision_id":`)
		enc = p.lenString(enc)
		p.lit(`,"policy_revision":`)
		enc = p.lenString(enc)
		p.lit(`,"sealed":`)
		at = len(enc)
		enc = p.b64(append(enc, 0, 0, 0, 0))
		binary.BigEndian.PutUint32(enc[at:], uint32(len(enc)-at-4))
		p.lit(`,"leaf":`)
		stored := p.b64(s.stored[:0])
		p.lit(`}`)
		s.enc = enc
		if !p.ok || p.i != len(p.b) || len(stored) != HashSize {
			return s.fail(ErrFormat, seq, 0, "malformed entry")
		}
		if len(enc)-1 > MaxEntrySize {
			return s.fail(ErrFormat, seq, 0, fmt.Sprintf("entry larger than %d bytes", MaxEntrySize))
		}
		if t := s.hdr.Tenant; t != "" && !bytes.Equal(enc[tenantAt:tenantAt+4+len(t)], s.tenantLV) {
			return s.fail(ErrFormat, seq, 0, "an entry of another tenant in a tenant export")
		}
		sum := sha256.Sum256(enc)
		if !bytes.Equal(sum[:], stored) {
			return s.fail(ErrLeafHash, seq, 0, "the entry was changed after it was logged, or its stored hash was")
		}
		leaf = sum[:]
	}
	if err := s.rng.Append(leaf, nil); err != nil {
		return fmt.Errorf("audit.Verify: %w", err)
	}
	s.leaf = leaf
	s.n++
	s.entryLine = s.line
	return nil
}

// checkpoint checks a checkpoint line against the tree of the entries
// before it.
func (s *stream) checkpoint(p *lineParser) error {
	p.lit(`{"checkpoint":`)
	s.note = p.str(s.note[:0])
	p.lit(`}`)
	if !p.ok || p.i != len(p.b) {
		return s.fail(ErrFormat, s.verified, s.n, "malformed checkpoint line")
	}
	c, err := s.v.Open(s.note)
	if err != nil {
		kind := ErrSignature
		if errors.Is(err, ErrCheckpoint) {
			kind = ErrCheckpoint
		}
		why := strings.TrimPrefix(err.Error(), kind.Error()+": ")
		return s.fail(kind, s.verified, s.n, fmt.Sprintf("the checkpoint after entry %d does not open: %s", int64(s.n)-1, why))
	}
	switch {
	case c.Size > s.n:
		return s.fail(ErrMissing, s.n, c.Size, fmt.Sprintf("a checkpoint for size %d follows entry %d", c.Size, int64(s.n)-1))
	case c.Size < s.n:
		return s.fail(ErrFormat, c.Size, 0, fmt.Sprintf("a checkpoint for size %d is out of place after entry %d", c.Size, s.n-1))
	}
	if !bytes.Equal(s.root(), c.Hash) {
		if s.cps > 0 && s.verified == s.n {
			return s.fail(ErrFork, 0, s.n, fmt.Sprintf("two signed checkpoints for size %d disagree", c.Size))
		}
		return s.fail(ErrRootMismatch, s.verified, s.n, fmt.Sprintf("the recomputed root at size %d differs from the signed one", c.Size))
	}
	s.verified = c.Size
	s.last = bytes.Clone(s.note)
	s.cps++
	return nil
}

// finish checks the end of the export.
func (s *stream) finish() error {
	if err := s.finishErr(); err != nil {
		err.Line = 0
		return err
	}
	return nil
}

func (s *stream) finishErr() *VerifyError {
	switch {
	case s.n < s.hdr.Size:
		return s.fail(ErrMissing, s.n, s.hdr.Size, fmt.Sprintf("the header announces %d entries, the export holds %d", s.hdr.Size, s.n))
	case s.n > s.hdr.Size:
		return s.fail(ErrFormat, s.hdr.Size, s.n, fmt.Sprintf("the header announces %d entries, the export holds %d", s.hdr.Size, s.n))
	case s.verified < s.n:
		return s.fail(ErrUnsigned, s.verified, s.n, fmt.Sprintf("the last checkpoint covers %d entries of %d", s.verified, s.n))
	}
	return nil
}

// nextEntry reads up to the next entry and returns its leaf hash, or nil
// once the export has ended and passed finish.
func (s *stream) nextEntry() ([]byte, error) {
	for {
		ev, err := s.next()
		if err != nil {
			return nil, err
		}
		switch ev {
		case evEntry:
			return s.leaf, nil
		case evEOF:
			return nil, s.finish()
		}
	}
}

// drain verifies the rest of the export.
func (s *stream) drain() error {
	for {
		l, err := s.nextEntry()
		if err != nil || l == nil {
			return err
		}
	}
}
