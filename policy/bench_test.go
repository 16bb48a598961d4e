package policy

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

// fullRead is the question of a read of a full record: a volunteer in
// their district, with consents and scope tokens, so every rule runs.
func fullRead(principal string) *vault.AuthzRequest {
	tok := hex.EncodeToString([]byte("0123456789abcdef"))
	return &vault.AuthzRequest{
		Principal: &vault.Principal{ID: principal, TenantID: "mairie", Role: vault.RoleVolunteer,
			Attributes: map[string][]string{"districts": {"d3", "d7"}}, Purposes: []string{"canvassing", "newsletter"}},
		Action: vault.ActionContactRead, Purpose: "canvassing",
		Scope: map[string][]string{"district": {tok, hex.EncodeToString([]byte("fedcba9876543210"))}},
		Resource: vault.Resource{Kind: vault.KindContact, TenantID: "mairie", ContactID: "c",
			Consents: map[string]bool{"newsletter": true, "sms": false, "events": true},
			Tokens:   map[string][]string{"district": {tok}}},
	}
}

// reportPercentiles adds p50 and p99 of the measured durations.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds()), "p99-ns")
}

func benchEngine(b *testing.B) *Engine {
	e, err := New(context.Background(), Options{Schema: vault.DefaultSchema()})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkDecisionEvaluate is one full evaluation of the default policy
// for a read of a full record, without the cache.
func BenchmarkDecisionEvaluate(b *testing.B) {
	e := benchEngine(b)
	c := e.cur.Load()
	ctx := context.Background()
	req := fullRead("tok1")
	ds := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		d, err := c.evaluate(ctx, newInput(req, nil))
		ds = append(ds, time.Since(t))
		if err != nil || !d.Allow || d.Fields["phone"] != vault.Masked {
			b.Fatalf("decision %+v, %v", d, err)
		}
	}
	reportPercentiles(b, ds)
}

// BenchmarkDecisionCached is the same question answered by Authorize from
// the decision cache: what a request pays once the input was seen.
func BenchmarkDecisionCached(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	req := fullRead("tok1")
	if _, err := e.Authorize(ctx, req); err != nil {
		b.Fatal(err)
	}
	ds := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		d, err := e.Authorize(ctx, req)
		ds = append(ds, time.Since(t))
		if err != nil || !d.Allow {
			b.Fatalf("decision %+v, %v", d, err)
		}
	}
	reportPercentiles(b, ds)
}

// BenchmarkDecisionMixed cycles through 1,000 principals and 16 resource
// states, so the cache holds 16,000 decisions and every one is a hit
// after the first round: the steady state of a busy tenant.
func BenchmarkDecisionMixed(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	var reqs []*vault.AuthzRequest
	for p := range 1000 {
		for s := range 16 {
			r := fullRead(fmt.Sprintf("tok%d", p))
			r.Resource.Consents = map[string]bool{"newsletter": s&1 != 0, "sms": s&2 != 0, "events": s&4 != 0}
			r.Resource.Flags.Objected = s&8 != 0
			reqs = append(reqs, r)
		}
	}
	for _, r := range reqs {
		if _, err := e.Authorize(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := e.Authorize(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
