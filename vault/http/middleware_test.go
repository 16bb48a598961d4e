package http_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"

	vhttp "github.com/coffre/coffre/vault/http"
)

// accessLogRouter serves /v1/contacts/{id} behind middleware, answering
// with the status, body and problem code that the request's query asks
// for.
func accessLogRouter(middleware func(*slog.Logger, http.Handler) http.Handler, log *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler { return middleware(log, next) })
	r.HandleFunc("/v1/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if code := q.Get("code"); code != "" {
			vhttp.SetRequestCode(r, code)
		}
		var status int
		fmt.Sscan(q.Get("status"), &status)
		if status != 0 {
			w.WriteHeader(status)
		}
		io.WriteString(w, q.Get("body"))
	})
	return r
}

// TestAccessLogLine checks that the access log writes the lines it wrote
// before it checked the level first, at every level, apart from the time,
// the duration and the random request ids.
func TestAccessLogLine(t *testing.T) {
	normalize := func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey, "duration":
			return slog.Attr{}
		case "request_id":
			if a.Value.String() != givenID {
				return slog.String(a.Key, "random")
			}
		}
		return a
	}
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 1} {
		var got, want bytes.Buffer
		opts := &slog.HandlerOptions{Level: level, ReplaceAttr: normalize}
		now := accessLogRouter(vhttp.AccessLog, slog.New(slog.NewJSONHandler(&got, opts)))
		before := accessLogRouter(vhttp.AccessLogBefore, slog.New(slog.NewJSONHandler(&want, opts)))
		for _, method := range []string{"GET", "PATCH", "BREW"} {
			for _, query := range []string{"", "status=204", "body=abc", "status=404&code=not_found&body=x",
				"status=500&code=internal", "status=503", "status=499"} {
				for _, id := range []string{"", givenID, "short"} {
					for _, h := range []http.Handler{now, before} {
						req := httptest.NewRequest(method, "/v1/contacts/c1?"+query, nil)
						if id != "" {
							req.Header.Set("X-Request-Id", id)
						}
						h.ServeHTTP(httptest.NewRecorder(), req)
					}
					if got.String() != want.String() {
						t.Fatalf("level %v, %s ?%s, id %q: log =\n%s\nwant\n%s", level, method, query, id, &got, &want)
					}
					got.Reset()
					want.Reset()
				}
			}
		}
	}
}

// givenID is a request id a client may choose.
const givenID = "0123456789abcdef0123"

// BenchmarkAccessLog compares the access log with the one it replaced,
// with the line logged (Info) and the level disabled (Warn).
func BenchmarkAccessLog(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))
		for _, m := range []struct {
			name string
			h    http.Handler
		}{{"Before", vhttp.AccessLogBefore(log, ok)}, {"Now", vhttp.AccessLog(log, ok)}} {
			b.Run(level.String()+"/"+m.name, func(b *testing.B) {
				req := httptest.NewRequest("GET", "/v1/contacts/c1", nil)
				req.Header.Set("X-Request-Id", givenID)
				w := discardWriter{http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					m.h.ServeHTTP(w, req)
				}
			})
		}
	}
}

// discardWriter is an http.ResponseWriter that keeps nothing but its
// headers.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header       { return w.h }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// TestSecureHeadersShared checks that a handler adding to a security
// header of its answer changes no other answer's: the middleware shares
// its value slices between answers.
func TestSecureHeadersShared(t *testing.T) {
	h := vhttp.SecureHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("add"); v != "" {
			w.Header().Add("Cache-Control", v)
		}
	}))
	answer := func(target string) http.Header {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		return rec.Header()
	}
	a, b, plain := answer("/?add=private"), answer("/?add=public"), answer("/")
	for _, c := range []struct {
		name string
		h    http.Header
		want []string
	}{
		{"first", a, []string{"no-store", "private"}},
		{"second", b, []string{"no-store", "public"}},
		{"plain", plain, []string{"no-store"}},
	} {
		if got := c.h.Values("Cache-Control"); !slices.Equal(got, c.want) {
			t.Errorf("%s answer: Cache-Control = %q, want %q", c.name, got, c.want)
		}
		if got := c.h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s answer: X-Content-Type-Options = %q", c.name, got)
		}
	}
}
