package vault_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestNormalizePhone(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"06 12 34 56 78", "+33612345678"},
		{"06.12.34.56.78", "+33612345678"},
		{"0612345678", "+33612345678"},
		{"+33 6 12 34 56 78", "+33612345678"},
		{"+33 (0)6 12 34 56 78", "+33612345678"},
		{"0033612345678", "+33612345678"},
		{"01-23-45-67-89", "+33123456789"},
		{"+44 20 7946 0958", "+442079460958"},
		{"+1 (202) 555-0143", "+12025550143"},
	} {
		got, reason := vault.NormalizePhone(tt.in)
		if got != tt.want || reason != "" {
			t.Errorf("NormalizePhone(%q) = %q, %q, want %q", tt.in, got, reason, tt.want)
		}
	}
	for _, in := range []string{"", "12345", "0012", "06 12 34 56", "06123456789", "+33 1234", "phone", "06-12-34-56-7a", "+0612345678", "00 12", "++33612345678", "+33 6 12 34 56 78 9", "+1234567890123456"} {
		if got, reason := vault.NormalizePhone(in); reason == "" {
			t.Errorf("NormalizePhone(%q) = %q, want a failure", in, got)
		}
	}
}

func TestFieldNormalize(t *testing.T) {
	s := vault.DefaultSchema()
	ok := []struct {
		field string
		in    any
		want  any
	}{
		{"email", "  Jeanne.Dupont@Example.ORG ", "jeanne.dupont@example.org"},
		{"given_name", "  Zoé ", "Zoé"},
		{"given_name", "Zoe\u0301", "Zoé"}, // NFC
		{"postal_code", "75011", "75011"},
		{"postal_code", "2A004", "2A004"},
		{"birth_date", "1984-02-29", "1984-02-29"},
		{"interests", []any{"Cycling", "culture", "cycling"}, []string{"culture", "cycling"}},
		{"interests", []any{}, []string{}},
		{"support_level", "undecided", "undecided"},
		{"notes", "line one\nline two", "line one\nline two"},
	}
	for _, tt := range ok {
		got, ferr := s.Field(tt.field).Normalize(tt.in, testNow)
		if ferr != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Normalize(%s, %q) = %#v, %v, want %#v", tt.field, tt.in, got, ferr, tt.want)
		}
	}
	bad := []struct {
		field string
		in    any
	}{
		{"email", "not-an-email"},
		{"email", "Jeanne <j@example.org>"},
		{"email", "j@localhost"},
		{"email", "j@example..org"},
		{"email", 42.0},
		{"given_name", "   "},
		{"given_name", strings.Repeat("a", 101)},
		{"given_name", "bell\x07"},
		{"given_name", "\xff\xfe"},
		{"given_name", []any{"a"}},
		{"postal_code", "7501"},
		{"postal_code", "00100"},
		{"birth_date", "1984-13-01"},
		{"birth_date", "29/02/1984"},
		{"birth_date", "1850-01-01"},
		{"birth_date", "2030-01-01"},
		{"interests", "cycling"},
		{"interests", []any{"ok", 3.0}},
		{"interests", make([]any, 21)},
		{"support_level", "maybe"},
		{"phone", "12"},
	}
	for _, tt := range bad {
		got, ferr := s.Field(tt.field).Normalize(tt.in, testNow)
		if ferr == nil {
			t.Errorf("Normalize(%s, %#v) = %#v, want an error", tt.field, tt.in, got)
			continue
		}
		if ferr.Field != tt.field {
			t.Errorf("Normalize(%s, …).Field = %q, want %q", tt.field, ferr.Field, tt.field)
		}
		if s, ok := tt.in.(string); ok && len(s) > 2 && strings.Contains(ferr.Reason, s) {
			t.Errorf("Normalize(%s, …) reason %q echoes the value", tt.field, ferr.Reason)
		}
	}
}

func TestFieldMask(t *testing.T) {
	s := vault.DefaultSchema()
	for _, tt := range []struct {
		field string
		in    any
		want  any
	}{
		{"email", "jeanne.dupont@example.org", "j***@example.org"},
		{"phone", "+33612345678", "06 ** ** ** 78"},
		{"phone", "+442079460958", "+44 ******** 58"},
		{"birth_date", "1984-02-29", "1984"},
		{"given_name", "Élodie", "É***"},
		{"support_level", "support", "***"},
		{"interests", []string{"culture", "sport"}, []string{"***", "***"}},
	} {
		if got := s.Field(tt.field).Mask(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Mask(%s, %v) = %#v, want %#v", tt.field, tt.in, got, tt.want)
		}
	}
}

func TestFieldTokens(t *testing.T) {
	s := vault.DefaultSchema()
	tok := func(field, value string) []byte { return []byte(field + "=" + value) }
	for _, tt := range []struct {
		field string
		in    any
		want  []string
	}{
		{"district", "d7", []string{"district=d7"}},
		{"interests", []string{"culture", "sport"}, []string{"interests=culture", "interests=sport"}},
		{"birth_date", "1984-02-29", []string{"birth_date=year:1984"}},
		{"email", "a@example.org", nil},
	} {
		var got []string
		for _, b := range s.Field(tt.field).Tokens(tt.in, tok) {
			got = append(got, string(b))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Tokens(%s, %v) = %q, want %q", tt.field, tt.in, got, tt.want)
		}
	}
}
