package keyring_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/coffre/coffre/vault/keyring"
)

// typicalField is a typical sealed value: a 30-byte e-mail address.
var typicalField = []byte("jeanne.dupont-martin@orange.fr")

func BenchmarkSeal(b *testing.B) {
	k, _ := MustSubject(b, mustTenantKeys(b), "0192d5f8-7a1c-7cc1-9a43-5e8f7d1c2b3a")
	b.SetBytes(int64(len(typicalField)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal("email", typicalField); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k, _ := MustSubject(b, mustTenantKeys(b), "0192d5f8-7a1c-7cc1-9a43-5e8f7d1c2b3a")
	ct, err := k.Seal("email", typicalField)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(typicalField)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open("email", ct); err != nil {
			b.Fatal(err)
		}
	}
}

// rawGCM is the baseline: bare AES-256-GCM, random nonce prepended, no
// associated data, no header.
func rawGCM(b *testing.B) cipher.AEAD {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	return aead
}

func rawSeal(aead cipher.AEAD, pt []byte) []byte {
	out := make([]byte, 12, 12+len(pt)+16)
	rand.Read(out)
	return aead.Seal(out, out, pt, nil)
}

func BenchmarkRawAESGCMSeal(b *testing.B) {
	aead := rawGCM(b)
	b.SetBytes(int64(len(typicalField)))
	b.ReportAllocs()
	for b.Loop() {
		rawSeal(aead, typicalField)
	}
}

func BenchmarkRawAESGCMOpen(b *testing.B) {
	aead := rawGCM(b)
	ct := rawSeal(aead, typicalField)
	b.SetBytes(int64(len(typicalField)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := aead.Open(nil, ct[:12], ct[12:], nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	tk := mustTenantKeys(b)
	v := string(typicalField)
	b.ReportAllocs()
	for b.Loop() {
		tk.BlindIndex("email", v)
	}
}

func BenchmarkBlindIndexParallel(b *testing.B) {
	tk := mustTenantKeys(b)
	v := string(typicalField)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk.BlindIndex("email", v)
		}
	})
}

func BenchmarkSegmentToken(b *testing.B) {
	tk := mustTenantKeys(b)
	b.ReportAllocs()
	for b.Loop() {
		tk.SegmentToken("district", "quartier-nord")
	}
}

// BenchmarkRawHMACSHA256 is the baseline for BlindIndex: hmac.New under a
// fixed key on every call.
func BenchmarkRawHMACSHA256(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	b.ReportAllocs()
	for b.Loop() {
		h := hmac.New(sha256.New, key)
		h.Write(typicalField)
		h.Sum(nil)
	}
}

func BenchmarkNewSubjectKey(b *testing.B) {
	tk := mustTenantKeys(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tk.NewSubjectKey("0192d5f8-7a1c-7cc1-9a43-5e8f7d1c2b3a"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenSubjectKey(b *testing.B) {
	tk := mustTenantKeys(b)
	_, wrapped := MustSubject(b, tk, "0192d5f8-7a1c-7cc1-9a43-5e8f7d1c2b3a")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.OpenSubjectKey("0192d5f8-7a1c-7cc1-9a43-5e8f7d1c2b3a", wrapped); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenTenantKeys(b *testing.B) {
	kr := MustKeyRing(b)
	sealed, err := kr.NewTenantKeys("0192d5f8-0000-7000-8000-000000000001")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.OpenTenantKeys("0192d5f8-0000-7000-8000-000000000001", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func mustTenantKeys(b *testing.B) *keyring.TenantKeys {
	b.Helper()
	tk, _ := MustTenant(b, MustKeyRing(b), "0192d5f8-0000-7000-8000-000000000001")
	return tk
}
