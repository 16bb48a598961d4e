package keyring_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/coffre/coffre/vault/keyring"
)

// FuzzOpen checks that Open, OpenSubjectKey and OpenTenantKeys never panic
// on arbitrary bytes, and that whatever they refuse is refused as
// ErrDecrypt. Only the genuine ciphertext opens, to the genuine plaintext.
func FuzzOpen(f *testing.F) {
	kr := MustKeyRing(f)
	tk, sealed := MustTenant(f, kr, "t")
	k, wrapped := MustSubject(f, tk, "s")
	plaintext := []byte("jeanne@example.org")
	ct, err := k.Seal("email", plaintext)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{nil, {}, {0x11}, {0x21}, {0x31}, ct, wrapped, sealed, ct[:len(ct)-1], append(bytes.Clone(ct), 0)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := k.Open("email", b)
		switch {
		case bytes.Equal(b, ct):
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Errorf("Open(email, ct) = %q, %v, want plaintext, nil", got, err)
			}
		case !errors.Is(err, keyring.ErrDecrypt):
			t.Errorf("Open(email, %x) = %q, %v, want ErrDecrypt", b, got, err)
		}
		if _, err := tk.OpenSubjectKey("s", b); !bytes.Equal(b, wrapped) && !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("OpenSubjectKey(s, %x) error = %v, want ErrDecrypt", b, err)
		}
		if _, err := kr.OpenTenantKeys("t", b); !bytes.Equal(b, sealed) && !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("OpenTenantKeys(t, %x) error = %v, want ErrDecrypt", b, err)
		}
		if _, err := keyring.WrappedKEKVersion(b); err != nil && !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("WrappedKEKVersion(%x) error = %v, want nil or ErrDecrypt", b, err)
		}
	})
}
