package keyring

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/coffre/coffre/vault"
)

const (
	// purposeLookup and purposeSegment name the two blind-index keys of a
	// field in their HKDF info, so a lookup token never equals a segment
	// token of the same value.
	purposeLookup  = "lookup"
	purposeSegment = "segment"
	// segmentTokenSize truncates segment tokens to 128 bits: enough that
	// distinct values of one field never collide in practice, half the
	// storage of a lookup index on the widest tables.
	segmentTokenSize = 16
	// maxCachedMACs bounds the per-field HMAC cache. Field names come from
	// the tenant's schema, so a few dozen are expected; past the bound keys
	// are derived on every call instead of growing memory without limit.
	maxCachedMACs = 512
	// maxPooledValue is the largest value buffer kept in an HMAC pool.
	maxPooledValue = 1 << 10
)

// TenantKeys are one tenant's opened keys. It implements vault.TenantKeys
// and adds the KEK rotation methods. It is safe for concurrent use.
type TenantKeys struct {
	tenantID string
	current  uint32
	// keks maps a KEK version to its cipher; read-only after construction.
	keks map[uint32]cipher.AEAD
	// indexPRK is the HKDF pseudorandom key extracted from the index root
	// key; per-field HMAC keys are expanded from it.
	indexPRK []byte

	macs   atomic.Pointer[map[macKey]*fieldMAC]
	macsMu sync.Mutex // serialises writers of macs
}

type macKey struct {
	purpose string
	field   string
}

func newTenantKeys(tenantID string, s *keySet) (*TenantKeys, error) {
	prk, err := hkdf.Extract(sha256.New, s.index[:], nil)
	if err != nil {
		return nil, err
	}
	t := &TenantKeys{
		tenantID: tenantID,
		current:  s.current,
		keks:     make(map[uint32]cipher.AEAD, len(s.keks)),
		indexPRK: prk,
	}
	for _, k := range s.keks {
		aead, err := newGCM(k.key[:])
		if err != nil {
			return nil, err
		}
		t.keks[k.version] = aead
	}
	m := make(map[macKey]*fieldMAC)
	t.macs.Store(&m)
	return t, nil
}

// CurrentKEKVersion returns the version of the KEK that NewSubjectKey and
// Rewrap wrap under.
func (t *TenantKeys) CurrentKEKVersion() uint32 { return t.current }

// WrappedKEKVersion returns the KEK version named in the header of a
// wrapped data key, so a rotation can skip keys already under the current
// version. The header is not authenticated until the key is opened; it
// fails with ErrDecrypt if wrapped is not a wrapped key.
func WrappedKEKVersion(wrapped []byte) (uint32, error) {
	if len(wrapped) != WrappedKeySize || wrapped[0] != formatWrapped {
		return 0, fmt.Errorf("keyring.WrappedKEKVersion: not a wrapped key: %w", ErrDecrypt)
	}
	return binary.BigEndian.Uint32(wrapped[1:]), nil
}

// NewSubjectKey creates a random data key for subjectID, wraps it under the
// current KEK, and returns the key and its wrapped form (WrappedKeySize
// bytes).
func (t *TenantKeys) NewSubjectKey(subjectID string) (vault.SubjectKey, []byte, error) {
	if subjectID == "" {
		return nil, nil, errors.New("keyring.NewSubjectKey: empty subject id")
	}
	var dk [keySize]byte
	defer clear(dk[:])
	if _, err := rand.Read(dk[:]); err != nil {
		return nil, nil, fmt.Errorf("keyring.NewSubjectKey: %w", err)
	}
	wrapped, err := t.wrap(subjectID, dataKeyVersion, &dk)
	if err != nil {
		return nil, nil, fmt.Errorf("keyring.NewSubjectKey: %w", err)
	}
	k, err := newSubjectKey(t.tenantID, subjectID, dataKeyVersion, &dk)
	if err != nil {
		return nil, nil, fmt.Errorf("keyring.NewSubjectKey: %w", err)
	}
	return k, wrapped, nil
}

// OpenSubjectKey unwraps a subject's data key. It fails with ErrDecrypt if
// wrapped belongs to another subject or tenant or was altered, and with
// ErrUnknownKEK (as well) if it names a KEK version this set does not hold.
func (t *TenantKeys) OpenSubjectKey(subjectID string, wrapped []byte) (vault.SubjectKey, error) {
	var dk [keySize]byte
	defer clear(dk[:])
	v, err := t.unwrap(subjectID, wrapped, &dk)
	if err != nil {
		return nil, fmt.Errorf("keyring.OpenSubjectKey: %w", err)
	}
	k, err := newSubjectKey(t.tenantID, subjectID, v, &dk)
	if err != nil {
		return nil, fmt.Errorf("keyring.OpenSubjectKey: %w", err)
	}
	return k, nil
}

// Rewrap unwraps a subject's data key and wraps it again under the current
// KEK, for a rotation. Field ciphertexts are unaffected: the data key does
// not change. It fails as OpenSubjectKey does.
func (t *TenantKeys) Rewrap(subjectID string, wrapped []byte) ([]byte, error) {
	var dk [keySize]byte
	defer clear(dk[:])
	v, err := t.unwrap(subjectID, wrapped, &dk)
	if err != nil {
		return nil, fmt.Errorf("keyring.Rewrap: %w", err)
	}
	out, err := t.wrap(subjectID, v, &dk)
	if err != nil {
		return nil, fmt.Errorf("keyring.Rewrap: %w", err)
	}
	return out, nil
}

func (t *TenantKeys) wrapAD(subjectID string, kekVersion, dkVersion uint32) []byte {
	ad := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(t.tenantID)+len(subjectID)+2*versionSize)
	ad = append(ad, formatWrapped)
	ad = appendLP(ad, t.tenantID)
	ad = appendLP(ad, subjectID)
	ad = binary.BigEndian.AppendUint32(ad, kekVersion)
	return binary.BigEndian.AppendUint32(ad, dkVersion)
}

func (t *TenantKeys) wrap(subjectID string, dkVersion uint32, dk *[keySize]byte) ([]byte, error) {
	kek := t.keks[t.current]
	out := make([]byte, wrappedHeaderSize, WrappedKeySize)
	out[0] = formatWrapped
	binary.BigEndian.PutUint32(out[1:], t.current)
	binary.BigEndian.PutUint32(out[1+versionSize:], dkVersion)
	nonce := out[1+2*versionSize : wrappedHeaderSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return kek.Seal(out, nonce, dk[:], t.wrapAD(subjectID, t.current, dkVersion)), nil
}

// unwrap opens wrapped into dk and returns the data key version.
func (t *TenantKeys) unwrap(subjectID string, wrapped []byte, dk *[keySize]byte) (uint32, error) {
	if len(wrapped) != WrappedKeySize {
		return 0, fmt.Errorf("wrapped key has %d bytes, want %d: %w", len(wrapped), WrappedKeySize, ErrDecrypt)
	}
	if wrapped[0] != formatWrapped {
		return 0, fmt.Errorf("not a wrapped key (format %#x): %w", wrapped[0], ErrDecrypt)
	}
	kekVersion := binary.BigEndian.Uint32(wrapped[1:])
	dkVersion := binary.BigEndian.Uint32(wrapped[1+versionSize:])
	kek, ok := t.keks[kekVersion]
	if !ok {
		return 0, fmt.Errorf("KEK version %d: %w: %w", kekVersion, ErrUnknownKEK, ErrDecrypt)
	}
	nonce := wrapped[1+2*versionSize : wrappedHeaderSize]
	_, err := kek.Open(dk[:0], nonce, wrapped[wrappedHeaderSize:], t.wrapAD(subjectID, kekVersion, dkVersion))
	if err != nil {
		return 0, fmt.Errorf("wrapped key: wrong tenant, wrong subject or altered: %w", ErrDecrypt)
	}
	return dkVersion, nil
}

// BlindIndex returns the lookup token of a normalised field value: the
// 32-byte HMAC-SHA256 of value under the tenant's lookup key for field.
// Equal values give equal tokens within one tenant and field only.
func (t *TenantKeys) BlindIndex(field, value string) []byte {
	return t.mac(purposeLookup, field).sum(make([]byte, 0, sha256.Size), value)
}

// SegmentToken returns the segmentation token of a field value: the
// HMAC-SHA256 of value under the tenant's segment key for field (a key
// distinct from the lookup key), truncated to 16 bytes.
func (t *TenantKeys) SegmentToken(field, value string) []byte {
	return t.mac(purposeSegment, field).sum(make([]byte, 0, sha256.Size), value)[:segmentTokenSize:segmentTokenSize]
}

// mac returns the HMAC state of (purpose, field), deriving and caching it
// on first use. Readers load an immutable map without locking; a miss
// copies the map under macsMu.
func (t *TenantKeys) mac(purpose, field string) *fieldMAC {
	k := macKey{purpose, field}
	if m, ok := (*t.macs.Load())[k]; ok {
		return m
	}
	t.macsMu.Lock()
	defer t.macsMu.Unlock()
	old := *t.macs.Load()
	if m, ok := old[k]; ok {
		return m
	}
	m := t.deriveMAC(purpose, field)
	if len(old) >= maxCachedMACs {
		return m
	}
	next := make(map[macKey]*fieldMAC, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[k] = m
	t.macs.Store(&next)
	return m
}

func (t *TenantKeys) deriveMAC(purpose, field string) *fieldMAC {
	info := make([]byte, 0, len(indexInfo)+3*binary.MaxVarintLen64+len(purpose)+len(t.tenantID)+len(field))
	info = append(info, indexInfo...)
	info = appendLP(info, purpose)
	info = appendLP(info, t.tenantID)
	info = appendLP(info, field)
	key, err := hkdf.Expand(sha256.New, t.indexPRK, string(info), keySize)
	if err != nil {
		// Expand fails only for outputs over 255 hash blocks or, in FIPS
		// 140 mode, for keys under 112 bits; neither applies here.
		panic("keyring: hkdf: " + err.Error())
	}
	m := &fieldMAC{}
	m.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return m
}

// fieldMAC computes HMAC-SHA256 under one derived key. HMAC states are
// pooled: after its first Reset an HMAC restores its keyed inner and outer
// states instead of rehashing the key pads, which saves two SHA-256 blocks
// and the allocations of hmac.New on every call.
type fieldMAC struct {
	pool sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	buf []byte // copy of the value, so Write needs no string conversion
}

func (m *fieldMAC) sum(dst []byte, value string) []byte {
	s := m.pool.Get().(*macState)
	s.h.Reset()
	s.buf = append(s.buf[:0], value...)
	s.h.Write(s.buf)
	dst = s.h.Sum(dst)
	// The value is personal data: do not leave it in pooled memory.
	clear(s.buf)
	if cap(s.buf) > maxPooledValue {
		s.buf = nil
	}
	m.pool.Put(s)
	return dst
}

// String returns a redacted placeholder.
func (t *TenantKeys) String() string { return "keyring.TenantKeys(redacted)" }

// GoString returns a redacted placeholder.
func (t *TenantKeys) GoString() string { return t.String() }

// Format writes a redacted placeholder for every verb.
func (t *TenantKeys) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }
