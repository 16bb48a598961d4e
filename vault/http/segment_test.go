package http_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/vault"
)

// segPerson is what the segment tests know of a contact they created, in
// the clear: the reference the database's answers are checked against.
type segPerson struct {
	id         string
	district   string
	interests  []string
	birthYear  int
	consents   map[string]bool
	restricted bool
	objected   bool
}

type segEnv struct {
	*env
	people []*segPerson
}

// newSegEnv creates 80 contacts in t1 (and a few in t2) with random
// districts, interests, birth years, consents and flags, under the default
// policy, and tokens for a volunteer of d3 and d7.
func newSegEnv(t *testing.T) *segEnv {
	e := newEnvWith(t, func(s *vault.Schema) vault.Authorizer {
		eng, err := policy.New(context.Background(), policy.Options{Schema: s})
		if err != nil {
			t.Fatal(err)
		}
		return eng
	})
	ctx := context.Background()
	tok, _, err := e.svc.IssueToken(ctx, vault.TokenSpec{TenantID: "t1", Role: vault.RoleVolunteer,
		Attributes: map[string][]string{"districts": {"d3", "d7"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.tokens["t1/volunteer-d3d7"] = tok
	se := &segEnv{env: e}
	rng := rand.New(rand.NewPCG(7, 11))
	interests := []string{"cycling", "housing", "climate", "sport", "culture"}
	for i := range 86 {
		tenant := "t1"
		if i >= 80 {
			tenant = "t2"
		}
		p := &segPerson{district: fmt.Sprintf("d%d", 1+rng.IntN(8)), birthYear: 1940 + rng.IntN(70),
			consents: map[string]bool{"newsletter": rng.IntN(2) == 0, "sms": rng.IntN(3) == 0, "events": rng.IntN(4) == 0}}
		for _, in := range interests {
			if rng.IntN(3) == 0 {
				p.interests = append(p.interests, in)
			}
		}
		consents := map[string]any{}
		for k, g := range p.consents {
			consents[k] = map[string]any{"granted": g}
		}
		fields := map[string]any{"given_name": fmt.Sprintf("Personne%d", i), "email": fmt.Sprintf("p%d@example.org", i),
			"district": p.district, "birth_date": fmt.Sprintf("%d-06-15", p.birthYear)}
		if p.interests != nil {
			fields["interests"] = p.interests
		}
		var c contact
		e.mustDo(request{method: "POST", path: "/v1/contacts", token: tenant + "/agent", header: map[string]string{"Coffre-Purpose": "casework"},
			body: map[string]any{"fields": fields, "consents": consents}}, http.StatusCreated, &c)
		p.id = c.ID
		if tenant != "t1" {
			continue
		}
		p.restricted, p.objected = rng.IntN(10) == 0, rng.IntN(8) == 0
		if p.restricted || p.objected {
			r, err := e.store.Contact(ctx, "t1", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			r.Flags = vault.Flags{Restricted: p.restricted, Objected: p.objected}
			r.Version++
			if err := e.store.UpdateContact(ctx, r, &vault.AuditEntry{Time: e.clock.Now(), TenantID: "t1", ActorID: "test",
				ActorRole: vault.RoleAgent, Action: vault.ActionContactUpdate, Subject: c.ID, Outcome: vault.OutcomeOK}); err != nil {
				t.Fatal(err)
			}
		}
		se.people = append(se.people, p)
	}
	return se
}

// expect lists the ids of t1's people that keep says to keep.
func (se *segEnv) expect(keep func(p *segPerson) bool) []string {
	var ids []string
	for _, p := range se.people {
		if keep(p) {
			ids = append(ids, p.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// list runs a list query to its end, page by page, and returns the ids.
func (se *segEnv) list(t *testing.T, token, purpose string, filter any) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 50 {
			t.Fatal("the cursor never ends")
		}
		var res struct {
			Contacts   []contact `json:"contacts"`
			NextCursor string    `json:"next_cursor"`
		}
		body := map[string]any{"filter": filter, "answer": "list", "limit": 7}
		if cursor != "" {
			body["cursor"] = cursor
		}
		se.mustDo(request{method: "POST", path: "/v1/segments/query", token: token, header: map[string]string{"Coffre-Purpose": purpose},
			body: body}, http.StatusOK, &res)
		for _, c := range res.Contacts {
			ids = append(ids, c.ID)
		}
		if cursor = res.NextCursor; cursor == "" {
			break
		}
	}
	slices.Sort(ids)
	return ids
}

func (se *segEnv) count(t *testing.T, token, purpose string, filter any) any {
	t.Helper()
	var res struct {
		Count any `json:"count"`
	}
	se.mustDo(request{method: "POST", path: "/v1/segments/query", token: token, header: map[string]string{"Coffre-Purpose": purpose},
		body: map[string]any{"filter": filter}}, http.StatusOK, &res)
	return res.Count
}

func TestSegmentQueries(t *testing.T) {
	se := newSegEnv(t)
	year := start.Year()
	cases := []struct {
		name   string
		filter any
		keep   func(p *segPerson) bool
		// volunteerRefused: the filter names a field a volunteer may not
		// see for the newsletter (birth_date).
		volunteerRefused bool
	}{
		{"two districts and the newsletter",
			map[string]any{"and": []any{map[string]any{"field": "district", "in": []string{"d3", "d7"}}, map[string]any{"consent": "newsletter"}}},
			func(p *segPerson) bool { return (p.district == "d3" || p.district == "d7") && p.consents["newsletter"] }, false},
		{"five conditions",
			map[string]any{"and": []any{
				map[string]any{"field": "district", "in": []string{"d1", "d2", "d3", "d4"}},
				map[string]any{"field": "interests", "in": []string{"cycling", "climate"}},
				map[string]any{"field": "birth_date", "age": map[string]any{"min": 18, "max": 60}},
				map[string]any{"consent": "newsletter"},
				map[string]any{"not": map[string]any{"consent": "sms"}}}},
			func(p *segPerson) bool {
				age := year - p.birthYear
				return slices.Contains([]string{"d1", "d2", "d3", "d4"}, p.district) &&
					(slices.Contains(p.interests, "cycling") || slices.Contains(p.interests, "climate")) &&
					age >= 18 && age <= 60 && p.consents["newsletter"] && !p.consents["sms"]
			}, true},
		{"or and not",
			map[string]any{"or": []any{map[string]any{"field": "district", "in": []string{"d8"}},
				map[string]any{"not": map[string]any{"field": "interests", "in": []string{"housing"}}}}},
			func(p *segPerson) bool { return p.district == "d8" || !slices.Contains(p.interests, "housing") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// An agent reaches every record but the restricted and the
			// objected ones.
			want := se.expect(func(p *segPerson) bool { return tc.keep(p) && !p.restricted && !p.objected })
			if got := se.count(t, "t1/agent", "casework", tc.filter); got != float64(len(want)) {
				t.Errorf("agent count = %v, want %d", got, len(want))
			}
			if got := se.list(t, "t1/agent", "casework", tc.filter); !slices.Equal(got, want) {
				t.Errorf("agent list = %d contacts, want %d", len(got), len(want))
			}
			if tc.volunteerRefused {
				se.mustDo(request{method: "POST", path: "/v1/segments/query", token: "t1/volunteer-d3d7",
					header: map[string]string{"Coffre-Purpose": "newsletter"}, body: map[string]any{"filter": tc.filter}}, http.StatusBadRequest, nil)
				return
			}
			// A volunteer reaches, whatever they ask, only their districts'
			// consenting, unobjecting, unrestricted records.
			vwant := se.expect(func(p *segPerson) bool {
				return tc.keep(p) && !p.restricted && !p.objected && (p.district == "d3" || p.district == "d7") && p.consents["newsletter"]
			})
			if got := se.list(t, "t1/volunteer-d3d7", "newsletter", tc.filter); !slices.Equal(got, vwant) {
				t.Errorf("volunteer list = %v, want %v", got, vwant)
			}
		})
	}

	// Trying to reach outside the districts through or/not gives nothing
	// more.
	escape := map[string]any{"or": []any{map[string]any{"field": "district", "in": []string{"d1"}},
		map[string]any{"not": map[string]any{"field": "district", "in": []string{"d3"}}}}}
	for _, id := range se.list(t, "t1/volunteer-d3d7", "canvassing", escape) {
		p := se.people[slices.IndexFunc(se.people, func(p *segPerson) bool { return p.id == id })]
		if p.district != "d7" || p.objected || p.restricted || !(p.consents["newsletter"] || p.consents["sms"] || p.consents["events"]) {
			t.Errorf("volunteer reached %+v", p)
		}
	}

	// A list shows fields as a read does: the volunteer's emails are
	// masked.
	var res struct{ Contacts []contact }
	se.mustDo(request{method: "POST", path: "/v1/segments/query", token: "t1/volunteer-d3d7", header: map[string]string{"Coffre-Purpose": "newsletter"},
		body: map[string]any{"filter": map[string]any{"consent": "newsletter"}, "answer": "list"}}, http.StatusOK, &res)
	for _, c := range res.Contacts {
		if email, _ := c.Fields["email"].(string); !strings.HasPrefix(email, "p***@") {
			t.Errorf("volunteer saw email %q", email)
		}
	}
}

func TestSegmentAggregatesAndRefusals(t *testing.T) {
	se := newSegEnv(t)
	one := se.people[0]
	tiny := map[string]any{"and": []any{map[string]any{"field": "district", "in": []string{one.district}},
		map[string]any{"field": "birth_date", "age": map[string]any{"min": start.Year() - one.birthYear, "max": start.Year() - one.birthYear}}}}
	// Statistics get aggregates only: small counts are hidden, lists refused.
	if got := se.count(t, "t1/agent", "statistics", tiny); got != "< 5" {
		t.Errorf("statistics count = %v, want \"< 5\"", got)
	}
	se.mustDo(request{method: "POST", path: "/v1/segments/query", token: "t1/agent", header: map[string]string{"Coffre-Purpose": "statistics"},
		body: map[string]any{"filter": tiny, "answer": "list"}}, http.StatusForbidden, nil)

	bad := []struct {
		token, purpose string
		filter         any
		status         int
		field          string
	}{
		{"t1/agent", "casework", map[string]any{"field": "shoe_size", "in": []string{"42"}}, 400, "filter.field"},
		{"t1/agent", "casework", map[string]any{"and": []any{map[string]any{"field": "notes", "in": []string{"x"}}}}, 400, "filter.and[0].field"},
		{"t1/agent", "casework", map[string]any{"field": "given_name", "in": []string{"Personne1"}}, 400, "filter.field"},
		{"t1/agent", "casework", map[string]any{"field": "support_level", "in": []string{"support"}}, 400, "filter.field"},
		{"t1/volunteer-d3d7", "canvassing", map[string]any{"field": "support_level", "in": []string{"support"}}, 400, "filter.field"},
		{"t1/agent", "casework", map[string]any{"field": "district", "in": []string{"d3"}, "consent": "sms"}, 400, "filter"},
		{"t1/agent", "casework", map[string]any{"field": "birth_date", "age": map[string]any{"min": 40, "max": 20}}, 400, "filter.age"},
		{"t1/agent", "casework", map[string]any{"consent": "fax"}, 400, "filter.consent"},
		{"t1/agent", "casework", map[string]any{"and": []any{}}, 400, "filter.and"},
		{"t1/admin", "casework", map[string]any{"consent": "sms"}, 403, ""},
		{"t1/dpo", "dsr", map[string]any{"consent": "sms"}, 403, ""},
		{"t1/agent", "", map[string]any{"consent": "sms"}, 403, ""},
	}
	for i, b := range bad {
		header := map[string]string{}
		if b.purpose != "" {
			header["Coffre-Purpose"] = b.purpose
		}
		rec := se.do(request{method: "POST", path: "/v1/segments/query", token: b.token, header: header, body: map[string]any{"filter": b.filter}})
		if rec.Code != b.status {
			t.Errorf("%d: status %d, want %d: %s", i, rec.Code, b.status, rec.Body)
			continue
		}
		if b.field != "" {
			p := checkProblem(t, rec, b.status, vault.EINVALID)
			if len(p.Errors) != 1 || p.Errors[0].Field != b.field {
				t.Errorf("%d: errors %+v, want one about %s", i, p.Errors, b.field)
			}
		}
		if strings.Contains(rec.Body.String(), "Personne1") || strings.Contains(rec.Body.String(), "shoe") {
			t.Errorf("%d: the error repeats a value: %s", i, rec.Body)
		}
	}
	// Special-category data can be filtered on by an agent canvassing.
	se.mustDo(request{method: "POST", path: "/v1/segments/query", token: "t1/agent", header: map[string]string{"Coffre-Purpose": "canvassing"},
		body: map[string]any{"filter": map[string]any{"field": "support_level", "in": []string{"support"}}}}, http.StatusOK, nil)
}

func TestSegmentExport(t *testing.T) {
	se := newSegEnv(t)
	filter := map[string]any{"field": "district", "in": []string{"d1", "d2", "d3"}}
	before := len(se.auditEntries("t1"))
	rec := se.do(request{method: "POST", path: "/v1/segments/export", token: "t1/agent", header: map[string]string{"Coffre-Purpose": "newsletter"},
		body: map[string]any{"filter": filter}})
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("export = %d %s %s", rec.Code, rec.Header(), rec.Body)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := se.expect(func(p *segPerson) bool {
		return (p.district == "d1" || p.district == "d2" || p.district == "d3") && p.consents["newsletter"] && !p.objected && !p.restricted
	})
	if !slices.Equal(rows[0][:2], []string{"id", "given_name"}) || slices.Contains(rows[0], "notes") || slices.Contains(rows[0], "phone") {
		t.Errorf("header = %v", rows[0])
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[0])
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("exported %d contacts, want %d", len(got), len(want))
	}
	entries := se.auditEntries("t1")[before:]
	perContact, summary := 0, 0
	for _, e := range entries {
		switch {
		case e.Action == vault.ActionContactExport && e.Subject != "":
			perContact++
		case e.Action == vault.ActionContactExport && slices.Contains(e.Fields, fmt.Sprintf("contacts:%d", len(want))) && e.Purpose == "newsletter":
			summary++
		}
	}
	if perContact != len(want) || summary != 1 {
		t.Errorf("audit: %d per-contact export entries (want %d), %d summaries (want 1)", perContact, len(want), summary)
	}
	// No export for volunteers, nor for a purpose that is not a mailing.
	se.mustDo(request{method: "POST", path: "/v1/segments/export", token: "t1/volunteer-d3d7", header: map[string]string{"Coffre-Purpose": "newsletter"},
		body: map[string]any{"filter": filter}}, http.StatusForbidden, nil)
	se.mustDo(request{method: "POST", path: "/v1/segments/export", token: "t1/agent", header: map[string]string{"Coffre-Purpose": "casework"},
		body: map[string]any{"filter": filter}}, http.StatusForbidden, nil)
}

func TestSavedSegments(t *testing.T) {
	se := newSegEnv(t)
	h := map[string]string{"Coffre-Purpose": "casework"}
	filter := map[string]any{"and": []any{map[string]any{"field": "district", "in": []string{"d3", "d7"}}, map[string]any{"consent": "newsletter"}}}
	se.mustDo(request{method: "POST", path: "/v1/segments", token: "t1/agent", header: h, body: map[string]any{"name": "newsletter-d3-d7", "filter": filter}}, http.StatusCreated, nil)
	se.mustDo(request{method: "POST", path: "/v1/segments", token: "t1/agent", header: h, body: map[string]any{"name": "newsletter-d3-d7", "filter": filter}}, http.StatusConflict, nil)
	se.mustDo(request{method: "POST", path: "/v1/segments", token: "t1/agent", header: h, body: map[string]any{"name": "Jean Dupont", "filter": filter}}, http.StatusBadRequest, nil)
	var list struct {
		Segments []struct {
			Name string `json:"name"`
		} `json:"segments"`
	}
	se.mustDo(request{method: "GET", path: "/v1/segments", token: "t1/agent", header: h}, http.StatusOK, &list)
	if len(list.Segments) != 1 || list.Segments[0].Name != "newsletter-d3-d7" {
		t.Fatalf("segments = %+v", list)
	}
	se.mustDo(request{method: "GET", path: "/v1/segments", token: "t2/agent", header: h}, http.StatusOK, &list)
	if len(list.Segments) != 0 {
		t.Fatalf("t2 sees t1's segments: %+v", list)
	}
	want := se.expect(func(p *segPerson) bool {
		return (p.district == "d3" || p.district == "d7") && p.consents["newsletter"] && !p.objected && !p.restricted
	})
	var res struct {
		Count float64 `json:"count"`
	}
	se.mustDo(request{method: "POST", path: "/v1/segments/query", token: "t1/agent", header: h, body: map[string]any{"segment": "newsletter-d3-d7"}}, http.StatusOK, &res)
	if int(res.Count) != len(want) {
		t.Errorf("saved segment count = %v, want %d", res.Count, len(want))
	}
	se.mustDo(request{method: "DELETE", path: "/v1/segments/newsletter-d3-d7", token: "t1/agent", header: h}, http.StatusNoContent, nil)
	se.mustDo(request{method: "DELETE", path: "/v1/segments/newsletter-d3-d7", token: "t1/agent", header: h}, http.StatusNotFound, nil)
	se.mustDo(request{method: "POST", path: "/v1/segments/query", token: "t1/agent", header: h, body: map[string]any{"segment": "newsletter-d3-d7"}}, http.StatusNotFound, nil)
}
