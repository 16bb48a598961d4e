package audit

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint errors; Verifier.Open wraps one of them.
var (
	// ErrSignature means a signed note carries no valid signature by the
	// log's key: it was signed by another key, or altered after signing.
	ErrSignature = errors.New("audit: checkpoint signature does not verify")
	// ErrCheckpoint means a signed checkpoint is malformed or names another
	// origin than the log's.
	ErrCheckpoint = errors.New("audit: malformed checkpoint")
)

// b64 is the base64 of signed notes and checkpoints: standard alphabet,
// padded, and strict so that every hash has exactly one encoding.
var b64 = base64.StdEncoding.Strict()

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, the
// tree size and the RFC 6962 root hash at that size.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte
	// Extensions are the optional extension lines after the root hash,
	// without their newlines. Sign writes none.
	Extensions []string
}

// Text returns the checkpoint note text: origin, decimal size and base64
// root hash, then any extension lines, each line ending in a newline.
func (c *Checkpoint) Text() (string, error) {
	if !validLine(c.Origin) {
		return "", fmt.Errorf("%w: invalid origin", ErrCheckpoint)
	}
	if len(c.Hash) != HashSize {
		return "", fmt.Errorf("%w: root hash of %d bytes", ErrCheckpoint, len(c.Hash))
	}
	var b strings.Builder
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(b64.EncodeToString(c.Hash))
	b.WriteByte('\n')
	for _, x := range c.Extensions {
		if !validLine(x) {
			return "", fmt.Errorf("%w: invalid extension line", ErrCheckpoint)
		}
		b.WriteString(x)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// validLine reports whether s can be a line of a note: non-empty UTF-8
// without control characters.
func validLine(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// parseCheckpointUnsafe parses checkpoint note text WITHOUT checking any
// signature; only Verifier.Open, which has checked it, may trust the result.
func parseCheckpointUnsafe(text string) (*Checkpoint, error) {
	rest, ok := strings.CutSuffix(text, "\n")
	if !ok {
		return nil, fmt.Errorf("%w: text does not end in a newline", ErrCheckpoint)
	}
	lines := strings.Split(rest, "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%w: fewer than three lines", ErrCheckpoint)
	}
	for _, l := range lines {
		if !validLine(l) {
			return nil, fmt.Errorf("%w: empty or invalid line", ErrCheckpoint)
		}
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return nil, fmt.Errorf("%w: invalid tree size", ErrCheckpoint)
	}
	hash, err := b64.DecodeString(lines[2])
	if err != nil || len(hash) != HashSize {
		return nil, fmt.Errorf("%w: invalid root hash", ErrCheckpoint)
	}
	c := &Checkpoint{Origin: lines[0], Size: size, Hash: hash}
	if len(lines) > 3 {
		c.Extensions = lines[3:]
	}
	return c, nil
}

// GenerateKey returns a new Ed25519 signed-note key pair named origin: skey
// ("PRIVATE+KEY+origin+hash+base64") for NewSigner and vkey
// ("origin+hash+base64") for NewVerifier. The origin must be non-empty
// UTF-8 without spaces or '+', e.g. "coffre.example.org/audit".
func GenerateKey(origin string) (skey, vkey string, err error) {
	if !validLine(origin) || strings.ContainsFunc(origin, unicode.IsSpace) || strings.Contains(origin, "+") {
		return "", "", errors.New("audit.GenerateKey: invalid origin")
	}
	skey, vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", fmt.Errorf("audit.GenerateKey: %w", err)
	}
	return skey, vkey, nil
}

// WriteKeyFiles writes skey to skeyPath with mode 0600 and vkey to vkeyPath
// with mode 0644, each followed by a newline. It never overwrites a file: a
// log's signing key must not be replaced by accident.
func WriteKeyFiles(skeyPath, vkeyPath, skey, vkey string) error {
	if err := writeNew(skeyPath, skey+"\n", 0o600); err != nil {
		return fmt.Errorf("audit.WriteKeyFiles: %w", err)
	}
	if err := writeNew(vkeyPath, vkey+"\n", 0o644); err != nil {
		return fmt.Errorf("audit.WriteKeyFiles: %w", err)
	}
	return nil
}

func writeNew(path, data string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Signer signs checkpoints with a log's Ed25519 note key, named as the
// log's origin. It is safe for concurrent use.
type Signer struct {
	s note.Signer
}

// NewSigner returns a Signer for skey, a signer key from GenerateKey.
func NewSigner(skey string) (*Signer, error) {
	s, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("audit.NewSigner: %w", err)
	}
	return &Signer{s: s}, nil
}

// ReadSignerFile returns a Signer for the key in the file at path. It
// refuses a file that group or others may read or write.
func ReadSignerFile(path string) (*Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit.ReadSignerFile: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit.ReadSignerFile: %s has mode %04o, want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit.ReadSignerFile: %w", err)
	}
	return NewSigner(string(b))
}

// Origin returns the origin the signer signs for: its key name.
func (s *Signer) Origin() string { return s.s.Name() }

// Sign returns the signed note of the checkpoint (Origin, size, root).
func (s *Signer) Sign(size uint64, root []byte) ([]byte, error) {
	text, err := (&Checkpoint{Origin: s.s.Name(), Size: size, Hash: root}).Text()
	if err != nil {
		return nil, fmt.Errorf("audit.Signer.Sign: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: text}, s.s)
	if err != nil {
		return nil, fmt.Errorf("audit.Signer.Sign: %w", err)
	}
	return msg, nil
}

// Verifier opens checkpoints signed by one log key. It is safe for
// concurrent use.
type Verifier struct {
	v note.Verifier
}

// NewVerifier returns a Verifier for vkey, a verifier key from GenerateKey.
func NewVerifier(vkey string) (*Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("audit.NewVerifier: %w", err)
	}
	return &Verifier{v: v}, nil
}

// Origin returns the origin the verifier accepts: its key name.
func (v *Verifier) Origin() string { return v.v.Name() }

// Open checks the signature of a signed checkpoint note and parses it. It
// always checks the signature: it returns an error wrapping ErrSignature
// unless the note carries a valid signature by v's key (other signatures,
// such as witness cosignatures, are ignored), and one wrapping ErrCheckpoint
// if the note is malformed or its origin is not v.Origin().
func (v *Verifier) Open(signed []byte) (*Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v.v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return nil, fmt.Errorf("%w: %v", ErrSignature, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	c, err := parseCheckpointUnsafe(n.Text)
	if err != nil {
		return nil, err
	}
	if c.Origin != v.v.Name() {
		return nil, fmt.Errorf("%w: origin %q, want %q", ErrCheckpoint, c.Origin, v.v.Name())
	}
	return c, nil
}
