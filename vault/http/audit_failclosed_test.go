package http_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestReadsFailClosed checks that an access whose audit entry cannot be
// written does not happen: while the store refuses audit entries, a get
// and a search answer a problem that holds neither the contact's data
// nor the cause, and they answer again once the store accepts entries.
// Both ways of appending a read's entry are covered: numbered through the
// log, and pending in the store (vault.PendingAppender).
func TestReadsFailClosed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending bool
	}{{"Numbered", false}, {"Pending", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.pending {
				e.store.pending = true
				e.svc.SetAuditLog(e.audit)
			}
			c := e.create(map[string]any{"given_name": "Faïza", "family_name": "Ouadahi", "email": "faiza.ouadahi@example.org"})
			refuse := func() error { return errors.New("disk full (audit-detail)") }
			e.store.appendAudit, e.store.sequenceAudit = refuse, refuse
			get := request{method: "GET", path: "/v1/contacts/" + c.ID, token: "t1/agent"}
			search := request{method: "POST", path: "/v1/contacts/search", token: "t1/agent", body: map[string]any{"email": "faiza.ouadahi@example.org"}}
			for _, r := range []request{get, search} {
				rec := e.do(r)
				if rec.Code < 500 {
					t.Errorf("%s %s with the audit log refused: %d %s, want a 5xx problem", r.method, r.path, rec.Code, rec.Body)
					continue
				}
				checkAnyProblem(t, rec)
				for _, leak := range []string{"Faïza", "Ouadahi", "faiza.ouadahi", "audit-detail"} {
					if strings.Contains(rec.Body.String(), leak) {
						t.Errorf("%s %s answered %s, which holds %q", r.method, r.path, rec.Body, leak)
					}
				}
			}
			e.store.appendAudit, e.store.sequenceAudit = nil, nil
			e.mustDo(get, http.StatusOK, nil)
			e.mustDo(search, http.StatusOK, nil)
		})
	}
}
