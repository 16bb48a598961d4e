package http_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/sqlite"
)

// BenchmarkGetAuthz measures get-by-id over real HTTP and a real store, at
// concurrency 16, with the interim role authoriser and with the policy
// engine, side by side in one run: the policy's cost is the ratio.
//
//	go test ./vault/http -run XXX -bench GetAuthz -benchtime 5s
func BenchmarkGetAuthz(b *testing.B) {
	stores := benchStores()
	authorisers := []struct {
		name string
		new  func(*vault.Schema) vault.Authorizer
	}{
		{"roles", func(s *vault.Schema) vault.Authorizer { return &vault.RoleAuthorizer{Schema: s} }},
		{"policy", func(s *vault.Schema) vault.Authorizer {
			e, err := policy.New(context.Background(), policy.Options{Schema: s})
			if err != nil {
				b.Fatal(err)
			}
			return e
		}},
	}
	// Rounds alternate the two authorisers, so that a noisy moment of the
	// machine does not fall on one of them only.
	for _, st := range stores {
		for round := 1; round <= 3; round++ {
			for _, a := range authorisers {
				b.Run(fmt.Sprintf("%s/%s/round%d", st.name, a.name, round), func(b *testing.B) { benchGet(b, st.open(b), a.new) })
			}
		}
	}
}

// benchStore is a store kind the benchmarks run on.
type benchStore struct {
	name string
	open func(b *testing.B) vault.Store
}

// benchStores are SQLite in a temporary folder and PostgreSQL in a fresh
// schema (skipped without a test database).
func benchStores() []benchStore {
	return []benchStore{
		{"sqlite", func(b *testing.B) vault.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "coffre.db"))
			if err != nil {
				b.Fatal(err)
			}
			return db
		}},
		{"postgres", func(b *testing.B) vault.Store {
			db, err := postgres.Open(context.Background(), pgtest.NewSchema(b))
			if err != nil {
				b.Fatal(err)
			}
			return db
		}},
	}
}

// benchGet serves store over loopback HTTP and reads 100 contacts in turn
// from 16 clients.
func benchGet(b *testing.B, store vault.Store, authz func(*vault.Schema) vault.Authorizer) {
	ctx := context.Background()
	schema := vault.DefaultSchema()
	svc := vault.NewService(store, newKeyRing(b), authz(schema), schema)
	l, _ := newAuditLog(b, store)
	if err := l.Open(ctx); err != nil {
		b.Fatal(err)
	}
	svc.SetAuditLog(l)
	srv := vhttp.NewServer(svc, vhttp.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err := srv.Open("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		srv.Close(ctx)
		svc.Close()
		l.Close()
		store.Close()
	})
	token, _, err := svc.IssueToken(ctx, vault.TokenSpec{TenantID: "bench", Role: vault.RoleAgent})
	if err != nil {
		b.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, token)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	granted := true
	for i := range 100 {
		c, err := svc.CreateContact(ctx, p, "casework", &vault.ContactInput{
			Fields: map[string]any{"given_name": "Camille", "family_name": "Martin", "email": fmt.Sprintf("camille.%d@example.org", i),
				"phone": "06 12 34 56 78", "district": fmt.Sprintf("d%d", i%20+1), "birth_date": "1984-05-12",
				"interests": []string{"housing", "cycling"}, "notes": "Rappeler."},
			Consents: map[string]vault.ConsentInput{"newsletter": {Granted: &granted, Source: "web form"}},
		})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req, _ := http.NewRequest("GET", srv.URL()+"/v1/contacts/"+ids[i%len(ids)], nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Coffre-Purpose", "casework")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("GET = %d", resp.StatusCode)
				return
			}
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}
