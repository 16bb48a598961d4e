package vault

import (
	"encoding/binary"
	"errors"
	"sort"
)

// sealedVersion is the first byte of an encoded sealed-field map, so the
// layout can change without ambiguity.
const sealedVersion = 1

// MarshalSealed encodes a map of field name to ciphertext in a compact,
// deterministic binary form (fields sorted by name) for a store column:
// version byte, then for each field a uvarint name length, the name, a
// uvarint ciphertext length and the ciphertext.
func MarshalSealed(m map[string][]byte) []byte {
	names := make([]string, 0, len(m))
	n := 1
	for k, v := range m {
		names = append(names, k)
		n += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	sort.Strings(names)
	b := make([]byte, 1, n)
	b[0] = sealedVersion
	for _, k := range names {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(m[k])))
		b = append(b, m[k]...)
	}
	return b
}

// UnmarshalSealed decodes what MarshalSealed encoded.
func UnmarshalSealed(b []byte) (map[string][]byte, error) {
	if len(b) == 0 || b[0] != sealedVersion {
		return nil, errors.New("vault.UnmarshalSealed: unknown encoding version")
	}
	b = b[1:]
	m := make(map[string][]byte)
	next := func() ([]byte, error) {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, errors.New("vault.UnmarshalSealed: truncated")
		}
		v := b[n : n+int(l)]
		b = b[n+int(l):]
		return v, nil
	}
	for len(b) > 0 {
		k, err := next()
		if err != nil {
			return nil, err
		}
		v, err := next()
		if err != nil {
			return nil, err
		}
		m[string(k)] = append([]byte(nil), v...)
	}
	return m, nil
}
