package vault_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/coffre/coffre/vault"
)

// textPieces are the parts random strings are made of: what json.Marshal
// escapes (quotes, backslashes, control characters, HTML characters,
// U+2028 and U+2029, invalid UTF-8) and what it does not.
var textPieces = []string{
	"a", "Camille", " ", "/", "é", "日本", "😀", "\u2028", "\u2029", "\ufffd", "\u007f",
	`"`, `\`, "<", ">", "&", "\x00", "\x01", "\x1f", "\b", "\f", "\n", "\r", "\t",
	"\xff", "\xc3", "\xed\xa0\x80", "\xf0\x9f", `\u0041`, `\"`,
}

func randText(rng *rand.Rand) string {
	var b strings.Builder
	for n := rng.IntN(6); n > 0; n-- {
		b.WriteString(textPieces[rng.IntN(len(textPieces))])
	}
	return b.String()
}

// mutate returns b with a few bytes replaced, inserted or removed, so that
// most results are near the service's own encodings but not quite.
func mutate(rng *rand.Rand, b []byte) []byte {
	const alphabet = "[]{},:\"\\/ubfnrt0aAdDfF \x00\x80\xff"
	b = append([]byte(nil), b...)
	for n := 1 + rng.IntN(3); n > 0; n-- {
		c := alphabet[rng.IntN(len(alphabet))]
		switch i := rng.IntN(len(b) + 1); rng.IntN(3) {
		case 0:
			if i < len(b) {
				b[i] = c
			}
		case 1:
			b = append(b[:i], append([]byte{c}, b[i:]...)...)
		case 2:
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		}
	}
	return b
}

// checkList fails unless DecodeList(pt) is what json.Unmarshal into a
// []string gives: the same value, nil or not, or the same error.
func checkList(t *testing.T, pt []byte) {
	t.Helper()
	var want []string
	werr := json.Unmarshal(pt, &want)
	got, err := vault.DecodeList(pt)
	if werr != nil {
		if err == nil || err.Error() != werr.Error() {
			t.Fatalf("DecodeList(%q) = %q, %v, want error %v", pt, got, err, werr)
		}
		return
	}
	if err != nil || !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("DecodeList(%q) = %#v, %v, want %#v", pt, got, err, want)
	}
}

// checkConsent is checkList for DecodeSealedConsent.
func checkConsent(t *testing.T, pt []byte) {
	t.Helper()
	ws, wp, werr := vault.UnmarshalSealedConsent(pt)
	s, p, err := vault.DecodeSealedConsent(pt)
	if werr != nil {
		if err == nil || err.Error() != werr.Error() {
			t.Fatalf("DecodeSealedConsent(%q) = %q, %q, %v, want error %v", pt, s, p, err, werr)
		}
		return
	}
	if err != nil || s != ws || p != wp {
		t.Fatalf("DecodeSealedConsent(%q) = %q, %q, %v, want %q, %q", pt, s, p, err, ws, wp)
	}
}

func TestDecodeList(t *testing.T) {
	t.Run("ServiceEncoding", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 5000 {
			ss := make([]string, rng.IntN(5))
			for i := range ss {
				ss[i] = randText(rng)
			}
			pt, err := json.Marshal(ss)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := vault.FastList(pt); !ok {
				t.Fatalf("FastList(%q) = _, false, want true for json.Marshal's encoding", pt)
			}
			checkList(t, pt)
		}
	})
	t.Run("Fast", func(t *testing.T) {
		for _, in := range []string{
			`[]`, `[""]`, `["a","b"]`, `["a","a"]`, `["<&>"]`, `["\u003c\u0026\u003e"]`,
			`["\"\\\/\b\f\n\r\t"]`, `["\u0000\u001f\u007f"]`, `["\u00e9\u00E9\uFFFD\ufffd\u2028\u2029"]`,
			`["é日本😀"]`, `["x\u0041y","\u0042"]`, `["\u0041","plain"]`, "[\"\x7f\"]",
		} {
			if _, ok := vault.FastList([]byte(in)); !ok {
				t.Errorf("FastList(%q) = _, false, want true", in)
			}
			checkList(t, []byte(in))
		}
	})
	t.Run("Fallback", func(t *testing.T) {
		for _, in := range []string{
			``, `null`, ` []`, `[] `, `[ ]`, `[ "a"]`, `["a" ]`, `["a", "b"]`, "[\"a\"]\n",
			`["\ud83d\ude00"]`, `["\ud83d"]`, `["\ude00x"]`, `["\uDBFF\uDFFF"]`, "[\"\xff\"]", "[\"\xed\xa0\x80\"]",
			"[\"\x00\"]", "[\"\n\"]", `["\x"]`, `["\u12"]`, `["\u12g4"]`, `["\`, `["a`, `["a",]`, `[,"a"]`,
			`["a""b"]`, `["a"]]`, `[["a"]]`, `[1]`, `["a",null]`, `[null]`, `[true]`, `{}`, `"a"`, `[`, `]`,
			`["a"],["b"]`,
		} {
			if ss, ok := vault.FastList([]byte(in)); ok {
				t.Errorf("FastList(%q) = %q, true, want false", in, ss)
			}
			checkList(t, []byte(in))
		}
	})
	t.Run("Mutated", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for range 20000 {
			ss := make([]string, rng.IntN(4))
			for i := range ss {
				ss[i] = randText(rng)
			}
			pt, _ := json.Marshal(ss)
			checkList(t, mutate(rng, pt))
		}
	})
}

func TestDecodeSealedConsent(t *testing.T) {
	t.Run("ServiceEncoding", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for range 5000 {
			pt := vault.MarshalSealedConsent(randText(rng), randText(rng))
			if _, _, ok := vault.FastSealedConsent(pt); !ok {
				t.Fatalf("FastSealedConsent(%q) = _, _, false, want true for json.Marshal's encoding", pt)
			}
			checkConsent(t, pt)
		}
	})
	t.Run("Fast", func(t *testing.T) {
		for _, in := range []string{
			`{}`, `{"source":""}`, `{"proof":""}`, `{"source":"web form"}`, `{"proof":"form-991"}`,
			`{"source":"web form","proof":"form-991"}`, `{"source":"\u003cb\u003e \"x\" \\ \/","proof":"\n\t\u2028"}`,
			`{"source":"}","proof":"{"}`, `{"source":",\"proof\":\"x"}`,
		} {
			if _, _, ok := vault.FastSealedConsent([]byte(in)); !ok {
				t.Errorf("FastSealedConsent(%q) = _, _, false, want true", in)
			}
			checkConsent(t, []byte(in))
		}
	})
	t.Run("Fallback", func(t *testing.T) {
		for _, in := range []string{
			``, `null`, `{ }`, ` {}`, `{} `, `{"source": "a"}`, `{"proof":"b","source":"a"}`,
			`{"source":"a","source":"b"}`, `{"proof":"a","proof":"b"}`, `{"Source":"a"}`, `{"PROOF":"b"}`,
			`{"source":"a",}`, `{"source":"a","proof":"b",}`, `{,}`, `{"source":"a"`, `{"source":1}`,
			`{"source":null}`, `{"proof":null}`, `{"other":"x"}`, `{"source":"a","other":"x"}`,
			`{"source":"\ud83d\ude00"}`, "{\"proof\":\"\xff\"}", "{\"source\":\"\x01\"}", `{"sourc\u0065":"a"}`,
			`{"source":"a"}{}`, `[]`, `{"source":"a","proof":"b"}}`, `{"source":"\q"}`,
		} {
			if s, p, ok := vault.FastSealedConsent([]byte(in)); ok {
				t.Errorf("FastSealedConsent(%q) = %q, %q, true, want false", in, s, p)
			}
			checkConsent(t, []byte(in))
		}
	})
	t.Run("Mutated", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for range 20000 {
			checkConsent(t, mutate(rng, vault.MarshalSealedConsent(randText(rng), randText(rng))))
		}
	})
}

func FuzzDecodeList(f *testing.F) {
	for _, s := range []string{`[]`, `["a","b"]`, `["\u003c\n\"\\"]`, `["\ud83d\ude00"]`, `null`, "[\"\xff\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, pt []byte) { checkList(t, pt) })
}

func FuzzDecodeSealedConsent(f *testing.F) {
	for _, s := range []string{`{}`, `{"source":"a","proof":"b"}`, `{"proof":"\u0026"}`, `{"source":"a","source":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, pt []byte) { checkConsent(t, pt) })
}

// BenchmarkDecodeList compares decodeList with the json.Unmarshal open
// used before it, on a list as seal writes it.
func BenchmarkDecodeList(b *testing.B) {
	pt, _ := json.Marshal([]string{"climate", "housing", "transport"})
	b.Run("Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ss []string
			if err := json.Unmarshal(pt, &ss); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := vault.DecodeList(pt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeSealedConsent compares decodeSealedConsent with the
// json.Unmarshal open used before it.
func BenchmarkDecodeSealedConsent(b *testing.B) {
	pt := vault.MarshalSealedConsent("web form", "form-991")
	b.Run("Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := vault.UnmarshalSealedConsent(pt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := vault.DecodeSealedConsent(pt); err != nil {
				b.Fatal(err)
			}
		}
	})
}
