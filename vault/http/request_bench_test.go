package http_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
)

// dsrBench is a service over a real store with the default policy, an
// agent and a DPO.
type dsrBench struct {
	svc        *vault.Service
	h          http.Handler
	agent, dpo *vault.Principal
	dpoToken   string
}

func newDSRBench(b *testing.B, store vault.Store) *dsrBench {
	ctx := context.Background()
	schema := vault.DefaultSchema()
	eng, err := policy.New(ctx, policy.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	svc := vault.NewService(store, newKeyRing(b), eng, schema)
	l, _ := newAuditLog(b, store)
	if err := l.Open(ctx); err != nil {
		b.Fatal(err)
	}
	svc.SetAuditLog(l)
	b.Cleanup(func() { svc.Close(); l.Close(); store.Close() })
	d := &dsrBench{svc: svc, h: vhttp.NewServer(svc, vhttp.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}).Handler()}
	issue := func(role string) (*vault.Principal, string) {
		tok, _, err := svc.IssueToken(ctx, vault.TokenSpec{TenantID: "bench", Role: role})
		if err != nil {
			b.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, tok)
		if err != nil {
			b.Fatal(err)
		}
		return p, tok
	}
	d.agent, _ = issue(vault.RoleAgent)
	d.dpo, d.dpoToken = issue(vault.RoleDPO)
	return d
}

// subject creates a contact with 100 audit entries (its creation and 99
// reads) and a verified request of typ about it.
func (d *dsrBench) subject(b *testing.B, i int, typ string) string {
	ctx := context.Background()
	c, err := d.svc.CreateContact(ctx, d.agent, "casework", &vault.ContactInput{Fields: map[string]any{
		"given_name": "Lou", "family_name": "Bernard", "email": fmt.Sprintf("lou.%d@example.org", i),
		"phone": fmt.Sprintf("06 12 %02d %02d %02d", i/10000%100, i/100%100, i%100), "district": "d4", "birth_date": "1990-02-03", "interests": []string{"culture"}, "notes": "Suivi."}})
	if err != nil {
		b.Fatal(err)
	}
	for range 99 {
		if _, err := d.svc.GetContact(ctx, d.agent, "casework", c.ID); err != nil {
			b.Fatal(err)
		}
	}
	r, err := d.svc.CreateRequest(ctx, d.dpo, &vault.RequestInput{Type: typ, SubjectID: c.ID, IdentityMethod: "identity_document"})
	if err != nil {
		b.Fatal(err)
	}
	return r.ID
}

func (d *dsrBench) call(b *testing.B, method, path, body string, want int) int {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+d.dpoToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s = %d %s", method, path, rec.Code, rec.Body)
	}
	return rec.Body.Len()
}

// BenchmarkRequestExport times the answer to an access request (the zip
// with the record, its consents and its 100 audit entries), on each store.
//
//	go test ./vault/http -run XXX -bench 'Request(Export|Erase)' -benchtime 50x
func BenchmarkRequestExport(b *testing.B) {
	for _, st := range benchStores() {
		b.Run(st.name, func(b *testing.B) {
			d := newDSRBench(b, st.open(b))
			id := d.subject(b, 0, vault.RequestAccess)
			size := 0
			b.ResetTimer()
			for b.Loop() {
				size = d.call(b, "GET", "/v1/requests/"+id+"/export", "", http.StatusOK)
			}
			b.ReportMetric(float64(size), "zip-bytes")
		})
	}
}

// BenchmarkRequestErase times the completion of an erasure request for a
// subject with 100 audit entries: the record, key, lookups and segment row
// removed, the suppressions kept and the request closed, in one
// transaction.
func BenchmarkRequestErase(b *testing.B) {
	for _, st := range benchStores() {
		b.Run(st.name, func(b *testing.B) {
			d := newDSRBench(b, st.open(b))
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				id := d.subject(b, i, vault.RequestErasure)
				b.StartTimer()
				d.call(b, "POST", "/v1/requests/"+id+"/complete", "{}", http.StatusOK)
			}
		})
	}
}
