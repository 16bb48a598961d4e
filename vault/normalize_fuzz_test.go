package vault_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffre/coffre/vault"
)

// e164 is the form every accepted phone number takes.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// FuzzNormalize checks, for every field of the default schema, that any
// string (and, for tags, any list of strings) is either refused with a
// reason or normalised to a value that normalises to itself. Blind indexes
// and segment tokens are keyed over normalised values, so a value that
// changed when normalised again would miss its own lookups and break the
// uniqueness of emails.
func FuzzNormalize(f *testing.F) {
	schema := vault.DefaultSchema()
	for _, s := range []string{
		"  Jeanne.Dupont@Example.ORG ", "06 12 34 56 78", "+33 0 6 12 34 56 78", "0033612345678",
		"+44 20 7946 0958", "1984-02-29", "Zoe\u0301", "ΣΊΣΥΦΟΣ", "İstanbul", "ǅemal", "ﬀ",
		"cycling", "undecided", "line one\nline two", "2A004", " \u00a0x\u00a0 ", "\u0345\u0399",
	} {
		for i := range schema.Fields {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		field := schema.Fields[int(which)%len(schema.Fields)]
		var in any = s
		if field.List() {
			in = []any{s, strings.ToUpper(s)}
		}
		got, ferr := field.Normalize(in, testNow)
		if ferr != nil {
			if ferr.Reason == "" || ferr.Field != field.Name {
				t.Fatalf("%s: refusal %+v has no reason or names another field", field.Name, ferr)
			}
			return
		}
		again, ferr := field.Normalize(got, testNow)
		if ferr != nil {
			t.Fatalf("%s: %q normalised to %q, which is refused: %s", field.Name, s, got, ferr.Reason)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("%s: %q normalised to %q, then to %q", field.Name, s, got, again)
		}
		switch v := got.(type) {
		case string:
			if !utf8.ValidString(v) {
				t.Fatalf("%s: %q normalised to invalid UTF-8", field.Name, s)
			}
			if field.Type == vault.TypePhone && !e164.MatchString(v) {
				t.Fatalf("%s: %q normalised to %q, not E.164", field.Name, s, v)
			}
			if field.Type == vault.TypeEmail && v != strings.ToLower(v) {
				t.Fatalf("%s: %q normalised to %q, not lower case", field.Name, s, v)
			}
		case []string:
			if field.Type != vault.TypeTags {
				t.Fatalf("%s: a list for a field of type %s", field.Name, field.Type)
			}
		default:
			t.Fatalf("%s: normalised to a %T", field.Name, got)
		}
	})
}
