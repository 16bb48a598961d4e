package vault_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

func TestDefaultSchema(t *testing.T) {
	s := vault.DefaultSchema()
	for _, name := range []string{"given_name", "family_name", "email", "phone", "address", "postal_code", "district", "birth_date", "interests", "support_level", "notes"} {
		if s.Field(name) == nil {
			t.Errorf("DefaultSchema().Field(%q) = nil", name)
		}
	}
	if f := s.Field("email"); !f.Lookup || !f.Unique {
		t.Errorf("email lookup, unique = %v, %v, want true, true", f.Lookup, f.Unique)
	}
	if f := s.Field("phone"); !f.Lookup || f.Unique {
		t.Errorf("phone lookup, unique = %v, %v, want true, false", f.Lookup, f.Unique)
	}
	if !s.Field("support_level").Special() {
		t.Error("support_level is not special-category data")
	}
	for _, c := range []string{"newsletter", "sms", "events"} {
		if !s.HasConsent(c) {
			t.Errorf("HasConsent(%q) = false", c)
		}
	}
}

func TestParseSchema(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s, err := vault.ReadSchema(strings.NewReader(`{"version":1,"name":"x","purposes":["p"],
			"fields":[{"name":"badge","type":"text","category":"identity","lookup":true,"unique":true,"purposes":["p"],"retention":"P2Y"}],
			"consents":["mail"]}`))
		if err != nil {
			t.Fatal(err)
		}
		if f := s.Field("badge"); f == nil || !f.Unique {
			t.Fatalf("Field(badge) = %+v", f)
		}
		r, _ := vault.ParseRetention("P2Y")
		if got := r.After(testNow); got.Year() != testNow.Year()+2 {
			t.Errorf("P2Y after %v = %v", testNow, got)
		}
	})
	bad := map[string]string{
		"syntax":           `{`,
		"version":          `{"version":2}`,
		"unknown key":      `{"version":1,"colour":"red"}`,
		"bad name":         `{"version":1,"fields":[{"name":"Bad Name","type":"text","category":"c"}]}`,
		"unknown type":     `{"version":1,"fields":[{"name":"a","type":"blob","category":"c"}]}`,
		"no category":      `{"version":1,"fields":[{"name":"a","type":"text"}]}`,
		"enum no values":   `{"version":1,"fields":[{"name":"a","type":"enum","category":"c"}]}`,
		"unique no lookup": `{"version":1,"fields":[{"name":"a","type":"text","category":"c","unique":true}]}`,
		"tags lookup":      `{"version":1,"fields":[{"name":"a","type":"tags","category":"c","lookup":true}]}`,
		"year on text":     `{"version":1,"fields":[{"name":"a","type":"text","category":"c","segment":"year"}]}`,
		"bad segment":      `{"version":1,"fields":[{"name":"a","type":"text","category":"c","segment":"fuzzy"}]}`,
		"bad sensitivity":  `{"version":1,"fields":[{"name":"a","type":"text","category":"c","sensitivity":"high"}]}`,
		"bad retention":    `{"version":1,"fields":[{"name":"a","type":"text","category":"c","retention":"3 years"}]}`,
		"bad pattern":      `{"version":1,"fields":[{"name":"a","type":"text","category":"c","pattern":"("}]}`,
		"duplicate":        `{"version":1,"fields":[{"name":"a","type":"text","category":"c"},{"name":"a","type":"text","category":"c"}]}`,
		"unknown purpose":  `{"version":1,"purposes":["p"],"fields":[{"name":"a","type":"text","category":"c","purposes":["q"]}]}`,
		"bad consent":      `{"version":1,"consents":["News Letter"]}`,
	}
	for name, doc := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := vault.ParseSchema([]byte(doc)); vault.ErrorCode(err) != vault.EINVALID {
				t.Errorf("ParseSchema(%s) error = %v, want code %s", doc, err, vault.EINVALID)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 1000; i++ {
		id := vault.NewID(testNow.Add(time.Duration(i) * time.Millisecond))
		if !vault.ValidID(id) {
			t.Fatalf("ValidID(%q) = false", id)
		}
		if id[14] != '7' {
			t.Fatalf("NewID() = %q, not version 7", id)
		}
		if u, ok := vault.IDBytes(id); !ok || vault.IDString(u) != id {
			t.Fatalf("IDString(IDBytes(%q)) = %q, %v", id, vault.IDString(u), ok)
		}
		if seen[id] || id <= prev {
			t.Fatalf("NewID() = %q after %q: not unique and ordered", id, prev)
		}
		seen[id], prev = true, id
	}
	for _, s := range []string{"", "x", "0190c0de-0000-7000-8000-00000000000G", "0190C0DE-0000-7000-8000-000000000000", "0190c0de+0000-7000-8000-000000000000"} {
		if vault.ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
		if _, ok := vault.IDBytes(s); ok {
			t.Errorf("IDBytes(%q) ok", s)
		}
	}
}

func TestSealedCodec(t *testing.T) {
	m := map[string][]byte{"email": {1, 2, 3}, "notes": make([]byte, 300), "z": {}}
	b := vault.MarshalSealed(m)
	got, err := vault.UnmarshalSealed(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got["email"]) != "\x01\x02\x03" || len(got["notes"]) != 300 || len(got["z"]) != 0 {
		t.Fatalf("UnmarshalSealed(MarshalSealed(m)) = %v", got)
	}
	if string(vault.MarshalSealed(m)) != string(b) {
		t.Error("MarshalSealed is not deterministic")
	}
	if _, err := vault.UnmarshalSealed(nil); err == nil {
		t.Error("UnmarshalSealed(nil) succeeded")
	}
	for i := 1; i < len(b); i++ {
		// A cut at a field boundary is a valid smaller map; any other cut
		// must be refused, never read past the end.
		if m2, err := vault.UnmarshalSealed(b[:i]); err == nil && len(m2) >= len(m) {
			t.Errorf("UnmarshalSealed(truncated to %d) = %d fields", i, len(m2))
		}
	}
	if _, err := vault.UnmarshalSealed([]byte{9}); err == nil {
		t.Error("UnmarshalSealed(unknown version) succeeded")
	}
}

func FuzzUnmarshalSealed(f *testing.F) {
	f.Add(vault.MarshalSealed(map[string][]byte{"a": {1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := vault.UnmarshalSealed(b)
		if err == nil {
			if _, err := vault.UnmarshalSealed(vault.MarshalSealed(m)); err != nil {
				t.Fatal(err)
			}
		}
	})
}
