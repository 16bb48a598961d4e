package main_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	main "github.com/coffre/coffre/cmd/coffre"
	"github.com/coffre/coffre/vault/mail/mailtest"
)

// dsrVault is a served vault with an SMTP server on loopback, an agent and
// a DPO.
type dsrVault struct {
	b          *backend
	s          *server
	smtp       *mailtest.Server
	agent, dpo string
	people     int
}

func newDSRVault(t *testing.T, b *backend) *dsrVault {
	t.Helper()
	smtp := mailtest.Start(t, &mailtest.Server{})
	mustRun(t, b.env, "init")
	v := &dsrVault{b: b, smtp: smtp, agent: agentToken(t, b.env, "default")}
	out, _ := mustRun(t, b.env, "token", "create", "--tenant", "default", "--role", "dpo")
	v.dpo = strings.TrimSpace(out)
	v.s = serve(t, b.env, "--smtp-url", "smtp+insecure://"+smtp.Addr+"?from=dpo@mairie.test")
	return v
}

// do sends one API call with a purpose and returns the status and body.
func (v *dsrVault) do(t *testing.T, method, path, token, purpose string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, v.s.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if purpose != "" {
		req.Header.Set("Coffre-Purpose", purpose)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (v *dsrVault) must(t *testing.T, want int, method, path, token, purpose string, body any, out any) {
	t.Helper()
	code, b := v.do(t, method, path, token, purpose, body)
	if code != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// person creates a contact as the agent and returns its id.
func (v *dsrVault) person(t *testing.T, given, email string) string {
	t.Helper()
	var c struct{ ID string }
	v.people++
	phone := fmt.Sprintf("06 11 22 33 %02d", v.people)
	v.must(t, 201, "POST", "/v1/contacts", v.agent, "casework", map[string]any{
		"fields":   map[string]any{"given_name": given, "family_name": "Martin", "email": email, "phone": phone, "district": "d3", "notes": "Dossier " + given},
		"consents": map[string]any{"newsletter": map[string]any{"granted": true, "source": "formulaire"}, "events": map[string]any{"granted": true}},
	}, &c)
	return c.ID
}

type requestView struct {
	ID, State, Type, Identity, Reason string
	DueAt                             string `json:"due_at"`
	ExtensionMonths                   int    `json:"extension_months"`
}

// request records a verified request as the DPO.
func (v *dsrVault) request(t *testing.T, typ, subject string) requestView {
	t.Helper()
	var r requestView
	v.must(t, 201, "POST", "/v1/requests", v.dpo, "", map[string]any{"type": typ, "subject": subject, "identity_method": "identity_document"}, &r)
	if r.State != "verified" {
		t.Fatalf("a request with a checked identity is %s", r.State)
	}
	return r
}

func TestRequestsEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		v := newDSRVault(t, b)

		t.Run("access", func(t *testing.T) {
			id := v.person(t, "Aurore", "aurore@example.org")
			v.must(t, 200, "GET", "/v1/contacts/"+id, v.agent, "casework", nil, nil) // an access to report
			r := v.request(t, "access", id)
			code, body := v.do(t, "GET", "/v1/requests/"+r.ID+"/export", v.dpo, "", nil)
			if code != 200 {
				t.Fatalf("export = %d %s", code, body)
			}
			zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
			if err != nil {
				t.Fatalf("the export is not a zip: %v", err)
			}
			files := map[string][]byte{}
			for _, f := range zr.File {
				rc, _ := f.Open()
				files[f.Name], _ = io.ReadAll(rc)
				rc.Close()
			}
			for _, name := range []string{"data.json", "data.csv", "summary.html"} {
				if len(files[name]) == 0 {
					t.Fatalf("the export has no %s", name)
				}
			}
			// data.json holds the record as it is.
			var contact struct{ Fields map[string]any }
			v.must(t, 200, "GET", "/v1/contacts/"+id, v.agent, "casework", nil, &contact)
			for k, val := range contact.Fields {
				if s, ok := val.(string); ok && !bytes.Contains(files["data.json"], []byte(s)) {
					t.Errorf("data.json lacks field %s", k)
				}
			}
			// Its access history is the audit log's.
			var entries struct {
				Entries []struct{ Action, ActorID string } `json:"entries"`
			}
			v.must(t, 200, "GET", "/v1/audit/entries?subject="+id+"&limit=1000", v.dpo, "", nil, &entries)
			reads := 0
			for _, e := range entries.Entries {
				if e.Action == "contact.read" {
					reads++
				}
			}
			// The export's own read, and the test's read above, come after
			// the answer was gathered.
			if reads < 3 || bytes.Count(files["data.json"], []byte(`"contact.read"`)) != reads-2 {
				t.Errorf("the audit log has %d reads; data.json reports %d", reads, bytes.Count(files["data.json"], []byte(`"contact.read"`)))
			}
			html := string(files["summary.html"])
			for _, want := range []string{"CNIL", "Aurore", "<html"} {
				if !strings.Contains(html, want) {
					t.Errorf("summary.html lacks %q", want)
				}
			}
			v.must(t, 200, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{}, nil)
			// A completed request does not change any more.
			v.must(t, 409, "POST", "/v1/requests/"+r.ID+"/reject", v.dpo, "", map[string]any{"reason": "excessive"}, nil)
			v.must(t, 409, "POST", "/v1/requests/"+r.ID+"/extend", v.dpo, "", map[string]any{"months": 1, "reason": "complexity"}, nil)
		})

		t.Run("self-service code", func(t *testing.T) {
			id := v.person(t, "Bastien", "bastien@example.org")
			var ack struct {
				RequestID string `json:"request_id"`
			}
			before := len(v.smtp.Messages())
			v.must(t, 202, "POST", "/v1/requests/self", "", "", map[string]any{"tenant": "default", "type": "portability", "email": "Bastien@Example.org"}, &ack)
			// An unknown address gets the same answer, and no message.
			var ghost struct {
				RequestID string `json:"request_id"`
			}
			v.must(t, 202, "POST", "/v1/requests/self", "", "", map[string]any{"tenant": "default", "type": "portability", "email": "nobody@example.org"}, &ghost)
			msgs := v.smtp.Messages()
			if len(msgs)-before != 1 || !strings.Contains(msgs[len(msgs)-1].To, "bastien@example.org") {
				t.Fatalf("%d messages sent", len(msgs)-before)
			}
			code := regexp.MustCompile(`: (\d{6})`).FindSubmatch(msgs[len(msgs)-1].Data)
			if code == nil {
				t.Fatalf("no code in the message")
			}
			verify := func(id, c string) int {
				st, _ := v.do(t, "POST", "/v1/requests/"+id+"/verify", "", "", map[string]any{"tenant": "default", "code": c})
				return st
			}
			wrong := "000000"
			if string(code[1]) == wrong {
				wrong = "111111"
			}
			if st := verify(ack.RequestID, wrong); st != 401 {
				t.Errorf("wrong code: %d", st)
			}
			if st := verify(ghost.RequestID, string(code[1])); st != 401 {
				t.Errorf("a request that does not exist: %d", st)
			}
			if st := verify(ack.RequestID, string(code[1])); st != 204 {
				t.Fatalf("right code: %d", st)
			}
			if st := verify(ack.RequestID, string(code[1])); st != 401 {
				t.Errorf("reused code: %d", st)
			}
			var r requestView
			v.must(t, 200, "GET", "/v1/requests/"+ack.RequestID, v.dpo, "", nil, &r)
			if r.State != "verified" || r.Identity != "verified" || r.Type != "portability" {
				t.Errorf("request after the code: %+v", r)
			}
			// Five wrong codes kill the next request's code.
			v.must(t, 200, "POST", "/v1/requests/"+ack.RequestID+"/complete", v.dpo, "", map[string]any{}, nil)
			v.must(t, 202, "POST", "/v1/requests/self", "", "", map[string]any{"tenant": "default", "type": "access", "email": "bastien@example.org"}, &ack)
			msgs = v.smtp.Messages()
			code = regexp.MustCompile(`: (\d{6})`).FindSubmatch(msgs[len(msgs)-1].Data)
			for range 5 {
				verify(ack.RequestID, wrong)
			}
			if st := verify(ack.RequestID, string(code[1])); st != 401 {
				t.Errorf("the right code after five failures: %d", st)
			}
			_ = id
		})

		t.Run("rectification", func(t *testing.T) {
			id := v.person(t, "Céline", "celine@example.org")
			r := v.request(t, "rectification", id)
			v.must(t, 400, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{}, nil)
			v.must(t, 200, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{"fields": map[string]any{"given_name": "Céleste"}}, nil)
			var c struct{ Fields map[string]any }
			v.must(t, 200, "GET", "/v1/contacts/"+id, v.agent, "casework", nil, &c)
			if c.Fields["given_name"] != "Céleste" {
				t.Errorf("after rectification: %v", c.Fields["given_name"])
			}
			var entries struct {
				Entries []struct {
					Action string
					Fields []string
				} `json:"entries"`
			}
			v.must(t, 200, "GET", "/v1/audit/entries?subject="+id+"&action=contact.update&limit=100", v.dpo, "", nil, &entries)
			if len(entries.Entries) != 1 || !strings.Contains(strings.Join(entries.Entries[0].Fields, " "), "request:"+r.ID) {
				t.Errorf("the update's audit entry does not name the request: %+v", entries.Entries)
			}
		})

		t.Run("restriction and objection and consent withdrawal", func(t *testing.T) {
			id := v.person(t, "Damien", "damien@example.org")
			r := v.request(t, "objection", id)
			v.must(t, 200, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{}, nil)
			v.must(t, 403, "GET", "/v1/contacts/"+id, v.agent, "canvassing", nil, nil)
			r = v.request(t, "consent_withdrawal", id)
			v.must(t, 200, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{"withdraw": []string{"newsletter"}}, nil)
			var c struct {
				Consents map[string]struct{ Granted bool }
			}
			v.must(t, 200, "GET", "/v1/contacts/"+id, v.agent, "casework", nil, &c)
			if c.Consents["newsletter"].Granted || !c.Consents["events"].Granted {
				t.Errorf("consents after withdrawal: %+v", c.Consents)
			}
			r = v.request(t, "restriction", id)
			v.must(t, 200, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{}, nil)
			v.must(t, 403, "GET", "/v1/contacts/"+id, v.agent, "casework", nil, nil)
			v.must(t, 403, "PATCH", "/v1/contacts/"+id, v.agent, "casework", map[string]any{"fields": map[string]any{"notes": "x"}}, nil)
		})

		t.Run("erasure", func(t *testing.T) {
			const email = "eloise.erased@example.org"
			id := v.person(t, "Éloïse", email)
			store := v.b.openStore(t)
			rec, err := store.Contact(context.Background(), "default", id)
			store.Close()
			if err != nil {
				t.Fatal(err)
			}
			r := v.request(t, "erasure", id)
			v.must(t, 200, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{}, nil)
			v.must(t, 404, "GET", "/v1/contacts/"+id, v.agent, "casework", nil, nil)
			// The same email again is flagged, not re-created.
			code, body := v.do(t, "POST", "/v1/contacts", v.agent, "casework", map[string]any{"fields": map[string]any{"given_name": "Éloïse", "email": email}})
			if code != 409 || !strings.Contains(string(body), "suppression") {
				t.Errorf("re-creating an erased person: %d %s", code, body)
			}
			// Nothing of the person remains: values, wrapped key, lookups.
			secrets := [][]byte{[]byte("Éloïse"), []byte(email), []byte("Dossier Éloïse"), rec.WrappedKey}
			for _, l := range rec.Lookups {
				secrets = append(secrets, l.Token)
			}
			check := func(where string, data []byte) {
				for i, sec := range secrets {
					if bytes.Contains(data, sec) {
						t.Errorf("%s still holds secret %d of the erased person", where, i)
					}
				}
			}
			if v.b.name == "postgres" {
				scanPostgres(t, v.b.env[main.EnvDatabaseURL], 20_000, check)
			} else {
				v.s.close(t)
				filepath.WalkDir(v.b.env[main.EnvDataDir], func(p string, d os.DirEntry, err error) error {
					if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "coffre.db") {
						data, _ := os.ReadFile(p)
						check(d.Name(), data)
					}
					return nil
				})
			}
			// Their past audit entries remain, and the log verifies.
			full, _ := mustRun(t, v.b.env, "audit", "export")
			if !strings.Contains(full, id) {
				t.Error("the erased person's audit entries are gone")
			}
			vkey, _ := mustRun(t, map[string]string{main.EnvDataDir: v.b.env[main.EnvDataDir]}, "audit", "public-key")
			if _, err := audit.Verify(context.Background(), strings.NewReader(full), vkey, audit.VerifyOptions{}); err != nil {
				t.Errorf("the log does not verify after the erasure: %v", err)
			}
		})
	})
}

func TestRequestsBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		v := newDSRVault(t, b)
		id := v.person(t, "Fanny", "fanny@example.org")
		// Unknown subject, bad type, bad method: clear errors.
		v.must(t, 404, "POST", "/v1/requests", v.dpo, "", map[string]any{"type": "access", "subject": "0195a000-0000-7000-8000-000000000000"}, nil)
		v.must(t, 400, "POST", "/v1/requests", v.dpo, "", map[string]any{"type": "teleport", "subject": id}, nil)
		v.must(t, 400, "POST", "/v1/requests", v.dpo, "", map[string]any{"type": "access", "subject": id, "identity_method": "vibes"}, nil)
		// Only a DPO handles requests.
		v.must(t, 403, "POST", "/v1/requests", v.agent, "casework", map[string]any{"type": "access", "subject": id}, nil)
		r := v.request(t, "erasure", id)
		// A duplicate open request.
		v.must(t, 409, "POST", "/v1/requests", v.dpo, "", map[string]any{"type": "erasure", "subject": id}, nil)
		// Extension: two months at most, for a known reason.
		v.must(t, 400, "POST", "/v1/requests/"+r.ID+"/extend", v.dpo, "", map[string]any{"months": 3, "reason": "complexity"}, nil)
		v.must(t, 400, "POST", "/v1/requests/"+r.ID+"/extend", v.dpo, "", map[string]any{"months": 1, "reason": "holidays"}, nil)
		var ext requestView
		v.must(t, 200, "POST", "/v1/requests/"+r.ID+"/extend", v.dpo, "", map[string]any{"months": 2, "reason": "complexity"}, &ext)
		if ext.ExtensionMonths != 2 {
			t.Errorf("extension = %+v", ext)
		}
		v.must(t, 400, "POST", "/v1/requests/"+r.ID+"/extend", v.dpo, "", map[string]any{"months": 1, "reason": "complexity"}, nil)
		// A legal retention duty: the request is rejected, the record
		// restricted.
		var done requestView
		v.must(t, 200, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{"legal_retention": true}, &done)
		if done.State != "rejected" || done.Reason != "legal_retention" {
			t.Errorf("erasure under retention = %+v", done)
		}
		v.must(t, 403, "GET", "/v1/contacts/"+id, v.agent, "casework", nil, nil)
		// An action on a closed request changes nothing.
		v.must(t, 409, "POST", "/v1/requests/"+r.ID+"/complete", v.dpo, "", map[string]any{}, nil)
		v.must(t, 404, "GET", "/v1/requests/0195a000-0000-7000-8000-000000000000", v.dpo, "", nil, nil)
		// The listing puts open requests first.
		other := v.person(t, "Gaspard", "gaspard@example.org")
		v.request(t, "access", other)
		var list struct{ Requests []requestView }
		v.must(t, 200, "GET", "/v1/requests", v.dpo, "", nil, &list)
		if len(list.Requests) != 2 || list.Requests[0].State != "verified" || list.Requests[1].State != "rejected" {
			t.Errorf("listing = %+v", list.Requests)
		}
		// The metrics count the open request, none overdue.
		code, metrics := v.do(t, "GET", "/metrics", "", "", nil)
		for _, want := range []string{`coffre_requests_open{tenant="default"} 1`, `coffre_requests_overdue{tenant="default"} 0`, "coffre_policy_info{revision="} {
			if code != 200 || !strings.Contains(string(metrics), want) {
				t.Errorf("/metrics = %d, lacks %q:\n%s", code, want, metrics)
			}
		}
		// coffre request overdue: nothing overdue yet.
		if out, _, code := run(t, b.env, "request", "overdue"); code != 0 {
			t.Errorf("request overdue: exit %d %s", code, out)
		}
	})
}

func TestRequestCommand(t *testing.T) {
	b := &backend{name: "sqlite", env: map[string]string{main.EnvDataDir: filepath.Join(t.TempDir(), "data")}}
	v := newDSRVault(t, b)
	id := v.person(t, "Hélène", "helene@example.org")
	cli := map[string]string{main.EnvToken: v.dpo}
	url := v.s.url
	out, _ := mustRun(t, cli, "request", "create", "--url", url, "--type", "access", "--subject", id, "--identity-method", "in_person")
	var r requestView
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.State != "verified" {
		t.Fatalf("request create = %q", out)
	}
	out, _ = mustRun(t, cli, "request", "list", "--url", url)
	if !strings.Contains(out, r.ID) {
		t.Errorf("request list = %s", out)
	}
	zipFile := filepath.Join(t.TempDir(), "answer.zip")
	mustRun(t, cli, "request", "export", "--url", url, "--id", r.ID, "-o", zipFile)
	if zr, err := zip.OpenReader(zipFile); err != nil || len(zr.File) != 3 {
		t.Fatalf("the exported zip: %v", err)
	} else {
		zr.Close()
	}
	mustRun(t, cli, "request", "extend", "--url", url, "--id", r.ID, "--months", "1", "--reason", "complexity")
	out, _ = mustRun(t, cli, "request", "complete", "--url", url, "--id", r.ID)
	if !strings.Contains(out, `"state":"completed"`) {
		t.Errorf("request complete = %s", out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"request", "show", "--url", url, "--id", "nope"}, 2, "--id must be a request id"},
		{[]string{"request", "reject", "--url", url, "--id", r.ID, "--reason", "excessive"}, 1, "409"},
		{[]string{"request", "create", "--url", url, "--type", "access", "--subject", id, "--received-at", "yesterday"}, 2, "RFC 3339"},
		{[]string{"request", "export", "--url", url, "--id", r.ID}, 2, "-o FILE.zip"},
		{[]string{"request", "teleport"}, 2, "unknown subcommand"},
	} {
		_, stderr, code := run(t, cli, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("coffre %s: exit %d, %s", strings.Join(tc.args, " "), code, stderr)
		}
	}
	// An overdue request makes coffre request overdue exit 1.
	late := time.Now().AddDate(0, -2, 0).Format(time.RFC3339)
	other := v.person(t, "Igor", "igor@example.org")
	mustRun(t, cli, "request", "create", "--url", url, "--type", "erasure", "--subject", other, "--received-at", late)
	v.s.close(t)
	stdout, stderr, code := run(t, b.env, "request", "overdue")
	if code != 1 || !strings.Contains(stdout, "OVERDUE") || !strings.Contains(stderr, "past their legal deadline") {
		t.Errorf("request overdue: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
