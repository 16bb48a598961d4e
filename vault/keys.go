package vault

// KeyRing holds the root key and derives every other key from it. It is
// implemented by vault/keyring, the only package that sees raw key bytes.
// Implementations are safe for concurrent use.
type KeyRing interface {
	// NewTenantKeys creates a tenant's key set and returns it sealed under
	// the root key, for Tenant.Keys.
	NewTenantKeys(tenantID string) ([]byte, error)
	// OpenTenantKeys unseals a tenant's key set. It fails if the sealed set
	// was made for another tenant or under another root key.
	OpenTenantKeys(tenantID string, sealed []byte) (TenantKeys, error)
}

// TenantKeys are one tenant's keys. Safe for concurrent use.
type TenantKeys interface {
	// NewSubjectKey creates a random data key for a subject and returns it
	// with its wrapped form, for Record.WrappedKey.
	NewSubjectKey(subjectID string) (SubjectKey, []byte, error)
	// OpenSubjectKey unwraps a subject's data key. It fails if wrapped
	// belongs to another subject or tenant.
	OpenSubjectKey(subjectID string, wrapped []byte) (SubjectKey, error)
	// BlindIndex returns the lookup token of a normalised field value:
	// HMAC-SHA256 under a per-field key.
	BlindIndex(field, value string) []byte
	// SegmentToken returns the segmentation token of a field value.
	SegmentToken(field, value string) []byte
}

// SubjectKey is one subject's data key.
type SubjectKey interface {
	// Seal encrypts a field value; the ciphertext opens only for this
	// tenant, subject, field and key version.
	Seal(field string, plaintext []byte) ([]byte, error)
	// Open decrypts a field value sealed by Seal.
	Open(field string, ciphertext []byte) ([]byte, error)
	// Destroy zeroes the key; it must not be used afterwards.
	Destroy()
}
