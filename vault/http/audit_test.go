package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
)

// auditEntry is a decoded entry of GET /v1/audit/entries.
type auditEntry struct {
	Seq            uint64    `json:"seq"`
	Time           time.Time `json:"time"`
	ActorID        string    `json:"actor_id"`
	ActorRole      string    `json:"actor_role"`
	Action         string    `json:"action"`
	Subject        string    `json:"subject"`
	Fields         []string  `json:"fields"`
	Purpose        string    `json:"purpose"`
	Outcome        string    `json:"outcome"`
	RequestID      string    `json:"request_id"`
	DecisionID     string    `json:"decision_id"`
	PolicyRevision string    `json:"policy_revision"`
}

type auditPage struct {
	Entries []auditEntry `json:"entries"`
	Next    *uint64      `json:"next"`
}

// auditActivity makes some history: contacts created, read and changed
// in t1 at start and an hour later, and one created in t2. It returns
// the ids of t1's contacts.
func (e *env) auditActivity() []string {
	e.tb.Helper()
	var ids []string
	for i := 0; i < 3; i++ {
		c := e.create(map[string]any{"given_name": fmt.Sprintf("Audit%d", i), "email": fmt.Sprintf("audit%d@example.org", i)})
		ids = append(ids, c.ID)
	}
	e.mustDo(request{method: "GET", path: "/v1/contacts/" + ids[0], token: "t1/agent", header: map[string]string{"Coffre-Purpose": "casework"}}, http.StatusOK, nil)
	e.clock.Add(time.Hour)
	e.mustDo(request{method: "GET", path: "/v1/contacts/" + ids[0], token: "t1/volunteer"}, http.StatusOK, nil)
	e.mustDo(request{method: "PATCH", path: "/v1/contacts/" + ids[1], token: "t1/agent",
		body: map[string]any{"fields": map[string]any{"notes": "rappeler"}}}, http.StatusOK, nil)
	e.mustDo(request{method: "POST", path: "/v1/contacts", token: "t2/agent",
		body: map[string]any{"fields": map[string]any{"given_name": "Autre"}}}, http.StatusCreated, nil)
	return ids
}

// listAudit calls GET /v1/audit/entries with query as token.
func (e *env) listAudit(token, query string) *auditPage {
	e.tb.Helper()
	var p auditPage
	rec := e.mustDo(request{method: "GET", path: "/v1/audit/entries?" + query, token: token}, http.StatusOK, &p)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		e.tb.Errorf("Content-Type = %q, want application/json", ct)
	}
	return &p
}

func TestAuditEntries(t *testing.T) {
	e := newEnv(t)
	ids := e.auditActivity()
	e.audit.Sync(context.Background())

	t.Run("DPO", func(t *testing.T) {
		rec := e.mustDo(request{method: "GET", path: "/v1/audit/entries", token: "t1/dpo"}, http.StatusOK, nil)
		var raw struct {
			Entries []map[string]any `json:"entries"`
			Next    any              `json:"next"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		if raw.Next != nil {
			t.Errorf("next = %v, want null for a short page", raw.Next)
		}
		want := []string{"action", "actor_id", "actor_role", "decision_id", "fields", "outcome", "policy_revision", "purpose", "request_id", "seq", "subject", "time"}
		for _, m := range raw.Entries {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, want) {
				t.Fatalf("entry members = %v, want %v", keys, want)
			}
		}
		stored := e.auditEntries("t1") // sequences the listing above
		p := e.listAudit("t1/dpo", "")
		if len(p.Entries) != len(stored) || len(p.Entries) < 8 {
			t.Fatalf("dpo sees %d entries, store holds %d for t1", len(p.Entries), len(stored))
		}
		for i, got := range p.Entries {
			s := stored[i]
			if got.Seq != s.Seq || got.Action != s.Action || got.Subject != s.Subject || got.Purpose != s.Purpose ||
				!slices.Equal(got.Fields, s.Fields) && len(s.Fields) > 0 || !got.Time.Equal(s.Time) || got.ActorID != s.ActorID {
				t.Errorf("entry %d = %+v, store holds %+v", i, got, s)
			}
			if i > 0 && got.Seq <= p.Entries[i-1].Seq {
				t.Errorf("entries out of order: %d after %d", got.Seq, p.Entries[i-1].Seq)
			}
		}
		var create, read *auditEntry
		for i := range p.Entries {
			en := &p.Entries[i]
			if en.Action == vault.ActionContactCreate && en.Subject == ids[0] {
				create = en
			}
			if en.Action == vault.ActionContactRead && en.Purpose == "casework" {
				read = en
			}
		}
		if create == nil || len(create.Fields) == 0 || create.Outcome != "ok" || create.ActorRole != "agent" || create.RequestID == "" {
			t.Errorf("create entry = %+v, want the creation of %s with its fields", create, ids[0])
		}
		if read == nil || read.Subject != ids[0] {
			t.Errorf("read entry = %+v, want a casework read of %s", read, ids[0])
		}
		// No entry of t2 shows.
		for _, en := range p.Entries {
			if en.Subject != "" && !slices.Contains(ids, en.Subject) {
				t.Errorf("t1's dpo sees an entry about %s", en.Subject)
			}
		}
		// The listing is itself recorded.
		last := e.auditEntries("t1")
		if l := last[len(last)-1]; l.Action != vault.ActionAuditRead || l.ActorRole != vault.RoleDPO {
			t.Errorf("last entry = %+v, want the dpo's audit.read", l)
		}
	})

	t.Run("AdminMetadataOnly", func(t *testing.T) {
		p := e.listAudit("t1/admin", "")
		if len(p.Entries) < 8 {
			t.Fatalf("admin sees %d entries", len(p.Entries))
		}
		for _, en := range p.Entries {
			if en.Subject != "" || len(en.Fields) != 0 || en.Fields == nil || en.Purpose != "" {
				t.Errorf("admin sees %+v: want no subject, fields or purpose", en)
			}
			if en.Action == "" || en.ActorID == "" || en.Time.IsZero() || en.Outcome == "" {
				t.Errorf("admin sees %+v: want the metadata", en)
			}
		}
		rec := e.do(request{method: "GET", path: "/v1/audit/entries", token: "t1/admin"})
		for _, id := range ids {
			if strings.Contains(rec.Body.String(), id) {
				t.Errorf("admin's answer names contact %s", id)
			}
		}
	})

	t.Run("Forbidden", func(t *testing.T) {
		for _, tok := range []string{"t1/agent", "t1/volunteer"} {
			checkProblem(t, e.do(request{method: "GET", path: "/v1/audit/entries", token: tok}), http.StatusForbidden, vault.EFORBIDDEN)
		}
		checkProblem(t, e.do(request{method: "GET", path: "/v1/audit/entries"}), http.StatusUnauthorized, vault.EUNAUTHORIZED)
		// The denial is on record.
		last := e.auditEntries("t1")
		if l := last[len(last)-1]; l.Action != vault.ActionAuditRead || l.Outcome != vault.OutcomeDenied {
			t.Errorf("last entry = %+v, want a denied audit.read", l)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		p := e.listAudit("t1/dpo", "subject="+ids[0])
		if len(p.Entries) < 3 {
			t.Errorf("subject filter: %d entries, want the create and two reads", len(p.Entries))
		}
		for _, en := range p.Entries {
			if en.Subject != ids[0] {
				t.Errorf("subject filter returned %+v", en)
			}
		}
		p = e.listAudit("t1/dpo", "action=contact.update")
		if len(p.Entries) != 1 || p.Entries[0].Subject != ids[1] {
			t.Errorf("action filter = %+v, want the one update", p.Entries)
		}
		vol, _ := e.svc.Authenticate(context.Background(), e.tokens["t1/volunteer"])
		p = e.listAudit("t1/dpo", "actor="+vol.ID)
		if len(p.Entries) == 0 || p.Entries[0].Action != vault.ActionContactRead {
			t.Errorf("actor filter = %+v, want the volunteer's read first", p.Entries)
		}
		for _, en := range p.Entries {
			if en.ActorID != vol.ID {
				t.Errorf("actor filter returned %+v", en)
			}
		}
		mid := url.QueryEscape(start.Add(30 * time.Minute).Format(time.RFC3339))
		later := e.listAudit("t1/dpo", "since="+mid)
		earlier := e.listAudit("t1/dpo", "until="+mid)
		all := e.listAudit("t1/dpo", "")
		for _, en := range later.Entries {
			if en.Time.Before(start.Add(30 * time.Minute)) {
				t.Errorf("since filter returned %+v", en)
			}
		}
		for _, en := range earlier.Entries {
			if !en.Time.Before(start.Add(30 * time.Minute)) {
				t.Errorf("until filter returned %+v", en)
			}
		}
		// The listings are recorded (at the later time) as they go.
		if len(earlier.Entries) == 0 || len(later.Entries) == 0 || len(earlier.Entries)+len(later.Entries) > len(all.Entries) {
			t.Errorf("since %d + until %d entries, all %d", len(later.Entries), len(earlier.Entries), len(all.Entries))
		}
		both := e.listAudit("t1/dpo", "action=contact.read&subject="+ids[0]+"&since="+mid)
		if len(both.Entries) != 1 || both.Entries[0].ActorRole != "volunteer" {
			t.Errorf("combined filters = %+v, want the volunteer's read", both.Entries)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		all := e.listAudit("t1/dpo", "limit=1000")
		n := len(all.Entries)
		var got []uint64
		query := "limit=3"
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatal("pagination does not end")
			}
			p := e.listAudit("t1/dpo", query)
			if len(p.Entries) > 3 {
				t.Fatalf("page of %d entries, limit 3", len(p.Entries))
			}
			for _, en := range p.Entries {
				got = append(got, en.Seq)
			}
			if p.Next == nil {
				break
			}
			if len(p.Entries) != 3 || *p.Next != p.Entries[2].Seq+1 {
				t.Fatalf("page %+v: next = %d, want after the last entry of a full page", p.Entries, *p.Next)
			}
			query = fmt.Sprintf("limit=3&from=%d", *p.Next)
		}
		for i, en := range all.Entries {
			if i >= len(got) || got[i] != en.Seq {
				t.Fatalf("pages = %v, want the sequence numbers of %d entries in order", got, n)
			}
		}
		// after= is from= minus one.
		a := e.listAudit("t1/dpo", fmt.Sprintf("after=%d&limit=2", all.Entries[1].Seq))
		f := e.listAudit("t1/dpo", fmt.Sprintf("from=%d&limit=2", all.Entries[1].Seq+1))
		if len(a.Entries) != 2 || a.Entries[0].Seq != all.Entries[2].Seq || a.Entries[0].Seq != f.Entries[0].Seq {
			t.Errorf("after = %+v, from = %+v", a.Entries, f.Entries)
		}
	})

	t.Run("BadParams", func(t *testing.T) {
		const email = "jean.dupont@example.org"
		for _, tt := range []struct {
			query, field string
		}{
			{"subject=" + url.QueryEscape(email), "subject"},
			{"subject=Jean%20Dupont", "subject"},
			{"subject=" + strings.ToUpper(ids[0]), "subject"},
			{"subject=", "subject"},
			{"actor=" + url.QueryEscape(email), "actor"},
			{"action=Jean-Dupont", "action"},
			{"action=", "action"},
			{"since=hier", "since"},
			{"since=2025-03-01", "since"},
			{"until=1740830400", "until"},
			{"since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z", "until"},
			{"from=-1", "from"},
			{"from=jean", "from"},
			{"from=18446744073709551616", "from"},
			{"after=x", "after"},
			{"after=1&from=2", "after"},
			{"limit=0", "limit"},
			{"limit=1001", "limit"},
			{"limit=dix", "limit"},
			{"limit=1&limit=2", "limit"},
			{"subject=" + ids[0] + "&subject=" + ids[1], "subject"},
			{"email=" + url.QueryEscape(email), "*"},
			{"%zz=1", ""},
		} {
			t.Run(tt.query, func(t *testing.T) {
				before := e.auditCount("t1")
				rec := e.do(request{method: "GET", path: "/v1/audit/entries?" + tt.query, token: "t1/dpo"})
				p := checkProblem(t, rec, http.StatusBadRequest, vault.EINVALID)
				if tt.field != "" && !slices.ContainsFunc(p.Errors, func(f vault.FieldError) bool { return f.Field == tt.field }) {
					t.Errorf("errors = %+v, want one about %s", p.Errors, tt.field)
				}
				e.checkNoLeak(t, rec, email, "Jean Dupont", "Jean-Dupont", "hier", "jean")
				if n := e.auditCount("t1"); n != before {
					t.Errorf("a refused query was recorded or reached the service (%d entries, %d before)", n, before)
				}
			})
		}
	})
}

func TestAuditCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.auditActivity()
	v, err := audit.NewVerifier(e.vkey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"t1/dpo", "t2/admin"} {
		t.Run(tok, func(t *testing.T) {
			rec := e.mustDo(request{method: "GET", path: "/v1/audit/checkpoint", token: tok}, http.StatusOK, nil)
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			c, err := v.Open(rec.Body.Bytes())
			if err != nil {
				t.Fatalf("the checkpoint does not open: %v\n%s", err, rec.Body)
			}
			size, _ := e.audit.Sync(context.Background())
			stored, _ := e.store.LatestCheckpoint(context.Background())
			if c.Origin != testOrigin || c.Size == 0 || c.Size > size || !bytes.Equal(stored.Note, rec.Body.Bytes()) {
				t.Errorf("checkpoint %s at size %d (log %d), want the latest stored one, byte for byte", c.Origin, c.Size, size)
			}
			root, err := audit.RootAt(context.Background(), e.store, c.Size)
			if err != nil || !bytes.Equal(root, c.Hash) {
				t.Errorf("checkpoint root differs from the tree's at size %d (%v)", c.Size, err)
			}
		})
	}
	t.Run("Forbidden", func(t *testing.T) {
		for _, tok := range []string{"t1/agent", "t1/volunteer"} {
			checkProblem(t, e.do(request{method: "GET", path: "/v1/audit/checkpoint", token: tok}), http.StatusForbidden, vault.EFORBIDDEN)
		}
	})
	t.Run("BadParams", func(t *testing.T) {
		rec := e.do(request{method: "GET", path: "/v1/audit/checkpoint?size=jean.dupont%40example.org", token: "t1/dpo"})
		checkProblem(t, rec, http.StatusBadRequest, vault.EINVALID)
		e.checkNoLeak(t, rec, "jean.dupont")
	})
}

// appendEntries appends n entries to tenant's log directly, as the
// service's writes would, and sequences them.
func (e *env) appendEntries(tenant string, n int) {
	e.tb.Helper()
	ctx := context.Background()
	for n > 0 {
		batch := make([]*vault.AuditEntry, 0, min(n, 1000))
		for i := 0; i < cap(batch); i++ {
			batch = append(batch, &vault.AuditEntry{Time: e.clock.Now(), TenantID: tenant, ActorID: "bulk", ActorRole: vault.RoleAgent,
				Action: vault.ActionContactRead, Subject: vault.NewID(e.clock.Now()), Fields: []string{"email"}, Purpose: "casework",
				Outcome: vault.OutcomeOK, RequestID: fmt.Sprintf("bulk-%d", n-i)})
		}
		if err := e.store.AppendAudit(ctx, batch); err != nil {
			e.tb.Fatalf("AppendAudit() = %v", err)
		}
		n -= len(batch)
	}
	if _, err := e.audit.Sync(ctx); err != nil {
		e.tb.Fatalf("Sync() = %v", err)
	}
}

// leafHashes returns the leaf hashes the store holds for [0, size).
func (e *env) leafHashes(size uint64) [][]byte {
	e.tb.Helper()
	_, leaves, err := e.store.SequencedEntries(context.Background(), 0, size)
	if err != nil || uint64(len(leaves)) != size {
		e.tb.Fatalf("SequencedEntries(0, %d) = %d leaves, %v", size, len(leaves), err)
	}
	return leaves
}

// roots returns the RFC 6962 root of every prefix of leaves, computed here
// with the transparency-dev compact ranges: roots[n] is the root at size n.
func roots(leaves [][]byte) [][]byte {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	out := [][]byte{rfc6962.DefaultHasher.EmptyRoot()}
	for _, l := range leaves {
		r.Append(l, nil)
		root, err := r.GetRootHash(nil)
		if err != nil {
			panic(err)
		}
		out = append(out, root)
	}
	return out
}

type proofAnswer struct {
	Index  *uint64  `json:"index"`
	Size   *uint64  `json:"size"`
	From   *uint64  `json:"from"`
	To     *uint64  `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

// TestAuditProofs checks that the proofs the API returns verify with the
// transparency-dev verifier against roots computed independently from the
// stored leaves, and the largest against the signed checkpoint's root, for
// random sizes over several tiles.
func TestAuditProofs(t *testing.T) {
	e := newEnv(t)
	e.auditActivity()
	e.appendEntries("t2", 700)
	e.appendEntries("t1", 50)
	var note bytes.Buffer
	note.Write(e.mustDo(request{method: "GET", path: "/v1/audit/checkpoint", token: "t1/dpo"}, http.StatusOK, nil).Body.Bytes())
	v, _ := audit.NewVerifier(e.vkey)
	cp, err := v.Open(note.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	n := cp.Size
	leaves := e.leafHashes(n)
	rs := roots(leaves)
	if !bytes.Equal(rs[n], cp.Hash) {
		t.Fatalf("the checkpoint's root at size %d is not the root of the stored leaves", n)
	}
	hasher := rfc6962.DefaultHasher
	rng := rand.New(rand.NewPCG(1, 2))

	t.Run("Inclusion", func(t *testing.T) {
		cases := [][2]uint64{{0, 1}, {0, n}, {n - 1, n}, {255, 256}, {256, 257}, {300, 512}}
		for i := 0; i < 40; i++ {
			size := 1 + rng.Uint64N(n)
			cases = append(cases, [2]uint64{rng.Uint64N(size), size})
		}
		for _, c := range cases {
			index, size := c[0], c[1]
			tok := "t1/dpo"
			if index%2 == 1 {
				tok = "t1/admin"
			}
			var got proofAnswer
			e.mustDo(request{method: "GET", path: fmt.Sprintf("/v1/audit/proof/inclusion?index=%d&size=%d", index, size), token: tok}, http.StatusOK, &got)
			if got.Index == nil || *got.Index != index || got.Size == nil || *got.Size != size || got.Hashes == nil {
				t.Fatalf("inclusion(%d, %d) answer = %+v", index, size, got)
			}
			if err := proof.VerifyInclusion(hasher, index, size, leaves[index], got.Hashes, rs[size]); err != nil {
				t.Errorf("inclusion(%d, %d) does not verify: %v", index, size, err)
			}
			// Against the wrong leaf it fails.
			if err := proof.VerifyInclusion(hasher, index, size, leaves[(index+1)%n], got.Hashes, rs[size]); err == nil && n > 1 && size > 1 {
				t.Errorf("inclusion(%d, %d) verifies for another leaf", index, size)
			}
		}
	})

	t.Run("Consistency", func(t *testing.T) {
		cases := [][2]uint64{{1, 1}, {1, n}, {n, n}, {255, 256}, {256, 700}, {100, n}}
		for i := 0; i < 40; i++ {
			to := 1 + rng.Uint64N(n)
			cases = append(cases, [2]uint64{1 + rng.Uint64N(to), to})
		}
		for _, c := range cases {
			from, to := c[0], c[1]
			var got proofAnswer
			e.mustDo(request{method: "GET", path: fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", from, to), token: "t1/dpo"}, http.StatusOK, &got)
			if got.From == nil || *got.From != from || got.To == nil || *got.To != to || got.Hashes == nil {
				t.Fatalf("consistency(%d, %d) answer = %+v", from, to, got)
			}
			if err := proof.VerifyConsistency(hasher, from, to, got.Hashes, rs[from], rs[to]); err != nil {
				t.Errorf("consistency(%d, %d) does not verify: %v", from, to, err)
			}
		}
		// The largest against the signed root.
		var got proofAnswer
		e.mustDo(request{method: "GET", path: fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", 300, n), token: "t1/admin"}, http.StatusOK, &got)
		if err := proof.VerifyConsistency(hasher, 300, n, got.Hashes, rs[300], cp.Hash); err != nil {
			t.Errorf("consistency(300, %d) does not verify against the checkpoint: %v", n, err)
		}
	})

	t.Run("Forbidden", func(t *testing.T) {
		for _, tok := range []string{"t1/agent", "t2/volunteer"} {
			checkProblem(t, e.do(request{method: "GET", path: "/v1/audit/proof/inclusion?index=0&size=1", token: tok}), http.StatusForbidden, vault.EFORBIDDEN)
			checkProblem(t, e.do(request{method: "GET", path: "/v1/audit/proof/consistency?from=1&to=2", token: tok}), http.StatusForbidden, vault.EFORBIDDEN)
		}
	})

	t.Run("BadParams", func(t *testing.T) {
		for _, q := range []string{
			"inclusion", "inclusion?index=0", "inclusion?size=2", "inclusion?index=2&size=2", "inclusion?index=5&size=1",
			fmt.Sprintf("inclusion?index=0&size=%d", n+1000), "inclusion?index=-1&size=2", "inclusion?index=jean&size=2",
			"inclusion?index=0&size=2&size=3", "inclusion?index=0&size=2&subject=jean", "inclusion?index=0x1&size=2",
			"consistency", "consistency?from=1", "consistency?to=1", "consistency?from=0&to=5", "consistency?from=5&to=4",
			fmt.Sprintf("consistency?from=1&to=%d", n+1000), "consistency?from=1&to=2.5", "consistency?from=jean&to=2",
		} {
			t.Run(q, func(t *testing.T) {
				rec := e.do(request{method: "GET", path: "/v1/audit/proof/" + q, token: "t1/dpo"})
				checkProblem(t, rec, http.StatusBadRequest, vault.EINVALID)
				e.checkNoLeak(t, rec, "jean")
			})
		}
	})
}

// exportBody fetches GET /v1/audit/export as token.
func (e *env) exportBody(token string) *httptest.ResponseRecorder {
	e.tb.Helper()
	return e.do(request{method: "GET", path: "/v1/audit/export", token: token})
}

func TestAuditExport(t *testing.T) {
	e := newEnv(t)
	ids := e.auditActivity()
	e.appendEntries("t2", 20)
	rec := e.exportBody("t1/dpo")
	if rec.Code != http.StatusOK {
		t.Fatalf("export = %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type = %q, want application/x-ndjson", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	body := rec.Body.Bytes()
	sum, err := audit.Verify(context.Background(), bytes.NewReader(body), e.vkey, audit.VerifyOptions{})
	if err != nil {
		t.Fatalf("the export does not verify: %v", err)
	}
	if sum.Tenant != "t1" || sum.Origin != testOrigin || sum.Redacted < 20 || sum.Size < sum.Redacted+8 {
		t.Errorf("summary = %+v, want t1's view with t2's entries redacted", sum)
	}
	if !bytes.Contains(body, []byte(ids[0])) {
		t.Errorf("the export does not name t1's contacts")
	}
	for _, en := range e.auditEntries("t2") {
		if en.Subject != "" && bytes.Contains(body, []byte(en.Subject)) || bytes.Contains(body, []byte(`"tenant":"t2"`)) {
			t.Fatalf("t1's export shows t2's entry %d", en.Seq)
		}
	}
	// The export is recorded, in the export itself.
	if !bytes.Contains(body, []byte(`"action":"audit.export"`)) {
		t.Errorf("the export does not record itself")
	}

	t.Run("Forbidden", func(t *testing.T) {
		for _, tok := range []string{"t1/admin", "t1/agent", "t1/volunteer"} {
			rec := e.exportBody(tok)
			checkProblem(t, rec, http.StatusForbidden, vault.EFORBIDDEN)
		}
	})
	t.Run("BadParams", func(t *testing.T) {
		rec := e.do(request{method: "GET", path: "/v1/audit/export?tenant=t2", token: "t1/dpo"})
		checkProblem(t, rec, http.StatusBadRequest, vault.EINVALID)
	})
	t.Run("ErrorBeforeStart", func(t *testing.T) {
		e.store.checkpoints = func() error { return errors.New("disk on fire (export-detail)") }
		defer func() { e.store.checkpoints = nil }()
		rec := e.exportBody("t1/dpo")
		checkProblem(t, rec, http.StatusInternalServerError, vault.EINTERNAL)
		if strings.Contains(rec.Body.String(), "export-detail") {
			t.Errorf("answer names the cause: %s", rec.Body)
		}
	})
}

// TestAuditExport_Abort checks that an export failing once it has begun
// aborts the connection: the client gets a broken transfer, never a short
// export that ends cleanly.
func TestAuditExport_Abort(t *testing.T) {
	e := newEnv(t)
	e.appendEntries("t1", 5000) // more than one chunk of the exporter
	ts := httptest.NewServer(e.h)
	defer ts.Close()
	get := func() (*http.Response, []byte, error) {
		req, _ := http.NewRequest("GET", ts.URL+"/v1/audit/export", nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens["t1/dpo"])
		resp, err := ts.Client().Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	// Whole, it streams and verifies.
	resp, b, err := get()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("export = %v, %v", resp, err)
	}
	if _, err := audit.Verify(context.Background(), bytes.NewReader(b), e.vkey, audit.VerifyOptions{}); err != nil {
		t.Fatalf("the export does not verify: %v", err)
	}

	e.store.sequenced = func(start, end uint64) error {
		if start > 0 {
			return errors.New("connection reset (abort-detail)")
		}
		return nil
	}
	resp, b, err = get()
	if err == nil {
		t.Fatalf("export failing midway = %d with %d bytes and no error, want a broken transfer", resp.StatusCode, len(b))
	}
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		t.Errorf("export failing midway = %d with %d bytes; want 200 and the part sent", resp.StatusCode, len(b))
	}
	if bytes.Contains(b, []byte("abort-detail")) || bytes.Contains(b, []byte("problem")) {
		t.Errorf("the broken export carries an error text")
	}
	if _, err := audit.Verify(context.Background(), bytes.NewReader(b), e.vkey, audit.VerifyOptions{}); err == nil {
		t.Errorf("the part of a broken export verifies")
	}
	if !strings.Contains(e.log.String(), "abort-detail") || !strings.Contains(e.log.String(), `"msg":"request aborted"`) {
		t.Errorf("the cause or the aborted request is not in the operator log:\n%s", e.log)
	}
}

// TestAuditRoutesNeedAuditLog: without a log, every audit route but the
// entries listing (which reads the store) is unavailable.
func TestAuditRoutesNeedAuditLog(t *testing.T) {
	e := newEnv(t)
	schema := vault.DefaultSchema()
	svc := vault.NewService(e.store, newKeyRing(t), &vault.RoleAuthorizer{Schema: schema}, schema)
	defer svc.Close()
	tok, _, err := svc.IssueToken(context.Background(), vault.TokenSpec{TenantID: "t1", Role: vault.RoleDPO})
	if err != nil {
		t.Fatal(err)
	}
	h := vhttp.NewServer(svc, vhttp.Options{}).Handler()
	for _, path := range []string{"/v1/audit/checkpoint", "/v1/audit/proof/inclusion?index=0&size=1", "/v1/audit/proof/consistency?from=1&to=1", "/v1/audit/export"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkProblem(t, rec, http.StatusServiceUnavailable, vault.EUNAVAILABLE)
	}
}
