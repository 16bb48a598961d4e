package http

// These tests are in package http, not http_test: they compare
// decodeContactFast with decodeJSON, which are not exported.

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

// decodeContactBefore is decodeContact as it was before decodeContactFast:
// decodeJSON for the body, then for each consent. decodeContact must give
// what it gives, errors included, for every body.
func decodeContactBefore(body []byte) (map[string]any, map[string]vault.ConsentInput, error) {
	var in contactBody
	if err := decodeJSON(body, &in, ""); err != nil {
		return nil, nil, err
	}
	if in.Consents == nil {
		return in.Fields, nil, nil
	}
	consents := make(map[string]vault.ConsentInput, len(in.Consents))
	var problems []vault.FieldError
	names := make([]string, 0, len(in.Consents))
	for k := range in.Consents {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		name := "consents." + k
		var c consentBody
		if err := decodeJSON(in.Consents[k], &c, name); err != nil {
			fe := vault.ErrorFields(err)
			if len(fe) == 0 {
				fe = []vault.FieldError{{Field: name, Reason: "must be an object of granted, at, source and proof only"}}
			}
			problems = append(problems, fe...)
			continue
		}
		ci := vault.ConsentInput{Granted: c.Granted, Source: c.Source, Proof: c.Proof}
		if c.At != nil {
			t, err := time.Parse(time.RFC3339Nano, *c.At)
			if err != nil {
				problems = append(problems, vault.FieldError{Field: name + ".at", Reason: "must be an RFC 3339 date-time"})
				continue
			}
			ci.At = &t
		}
		consents[k] = ci
	}
	if len(problems) > 0 {
		return nil, nil, &vault.Error{Code: vault.EINVALID, Message: "Invalid contact.", Fields: problems}
	}
	return in.Fields, consents, nil
}

// decodeContactSlow decodes body as decodeContact does when
// decodeContactFast gives up, to what decodeContactFast gives: an error
// when decodeJSON refuses the body or any consent.
func decodeContactSlow(body []byte) (map[string]any, map[string]consentBody, error) {
	var in contactBody
	if err := decodeJSON(body, &in, ""); err != nil {
		return nil, nil, err
	}
	if in.Consents == nil {
		return in.Fields, nil, nil
	}
	consents := make(map[string]consentBody, len(in.Consents))
	for k, raw := range in.Consents {
		var c consentBody
		if err := decodeJSON(raw, &c, "consents."+k); err != nil {
			return nil, nil, err
		}
		consents[k] = c
	}
	return in.Fields, consents, nil
}

// checkSame fails t unless decodeContact gives for body what
// decodeContactBefore gives.
func checkSame(t *testing.T, body []byte) {
	t.Helper()
	fields, consents, err := decodeContact(body)
	wfields, wconsents, werr := decodeContactBefore(body)
	if !reflect.DeepEqual(err, werr) {
		t.Fatalf("decodeContact(%q) error = %v, want %v", body, err, werr)
	}
	if !reflect.DeepEqual(fields, wfields) || !reflect.DeepEqual(consents, wconsents) {
		t.Fatalf("decodeContact(%q) =\n%#v\n%#v\nwant\n%#v\n%#v", body, fields, consents, wfields, wconsents)
	}
}

// checkFast fails t unless decodeContactFast decodes body as decodeJSON
// does, when it does not give up. It decodes a copy of body which it then
// overwrites, so that a value sharing memory with the body shows.
func checkFast(t *testing.T, body []byte) (ok bool) {
	t.Helper()
	b := bytes.Clone(body)
	fields, consents, ok := decodeContactFast(b)
	clear(b)
	if !ok {
		return false
	}
	wfields, wconsents, err := decodeContactSlow(body)
	if err != nil {
		t.Fatalf("decodeContactFast(%q) decoded a body decodeJSON refuses: %v", body, err)
	}
	if !reflect.DeepEqual(fields, wfields) || !reflect.DeepEqual(consents, wconsents) {
		t.Fatalf("decodeContactFast(%q) =\n%#v\n%#v\nwant\n%#v\n%#v", body, fields, consents, wfields, wconsents)
	}
	return true
}

// readmeBody is the create of the README.
const readmeBody = `{"fields":{"given_name":"Camille","family_name":"Martin","email":"camille.martin@example.org",
       "phone":"06 12 34 56 78","district":"d3","interests":["cycling"]},
       "consents":{"newsletter":{"granted":true,"source":"web form"}}}`

// benchBody is a create with every member in use, as a form sends it.
const benchBody = `{"fields":{"given_name":"Hélène","family_name":"Lefèvre","email":"helene.lefevre@example.org",` +
	`"phone":"+33 6 12 34 56 78","address":"3 rue des Lilas","postal_code":"75011","district":"nord",` +
	`"birth_date":"1984-05-17","interests":["climate","housing"],"notes":"Met at the market."},` +
	`"consents":{"newsletter":{"granted":true,"at":"2025-02-01T08:30:00Z","source":"web form","proof":"form-v3"},` +
	`"sms":{"granted":false,"at":"2025-02-01T08:30:00+01:00","source":"web form"}}}`

// fastBodies have the shape decodeContactFast reads.
var fastBodies = []string{
	readmeBody,
	benchBody,
	`{}`,
	" \t\r\n{ \t\r\n} \t\r\n",
	`{"fields":{}}`,
	`{"fields":null}`,
	`{"consents":{}}`,
	`{"consents":null}`,
	`{"fields":null,"consents":null}`,
	`{"consents":{"sms":{}}}`,
	`{"consents":{"newsletter":{"granted":true}},"fields":{"given_name":"Camille"}}`,
	`{"fields":{"given_name":null,"notes":"x"}}`,
	`{"fields":{"interests":[]}}`,
	`{"fields":{"interests":[ ]}}`,
	`{"fields":{"interests":["a","b","c","d","e","f"]}}`,
	`{"fields":{"":""}}`,
	"{\"fields\":{\"given_name\":\"Éloïse\",\"family_name\":\"Noël-Çağlar\",\"notes\":\"日本 😀 \u2028 \u2029 \ufffd \x7f <>&'/\"}}",
	`{"fields":{"clé":"valeur"},"consents":{"newsletter":{"granted":null,"at":null,"source":null,"proof":null}}}`,
	`{"consents":{"a":{"granted":false},"b":{"proof":"p","source":"s","at":"2025-02-01T08:30:00.123456789-05:00","granted":true}}}`,
	// An at that is not a date is decodeContact's error, not the decoder's.
	`{"consents":{"newsletter":{"granted":true,"at":"yesterday"},"sms":{"at":"2025-13-01T00:00:00Z"}}}`,
	"{\n  \"fields\" : {\n    \"given_name\" : \"Camille\" ,\n    \"interests\" : [ \"cycling\" , \"housing\" ]\n  } ,\r\n  \"consents\" : { \"sms\" : { \"granted\" : false } }\n}\n",
}

// TestDecodeContactFast checks that decodeContactFast reads the common
// bodies, as decodeJSON does.
func TestDecodeContactFast(t *testing.T) {
	for _, body := range fastBodies {
		if !checkFast(t, []byte(body)) {
			t.Errorf("decodeContactFast(%q) gave up", body)
		}
		checkSame(t, []byte(body))
	}
}

// slowBodies are bodies decodeContactFast leaves to decodeJSON: valid ones
// it does not read and bad ones.
var slowBodies = []struct{ name, body string }{
	{"Number", `{"fields":{"age":42}}`},
	{"NumberTooLarge", `{"fields":{"age":1e999}}`},
	{"Boolean", `{"fields":{"vip":true}}`},
	{"Object", `{"fields":{"address":{"city":"Lyon"}}}`},
	{"ArrayOfNumbers", `{"fields":{"interests":[1]}}`},
	{"ArrayWithNull", `{"fields":{"interests":["a",null]}}`},
	{"ArrayOfArrays", `{"fields":{"interests":[["a"]]}}`},
	{"Escape/Unicode", `{"fields":{"given_name":"H\u00e9l\u00e8ne"}}`},
	{"Escape/Quote", `{"fields":{"notes":"a\"b"}}`},
	{"Escape/Backslash", `{"fields":{"notes":"a\\b"}}`},
	{"Escape/Slash", `{"fields":{"notes":"a\/b"}}`},
	{"Escape/Bad", `{"fields":{"notes":"a\qb"}}`},
	{"Escape/Key", `{"fields":{"given\u005fname":"Camille"}}`},
	{"Escape/Member", `{"\u0066ields":{}}`},
	{"Escape/ConsentMember", `{"consents":{"sms":{"\u0067ranted":true}}}`},
	{"Escape/At", `{"consents":{"sms":{"at":"2025-02-01T08:30:00\u005a"}}}`},
	{"Control/Tab", "{\"fields\":{\"notes\":\"a\tb\"}}"},
	{"Control/Newline", "{\"fields\":{\"notes\":\"a\nb\"}}"},
	{"Control/NUL", "{\"fields\":{\"notes\":\"a\x00b\"}}"},
	{"Control/Key", "{\"fields\":{\"no\x1ftes\":\"b\"}}"},
	{"UTF8/Invalid", "{\"fields\":{\"notes\":\"a\xffb\"}}"},
	{"UTF8/Truncated", "{\"fields\":{\"notes\":\"a\xc3\"}}"},
	{"UTF8/Surrogate", "{\"fields\":{\"notes\":\"\xed\xa0\x80\"}}"},
	{"UTF8/Overlong", "{\"fields\":{\"notes\":\"\xc0\xaf\"}}"},
	{"UTF8/Key", "{\"fields\":{\"\xff\":\"b\"}}"},
	{"UTF8/Source", "{\"consents\":{\"sms\":{\"source\":\"\xe2\x80\"}}}"},
	{"UTF8/ConsentName", "{\"consents\":{\"sms\xff\":{}}}"},
	{"Case/Fields", `{"Fields":{"given_name":"Camille"}}`},
	{"Case/FIELDS", `{"FIELDS":{}}`},
	{"Case/Consents", `{"Consents":{}}`},
	{"Case/Granted", `{"consents":{"sms":{"Granted":true}}}`},
	{"Case/At", `{"consents":{"sms":{"AT":"2025-02-01T08:30:00Z"}}}`},
	{"Fold/LongS", `{"conſents":{}}`},
	{"UnknownMember", `{"fields":{},"nickname":"x"}`},
	{"UnknownMemberNull", `{"nickname":null}`},
	{"UnknownConsentMember", `{"consents":{"sms":{"granted":true,"why":"x"}}}`},
	{"Duplicate/Fields", `{"fields":{"given_name":"A"},"fields":{"family_name":"B"}}`},
	{"Duplicate/FieldsNull", `{"fields":{"given_name":"A"},"fields":null}`},
	{"Duplicate/Consents", `{"consents":{"sms":{}},"consents":{"newsletter":{}}}`},
	{"Duplicate/Field", `{"fields":{"given_name":"A","given_name":"B"}}`},
	{"Duplicate/FieldNull", `{"fields":{"given_name":null,"given_name":null}}`},
	{"Duplicate/Consent", `{"consents":{"sms":{"granted":true},"sms":{"granted":false}}}`},
	{"Duplicate/Granted", `{"consents":{"sms":{"granted":true,"granted":false}}}`},
	{"Duplicate/GrantedNull", `{"consents":{"sms":{"granted":true,"granted":null}}}`},
	{"Duplicate/At", `{"consents":{"sms":{"at":"2025-02-01T08:30:00Z","at":null}}}`},
	{"Duplicate/Source", `{"consents":{"sms":{"source":"a","source":"b"}}}`},
	{"Duplicate/Proof", `{"consents":{"sms":{"proof":null,"proof":"b"}}}`},
	{"WrongType/Fields", `{"fields":"x"}`},
	{"WrongType/FieldsArray", `{"fields":["x"]}`},
	{"WrongType/Consents", `{"consents":[]}`},
	{"WrongType/Consent", `{"consents":{"sms":true}}`},
	{"WrongType/ConsentNull", `{"consents":{"sms":null}}`},
	{"WrongType/ConsentString", `{"consents":{"sms":"yes"}}`},
	{"WrongType/Granted", `{"consents":{"sms":{"granted":"yes"}}}`},
	{"WrongType/GrantedNumber", `{"consents":{"sms":{"granted":1}}}`},
	{"WrongType/At", `{"consents":{"sms":{"at":20250201}}}`},
	{"WrongType/Source", `{"consents":{"sms":{"source":["web"]}}}`},
	{"WrongType/Proof", `{"consents":{"sms":{"proof":false}}}`},
	{"Trailing/Object", `{} {}`},
	{"Trailing/Letter", `{"fields":{}}x`},
	{"Trailing/Comma", `{"fields":{}},`},
	{"Trailing/NUL", "{}\x00"},
	{"Syntax/CommaInBody", `{"fields":{},}`},
	{"Syntax/CommaInFields", `{"fields":{"a":"b",}}`},
	{"Syntax/CommaInArray", `{"fields":{"a":["b",]}}`},
	{"Syntax/CommaInConsents", `{"consents":{"sms":{},}}`},
	{"Syntax/CommaInConsent", `{"consents":{"sms":{"granted":true,}}}`},
	{"Syntax/LeadingComma", `{,"fields":{}}`},
	{"Syntax/NoColon", `{"fields" {}}`},
	{"Syntax/NoComma", `{"fields":{"a":"b" "c":"d"}}`},
	{"Syntax/SingleQuotes", `{'fields':{}}`},
	{"Syntax/BareKey", `{fields:{}}`},
	{"Syntax/Nul", `{"fields":{"a":nul}}`},
	{"Syntax/Nulll", `{"fields":{"a":nulll}}`},
	{"Syntax/NullX", `{"fields":nullx}`},
	{"Syntax/Tru", `{"consents":{"sms":{"granted":tru}}}`},
	{"Syntax/TrueX", `{"consents":{"sms":{"granted":truex}}}`},
	{"Syntax/FalseFalse", `{"consents":{"sms":{"granted":falsefalse}}}`},
	{"Syntax/Unclosed", `{"fields":{"a":"b"}`},
	{"Syntax/UnclosedString", `{"fields":{"a":"b`},
	{"Syntax/UnclosedArray", `{"fields":{"a":["b"`},
	{"Syntax/Empty", ``},
	{"Syntax/Space", ` `},
	{"Syntax/Brace", `{`},
	{"Space/FormFeed", "{\f}"},
	{"Space/VerticalTab", "{\v}"},
	{"Space/NoBreak", "{\u00a0}"},
	{"Space/BOM", "\ufeff{}"},
	{"NotObject/Array", `[]`},
	{"NotObject/Null", `null`},
	{"NotObject/String", `"x"`},
}

// TestDecodeContactFastGivesUp checks that decodeContactFast leaves every
// other body to decodeJSON, whose answer decodeContact gives.
func TestDecodeContactFastGivesUp(t *testing.T) {
	for _, tt := range slowBodies {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, ok := decodeContactFast([]byte(tt.body)); ok {
				t.Errorf("decodeContactFast(%q) ok, want it to give up", tt.body)
			}
			checkSame(t, []byte(tt.body))
		})
	}
}

// FuzzContactDecode checks that what decodeContactFast decodes, decodeJSON
// decodes the same, and that decodeContact answers as before any body.
func FuzzContactDecode(f *testing.F) {
	for _, body := range fastBodies {
		f.Add([]byte(body))
	}
	for _, tt := range slowBodies {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFast(t, body)
		checkSame(t, body)
	})
}

// BenchmarkContactDecode compares decodeContact as it was, decodeJSON for
// the body and again for each consent (Slow), with decodeContact through
// decodeContactFast (Fast), on a typical create.
func BenchmarkContactDecode(b *testing.B) {
	body := []byte(benchBody)
	if _, _, ok := decodeContactFast(body); !ok {
		b.Fatal("decodeContactFast gave up on the benchmark's body")
	}
	for _, bm := range []struct {
		name   string
		decode func([]byte) (map[string]any, map[string]vault.ConsentInput, error)
	}{
		{"Slow", decodeContactBefore},
		{"Fast", decodeContact},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, err := bm.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
