package postgres_test

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
)

func TestConsentsCodec(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, tt := range []struct {
		name string
		m    map[string]vault.ConsentState
	}{
		{"Nil", nil},
		{"Empty", map[string]vault.ConsentState{}},
		{"Two", map[string]vault.ConsentState{
			"newsletter": {Granted: true, At: time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)},
			"sms":        {Granted: false, At: time.Date(2020, 1, 1, 0, 0, 0, 0, paris)},
		}},
		{"ZeroTime", map[string]vault.ConsentState{"events": {Granted: true}}},
		{"OddNames", map[string]vault.ConsentState{
			`quote"d`: {Granted: true, At: time.Unix(1, 0)}, "é<&>": {At: time.Unix(2, 0)}, "tab\t": {Granted: true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := postgres.ConsentsJSON(tt.m)
			if err != nil {
				t.Fatalf("ConsentsJSON = %v", err)
			}
			var std map[string]vault.ConsentState
			if err := json.Unmarshal(b, &std); err != nil {
				t.Fatalf("ConsentsJSON = %s, not JSON: %v", b, err)
			}
			got, err := postgres.ParseConsents(b)
			if err != nil {
				t.Fatalf("ParseConsents(%s) = %v", b, err)
			}
			for _, m := range []map[string]vault.ConsentState{std, got} {
				if !maps.EqualFunc(m, tt.m, func(a, b vault.ConsentState) bool { return a.Granted == b.Granted && a.At.Equal(b.At) }) {
					t.Errorf("round trip of %s = %v, want %v", b, m, tt.m)
				}
			}
			for k, c := range got {
				if c.At.Location() != time.UTC {
					t.Errorf("ParseConsents(%s)[%s].At in %v, want UTC", b, k, c.At.Location())
				}
			}
		})
	}
}

// TestParseConsents checks the decoder on what PostgreSQL prints for jsonb
// and on inputs only encoding/json handles.
func TestParseConsents(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 600000000, time.UTC)
	want := map[string]vault.ConsentState{"sms": {Granted: false, At: at}, "newsletter": {Granted: true, At: at}}
	for _, in := range []string{
		`{"sms": {"at": "2025-01-02T03:04:05.6+00:00", "granted": false}, "newsletter": {"at": "2025-01-02T04:04:05.6+01:00", "granted": true}}`,
		`{"newsletter":{"granted":true,"at":"2025-01-02T03:04:05.6Z"},"sms":{"granted":false,"at":"2025-01-02T03:04:05.6Z"}}`,
		"{\n\"sms\" : { \"granted\" : false , \"at\" : \"2025-01-02T03:04:05.6Z\" },\"newsletter\":{\"granted\":true,\"at\":\"2025-01-02T03:04:05.6Z\",\"source\":\"web\"}}",
		`{"sms": {"at": "2025-01-02T03:04:05.6Z", "granted": false}, "news\u006cetter": {"at": "2025-01-02T03:04:05.6Z", "granted": true}}`,
	} {
		got, err := postgres.ParseConsents([]byte(in))
		if err != nil {
			t.Errorf("ParseConsents(%s) = %v", in, err)
			continue
		}
		if !maps.EqualFunc(got, want, func(a, b vault.ConsentState) bool { return a.Granted == b.Granted && a.At.Equal(b.At) }) {
			t.Errorf("ParseConsents(%s) = %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{``, `{`, `[]`, `{"sms": 1}`, `{"sms": {"granted": "yes"}}`, `{"sms": {"at": "yesterday"}}`, `{} x`} {
		if got, err := postgres.ParseConsents([]byte(in)); err == nil {
			t.Errorf("ParseConsents(%q) = %v, want an error", in, got)
		}
	}
}
