package keyring_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/keyring"
)

// MustKeyRing returns a KeyRing under a fresh random root key.
func MustKeyRing(tb testing.TB) *keyring.KeyRing {
	tb.Helper()
	root, err := keyring.GenerateRootKey()
	if err != nil {
		tb.Fatal(err)
	}
	kr, err := keyring.New(root)
	if err != nil {
		tb.Fatal(err)
	}
	root.Destroy()
	return kr
}

// MustTenant creates and opens a key set for tenantID.
func MustTenant(tb testing.TB, kr *keyring.KeyRing, tenantID string) (*keyring.TenantKeys, []byte) {
	tb.Helper()
	sealed, err := kr.NewTenantKeys(tenantID)
	if err != nil {
		tb.Fatal(err)
	}
	tk, err := kr.OpenTenant(tenantID, sealed)
	if err != nil {
		tb.Fatal(err)
	}
	return tk, sealed
}

// MustSubject creates a data key for subjectID.
func MustSubject(tb testing.TB, tk vault.TenantKeys, subjectID string) (vault.SubjectKey, []byte) {
	tb.Helper()
	k, wrapped, err := tk.NewSubjectKey(subjectID)
	if err != nil {
		tb.Fatal(err)
	}
	return k, wrapped
}

// mutations returns, for every byte position of b, a copy with that byte
// flipped (two different masks), and every strict prefix of b, and b with
// one byte appended.
func mutations(b []byte) map[string][]byte {
	m := make(map[string][]byte)
	for i := range b {
		for _, mask := range []byte{0x01, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= mask
			m[fmt.Sprintf("flip byte %d mask %#x", i, mask)] = c
		}
	}
	for n := 0; n < len(b); n++ {
		m[fmt.Sprintf("truncated to %d", n)] = bytes.Clone(b[:n])
	}
	m["extended"] = append(bytes.Clone(b), 0)
	m["nil"] = nil
	return m
}

func TestSubjectKey_Seal(t *testing.T) {
	kr := MustKeyRing(t)
	tkA, _ := MustTenant(t, kr, "tenant-a")
	tkB, _ := MustTenant(t, kr, "tenant-b")
	alice, wrappedAlice := MustSubject(t, tkA, "alice")
	bob, _ := MustSubject(t, tkA, "bob")

	const field = "email"
	plaintext := []byte("jeanne.dupont@example.org")
	ct, err := alice.Seal(field, plaintext)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		for _, pt := range [][]byte{plaintext, {}, nil, bytes.Repeat([]byte{0xA5}, 4096)} {
			ct, err := alice.Seal(field, pt)
			if err != nil {
				t.Fatalf("Seal(%q, %d bytes) error = %v", field, len(pt), err)
			}
			if got, want := len(ct), len(pt)+keyring.FieldOverhead; got != want {
				t.Errorf("len(Seal(%q, %d bytes)) = %d, want %d", field, len(pt), got, want)
			}
			got, err := alice.Open(field, ct)
			if err != nil {
				t.Fatalf("Open(%q, Seal(%d bytes)) error = %v", field, len(pt), err)
			}
			if !bytes.Equal(got, pt) {
				t.Errorf("Open(%q, Seal(%d bytes)) = %d bytes, want the plaintext", field, len(pt), len(got))
			}
		}
	})

	t.Run("FreshNonce", func(t *testing.T) {
		ct2, err := alice.Seal(field, plaintext)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(ct, ct2) {
			t.Errorf("Seal(%q, same plaintext) twice = equal ciphertexts, want distinct", field)
		}
	})

	t.Run("NoPlaintextInCiphertext", func(t *testing.T) {
		if bytes.Contains(ct, plaintext[:8]) {
			t.Errorf("Seal(%q, p) contains a prefix of p", field)
		}
	})

	t.Run("ReopenedKey", func(t *testing.T) {
		k, err := tkA.OpenSubjectKey("alice", wrappedAlice)
		if err != nil {
			t.Fatalf("OpenSubjectKey(alice) error = %v", err)
		}
		got, err := k.Open(field, ct)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Errorf("OpenSubjectKey(alice).Open(%q, ct) = %q, %v, want plaintext, nil", field, got, err)
		}
	})

	t.Run("ErrDecrypt", func(t *testing.T) {
		otherTenantAlice, _ := MustSubject(t, tkB, "alice")
		for _, tt := range []struct {
			name  string
			key   vault.SubjectKey
			field string
		}{
			{"other field", alice, "phone"},
			{"field name prefix", alice, "emai"},
			{"field name extended", alice, "email2"},
			{"empty field", alice, ""},
			{"other subject", bob, field},
			{"same subject id, other tenant", otherTenantAlice, field},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.key.Open(tt.field, ct)
				if !errors.Is(err, keyring.ErrDecrypt) {
					t.Errorf("Open(%q, moved ciphertext) = %d bytes, %v, want ErrDecrypt", tt.field, len(got), err)
				}
			})
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		for name, c := range mutations(ct) {
			got, err := alice.Open(field, c)
			if !errors.Is(err, keyring.ErrDecrypt) {
				t.Errorf("Open(%q, %s) = %d bytes, %v, want ErrDecrypt", field, name, len(got), err)
			}
		}
	})

	t.Run("OtherKind", func(t *testing.T) {
		if _, err := alice.Open(field, wrappedAlice); !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("Open(%q, wrapped key) error = %v, want ErrDecrypt", field, err)
		}
	})

	t.Run("EmptyField", func(t *testing.T) {
		if _, err := alice.Seal("", plaintext); err == nil {
			t.Errorf("Seal(\"\", p) error = nil, want an error")
		}
	})

	t.Run("ErrorsQuoteNothing", func(t *testing.T) {
		_, err := alice.Open("phone", ct)
		if err == nil || bytes.Contains([]byte(err.Error()), plaintext) {
			t.Errorf("Open(phone, ct) error = %v, want an error without the plaintext", err)
		}
	})
}

func TestSubjectKey_Destroy(t *testing.T) {
	kr := MustKeyRing(t)
	tk, _ := MustTenant(t, kr, "t")
	k, _ := MustSubject(t, tk, "s")
	ct, err := k.Seal("f", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	k.Destroy()
	if _, err := k.Seal("f", []byte("v")); !errors.Is(err, keyring.ErrDestroyed) {
		t.Errorf("Seal after Destroy error = %v, want ErrDestroyed", err)
	}
	if _, err := k.Open("f", ct); !errors.Is(err, keyring.ErrDestroyed) {
		t.Errorf("Open after Destroy error = %v, want ErrDestroyed", err)
	}
	k.Destroy() // idempotent
}

func TestTenantKeys_OpenSubjectKey(t *testing.T) {
	kr := MustKeyRing(t)
	tkA, sealedA := MustTenant(t, kr, "tenant-a")
	tkB, _ := MustTenant(t, kr, "tenant-b")
	alice, wrapped := MustSubject(t, tkA, "alice")
	ct, err := alice.Seal("email", []byte("a@example.org"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		if got, want := len(wrapped), keyring.WrappedKeySize; got != want {
			t.Errorf("len(wrapped) = %d, want %d", got, want)
		}
		// The same tenant set opened again unwraps the key.
		tk2, err := kr.OpenTenantKeys("tenant-a", sealedA)
		if err != nil {
			t.Fatal(err)
		}
		k, err := tk2.OpenSubjectKey("alice", wrapped)
		if err != nil {
			t.Fatalf("OpenSubjectKey(alice, wrapped) error = %v", err)
		}
		if got, err := k.Open("email", ct); err != nil || string(got) != "a@example.org" {
			t.Errorf("Open(email, ct) = %q, %v, want a@example.org, nil", got, err)
		}
	})

	t.Run("ErrDecrypt", func(t *testing.T) {
		for _, tt := range []struct {
			name    string
			tk      vault.TenantKeys
			subject string
		}{
			{"other subject", tkA, "bob"},
			{"subject id prefix", tkA, "alic"},
			{"other tenant", tkB, "alice"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				k, err := tt.tk.OpenSubjectKey(tt.subject, wrapped)
				if !errors.Is(err, keyring.ErrDecrypt) || k != nil {
					t.Errorf("OpenSubjectKey(%q, moved key) = %v, %v, want nil, ErrDecrypt", tt.subject, k, err)
				}
			})
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		for name, w := range mutations(wrapped) {
			k, err := tkA.OpenSubjectKey("alice", w)
			if !errors.Is(err, keyring.ErrDecrypt) || k != nil {
				t.Errorf("OpenSubjectKey(alice, %s) = %v, %v, want nil, ErrDecrypt", name, k, err)
			}
		}
	})

	t.Run("OtherKind", func(t *testing.T) {
		// A field ciphertext of exactly the wrapped size is still refused.
		sameSize, err := alice.Seal("email", make([]byte, keyring.WrappedKeySize-keyring.FieldOverhead))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tkA.OpenSubjectKey("alice", sameSize); !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("OpenSubjectKey(alice, field ciphertext) error = %v, want ErrDecrypt", err)
		}
	})

	t.Run("EmptySubject", func(t *testing.T) {
		if _, _, err := tkA.NewSubjectKey(""); err == nil {
			t.Errorf("NewSubjectKey(\"\") error = nil, want an error")
		}
	})
}

func TestKeyRing_OpenTenantKeys(t *testing.T) {
	kr := MustKeyRing(t)
	sealed, err := kr.NewTenantKeys("tenant-a")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		tk1, err := kr.OpenTenantKeys("tenant-a", sealed)
		if err != nil {
			t.Fatalf("OpenTenantKeys(tenant-a, sealed) error = %v", err)
		}
		tk2, err := kr.OpenTenantKeys("tenant-a", sealed)
		if err != nil {
			t.Fatal(err)
		}
		// Same set, same derived keys.
		if a, b := tk1.BlindIndex("email", "x@example.org"), tk2.BlindIndex("email", "x@example.org"); !bytes.Equal(a, b) {
			t.Errorf("BlindIndex across two opens = %x and %x, want equal", a, b)
		}
		_, wrapped := MustSubject(t, tk1, "s")
		if _, err := tk2.OpenSubjectKey("s", wrapped); err != nil {
			t.Errorf("OpenSubjectKey(s) with the set opened again error = %v, want nil", err)
		}
	})

	t.Run("FreshKeys", func(t *testing.T) {
		other, err := kr.NewTenantKeys("tenant-a")
		if err != nil {
			t.Fatal(err)
		}
		tk1, _ := kr.OpenTenantKeys("tenant-a", sealed)
		tk2, _ := kr.OpenTenantKeys("tenant-a", other)
		if bytes.Equal(tk1.BlindIndex("f", "v"), tk2.BlindIndex("f", "v")) {
			t.Errorf("NewTenantKeys(tenant-a) twice gives equal index keys, want random")
		}
	})

	t.Run("WrongRootKey", func(t *testing.T) {
		other := MustKeyRing(t)
		tk, err := other.OpenTenantKeys("tenant-a", sealed)
		if !errors.Is(err, keyring.ErrDecrypt) || tk != nil {
			t.Errorf("OpenTenantKeys under another root = %v, %v, want nil, ErrDecrypt", tk, err)
		}
	})

	t.Run("OtherTenant", func(t *testing.T) {
		for _, id := range []string{"tenant-b", "tenant-", "tenant-a ", ""} {
			tk, err := kr.OpenTenantKeys(id, sealed)
			if !errors.Is(err, keyring.ErrDecrypt) || tk != nil {
				t.Errorf("OpenTenantKeys(%q, set of tenant-a) = %v, %v, want nil, ErrDecrypt", id, tk, err)
			}
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		for name, s := range mutations(sealed) {
			tk, err := kr.OpenTenantKeys("tenant-a", s)
			if !errors.Is(err, keyring.ErrDecrypt) || tk != nil {
				t.Errorf("OpenTenantKeys(tenant-a, %s) = %v, %v, want nil, ErrDecrypt", name, tk, err)
			}
		}
	})

	t.Run("EmptyTenant", func(t *testing.T) {
		if _, err := kr.NewTenantKeys(""); err == nil {
			t.Errorf("NewTenantKeys(\"\") error = nil, want an error")
		}
	})
}

func TestTenantKeys_BlindIndex(t *testing.T) {
	kr := MustKeyRing(t)
	tkA, _ := MustTenant(t, kr, "tenant-a")
	tkB, _ := MustTenant(t, kr, "tenant-b")

	t.Run("Deterministic", func(t *testing.T) {
		a1 := tkA.BlindIndex("email", "jeanne@example.org")
		a2 := tkA.BlindIndex("email", "jeanne@example.org")
		if len(a1) != 32 {
			t.Errorf("len(BlindIndex(email, v)) = %d, want 32", len(a1))
		}
		if !bytes.Equal(a1, a2) {
			t.Errorf("BlindIndex(email, v) = %x then %x, want equal", a1, a2)
		}
		s1 := tkA.SegmentToken("district", "nord")
		s2 := tkA.SegmentToken("district", "nord")
		if len(s1) != 16 {
			t.Errorf("len(SegmentToken(district, v)) = %d, want 16", len(s1))
		}
		if !bytes.Equal(s1, s2) {
			t.Errorf("SegmentToken(district, v) = %x then %x, want equal", s1, s2)
		}
	})

	t.Run("Distinct", func(t *testing.T) {
		base := tkA.BlindIndex("email", "v")
		for _, tt := range []struct {
			name string
			got  []byte
		}{
			{"other tenant", tkB.BlindIndex("email", "v")},
			{"other field", tkA.BlindIndex("phone", "v")},
			{"other value", tkA.BlindIndex("email", "w")},
			{"empty value", tkA.BlindIndex("email", "")},
			{"segment token", tkA.SegmentToken("email", "v")},
		} {
			if bytes.HasPrefix(base, tt.got) || bytes.HasPrefix(tt.got, base[:16]) {
				t.Errorf("BlindIndex(email, v) = %x, %s = %x, want unrelated", base, tt.name, tt.got)
			}
		}
		if a, b := tkA.SegmentToken("district", "v"), tkB.SegmentToken("district", "v"); bytes.Equal(a, b) {
			t.Errorf("SegmentToken(district, v) in two tenants = %x, want distinct", a)
		}
		if a, b := tkA.SegmentToken("district", "v"), tkA.SegmentToken("age_band", "v"); bytes.Equal(a, b) {
			t.Errorf("SegmentToken(v) in two fields = %x, want distinct", a)
		}
	})

	t.Run("NotPlainHMACOfValue", func(t *testing.T) {
		// Tokens must not reveal the value to anyone without the key: a
		// plain SHA-256 or an HMAC under a zero key would be guessable.
		if bytes.Contains(tkA.BlindIndex("email", "abcdefgh"), []byte("abcdefgh")) {
			t.Errorf("BlindIndex(email, abcdefgh) contains the value")
		}
	})

	t.Run("ManyFields", func(t *testing.T) {
		// Past the cache bound, tokens are still derived and stable.
		for i := range 600 {
			f := fmt.Sprintf("field-%d", i)
			if a, b := tkA.BlindIndex(f, "v"), tkA.BlindIndex(f, "v"); !bytes.Equal(a, b) {
				t.Fatalf("BlindIndex(%s, v) = %x then %x, want equal", f, a, b)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		want := tkA.BlindIndex("email", "x")
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					f := fmt.Sprintf("c-%d-%d", g, i%10)
					tkA.BlindIndex(f, "x")
					tkA.SegmentToken(f, "x")
					if got := tkA.BlindIndex("email", "x"); !bytes.Equal(got, want) {
						t.Errorf("concurrent BlindIndex(email, x) = %x, want %x", got, want)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

func TestKeyRing_AddKEK(t *testing.T) {
	kr := MustKeyRing(t)
	sealed1, err := kr.NewTenantKeys("t")
	if err != nil {
		t.Fatal(err)
	}
	tk1, err := kr.OpenTenant("t", sealed1)
	if err != nil {
		t.Fatal(err)
	}
	if got := tk1.CurrentKEKVersion(); got != 1 {
		t.Errorf("CurrentKEKVersion() of a new set = %d, want 1", got)
	}
	oldKey, oldWrapped := MustSubject(t, tk1, "s1")
	ct, err := oldKey.Seal("email", []byte("s1@example.org"))
	if err != nil {
		t.Fatal(err)
	}

	sealed2, v, err := kr.AddKEK("t", sealed1)
	if err != nil {
		t.Fatalf("AddKEK(t) error = %v", err)
	}
	if v != 2 {
		t.Errorf("AddKEK(t) version = %d, want 2", v)
	}
	tk2, err := kr.OpenTenant("t", sealed2)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("CurrentVersion", func(t *testing.T) {
		if got := tk2.CurrentKEKVersion(); got != 2 {
			t.Errorf("CurrentKEKVersion() after AddKEK = %d, want 2", got)
		}
		_, w := MustSubject(t, tk2, "s2")
		if got, err := keyring.WrappedKEKVersion(w); err != nil || got != 2 {
			t.Errorf("WrappedKEKVersion(new wrapped key) = %d, %v, want 2, nil", got, err)
		}
		if got, err := keyring.WrappedKEKVersion(oldWrapped); err != nil || got != 1 {
			t.Errorf("WrappedKEKVersion(old wrapped key) = %d, %v, want 1, nil", got, err)
		}
		if _, err := keyring.WrappedKEKVersion(ct); !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("WrappedKEKVersion(field ciphertext) error = %v, want ErrDecrypt", err)
		}
	})

	t.Run("OldKeysOpen", func(t *testing.T) {
		k, err := tk2.OpenSubjectKey("s1", oldWrapped)
		if err != nil {
			t.Fatalf("OpenSubjectKey(s1, key wrapped under v1) error = %v", err)
		}
		if got, err := k.Open("email", ct); err != nil || string(got) != "s1@example.org" {
			t.Errorf("Open(email, ct) = %q, %v, want s1@example.org, nil", got, err)
		}
	})

	t.Run("BlindIndexUnchanged", func(t *testing.T) {
		if a, b := tk1.BlindIndex("email", "v"), tk2.BlindIndex("email", "v"); !bytes.Equal(a, b) {
			t.Errorf("BlindIndex(email, v) before and after AddKEK = %x, %x, want equal", a, b)
		}
	})

	rewrapped, err := tk2.Rewrap("s1", oldWrapped)
	if err != nil {
		t.Fatalf("Rewrap(s1, old) error = %v", err)
	}

	t.Run("Rewrap", func(t *testing.T) {
		if got, _ := keyring.WrappedKEKVersion(rewrapped); got != 2 {
			t.Errorf("WrappedKEKVersion(Rewrap(s1, old)) = %d, want 2", got)
		}
		k, err := tk2.OpenSubjectKey("s1", rewrapped)
		if err != nil {
			t.Fatalf("OpenSubjectKey(s1, rewrapped) error = %v", err)
		}
		// Field ciphertexts sealed before the rotation still open.
		if got, err := k.Open("email", ct); err != nil || string(got) != "s1@example.org" {
			t.Errorf("Open(email, ct sealed before rotation) = %q, %v, want s1@example.org, nil", got, err)
		}
		// The old set does not know version 2.
		if _, err := tk1.OpenSubjectKey("s1", rewrapped); !errors.Is(err, keyring.ErrUnknownKEK) || !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("OpenSubjectKey(s1, rewrapped) with the v1 set error = %v, want ErrUnknownKEK and ErrDecrypt", err)
		}
		if _, err := tk2.Rewrap("other", oldWrapped); !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("Rewrap(other, key of s1) error = %v, want ErrDecrypt", err)
		}
	})

	t.Run("DropKEK", func(t *testing.T) {
		if _, err := kr.DropKEK("t", sealed2, 2); err == nil {
			t.Errorf("DropKEK(t, current) error = nil, want an error")
		}
		if _, err := kr.DropKEK("t", sealed2, 7); !errors.Is(err, keyring.ErrUnknownKEK) {
			t.Errorf("DropKEK(t, 7) error = %v, want ErrUnknownKEK", err)
		}
		sealed3, err := kr.DropKEK("t", sealed2, 1)
		if err != nil {
			t.Fatalf("DropKEK(t, 1) error = %v", err)
		}
		tk3, err := kr.OpenTenant("t", sealed3)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tk3.OpenSubjectKey("s1", oldWrapped); !errors.Is(err, keyring.ErrUnknownKEK) {
			t.Errorf("OpenSubjectKey(s1, v1 key) after DropKEK(1) error = %v, want ErrUnknownKEK", err)
		}
		if _, err := tk3.OpenSubjectKey("s1", rewrapped); err != nil {
			t.Errorf("OpenSubjectKey(s1, rewrapped) after DropKEK(1) error = %v, want nil", err)
		}
		// Versions keep counting up after a drop.
		if _, v, err := kr.AddKEK("t", sealed3); err != nil || v != 3 {
			t.Errorf("AddKEK(t) after DropKEK(1) = %d, %v, want 3, nil", v, err)
		}
	})

	t.Run("WrongTenant", func(t *testing.T) {
		if _, _, err := kr.AddKEK("u", sealed1); !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("AddKEK(u, set of t) error = %v, want ErrDecrypt", err)
		}
		if _, err := kr.DropKEK("u", sealed2, 1); !errors.Is(err, keyring.ErrDecrypt) {
			t.Errorf("DropKEK(u, set of t) error = %v, want ErrDecrypt", err)
		}
	})
}

func TestRedacted(t *testing.T) {
	kr := MustKeyRing(t)
	tk, _ := MustTenant(t, kr, "tenant-secret-id")
	k, _ := MustSubject(t, tk, "subject-secret-id")
	root, err := keyring.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{root, &root, kr, tk, k} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			got := fmt.Sprintf(verb, v)
			if !bytes.Contains([]byte(got), []byte("redacted")) || bytes.Contains([]byte(got), []byte("secret-id")) {
				t.Errorf("Sprintf(%q, %T) = %q, want a redacted placeholder", verb, v, got)
			}
		}
	}
}
