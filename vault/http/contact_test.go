package http_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

var camille = map[string]any{
	"given_name":    "Camille",
	"family_name":   "Martin",
	"email":         "Camille.Martin@Example.org",
	"phone":         "06 12 34 56 78",
	"address":       "3 rue des Lilas",
	"postal_code":   "75011",
	"district":      "nord",
	"birth_date":    "1984-06-02",
	"interests":     []string{"Housing", "climate"},
	"support_level": "support",
	"notes":         "Met at the market.",
}

// camilleStored is camille as normalised by the service.
var camilleStored = map[string]any{
	"given_name":    "Camille",
	"family_name":   "Martin",
	"email":         "camille.martin@example.org",
	"phone":         "+33612345678",
	"address":       "3 rue des Lilas",
	"postal_code":   "75011",
	"district":      "nord",
	"birth_date":    "1984-06-02",
	"interests":     []any{"climate", "housing"},
	"support_level": "support",
	"notes":         "Met at the market.",
}

// checkShape fails unless body is a JSON object with exactly the members
// of a contact.
func checkShape(t *testing.T, body []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("contact %s: %v", body, err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"consents", "created_at", "fields", "id", "updated_at"}; !slices.Equal(keys, want) {
		t.Errorf("contact members = %v, want %v", keys, want)
	}
}

func checkFields(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s fields =\n  %v\nwant\n  %v", what, got, want)
	}
}

func TestContact(t *testing.T) {
	t.Run("Lifecycle", func(t *testing.T) {
		e := newEnv(t)
		body := map[string]any{
			"fields": camille,
			"consents": map[string]any{
				"newsletter": map[string]any{"granted": true, "at": "2025-02-01T09:30:00+01:00", "source": "web form", "proof": "form-991"},
				"sms":        map[string]any{"granted": false},
			},
		}
		rec := e.mustDo(request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: body,
			header: map[string]string{"Coffre-Purpose": "casework"}}, http.StatusCreated, nil)
		checkShape(t, rec.Body.Bytes())
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		var c contact
		json.Unmarshal(rec.Body.Bytes(), &c)
		if !vault.ValidID(c.ID) {
			t.Errorf("id = %q, want a UUID", c.ID)
		}
		if loc := rec.Header().Get("Location"); loc != "/v1/contacts/"+c.ID {
			t.Errorf("Location = %q, want /v1/contacts/%s", loc, c.ID)
		}
		if !c.Created.Equal(start) || !c.Updated.Equal(start) {
			t.Errorf("created_at, updated_at = %v, %v; want %v", c.Created, c.Updated, start)
		}
		checkFields(t, "created", c.Fields, camilleStored)
		var consents map[string]map[string]any
		json.Unmarshal(rec.Body.Bytes(), &struct {
			C *map[string]map[string]any `json:"consents"`
		}{&consents})
		wantConsents := map[string]map[string]any{
			"newsletter": {"granted": true, "at": "2025-02-01T08:30:00Z", "source": "web form"},
			"sms":        {"granted": false, "at": "2025-03-01T12:00:00Z"},
		}
		if !reflect.DeepEqual(consents, wantConsents) {
			t.Errorf("consents = %v, want %v (proof is never returned)", consents, wantConsents)
		}

		// GET returns the same contact.
		rec = e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"}, http.StatusOK, nil)
		checkShape(t, rec.Body.Bytes())
		var got contact
		json.Unmarshal(rec.Body.Bytes(), &got)
		if got.ID != c.ID || !got.Created.Equal(start) {
			t.Errorf("GET = id %s created %v, want %s, %v", got.ID, got.Created, c.ID, start)
		}
		checkFields(t, "GET", got.Fields, camilleStored)

		// PATCH sets, removes and leaves fields.
		e.clock.Add(time.Hour)
		patch := map[string]any{
			"fields":   map[string]any{"district": "sud", "notes": nil, "phone": "+44 20 7946 0958"},
			"consents": map[string]any{"sms": map[string]any{"granted": true}},
		}
		rec = e.mustDo(request{method: "PATCH", path: "/v1/contacts/" + c.ID, token: "t1/agent", body: patch}, http.StatusOK, nil)
		checkShape(t, rec.Body.Bytes())
		var patched contact
		json.Unmarshal(rec.Body.Bytes(), &patched)
		want := map[string]any{}
		for k, v := range camilleStored {
			want[k] = v
		}
		want["district"] = "sud"
		want["phone"] = "+442079460958"
		delete(want, "notes")
		checkFields(t, "patched", patched.Fields, want)
		if !patched.Created.Equal(start) || !patched.Updated.Equal(start.Add(time.Hour)) {
			t.Errorf("patched created_at, updated_at = %v, %v; want %v, %v", patched.Created, patched.Updated, start, start.Add(time.Hour))
		}
		got = contact{}
		e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/admin"}, http.StatusOK, &got)
		checkFields(t, "GET after PATCH", got.Fields, want)

		// Search by email and by phone, in any form that normalises alike.
		for _, q := range []map[string]string{
			{"email": "CAMILLE.martin@example.org"},
			{"phone": "0044 20 7946 0958"},
		} {
			var list struct {
				Contacts []contact `json:"contacts"`
			}
			e.mustDo(request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: q}, http.StatusOK, &list)
			if len(list.Contacts) != 1 || list.Contacts[0].ID != c.ID {
				t.Errorf("search %v = %+v, want the one contact", q, list.Contacts)
			} else {
				checkFields(t, "search", list.Contacts[0].Fields, want)
			}
		}

		// DELETE erases.
		rec = e.mustDo(request{method: "DELETE", path: "/v1/contacts/" + c.ID, token: "t1/agent"}, http.StatusNoContent, nil)
		if rec.Body.Len() != 0 {
			t.Errorf("DELETE body = %q, want empty", rec.Body)
		}
		checkProblem(t, e.do(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"}), http.StatusNotFound, vault.ENOTFOUND)
		checkProblem(t, e.do(request{method: "DELETE", path: "/v1/contacts/" + c.ID, token: "t1/agent"}), http.StatusNotFound, vault.ENOTFOUND)
		rec = e.mustDo(request{method: "POST", path: "/v1/contacts/search", token: "t1/agent",
			body: map[string]string{"email": "camille.martin@example.org"}}, http.StatusOK, nil)
		if got := strings.TrimSpace(rec.Body.String()); got != `{"contacts":[]}` {
			t.Errorf("search after erasure = %s, want {\"contacts\":[]}", got)
		}
		// The email is free again.
		e.create(map[string]any{"email": "camille.martin@example.org"})
	})

	t.Run("Empty", func(t *testing.T) {
		e := newEnv(t)
		rec := e.mustDo(request{method: "POST", path: "/v1/contacts", token: "t1/admin", body: `{}`}, http.StatusCreated, nil)
		var m map[string]any
		json.Unmarshal(rec.Body.Bytes(), &m)
		if !reflect.DeepEqual(m["fields"], map[string]any{}) || !reflect.DeepEqual(m["consents"], map[string]any{}) {
			t.Errorf("empty contact = %s, want fields {} and consents {}", rec.Body)
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		e := newEnv(t)
		e.create(map[string]any{"email": "dup@example.org"})
		before := e.auditWrites("t1")
		rec := e.do(request{method: "POST", path: "/v1/contacts", token: "t1/agent",
			body: map[string]any{"fields": map[string]any{"email": "DUP@example.org", "given_name": "Zoé-secret"}}})
		checkProblem(t, rec, http.StatusConflict, vault.ECONFLICT)
		e.checkNoLeak(t, rec, "dup@example.org", "DUP@example.org", "Zoé-secret")

		// Changing another contact to the taken email conflicts too.
		other := e.create(map[string]any{"email": "other@example.org"})
		before++
		rec = e.do(request{method: "PATCH", path: "/v1/contacts/" + other.ID, token: "t1/agent",
			body: map[string]any{"fields": map[string]any{"email": "dup@example.org"}}})
		checkProblem(t, rec, http.StatusConflict, vault.ECONFLICT)
		if n := e.auditWrites("t1"); n != before {
			t.Errorf("writes on record after conflicts = %d, want %d", n, before)
		}
		var got contact
		e.mustDo(request{method: "GET", path: "/v1/contacts/" + other.ID, token: "t1/agent"}, http.StatusOK, &got)
		checkFields(t, "other", got.Fields, map[string]any{"email": "other@example.org"})
	})

	t.Run("ConcurrentCreates", func(t *testing.T) {
		e := newEnv(t)
		const n = 24
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req := httptest.NewRequest("POST", "/v1/contacts", strings.NewReader(`{"fields":{"email":"race@example.org"}}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+e.tokens["t1/agent"])
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, req)
				codes[i] = rec.Code
			})
		}
		wg.Wait()
		created, conflicts := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflicts++
			}
		}
		if created != 1 || conflicts != n-1 {
			t.Errorf("%d concurrent creates of one email: %d created, %d conflicts (codes %v); want 1 and %d", n, created, conflicts, codes, n-1)
		}
		var list struct {
			Contacts []contact `json:"contacts"`
		}
		e.mustDo(request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: map[string]string{"email": "race@example.org"}}, http.StatusOK, &list)
		if len(list.Contacts) != 1 {
			t.Errorf("search after the race = %d contacts, want 1", len(list.Contacts))
		}
	})

	t.Run("OtherTenant", func(t *testing.T) {
		e := newEnv(t)
		c := e.create(camille)
		before := e.auditWrites("t1")
		for _, r := range []request{
			{method: "GET", path: "/v1/contacts/" + c.ID, token: "t2/admin"},
			{method: "PATCH", path: "/v1/contacts/" + c.ID, token: "t2/agent", body: map[string]any{"fields": map[string]any{"notes": "x"}}},
			{method: "DELETE", path: "/v1/contacts/" + c.ID, token: "t2/admin"},
		} {
			t.Run(r.method, func(t *testing.T) {
				checkProblem(t, e.do(r), http.StatusNotFound, vault.ENOTFOUND)
			})
		}
		rec := e.mustDo(request{method: "POST", path: "/v1/contacts/search", token: "t2/agent",
			body: map[string]string{"email": "camille.martin@example.org"}}, http.StatusOK, nil)
		if got := strings.TrimSpace(rec.Body.String()); got != `{"contacts":[]}` {
			t.Errorf("search in another tenant = %s, want none", got)
		}
		// The same email is free in another tenant.
		e.mustDo(request{method: "POST", path: "/v1/contacts", token: "t2/agent",
			body: map[string]any{"fields": map[string]any{"email": "camille.martin@example.org"}}}, http.StatusCreated, nil)
		var got contact
		e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"}, http.StatusOK, &got)
		checkFields(t, "t1's contact", got.Fields, camilleStored)
		if n := e.auditWrites("t1"); n != before {
			t.Errorf("writes on record in t1 = %d, want %d", n, before)
		}
	})

	t.Run("Volunteer", func(t *testing.T) {
		e := newEnv(t)
		c := e.create(camille)
		var got contact
		rec := e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/volunteer",
			header: map[string]string{"Coffre-Purpose": "canvassing"}}, http.StatusOK, &got)
		checkShape(t, rec.Body.Bytes())
		want := map[string]any{
			"given_name":  "Camille",
			"family_name": "Martin",
			"email":       "c***@example.org",
			"phone":       "06 ** ** ** 78",
			"address":     "3***",
			"postal_code": "75011",
			"district":    "nord",
			"birth_date":  "1984-06-02",
			"interests":   []any{"climate", "housing"},
		}
		checkFields(t, "volunteer", got.Fields, want)
		for _, secret := range []string{"camille.martin", "+33612345678", "support", "Met at the market", "rue des Lilas"} {
			if strings.Contains(rec.Body.String(), secret) {
				t.Errorf("volunteer's answer contains %q: %s", secret, rec.Body)
			}
		}
		var list struct {
			Contacts []contact `json:"contacts"`
		}
		e.mustDo(request{method: "POST", path: "/v1/contacts/search", token: "t1/volunteer",
			body: map[string]string{"phone": "0612345678"}}, http.StatusOK, &list)
		if len(list.Contacts) != 1 {
			t.Fatalf("volunteer search = %d contacts, want 1", len(list.Contacts))
		}
		checkFields(t, "volunteer search", list.Contacts[0].Fields, want)

		before := e.auditWrites("t1")
		for _, r := range []request{
			{method: "POST", path: "/v1/contacts", token: "t1/volunteer", body: map[string]any{"fields": map[string]any{"given_name": "Zed"}}},
			{method: "PATCH", path: "/v1/contacts/" + c.ID, token: "t1/volunteer", body: map[string]any{"fields": map[string]any{"notes": "volunteer-was-here"}}},
			{method: "DELETE", path: "/v1/contacts/" + c.ID, token: "t1/volunteer"},
			{method: "POST", path: "/v1/tokens", token: "t1/volunteer", body: map[string]any{"role": "admin"}},
		} {
			t.Run(r.method+" "+r.path[:9], func(t *testing.T) {
				checkProblem(t, e.do(r), http.StatusForbidden, vault.EFORBIDDEN)
			})
		}
		if n := e.auditWrites("t1"); n != before {
			t.Errorf("writes on record after refused writes = %d, want %d", n, before)
		}
		// The refused contact writes are on record, as denied attempts.
		es := e.auditEntries("t1")
		for _, en := range es[len(es)-3:] {
			if en.Outcome != vault.OutcomeDenied || en.ActorRole != vault.RoleVolunteer {
				t.Errorf("entry of a refused write = %+v, want a denied attempt by the volunteer", en)
			}
		}
		got = contact{}
		e.mustDo(request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"}, http.StatusOK, &got)
		checkFields(t, "after refused writes", got.Fields, camilleStored)
	})
}
