package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

// SegmentData is a tenant of synthetic contacts shaped like a civic
// contact list, for measuring segment queries: segmentation tokens drawn
// from vocabularies of the default schema's sizes, consents, flags and
// sealed fields of realistic length.
type SegmentData struct {
	Tenant *vault.Tenant
	// Tokens holds the tokens of each segmentable value, by field:
	// "district" (20), "postal_code" (20), "interests" (30), "year" (80
	// birth years, 1930 to 2009), "support_level" (5), "consent"
	// (newsletter, sms, events).
	Tokens map[string][][]byte
	// Values holds, for each record loaded, the index of its value in
	// Tokens for the scalar fields (-1 when it has none), the indexes of
	// its interests and whether each consent is granted, so that a
	// baseline can store the same data in plain text.
	Values []SegmentValues
	// Records are the records loaded, when kept.
	Records []*vault.Record
}

// SegmentValues are the plain values behind one record's tokens.
type SegmentValues struct {
	ID                                  string
	District, PostalCode, Year, Support int
	Interests                           []int
	Newsletter, SMS, Events             bool
	Restricted, Objected                bool
	CreatedAt, UpdatedAt                time.Time
}

// Proportions of the synthetic contacts.
var segmentDataFields = []struct {
	name  string
	size  int
	share int // percentage holding a value
}{
	{"district", 20, 95},
	{"postal_code", 20, 95},
	{"interests", 30, 0},
	{"year", 80, 90},
	{"support_level", 5, 60},
	{"consent", 3, 0},
}

// consentShare is the percentage of contacts granting each consent.
var consentShare = [3]int{50, 30, 40}

// Consent names, in the order of SegmentData.Tokens["consent"].
var segmentConsents = [3]string{"newsletter", "sms", "events"}

// LoadSegmentData creates a tenant in s and bulk-loads n synthetic
// contacts into it, in LoadContacts calls of 5,000, created over the two
// years before now, in creation order (as imports append them). It keeps
// the records if keep is set.
func LoadSegmentData(tb testing.TB, s vault.Store, n int, keep bool) *SegmentData {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	d := &SegmentData{Tenant: MustCreateTenant(tb, s), Tokens: make(map[string][][]byte), Values: make([]SegmentValues, 0, n)}
	for _, f := range segmentDataFields {
		for range f.size {
			d.Tokens[f.name] = append(d.Tokens[f.name], randToken(rng))
		}
	}
	start := time.Now().Add(-2 * 365 * 24 * time.Hour)
	step := 2 * 365 * 24 * time.Hour / time.Duration(max(n, 1))
	const batch = 5000
	rs := make([]*vault.Record, 0, batch)
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * step).UTC().Truncate(time.Microsecond)
		r, v := d.newRecord(rng, at)
		d.Values = append(d.Values, v)
		rs = append(rs, r)
		if keep {
			d.Records = append(d.Records, r)
		}
		if len(rs) == batch || i == n-1 {
			if err := s.LoadContacts(context.Background(), rs, NewEntry(d.Tenant.ID, "contact.import", "")); err != nil {
				tb.Fatalf("LoadContacts(records %d to %d) = %v", i+1-len(rs), i, err)
			}
			rs = make([]*vault.Record, 0, batch)
		}
	}
	return d
}

func (d *SegmentData) newRecord(rng *rand.Rand, at time.Time) (*vault.Record, SegmentValues) {
	r := NewRecord(d.Tenant.ID)
	r.ID = vault.NewID(at)
	for _, f := range []string{"address", "postal_code", "district", "birth_date", "support_level", "notes"} {
		r.Sealed[f] = RandomBytes(28 + rng.IntN(40))
	}
	v := SegmentValues{ID: r.ID, District: -1, PostalCode: -1, Year: -1, Support: -1}
	r.Tokens = nil
	scalar := map[string]*int{"district": &v.District, "postal_code": &v.PostalCode, "year": &v.Year, "support_level": &v.Support}
	for _, f := range segmentDataFields {
		if p, ok := scalar[f.name]; ok && rng.IntN(100) < f.share {
			*p = rng.IntN(f.size)
			r.Tokens = append(r.Tokens, d.Tokens[f.name][*p])
		}
	}
	for _, i := range rng.Perm(30)[:rng.IntN(5)] {
		v.Interests = append(v.Interests, i)
		r.Tokens = append(r.Tokens, d.Tokens["interests"][i])
	}
	r.Consents = map[string]vault.ConsentState{}
	granted := []*bool{&v.Newsletter, &v.SMS, &v.Events}
	for i, name := range segmentConsents {
		if rng.IntN(100) < consentShare[i] {
			*granted[i] = true
			r.Tokens = append(r.Tokens, d.Tokens["consent"][i])
		}
		r.Consents[name] = vault.ConsentState{Granted: *granted[i], At: at}
	}
	r.Flags = vault.Flags{Restricted: rng.IntN(50) == 0, Objected: rng.IntN(20) == 0}
	v.Restricted, v.Objected = r.Flags.Restricted, r.Flags.Objected
	r.CreatedAt = at
	r.UpdatedAt = at
	if rng.IntN(4) == 0 {
		r.UpdatedAt = at.Add(time.Duration(rng.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Microsecond)
	}
	v.CreatedAt, v.UpdatedAt = r.CreatedAt, r.UpdatedAt
	return r, v
}

// Filters returns the benchmark's conditions, by name:
//
//   - "two": in 2 of the 20 districts and newsletter consent (about 5% of
//     the contacts);
//   - "five": in 2 districts, newsletter consent, one of 3 interests, born
//     1960 to 1979, not objected (about 0.1%);
//   - "volunteer": a volunteer's view of the "two" filter, the policy's
//     conditions joined: one of 3 districts, not restricted, not
//     objected, newsletter, created in the last year;
//   - "not": not in 2 districts (about 90%).
func (d *SegmentData) Filters() map[string]*vault.Cond {
	toks := func(field string, idx ...int) *vault.Cond {
		c := &vault.Cond{Op: vault.CondTokens}
		for _, i := range idx {
			c.Tokens = append(c.Tokens, d.Tokens[field][i])
		}
		return c
	}
	and := func(cs ...*vault.Cond) *vault.Cond { return &vault.Cond{Op: vault.CondAnd, Children: cs} }
	not := func(c *vault.Cond) *vault.Cond { return &vault.Cond{Op: vault.CondNot, Children: []*vault.Cond{c}} }
	years := make([]int, 20)
	for i := range years {
		years[i] = 30 + i // 1960 to 1979
	}
	return map[string]*vault.Cond{
		"two":  and(toks("district", 3, 7), toks("consent", 0)),
		"five": and(toks("district", 3, 7), toks("consent", 0), toks("interests", 1, 2, 3), toks("year", years...), not(&vault.Cond{Op: vault.CondFlag, Flag: vault.FlagObjected, Value: true})),
		"volunteer": and(
			and(toks("district", 3, 7), toks("consent", 0)),
			toks("district", 3, 7, 11),
			&vault.Cond{Op: vault.CondFlag, Flag: vault.FlagRestricted, Value: false},
			&vault.Cond{Op: vault.CondFlag, Flag: vault.FlagObjected, Value: false},
			&vault.Cond{Op: vault.CondTime, Column: vault.ColumnCreated, From: time.Now().Add(-365 * 24 * time.Hour)},
		),
		"not": not(toks("district", 3, 7)),
	}
}

// BenchSegments measures, for each of d's filters, CountContacts and the
// first page of 50 of ListContacts on s, as sub-benchmarks.
func BenchSegments(b *testing.B, s vault.Store, d *SegmentData) {
	ctx := context.Background()
	for _, name := range []string{"two", "five", "volunteer", "not"} {
		c := d.Filters()[name]
		b.Run("Count/"+name, func(b *testing.B) {
			var n int64
			for b.Loop() {
				var err error
				if n, err = s.CountContacts(ctx, d.Tenant.ID, c); err != nil {
					b.Fatalf("CountContacts = %v", err)
				}
			}
			b.ReportMetric(float64(n), "matches")
		})
		b.Run("List/"+name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ListContacts(ctx, d.Tenant.ID, c, "", 50); err != nil {
					b.Fatalf("ListContacts = %v", err)
				}
			}
		})
	}
}

// TimeSegments runs each of d's filters on s a few times, CountContacts
// and the first page of ListContacts, and returns the best time of each,
// named as "count two", "list five", … with the number of matches.
func TimeSegments(tb testing.TB, s vault.Store, d *SegmentData, runs int) []string {
	tb.Helper()
	ctx := context.Background()
	var out []string
	for _, name := range []string{"two", "five", "volunteer", "not"} {
		c := d.Filters()[name]
		var n int64
		best := func(f func() error) time.Duration {
			var fastest time.Duration
			for i := 0; i < runs; i++ {
				start := time.Now()
				if err := f(); err != nil {
					tb.Fatalf("%s: %v", name, err)
				}
				if took := time.Since(start); i == 0 || took < fastest {
					fastest = took
				}
			}
			return fastest
		}
		count := best(func() (err error) { n, err = s.CountContacts(ctx, d.Tenant.ID, c); return err })
		list := best(func() error { _, err := s.ListContacts(ctx, d.Tenant.ID, c, "", 50); return err })
		out = append(out, fmt.Sprintf("%-9s %7d matches: count %v, first page of 50 %v", name, n,
			count.Round(10*time.Microsecond), list.Round(10*time.Microsecond)))
	}
	return out
}
