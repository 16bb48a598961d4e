package mock_test

import (
	"bytes"
	"testing"

	"github.com/coffre/coffre/vault/mock"
)

func TestKeyRing(t *testing.T) {
	var kr mock.KeyRing
	sealed, err := kr.NewTenantKeys("t1")
	if err != nil {
		t.Fatalf("NewTenantKeys = %v", err)
	}
	tk, err := kr.OpenTenantKeys("t1", sealed)
	if err != nil {
		t.Fatalf("OpenTenantKeys = %v", err)
	}
	sk, wrapped, err := tk.NewSubjectKey("s1")
	if err != nil {
		t.Fatalf("NewSubjectKey = %v", err)
	}
	ct, err := sk.Seal("email", []byte("a@example.org"))
	if err != nil {
		t.Fatalf("Seal = %v", err)
	}
	if bytes.Contains(ct, []byte("a@example.org")) {
		t.Errorf("Seal left the plaintext in the ciphertext")
	}

	t.Run("OK", func(t *testing.T) {
		sk2, err := tk.OpenSubjectKey("s1", wrapped)
		if err != nil {
			t.Fatalf("OpenSubjectKey = %v", err)
		}
		pt, err := sk2.Open("email", ct)
		if err != nil || string(pt) != "a@example.org" {
			t.Errorf("Open = %q, %v; want the plaintext", pt, err)
		}
		if !bytes.Equal(tk.BlindIndex("email", "a@example.org"), tk.BlindIndex("email", "a@example.org")) {
			t.Errorf("BlindIndex is not deterministic")
		}
		if bytes.Equal(tk.BlindIndex("email", "a@example.org"), tk.BlindIndex("phone", "a@example.org")) {
			t.Errorf("BlindIndex does not depend on the field")
		}
	})

	t.Run("ErrWrongTenant", func(t *testing.T) {
		if _, err := kr.OpenTenantKeys("t2", sealed); err == nil {
			t.Errorf("OpenTenantKeys(other tenant) = nil, want an error")
		}
		other, _ := kr.NewTenantKeys("t1")
		tk2, _ := kr.OpenTenantKeys("t1", other)
		if bytes.Equal(tk.BlindIndex("email", "x"), tk2.BlindIndex("email", "x")) {
			t.Errorf("two key sets give the same blind index")
		}
	})

	t.Run("ErrWrongSubject", func(t *testing.T) {
		if _, err := tk.OpenSubjectKey("s2", wrapped); err == nil {
			t.Errorf("OpenSubjectKey(other subject) = nil, want an error")
		}
	})

	t.Run("ErrWrongField", func(t *testing.T) {
		if _, err := sk.Open("phone", ct); err == nil {
			t.Errorf("Open(other field) = nil, want an error")
		}
		bad := bytes.Clone(ct)
		bad[len(bad)-1] ^= 1
		if _, err := sk.Open("email", bad); err == nil {
			t.Errorf("Open(tampered) = nil, want an error")
		}
	})

	t.Run("ErrDestroyed", func(t *testing.T) {
		sk3, _ := tk.OpenSubjectKey("s1", wrapped)
		sk3.Destroy()
		if _, err := sk3.Open("email", ct); err == nil {
			t.Errorf("Open after Destroy = nil, want an error")
		}
	})
}
