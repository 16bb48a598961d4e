package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/audit"
	main "github.com/coffre/coffre/cmd/coffre"
	"github.com/coffre/coffre/vault/synth"
)

// markerLen is the length of a marker: "MRK" and 16 hex digits.
const markerLen = 3 + 16

// newMarker returns a unique marker string.
func newMarker() string {
	var b [8]byte
	rand.Read(b[:])
	return "MRK" + hex.EncodeToString(b[:])
}

// markerSet finds planted markers in raw bytes, whatever their case.
type markerSet map[string]bool

func (ms markerSet) add(m string) string {
	ms[strings.ToLower(m)] = true
	return m
}

// find returns the markers that occur in b, compared case-insensitively
// (ASCII only, so binary data is not reshaped).
func (ms markerSet) find(b []byte) []string {
	low := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	var found []string
	for i := 0; i+markerLen <= len(low); i++ {
		if low[i] == 'm' && low[i+1] == 'r' && low[i+2] == 'k' && ms[string(low[i:i+markerLen])] {
			found = append(found, string(low[i:i+markerLen]))
		}
	}
	return found
}

// TestNoPlaintextAtRest plants 1,000 unique marker strings in contact
// fields through the HTTP API (names, e-mail local parts, address, notes,
// interests, consent source and proof), exercises reads, searches,
// updates and failing requests carrying more markers, and then checks
// that no marker appears anywhere at rest: every table of the PostgreSQL
// schema (text form and raw bytea), every file of the data folder (SQLite
// database, -wal and -shm, while running and after the checkpoint at
// close), the server's whole output, and the whole audit log as exported
// (through the API and coffre audit export) and listed.
func TestNoPlaintextAtRest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := serve(t, b.env)
		token := agentToken(t, b.env, "default")
		ms := markerSet{}
		var sent strings.Builder // what the test sent: the positive control

		const contacts = 125 // × 8 markers = 1,000
		ids := make([]string, 0, contacts)
		emails := make([]string, 0, contacts)
		for i := 0; i < contacts; i++ {
			email := strings.ToLower(ms.add(newMarker())) + "@example.org"
			in := map[string]any{
				"fields": map[string]any{
					"given_name":  ms.add(newMarker()),
					"family_name": "de " + ms.add(newMarker()),
					"email":       email,
					"address":     "12 rue " + ms.add(newMarker()),
					"notes":       "Rappeler " + ms.add(newMarker()) + " demain.",
					"interests":   []string{ms.add(newMarker()), "cycling"},
					"phone":       "06 39 98 00 01",
					"district":    "d11",
				},
				"consents": map[string]any{
					"newsletter": map[string]any{"granted": true, "source": ms.add(newMarker()), "proof": ms.add(newMarker())},
				},
			}
			body, _ := json.Marshal(in)
			sent.Write(body)
			var created struct {
				ID string `json:"id"`
			}
			if code := call(t, "POST", s.url+"/v1/contacts", token, in, &created); code != http.StatusCreated {
				t.Fatalf("create %d: status %d", i, code)
			}
			ids = append(ids, created.ID)
			emails = append(emails, email)
		}
		if len(ms) != 1000 {
			t.Fatalf("planted %d markers, want 1000", len(ms))
		}

		// Reads, searches and updates.
		for i, id := range ids {
			if i%5 == 0 {
				if code := call(t, "GET", s.url+"/v1/contacts/"+id, token, nil, nil); code != http.StatusOK {
					t.Fatalf("get: status %d", code)
				}
				if code := call(t, "POST", s.url+"/v1/contacts/search", token, map[string]string{"email": emails[i]}, nil); code != http.StatusOK {
					t.Fatalf("search: status %d", code)
				}
			}
			if i%10 == 0 {
				patch := map[string]any{"fields": map[string]any{"notes": "Mis à jour " + ms.add(newMarker())}}
				if code := call(t, "PATCH", s.url+"/v1/contacts/"+id, token, patch, nil); code != http.StatusOK {
					t.Fatalf("update: status %d", code)
				}
			}
		}
		// Failing requests whose bodies carry markers must not log them.
		bad := []map[string]any{
			{"fields": map[string]any{"email": ms.add(newMarker()) + " not an address"}},
			{"fields": map[string]any{"email": ms.add(newMarker()) + "@example.org", "phone": ms.add(newMarker())}},
			{"fields": map[string]any{"postal_code": ms.add(newMarker())}},
			{"fields": map[string]any{"support_level": ms.add(newMarker())}},
			{"fields": map[string]any{"birth_date": ms.add(newMarker())}},
			{"fields": map[string]any{ms.add(newMarker()): "x"}},
			{"fields": map[string]any{"given_name": 12}, "consents": map[string]any{ms.add(newMarker()): map[string]any{"granted": true}}},
			{"fields": map[string]any{"email": emails[0]}}, // conflict
		}
		for _, in := range bad {
			if code := call(t, "POST", s.url+"/v1/contacts", token, in, nil); code < 400 {
				t.Fatalf("bad create: status %d", code)
			}
		}
		for _, q := range []map[string]string{{"phone": ms.add(newMarker())}, {"email": ms.add(newMarker())}, {"email": ms.add(newMarker()) + "@example.org"}} {
			call(t, "POST", s.url+"/v1/contacts/search", token, q, nil)
		}
		call(t, "PATCH", s.url+"/v1/contacts/"+ids[1], token, map[string]any{"fields": map[string]any{"phone": ms.add(newMarker())}}, nil)
		// Malformed JSON holding a marker.
		req, _ := http.NewRequest("POST", s.url+"/v1/contacts", strings.NewReader(`{"fields": {"notes": "`+ms.add(newMarker())+`"`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		// A marker as bearer token: credentials are not logged either.
		call(t, "GET", s.url+"/v1/contacts/"+ids[0], ms.add(newMarker()), nil, nil)

		// The check finds markers where they are.
		if found := ms.find([]byte(sent.String())); len(found) < 1000 {
			t.Fatalf("positive control: found %d markers in the requests sent, want ≥ 1000", len(found))
		}

		assertNone := func(where string, b []byte) {
			t.Helper()
			if found := ms.find(b); len(found) > 0 {
				t.Errorf("%s holds %d planted markers in plaintext (first %s)", where, len(found), found[0])
			}
		}

		// The whole audit log, as a DPO gets it through the API (the
		// tenant's view), as the operator exports it (every entry in full),
		// and as the entries listing shows it.
		out, _ := mustRun(t, b.env, "token", "create", "--tenant", "default", "--role", "dpo")
		dpo := strings.TrimSpace(out)
		code, apiExport := get(t, s.url+"/v1/audit/export", dpo)
		if code != http.StatusOK {
			t.Fatalf("GET /v1/audit/export = %d", code)
		}
		fullExport, _ := mustRun(t, b.env, "audit", "export")
		code, listing := get(t, s.url+"/v1/audit/entries?limit=1000", dpo)
		if code != http.StatusOK {
			t.Fatalf("GET /v1/audit/entries = %d", code)
		}
		for what, data := range map[string][]byte{"audit export (API)": apiExport, "audit export (coffre audit export)": []byte(fullExport), "audit entries listing": listing} {
			// Positive control: the log holds every operation above.
			if n := bytes.Count(data, []byte(`"action":"contact.create"`)); n < contacts {
				t.Errorf("%s records %d creations, want at least %d", what, n, contacts)
			}
			assertNone(what, data)
		}
		if n := bytes.Count([]byte(fullExport), []byte("\n")); n < contacts+50 {
			t.Errorf("the exported log has %d lines, want the whole history", n)
		}
		vkey, _ := mustRun(t, map[string]string{main.EnvDataDir: b.env[main.EnvDataDir]}, "audit", "public-key")
		if _, err := audit.Verify(context.Background(), strings.NewReader(fullExport), vkey, audit.VerifyOptions{}); err != nil {
			t.Errorf("the exported log does not verify: %v", err)
		}
		// scanDir checks every file of the data folder and returns how many
		// bytes it read and whether the audit action names (plaintext by
		// design) were among them: proof that it read the live database.
		scanDir := func(phase string) (int, bool) {
			n, sawAudit := 0, false
			filepath.WalkDir(b.env[main.EnvDataDir], func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("read %s: %v", path, err)
					return nil
				}
				n += len(data)
				sawAudit = sawAudit || strings.Contains(string(data), "contact.create")
				assertNone(phase+" "+filepath.Base(path), data)
				return nil
			})
			return n, sawAudit
		}

		if b.name == "postgres" {
			scanPostgres(t, b.env[main.EnvDatabaseURL], 100_000, assertNone)
		} else {
			// While the server runs: the database, its -wal and -shm.
			if _, err := os.Stat(filepath.Join(b.env[main.EnvDataDir], "coffre.db-wal")); err != nil {
				t.Errorf("no write-ahead log while serving: %v", err)
			}
			if n, sawAudit := scanDir("running:"); n < 100_000 || !sawAudit {
				t.Errorf("scanned %d bytes of SQLite files (audit actions seen: %v)", n, sawAudit)
			}
		}
		s.close(t) // checkpoints the SQLite log
		if _, err := os.Stat(filepath.Join(b.env[main.EnvDataDir], "coffre.db-wal")); err == nil {
			t.Log("the write-ahead log survived the close")
		}
		if n, sawAudit := scanDir("closed:"); b.name == "sqlite" && (n < 100_000 || !sawAudit) {
			t.Errorf("scanned %d bytes of SQLite files after close (audit actions seen: %v)", n, sawAudit)
		}
		assertNone("server standard output", s.stdout.Bytes())
		logs := s.logs.Bytes()
		if len(logs) < 1000 || !strings.Contains(string(logs), `"status":201`) {
			t.Errorf("server logs look empty (%d bytes)", len(logs))
		}
		assertNone("server logs", logs)
	})
}

// scanPostgres reads every table of the test schema, as text and every
// bytea (or bytea[]) column as raw bytes, and calls check on each; fewer
// than minBytes read, or no audit entry seen, fails the test: the scan did
// not read the live data.
func scanPostgres(t *testing.T, url string, minBytes int, check func(where string, b []byte)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 4 {
		t.Fatalf("found only tables %v in the schema", tables)
	}
	total, sawAudit := 0, false
	for _, table := range tables {
		ident := pgx.Identifier{table}.Sanitize()
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+ident+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			total += len(s)
			sawAudit = sawAudit || strings.Contains(s, "contact.create")
			check("table "+table, []byte(s))
		}
		rows, err = conn.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND udt_name IN ('bytea', '_bytea')`, table)
		if err != nil {
			t.Fatal(err)
		}
		type col struct{ name, typ string }
		cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
			var c col
			return c, r.Scan(&c.name, &c.typ)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			expr := pgx.Identifier{c.name}.Sanitize()
			if c.typ == "ARRAY" {
				expr = "unnest(" + expr + ")"
			}
			rows, err := conn.Query(ctx, `SELECT `+expr+` FROM `+ident)
			if err != nil {
				t.Fatal(err)
			}
			vals, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				total += len(v)
				check("table "+table+" column "+c.name, v)
			}
		}
	}
	if total < minBytes || !sawAudit {
		t.Errorf("scanned %d bytes of PostgreSQL data (audit actions seen: %v)", total, sawAudit)
	}
}

// TestBench_SQLiteNoErrors drives the SQLite server with the bench at
// concurrency 16: no request may fail (no "database is locked").
func TestBench_SQLiteNoErrors(t *testing.T) {
	env := map[string]string{main.EnvDataDir: filepath.Join(t.TempDir(), "data")}
	s := serve(t, env)
	token := agentToken(t, env, "default")
	duration := "3s"
	if testing.Short() {
		duration = "1s"
	}
	for _, ops := range []string{"create,get,search,erase", "get:6,search:2,create:1,erase:1"} {
		stdout, stderr := mustRun(t, map[string]string{main.EnvToken: token}, "bench", "--url", s.url,
			"--concurrency", "16", "--duration", duration, "--warmup", "300ms", "--requests", "20000",
			"--ops", ops, "--preload", "50", "--json")
		var rep struct {
			Concurrency int     `json:"concurrency"`
			DurationS   float64 `json:"duration_s"`
			Ops         []struct {
				Op       string           `json:"op"`
				Requests int64            `json:"requests"`
				OK       int64            `json:"ok"`
				OpsPerS  float64          `json:"ops_per_s"`
				P50Ms    float64          `json:"p50_ms"`
				P99Ms    float64          `json:"p99_ms"`
				MaxMs    float64          `json:"max_ms"`
				Errors   map[string]int64 `json:"errors"`
			} `json:"ops"`
			Total struct {
				Requests int64            `json:"requests"`
				OK       int64            `json:"ok"`
				Errors   map[string]int64 `json:"errors"`
			} `json:"total"`
			ServerCPUUs *float64 `json:"server_cpu_us_per_request"`
			DriverCPUUs *float64 `json:"driver_cpu_us_per_request"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("bench --json output: %v\n%s\n%s", err, stdout, stderr)
		}
		if rep.Concurrency != 16 || len(rep.Ops) != 4 {
			t.Errorf("report = %+v", rep)
		}
		// The server (in this test process, as the driver is) reports its
		// CPU time in /metrics: both figures are there and positive.
		if rep.ServerCPUUs == nil || *rep.ServerCPUUs <= 0 || rep.DriverCPUUs == nil || *rep.DriverCPUUs <= 0 {
			t.Errorf("ops %s: CPU per request: server %v, driver %v", ops, rep.ServerCPUUs, rep.DriverCPUUs)
		}
		if rep.Total.OK == 0 || rep.Total.Requests != rep.Total.OK || len(rep.Total.Errors) != 0 {
			t.Errorf("ops %s: %d of %d requests ok, errors %v", ops, rep.Total.OK, rep.Total.Requests, rep.Total.Errors)
		}
		for _, o := range rep.Ops {
			if o.OK == 0 || o.P50Ms <= 0 || o.P99Ms < o.P50Ms || o.MaxMs < o.P99Ms {
				t.Errorf("ops %s: %s: %+v", ops, o.Op, o)
			}
			t.Logf("%-7s %6d ok  %7.1f/s  p50 %6.2fms  p99 %7.2fms  max %7.2fms", o.Op, o.OK, o.OpsPerS, o.P50Ms, o.P99Ms, o.MaxMs)
		}
	}
	if strings.Contains(s.logs.String(), "database is locked") {
		t.Error("the server logged 'database is locked'")
	}

	// The text report.
	stdout, _ := mustRun(t, map[string]string{}, "bench", "--url", s.url, "--token", token,
		"--concurrency", "2", "--duration", "200ms", "--warmup", "0", "--requests", "40", "--preload", "2")
	for _, want := range []string{"op", "create", "get", "search", "erase", "total", "p99", "CPU per request: server"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("bench report lacks %q:\n%s", want, stdout)
		}
	}
	// A wrong token fails fast with a clear message.
	_, stderr, code := run(t, map[string]string{}, "bench", "--url", s.url, "--token", "coffre_wrong", "--duration", "1s")
	if code != 1 || !strings.Contains(stderr, "401") || !strings.Contains(stderr, "check --token") {
		t.Errorf("bench with a wrong token: exit %d, %q", code, stderr)
	}
}

// demoEmail returns the e-mail address of the i-th demo contact of seed.
func demoEmail(t *testing.T, seed int64, i int) string {
	t.Helper()
	return synth.Contact(seed, i).Fields["email"].(string)
}
