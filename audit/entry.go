package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Version is the first byte of every entry encoding this package writes.
const Version = 1

// MaxEntrySize bounds the canonical encoding of one entry, sealed part
// included. Encode refuses larger entries and Decode refuses larger input.
const MaxEntrySize = 1 << 20

// HashSize is the size of every hash in the log: leaf, node and root hashes
// are SHA-256 digests.
const HashSize = sha256.Size

// maxMicros is 10000-01-01T00:00:00Z in microseconds since the Unix epoch:
// entry times lie in [1970-01-01, 10000-01-01) so that every one of them has
// exactly one RFC 3339 form with a four-digit year.
const maxMicros = 253402300800000000

// ErrInvalidEntry is wrapped by every error about an entry that cannot be
// encoded or an encoding that is not canonical.
var ErrInvalidEntry = errors.New("audit: invalid entry")

// Entry is one record of the audit log. It never holds plaintext personal
// data: the subject is named by its pseudonymous id, fields by name, and
// anything personal that must be kept travels in Sealed, encrypted by the
// caller under the subject's key (erasing the subject shreds it while the
// log still verifies, because only the ciphertext is hashed).
//
// Strings must be valid UTF-8. The zero value of an optional field is the
// empty string, nil Fields or nil Sealed; an empty slice encodes like nil.
type Entry struct {
	// Seq is the position of the entry in the log: the first entry has Seq
	// 0, and Seq is the index of the entry's leaf in the Merkle tree.
	Seq uint64
	// Time is when the operation happened. It is hashed as microseconds
	// since the Unix epoch in UTC; Encode truncates finer precision and
	// Decode returns a UTC time.
	Time           time.Time
	Tenant         string
	ActorID        string
	ActorRole      string
	Action         string
	Subject        string
	Fields         []string
	Purpose        string
	Outcome        string
	RequestID      string
	DecisionID     string
	PolicyRevision string
	// Sealed holds optional personal details sealed by the caller under the
	// subject's data key. The log treats it as opaque bytes.
	Sealed []byte
}

// Encode returns the canonical encoding of e (see the package
// documentation). It returns an error wrapping ErrInvalidEntry if a string
// is not valid UTF-8, the time is outside [1970, 10000) or the encoding
// would exceed MaxEntrySize.
func (e *Entry) Encode() ([]byte, error) {
	return e.AppendEncode(make([]byte, 0, e.encodedSize()))
}

// AppendEncode appends the canonical encoding of e to b, like Encode.
func (e *Entry) AppendEncode(b []byte) ([]byte, error) {
	if e.encodedSize() > MaxEntrySize {
		return b, fmt.Errorf("%w: larger than %d bytes", ErrInvalidEntry, MaxEntrySize)
	}
	t := e.Time.UnixMicro()
	if t < 0 || t >= maxMicros {
		return b, fmt.Errorf("%w: time outside years 1970 to 9999", ErrInvalidEntry)
	}
	start := len(b)
	b = append(b, Version)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(t))
	var ok bool
	for _, s := range [...]string{e.Tenant, e.ActorID, e.ActorRole, e.Action, e.Subject} {
		if b, ok = appendString(b, s); !ok {
			return b[:start], errUTF8
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Fields)))
	for _, s := range e.Fields {
		if b, ok = appendString(b, s); !ok {
			return b[:start], errUTF8
		}
	}
	for _, s := range [...]string{e.Purpose, e.Outcome, e.RequestID, e.DecisionID, e.PolicyRevision} {
		if b, ok = appendString(b, s); !ok {
			return b[:start], errUTF8
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Sealed)))
	b = append(b, e.Sealed...)
	return b, nil
}

var errUTF8 = fmt.Errorf("%w: string is not valid UTF-8", ErrInvalidEntry)

func appendString(b []byte, s string) ([]byte, bool) {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...), utf8.ValidString(s)
}

// encodedSize is the length of e's encoding, saturating well above
// MaxEntrySize.
func (e *Entry) encodedSize() int {
	n := 1 + 8 + 8 + 4*11 + len(e.Tenant) + len(e.ActorID) + len(e.ActorRole) + len(e.Action) +
		len(e.Subject) + len(e.Purpose) + len(e.Outcome) + len(e.RequestID) + len(e.DecisionID) +
		len(e.PolicyRevision) + len(e.Sealed)
	if len(e.Fields) > MaxEntrySize {
		return MaxEntrySize + 1
	}
	for _, f := range e.Fields {
		n += 4 + len(f)
	}
	return n
}

// LeafHash returns the RFC 6962 leaf hash of e: SHA-256(0x00 || Encode(e)).
func (e *Entry) LeafHash() ([]byte, error) {
	b, err := e.AppendEncode(append(make([]byte, 0, 1+e.encodedSize()), leafPrefix))
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(b)
	return h[:], nil
}

// Decode parses a canonical entry encoding. It returns an error wrapping
// ErrInvalidEntry for anything else: another version, a length running past
// the end, trailing bytes, invalid UTF-8, a time outside [1970, 10000) or an
// input larger than MaxEntrySize. Decode(e.Encode()) equals e with its time
// truncated to the microsecond in UTC, and empty Fields and Sealed as nil.
func Decode(data []byte) (*Entry, error) {
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidEntry, MaxEntrySize)
	}
	d := decoder{b: data}
	if v := d.byte(); v != Version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("%w: unknown version %d", ErrInvalidEntry, v)
	}
	e := &Entry{Seq: d.uint64()}
	t := d.uint64()
	if d.err == nil && t >= maxMicros {
		return nil, fmt.Errorf("%w: time outside years 1970 to 9999", ErrInvalidEntry)
	}
	e.Time = time.UnixMicro(int64(t)).UTC()
	e.Tenant, e.ActorID, e.ActorRole, e.Action, e.Subject = d.string(), d.string(), d.string(), d.string(), d.string()
	if n := d.uint32(); n > 0 {
		// Every field takes at least its 4-byte length: bound n before
		// allocating.
		if uint64(n) > uint64(len(d.b))/4 {
			return nil, fmt.Errorf("%w: truncated", ErrInvalidEntry)
		}
		e.Fields = make([]string, n)
		for i := range e.Fields {
			e.Fields[i] = d.string()
		}
	}
	e.Purpose, e.Outcome, e.RequestID, e.DecisionID, e.PolicyRevision = d.string(), d.string(), d.string(), d.string(), d.string()
	if s := d.bytes(); len(s) > 0 {
		e.Sealed = append([]byte(nil), s...)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrInvalidEntry, len(d.b))
	}
	return e, nil
}

// decoder reads big-endian fields; after the first error it returns zero
// values and keeps the error.
type decoder struct {
	b   []byte
	err error
}

var errTruncated = fmt.Errorf("%w: truncated", ErrInvalidEntry)

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err, d.b = errTruncated, nil
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte() byte {
	if s := d.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	if s := d.take(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

func (d *decoder) uint64() uint64 {
	if s := d.take(8); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

func (d *decoder) bytes() []byte {
	return d.take(uint64(d.uint32()))
}

func (d *decoder) string() string {
	s := d.bytes()
	if d.err == nil && !utf8.Valid(s) {
		d.err, d.b = errUTF8, nil
	}
	return string(s)
}
