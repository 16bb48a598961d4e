package keyring_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/coffre/coffre/vault/keyring"
)

func TestCreateRootKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.key")
	created, err := keyring.CreateRootKeyFile(path)
	if err != nil {
		t.Fatalf("CreateRootKeyFile(path) error = %v", err)
	}

	t.Run("Mode", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no POSIX modes")
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^0o600 != 0 {
			t.Errorf("mode of CreateRootKeyFile(path) = %#o, want 0600 or narrower", got)
		}
	})

	t.Run("Encoding", func(t *testing.T) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(string(b), "\n"))
		if err != nil || len(raw) != 32 {
			t.Errorf("file content = %d bytes decoding to %d bytes (%v), want base64 of 32 bytes", len(b), len(raw), err)
		}
		// The key bytes never show in any formatting of the key.
		for _, verb := range []string{"%v", "%x", "%s", "%#v", "%q"} {
			s := fmt.Sprintf(verb, created)
			if strings.Contains(s, strings.TrimSpace(string(b))) || strings.Contains(s, fmt.Sprintf("%x", raw)) || strings.Contains(s, string(raw)) {
				t.Errorf("Sprintf(%q, root key) = %q, reveals the key", verb, s)
			}
		}
	})

	t.Run("Load", func(t *testing.T) {
		loaded, err := keyring.LoadRootKeyFile(path)
		if err != nil {
			t.Fatalf("LoadRootKeyFile(path) error = %v", err)
		}
		if !loaded.Equal(created) {
			t.Errorf("LoadRootKeyFile(path).Equal(created) = false, want true")
		}
	})

	t.Run("NeverOverwrite", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		_, err := keyring.CreateRootKeyFile(path)
		if !errors.Is(err, fs.ErrExist) {
			t.Errorf("CreateRootKeyFile(existing) error = %v, want fs.ErrExist", err)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Errorf("CreateRootKeyFile(existing) changed the file")
		}
	})

	t.Run("NoDirectory", func(t *testing.T) {
		if _, err := keyring.CreateRootKeyFile(filepath.Join(t.TempDir(), "missing", "root.key")); err == nil {
			t.Errorf("CreateRootKeyFile(in missing directory) error = nil, want an error")
		}
	})
}

func TestLoadRootKeyFile(t *testing.T) {
	dir := t.TempDir()
	valid, err := os.ReadFile(mustCreate(t, dir))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Modes", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no POSIX modes")
		}
		for _, tt := range []struct {
			mode os.FileMode
			ok   bool
		}{
			{0o600, true},
			{0o400, true},
			{0o640, false},
			{0o604, false},
			{0o644, false},
			{0o660, false},
			{0o666, false},
			{0o700, false}, // executable bit: wider than 0600
			{0o610, false},
		} {
			t.Run(fmt.Sprintf("%#o", tt.mode), func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "root.key")
				if err := os.WriteFile(p, valid, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, tt.mode); err != nil {
					t.Fatal(err)
				}
				_, err := keyring.LoadRootKeyFile(p)
				if tt.ok && err != nil {
					t.Errorf("LoadRootKeyFile(mode %#o) error = %v, want nil", tt.mode, err)
				}
				if !tt.ok && !errors.Is(err, keyring.ErrInsecureKeyFile) {
					t.Errorf("LoadRootKeyFile(mode %#o) error = %v, want ErrInsecureKeyFile", tt.mode, err)
				}
			})
		}
	})

	t.Run("BadContent", func(t *testing.T) {
		for name, content := range map[string][]byte{
			"empty":        {},
			"raw 32 bytes": bytes.Repeat([]byte{7}, 32),
			"short":        []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 31))),
			"long":         []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 33))),
			"unpadded":     []byte(base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))),
			"url alphabet": []byte(strings.Repeat("_", 43) + "="),
			"all zeros":    []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))),
			"two keys":     append(append(bytes.Clone(valid), valid...), '\n'),
			"huge":         bytes.Repeat([]byte{' '}, 1<<20),
		} {
			t.Run(name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "root.key")
				if err := os.WriteFile(p, content, 0o600); err != nil {
					t.Fatal(err)
				}
				if _, err := keyring.LoadRootKeyFile(p); err == nil {
					t.Errorf("LoadRootKeyFile(%s) error = nil, want an error", name)
				}
			})
		}
	})

	t.Run("Whitespace", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "root.key")
		if err := os.WriteFile(p, append(append([]byte("  "), bytes.TrimSpace(valid)...), "\r\n\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := keyring.LoadRootKeyFile(p); err != nil {
			t.Errorf("LoadRootKeyFile(key with surrounding white space) error = %v, want nil", err)
		}
	})

	t.Run("NotRegular", func(t *testing.T) {
		if _, err := keyring.LoadRootKeyFile(t.TempDir()); err == nil {
			t.Errorf("LoadRootKeyFile(directory) error = nil, want an error")
		}
	})

	t.Run("Missing", func(t *testing.T) {
		if _, err := keyring.LoadRootKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("LoadRootKeyFile(missing) error = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("ErrorQuotesNothing", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "root.key")
		secret := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw" // 42 chars
		if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := keyring.LoadRootKeyFile(p)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("LoadRootKeyFile(bad) error = %v, want an error not quoting the content", err)
		}
	})
}

func mustCreate(tb testing.TB, dir string) string {
	tb.Helper()
	p := filepath.Join(dir, "root.key")
	if _, err := keyring.CreateRootKeyFile(p); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestParseRootKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0x42}, 32)
	text := base64.StdEncoding.EncodeToString(raw)

	t.Run("OK", func(t *testing.T) {
		k1, err := keyring.ParseRootKey(text)
		if err != nil {
			t.Fatalf("ParseRootKey(base64 of 32 bytes) error = %v", err)
		}
		k2, err := keyring.ParseRootKey(" " + text + "\n")
		if err != nil {
			t.Fatalf("ParseRootKey(with white space) error = %v", err)
		}
		if !k1.Equal(k2) {
			t.Errorf("ParseRootKey(text).Equal(ParseRootKey(text with space)) = false, want true")
		}
		// The file form and the environment form are the same.
		p := mustCreate(t, t.TempDir())
		b, _ := os.ReadFile(p)
		fromEnv, err := keyring.ParseRootKey(string(b))
		if err != nil {
			t.Fatal(err)
		}
		fromFile, err := keyring.LoadRootKeyFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fromEnv.Equal(fromFile) {
			t.Errorf("ParseRootKey(file content).Equal(LoadRootKeyFile) = false, want true")
		}
	})

	t.Run("Bad", func(t *testing.T) {
		for _, s := range []string{"", text[:43], text + "AAAA", "!" + text[1:], strings.Repeat("A", 44)} {
			if _, err := keyring.ParseRootKey(s); err == nil {
				t.Errorf("ParseRootKey(%d chars) error = nil, want an error", len(s))
			} else if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Errorf("ParseRootKey(s) error = %v, quotes s", err)
			}
		}
	})

	t.Run("NonCanonical", func(t *testing.T) {
		// Setting the unused low bits of the last character gives a text a
		// lenient decoder maps to the same bytes; only the canonical text
		// form is accepted.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		i := strings.IndexByte(alphabet, text[42])
		bad := text[:42] + string(alphabet[i|1]) + "="
		if got, err := base64.StdEncoding.DecodeString(bad); err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("test setup: lenient decode of non-canonical text = %x, %v, want the key", got, err)
		}
		if _, err := keyring.ParseRootKey(bad); err == nil {
			t.Errorf("ParseRootKey(non-canonical padding bits) error = nil, want an error")
		}
	})

	t.Run("Equal", func(t *testing.T) {
		a, _ := keyring.ParseRootKey(text)
		b, _ := keyring.GenerateRootKey()
		if a.Equal(b) {
			t.Errorf("Equal(two different keys) = true, want false")
		}
		if (keyring.RootKey{}).Equal(keyring.RootKey{}) {
			t.Errorf("RootKey{}.Equal(RootKey{}) = true, want false")
		}
	})
}

func TestRootKey_Destroy(t *testing.T) {
	root, err := keyring.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := kr.NewTenantKeys("t")
	if err != nil {
		t.Fatal(err)
	}
	copyOfRoot := root
	root.Destroy()
	if _, err := keyring.New(copyOfRoot); err == nil {
		t.Errorf("New(copy of destroyed root) error = nil, want an error")
	}
	if copyOfRoot.Equal(copyOfRoot) {
		t.Errorf("destroyed.Equal(destroyed) = true, want false")
	}
	// The KeyRing made before Destroy keeps working.
	if _, err := kr.OpenTenantKeys("t", sealed); err != nil {
		t.Errorf("OpenTenantKeys after root.Destroy() error = %v, want nil", err)
	}
	if _, err := keyring.New(keyring.RootKey{}); err == nil {
		t.Errorf("New(RootKey{}) error = nil, want an error")
	}
}

func TestNew_SameRootSameKeys(t *testing.T) {
	root, err := keyring.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	kr1, _ := keyring.New(root)
	kr2, _ := keyring.New(root)
	sealed, err := kr1.NewTenantKeys("t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr2.OpenTenantKeys("t", sealed); err != nil {
		t.Errorf("OpenTenantKeys with a second KeyRing on the same root error = %v, want nil", err)
	}
}
