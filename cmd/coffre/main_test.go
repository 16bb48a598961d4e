package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	main "github.com/coffre/coffre/cmd/coffre"
	"github.com/coffre/coffre/vault/postgres/pgtest"
)

// tokenRE matches a bearer token alone on a line.
var tokenRE = regexp.MustCompile(`^coffre_[a-z2-7]{16}_[A-Za-z0-9_-]{43}\n$`)

// backend is where a test's vault keeps its data: its environment for
// the coffre command.
type backend struct {
	name string
	env  map[string]string
}

// backends returns a fresh SQLite data folder and a fresh PostgreSQL
// schema (skipped without TEST_DATABASE_URL, failed under CI=true).
func forEachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, &backend{name: "sqlite", env: map[string]string{
			main.EnvDataDir: filepath.Join(t.TempDir(), "data"),
		}})
	})
	t.Run("postgres", func(t *testing.T) {
		u := pgtest.NewSchema(t)
		f(t, &backend{name: "postgres", env: map[string]string{
			main.EnvDataDir:     filepath.Join(t.TempDir(), "data"),
			main.EnvDatabaseURL: u,
		}})
	})
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write
// while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func (s *syncBuffer) String() string { return string(s.Bytes()) }

// newMain returns a Main whose environment is env only.
func newMain(env map[string]string) (*main.Main, *syncBuffer, *syncBuffer) {
	m := main.NewMain()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	m.Stdout, m.Stderr = stdout, stderr
	m.Getenv = func(k string) string { return env[k] }
	return m, stdout, stderr
}

// run runs one command to completion and returns its output and exit
// status.
func run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, out, errb := newMain(env)
	err := m.Run(ctx, args)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	code = m.Exit(err)
	return out.String(), errb.String(), code
}

// mustRun runs a command that must succeed.
func mustRun(t *testing.T, env map[string]string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := run(t, env, args...)
	if code != 0 {
		t.Fatalf("coffre %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout, stderr
}

// agentToken issues an agent token of tenant with coffre token create.
func agentToken(t *testing.T, env map[string]string, tenant string) string {
	t.Helper()
	out, _ := mustRun(t, env, "token", "create", "--tenant", tenant, "--role", "agent")
	return strings.TrimSpace(out)
}

// server is a running coffre serve.
type server struct {
	m      *main.Main
	url    string
	stdout *syncBuffer
	logs   *syncBuffer
}

// serve starts coffre serve on a free loopback port; it is closed when
// the test ends, or earlier with close.
func serve(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	m, out, errb := newMain(env)
	args = append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)
	if err := m.Run(context.Background(), args); err != nil {
		m.Close()
		t.Fatalf("coffre serve: %v\n%s", err, errb)
	}
	s := &server{m: m, url: m.URL(), stdout: out, logs: errb}
	t.Cleanup(func() { s.close(t) })
	return s
}

func (s *server) close(t *testing.T) {
	if s.m == nil {
		return
	}
	if err := s.m.Close(); err != nil {
		t.Errorf("close server: %v", err)
	}
	s.m = nil
}

// call sends one API request and decodes a JSON answer into out.
func call(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Coffre-Purpose", "casework")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode answer: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

func TestUsageErrors(t *testing.T) {
	env := map[string]string{main.EnvDataDir: filepath.Join(t.TempDir(), "data")}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"init", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"init", "--tenant", "Not A Tenant"}, "invalid --tenant"},
		{[]string{"init", "extra"}, `unexpected argument "extra"`},
		{[]string{"init", "--database-url", "mysql://u:secret@h/db"}, "must be a PostgreSQL URL"},
		{[]string{"serve", "--addr", "nonsense"}, "invalid --addr"},
		{[]string{"serve", "--log-level", "loud"}, "invalid --log-level"},
		{[]string{"token"}, "missing subcommand"},
		{[]string{"token", "create", "--role", "agent"}, "--tenant is required"},
		{[]string{"token", "create", "--tenant", "t"}, "--role is required"},
		{[]string{"token", "create", "--tenant", "t", "--role", "agent", "--attr", "district"}, "--attr takes key=value"},
		{[]string{"token", "create", "--tenant", "t", "--role", "agent", "--ttl", "soon"}, "invalid value"},
		{[]string{"demo"}, "--contacts must be between"},
		{[]string{"demo", "--contacts", "-5"}, "--contacts must be between"},
		{[]string{"bench", "--token", "x", "--url", "http://10.1.2.3:8080"}, "refusing to load 10.1.2.3"},
		{[]string{"bench", "--token", "x", "--url", "http://example.com"}, "refusing to load example.com"},
		{[]string{"bench", "--token", "x", "--url", "http://[2001:db8::1]:80"}, "refusing to load 2001:db8::1"},
		{[]string{"bench", "--token", "x", "--url", "ftp://127.0.0.1"}, "must be an http://"},
		{[]string{"bench", "--url", "http://127.0.0.1:1"}, "--token"},
		{[]string{"bench", "--token", "x", "--ops", "create,fly"}, `unknown op "fly"`},
		{[]string{"bench", "--token", "x", "--ops", "get:3,create"}, "op:N for every op"},
		{[]string{"bench", "--token", "x", "--concurrency", "0"}, "--concurrency must be"},
		{[]string{"bench", "--token", "x", "--procs", "-1"}, "--procs must be"},
		{[]string{"bench", "--token", "x", "--duration", "3h"}, "--duration must be"},
		{[]string{"version", "--verbose"}, "flag provided but not defined"},
	} {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			stdout, stderr, code := run(t, env, tt.args...)
			if code != 2 {
				t.Errorf("exit = %d, want 2 (stderr %q)", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			last := lastLine(stderr)
			if !strings.HasPrefix(last, "coffre: ") || !strings.Contains(last, tt.want) {
				t.Errorf("last stderr line = %q, want a coffre: message with %q", last, tt.want)
			}
			if len(tt.args) > 0 && strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line", stderr)
			}
			if strings.Contains(stderr, "secret") {
				t.Errorf("stderr leaks the database password: %q", stderr)
			}
			checkNoStackTrace(t, stderr)
		})
	}
	if _, err := os.Stat(env[main.EnvDataDir]); err == nil {
		t.Error("a failed command created the data folder")
	}
}

// TestUnreachableDatabase: a database that cannot be reached is a
// one-line failure that does not show the password of the URL.
func TestUnreachableDatabase(t *testing.T) {
	env := map[string]string{main.EnvDataDir: t.TempDir()}
	for _, args := range [][]string{
		{"migrate", "--database-url", "postgres://coffre:s3cr3t@127.0.0.1:1/coffre"},
		{"token", "create", "--tenant", "t", "--role", "agent", "--database-url", "postgres://coffre:s3cr3t@127.0.0.1:1/coffre"},
	} {
		env := clone(env)
		env[main.EnvRootKey] = randomRootKey()
		stdout, stderr, code := run(t, env, args...)
		if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "PostgreSQL") {
			t.Errorf("coffre %s: exit %d, stdout %q, stderr %q", args[0], code, stdout, stderr)
		}
		if strings.Contains(stderr, "s3cr3t") {
			t.Errorf("coffre %s shows the database password: %q", args[0], stderr)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestHelpAndVersion(t *testing.T) {
	env := map[string]string{}
	_, stderr := mustRun(t, env, "help")
	for _, c := range []string{"serve", "init", "token", "migrate", "demo", "bench", "version"} {
		if !strings.Contains(stderr, "  "+c+" ") {
			t.Errorf("help does not list %s:\n%s", c, stderr)
		}
	}
	for _, c := range [][]string{{"serve", "-h"}, {"token", "create", "-h"}, {"bench", "--help"}, {"demo", "-h"}} {
		stdout, stderr := mustRun(t, env, c...)
		if stdout != "" || !strings.HasPrefix(stderr, "Usage: coffre "+c[0]) {
			t.Errorf("coffre %v: stdout %q, stderr %q", c, stdout, stderr)
		}
	}
	stdout, _ := mustRun(t, env, "version")
	if !strings.HasPrefix(stdout, "coffre ") {
		t.Errorf("version = %q", stdout)
	}
}

func TestInit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		stdout, stderr := mustRun(t, b.env, "init", "--tenant", "mairie")
		if !tokenRE.MatchString(stdout) {
			t.Fatalf("init stdout = %q, want one token line", stdout)
		}
		if !strings.Contains(stderr, "shown only this once") {
			t.Errorf("init stderr has no hint about the token: %q", stderr)
		}
		dir := b.env[main.EnvDataDir]
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("data folder mode = %v (%v), want 0700", fi.Mode().Perm(), err)
		}
		key := filepath.Join(dir, "root.key")
		fi, err := os.Stat(key)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("root.key mode = %v (%v), want 0600", fi.Mode().Perm(), err)
		}
		keyBytes, _ := os.ReadFile(key)
		if bytes.Contains([]byte(stdout+stderr), bytes.TrimSpace(keyBytes)) {
			t.Error("init printed the root key")
		}

		// A second init refuses to touch the key.
		_, stderr, code := run(t, b.env, "init", "--tenant", "mairie")
		if code != 1 || !strings.Contains(stderr, "already initialised") {
			t.Errorf("second init: exit %d, stderr %q", code, stderr)
		}
		if again, _ := os.ReadFile(key); !bytes.Equal(again, keyBytes) {
			t.Error("second init changed root.key")
		}

		// token create prints the token alone on stdout.
		stdout, stderr = mustRun(t, b.env, "token", "create", "--tenant", "mairie", "--role", "volunteer",
			"--attr", "district=d3", "--attr", "district=d4", "--purpose", "canvassing", "--ttl", "24h")
		if !tokenRE.MatchString(stdout) {
			t.Errorf("token create stdout = %q, want one token line", stdout)
		}
		if !strings.Contains(stderr, "volunteer token") {
			t.Errorf("token create stderr = %q", stderr)
		}
		// A bad role or purpose is a usage error.
		for _, args := range [][]string{
			{"token", "create", "--tenant", "mairie", "--role", "overlord"},
			{"token", "create", "--tenant", "mairie", "--role", "agent", "--purpose", "marketing"},
		} {
			stdout, stderr, code := run(t, b.env, args...)
			if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 {
				t.Errorf("coffre %v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
			}
		}

		// A root key from the environment must match the file's.
		env := clone(b.env)
		env[main.EnvRootKey] = randomRootKey()
		_, stderr, code = run(t, env, "token", "create", "--tenant", "mairie", "--role", "agent")
		if code != 1 || !strings.Contains(stderr, "different root keys") {
			t.Errorf("mismatched COFFRE_ROOT_KEY: exit %d, stderr %q", code, stderr)
		}
		env[main.EnvRootKey] = string(keyBytes)
		mustRun(t, env, "token", "create", "--tenant", "mairie", "--role", "agent")
	})
}

func TestInit_RootKeyFromEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{main.EnvDataDir: dir, main.EnvRootKey: "not base64"}
	_, stderr, code := run(t, env, "init")
	if code != 1 || !strings.Contains(stderr, "COFFRE_ROOT_KEY is not a root key") || strings.Contains(stderr, "not base64") {
		t.Errorf("bad COFFRE_ROOT_KEY: exit %d, stderr %q", code, stderr)
	}
	env[main.EnvRootKey] = randomRootKey()
	stdout, _ := mustRun(t, env, "init")
	if !tokenRE.MatchString(stdout) {
		t.Fatalf("init stdout = %q", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); err == nil {
		t.Error("init wrote root.key although COFFRE_ROOT_KEY gives the key")
	}
	// Without the key, the vault does not open.
	delete(env, main.EnvRootKey)
	_, stderr, code = run(t, env, "token", "create", "--tenant", "default", "--role", "agent")
	if code != 1 || !strings.Contains(stderr, "no root key") {
		t.Errorf("no key: exit %d, stderr %q", code, stderr)
	}
	// A folder with a database but no key is not re-initialised.
	_, stderr, code = run(t, env, "init")
	if code != 1 || !strings.Contains(stderr, "no root key") {
		t.Errorf("init over a keyless database: exit %d, stderr %q", code, stderr)
	}
}

func TestServe(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		// A newcomer's one command: serve initialises a fresh folder.
		s := serve(t, b.env)
		token := s.stdout.String()
		if !tokenRE.MatchString(token) {
			t.Fatalf("serve stdout = %q, want the first admin token", token)
		}
		// The admin token manages tokens; case work is an agent's.
		token = agentToken(t, b.env, "default")
		if !strings.Contains(s.logs.String(), "initialising a new vault") {
			t.Errorf("serve did not say it initialised the vault: %s", s.logs)
		}

		in := map[string]any{
			"fields": map[string]any{
				"given_name": "Camille", "family_name": "Martin", "email": "Camille.Martin@example.org",
				"phone": "06 39 98 12 34", "district": "d3", "interests": []string{"cycling"},
			},
			"consents": map[string]any{"newsletter": map[string]any{"granted": true, "source": "web form"}},
		}
		var created struct {
			ID     string         `json:"id"`
			Fields map[string]any `json:"fields"`
		}
		if code := call(t, "POST", s.url+"/v1/contacts", token, in, &created); code != http.StatusCreated {
			t.Fatalf("create: status %d", code)
		}
		var got struct {
			ID     string         `json:"id"`
			Fields map[string]any `json:"fields"`
		}
		if code := call(t, "GET", s.url+"/v1/contacts/"+created.ID, token, nil, &got); code != http.StatusOK {
			t.Fatalf("get: status %d", code)
		}
		if got.ID != created.ID || got.Fields["email"] != "camille.martin@example.org" || got.Fields["phone"] != "+33639981234" {
			t.Errorf("get = %+v", got)
		}
		var search struct {
			Contacts []json.RawMessage `json:"contacts"`
		}
		code := call(t, "POST", s.url+"/v1/contacts/search", token, map[string]string{"email": "camille.martin@example.org"}, &search)
		if code != http.StatusOK || len(search.Contacts) != 1 {
			t.Errorf("search: status %d, %d contacts", code, len(search.Contacts))
		}
		if code := call(t, "GET", s.url+"/v1/contacts/"+created.ID, "coffre_aaaaaaaaaaaaaaaa_"+strings.Repeat("A", 43), nil, nil); code != http.StatusUnauthorized {
			t.Errorf("get with a forged token: status %d", code)
		}

		// The server stops and starts again on the same data: no new
		// token, the contact is still there.
		s.close(t)
		s2 := serve(t, b.env)
		if out := s2.stdout.String(); out != "" {
			t.Errorf("second serve printed %q", out)
		}
		if code := call(t, "GET", s2.url+"/v1/contacts/"+created.ID, token, nil, &got); code != http.StatusOK {
			t.Fatalf("get after restart: status %d", code)
		}
		if code := call(t, "DELETE", s2.url+"/v1/contacts/"+created.ID, token, nil, nil); code != http.StatusNoContent {
			t.Errorf("erase: status %d", code)
		}
		if code := call(t, "GET", s2.url+"/v1/contacts/"+created.ID, token, nil, nil); code != http.StatusNotFound {
			t.Errorf("get after erase: status %d", code)
		}
		s2.close(t) // writes the log lines it batched
		lines := strings.Split(strings.TrimSpace(s2.logs.String()), "\n")
		if len(lines) < 4 {
			t.Errorf("server logged %d lines for three requests and its start", len(lines))
		}
		for _, line := range lines {
			if !json.Valid([]byte(line)) {
				t.Errorf("log line is not JSON: %q", line)
			}
		}
	})
}

func TestServe_RootKeyFromEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{main.EnvDataDir: dir, main.EnvRootKey: randomRootKey()}
	s := serve(t, env)
	if !tokenRE.MatchString(s.stdout.String()) {
		t.Fatalf("serve stdout = %q, want the first admin token", s.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); err == nil {
		t.Error("serve wrote root.key although COFFRE_ROOT_KEY gives the key")
	}
	if code := call(t, "GET", s.url+"/healthz", "", nil, nil); code != http.StatusOK {
		t.Errorf("healthz: status %d", code)
	}
}

func TestServe_ExistingFolderWithoutKey(t *testing.T) {
	dir := t.TempDir() // exists, but holds no key
	m, _, _ := newMain(map[string]string{main.EnvDataDir: dir})
	err := m.Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"})
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "no root key") {
		t.Errorf("serve on a keyless folder: %v", err)
	}
}

func TestMigrate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		if b.name == "sqlite" {
			if _, stderr, code := run(t, b.env, "migrate"); code != 1 || !strings.Contains(stderr, "run coffre init") {
				t.Errorf("migrate without a data folder: exit %d, %q", code, stderr)
			}
			if err := os.MkdirAll(b.env[main.EnvDataDir], 0o700); err != nil {
				t.Fatal(err)
			}
		}
		stdout, _ := mustRun(t, b.env, "migrate")
		if !strings.HasPrefix(stdout, "applied 001_") {
			t.Errorf("first migrate = %q, want the migrations applied", stdout)
		}
		stdout, _ = mustRun(t, b.env, "migrate")
		if !strings.Contains(stdout, "up to date") {
			t.Errorf("second migrate = %q, want up to date", stdout)
		}
	})
}

func TestDemo(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		mustRun(t, b.env, "init")
		stdout, stderr := mustRun(t, b.env, "demo", "--contacts", "3000", "--seed", "4", "--batch", "1000")
		if !strings.HasPrefix(stdout, "loaded 3000 contacts into tenant demo in ") {
			t.Errorf("demo stdout = %q", stdout)
		}
		if !strings.Contains(stderr, "demo: 3000/3000 contacts (100%)") {
			t.Errorf("demo progress = %q", stderr)
		}
		// The same people again conflict on their e-mail addresses …
		_, stderr, code := run(t, b.env, "demo", "--contacts", "10", "--seed", "4")
		if code != 1 || !strings.Contains(stderr, "--start 10") {
			t.Errorf("demo again: exit %d, stderr %q", code, stderr)
		}
		// … and --start goes past them.
		mustRun(t, b.env, "demo", "--contacts", "10", "--seed", "4", "--start", "3000")

		// The demo tenant's contacts are readable through the API.
		token, _ := mustRun(t, b.env, "token", "create", "--tenant", "demo", "--role", "agent")
		s := serve(t, b.env)
		var search struct {
			Contacts []struct {
				ID string `json:"id"`
			} `json:"contacts"`
		}
		email := demoEmail(t, 4, 42)
		code = call(t, "POST", s.url+"/v1/contacts/search", strings.TrimSpace(token), map[string]string{"email": email}, &search)
		if code != http.StatusOK || len(search.Contacts) != 1 {
			t.Errorf("search a demo contact: status %d, %d found", code, len(search.Contacts))
		}
	})
}

// randomRootKey returns the text form of a random root key.
func randomRootKey() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkNoStackTrace fails if s looks like a panic.
func checkNoStackTrace(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, "goroutine ") || strings.Contains(s, "panic:") {
		t.Errorf("output holds a stack trace: %s", s)
	}
}
