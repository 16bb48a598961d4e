// The key scheme.
//
// Root key. 32 random bytes held by the operator (a file of mode 0600 or an
// environment value, both standard base64). It never encrypts data: a
// tenant-set sealing key is derived from it with HKDF-SHA256 (info
// sealInfo), leaving room for other root-derived keys without reusing one
// key for two purposes.
//
// Tenant key set. Per tenant: one or more key-encryption keys (KEKs), each
// 32 random bytes with a version number (1, 2, …), one of them current, and
// a 32-byte random index root key. The set is serialised (keySet.marshal) and
// sealed with AES-256-GCM under the sealing key:
//
//	sealed set = 0x31 || nonce(12) || GCM(set plaintext)
//	AD         = 0x31 || lp(tenant id)
//
// so a set copied to another tenant, or opened under another root key,
// fails. Adding a KEK version (AddKEK) or dropping an old one (DropKEK)
// re-seals the set; the index root key never changes, so blind indexes stay
// valid across rotations.
//
// Subject data key. 32 random bytes per subject, never stored in the clear:
//
//	wrapped = 0x21 || KEK version(4) || data key version(4) || nonce(12) || GCM_KEK(data key)
//	AD      = 0x21 || lp(tenant id) || lp(subject id) || KEK version(4) || data key version(4)
//
// The KEK version in the clear picks the KEK to unwrap with, so after a
// rotation old wrapped keys still open and Rewrap moves them to the current
// KEK. The data key version is 1; it names the key in field ciphertexts so
// a subject could later be re-keyed.
//
// Field value. AES-256-GCM under the subject data key:
//
//	ciphertext = 0x11 || data key version(4) || nonce(12) || GCM_DK(plaintext)
//	AD         = 0x11 || lp(tenant id) || lp(subject id) || lp(field name) || data key version(4)
//
// A ciphertext moved to another field, subject or tenant fails to open.
//
// Blind indexes. Per tenant and field, two HMAC-SHA256 keys are expanded
// with HKDF-SHA256 from the index root key (info: indexInfo || lp(purpose)
// || lp(tenant id) || lp(field), purpose "lookup" or "segment"). BlindIndex
// is the full 32-byte HMAC of the normalised value under the lookup key;
// SegmentToken is the HMAC under the segment key truncated to 16 bytes.
//
// Encoding details: lp(s) is the unsigned varint length of s followed by s,
// so no two tuples of strings encode alike; integers are big-endian. The
// first byte of every sealed object names its kind (high nibble) and layout
// version (low nibble), so one kind is never parsed as another.

package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/coffre/coffre/vault"
)

const (
	// keySize is the size of every symmetric key: AES-256 keys, HMAC-SHA256
	// keys and the root key. 256-bit keys keep a margin against
	// multi-target and quantum (Grover) attacks.
	keySize = 32
	// nonceSize is GCM's standard 96-bit nonce. Nonces are random: NIST SP
	// 800-38D allows 2^32 random-nonce seals per key. A data key seals a few
	// fields per update of one person; a KEK wraps one key per subject of a
	// tenant (millions, not billions); the sealing key seals one set per
	// tenant change. All stay far below the bound.
	nonceSize = 12
	// tagSize is GCM's full 128-bit tag; shorter tags weaken forgery bounds.
	tagSize = 16
	// versionSize is a big-endian uint32 key version.
	versionSize = 4

	// Format bytes: high nibble the kind of object, low nibble its layout
	// version. Distinct kinds make a wrapped key fail as a field ciphertext
	// and vice versa, before any cryptography.
	formatField     byte = 0x11
	formatWrapped   byte = 0x21
	formatTenantSet byte = 0x31

	// fieldHeaderSize is format || data key version || nonce.
	fieldHeaderSize = 1 + versionSize + nonceSize
	// FieldOverhead is how many bytes Seal adds to a plaintext.
	FieldOverhead = fieldHeaderSize + tagSize
	// wrappedHeaderSize is format || KEK version || data key version || nonce.
	wrappedHeaderSize = 1 + 2*versionSize + nonceSize
	// WrappedKeySize is the exact size of a wrapped data key.
	WrappedKeySize = wrappedHeaderSize + keySize + tagSize
	// setHeaderSize is format || nonce.
	setHeaderSize = 1 + nonceSize

	// dataKeyVersion is the version of data keys made by NewSubjectKey.
	dataKeyVersion uint32 = 1
	// firstKEKVersion is the version of a new tenant's KEK. Version 0 is
	// never used, so a zeroed header cannot name a key.
	firstKEKVersion uint32 = 1
	// maxKEKs bounds the KEK versions one set holds; the count is encoded
	// as a uint16 and old versions should be dropped once re-wrapped.
	maxKEKs = 1 << 10

	// sealInfo is the HKDF info deriving the tenant-set sealing key from the
	// root key.
	sealInfo = "coffre/keyring/v1 tenant key set sealing key"
	// indexInfo prefixes the HKDF info deriving blind-index keys from a
	// tenant's index root key.
	indexInfo = "coffre/keyring/v1 blind index key"
)

var (
	// ErrDecrypt is returned (wrapped) when a sealed set, wrapped key or
	// field ciphertext cannot be opened: wrong key, moved to another tenant,
	// subject or field, altered, truncated or of an unknown format.
	ErrDecrypt = errors.New("keyring: decryption failed")
	// ErrUnknownKEK is returned, together with ErrDecrypt, when a wrapped
	// key names a KEK version the tenant set does not hold (for example one
	// removed by DropKEK).
	ErrUnknownKEK = errors.New("keyring: unknown key-encryption key version")
	// ErrDestroyed is returned when a key is used after Destroy.
	ErrDestroyed = errors.New("keyring: key destroyed")
)

// KeyRing holds the tenant-set sealing key derived from the root key. It
// implements vault.KeyRing and is safe for concurrent use.
type KeyRing struct {
	seal cipher.AEAD
}

var (
	_ vault.KeyRing    = (*KeyRing)(nil)
	_ vault.TenantKeys = (*TenantKeys)(nil)
	_ vault.SubjectKey = (*SubjectKey)(nil)
)

// New returns a KeyRing under root. It does not retain root: the caller may
// Destroy it once New returns. New fails if root is empty or destroyed.
func New(root RootKey) (*KeyRing, error) {
	if !root.valid() {
		return nil, errors.New("keyring.New: root key is empty or destroyed")
	}
	k, err := hkdf.Key(sha256.New, root.b[:], nil, sealInfo, keySize)
	if err != nil {
		return nil, fmt.Errorf("keyring.New: %w", err)
	}
	defer clear(k)
	aead, err := newGCM(k)
	if err != nil {
		return nil, fmt.Errorf("keyring.New: %w", err)
	}
	return &KeyRing{seal: aead}, nil
}

// NewTenantKeys creates a key set for tenantID (KEK version 1 and an index
// root key, all random) and returns it sealed under the root key. It is
// safe for concurrent use.
func (r *KeyRing) NewTenantKeys(tenantID string) ([]byte, error) {
	if tenantID == "" {
		return nil, errors.New("keyring.NewTenantKeys: empty tenant id")
	}
	s := &keySet{current: firstKEKVersion, keks: []kek{{version: firstKEKVersion}}}
	defer s.destroy()
	if _, err := rand.Read(s.index[:]); err != nil {
		return nil, fmt.Errorf("keyring.NewTenantKeys: %w", err)
	}
	if _, err := rand.Read(s.keks[0].key[:]); err != nil {
		return nil, fmt.Errorf("keyring.NewTenantKeys: %w", err)
	}
	sealed, err := r.sealSet(tenantID, s)
	if err != nil {
		return nil, fmt.Errorf("keyring.NewTenantKeys: %w", err)
	}
	return sealed, nil
}

// OpenTenantKeys is OpenTenant returning the vault.TenantKeys interface. It
// fails with ErrDecrypt if sealed was made for another tenant, under another
// root key, or was altered. It is safe for concurrent use.
func (r *KeyRing) OpenTenantKeys(tenantID string, sealed []byte) (vault.TenantKeys, error) {
	t, err := r.openTenant(tenantID, sealed)
	if err != nil {
		return nil, fmt.Errorf("keyring.OpenTenantKeys: %w", err)
	}
	return t, nil
}

// OpenTenant unseals a tenant's key set, as OpenTenantKeys, and returns the
// concrete type, which adds the rotation methods. It is safe for concurrent
// use.
func (r *KeyRing) OpenTenant(tenantID string, sealed []byte) (*TenantKeys, error) {
	t, err := r.openTenant(tenantID, sealed)
	if err != nil {
		return nil, fmt.Errorf("keyring.OpenTenant: %w", err)
	}
	return t, nil
}

func (r *KeyRing) openTenant(tenantID string, sealed []byte) (*TenantKeys, error) {
	s, err := r.openSet(tenantID, sealed)
	if err != nil {
		return nil, err
	}
	defer s.destroy()
	return newTenantKeys(tenantID, s)
}

// AddKEK adds a new random key-encryption key to a sealed tenant set, makes
// it current, and returns the re-sealed set and the new version. Data keys
// wrapped under older versions still open; TenantKeys.Rewrap moves them to
// the new one. The caller must store the new set before wrapping anything
// under it. It is safe for concurrent use.
func (r *KeyRing) AddKEK(tenantID string, sealed []byte) ([]byte, uint32, error) {
	s, err := r.openSet(tenantID, sealed)
	if err != nil {
		return nil, 0, fmt.Errorf("keyring.AddKEK: %w", err)
	}
	defer s.destroy()
	if len(s.keks) >= maxKEKs {
		return nil, 0, fmt.Errorf("keyring.AddKEK: set holds %d versions, drop old ones first", len(s.keks))
	}
	var next uint32
	for _, k := range s.keks {
		next = max(next, k.version)
	}
	if next == ^uint32(0) {
		return nil, 0, errors.New("keyring.AddKEK: key versions exhausted")
	}
	next++
	k := kek{version: next}
	if _, err := rand.Read(k.key[:]); err != nil {
		return nil, 0, fmt.Errorf("keyring.AddKEK: %w", err)
	}
	s.keks = append(s.keks, k)
	clear(k.key[:])
	s.current = next
	out, err := r.sealSet(tenantID, s)
	if err != nil {
		return nil, 0, fmt.Errorf("keyring.AddKEK: %w", err)
	}
	return out, next, nil
}

// DropKEK removes KEK version from a sealed tenant set and returns the
// re-sealed set. Data keys still wrapped under that version become
// unreadable (ErrUnknownKEK): call it only once every wrapped key of the
// tenant has been re-wrapped. It refuses to drop the current version. It is
// safe for concurrent use.
func (r *KeyRing) DropKEK(tenantID string, sealed []byte, version uint32) ([]byte, error) {
	s, err := r.openSet(tenantID, sealed)
	if err != nil {
		return nil, fmt.Errorf("keyring.DropKEK: %w", err)
	}
	defer s.destroy()
	if version == s.current {
		return nil, fmt.Errorf("keyring.DropKEK: version %d is current", version)
	}
	i := slices.IndexFunc(s.keks, func(k kek) bool { return k.version == version })
	if i < 0 {
		return nil, fmt.Errorf("keyring.DropKEK: version %d: %w", version, ErrUnknownKEK)
	}
	clear(s.keks[i].key[:])
	s.keks = slices.Delete(s.keks, i, i+1)
	out, err := r.sealSet(tenantID, s)
	if err != nil {
		return nil, fmt.Errorf("keyring.DropKEK: %w", err)
	}
	return out, nil
}

// String returns a redacted placeholder.
func (r *KeyRing) String() string { return "keyring.KeyRing(redacted)" }

// GoString returns a redacted placeholder.
func (r *KeyRing) GoString() string { return r.String() }

// Format writes a redacted placeholder for every verb.
func (r *KeyRing) Format(f fmt.State, _ rune) { io.WriteString(f, r.String()) }

// keySet is the plaintext of a tenant key set:
//
//	index root(32) || current version(4) || count(2) || count × (version(4) || KEK(32))
type keySet struct {
	index   [keySize]byte
	current uint32
	keks    []kek
}

type kek struct {
	version uint32
	key     [keySize]byte
}

func (s *keySet) destroy() {
	clear(s.index[:])
	for i := range s.keks {
		clear(s.keks[i].key[:])
	}
}

func (s *keySet) marshal() []byte {
	b := make([]byte, 0, keySize+versionSize+2+len(s.keks)*(versionSize+keySize))
	b = append(b, s.index[:]...)
	b = binary.BigEndian.AppendUint32(b, s.current)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.keks)))
	for _, k := range s.keks {
		b = binary.BigEndian.AppendUint32(b, k.version)
		b = append(b, k.key[:]...)
	}
	return b
}

func (s *keySet) unmarshal(b []byte) error {
	const fixed = keySize + versionSize + 2
	if len(b) < fixed {
		return errors.New("short key set")
	}
	copy(s.index[:], b)
	s.current = binary.BigEndian.Uint32(b[keySize:])
	n := int(binary.BigEndian.Uint16(b[keySize+versionSize:]))
	b = b[fixed:]
	if n == 0 || n > maxKEKs || len(b) != n*(versionSize+keySize) {
		return errors.New("bad key count")
	}
	s.keks = make([]kek, n)
	hasCurrent := false
	for i := range s.keks {
		k := &s.keks[i]
		k.version = binary.BigEndian.Uint32(b)
		copy(k.key[:], b[versionSize:])
		b = b[versionSize+keySize:]
		if k.version == 0 || slices.ContainsFunc(s.keks[:i], func(o kek) bool { return o.version == k.version }) {
			return errors.New("bad key version")
		}
		hasCurrent = hasCurrent || k.version == s.current
	}
	if !hasCurrent {
		return errors.New("current key missing")
	}
	return nil
}

func setAD(tenantID string) []byte {
	ad := make([]byte, 0, 1+binary.MaxVarintLen64+len(tenantID))
	ad = append(ad, formatTenantSet)
	return appendLP(ad, tenantID)
}

func (r *KeyRing) sealSet(tenantID string, s *keySet) ([]byte, error) {
	if tenantID == "" {
		return nil, errors.New("empty tenant id")
	}
	pt := s.marshal()
	defer clear(pt)
	out := make([]byte, setHeaderSize, setHeaderSize+len(pt)+tagSize)
	out[0] = formatTenantSet
	nonce := out[1:setHeaderSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return r.seal.Seal(out, nonce, pt, setAD(tenantID)), nil
}

func (r *KeyRing) openSet(tenantID string, sealed []byte) (*keySet, error) {
	if len(sealed) < setHeaderSize+tagSize {
		return nil, fmt.Errorf("truncated key set: %w", ErrDecrypt)
	}
	if sealed[0] != formatTenantSet {
		return nil, fmt.Errorf("not a key set (format %#x): %w", sealed[0], ErrDecrypt)
	}
	pt, err := r.seal.Open(nil, sealed[1:setHeaderSize], sealed[setHeaderSize:], setAD(tenantID))
	if err != nil {
		return nil, fmt.Errorf("key set: wrong root key, wrong tenant or altered: %w", ErrDecrypt)
	}
	defer clear(pt)
	s := new(keySet)
	if err := s.unmarshal(pt); err != nil {
		s.destroy()
		return nil, fmt.Errorf("key set: %v: %w", err, ErrDecrypt)
	}
	return s, nil
}

// newGCM returns AES-256-GCM under key. The expanded AES key schedule lives
// inside the returned value and cannot be zeroed: Go offers no way to wipe
// it, it is released when the value is garbage collected.
func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// appendLP appends the uvarint length of s, then s.
func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// isZero reports in constant time whether b is all zeros.
func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return subtle.ConstantTimeByteEq(acc, 0) == 1
}
