package audit_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/audit"
	"golang.org/x/mod/sumdb/note"
)

func mustSigner(t *testing.T, origin string) (*audit.Signer, string, string) {
	t.Helper()
	skey, vkey, err := audit.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, skey, vkey
}

func TestCheckpointSignOpen(t *testing.T) {
	s, skey, vkey := mustSigner(t, testOrigin)
	v, err := audit.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if s.Origin() != testOrigin || v.Origin() != testOrigin {
		t.Errorf("Origin() = %q, %q, want %q", s.Origin(), v.Origin(), testOrigin)
	}
	if !strings.HasPrefix(skey, "PRIVATE+KEY+"+testOrigin+"+") || !strings.HasPrefix(vkey, testOrigin+"+") {
		t.Errorf("GenerateKey() = %q…, %q, want note key formats", skey[:12], vkey)
	}
	root := audit.LeafHash([]byte("x"))
	signed, err := s.Sign(1234, root)
	if err != nil {
		t.Fatal(err)
	}
	wantText := testOrigin + "\n1234\n" + base64.StdEncoding.EncodeToString(root) + "\n\n— " + testOrigin + " "
	if !strings.HasPrefix(string(signed), wantText) {
		t.Errorf("Sign() = %q, want prefix %q", signed, wantText)
	}

	t.Run("OK", func(t *testing.T) {
		c, err := v.Open(signed)
		if err != nil {
			t.Fatal(err)
		}
		if c.Origin != testOrigin || c.Size != 1234 || !bytes.Equal(c.Hash, root) || c.Extensions != nil {
			t.Errorf("Open() = %+v", c)
		}
	})
	t.Run("size 0", func(t *testing.T) {
		signed, err := s.Sign(0, audit.EmptyRoot())
		if err != nil {
			t.Fatal(err)
		}
		if c, err := v.Open(signed); err != nil || c.Size != 0 {
			t.Errorf("Open(size 0) = %+v, %v", c, err)
		}
	})
	t.Run("cosigned", func(t *testing.T) {
		// A witness cosignature by an unknown key is ignored.
		wskey, _, _ := note.GenerateKey(rand.Reader, "witness.example")
		w, _ := note.NewSigner(wskey)
		n, err := note.Open(signed, note.VerifierList(mustNoteVerifier(t, vkey)))
		if err != nil {
			t.Fatal(err)
		}
		cosigned, err := note.Sign(n, w)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Open(cosigned); err != nil {
			t.Errorf("Open(cosigned) error %v", err)
		}
	})
	t.Run("ErrSignature wrong key", func(t *testing.T) {
		other, _, _ := mustSigner(t, testOrigin)
		forged, err := other.Sign(1234, root)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Open(forged); !errors.Is(err, audit.ErrSignature) {
			t.Errorf("Open(other key) error = %v, want ErrSignature", err)
		}
	})
	t.Run("ErrSignature tampered body", func(t *testing.T) {
		tampered := bytes.Replace(signed, []byte("\n1234\n"), []byte("\n1235\n"), 1)
		if _, err := v.Open(tampered); !errors.Is(err, audit.ErrSignature) {
			t.Errorf("Open(tampered) error = %v, want ErrSignature", err)
		}
	})
	t.Run("ErrSignature unsigned", func(t *testing.T) {
		body := []byte(testOrigin + "\n1\n" + base64.StdEncoding.EncodeToString(root) + "\n")
		if _, err := v.Open(body); err == nil {
			t.Error("Open(unsigned body) = nil error")
		}
	})
	t.Run("ErrCheckpoint wrong origin", func(t *testing.T) {
		// Signed by the right key, but naming another log.
		ns, _ := note.NewSigner(skey)
		msg, err := note.Sign(&note.Note{Text: "other.example/log\n1234\n" + base64.StdEncoding.EncodeToString(root) + "\n"}, ns)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Open(msg); !errors.Is(err, audit.ErrCheckpoint) {
			t.Errorf("Open(wrong origin) error = %v, want ErrCheckpoint", err)
		}
	})
	t.Run("ErrCheckpoint malformed bodies", func(t *testing.T) {
		ns, _ := note.NewSigner(skey)
		r := base64.StdEncoding.EncodeToString(root)
		for _, text := range []string{
			testOrigin + "\n1234\n",                            // no root
			testOrigin + "\n01234\n" + r + "\n",                // leading zero
			testOrigin + "\n-1\n" + r + "\n",                   // negative
			testOrigin + "\n1234\n" + r[:20] + "\n",            // short root
			testOrigin + "\n1234\n" + "!!!!" + "\n",            // not base64
			testOrigin + "\n99999999999999999999\n" + r + "\n", // overflow
		} {
			msg, err := note.Sign(&note.Note{Text: text}, ns)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Open(msg); !errors.Is(err, audit.ErrCheckpoint) {
				t.Errorf("Open(%q) error = %v, want ErrCheckpoint", text, err)
			}
		}
	})
	t.Run("extension lines", func(t *testing.T) {
		ns, _ := note.NewSigner(skey)
		text := testOrigin + "\n5\n" + base64.StdEncoding.EncodeToString(root) + "\next one\n"
		msg, err := note.Sign(&note.Note{Text: text}, ns)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Open(msg)
		if err != nil || len(c.Extensions) != 1 || c.Extensions[0] != "ext one" {
			t.Errorf("Open(extension) = %+v, %v", c, err)
		}
		if got, err := c.Text(); err != nil || got != text {
			t.Errorf("Text() = %q, %v; want %q", got, err, text)
		}
	})
	t.Run("Sign rejects a short root", func(t *testing.T) {
		if _, err := s.Sign(1, []byte{1}); err == nil {
			t.Error("Sign(short root) = nil error")
		}
	})
}

func mustNoteVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGenerateKeyInvalidOrigin(t *testing.T) {
	for _, origin := range []string{"", "a b", "a+b", "line\nbreak"} {
		if _, _, err := audit.GenerateKey(origin); err == nil {
			t.Errorf("GenerateKey(%q) = nil error", origin)
		}
	}
	for _, key := range []string{"", "garbage", "PRIVATE+KEY+x+00000000+AAAA"} {
		if _, err := audit.NewSigner(key); err == nil {
			t.Errorf("NewSigner(%q) = nil error", key)
		}
		if _, err := audit.NewVerifier(key); err == nil {
			t.Errorf("NewVerifier(%q) = nil error", key)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, err := audit.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	sp, vp := filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.pub")
	if err := audit.WriteKeyFiles(sp, vp, skey, vkey); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sp)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("signer key file mode = %04o, want 0600", got)
	}
	s, err := audit.ReadSignerFile(sp)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(vp)
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.NewVerifier(string(pub))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.Sign(1, audit.LeafHash(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(signed); err != nil {
		t.Errorf("Open(signed with the key from the file) error %v", err)
	}
	t.Run("no overwrite", func(t *testing.T) {
		if err := audit.WriteKeyFiles(sp, filepath.Join(dir, "other.pub"), skey, vkey); err == nil {
			t.Error("WriteKeyFiles(existing file) = nil error")
		}
	})
	t.Run("loose mode refused", func(t *testing.T) {
		if err := os.Chmod(sp, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.ReadSignerFile(sp); err == nil {
			t.Error("ReadSignerFile(mode 0644) = nil error")
		}
	})
}
