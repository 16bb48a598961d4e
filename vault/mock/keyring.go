package mock

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/coffre/coffre/vault"
)

// KeyRing is a test-only vault.KeyRing. Field values are really encrypted
// (AES-256-GCM, bound to the field name) and blind indexes really keyed,
// so tests see realistic ciphertexts and tokens; but tenant key sets and
// subject data keys are "sealed" and "wrapped" in the clear, next to the
// tenant or subject id they belong to. Never use it outside tests. It is
// safe for concurrent use; the zero value is ready.
type KeyRing struct{}

var _ vault.KeyRing = KeyRing{}

var (
	tenantPrefix  = []byte("mock-tenant-keys\x00")
	subjectPrefix = []byte("mock-subject-key\x00")
	// errKey is the error of every failed open: wrong tenant, subject,
	// field or a damaged value.
	errKey = errors.New("mock: key or ciphertext does not match")
)

const keySize = 32

// NewTenantKeys implements vault.KeyRing.
func (KeyRing) NewTenantKeys(tenantID string) ([]byte, error) {
	k := make([]byte, keySize)
	rand.Read(k)
	return bind(tenantPrefix, tenantID, k), nil
}

// OpenTenantKeys implements vault.KeyRing. It fails if sealed was made for
// another tenant.
func (KeyRing) OpenTenantKeys(tenantID string, sealed []byte) (vault.TenantKeys, error) {
	k, ok := unbind(tenantPrefix, tenantID, sealed)
	if !ok {
		return nil, fmt.Errorf("mock.OpenTenantKeys: %w", errKey)
	}
	return &tenantKeys{index: k}, nil
}

// bind returns prefix, id, NUL, key: the clear "sealed" form of a key.
func bind(prefix []byte, id string, key []byte) []byte {
	b := append(bytes.Clone(prefix), id...)
	b = append(b, 0)
	return append(b, key...)
}

// unbind returns the key bind put in b, if b was made for id.
func unbind(prefix []byte, id string, b []byte) ([]byte, bool) {
	head := append(append(bytes.Clone(prefix), id...), 0)
	if !bytes.HasPrefix(b, head) || len(b) != len(head)+keySize {
		return nil, false
	}
	return bytes.Clone(b[len(head):]), true
}

type tenantKeys struct {
	index []byte
}

func (t *tenantKeys) NewSubjectKey(subjectID string) (vault.SubjectKey, []byte, error) {
	k := make([]byte, keySize)
	rand.Read(k)
	sk, err := newSubjectKey(k)
	if err != nil {
		return nil, nil, err
	}
	return sk, bind(subjectPrefix, subjectID, k), nil
}

func (t *tenantKeys) OpenSubjectKey(subjectID string, wrapped []byte) (vault.SubjectKey, error) {
	k, ok := unbind(subjectPrefix, subjectID, wrapped)
	if !ok {
		return nil, fmt.Errorf("mock.OpenSubjectKey: %w", errKey)
	}
	return newSubjectKey(k)
}

func (t *tenantKeys) BlindIndex(field, value string) []byte {
	return t.mac("lookup", field, value)
}

func (t *tenantKeys) SegmentToken(field, value string) []byte {
	return t.mac("segment", field, value)
}

func (t *tenantKeys) mac(kind, field, value string) []byte {
	m := hmac.New(sha256.New, t.index)
	m.Write([]byte(kind + "\x00" + field + "\x00" + value))
	return m.Sum(nil)
}

type subjectKey struct {
	mu   sync.RWMutex
	key  []byte
	aead cipher.AEAD
}

func newSubjectKey(k []byte) (*subjectKey, error) {
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("mock.SubjectKey: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("mock.SubjectKey: %w", err)
	}
	return &subjectKey{key: k, aead: g}, nil
}

func (k *subjectKey) Seal(field string, plaintext []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.aead == nil {
		return nil, errors.New("mock.Seal: key destroyed")
	}
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, []byte(field)), nil
}

func (k *subjectKey) Open(field string, ciphertext []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.aead == nil {
		return nil, errors.New("mock.Open: key destroyed")
	}
	n := k.aead.NonceSize()
	if len(ciphertext) < n {
		return nil, fmt.Errorf("mock.Open: %w", errKey)
	}
	pt, err := k.aead.Open(nil, ciphertext[:n], ciphertext[n:], []byte(field))
	if err != nil {
		return nil, fmt.Errorf("mock.Open: %w", errKey)
	}
	return pt, nil
}

func (k *subjectKey) Destroy() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.key)
	k.aead = nil
}
