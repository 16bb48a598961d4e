package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
)

func TestInternalError(t *testing.T) {
	t.Run("Error", func(t *testing.T) {
		e := newEnv(t)
		c := e.create(map[string]any{"given_name": "Ines"})
		e.store.contact = func(ctx context.Context, tenantID, id string) (*vault.Record, error) {
			return nil, errors.New("sqlite: disk I/O error at page 4242 (detail-for-operator)")
		}
		rec := e.do(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"})
		p := checkProblem(t, rec, http.StatusInternalServerError, vault.EINTERNAL)
		for _, s := range []string{"sqlite", "4242", "detail-for-operator", "Ines"} {
			if strings.Contains(rec.Body.String(), s) {
				t.Errorf("answer %s names the internal error (%q)", rec.Body, s)
			}
		}
		var logged bool
		for _, l := range e.logLines() {
			if l["msg"] == "internal error" {
				logged = true
				if l["request_id"] != p.RequestID || !strings.Contains(l["error"].(string), "detail-for-operator") || l["route"] != "/v1/contacts/{id}" {
					t.Errorf("internal error log = %v, want request_id %s, route and the error", l, p.RequestID)
				}
			}
		}
		if !logged {
			t.Errorf("internal error not logged:\n%s", e.log)
		}
	})

	t.Run("Panic", func(t *testing.T) {
		e := newEnv(t)
		c := e.create(map[string]any{"given_name": "Ines"})
		e.store.contact = func(ctx context.Context, tenantID, id string) (*vault.Record, error) {
			panic("store exploded (panic-detail)")
		}
		rec := e.do(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"})
		checkProblem(t, rec, http.StatusInternalServerError, vault.EINTERNAL)
		if strings.Contains(rec.Body.String(), "panic-detail") {
			t.Errorf("answer %s names the panic", rec.Body)
		}
		logs := e.log.String()
		if !strings.Contains(logs, "panic-detail") || !strings.Contains(logs, "goroutine") {
			t.Errorf("panic and its stack not logged:\n%s", logs)
		}
		// The server keeps serving.
		e.store.contact = nil
		e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"}, http.StatusOK, nil)
	})
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		t.Run(path, func(t *testing.T) {
			rec := e.mustDo(request{method: "GET", path: path}, http.StatusOK, nil)
			if got := strings.TrimSpace(rec.Body.String()); got != `{"status":"ok"}` {
				t.Errorf("GET %s = %s, want {\"status\":\"ok\"}", path, got)
			}
		})
	}
	t.Run("NotReady", func(t *testing.T) {
		e.store.ping = func(ctx context.Context) error { return errors.New("connection refused (ping-detail)") }
		defer func() { e.store.ping = nil }()
		rec := e.do(request{method: "GET", path: "/readyz"})
		checkProblem(t, rec, http.StatusServiceUnavailable, vault.EUNAVAILABLE)
		if strings.Contains(rec.Body.String(), "ping-detail") {
			t.Errorf("answer %s names the cause", rec.Body)
		}
		if !strings.Contains(e.log.String(), "ping-detail") {
			t.Errorf("cause not logged:\n%s", e.log)
		}
		// Liveness does not depend on the store.
		e.mustDo(request{method: "GET", path: "/healthz"}, http.StatusOK, nil)
	})
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	t.Run("Generated", func(t *testing.T) {
		a := e.mustDo(request{method: "GET", path: "/healthz"}, http.StatusOK, nil).Header().Get("X-Request-Id")
		b := e.mustDo(request{method: "GET", path: "/healthz"}, http.StatusOK, nil).Header().Get("X-Request-Id")
		if len(a) < 16 || a == b {
			t.Errorf("generated ids %q, %q: want distinct and long", a, b)
		}
	})
	t.Run("Kept", func(t *testing.T) {
		const id = "0f8fad5b-d9cb-469f-a165-70867728950e"
		rec := e.mustDo(request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: `{"fields": {"given_name": "R"}}`,
			header: map[string]string{"X-Request-Id": id, "Coffre-Purpose": "events"}}, http.StatusCreated, nil)
		if got := rec.Header().Get("X-Request-Id"); got != id {
			t.Errorf("X-Request-Id = %q, want %q", got, id)
		}
		es := e.auditEntries("t1")
		if last := es[len(es)-1]; last.RequestID != id || last.Purpose != "events" {
			t.Errorf("audit entry request id, purpose = %q, %q; want %q, events", last.RequestID, last.Purpose, id)
		}
	})
	for _, bad := range []string{"short", "jean dupont <jean@example.org>", "id\r\nX-Evil: 1", strings.Repeat("a", 65)} {
		t.Run("Replaced", func(t *testing.T) {
			rec := e.do(request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": bad}})
			if got := rec.Header().Get("X-Request-Id"); got == bad || len(got) < 16 {
				t.Errorf("X-Request-Id for %q = %q, want a fresh id", bad, got)
			}
			e.checkNoLeak(t, rec, bad)
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.create(map[string]any{"given_name": "H"})
	for _, r := range []request{
		{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"},
		{method: "GET", path: "/v1/contacts/" + c.ID},
		{method: "GET", path: "/nowhere"},
		{method: "GET", path: "/healthz"},
	} {
		t.Run(r.path, func(t *testing.T) {
			rec := e.do(r)
			for k, v := range map[string]string{
				"Cache-Control":           "no-store",
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			} {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	e := newEnv(t)
	c := e.create(map[string]any{"given_name": "Logged", "email": "logged@example.org"})
	before := len(e.logLines())
	rec := e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID + "?x=1", token: e.tokens["t1/agent"],
		header: map[string]string{"Coffre-Purpose": "casework"}}, http.StatusOK, nil)
	lines := e.logLines()[before:]
	if len(lines) != 1 {
		t.Fatalf("log lines for one request = %v, want 1", lines)
	}
	l := lines[0]
	p, _ := e.svc.Authenticate(context.Background(), e.tokens["t1/agent"])
	want := map[string]any{
		"msg": "request", "level": "INFO", "method": "GET", "route": "/v1/contacts/{id}", "status": float64(200),
		"bytes": float64(rec.Body.Len()), "request_id": rec.Header().Get("X-Request-Id"), "token_id": p.ID,
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("access log %s = %v, want %v", k, l[k], v)
		}
	}
	if _, ok := l["duration"]; !ok {
		t.Errorf("access log has no duration: %v", l)
	}
	var keys []string
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"bytes", "duration", "level", "method", "msg", "request_id", "route", "status", "time", "token_id"}; !slices.Equal(keys, want) {
		t.Errorf("access log members = %v, want %v", keys, want)
	}
	e.checkNoLeak(t, rec, e.tokens["t1/agent"])
	if s := e.log.String(); strings.Contains(s, c.ID) || strings.Contains(s, "Logged") || strings.Contains(s, "casework") {
		t.Errorf("log holds the path, a body value or a header:\n%s", s)
	}

	// A failure names its code; an unknown method is not echoed.
	before = len(e.logLines())
	e.do(request{method: "GET", path: "/v1/contacts/" + c.ID})
	e.do(request{method: "JEANDUPONT", path: "/healthz"})
	lines = e.logLines()[before:]
	if len(lines) != 2 || lines[0]["code"] != "unauthorized" || lines[0]["token_id"] != "" || lines[1]["method"] != "OTHER" {
		t.Errorf("log lines = %v, want an unauthorized one and a method OTHER", lines)
	}
	if strings.Contains(e.log.String(), "JEANDUPONT") {
		t.Errorf("log holds a client-chosen method")
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	c := e.create(camille)
	var out map[string]any
	rec := e.mustDo(request{method: "POST", path: "/v1/tokens", token: "t1/admin", body: map[string]any{
		"role": "volunteer", "attributes": map[string][]string{"districts": {"nord"}}, "purposes": []string{"canvassing"}, "ttl_seconds": 3600,
	}}, http.StatusCreated, &out)
	tok, _ := out["token"].(string)
	if !strings.HasPrefix(tok, "coffre_") || out["id"] == "" || !strings.Contains(tok, out["id"].(string)) {
		t.Errorf("token answer = %v, want a coffre_ token naming its id", out)
	}
	want := map[string]any{
		"token": tok, "id": out["id"], "tenant_id": "t1", "role": "volunteer",
		"attributes": map[string]any{"districts": []any{"nord"}}, "purposes": []any{"canvassing"},
		"created_at": "2025-03-01T12:00:00Z", "expires_at": "2025-03-01T13:00:00Z",
	}
	for k, v := range want {
		if !equalJSON(out[k], v) {
			t.Errorf("token answer %s = %v, want %v", k, out[k], v)
		}
	}
	if len(out) != len(want) {
		t.Errorf("token answer = %v, want members %v", out, want)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("token answer may be cached")
	}
	if strings.Contains(e.log.String(), tok[len(tok)-43:]) {
		t.Errorf("log holds the token's secret")
	}

	// The new token works, with the volunteer's view, until it expires.
	var got contact
	e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID, token: tok}, http.StatusOK, &got)
	if got.Fields["email"] != "c***@example.org" {
		t.Errorf("volunteer token sees email %v, want it masked", got.Fields["email"])
	}
	e.clock.Add(2 * time.Hour)
	// Past the verified-token cache too.
	checkProblem(t, e.do(request{method: "GET", path: "/v1/contacts/" + c.ID, token: tok}), http.StatusUnauthorized, vault.EUNAUTHORIZED)

	t.Run("NoExpiry", func(t *testing.T) {
		var out map[string]any
		e.mustDo(request{method: "POST", path: "/v1/tokens", token: "t1/admin", body: `{"role": "agent"}`}, http.StatusCreated, &out)
		if _, ok := out["expires_at"]; ok || !equalJSON(out["attributes"], map[string]any{}) || !equalJSON(out["purposes"], []any{}) {
			t.Errorf("token answer = %v, want no expires_at, empty attributes and purposes", out)
		}
		// The tenant is always the caller's.
		p, err := e.svc.Authenticate(context.Background(), out["token"].(string))
		if err != nil || p.TenantID != "t1" || p.Role != "agent" {
			t.Errorf("Authenticate(new token) = %+v, %v; want an agent of t1", p, err)
		}
	})
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestOpenAPI checks the document is OpenAPI 3.1, that its paths and
// methods are exactly the router's routes, and that its references
// resolve.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t)
	rec := e.mustDo(request{method: "GET", path: "/openapi.json"}, http.StatusOK, nil)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}

	documented := map[string]bool{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	err := chi.Walk(e.srv.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatalf("chi.Walk: %v", err)
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for r := range documented {
		if !routed[r] {
			t.Errorf("openapi.json documents %s, which the router does not serve", r)
		}
	}
	if len(routed) < 9 {
		t.Errorf("chi.Walk found %d routes, want at least 9", len(routed))
	}

	// Every $ref points into the document.
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	for _, ref := range refs {
		var v any = doc
		for _, k := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if !strings.HasPrefix(ref, "#/") || v == nil {
			t.Errorf("$ref %q does not resolve", ref)
		}
	}

	// The document declares what the package promises.
	comp := doc["components"].(map[string]any)
	bearer, _ := comp["securitySchemes"].(map[string]any)["bearer"].(map[string]any)
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("bearer security scheme = %v", bearer)
	}
	purpose := comp["parameters"].(map[string]any)["Purpose"].(map[string]any)
	if purpose["name"] != "Coffre-Purpose" || purpose["in"] != "header" ||
		!equalJSON(purpose["schema"].(map[string]any)["enum"], e.svc.Schema().Purposes) {
		t.Errorf("Purpose parameter = %v, want the Coffre-Purpose header with the schema's purposes", purpose)
	}
	problem := comp["schemas"].(map[string]any)["Problem"].(map[string]any)
	if !equalJSON(problem["required"], []string{"type", "title", "status", "detail", "code", "errors", "request_id"}) {
		t.Errorf("Problem schema requires %v", problem["required"])
	}
}

// TestServer runs the Server on a real port: Open, URL, a request, and a
// graceful Close that lets a request in flight complete.
func TestServer(t *testing.T) {
	e := newEnv(t)
	srv := vhttp.NewServer(e.svc, vhttp.Options{})
	if srv.Addr() != nil || srv.URL() != "" {
		t.Errorf("before Open: Addr, URL = %v, %q; want nil, \"\"", srv.Addr(), srv.URL())
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Errorf("Close before Open = %v, want nil", err)
	}
	if err := srv.Open("127.0.0.1:0"); err != nil {
		t.Fatalf("Open = %v", err)
	}
	if err := srv.Open("127.0.0.1:0"); err == nil {
		t.Errorf("second Open = nil, want an error")
	}
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") || srv.URL() == "http://127.0.0.1:0" {
		t.Errorf("URL = %q", srv.URL())
	}

	resp, err := http.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d", resp.StatusCode)
	}

	// A readiness check blocks in the store until released.
	entered, release := make(chan struct{}), make(chan struct{})
	e.store.ping = func(ctx context.Context) error {
		close(entered)
		<-release
		return nil
	}
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(srv.URL() + "/readyz")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(b), err}
	}()
	<-entered

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		closed <- srv.Close(ctx)
	}()
	// Close waits for the request in flight.
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	// New connections are refused once Close has begun.
	if resp, err := http.Get(srv.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET after Close began = %d, want a refused connection", resp.StatusCode)
	}
	close(release)
	r := <-done
	if r.err != nil || r.status != http.StatusOK || strings.TrimSpace(r.body) != `{"status":"ok"}` {
		t.Errorf("request in flight = %d %q %v, want 200 ok", r.status, r.body, r.err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}

// TestServerCloseTimeout checks that Close gives up on a request that
// outlives its context.
func TestServerCloseTimeout(t *testing.T) {
	e := newEnv(t)
	srv := vhttp.NewServer(e.svc, vhttp.Options{})
	if err := srv.Open("127.0.0.1:0"); err != nil {
		t.Fatalf("Open = %v", err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	e.store.ping = func(ctx context.Context) error {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	go func() {
		if resp, err := http.Get(srv.URL() + "/readyz"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with a stuck request = %v, want context.DeadlineExceeded", err)
	}
}
