package http_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
)

// TestBadInput sends every kind of bad request and checks the answer is
// the right problem, that nothing submitted is echoed in the answer or the
// log, and that nothing was written.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	kept := e.create(map[string]any{"email": "kept@example.org", "given_name": "Kept"})
	admin := e.tokens["t1/admin"]
	forged := admin[:len(admin)-43] + strings.Repeat("f", 36) + "forgery"
	big := `{"fields": {"notes": "big-secret ` + strings.Repeat("x", vhttp.DefaultMaxBodyBytes) + `"}}`

	type fe = vault.FieldError
	for _, tt := range []struct {
		name    string
		req     request
		chunked bool // send without a Content-Length
		status  int
		code    string
		errors  []fe              // exact per-field errors, when set
		header  map[string]string // expected answer headers
		secrets []string
	}{
		{name: "MalformedJSON/Truncated",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"email": "trunc.secret@example.org"`},
			status: 400, code: vault.EINVALID, errors: []fe{}, secrets: []string{"trunc.secret"}},
		{name: "MalformedJSON/Syntax",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"given_name": "syn-secret-1"} zyx-secret-2}`},
			status: 400, code: vault.EINVALID, errors: []fe{}, secrets: []string{"syn-secret-1", "zyx-secret-2", "'z'"}},
		{name: "MalformedJSON/Escape",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"given_name": "bad-esc\q-secret"}}`},
			status: 400, code: vault.EINVALID, errors: []fe{}, secrets: []string{"bad-esc", "q-secret"}},
		{name: "UnknownMember",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"given_name": "unk-secret-1"}, "nickname_secret": "unk-secret-2"}`},
			status: 400, code: vault.EINVALID, errors: []fe{}, secrets: []string{"unk-secret-1", "nickname_secret", "unk-secret-2"}},
		{name: "UnknownConsentMember",
			req: request{method: "POST", path: "/v1/contacts", token: "t1/agent",
				body: `{"consents": {"newsletter": {"granted": true, "why_secret": "why-secret"}}}`},
			status: 400, code: vault.EINVALID,
			errors:  []fe{{Field: "consents.newsletter", Reason: "must be an object of granted, at, source and proof only"}},
			secrets: []string{"why_secret", "why-secret"}},
		{name: "WrongType/Fields",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": "wt-secret-string"}`},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "fields", Reason: "must be an object"}}, secrets: []string{"wt-secret-string"}},
		{name: "WrongType/Granted",
			req: request{method: "POST", path: "/v1/contacts", token: "t1/agent",
				body: `{"consents": {"newsletter": {"granted": "wt-secret-yes"}}}`},
			status: 400, code: vault.EINVALID,
			errors:  []fe{{Field: "consents.newsletter.granted", Reason: "must be a boolean (true or false)"}},
			secrets: []string{"wt-secret-yes"}},
		{name: "WrongType/FieldValue",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"given_name": 98765.4321, "interests": "tag-secret"}}`},
			status: 400, code: vault.EINVALID,
			errors:  []fe{{Field: "given_name", Reason: "must be a string"}, {Field: "interests", Reason: "must be an array of strings"}},
			secrets: []string{"98765.4321", "tag-secret"}},
		{name: "WrongType/Number",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"given_name": 1e999}}`},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "given_name", Reason: "must be a string"}}, secrets: []string{"1e999"}},
		{name: "WrongType/TTL",
			req:    request{method: "POST", path: "/v1/tokens", token: "t1/admin", body: `{"role": "agent", "ttl_seconds": 12345.678}`},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "ttl_seconds", Reason: "must be an integer within range"}}, secrets: []string{"12345.678"}},
		{name: "WrongType/Attributes",
			req:    request{method: "POST", path: "/v1/tokens", token: "t1/admin", body: `{"role": "volunteer", "attributes": {"districts": "attr-secret"}}`},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "attributes", Reason: "must be an array of strings"}}, secrets: []string{"attr-secret"}},
		{name: "WrongType/Search",
			req:    request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: `{"email": 4242424242}`},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "email", Reason: "must be a string"}}, secrets: []string{"4242424242"}},
		{name: "BadTime",
			req: request{method: "POST", path: "/v1/contacts", token: "t1/agent",
				body: `{"consents": {"newsletter": {"granted": true, "at": "at-secret-2024"}}}`},
			status: 400, code: vault.EINVALID,
			errors:  []fe{{Field: "consents.newsletter.at", Reason: "must be an RFC 3339 date-time"}},
			secrets: []string{"at-secret-2024"}},
		{name: "TrailingData",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {}} {"fields": {"given_name": "trail-secret"}}`},
			status: 400, code: vault.EINVALID, errors: []fe{}, secrets: []string{"trail-secret"}},
		{name: "NotAnObject",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `["arr-secret"]`},
			status: 400, code: vault.EINVALID, errors: []fe{}, secrets: []string{"arr-secret"}},
		{name: "NullBody",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `null`},
			status: 400, code: vault.EINVALID, errors: []fe{}},
		{name: "EmptyBody",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: " \n"},
			status: 400, code: vault.EINVALID, errors: []fe{}},
		{name: "TooLarge/ContentLength",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: big},
			status: 413, code: vault.ETOOLARGE, errors: []fe{}, secrets: []string{"big-secret"}},
		{name: "TooLarge/Chunked", chunked: true,
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: big},
			status: 413, code: vault.ETOOLARGE, errors: []fe{}, secrets: []string{"big-secret"}},
		{name: "ContentType/Text",
			req: request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"given_name": "ct-secret"}}`,
				header: map[string]string{"Content-Type": "text/plain"}},
			status: 415, code: "unsupported_media_type", secrets: []string{"ct-secret"}},
		{name: "ContentType/Missing",
			req: request{method: "PATCH", path: "/v1/contacts/" + kept.ID, token: "t1/agent", body: `{"fields": {"given_name": "ct-secret"}}`,
				header: map[string]string{"Content-Type": ""}},
			status: 415, code: "unsupported_media_type", secrets: []string{"ct-secret"}},
		{name: "ContentType/Charset",
			req: request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: `{"email": "cs-secret@example.org"}`,
				header: map[string]string{"Content-Type": "application/json; charset=latin1"}},
			status: 415, code: "unsupported_media_type", secrets: []string{"cs-secret"}},
		{name: "InvalidValues",
			req: request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: map[string]any{"fields": map[string]any{
				"email": "not-an-email-secret", "phone": "12ab-secret", "birth_date": "bd-secret", "given_name": "Valid Name"}}},
			status: 400, code: vault.EINVALID,
			errors: []fe{
				{Field: "birth_date", Reason: "must be a date in YYYY-MM-DD form"},
				{Field: "email", Reason: "is not a valid email address"},
				{Field: "phone", Reason: "is not a valid phone number (French national or international +CC form)"},
			},
			secrets: []string{"not-an-email-secret", "12ab-secret", "bd-secret", "Valid Name"}},
		{name: "InvalidPatch",
			req: request{method: "PATCH", path: "/v1/contacts/" + kept.ID, token: "t1/agent", body: map[string]any{"fields": map[string]any{
				"email": "patch-bad-secret", "given_name": "Patched Name Secret"}}},
			status: 400, code: vault.EINVALID,
			errors:  []fe{{Field: "email", Reason: "is not a valid email address"}},
			secrets: []string{"patch-bad-secret", "Patched Name Secret"}},
		{name: "UnknownSchemaField",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: map[string]any{"fields": map[string]any{"shoe_size": "ss-secret"}}},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "shoe_size", Reason: "is not a field of the schema"}}, secrets: []string{"ss-secret"}},
		{name: "UnknownConsent",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"consents": {"fax": {"granted": true, "source": "fax-secret"}}}`},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "consents.fax", Reason: "is not a consent of the schema"}}, secrets: []string{"fax-secret"}},
		{name: "NullField",
			req:    request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"given_name": null, "notes": "null-secret"}}`},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "given_name", Reason: "must not be null"}}, secrets: []string{"null-secret"}},
		{name: "UnknownID",
			req:    request{method: "GET", path: "/v1/contacts/" + vault.NewID(start), token: "t1/agent"},
			status: 404, code: vault.ENOTFOUND},
		{name: "MalformedID/GET",
			req:    request{method: "GET", path: "/v1/contacts/malformed-id-secret", token: "t1/agent"},
			status: 404, code: vault.ENOTFOUND, secrets: []string{"malformed-id-secret"}},
		{name: "MalformedID/PATCH",
			req:    request{method: "PATCH", path: "/v1/contacts/jane.doe@example.org", token: "t1/agent", body: `{"fields": {"notes": "x"}}`},
			status: 404, code: vault.ENOTFOUND, secrets: []string{"jane.doe"}},
		{name: "MalformedID/DELETE",
			req:    request{method: "DELETE", path: "/v1/contacts/" + strings.ToUpper(kept.ID), token: "t1/agent"},
			status: 404, code: vault.ENOTFOUND},
		{name: "MissingToken",
			req:    request{method: "GET", path: "/v1/contacts/" + kept.ID},
			status: 401, code: vault.EUNAUTHORIZED, header: map[string]string{"WWW-Authenticate": `Bearer realm="coffre"`}},
		{name: "MalformedAuthorization",
			req: request{method: "GET", path: "/v1/contacts/" + kept.ID,
				header: map[string]string{"Authorization": "Basic basic-secret"}},
			status: 401, code: vault.EUNAUTHORIZED,
			header:  map[string]string{"WWW-Authenticate": `Bearer realm="coffre", error="invalid_request"`},
			secrets: []string{"basic-secret"}},
		{name: "ForgedToken",
			req:    request{method: "GET", path: "/v1/contacts/" + kept.ID, token: forged},
			status: 401, code: vault.EUNAUTHORIZED,
			header: map[string]string{"WWW-Authenticate": `Bearer realm="coffre", error="invalid_token"`}, secrets: []string{forged, "forgery"}},
		{name: "GarbageToken",
			req:    request{method: "POST", path: "/v1/contacts", token: "garbage-token-secret", body: `{}`},
			status: 401, code: vault.EUNAUTHORIZED,
			header: map[string]string{"WWW-Authenticate": `Bearer realm="coffre", error="invalid_token"`}, secrets: []string{"garbage-token-secret"}},
		{name: "UnknownPurpose",
			req: request{method: "GET", path: "/v1/contacts/" + kept.ID, token: "t1/agent",
				header: map[string]string{"Coffre-Purpose": "purpose-secret"}},
			status: 400, code: vault.EINVALID, secrets: []string{"purpose-secret"}},
		{name: "Search/Both",
			req:    request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: map[string]string{"email": "both-secret@example.org", "phone": "0611111111"}},
			status: 400, code: vault.EINVALID, secrets: []string{"both-secret", "0611111111"}},
		{name: "Search/Neither",
			req:    request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: `{}`},
			status: 400, code: vault.EINVALID},
		{name: "Search/InvalidEmail",
			req:    request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: map[string]string{"email": "bad-search-secret"}},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "email", Reason: "is not a valid email address"}}, secrets: []string{"bad-search-secret"}},
		{name: "Token/UnknownRole",
			req:    request{method: "POST", path: "/v1/tokens", token: "t1/admin", body: map[string]any{"role": "role-secret"}},
			status: 400, code: vault.EINVALID, secrets: []string{"role-secret"}},
		{name: "Token/NegativeTTL",
			req:    request{method: "POST", path: "/v1/tokens", token: "t1/admin", body: map[string]any{"role": "agent", "ttl_seconds": -5}},
			status: 400, code: vault.EINVALID, errors: []fe{{Field: "ttl_seconds", Reason: "must be between 0 (no expiry) and 316224000 (ten years)"}}},
		{name: "Token/UnknownPurpose",
			req:    request{method: "POST", path: "/v1/tokens", token: "t1/admin", body: map[string]any{"role": "agent", "purposes": []string{"tp-secret"}}},
			status: 400, code: vault.EINVALID, secrets: []string{"tp-secret"}},
		{name: "Token/Agent",
			req:    request{method: "POST", path: "/v1/tokens", token: "t1/agent", body: map[string]any{"role": "admin"}},
			status: 403, code: vault.EFORBIDDEN},
		{name: "MethodNotAllowed/Contact",
			req:    request{method: "PUT", path: "/v1/contacts/" + kept.ID, token: "t1/agent", body: `{"fields": {"notes": "put-secret"}}`},
			status: 405, code: "method_not_allowed", header: map[string]string{"Allow": "GET, PATCH, DELETE"}, secrets: []string{"put-secret"}},
		{name: "MethodNotAllowed/Search",
			req:    request{method: "GET", path: "/v1/contacts/search", token: "t1/agent"},
			status: 404, code: vault.ENOTFOUND},
		{name: "MethodNotAllowed/Healthz",
			req:    request{method: "POST", path: "/healthz", body: `{}`},
			status: 405, code: "method_not_allowed", header: map[string]string{"Allow": "GET"}},
		{name: "MethodNotAllowed/Tokens",
			req:    request{method: "GET", path: "/v1/tokens", token: "t1/admin"},
			status: 405, code: "method_not_allowed", header: map[string]string{"Allow": "POST"}},
		{name: "UnknownMethodAndRoute",
			req:    request{method: "BREW", path: "/coffee-secret"},
			status: 404, code: vault.ENOTFOUND, secrets: []string{"BREW", "coffee-secret"}},
		{name: "UnknownRoute",
			req:    request{method: "GET", path: "/v1/route-secret?q=query-secret"},
			status: 404, code: vault.ENOTFOUND, secrets: []string{"route-secret", "query-secret"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.auditWrites("t1")
			var rec *httptest.ResponseRecorder
			if tt.chunked {
				rec = e.doChunked(tt.req)
			} else {
				rec = e.do(tt.req)
			}
			p := checkProblem(t, rec, tt.status, tt.code)
			if tt.errors != nil && !reflect.DeepEqual(p.Errors, tt.errors) {
				t.Errorf("errors = %+v, want %+v", p.Errors, tt.errors)
			}
			for k, v := range tt.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			e.checkNoLeak(t, rec, tt.secrets...)
			if n := e.auditWrites("t1"); n != before {
				t.Errorf("audit log records %d writes, want %d: something was written", n, before)
			}
		})
	}

	// Nothing changed: the kept contact is as it was, and no submitted
	// email can be found.
	var got contact
	e.mustDo(request{method: "GET", path: "/v1/contacts/" + kept.ID, token: "t1/agent"}, http.StatusOK, &got)
	checkFields(t, "kept", got.Fields, map[string]any{"email": "kept@example.org", "given_name": "Kept"})
	if !got.Updated.Equal(kept.Updated) {
		t.Errorf("kept updated_at = %v, want %v", got.Updated, kept.Updated)
	}
	for _, email := range []string{"trunc.secret@example.org", "cs-secret@example.org", "both-secret@example.org"} {
		rec := e.mustDo(request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: map[string]string{"email": email}}, http.StatusOK, nil)
		if got := strings.TrimSpace(rec.Body.String()); got != `{"contacts":[]}` {
			t.Errorf("search %s = %s, want none", email, got)
		}
	}
	es := e.auditEntries("t1")
	for _, en := range es {
		if en.Action == vault.ActionTokenCreate && en.Outcome == vault.OutcomeOK && en.ActorID != vault.OperatorID {
			t.Errorf("a token was created through the API: %+v", en)
		}
	}
}

// doChunked is do with the body's length unknown in advance, as with
// chunked transfer encoding.
func (e *env) doChunked(r request) *httptest.ResponseRecorder {
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body.(string)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.tokens[r.token])
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// TestQueryStringNotLogged checks that a query string, which the API
// ignores, never reaches the log.
func TestQueryStringNotLogged(t *testing.T) {
	e := newEnv(t)
	c := e.create(map[string]any{"given_name": "Q"})
	rec := e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID + "?email=query.secret@example.org", token: "t1/agent"}, http.StatusOK, nil)
	e.checkNoLeak(t, rec, "query.secret")
	if strings.Contains(e.log.String(), c.ID) {
		t.Errorf("log names the contact id from the path:\n%s", e.log.String())
	}
}
