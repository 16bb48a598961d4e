package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	_ "modernc.org/sqlite" // the "sqlite" driver, for direct access to the data folder's database

	"github.com/coffre/coffre/audit"
	main "github.com/coffre/coffre/cmd/coffre"
	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/postgres"
	"github.com/coffre/coffre/vault/postgres/pgtest"
	"github.com/coffre/coffre/vault/sqlite"
)

// get sends a GET and returns the status and raw body.
func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}

// writeFile writes b to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuditKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		stdout, stderr := mustRun(t, b.env, "init", "--tenant", "mairie", "--origin", "mairie.example.org/audit")
		dir := b.env[main.EnvDataDir]
		keyPath, pubPath := filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.pub")
		fi, err := os.Stat(keyPath)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("audit.key: %v, mode %v; want 0600", err, fi.Mode().Perm())
		}
		skey, _ := os.ReadFile(keyPath)
		if !strings.HasPrefix(string(skey), "PRIVATE+KEY+mairie.example.org/audit+") {
			t.Errorf("audit.key does not hold a signer key named by the origin")
		}
		if strings.Contains(stdout+stderr, strings.TrimSpace(string(skey))) {
			t.Error("init printed the audit signing key")
		}
		if !strings.Contains(stderr, "mairie.example.org/audit") || !strings.Contains(stderr, "audit.key") {
			t.Errorf("init does not say where the audit key is: %q", stderr)
		}

		vkey, _ := mustRun(t, b.env, "audit", "public-key")
		pub, _ := os.ReadFile(pubPath)
		v, err := audit.NewVerifier(vkey)
		if err != nil || vkey != string(pub) || v.Origin() != "mairie.example.org/audit" || strings.Count(vkey, "\n") != 1 {
			t.Errorf("audit public-key = %q (%v), want the verifier key of audit.pub alone on a line", vkey, err)
		}

		// init never overwrites the key.
		if _, _, code := run(t, b.env, "init", "--tenant", "mairie"); code != 1 {
			t.Errorf("second init: exit %d", code)
		}
		if again, _ := os.ReadFile(keyPath); !bytes.Equal(again, skey) {
			t.Error("second init changed audit.key")
		}

		// A database holding a signed log is not initialised afresh from
		// another data folder, with a key that would not verify it.
		if b.name == "postgres" {
			serve(t, b.env).close(t) // signs a checkpoint
			env := clone(b.env)
			env[main.EnvDataDir] = filepath.Join(t.TempDir(), "data")
			if _, stderr, code := run(t, env, "init", "--tenant", "autre"); code != 1 || !strings.Contains(stderr, "already holds a signed audit log") {
				t.Errorf("init over a signed log: exit %d, %q", code, stderr)
			}
			if exists(filepath.Join(env[main.EnvDataDir], "audit.key")) {
				t.Error("a refused init left an audit key behind")
			}
		}

		// The log's name is fixed when its key is made.
		if _, stderr, code := run(t, b.env, "serve", "--addr", "127.0.0.1:0", "--origin", "other.example.org/audit"); code != 2 || !strings.Contains(stderr, "cannot change") {
			t.Errorf("serve --origin with another name: exit %d, %q", code, stderr)
		}

		// A key others may read is refused.
		if err := os.Chmod(keyPath, 0o644); err != nil {
			t.Fatal(err)
		}
		m, _, errb := newMain(b.env)
		err = m.Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"})
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("serve with a readable audit key: %v %s", err, errb)
		}
		os.Chmod(keyPath, 0o600)
	})

	t.Run("DefaultOrigin", func(t *testing.T) {
		env := map[string]string{main.EnvDataDir: filepath.Join(t.TempDir(), "data")}
		mustRun(t, env, "init")
		vkey, _ := mustRun(t, env, "audit", "public-key")
		v, err := audit.NewVerifier(vkey)
		if err != nil || !regexp.MustCompile(`^coffre/[0-9a-f]{8}$`).MatchString(v.Origin()) {
			t.Errorf("default origin = %q (%v), want coffre/ and 8 hex digits", v.Origin(), err)
		}
	})

	t.Run("BadOrigin", func(t *testing.T) {
		env := map[string]string{main.EnvDataDir: filepath.Join(t.TempDir(), "data")}
		for _, o := range []string{"two words", "a+b", " "} {
			if _, stderr, code := run(t, env, "init", "--origin", o); code != 2 || !strings.Contains(stderr, "invalid --origin") {
				t.Errorf("init --origin %q: exit %d, %q", o, code, stderr)
			}
		}
		if exists(env[main.EnvDataDir]) {
			t.Error("a refused init created the data folder")
		}
	})

	// A data folder made before the audit log was signed has no key: serve
	// makes one, once; later, a missing key is refused, since the log holds
	// checkpoints signed by the lost one.
	t.Run("LegacyDataFolder", func(t *testing.T) {
		env := map[string]string{main.EnvDataDir: filepath.Join(t.TempDir(), "data")}
		mustRun(t, env, "init")
		dir := env[main.EnvDataDir]
		os.Remove(filepath.Join(dir, "audit.key"))
		os.Remove(filepath.Join(dir, "audit.pub"))
		if _, stderr, code := run(t, env, "audit", "checkpoint"); code != 1 || !strings.Contains(stderr, "does not exist") {
			t.Errorf("audit checkpoint without a key: exit %d, %q", code, stderr)
		}
		s := serve(t, env)
		if !strings.Contains(s.logs.String(), "had no audit signing key") || !exists(filepath.Join(dir, "audit.key")) {
			t.Fatalf("serve did not create the missing key: %s", s.logs)
		}
		s.close(t) // cuts a checkpoint
		os.Remove(filepath.Join(dir, "audit.key"))
		m, _, _ := newMain(env)
		err := m.Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"})
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "restore the key") {
			t.Errorf("serve without the key of a signed log: %v", err)
		}
		if exists(filepath.Join(dir, "audit.key")) {
			t.Error("serve replaced the key of a signed log")
		}
		// Nor is another key of the same name taken for the lost one.
		pub, _ := os.ReadFile(filepath.Join(dir, "audit.pub"))
		origin, _, _ := strings.Cut(string(pub), "+")
		os.Remove(filepath.Join(dir, "audit.pub"))
		skey, vkey, _ := audit.GenerateKey(origin)
		if err := audit.WriteKeyFiles(filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.pub"), skey, vkey); err != nil {
			t.Fatal(err)
		}
		m, _, _ = newMain(env)
		err = m.Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"})
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "was not signed with the key") {
			t.Errorf("serve with another key for a signed log: %v", err)
		}
	})
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// auditVault is a served vault with history in its audit log.
type auditVault struct {
	b        *backend
	s        *server
	agent    string // agent token of tenant default
	dpo      string // dpo token of tenant default
	vkey     string
	dir      string // a scratch folder for exports and checkpoints
	contacts []string
}

// newAuditVault serves a new vault and makes more than one tile (256
// entries) of history through the API: contacts created and read in
// tenant default, and a few in tenant autre.
func newAuditVault(t *testing.T, b *backend) *auditVault {
	t.Helper()
	s := serve(t, b.env)
	v := &auditVault{b: b, s: s, agent: agentToken(t, b.env, "default"), dir: t.TempDir()}
	out, _ := mustRun(t, b.env, "token", "create", "--tenant", "default", "--role", "dpo")
	v.dpo = strings.TrimSpace(out)
	out, _ = mustRun(t, b.env, "token", "create", "--tenant", "autre", "--role", "agent")
	other := strings.TrimSpace(out)
	out, _ = mustRun(t, map[string]string{main.EnvDataDir: b.env[main.EnvDataDir]}, "audit", "public-key")
	v.vkey = strings.TrimSpace(out)

	for i := 0; i < 10; i++ {
		var c struct {
			ID string `json:"id"`
		}
		in := map[string]any{"fields": map[string]any{"given_name": fmt.Sprintf("Audité%d", i), "district": "d3"}}
		if code := call(t, "POST", s.url+"/v1/contacts", v.agent, in, &c); code != http.StatusCreated {
			t.Fatalf("create: status %d", code)
		}
		v.contacts = append(v.contacts, c.ID)
		if code := call(t, "POST", s.url+"/v1/contacts", other, in, nil); i < 3 && code != http.StatusCreated {
			t.Fatalf("create in autre: status %d", code)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 300; i += 8 {
				req, _ := http.NewRequest("GET", s.url+"/v1/contacts/"+v.contacts[i%10], nil)
				req.Header.Set("Authorization", "Bearer "+v.agent)
				req.Header.Set("Coffre-Purpose", "casework")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("get: status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return v
}

// checkpoint fetches a fresh signed checkpoint through the API, saves it
// and returns its path and size.
func (v *auditVault) checkpoint(t *testing.T, name string) (string, uint64) {
	t.Helper()
	code, note := get(t, v.s.url+"/v1/audit/checkpoint", v.dpo)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/audit/checkpoint = %d %s", code, note)
	}
	ver, _ := audit.NewVerifier(v.vkey)
	c, err := ver.Open(note)
	if err != nil {
		t.Fatalf("the API's checkpoint does not open: %v", err)
	}
	return writeFile(t, v.dir, name, note), c.Size
}

// apiExport fetches the dpo's export through the API and saves it.
func (v *auditVault) apiExport(t *testing.T, name string) (string, []byte) {
	t.Helper()
	code, b := get(t, v.s.url+"/v1/audit/export", v.dpo)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/audit/export = %d %s", code, b)
	}
	return writeFile(t, v.dir, name, b), b
}

// export runs coffre audit export -o into a new file and returns its path.
func (v *auditVault) export(t *testing.T, name string, args ...string) string {
	t.Helper()
	p := filepath.Join(v.dir, name)
	mustRun(t, v.b.env, append([]string{"audit", "export", "-o", p}, args...)...)
	return p
}

// verify runs coffre audit verify with nothing but its arguments: no data
// folder, no database.
func (v *auditVault) verify(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, map[string]string{}, append([]string{"audit", "verify", "--key", v.vkey}, args...)...)
}

// wantFailure checks that a verification failed with exit status 1 and a
// one-line message naming want (the entry or range).
func wantFailure(t *testing.T, stdout, stderr string, code int, want string) {
	t.Helper()
	if code != 1 || stdout != "" {
		t.Errorf("verify: exit %d, stdout %q; want 1 and nothing", code, stdout)
	}
	last := lastLine(stderr)
	t.Logf("verify: %s", last)
	if !strings.Contains(last, "FAILED") || !strings.Contains(last, want) {
		t.Errorf("verify: %q, want a failure naming %q", last, want)
	}
	checkNoStackTrace(t, stderr)
}

func TestAuditCommands(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		v := newAuditVault(t, b)
		oldCP, oldSize := v.checkpoint(t, "old.checkpoint")
		apiPath, apiBody := v.apiExport(t, "api.jsonl")

		// The API's export verifies offline, as the tenant's view.
		stdout, stderr, code := v.verify(t, "--log", apiPath, "--checkpoint", oldCP)
		if code != 0 {
			t.Fatalf("verify the API export: exit %d: %s", code, stderr)
		}
		for _, want := range []string{"origin ", "tenant       default", "size ", "redacted)", "root ", "checkpoints "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("verify summary lacks %q:\n%s", want, stdout)
			}
		}
		if !strings.Contains(stderr, "audit verify: ") || !strings.Contains(stderr, "(100%)") {
			t.Errorf("verify shows no progress: %q", stderr)
		}
		if bytes.Contains(apiBody, []byte(`"tenant":"autre"`)) {
			t.Error("the dpo's export shows another tenant's entries")
		}

		// audit checkpoint prints the signed note, covering the API's.
		cp, stderr := mustRun(t, b.env, "audit", "checkpoint")
		ver, _ := audit.NewVerifier(v.vkey)
		c, err := ver.Open([]byte(cp))
		if err != nil || c.Size < oldSize {
			t.Fatalf("audit checkpoint = %q (%v), want a note of size ≥ %d", cp, err, oldSize)
		}
		if !strings.Contains(stderr, "keep it") {
			t.Errorf("audit checkpoint stderr = %q", stderr)
		}

		// The full log, to a file, while the server runs.
		full := v.export(t, "full.jsonl")
		stdout, _, code = v.verify(t, "--log", full, "--checkpoint", writeFile(t, v.dir, "cli.checkpoint", []byte(cp)), "--previous", apiPath)
		if code != 0 || !strings.Contains(stdout, "(full log)") || !strings.Contains(stdout, "extends      the previous export") {
			t.Errorf("verify the full export: exit %d, %s", code, stdout)
		}
		// The key from a file, the log from standard input is not needed.
		if _, stderr, code := run(t, map[string]string{}, "audit", "verify", "--log", full, "--key", filepath.Join(b.env[main.EnvDataDir], "audit.pub")); code != 0 {
			t.Errorf("verify with --key FILE: exit %d: %s", code, stderr)
		}
		// One tenant's view; to standard output.
		autre := v.export(t, "autre.jsonl", "--tenant", "autre")
		stdout, _, code = v.verify(t, "--log", autre)
		if code != 0 || !strings.Contains(stdout, "tenant       autre") {
			t.Errorf("verify autre's export: exit %d, %s", code, stdout)
		}
		out, stderr := mustRun(t, b.env, "audit", "export")
		if !strings.HasPrefix(out, `{"coffre_audit_export":1,`) || !strings.Contains(stderr, "exported the full log") {
			t.Errorf("audit export to stdout: %.80q…, stderr %q", out, stderr)
		}
		if _, stderr, code := run(t, b.env, "audit", "export", "-o", full); code != 1 || !strings.Contains(stderr, "never overwrites") {
			t.Errorf("audit export over an existing file: exit %d, %q", code, stderr)
		}
		saved := filepath.Join(v.dir, "saved.checkpoint")
		if _, stderr, code := v.verify(t, "--log", full, "--save-checkpoint", saved); code != 0 || !exists(saved) {
			t.Errorf("verify --save-checkpoint: exit %d, %s", code, stderr)
		}

		// Another log's key does not verify this one.
		_, other, _ := audit.GenerateKey(strings.SplitN(v.vkey, "+", 2)[0])
		_, stderr, code = run(t, map[string]string{}, "audit", "verify", "--log", full, "--key", other)
		wantFailure(t, "", stderr, code, "signature")

		// Usage.
		for _, args := range [][]string{
			{"audit", "verify", "--key", v.vkey},
			{"audit", "verify", "--log", full},
			{"audit", "verify", "--log", full, "--key", "not a key"},
			{"audit", "frobnicate"},
			{"audit"},
			{"audit", "export", "--tenant", "Not A Tenant"},
		} {
			if _, stderr, code := run(t, b.env, args...); code != 2 || strings.Count(stderr, "coffre: ") != 1 {
				t.Errorf("coffre %v: exit %d, %q; want a usage error", args, code, stderr)
			}
		}
		if _, stderr, code := v.verify(t, "--log", filepath.Join(v.dir, "missing.jsonl")); code != 1 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("verify a missing file: exit %d, %q", code, stderr)
		}
	})
}

func TestAuditHelp(t *testing.T) {
	_, stderr := mustRun(t, map[string]string{}, "audit", "-h")
	for _, sub := range []string{"verify", "export", "checkpoint", "public-key"} {
		if !strings.Contains(stderr, "  "+sub+" ") {
			t.Errorf("coffre audit -h does not list %s:\n%s", sub, stderr)
		}
	}
	_, stderr = mustRun(t, map[string]string{}, "audit", "verify", "-h")
	if !strings.HasPrefix(stderr, "Usage: coffre audit verify") || !strings.Contains(stderr, "-checkpoint") {
		t.Errorf("coffre audit verify -h = %q", stderr)
	}
}

// stmt is one SQL statement of a tamper, with ? placeholders.
type stmt struct {
	q    string
	args []any
}

// tamper runs statements on the vault's database directly, as its owner
// or a superuser can, with the append-only triggers out of the way:
// disabled on PostgreSQL (pgtest.Tamper), dropped and recreated on SQLite,
// which cannot disable them. The server must be stopped.
func (b *backend) tamper(t *testing.T, stmts ...stmt) {
	t.Helper()
	if b.name == "postgres" {
		var q strings.Builder
		for _, s := range stmts {
			q.WriteString(pgLiterals(t, s))
			q.WriteString(";\n")
		}
		pgtest.Tamper(t, b.env[main.EnvDatabaseURL], q.String())
		return
	}
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(b.env[main.EnvDataDir], "coffre.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'trigger'`)
	if err != nil {
		t.Fatal(err)
	}
	var triggers [][2]string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		triggers = append(triggers, [2]string{name, def})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(triggers) == 0 {
		t.Fatal("the SQLite database has no triggers to get out of the way")
	}
	for _, tr := range triggers {
		if _, err := tx.ExecContext(ctx, `DROP TRIGGER "`+tr[0]+`"`); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			t.Fatalf("tamper %q: %v", s.q, err)
		}
	}
	for _, tr := range triggers {
		if _, err := tx.ExecContext(ctx, tr[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// The triggers are back.
	if _, err := db.ExecContext(ctx, `DELETE FROM audit_entries WHERE seq = 0`); err == nil {
		t.Fatal("the SQLite triggers were not restored")
	}
}

// pgLiterals returns s with its ? placeholders replaced by PostgreSQL
// literals of its arguments (integers and byte strings).
func pgLiterals(t *testing.T, s stmt) string {
	t.Helper()
	var b strings.Builder
	n := 0
	for _, r := range s.q {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		switch v := s.args[n].(type) {
		case int:
			b.WriteString(strconv.Itoa(v))
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case []byte:
			b.WriteString(`'\x` + hex.EncodeToString(v) + `'::bytea`)
		default:
			t.Fatalf("pgLiterals: argument of type %T", v)
		}
		n++
	}
	return b.String()
}

// openStore opens the vault's store directly (the server must be
// stopped), for a tamper that needs to read the log.
func (b *backend) openStore(t *testing.T) vault.Store {
	t.Helper()
	ctx := context.Background()
	var s vault.Store
	var err error
	if b.name == "postgres" {
		s, err = postgres.Open(ctx, b.env[main.EnvDatabaseURL])
	} else {
		s, err = sqlite.Open(ctx, filepath.Join(b.env[main.EnvDataDir], "coffre.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storedSize returns the size of the stored tree head.
func storedSize(t *testing.T, s vault.Store) uint64 {
	t.Helper()
	h, err := s.AuditHead(context.Background())
	if err != nil || h == nil {
		t.Fatalf("AuditHead() = %v, %v", h, err)
	}
	tree, err := audit.UnmarshalTree(h)
	if err != nil {
		t.Fatal(err)
	}
	return tree.Size()
}

// rebuild returns the statements that replace the stored tree (nodes and
// head) with the one over leaves, and re-sign every stored checkpoint with
// signer over the new roots: what an attacker holding the log's private
// key does to make a rewritten history consistent.
func rebuild(t *testing.T, s vault.Store, leaves [][]byte, signer *audit.Signer) []stmt {
	t.Helper()
	ctx := context.Background()
	tree, nodes, err := (&audit.Tree{}).Append(leaves...)
	if err != nil {
		t.Fatal(err)
	}
	head, err := tree.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out := []stmt{{q: "DELETE FROM audit_nodes"}}
	for _, n := range nodes {
		out = append(out, stmt{"INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)", []any{int64(n.Level), int64(n.Index), n.Hash}})
	}
	out = append(out, stmt{"UPDATE audit_head SET tree = ?", []any{head}})
	cps, err := s.Checkpoints(ctx, 0, uint64(len(leaves)))
	if err != nil {
		t.Fatal(err)
	}
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	size := uint64(0)
	for _, c := range cps {
		for ; size < c.Size; size++ {
			r.Append(leaves[size], nil)
		}
		root := rfc6962.DefaultHasher.EmptyRoot()
		if c.Size > 0 {
			if root, err = r.GetRootHash(nil); err != nil {
				t.Fatal(err)
			}
		}
		note, err := signer.Sign(c.Size, root)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stmt{"UPDATE audit_checkpoints SET note = ? WHERE size = ?", []any{note, int64(c.Size)}})
	}
	return out
}

// TestAuditTamper edits the database behind a served vault directly, as a
// superuser, with the append-only triggers out of the way, and checks
// that coffre audit verify, given an export made after the edit, names
// the entry that was changed and exits 1.
func TestAuditTamper(t *testing.T) {
	const k = 100 // an entry of the first tile, which every edit targets
	scenarios := []struct {
		name string
		run  func(t *testing.T, v *auditVault, oldCP, before string, oldSize uint64)
	}{
		{"ChangedField", func(t *testing.T, v *auditVault, oldCP, before string, oldSize uint64) {
			v.b.tamper(t, stmt{"UPDATE audit_entries SET purpose = 'marketing' WHERE seq = ?", []any{k}})
			after := v.export(t, "after.jsonl")
			stdout, stderr, code := v.verify(t, "--log", after)
			wantFailure(t, stdout, stderr, code, fmt.Sprintf("entry %d ", k))
			if !strings.Contains(stderr, "does not match its leaf hash") {
				t.Errorf("verify: %q, want the reason", stderr)
			}
		}},
		{"DeletedEntry", func(t *testing.T, v *auditVault, oldCP, before string, oldSize uint64) {
			v.b.tamper(t, stmt{"DELETE FROM audit_entries WHERE seq = ?", []any{k}})
			after := v.export(t, "after.jsonl")
			stdout, stderr, code := v.verify(t, "--log", after)
			wantFailure(t, stdout, stderr, code, fmt.Sprintf("entry %d ", k))
			if !strings.Contains(stderr, "missing") {
				t.Errorf("verify: %q, want the reason", stderr)
			}
		}},
		{"SwappedEntries", func(t *testing.T, v *auditVault, oldCP, before string, oldSize uint64) {
			const other, parked = k + 50, 1 << 40
			v.b.tamper(t,
				stmt{"UPDATE audit_entries SET seq = ? WHERE seq = ?", []any{parked, k}},
				stmt{"UPDATE audit_entries SET seq = ? WHERE seq = ?", []any{k, other}},
				stmt{"UPDATE audit_entries SET seq = ? WHERE seq = ?", []any{other, parked}})
			after := v.export(t, "after.jsonl")
			stdout, stderr, code := v.verify(t, "--log", after)
			wantFailure(t, stdout, stderr, code, fmt.Sprintf("entry %d ", k))
		}},
		{"TruncatedTail", func(t *testing.T, v *auditVault, oldCP, before string, oldSize uint64) {
			// Cut the log back to k entries, consistently: the entries, the
			// nodes and checkpoints past k, and the head.
			s := v.b.openStore(t)
			tree, err := audit.LoadTree(context.Background(), s, k)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			head, _ := tree.MarshalBinary()
			v.b.tamper(t,
				stmt{"DELETE FROM audit_entries WHERE seq >= ?", []any{k}},
				stmt{"DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > ?", []any{k}},
				stmt{"DELETE FROM audit_checkpoints WHERE size > ?", []any{k}},
				stmt{"UPDATE audit_head SET tree = ?", []any{head}})
			after := v.export(t, "after.jsonl")
			// On its own, a log cut back and re-signed verifies: that is
			// what the old checkpoint is kept for.
			if stdout, stderr, code := v.verify(t, "--log", after); code != 0 || !strings.Contains(stdout, fmt.Sprintf("size         %d entries", k)) {
				t.Fatalf("verify the cut log alone: exit %d, %s %s", code, stdout, stderr)
			}
			stdout, stderr, code := v.verify(t, "--log", after, "--checkpoint", oldCP)
			wantFailure(t, stdout, stderr, code, fmt.Sprintf("entries %d to %d", k, oldSize-1))
			stdout, stderr, code = v.verify(t, "--log", after, "--previous", before)
			wantFailure(t, stdout, stderr, code, fmt.Sprintf("entries %d to", k))
		}},
		{"ForkResigned", func(t *testing.T, v *auditVault, oldCP, before string, oldSize uint64) {
			// The attacker rewrites entry k, recomputes its leaf hash, the
			// whole tree and every checkpoint, and signs them with the
			// log's own private key, stolen from the data folder.
			signer, err := audit.ReadSignerFile(filepath.Join(v.b.env[main.EnvDataDir], "audit.key"))
			if err != nil {
				t.Fatal(err)
			}
			s := v.b.openStore(t)
			size := storedSize(t, s)
			es, leaves, err := s.SequencedEntries(context.Background(), 0, size)
			if err != nil || uint64(len(es)) != size {
				t.Fatalf("SequencedEntries = %d, %v", len(es), err)
			}
			es[k].Purpose = "marketing"
			if leaves[k], err = es[k].LeafHash(); err != nil {
				t.Fatal(err)
			}
			stmts := append([]stmt{{"UPDATE audit_entries SET purpose = 'marketing', leaf_hash = ? WHERE seq = ?", []any{leaves[k], k}}},
				rebuild(t, s, leaves, signer)...)
			s.Close()
			v.b.tamper(t, stmts...)
			after := v.export(t, "after.jsonl")
			// Consistent in itself, and signed by the log's key …
			if _, stderr, code := v.verify(t, "--log", after); code != 0 {
				t.Fatalf("verify the re-signed log alone: exit %d, %s", code, stderr)
			}
			// … but not an extension of what the DPO kept.
			stdout, stderr, code := v.verify(t, "--log", after, "--checkpoint", oldCP)
			wantFailure(t, stdout, stderr, code, fmt.Sprintf("entries 0 to %d", oldSize-1))
			if !strings.Contains(stderr, "differs from an earlier checkpoint") {
				t.Errorf("verify: %q, want the reason", stderr)
			}
			stdout, stderr, code = v.verify(t, "--log", after, "--previous", before)
			wantFailure(t, stdout, stderr, code, fmt.Sprintf("entry %d ", k))
		}},
	}
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				b := &backend{name: b.name, env: clone(b.env)}
				b.env[main.EnvDataDir] = filepath.Join(t.TempDir(), "data")
				if b.name == "postgres" {
					b.env[main.EnvDatabaseURL] = pgtest.NewSchema(t)
				}
				v := newAuditVault(t, b)
				oldCP, oldSize := v.checkpoint(t, "old.checkpoint")
				before, _ := v.apiExport(t, "before.jsonl")
				if oldSize <= 256 {
					t.Fatalf("the log holds %d entries, want more than one tile", oldSize)
				}
				// Untouched, the log verifies.
				if _, stderr, code := v.verify(t, "--log", before, "--checkpoint", oldCP); code != 0 {
					t.Fatalf("verify before tampering: exit %d, %s", code, stderr)
				}
				v.s.close(t)
				sc.run(t, v, oldCP, before, oldSize)
			})
		}
	})
}

// TestAuditVerifyProgress: verification reports its progress on long logs,
// with a rate.
func TestAuditVerifyProgress(t *testing.T) {
	env := map[string]string{main.EnvDataDir: filepath.Join(t.TempDir(), "data")}
	mustRun(t, env, "init")
	s := sqliteStore(t, env)
	entries := make([]*vault.AuditEntry, 0, 40000)
	now := time.Now()
	for i := 0; i < cap(entries); i++ {
		entries = append(entries, &vault.AuditEntry{Time: now, TenantID: "default", ActorID: "bulk", ActorRole: "agent",
			Action: vault.ActionContactRead, Subject: vault.NewID(now), Outcome: vault.OutcomeOK})
	}
	if err := s.AppendAudit(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	s.Close()
	log := filepath.Join(t.TempDir(), "log.jsonl")
	mustRun(t, env, "audit", "export", "-o", log)
	vkey, _ := mustRun(t, env, "audit", "public-key")
	stdout, stderr := mustRun(t, map[string]string{}, "audit", "verify", "--log", log, "--key", strings.TrimSpace(vkey))
	if !strings.Contains(stdout, "size         400") {
		t.Errorf("summary = %s", stdout)
	}
	if !regexp.MustCompile(`audit verify: 400\d\d/400\d\d entries \(100%\), [\d,]+/s`).MatchString(stderr) {
		t.Errorf("no progress with a rate: %q", stderr)
	}
}

// sqliteStore opens the SQLite store of a data folder.
func sqliteStore(t *testing.T, env map[string]string) vault.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(env[main.EnvDataDir], "coffre.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
