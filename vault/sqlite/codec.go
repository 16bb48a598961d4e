package sqlite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"

	"github.com/coffre/coffre/vault"
)

// A contact id is stored as the 16 bytes of its UUID. Byte order and the
// order of the canonical lower-case text agree, so sorting either gives
// the same result.

// packID returns the 16 bytes of the canonical UUID id, and false if id is
// not one (vault.ValidID).
func packID(id string) ([]byte, bool) {
	u, ok := vault.IDBytes(id)
	if !ok {
		return nil, false
	}
	return u[:], true
}

// unpackID returns the canonical text of a stored id.
func unpackID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", errors.New("stored contact id is not 16 bytes")
	}
	return vault.IDString([16]byte(b)), nil
}

// A record's lookups and tokens are stored in its row, packed, besides
// the index tables that find records by them. Both lists start with
// packVersion, so that the layout can change; then each lookup is a
// uvarint length and the field name, a uvarint length and the token, and
// a flags byte (flagUnique); each token a uvarint length and its bytes.
const (
	packVersion = 1
	flagUnique  = 1
)

// normLookups returns ls without repeats of a field and token, a repeat
// being unique if any of its copies is, sorted by field then token: the
// form the store keeps and returns.
func normLookups(ls []vault.Lookup) []vault.Lookup {
	out := slices.Clone(ls)
	slices.SortFunc(out, func(a, b vault.Lookup) int {
		if c := strings.Compare(a.Field, b.Field); c != 0 {
			return c
		}
		return bytes.Compare(a.Token, b.Token)
	})
	n := 0
	for _, l := range out {
		if n > 0 && out[n-1].Field == l.Field && bytes.Equal(out[n-1].Token, l.Token) {
			out[n-1].Unique = out[n-1].Unique || l.Unique
			continue
		}
		out[n] = l
		n++
	}
	return out[:n]
}

// normTokens returns ts without repeats, sorted.
func normTokens(ts [][]byte) [][]byte {
	out := slices.Clone(ts)
	slices.SortFunc(out, bytes.Compare)
	return slices.CompactFunc(out, bytes.Equal)
}

// packLookups packs lookups normalised by normLookups.
func packLookups(ls []vault.Lookup) []byte {
	n := 1
	for _, l := range ls {
		n += len(l.Field) + len(l.Token) + 2*binary.MaxVarintLen32 + 1
	}
	b := make([]byte, 1, n)
	b[0] = packVersion
	for _, l := range ls {
		b = binary.AppendUvarint(b, uint64(len(l.Field)))
		b = append(b, l.Field...)
		b = binary.AppendUvarint(b, uint64(len(l.Token)))
		b = append(b, l.Token...)
		var flags byte
		if l.Unique {
			flags |= flagUnique
		}
		b = append(b, flags)
	}
	return b
}

// packTokens packs tokens normalised by normTokens.
func packTokens(ts [][]byte) []byte {
	n := 1
	for _, t := range ts {
		n += len(t) + binary.MaxVarintLen32
	}
	b := make([]byte, 1, n)
	b[0] = packVersion
	for _, t := range ts {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return b
}

var errPacked = errors.New("malformed packed list")

// unpacker reads a packed list.
type unpacker struct{ b []byte }

func newUnpacker(b []byte) (*unpacker, error) {
	if len(b) == 0 || b[0] != packVersion {
		return nil, errPacked
	}
	return &unpacker{b[1:]}, nil
}

func (u *unpacker) more() bool { return len(u.b) > 0 }

// bytes returns the next length-prefixed value; it aliases the input.
func (u *unpacker) bytes() ([]byte, error) {
	l, n := binary.Uvarint(u.b)
	if n <= 0 || l > uint64(len(u.b)-n) {
		return nil, errPacked
	}
	v := u.b[n : n+int(l) : n+int(l)]
	u.b = u.b[n+int(l):]
	return v, nil
}

func (u *unpacker) byte() (byte, error) {
	if len(u.b) == 0 {
		return 0, errPacked
	}
	c := u.b[0]
	u.b = u.b[1:]
	return c, nil
}

// unpackLookups decodes what packLookups encoded, into fresh memory.
func unpackLookups(b []byte) ([]vault.Lookup, error) {
	u, err := newUnpacker(b)
	if err != nil {
		return nil, err
	}
	var ls []vault.Lookup
	for u.more() {
		field, err := u.bytes()
		if err != nil {
			return nil, err
		}
		token, err := u.bytes()
		if err != nil {
			return nil, err
		}
		flags, err := u.byte()
		if err != nil {
			return nil, err
		}
		ls = append(ls, vault.Lookup{Field: string(field), Token: bytes.Clone(token), Unique: flags&flagUnique != 0})
	}
	return ls, nil
}

// unpackTokens decodes what packTokens encoded, into fresh memory.
func unpackTokens(b []byte) ([][]byte, error) {
	u, err := newUnpacker(b)
	if err != nil {
		return nil, err
	}
	var ts [][]byte
	for u.more() {
		t, err := u.bytes()
		if err != nil {
			return nil, err
		}
		ts = append(ts, bytes.Clone(t))
	}
	return ts, nil
}
