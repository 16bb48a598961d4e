package vault

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewID returns a random UUID version 7 in its canonical text form. The
// time prefix keeps new rows at the end of B-tree indexes; the 74 random
// bits make ids unguessable.
func NewID(now time.Time) string {
	var u [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16)
	rand.Read(u[6:])
	u[6] = (u[6] & 0x0f) | 0x70
	u[8] = (u[8] & 0x3f) | 0x80
	return IDString(u)
}

// IDString returns the canonical lower-case text of a UUID's 16 bytes.
// Byte order and text order agree, so either sorts the same.
func IDString(u [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], u[10:16])
	return string(s[:])
}

// IDBytes returns the 16 bytes of a canonical UUID, and false if id is not
// one (see ValidID).
func IDBytes(id string) (u [16]byte, ok bool) {
	if !ValidID(id) {
		return u, false
	}
	hex.Decode(u[0:4], []byte(id[0:8]))
	hex.Decode(u[4:6], []byte(id[9:13]))
	hex.Decode(u[6:8], []byte(id[14:18]))
	hex.Decode(u[8:10], []byte(id[19:23]))
	hex.Decode(u[10:16], []byte(id[24:36]))
	return u, true
}

// ValidID reports whether s is a canonical lower-case UUID.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
