package policy_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/vault"
)

// writeBundle writes Rego files into dir, replacing what was there.
func writeBundle(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(dir, "*.rego"))
	for _, f := range old {
		os.Remove(f)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Rego for the tests: allowOnly allows principal "alice" alone.
const allowOnly = `package coffre.authz

default decision := {"allow": false, "reason": "not alice"}

decision := {"allow": true, "fields": {"email": "masked"}} if input.principal.id == "alice"
`

const denyAll = `package coffre.authz

decision := {"allow": false, "reason": "closed", "conceal": true}
`

func newEngine(t *testing.T, dir string, onReload func(policy.ReloadEvent)) *policy.Engine {
	t.Helper()
	e, err := policy.New(context.Background(), policy.Options{Dir: dir, Schema: vault.DefaultSchema(), OnReload: onReload})
	if err != nil {
		t.Fatalf("policy.New: %v", err)
	}
	return e
}

func read(id, tenant string) *vault.AuthzRequest {
	return &vault.AuthzRequest{
		Principal: &vault.Principal{ID: id, TenantID: tenant, Role: vault.RoleAgent},
		Action:    vault.ActionContactRead, Purpose: "casework",
		Resource: vault.Resource{Kind: vault.KindContact, TenantID: tenant, ContactID: "c1"},
	}
}

func TestDefaultBundleLoads(t *testing.T) {
	e := newEngine(t, "", nil)
	info := e.PolicyInfo()
	if len(info.Revision) != 32 || info.Source != "default" || len(info.Files) == 0 {
		t.Fatalf("PolicyInfo = %+v", info)
	}
	for _, f := range info.Files {
		if strings.HasSuffix(f.Name, "_test.rego") || len(f.SHA256) != 64 || f.Size == 0 {
			t.Errorf("served file %+v", f)
		}
	}
}

func TestBrokenBundleNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, map[string]string{
		"ok.rego":     allowOnly,
		"broken.rego": "package coffre.authz\n\nx := := 1\n\ny := 2\n",
	})
	_, err := policy.New(context.Background(), policy.Options{Dir: dir, Schema: vault.DefaultSchema()})
	if err == nil || !strings.Contains(err.Error(), "broken.rego:3") {
		t.Fatalf("New(broken) = %v, want an error naming broken.rego:3", err)
	}
	writeBundle(t, dir, map[string]string{"other.rego": "package coffre.other\n\nx := 1\n"})
	if _, err := policy.New(context.Background(), policy.Options{Dir: dir, Schema: vault.DefaultSchema()}); err == nil || !strings.Contains(err.Error(), "defines no") {
		t.Fatalf("New(no decision) = %v, want an error naming the missing rule", err)
	}
	writeBundle(t, dir, map[string]string{"bad.rego": "package coffre.authz\n\ndecision := y if y := input.nope.nope\n\nz := w if w := unknown_var\n"})
	if _, err := policy.New(context.Background(), policy.Options{Dir: dir, Schema: vault.DefaultSchema()}); err == nil || !strings.Contains(err.Error(), "bad.rego:5") {
		t.Fatalf("New(compile error) = %v, want an error naming bad.rego:5", err)
	}
}

func TestCacheNeverCrossesPrincipals(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, map[string]string{"p.rego": allowOnly})
	e := newEngine(t, dir, nil)
	ctx := context.Background()
	for range 3 { // the second and third rounds come from the cache
		a, err := e.Authorize(ctx, read("alice", "t1"))
		if err != nil || !a.Allow || a.Fields["email"] != vault.Masked {
			t.Fatalf("alice: %+v, %v", a, err)
		}
		b, err := e.Authorize(ctx, read("bob", "t1"))
		if err != nil || b.Allow {
			t.Fatalf("bob got alice's decision: %+v, %v", b, err)
		}
		if a.ID == b.ID {
			t.Fatal("two inputs share a decision id")
		}
	}
	// Same id, another tenant: another input, another decision id.
	a1, _ := e.Authorize(ctx, read("alice", "t1"))
	a2, _ := e.Authorize(ctx, read("alice", "t2"))
	if a1.ID == a2.ID {
		t.Fatal("decisions for two tenants share an id")
	}
}

func TestReloadSwapsAndKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, map[string]string{"p.rego": allowOnly})
	var mu sync.Mutex
	var events []policy.ReloadEvent
	e := newEngine(t, dir, func(ev policy.ReloadEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() })
	ctx := context.Background()
	rev1 := e.Revision()
	d1, err := e.Authorize(ctx, read("alice", "t1"))
	if err != nil || !d1.Allow || d1.Revision != rev1 {
		t.Fatalf("before reload: %+v, %v", d1, err)
	}

	// A broken policy is refused; the old one keeps serving.
	writeBundle(t, dir, map[string]string{"p.rego": "package coffre.authz\n\ndecision := := 1\n"})
	if err := e.Reload(ctx); err == nil || !strings.Contains(err.Error(), "p.rego:3") {
		t.Fatalf("Reload(broken) = %v", err)
	}
	if e.Revision() != rev1 || e.PolicyInfo().LastError == "" {
		t.Fatalf("after a refused reload: revision %s, info %+v", e.Revision(), e.PolicyInfo())
	}
	if d, err := e.Authorize(ctx, read("alice", "t1")); err != nil || !d.Allow {
		t.Fatalf("old policy stopped serving: %+v, %v", d, err)
	}

	// A good one replaces it, and no decision of the old one survives.
	writeBundle(t, dir, map[string]string{"p.rego": denyAll})
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	rev2 := e.Revision()
	d2, err := e.Authorize(ctx, read("alice", "t1"))
	if rev2 == rev1 || err != nil || d2.Allow || !d2.Conceal || d2.Revision != rev2 || d2.ID == d1.ID {
		t.Fatalf("after reload: rev %s→%s, %+v, %v", rev1, rev2, d2, err)
	}
	if e.PolicyInfo().LastError != "" {
		t.Fatalf("LastError kept after a good reload: %q", e.PolicyInfo().LastError)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0].Err == nil || events[0].Revision != rev1 || events[1].Err != nil || events[1].Previous != rev1 || events[1].Revision != rev2 {
		t.Fatalf("reload events = %+v", events)
	}
}

func TestWatchReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, map[string]string{"p.rego": allowOnly})
	reloaded := make(chan policy.ReloadEvent, 4)
	e := newEngine(t, dir, func(ev policy.ReloadEvent) { reloaded <- ev })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Watch(ctx, 20*time.Millisecond)
	rev1 := e.Revision()
	time.Sleep(50 * time.Millisecond)
	writeBundle(t, dir, map[string]string{"p.rego": denyAll})
	select {
	case ev := <-reloaded:
		if ev.Err != nil || ev.Revision == rev1 || e.Revision() != ev.Revision {
			t.Fatalf("watch reload: %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload after a file changed")
	}
}

func TestEvaluationErrorsDeny(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cases := map[string]string{
		// Two values for one complete rule: an error at evaluation time.
		"conflict":       "package coffre.authz\n\ndecision := {\"allow\": true} if input.principal.id == \"alice\"\n\ndecision := {\"allow\": false} if input.action == \"contact.read\"\n",
		"malformed":      "package coffre.authz\n\ndecision := {\"allow\": \"yes\"} if input.principal.id == \"alice\"\n\ndefault decision := {\"allow\": false}\n",
		"bad obligation": "package coffre.authz\n\ndecision := {\"allow\": true, \"fields\": {\"email\": \"partly\"}} if input.principal.id == \"alice\"\n\ndefault decision := {\"allow\": false}\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			writeBundle(t, dir, map[string]string{"p.rego": src})
			e := newEngine(t, dir, nil)
			d, err := e.Authorize(ctx, read("alice", "t1"))
			if err == nil {
				t.Fatalf("Authorize = %+v, want an error (which denies)", d)
			}
		})
	}
	// Undefined: no rule gives a decision.
	writeBundle(t, dir, map[string]string{"p.rego": "package coffre.authz\n\ndecision := {\"allow\": true} if input.principal.id == \"nobody\"\n"})
	e := newEngine(t, dir, nil)
	d, err := e.Authorize(ctx, read("alice", "t1"))
	if err != nil || d.Allow || d.Reason == "" {
		t.Fatalf("undefined decision = %+v, %v, want a denial", d, err)
	}
}

func TestEvalAnswersQuestions(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, map[string]string{"p.rego": allowOnly})
	e := newEngine(t, dir, nil)
	ctx := context.Background()
	q := &policy.Question{
		Principal: policy.QuestionPrincipal{ID: "alice", Tenant: "t1", Role: "agent"},
		Action:    vault.ActionContactRead, Purpose: "casework",
		Resource: policy.QuestionResource{Kind: vault.KindContact, Tenant: "t1"},
	}
	got, err := e.Eval(ctx, q)
	if err != nil || !got.Allow {
		t.Fatalf("Eval = %+v, %v", got, err)
	}
	q.Principal.ID = "bob"
	if got, err := e.Eval(ctx, q); err != nil || got.Allow {
		t.Fatalf("Eval(bob) = %+v, %v", got, err)
	}
}

func TestRunTestsReportsFailures(t *testing.T) {
	dir := t.TempDir()
	writeBundle(t, dir, map[string]string{
		"p.rego": allowOnly,
		"p_test.rego": `package coffre.authz_test

import data.coffre.authz

test_alice_allowed if authz.decision.allow with input as {"principal": {"id": "alice"}}

test_bob_allowed if authz.decision.allow with input as {"principal": {"id": "bob"}}
`,
	})
	var out bytes.Buffer
	s, err := policy.RunTests(context.Background(), dir, vault.DefaultSchema(), &out, false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Pass != 1 || s.Fail != 1 || s.OK() || !strings.Contains(out.String(), "FAIL  p_test.rego:7") {
		t.Fatalf("summary %+v, output:\n%s", s, out.String())
	}
	writeBundle(t, dir, map[string]string{"p.rego": "package coffre.authz\n\ndecision := {\n"})
	if _, err := policy.RunTests(context.Background(), dir, vault.DefaultSchema(), &out, false); err == nil || errors.Is(err, context.Canceled) {
		t.Fatal("RunTests on a broken bundle gave no error")
	}
}
