package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchServer starts a server with handler and counts the connections
// it accepts.
func benchServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// testBenchClient returns a client for base that the test closes.
func testBenchClient(t *testing.T, base string) *benchClient {
	t.Helper()
	c, err := newBenchClient(base, "coffre_test", "casework")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func TestBenchClientRequestBytes(t *testing.T) {
	// The server sees the method, the path under the base URL's path, the
	// headers and the body as net/http's client sent them.
	type seen struct {
		method, uri, host, auth, purpose, ctype string
		length                                  int64
		body                                    string
	}
	got := make(chan seen, 1)
	srv, _ := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Host, r.Header.Get("Authorization"), r.Header.Get("Coffre-Purpose"),
			r.Header.Get("Content-Type"), r.ContentLength, string(b)}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"c1"}`)
	})
	c := testBenchClient(t, srv.URL+"/base")
	var v struct {
		ID string `json:"id"`
	}
	res, detail := c.request(context.Background(), http.MethodPost, "/v1/contacts", "", []byte(`{"a":1}`), http.StatusCreated, &v)
	if !res.ok || res.status != http.StatusCreated || v.ID != "c1" {
		t.Fatalf("request = %+v, %q, id %q", res, detail, v.ID)
	}
	want := seen{"POST", "/base/v1/contacts", strings.TrimPrefix(srv.URL, "http://"), "Bearer coffre_test", "casework", "application/json", 7, `{"a":1}`}
	if s := <-got; s != want {
		t.Errorf("server saw %+v, want %+v", s, want)
	}
	res, _ = c.request(context.Background(), http.MethodGet, "/v1/contacts/", "c1", nil, http.StatusOK, nil)
	want = seen{"GET", "/base/v1/contacts/c1", strings.TrimPrefix(srv.URL, "http://"), "Bearer coffre_test", "casework", "", 0, ""}
	if s := <-got; s != want {
		t.Errorf("server saw %+v, want %+v", s, want)
	}
	// 201 where 200 is wanted is a failure, as before.
	if res.ok || res.status != http.StatusCreated {
		t.Errorf("GET answered 201: %+v", res)
	}
}

func TestBenchClientRequestAllocs(t *testing.T) {
	// Writing a request allocates nothing once the buffer has grown.
	c := testBenchClient(t, "http://127.0.0.1:8080")
	body := []byte(`{"email":"a@example.com"}`)
	c.wbuf = c.appendRequest(c.wbuf[:0], http.MethodPost, "/v1/contacts/search", "", body)
	if n := testing.AllocsPerRun(100, func() {
		c.wbuf = c.appendRequest(c.wbuf[:0], http.MethodPost, "/v1/contacts/search", "", body)
	}); n != 0 {
		t.Errorf("appendRequest allocates %v times", n)
	}
	want := "POST /v1/contacts/search HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer coffre_test\r\n" +
		"Coffre-Purpose: casework\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n" + string(body)
	if string(c.wbuf) != want {
		t.Errorf("request = %q, want %q", c.wbuf, want)
	}
}

func TestBenchClientChunked(t *testing.T) {
	// A chunked answer decodes, and its connection is kept.
	srv, conns := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		for _, part := range []string{`{"id":`, `"c`, `42"}`} {
			io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
	})
	c := testBenchClient(t, srv.URL)
	for i := 0; i < 3; i++ {
		var v struct {
			ID string `json:"id"`
		}
		res, detail := c.request(context.Background(), http.MethodPost, "/v1/contacts", "", []byte(`{}`), http.StatusCreated, &v)
		if !res.ok || v.ID != "c42" {
			t.Fatalf("request %d = %+v, %q, id %q", i, res, detail, v.ID)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 chunked answers, want 1", n)
	}
}

func TestBenchClientConnectionClose(t *testing.T) {
	// A server that answers Connection: close gets a new connection for
	// the next request, which succeeds.
	var calls atomic.Int64
	srv, conns := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, `{}`)
	})
	c := testBenchClient(t, srv.URL)
	for i := 0; i < 3; i++ {
		if res, detail := c.request(context.Background(), http.MethodGet, "/v1/contacts/", "x", nil, http.StatusOK, nil); !res.ok {
			t.Fatalf("request %d = %+v, %q", i, res, detail)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one closed by the server, one kept)", n)
	}
}

func TestBenchClientNoRetryAfterSend(t *testing.T) {
	// A connection the server drops after answering, without saying so,
	// fails the next request, which may have reached the server: it is a
	// transport error and is not sent again. The one after succeeds on a
	// new connection.
	var calls atomic.Int64
	srv, conns := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) != 1 {
			io.WriteString(w, `{}`)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		brw.Flush()
		conn.Close()
	})
	c := testBenchClient(t, srv.URL)
	ctx := context.Background()
	if res, detail := c.request(ctx, http.MethodGet, "/x", "", nil, http.StatusOK, nil); !res.ok {
		t.Fatalf("first request = %+v, %q", res, detail)
	}
	// Let the close arrive.
	time.Sleep(50 * time.Millisecond)
	res, detail := c.request(ctx, http.MethodGet, "/x", "", nil, http.StatusOK, nil)
	if res.ok || res.status != 0 || detail == "" {
		t.Errorf("request on the dropped connection = %+v, %q; want a transport error", res, detail)
	}
	if res, detail := c.request(ctx, http.MethodGet, "/x", "", nil, http.StatusOK, nil); !res.ok {
		t.Fatalf("request after the drop = %+v, %q", res, detail)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("the server saw %d requests, want 2", n)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestBenchClientTimeout(t *testing.T) {
	// A server that does not answer: the request times out as a transport
	// error, and the next one gets a new connection.
	release := make(chan struct{})
	var calls atomic.Int64
	srv, conns := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, `{}`)
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	c := testBenchClient(t, srv.URL)
	c.timeout = 200 * time.Millisecond
	t0 := time.Now()
	type answer struct {
		res    result
		detail string
	}
	done := make(chan answer, 1)
	go func() {
		res, detail := c.request(context.Background(), http.MethodGet, "/v1/contacts/", "x", nil, http.StatusOK, nil)
		done <- answer{res, detail}
	}()
	var a answer
	select {
	case a = <-done:
	case <-time.After(5 * time.Second):
		t.Error("no timeout after 5s")
		unblock()
		a = <-done
	}
	res, detail := a.res, a.detail
	if d := time.Since(t0); d < c.timeout || d > 10*c.timeout {
		t.Errorf("the request took %s with a timeout of %s", d, c.timeout)
	}
	if res.ok || res.status != 0 || !strings.Contains(detail, "timeout") {
		t.Errorf("hung request = %+v, %q; want a transport timeout", res, detail)
	}
	s := &opStats{errors: map[string]int64{}}
	s.add(res)
	if s.errors["transport"] != 1 || s.ok != 0 {
		t.Errorf("counted as %v, %d ok", s.errors, s.ok)
	}
	if res, detail := c.request(context.Background(), http.MethodGet, "/v1/contacts/", "x", nil, http.StatusOK, nil); !res.ok {
		t.Errorf("request after the timeout = %+v, %q", res, detail)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestBenchClientCancel(t *testing.T) {
	// Cancelling the context ends a request in flight at once, however
	// long the timeout.
	release := make(chan struct{})
	srv, _ := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	c := testBenchClient(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	t0 := time.Now()
	res, detail := c.request(ctx, http.MethodGet, "/x", "", nil, http.StatusOK, nil)
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("the cancelled request took %s", d)
	}
	if res.ok || res.status != 0 || detail != context.Canceled.Error() {
		t.Errorf("cancelled request = %+v, %q", res, detail)
	}
}

func TestBenchClientProblem(t *testing.T) {
	// A 4xx problem document: its title is the detail, the failure
	// message keeps its hint, and the connection is kept.
	srv, conns := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"type":"about:blank","title":"Purpose not allowed","status":403,"detail":"x"}`+"\n")
	})
	c := testBenchClient(t, srv.URL)
	b := &bench{base: srv.URL}
	for i := 0; i < 2; i++ {
		res, detail := c.request(context.Background(), http.MethodPost, "/v1/contacts", "", []byte(`{}`), http.StatusCreated, new(struct{ ID string }))
		if res.ok || res.status != http.StatusForbidden || detail != "Purpose not allowed" {
			t.Fatalf("request = %+v, %q", res, detail)
		}
		err := b.failure("creating the contacts to read", res, detail)
		want := "bench: creating the contacts to read: the server answered 403 Forbidden (Purpose not allowed): the token's role"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("failure = %v, want it to start with %q", err, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestBenchClientUnreadable(t *testing.T) {
	// A success whose body is not the JSON asked for fails as before.
	srv, _ := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":`)
	})
	c := testBenchClient(t, srv.URL)
	var v struct{ ID string }
	res, detail := c.request(context.Background(), http.MethodPost, "/v1/contacts", "", []byte(`{}`), http.StatusCreated, &v)
	if res.ok || res.status != http.StatusCreated || detail != "unreadable answer" {
		t.Errorf("request = %+v, %q", res, detail)
	}
}

func TestBenchClientCreatedID(t *testing.T) {
	// A create's id comes from its Location header; the body is drained,
	// and the connection kept, whatever it holds.
	const id = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	location := "/v1/contacts/" + id
	srv, conns := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		if location != "" {
			w.Header().Set("Location", location)
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"not this one"`)
	})
	c := testBenchClient(t, srv.URL)
	var got createdID
	res, detail := c.request(context.Background(), http.MethodPost, "/v1/contacts", "", []byte(`{}`), http.StatusCreated, &got)
	if !res.ok || got != id {
		t.Fatalf("request = %+v, %q, id %q; want %q", res, detail, got, id)
	}
	for _, bad := range []string{"", "/v1/contacts/", "/v1/tokens/" + id, "/v1/contacts/" + id + "/x"} {
		location = bad
		res, detail := c.request(context.Background(), http.MethodPost, "/v1/contacts", "", []byte(`{}`), http.StatusCreated, &got)
		if res.ok || detail != "no contact id in the Location header" {
			t.Errorf("Location %q: request = %+v, %q", bad, res, detail)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for five answers, want 1", n)
	}
}

func TestBenchClientDrainsLargeBody(t *testing.T) {
	// Long answers, with a length or chunked, are read to their end so
	// that the connection serves the next request.
	big := strings.Repeat("x", 1<<20)
	srv, conns := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			for i := 0; i < 4; i++ {
				io.WriteString(w, big[:len(big)/4])
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		io.WriteString(w, big)
	})
	c := testBenchClient(t, srv.URL)
	for i := 0; i < 4; i++ {
		path := "/length"
		if i%2 == 1 {
			path = "/chunked"
		}
		if res, detail := c.request(context.Background(), http.MethodGet, path, "", nil, http.StatusOK, nil); !res.ok {
			t.Fatalf("request %d = %+v, %q", i, res, detail)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 4 long answers, want 1", n)
	}
}

func TestBenchClientTooLongBody(t *testing.T) {
	// An answer longer than the bench drains closes its connection
	// instead; the next request dials again.
	srv, conns := benchServer(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("y", 1<<20)
		for i := 0; i < maxDrainBody>>20+2; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	c := testBenchClient(t, srv.URL)
	for i := 0; i < 2; i++ {
		if res, detail := c.request(context.Background(), http.MethodGet, "/", "", nil, http.StatusOK, nil); !res.ok {
			t.Fatalf("request %d = %+v, %q", i, res, detail)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestBenchClientLoopbackOnly(t *testing.T) {
	// The client dials loopback addresses only, whatever the URL says.
	c := testBenchClient(t, "http://10.1.2.3:8080")
	res, detail := c.request(context.Background(), http.MethodGet, "/", "", nil, http.StatusOK, nil)
	if res.ok || res.status != 0 || !strings.Contains(detail, "does not resolve to a loopback address") {
		t.Errorf("request to 10.1.2.3 = %+v, %q", res, detail)
	}
	// localhost resolves to a loopback address and is dialled.
	srv, _ := benchServer(t, func(w http.ResponseWriter, r *http.Request) {})
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c = testBenchClient(t, "http://localhost:"+port)
	if res, detail := c.request(context.Background(), http.MethodGet, "/", "", nil, http.StatusOK, nil); !res.ok {
		t.Errorf("request to localhost = %+v, %q", res, detail)
	}
}

func TestBenchClientBadHeader(t *testing.T) {
	// A token that cannot go in a header fails every request, as a
	// transport error, without reaching the server.
	var calls atomic.Int64
	srv, _ := benchServer(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	c, err := newBenchClient(srv.URL, "coffre_x\r\nX-Evil: 1", "casework")
	if err != nil {
		t.Fatal(err)
	}
	res, detail := c.request(context.Background(), http.MethodGet, "/", "", nil, http.StatusOK, nil)
	if res.ok || res.status != 0 || !strings.Contains(detail, "Authorization") || calls.Load() != 0 {
		t.Errorf("request = %+v, %q, %d calls", res, detail, calls.Load())
	}
}

func TestBenchClientTLS(t *testing.T) {
	// An https URL is served over TLS, with the server's certificate
	// verified.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("request without TLS")
		}
	}))
	t.Cleanup(srv.Close)
	c := testBenchClient(t, srv.URL)
	if res, _ := c.request(context.Background(), http.MethodGet, "/", "", nil, http.StatusOK, nil); res.ok {
		t.Error("a certificate from an unknown authority was accepted")
	}
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c.tls.RootCAs = roots
	for i := 0; i < 2; i++ {
		if res, detail := c.request(context.Background(), http.MethodGet, "/", "", nil, http.StatusOK, nil); !res.ok {
			t.Fatalf("request %d = %+v, %q", i, res, detail)
		}
	}
}

func TestParseCPUMetric(t *testing.T) {
	for _, tt := range []struct {
		text string
		want float64
		ok   bool
	}{
		{"# HELP process_cpu_seconds_total CPU.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n", 12.5, true},
		{"coffre_requests_open{tenant=\"a\"} 1\nprocess_cpu_seconds_total 3e-05\n", 3e-05, true},
		{"process_cpu_seconds_total_other 4\n", 0, false},
		{"process_cpu_seconds_total -1\n", 0, false},
		{"process_cpu_seconds_total x\n", 0, false},
		{"", 0, false},
	} {
		got, ok := parseCPUMetric([]byte(tt.text))
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseCPUMetric(%q) = %g, %v; want %g, %v", tt.text, got, ok, tt.want, tt.ok)
		}
	}
}
