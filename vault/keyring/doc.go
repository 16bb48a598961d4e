// Package keyring implements vault.KeyRing: the key hierarchy, per-field
// encryption and blind indexes of Coffre. It is the only package that ever
// holds raw key bytes; everything it hands out is sealed, wrapped, or a
// one-way token.
//
// The hierarchy is root key → tenant key set (key-encryption keys and an
// index root key, sealed under the root key) → subject data key (random,
// stored only wrapped under a tenant key-encryption key) → field ciphertexts.
// Erasing a subject is deleting its wrapped data key. Rotating a tenant's
// key-encryption key re-wraps data keys without touching field ciphertexts
// (see KeyRing.AddKEK, TenantKeys.Rewrap and KeyRing.DropKEK).
//
// Every failure to open a sealed value (wrong key, value moved to another
// tenant, subject or field, tampered or truncated bytes) is reported as an
// error matching ErrDecrypt with errors.Is. Error messages never contain key
// bytes or plaintext.
//
// A root key is read from a file or an environment value holding its
// standard base64 encoding (see LoadRootKeyFile, ParseRootKey) or created by
// CreateRootKeyFile. Key types print as a redacted placeholder with every
// fmt verb.
package keyring
