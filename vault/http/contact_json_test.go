package http_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
)

// textPieces are the parts random strings are made of: everything
// encoding/json escapes (quotes, backslashes, control characters, HTML
// characters, U+2028 and U+2029, invalid UTF-8) and things it does not.
var textPieces = []string{
	"a", "Camille", " ", "/", "é", "日本", "😀", "\u2028", "\u2029", "\ufffd", "\u007f", "\u0080",
	`"`, `\`, "<", ">", "&", "\x00", "\x01", "\x1f", "\b", "\f", "\n", "\r", "\t", "'",
	"\xff", "\xc3", "\xed\xa0\x80", "\xf0\x9f", "\xe2\x80", "+33612345678", "***",
}

func randText(rng *rand.Rand) string {
	var b strings.Builder
	for n := rng.IntN(5); n > 0; n-- {
		b.WriteString(textPieces[rng.IntN(len(textPieces))])
	}
	return b.String()
}

// fieldNames are some of the default schema's field names, so that random
// views mix them with random keys.
var fieldNames = []string{"given_name", "family_name", "email", "phone", "interests", "notes", ""}

// randTime returns a time in a random zone, now and then one that
// time.Time.MarshalJSON refuses (a year or zone offset out of range).
func randTime(rng *rand.Rand) time.Time {
	switch rng.IntN(20) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(-1+rng.IntN(2)*10001, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	t := time.Unix(rng.Int64N(253402300799+62135596800)-62135596800, 0)
	switch rng.IntN(3) {
	case 1:
		t = t.Add(time.Duration(rng.IntN(1e9)))
	case 2:
		t = t.Add(time.Duration(rng.IntN(1e6)) * time.Microsecond)
	}
	switch rng.IntN(4) {
	case 0:
		t = t.UTC()
	case 1:
		t = t.In(time.FixedZone("", rng.IntN(2*26*3600+1)-26*3600))
	case 2:
		t = t.In(time.FixedZone("", (rng.IntN(29)-14)*3600))
	}
	return t
}

// randView returns a random contact view.
func randView(rng *rand.Rand) *vault.ContactView {
	v := &vault.ContactView{ID: randText(rng)}
	if rng.IntN(10) > 0 {
		v.Fields = map[string]any{}
		for n := rng.IntN(12); n > 0; n-- {
			k := randText(rng)
			if rng.IntN(2) == 0 {
				k = fieldNames[rng.IntN(len(fieldNames))]
			}
			switch rng.IntN(40) {
			case 0:
				v.Fields[k] = []string(nil)
			case 1:
				v.Fields[k] = []string{}
			case 2:
				// Other values are not produced by the service but are
				// encoded all the same, by json.Marshal.
				others := []any{nil, 1, 1.5, true, json.Number("12"), []any{"x"}, map[string]any{"<": "&"}, struct{}{}}
				v.Fields[k] = others[rng.IntN(len(others))]
			default:
				if rng.IntN(3) == 0 {
					ss := make([]string, 1+rng.IntN(4))
					for i := range ss {
						ss[i] = randText(rng)
					}
					v.Fields[k] = ss
				} else {
					v.Fields[k] = randText(rng)
				}
			}
		}
	}
	if rng.IntN(10) > 0 {
		v.Consents = map[string]vault.ConsentView{}
		for n := rng.IntN(5); n > 0; n-- {
			c := vault.ConsentView{Granted: rng.IntN(2) == 0}
			c.At = randTime(rng)
			if rng.IntN(2) == 0 {
				c.Source = randText(rng)
			}
			v.Consents[randText(rng)] = c
		}
	}
	v.CreatedAt, v.UpdatedAt = randTime(rng), randTime(rng)
	return v
}

// supported reports whether appendJSON should encode v rather than leave
// it to json.Marshal: its field values are strings or lists of strings,
// its times are ones time.Time.MarshalJSON accepts.
func supported(v *vault.ContactView) bool {
	if v == nil {
		return true
	}
	for _, f := range v.Fields {
		switch f.(type) {
		case string, []string:
		default:
			return false
		}
	}
	times := []time.Time{v.CreatedAt, v.UpdatedAt}
	for _, c := range v.Consents {
		times = append(times, c.At)
	}
	for _, t := range times {
		if _, err := t.MarshalJSON(); err != nil {
			return false
		}
	}
	return true
}

// checkView fails unless appendJSON and writeJSON encode v as json.Marshal
// does, and appendJSON gives up exactly when it should.
func checkView(t *testing.T, v *vault.ContactView) {
	t.Helper()
	want, err := json.Marshal(v)
	prefix := []byte("prefix")
	got, ok := vhttp.AppendContactView(prefix, v)
	if s := supported(v); ok != s {
		t.Fatalf("AppendContactView(%#v) ok = %v, want %v", v, ok, s)
	}
	if err != nil {
		if ok {
			t.Fatalf("AppendContactView(%#v) ok = true, but json.Marshal = %v", v, err)
		}
		return
	}
	if ok && !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("AppendContactView(%#v) =\n%s\nwant\n%s", v, got[len(prefix):], want)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("AppendContactView(%#v) changed the bytes it appends to: %q", v, got)
	}
	rec := vhttp.WriteJSON(v)
	if body := rec.Body.Bytes(); !bytes.Equal(body, append(want, '\n')) {
		t.Fatalf("writeJSON(%#v) =\n%s\nwant\n%s", v, body, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("writeJSON Content-Type = %q, want application/json", ct)
	}
}

func TestAppendContactView(t *testing.T) {
	t.Run("Random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 5000 {
			checkView(t, randView(rng))
		}
	})
	t.Run("Cases", func(t *testing.T) {
		at := time.Date(2025, 2, 1, 9, 30, 0, 0, time.FixedZone("", 3600))
		for _, v := range []*vault.ContactView{
			// Encoded by appendJSON.
			nil,
			{},
			{ID: "c1", Fields: map[string]any{}, Consents: map[string]vault.ConsentView{}},
			{ID: "c1", Fields: map[string]any{"given_name": "Camille", "email": "c***@example.org", "interests": []string{"***", "***"}},
				Consents:  map[string]vault.ConsentView{"sms": {At: at}, "newsletter": {Granted: true, At: at, Source: "web form"}},
				CreatedAt: at.UTC(), UpdatedAt: at.UTC().Add(1500 * time.Microsecond)},
			{ID: "<script>&amp;</script>", Fields: map[string]any{"<b>": "\u2028\u2029", "\x00": "\xff\xfe", "é": []string{"\"\\"}}},
			{ID: "c", CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), UpdatedAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
			// Left to json.Marshal.
			{Fields: map[string]any{"n": 1}},
			{Fields: map[string]any{"a": "x", "z": nil}},
			{Fields: map[string]any{"l": []any{"x"}}},
			{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
			{UpdatedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
			{CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))},
			{Consents: map[string]vault.ConsentView{"sms": {At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		} {
			checkView(t, v)
		}
	})
	t.Run("List", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for range 500 {
			var vs []*vault.ContactView
			if rng.IntN(10) > 0 {
				vs = []*vault.ContactView{}
			}
			all := true
			for n := rng.IntN(4); n > 0; n-- {
				var v *vault.ContactView
				if rng.IntN(10) > 0 {
					v = randView(rng)
				}
				vs = append(vs, v)
				all = all && supported(v)
			}
			want, err := vhttp.MarshalContactList(vs)
			got, ok := vhttp.AppendContactList(nil, vs)
			switch {
			case ok != all:
				t.Fatalf("AppendContactList(%v) ok = %v, want %v", vs, ok, all)
			case err == nil && ok && !bytes.Equal(got, want):
				t.Fatalf("AppendContactList(%v) =\n%s\nwant\n%s", vs, got, want)
			case err != nil && ok:
				t.Fatalf("AppendContactList(%v) ok = true, but json.Marshal = %v", vs, err)
			}
		}
	})
}

func TestAppendSegmentResult(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	counts := []any{nil, int64(0), int64(20431), int64(-1), 7, "< 5", "<\u003c>", 1.5, uint8(3)}
	for i := range 2000 {
		var r *vault.SegmentResult
		if i > 0 {
			r = &vault.SegmentResult{Count: counts[rng.IntN(len(counts))]}
			switch rng.IntN(3) {
			case 0:
				r.Contacts = []*vault.ContactView{}
			case 1:
				for n := rng.IntN(4); n > 0; n-- {
					r.Contacts = append(r.Contacts, randView(rng))
				}
			}
			if rng.IntN(2) == 0 {
				r.NextCursor = randText(rng)
			}
		}
		all := true
		if r != nil {
			for _, v := range r.Contacts {
				all = all && supported(v)
			}
			switch r.Count.(type) {
			case nil, int, int64, string:
			default:
				all = false
			}
		}
		want, err := json.Marshal(r)
		got, ok := vhttp.AppendSegmentResult(nil, r)
		switch {
		case ok != all:
			t.Fatalf("AppendSegmentResult(%+v) ok = %v, want %v", r, ok, all)
		case err == nil && ok && !bytes.Equal(got, want):
			t.Fatalf("AppendSegmentResult(%+v) =\n%s\nwant\n%s", r, got, want)
		case err != nil && ok:
			t.Fatalf("AppendSegmentResult(%+v) ok = true, but json.Marshal = %v", r, err)
		}
		if err == nil {
			if body := vhttp.WriteJSON(r).Body.Bytes(); !bytes.Equal(body, append(want, '\n')) {
				t.Fatalf("writeJSON(%+v) =\n%s\nwant\n%s", r, body, want)
			}
		}
	}
}

func FuzzAppendContactView(f *testing.F) {
	f.Add("c1", "given_name", "Camille", "web form", int64(1738398600), int64(0), 3600)
	f.Add("<&>", "\u2028", "\xff\x00\"\\", "", int64(-62135596800), int64(999999999), -86340)
	f.Add("", "", "", "\x7f", int64(253402300799), int64(1), 86400)
	f.Fuzz(func(t *testing.T, id, key, value, source string, sec, nsec int64, offset int) {
		at := time.Unix(sec, nsec).In(time.FixedZone("", offset))
		v := &vault.ContactView{ID: id,
			Fields:    map[string]any{key: value, key + "s": []string{value, source}},
			Consents:  map[string]vault.ConsentView{key: {Granted: nsec%2 == 0, At: at, Source: source}},
			CreatedAt: at, UpdatedAt: at.UTC(),
		}
		checkView(t, v)
	})
}

// benchView is a contact view as a read of camille by an agent gives it.
func benchView() *vault.ContactView {
	at := time.Date(2025, 2, 1, 8, 30, 0, 0, time.UTC)
	return &vault.ContactView{
		ID: "01jm3c8n6f8x0q7w2v9t4k5r1z",
		Fields: map[string]any{
			"given_name": "Camille", "family_name": "Martin", "email": "c***@example.org", "phone": "06 ** ** ** 78",
			"address": "3 rue des Lilas", "postal_code": "75011", "district": "nord", "birth_date": "1984",
			"interests": []string{"climate", "housing"}, "notes": "Met at the market.",
		},
		Consents: map[string]vault.ConsentView{
			"newsletter": {Granted: true, At: at, Source: "web form"},
			"sms":        {At: at},
		},
		CreatedAt: at, UpdatedAt: at.Add(90 * time.Second),
	}
}

// BenchmarkContactViewJSON compares json.Marshal, which writeJSON used for
// every answer, with appendJSON into a reused buffer.
func BenchmarkContactViewJSON(b *testing.B) {
	v := benchView()
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			_ = append(out, '\n')
		}
	})
	b.Run("Append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			out, ok := vhttp.AppendContactView(buf[:0], v)
			if !ok {
				b.Fatal("AppendContactView gave up")
			}
			buf = append(out, '\n')
		}
	})
}
