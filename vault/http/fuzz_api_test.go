package http_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/vault"
)

// fuzzRoute is a route that reads what the client sends: a JSON body, or
// for a GET the query string.
type fuzzRoute struct {
	method, path, token, purpose string
}

// fuzzRoutes are the routes FuzzAPI drives, each with a token whose role
// may call it, so that the input reaches the route's own checks.
var fuzzRoutes = []fuzzRoute{
	{"POST", "/v1/contacts", "t1/agent", "casework"},
	{"POST", "/v1/contacts/search", "t1/agent", "casework"},
	{"PATCH", "/v1/contacts/{id}", "t1/agent", "casework"},
	{"POST", "/v1/tokens", "t1/admin", "casework"},
	{"POST", "/v1/segments/query", "t1/agent", "casework"},
	{"POST", "/v1/segments/export", "t1/agent", "newsletter"},
	{"POST", "/v1/segments", "t1/agent", "casework"},
	{"POST", "/v1/requests", "t1/dpo", "casework"},
	{"POST", "/v1/requests/self", "", ""},
	{"POST", "/v1/requests/{id}/verify", "", ""},
	{"GET", "/v1/audit/entries", "t1/dpo", "casework"},
	{"GET", "/v1/audit/proof/inclusion", "t1/dpo", "casework"},
	{"GET", "/v1/audit/proof/consistency", "t1/dpo", "casework"},
	{"GET", "/v1/requests", "t1/dpo", "casework"},
}

// FuzzAPI sends arbitrary bodies and query strings to the routes that read
// them and checks that the server never fails with a 5xx (a panic the
// middleware caught, an error it did not map), and that every refusal is
// a problem document without a trace of the server's internals.
func FuzzAPI(f *testing.F) {
	for i, s := range []string{
		`{"fields":{"given_name":"Jeanne","email":"jeanne@example.org","phone":"06 12 34 56 78"}}`,
		`{"email":"jeanne@example.org"}`,
		`{"fields":{"notes":"x"},"consents":{"sms":{"granted":true,"source":"form"}}}`,
		`{"role":"agent","purposes":["casework"],"ttl_seconds":3600}`,
		`{"filter":{"and":[{"field":"district","in":["d3","d7"]},{"not":{"field":"interests","in":["housing"]}}]},"answer":"list","limit":5}`,
		`{"filter":{"or":[{"field":"district","in":["d3"]},{"consent":"newsletter"}]}}`,
		`{"name":"newsletter-d3","filter":{"field":"district","in":["d3"]}}`,
		`{"type":"access","subject":"{id}"}`,
		`{"tenant":"t1","type":"access","email":"jeanne@example.org"}`,
		`{"tenant":"t1","code":"123456"}`,
		`subject={id}&action=contact.read&limit=3`,
		`index=0&size=1`,
		`from=1&to=2`,
		`state=in_progress`,
		``, `{}`, `[]`, `null`, `{"fields":`, "\x00", `{"filter":{"and":[{"and":[{"and":[]}]}]}}`,
	} {
		f.Add(uint8(i), s)
	}
	f.Add(uint8(4), `{"filter":{"field":"birth_date","age":{"min":18,"max":60}},"answer":"count"}`)
	// The policy engine decides, as in production; compiling it takes
	// long, so every input's server shares one.
	eng, err := policy.New(context.Background(), policy.Options{Schema: vault.DefaultSchema()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, input string) {
		// A fresh server each time: what earlier inputs stored would
		// slow the in-memory store down, and an input must fail alone.
		e := newEnvWith(t, func(*vault.Schema) vault.Authorizer { return eng })
		e.svc.SetMailer(discardMailer{})
		var existing contact
		e.mustDo(request{method: "POST", path: "/v1/contacts", token: "t1/agent", header: map[string]string{"Coffre-Purpose": "casework"},
			body: map[string]any{"fields": map[string]any{"given_name": "Fuzz", "email": "fuzz@example.org", "district": "d3"}}},
			http.StatusCreated, &existing)
		if _, err := e.audit.Sync(context.Background()); err != nil {
			t.Fatalf("audit Sync: %v", err)
		}
		input = strings.ReplaceAll(input, "{id}", existing.ID)
		rt := fuzzRoutes[int(which)%len(fuzzRoutes)]
		path := strings.Replace(rt.path, "{id}", existing.ID, 1)
		var req *http.Request
		if rt.method == "GET" {
			req = httptest.NewRequest(rt.method, path, nil)
			req.URL.RawQuery = input
		} else {
			req = httptest.NewRequest(rt.method, path, strings.NewReader(input))
			req.Header.Set("Content-Type", "application/json")
		}
		if rt.token != "" {
			req.Header.Set("Authorization", "Bearer "+e.tokens[rt.token])
			req.Header.Set("Coffre-Purpose", rt.purpose)
		}
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { e.h.ServeHTTP(rec, req); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%s %s with %q: no answer after 10 s\n%s", rt.method, rt.path, input, buf[:n])
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q = %d %s", rt.method, rt.path, input, rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			return
		}
		checkAnyProblem(t, rec)
	})
}

// discardMailer sends nothing.
type discardMailer struct{}

func (discardMailer) Send(context.Context, string, string, string) error { return nil }
