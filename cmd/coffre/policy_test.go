package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	main "github.com/coffre/coffre/cmd/coffre"
	"github.com/coffre/coffre/policy/bundle"
)

func TestPolicyTestCommand(t *testing.T) {
	env := map[string]string{}
	out, _ := mustRun(t, env, "policy", "test")
	if !strings.Contains(out, "passed, 0 failed, 0 errors") {
		t.Fatalf("policy test (default bundle) = %q", out)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package coffre.authz\n\ndefault decision := {\"allow\": false}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "p_test.rego"), []byte("package coffre.authz_test\n\nimport data.coffre.authz\n\ntest_denies if not authz.decision.allow\n\ntest_allows if authz.decision.allow\n"), 0o600)
	out, stderr, code := run(t, env, "policy", "test", dir)
	if code != 1 || !strings.Contains(out, "FAIL  p_test.rego:7") || !strings.Contains(out, "1 passed, 1 failed") || !strings.Contains(stderr, "1 failed") {
		t.Fatalf("policy test (failing bundle): exit %d\n%s\n%s", code, out, stderr)
	}
	if _, stderr, code := run(t, env, "policy", "test", filepath.Join(dir, "nope")); code != 2 || !strings.Contains(stderr, "not a directory") {
		t.Fatalf("policy test (missing dir): exit %d, %s", code, stderr)
	}
}

func TestPolicyEvalCommand(t *testing.T) {
	q := filepath.Join(t.TempDir(), "q.json")
	ask := func(t *testing.T, district string, consent bool) map[string]any {
		t.Helper()
		b, _ := json.Marshal(map[string]any{
			"principal": map[string]any{"id": "tok1", "tenant": "mairie", "role": "volunteer", "purposes": []string{"canvassing"},
				"attributes": map[string][]string{"districts": {"d3", "d7"}}},
			"action": "contact.read", "purpose": "canvassing",
			"resource": map[string]any{"kind": "contact", "tenant": "mairie", "consents": map[string]bool{"sms": consent},
				"values": map[string]string{"district": district}},
		})
		os.WriteFile(q, b, 0o600)
		out, _ := mustRun(t, map[string]string{}, "policy", "eval", "--input", q)
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("policy eval output %q: %v", out, err)
		}
		return got
	}
	in := ask(t, "d7", true)
	fields, _ := in["fields"].(map[string]any)
	if in["allow"] != true || fields["phone"] != "masked" || fields["email"] != "hidden" || fields["district"] != "clear" || in["decision_id"] == "" {
		t.Fatalf("volunteer in district: %v", in)
	}
	if out := ask(t, "d4", true); out["allow"] != false || out["conceal"] != true {
		t.Fatalf("volunteer out of district: %v", out)
	}
	if out := ask(t, "d3", false); out["allow"] != false {
		t.Fatalf("volunteer without consent: %v", out)
	}
	os.WriteFile(q, []byte(`{"principal": {}, "action": "contact.read", "surprise": 1}`), 0o600)
	if _, stderr, code := run(t, map[string]string{}, "policy", "eval", "--input", q); code != 2 || !strings.Contains(stderr, "surprise") {
		t.Fatalf("policy eval (bad question): exit %d, %s", code, stderr)
	}
}

// copyDefaultBundle writes the default policy's files into a directory.
func copyDefaultBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	names, err := bundle.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, _ := bundle.FS.ReadFile(n.Name())
		if err := os.WriteFile(filepath.Join(dir, n.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestServePolicyReload(t *testing.T) {
	dir := copyDefaultBundle(t)
	env := map[string]string{main.EnvDataDir: filepath.Join(t.TempDir(), "data"), main.EnvPolicyDir: dir}
	authz := filepath.Join(dir, "authz.rego")
	good, err := os.ReadFile(authz)
	if err != nil {
		t.Fatal(err)
	}

	// A broken policy stops start-up, naming the file and line, before
	// anything is created.
	os.WriteFile(authz, []byte("package coffre.authz\n\ndecision := := 1\n"), 0o600)
	_, stderr, code := run(t, env, "serve", "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "authz.rego:3") {
		t.Fatalf("serve with a broken policy: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(env[main.EnvDataDir]); err == nil {
		t.Fatal("serve created the data folder before refusing the policy")
	}

	os.WriteFile(authz, good, 0o600)
	s := serve(t, env)
	admin := strings.TrimSpace(s.stdout.String())
	policyInfo := func() (rev, lastErr string) {
		t.Helper()
		var info struct {
			Revision  string `json:"revision"`
			LastError string `json:"last_error"`
			Files     []struct{ Name string }
		}
		if code := call(t, "GET", s.url+"/v1/policy", admin, nil, &info); code != http.StatusOK || len(info.Files) == 0 {
			t.Fatalf("GET /v1/policy = %d, %+v", code, info)
		}
		return info.Revision, info.LastError
	}
	rev1, _ := policyInfo()

	// A broken file on SIGHUP is refused; the old policy keeps serving.
	os.WriteFile(authz, []byte("package coffre.authz\n\ndecision := := 1\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, func() bool { _, e := policyInfo(); return strings.Contains(e, "authz.rego:3") })
	if rev, _ := policyInfo(); rev != rev1 {
		t.Fatalf("revision changed to %s after a refused reload", rev)
	}

	// A good change is picked up by the watcher.
	os.WriteFile(authz, append(good, []byte("\n# changed\n")...), 0o600)
	waitFor(t, func() bool { rev, e := policyInfo(); return rev != rev1 && e == "" })
	s.close(t)

	// Both attempts are in the audit log.
	out, _ := mustRun(t, env, "audit", "export")
	var refused, loaded int
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `"policy.reload"`) {
			continue
		}
		switch {
		case strings.Contains(line, `"error"`):
			refused++
		case strings.Contains(line, `"ok"`):
			loaded++
		}
	}
	if refused == 0 || loaded == 0 {
		t.Fatalf("audit export has %d refused and %d successful policy reloads", refused, loaded)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
