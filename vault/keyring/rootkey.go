package keyring

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

const (
	// rootKeyTextSize is the length of a root key's text form: standard
	// base64 (with padding) of 32 bytes. One text form serves the key file
	// and the environment, so an operator can move a key between them, and
	// it survives editors, secret managers and copy-paste unharmed.
	rootKeyTextSize = 44
	// maxRootKeyFile bounds what LoadRootKeyFile reads: the text form plus
	// generous whitespace. Anything larger is not a root key file.
	maxRootKeyFile = 1 << 10
	// rootKeyFileMode is the mode of a created key file, and the widest a
	// loaded one may have: readable and writable by its owner only.
	rootKeyFileMode os.FileMode = 0o600
)

// rootKeyEncoding rejects non-canonical padding bits, so one key has exactly
// one text form.
var rootKeyEncoding = base64.StdEncoding.Strict()

// ErrInsecureKeyFile is returned (wrapped) by LoadRootKeyFile when the key
// file's mode is wider than 0600: any group or other bit, or execute.
var ErrInsecureKeyFile = errors.New("keyring: root key file mode is wider than 0600")

// RootKey is the 32-byte root of the key hierarchy. Its bytes are never
// printed: String, GoString and Format return a redacted placeholder. Copies
// of a RootKey share its bytes, so Destroy on one destroys all. The zero
// RootKey is empty and rejected by New.
type RootKey struct {
	b *[keySize]byte
}

// GenerateRootKey returns a new random root key.
func GenerateRootKey() (RootKey, error) {
	k := RootKey{b: new([keySize]byte)}
	if _, err := rand.Read(k.b[:]); err != nil {
		return RootKey{}, fmt.Errorf("keyring.GenerateRootKey: %w", err)
	}
	return k, nil
}

// ParseRootKey decodes a root key from its text form, the standard base64
// encoding (with padding) of 32 bytes, as held in an environment variable.
// Surrounding white space is ignored. The error never quotes s.
func ParseRootKey(s string) (RootKey, error) {
	b := []byte(s)
	defer clear(b)
	k, err := parseRootKey(b)
	if err != nil {
		return RootKey{}, fmt.Errorf("keyring.ParseRootKey: %w", err)
	}
	return k, nil
}

// LoadRootKeyFile reads a root key file written by CreateRootKeyFile: the
// text form of ParseRootKey, optionally followed by a newline. On systems
// with POSIX permissions it refuses, with ErrInsecureKeyFile, a file whose
// mode is wider than 0600 (any group or other bit, or execute).
func LoadRootKeyFile(path string) (RootKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return RootKey{}, fmt.Errorf("keyring.LoadRootKeyFile: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return RootKey{}, fmt.Errorf("keyring.LoadRootKeyFile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return RootKey{}, fmt.Errorf("keyring.LoadRootKeyFile: %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&^rootKeyFileMode != 0 {
		return RootKey{}, fmt.Errorf("keyring.LoadRootKeyFile: %s has mode %#o, want 0600 or narrower (run chmod 600 on it): %w",
			path, uint32(perm), ErrInsecureKeyFile)
	}
	// One fixed buffer, so no partial copy of the key is left behind by a
	// growing read.
	buf := make([]byte, maxRootKeyFile+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == nil:
		return RootKey{}, fmt.Errorf("keyring.LoadRootKeyFile: %s: too large for a root key file", path)
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return RootKey{}, fmt.Errorf("keyring.LoadRootKeyFile: %w", err)
	}
	k, err := parseRootKey(buf[:n])
	if err != nil {
		return RootKey{}, fmt.Errorf("keyring.LoadRootKeyFile: %s: %w", path, err)
	}
	return k, nil
}

// CreateRootKeyFile generates a root key and writes its text form and a
// newline to a new file at path with mode 0600. It never overwrites: if path
// exists it fails with an error matching fs.ErrExist. The file and its
// directory entry are synced before it returns; on any error the partial
// file is removed.
func CreateRootKeyFile(path string) (RootKey, error) {
	k, err := GenerateRootKey()
	if err != nil {
		return RootKey{}, fmt.Errorf("keyring.CreateRootKeyFile: %w", err)
	}
	if err := writeRootKeyFile(path, k); err != nil {
		k.Destroy()
		return RootKey{}, fmt.Errorf("keyring.CreateRootKeyFile: %w", err)
	}
	return k, nil
}

func writeRootKeyFile(path string, k RootKey) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, rootKeyFileMode)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	text := make([]byte, rootKeyTextSize+1)
	defer clear(text)
	rootKeyEncoding.Encode(text, k.b[:])
	text[rootKeyTextSize] = '\n'
	if _, err := f.Write(text); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func parseRootKey(b []byte) (RootKey, error) {
	b = bytes.TrimSpace(b)
	if len(b) != rootKeyTextSize {
		return RootKey{}, errors.New("root key must be the standard base64 encoding of 32 bytes")
	}
	var buf [keySize + 1]byte // DecodedLen(44) is 33
	defer clear(buf[:])
	n, err := rootKeyEncoding.Decode(buf[:], b)
	if err != nil || n != keySize {
		return RootKey{}, errors.New("root key must be the standard base64 encoding of 32 bytes")
	}
	k := RootKey{b: new([keySize]byte)}
	copy(k.b[:], buf[:])
	if !k.valid() {
		return RootKey{}, errors.New("root key is all zeros")
	}
	return k, nil
}

// valid reports whether k holds a key that is not all zeros (never
// generated, or destroyed).
func (k RootKey) valid() bool {
	return k.b != nil && !isZero(k.b[:])
}

// Equal reports, in constant time, whether k and o hold the same key. Empty
// or destroyed keys are equal to nothing.
func (k RootKey) Equal(o RootKey) bool {
	if !k.valid() || !o.valid() {
		return false
	}
	return subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1
}

// Destroy zeroes the key bytes, in k and every copy of k. A KeyRing made by
// New before Destroy keeps working: it holds a derived key, not the root.
func (k RootKey) Destroy() {
	if k.b != nil {
		clear(k.b[:])
	}
}

// String returns a redacted placeholder, never the key.
func (k RootKey) String() string { return "keyring.RootKey(redacted)" }

// GoString returns a redacted placeholder, never the key.
func (k RootKey) GoString() string { return k.String() }

// Format writes a redacted placeholder for every verb, so no fmt verb
// (%v, %x, %#v, …) prints the key.
func (k RootKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }
