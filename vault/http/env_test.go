package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
	"github.com/coffre/coffre/vault/keyring"
	"github.com/coffre/coffre/vault/mock"
)

// openStore returns the store the tests run on. The HTTP behaviour under
// test does not depend on it; the audit log over it is the real one.
func openStore(tb testing.TB) vault.Store {
	tb.Helper()
	s := mock.NewStore()
	tb.Cleanup(func() { s.Close() })
	return s
}

// testOrigin is the origin of the test audit logs.
const testOrigin = "coffre.test/audit"

// newAuditLog returns an audit log over store with a fresh key named
// testOrigin, and that key's verifier key. The log is not opened: tests
// sequence with Sync, and the service's audit calls sequence as they need.
func newAuditLog(tb testing.TB, store vault.Store) (*audit.Log, string) {
	tb.Helper()
	skey, vkey, err := audit.GenerateKey(testOrigin)
	if err != nil {
		tb.Fatalf("GenerateKey() = %v", err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		tb.Fatalf("NewSigner() = %v", err)
	}
	l, err := audit.NewLog(store, audit.LogOptions{Signer: signer})
	if err != nil {
		tb.Fatalf("NewLog() = %v", err)
	}
	return l, vkey
}

// newKeyRing returns a key ring under a fresh random root key.
func newKeyRing(tb testing.TB) vault.KeyRing {
	tb.Helper()
	root, err := keyring.GenerateRootKey()
	if err != nil {
		tb.Fatalf("GenerateRootKey() = %v", err)
	}
	defer root.Destroy()
	kr, err := keyring.New(root)
	if err != nil {
		tb.Fatalf("keyring.New() = %v", err)
	}
	return kr
}

// hookStore wraps a store so that a test can make some calls fail, block
// or panic. The hooks are set before the calls they affect.
type hookStore struct {
	vault.Store
	ping    func(ctx context.Context) error
	contact func(ctx context.Context, tenantID, id string) (*vault.Record, error)
	// sequenced and checkpoints, if set, run before the store's own
	// SequencedEntries and LatestCheckpoint and may fail them.
	sequenced   func(start, end uint64) error
	checkpoints func() error
	// appendAudit and sequenceAudit, if set, run before the store's own
	// AppendAudit and SequenceAudit and may fail them.
	appendAudit   func() error
	sequenceAudit func() error
	// pending is what PrefersPendingAppends reports.
	pending bool
}

func (s *hookStore) AppendAudit(ctx context.Context, entries []*vault.AuditEntry) error {
	if s.appendAudit != nil {
		if err := s.appendAudit(); err != nil {
			return err
		}
	}
	return s.Store.AppendAudit(ctx, entries)
}

func (s *hookStore) SequenceAudit(ctx context.Context, prevHead []byte, entries []audit.Sequenced, nodes []audit.Node, head []byte) error {
	if s.sequenceAudit != nil {
		if err := s.sequenceAudit(); err != nil {
			return err
		}
	}
	return s.Store.SequenceAudit(ctx, prevHead, entries, nodes, head)
}

func (s *hookStore) PrefersPendingAppends() bool { return s.pending }

func (s *hookStore) SequencedEntries(ctx context.Context, start, end uint64) ([]*audit.Entry, [][]byte, error) {
	if s.sequenced != nil {
		if err := s.sequenced(start, end); err != nil {
			return nil, nil, err
		}
	}
	return s.Store.SequencedEntries(ctx, start, end)
}

func (s *hookStore) LatestCheckpoint(ctx context.Context) (*audit.StoredCheckpoint, error) {
	if s.checkpoints != nil {
		if err := s.checkpoints(); err != nil {
			return nil, err
		}
	}
	return s.Store.LatestCheckpoint(ctx)
}

func (s *hookStore) Ping(ctx context.Context) error {
	if s.ping != nil {
		return s.ping(ctx)
	}
	return s.Store.Ping(ctx)
}

func (s *hookStore) Contact(ctx context.Context, tenantID, id string) (*vault.Record, error) {
	if s.contact != nil {
		return s.contact(ctx, tenantID, id)
	}
	return s.Store.Contact(ctx, tenantID, id)
}

// clock is a settable clock for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer is a concurrency-safe buffer for the captured log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a Server over a service with tokens for every test role in
// tenants t1 and t2, and an audit log.
type env struct {
	tb     testing.TB
	store  *hookStore
	svc    *vault.Service
	audit  *audit.Log
	vkey   string // the audit log's verifier key
	clock  *clock
	srv    *vhttp.Server
	h      http.Handler
	log    *logBuffer
	tokens map[string]string // "t1/admin" -> bearer token
}

var start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newEnv returns an env under the interim role authoriser.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	return newEnvWith(tb, func(s *vault.Schema) vault.Authorizer { return &vault.RoleAuthorizer{Schema: s} })
}

// newEnvWith returns an env whose service asks the authoriser that authz
// builds for the default schema.
func newEnvWith(tb testing.TB, authz func(*vault.Schema) vault.Authorizer) *env {
	tb.Helper()
	e := &env{tb: tb, store: &hookStore{Store: openStore(tb)}, clock: &clock{t: start}, log: &logBuffer{}, tokens: map[string]string{}}
	schema := vault.DefaultSchema()
	e.svc = vault.NewService(e.store, newKeyRing(tb), authz(schema), schema)
	e.svc.Now = e.clock.Now
	e.audit, e.vkey = newAuditLog(tb, e.store)
	e.svc.SetAuditLog(e.audit)
	tb.Cleanup(func() { e.svc.Close() })
	for _, tenant := range []string{"t1", "t2"} {
		for _, role := range []string{vault.RoleAdmin, vault.RoleAgent, vault.RoleVolunteer, vault.RoleDPO} {
			tok, _, err := e.svc.IssueToken(context.Background(), vault.TokenSpec{TenantID: tenant, Role: role})
			if err != nil {
				tb.Fatalf("IssueToken(%s, %s) = %v", tenant, role, err)
			}
			e.tokens[tenant+"/"+role] = tok
		}
	}
	logger := slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = vhttp.NewServer(e.svc, vhttp.Options{Logger: logger})
	e.h = e.srv.Handler()
	return e
}

// request describes one call. A body that is a string or []byte is sent
// as is; anything else is marshalled.
type request struct {
	method, path string
	token        string // a key of env.tokens, or a raw token when it has no '/'
	body         any
	header       map[string]string
}

func (e *env) do(r request) *httptest.ResponseRecorder {
	e.tb.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.tb.Fatalf("marshal body: %v", err)
		}
		body = bytes.NewReader(j)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		tok := r.token
		if t, ok := e.tokens[r.token]; ok {
			tok = t
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range r.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// mustDo is do that fails the test unless the status is want, and
// decodes a JSON answer into out (if not nil).
func (e *env) mustDo(r request, want int, out any) *httptest.ResponseRecorder {
	e.tb.Helper()
	rec := e.do(r)
	if rec.Code != want {
		e.tb.Fatalf("%s %s = %d %s, want %d", r.method, r.path, rec.Code, rec.Body, want)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			e.tb.Fatalf("%s %s: decode answer: %v", r.method, r.path, err)
		}
	}
	return rec
}

// contact is a decoded contact answer.
type contact struct {
	ID       string                     `json:"id"`
	Fields   map[string]any             `json:"fields"`
	Consents map[string]json.RawMessage `json:"consents"`
	Created  time.Time                  `json:"created_at"`
	Updated  time.Time                  `json:"updated_at"`
}

// create creates a contact with the given fields as t1's agent.
func (e *env) create(fields map[string]any) *contact {
	e.tb.Helper()
	var c contact
	e.mustDo(request{method: "POST", path: "/v1/contacts", token: "t1/agent", body: map[string]any{"fields": fields}}, http.StatusCreated, &c)
	return &c
}

// auditEntries sequences what is pending and returns every audit entry
// of tenant, as the store holds them.
func (e *env) auditEntries(tenant string) []*vault.AuditEntry {
	e.tb.Helper()
	ctx := context.Background()
	if _, err := e.audit.Sync(ctx); err != nil {
		e.tb.Fatalf("Sync() = %v", err)
	}
	var all []*vault.AuditEntry
	for from := uint64(0); ; {
		es, err := e.store.AuditEntries(ctx, vault.AuditFilter{TenantID: tenant, From: from, Limit: 1000})
		if err != nil {
			e.tb.Fatalf("AuditEntries(%s) = %v", tenant, err)
		}
		all = append(all, es...)
		if len(es) < 1000 {
			return all
		}
		from = es[len(es)-1].Seq + 1
	}
}

// auditCount returns how many audit entries tenant has.
func (e *env) auditCount(tenant string) int {
	e.tb.Helper()
	return len(e.auditEntries(tenant))
}

// auditWrites returns how many successful writes (creations, changes,
// erasures, tokens) tenant's audit log records: what a refused request
// must leave unchanged. Refused and failed attempts are on record too,
// with their outcome, and reads are, so the total is no measure of that.
func (e *env) auditWrites(tenant string) int {
	e.tb.Helper()
	n := 0
	for _, en := range e.auditEntries(tenant) {
		switch en.Action {
		case vault.ActionContactCreate, vault.ActionContactUpdate, vault.ActionContactErase, vault.ActionTokenCreate:
			if en.Outcome == vault.OutcomeOK {
				n++
			}
		}
	}
	return n
}

// problem is a decoded problem document.
type problem struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail"`
	Code      string             `json:"code"`
	Errors    []vault.FieldError `json:"errors"`
	RequestID string             `json:"request_id"`
}

// checkProblem checks that rec is a well-formed problem document with the
// status and code, and returns it.
func checkProblem(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) *problem {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body, err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"code", "detail", "errors", "request_id", "status", "title", "type"}; !slices.Equal(keys, want) {
		t.Errorf("problem members = %v, want %v", keys, want)
	}
	var p problem
	json.Unmarshal(rec.Body.Bytes(), &p)
	if p.Status != status || p.Code != code || p.Type != "https://coffre.dev/problems/"+code {
		t.Errorf("problem = status %d, code %q, type %q; want %d, %q, https://coffre.dev/problems/%s", p.Status, p.Code, p.Type, status, code, code)
	}
	if p.Title == "" || p.Detail == "" {
		t.Errorf("problem title %q, detail %q: want both set", p.Title, p.Detail)
	}
	if id := rec.Header().Get("X-Request-Id"); p.RequestID == "" || p.RequestID != id {
		t.Errorf("problem request_id = %q, X-Request-Id = %q: want equal and set", p.RequestID, id)
	}
	checkNoTrace(t, rec.Body.String())
	return &p
}

// checkAnyProblem checks that rec is a well-formed problem document, as
// checkProblem does, whatever its status and code, which must be set; it
// returns it.
func checkAnyProblem(t testing.TB, rec *httptest.ResponseRecorder) *problem {
	t.Helper()
	var p problem
	// A body that is not a problem document fails in checkProblem.
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	if p.Code == "" {
		t.Errorf("problem %s: no code", rec.Body)
	}
	return checkProblem(t, rec, rec.Code, p.Code)
}

// checkNoTrace fails if s looks like it holds a Go stack trace or error.
func checkNoTrace(t testing.TB, s string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", ".go:", "runtime.", "panic", "json: ", "coffre error"} {
		if strings.Contains(s, bad) {
			t.Errorf("response %q contains %q", s, bad)
		}
	}
}

// randomIDs matches the random identifiers the server writes (request
// ids, token ids): a short secret such as "jean" turns up in one of them
// by chance now and then, so they are blanked before a scan.
var randomIDs = regexp.MustCompile(`"(request_id|token_id)":"[^"]*"`)

// checkNoLeak fails if any of the secrets appears in the answer or in
// the log, the server's random identifiers aside.
func (e *env) checkNoLeak(t testing.TB, rec *httptest.ResponseRecorder, secrets ...string) {
	t.Helper()
	logs := randomIDs.ReplaceAllString(e.log.String(), "")
	body := randomIDs.ReplaceAllString(rec.Body.String(), "")
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Errorf("answer %s contains the submitted %q", rec.Body, s)
		}
		for k, vs := range rec.Header() {
			if k == "X-Request-Id" {
				continue
			}
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("header %s: %s contains the submitted %q", k, v, s)
				}
			}
		}
		if strings.Contains(logs, s) {
			t.Errorf("log contains the submitted %q:\n%s", s, logs)
		}
	}
}

// logLines returns the captured log lines, decoded.
func (e *env) logLines() []map[string]any {
	e.tb.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			e.tb.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}
