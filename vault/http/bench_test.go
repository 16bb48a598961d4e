package http_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	vhttp "github.com/coffre/coffre/vault/http"
)

// benchEnv is newEnv with the access log going to a JSON handler that
// discards, so the benchmark pays for logging but does not keep it.
func benchEnv(b *testing.B) *env {
	e := newEnv(b)
	e.srv = vhttp.NewServer(e.svc, vhttp.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	e.h = e.srv.Handler()
	return e
}

func BenchmarkGetContact(b *testing.B) {
	e := benchEnv(b)
	c := e.create(camille)
	auth := "Bearer " + e.tokens["t1/agent"]
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/v1/contacts/"+c.ID, nil)
			req.Header.Set("Authorization", auth)
			req.Header.Set("Coffre-Purpose", "casework")
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("GET = %d %s", rec.Code, rec.Body)
			}
		}
	})
}

func BenchmarkCreateContact(b *testing.B) {
	e := benchEnv(b)
	auth := "Bearer " + e.tokens["t1/agent"]
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"fields": {"given_name": "Camille", "family_name": "Martin", "email": "camille.%d@example.org",
				"phone": "06 12 34 56 78", "district": "nord", "interests": ["housing", "climate"]},
				"consents": {"newsletter": {"granted": true, "source": "web form"}}}`, n.Add(1))
			req := httptest.NewRequest("POST", "/v1/contacts", strings.NewReader(body))
			req.Header.Set("Authorization", auth)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("POST = %d %s", rec.Code, rec.Body)
			}
		}
	})
}
