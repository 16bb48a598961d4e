package vault_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/keyring"
	"github.com/coffre/coffre/vault/sqlite"
)

// testEnv is a service over a real SQLite store and key ring.
type testEnv struct {
	svc   *vault.Service
	store vault.Store
	log   *audit.Log
	now   time.Time
}

func mustService(tb testing.TB) *testEnv {
	tb.Helper()
	return mustServiceWith(tb, func(s *vault.Schema) vault.Authorizer { return &vault.RoleAuthorizer{Schema: s} })
}

// mustServiceWith is mustService with another authoriser.
func mustServiceWith(tb testing.TB, authz func(*vault.Schema) vault.Authorizer) *testEnv {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "coffre.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	root, err := keyring.GenerateRootKey()
	if err != nil {
		tb.Fatal(err)
	}
	kr, err := keyring.New(root)
	if err != nil {
		tb.Fatal(err)
	}
	schema := vault.DefaultSchema()
	env := &testEnv{store: db, now: testNow}
	env.svc = vault.NewService(db, kr, authz(schema), schema)
	env.svc.Now = func() time.Time { return env.now }
	tb.Cleanup(func() { env.svc.Close() })
	skey, _, err := audit.GenerateKey("coffre.test/audit")
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	// A long interval: the tests sequence explicitly with Sync.
	env.log, err = audit.NewLog(db, audit.LogOptions{Signer: signer, SequenceInterval: time.Hour, CheckpointInterval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	if err := env.log.Open(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { env.log.Close() })
	env.svc.SetAuditLog(env.log)
	return env
}

// auditEntries sequences what is pending and returns a tenant's entries.
func (e *testEnv) auditEntries(tb testing.TB, tenant string) []*vault.AuditEntry {
	tb.Helper()
	ctx := context.Background()
	if _, err := e.log.Sync(ctx); err != nil {
		tb.Fatal(err)
	}
	entries, err := e.store.AuditEntries(ctx, vault.AuditFilter{TenantID: tenant, Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	return entries
}

func (e *testEnv) principal(tb testing.TB, tenant, role string) *vault.Principal {
	tb.Helper()
	tok, _, err := e.svc.IssueToken(context.Background(), vault.TokenSpec{TenantID: tenant, Role: role})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := e.svc.Authenticate(context.Background(), tok)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func camille() *vault.ContactInput {
	yes := true
	return &vault.ContactInput{
		Fields: map[string]any{
			"given_name": " Camille ", "family_name": "Martin", "email": "Camille.Martin@Example.org",
			"phone": "06 12 34 56 78", "address": "12 rue des Lilas", "postal_code": "69003",
			"district": "d3", "birth_date": "1990-05-17", "interests": []any{"cycling", "Culture"},
			"support_level": "support", "notes": "Asked about the cycle lane.",
		},
		Consents: map[string]vault.ConsentInput{"newsletter": {Granted: &yes, Source: "web form", Proof: "form-4411"}},
	}
}

func TestServiceContactLifecycle(t *testing.T) {
	ctx := context.Background()
	env := mustService(t)
	agent := env.principal(t, "t1", vault.RoleAgent)

	created, err := env.svc.CreateContact(ctx, agent, "casework", camille())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"given_name": "Camille", "family_name": "Martin", "email": "camille.martin@example.org",
		"phone": "+33612345678", "address": "12 rue des Lilas", "postal_code": "69003",
		"district": "d3", "birth_date": "1990-05-17", "interests": []string{"culture", "cycling"},
		"support_level": "support", "notes": "Asked about the cycle lane.",
	}
	if !reflect.DeepEqual(created.Fields, want) {
		t.Fatalf("CreateContact().Fields = %#v, want %#v", created.Fields, want)
	}
	got, err := env.svc.GetContact(ctx, agent, "casework", created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Fields, want) {
		t.Errorf("GetContact().Fields = %#v, want %#v", got.Fields, want)
	}
	if c := got.Consents["newsletter"]; !c.Granted || c.Source != "web form" || !c.At.Equal(testNow) {
		t.Errorf("GetContact().Consents[newsletter] = %+v", c)
	}

	t.Run("Search", func(t *testing.T) {
		for _, q := range []vault.SearchQuery{{Email: "CAMILLE.martin@example.org "}, {Phone: "+33 6 12 34 56 78"}} {
			found, err := env.svc.SearchContacts(ctx, agent, "casework", &q)
			if err != nil || len(found) != 1 || found[0].ID != created.ID {
				t.Errorf("SearchContacts(%+v) = %v, %v, want the contact", q, found, err)
			}
		}
		for _, q := range []vault.SearchQuery{{}, {Email: "a@example.org", Phone: "0612345678"}, {Email: "nope"}} {
			if _, err := env.svc.SearchContacts(ctx, agent, "casework", &q); vault.ErrorCode(err) != vault.EINVALID {
				t.Errorf("SearchContacts(%+v) error = %v, want EINVALID", q, err)
			}
		}
	})

	t.Run("DuplicateEmail", func(t *testing.T) {
		in := camille()
		in.Fields["email"] = "camille.martin@EXAMPLE.org"
		if _, err := env.svc.CreateContact(ctx, agent, "casework", in); vault.ErrorCode(err) != vault.ECONFLICT {
			t.Fatalf("CreateContact(same email) error = %v, want ECONFLICT", err)
		}
	})

	t.Run("OtherTenant", func(t *testing.T) {
		other := env.principal(t, "t2", vault.RoleAgent)
		if _, err := env.svc.GetContact(ctx, other, "casework", created.ID); vault.ErrorCode(err) != vault.ENOTFOUND {
			t.Errorf("GetContact(other tenant) error = %v, want ENOTFOUND", err)
		}
		if err := env.svc.EraseContact(ctx, other, "casework", created.ID); vault.ErrorCode(err) != vault.ENOTFOUND {
			t.Errorf("EraseContact(other tenant) error = %v, want ENOTFOUND", err)
		}
		found, err := env.svc.SearchContacts(ctx, other, "casework", &vault.SearchQuery{Email: "camille.martin@example.org"})
		if err != nil || len(found) != 0 {
			t.Errorf("SearchContacts(other tenant) = %v, %v, want none", found, err)
		}
		// The same email is free in another tenant.
		if _, err := env.svc.CreateContact(ctx, other, "casework", camille()); err != nil {
			t.Errorf("CreateContact(other tenant, same email) error = %v", err)
		}
	})

	t.Run("Volunteer", func(t *testing.T) {
		vol := env.principal(t, "t1", vault.RoleVolunteer)
		v, err := env.svc.GetContact(ctx, vol, "canvassing", created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Fields["email"] != "c***@example.org" || v.Fields["phone"] != "06 ** ** ** 78" {
			t.Errorf("volunteer sees email, phone = %v, %v", v.Fields["email"], v.Fields["phone"])
		}
		if _, ok := v.Fields["support_level"]; ok {
			t.Error("volunteer sees support_level")
		}
		if _, err := env.svc.UpdateContact(ctx, vol, "canvassing", created.ID, &vault.ContactPatch{Fields: map[string]any{"notes": "x"}}); vault.ErrorCode(err) != vault.EFORBIDDEN {
			t.Errorf("volunteer UpdateContact error = %v, want EFORBIDDEN", err)
		}
	})

	t.Run("Update", func(t *testing.T) {
		env.now = testNow.Add(time.Hour)
		v, err := env.svc.UpdateContact(ctx, agent, "casework", created.ID, &vault.ContactPatch{
			Fields: map[string]any{"email": "c.martin@example.net", "notes": nil, "district": "d4"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if v.Fields["email"] != "c.martin@example.net" || v.Fields["district"] != "d4" || v.Fields["notes"] != nil || v.Fields["family_name"] != "Martin" {
			t.Errorf("UpdateContact().Fields = %v", v.Fields)
		}
		if !v.UpdatedAt.Equal(env.now) || !v.CreatedAt.Equal(testNow) {
			t.Errorf("UpdateContact() times = %v, %v", v.CreatedAt, v.UpdatedAt)
		}
		old, _ := env.svc.SearchContacts(ctx, agent, "casework", &vault.SearchQuery{Email: "camille.martin@example.org"})
		nw, _ := env.svc.SearchContacts(ctx, agent, "casework", &vault.SearchQuery{Email: "c.martin@example.net"})
		if len(old) != 0 || len(nw) != 1 {
			t.Errorf("after email change: old lookup %d, new lookup %d, want 0, 1", len(old), len(nw))
		}
		_, err = env.svc.UpdateContact(ctx, agent, "casework", created.ID, &vault.ContactPatch{Fields: map[string]any{"email": "bad", "colour": "red"}})
		if fe := vault.ErrorFields(err); vault.ErrorCode(err) != vault.EINVALID || len(fe) != 2 {
			t.Errorf("UpdateContact(bad) error = %v fields %v, want EINVALID with 2 fields", err, fe)
		}
	})

	t.Run("Erase", func(t *testing.T) {
		if err := env.svc.EraseContact(ctx, agent, "casework", created.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := env.svc.GetContact(ctx, agent, "casework", created.ID); vault.ErrorCode(err) != vault.ENOTFOUND {
			t.Errorf("GetContact(erased) error = %v, want ENOTFOUND", err)
		}
		if err := env.svc.EraseContact(ctx, agent, "casework", created.ID); vault.ErrorCode(err) != vault.ENOTFOUND {
			t.Errorf("EraseContact(erased) error = %v, want ENOTFOUND", err)
		}
		found, _ := env.svc.SearchContacts(ctx, agent, "casework", &vault.SearchQuery{Phone: "0612345678"})
		if len(found) != 0 {
			t.Errorf("SearchContacts(erased phone) = %d contacts", len(found))
		}
	})

	t.Run("Audit", func(t *testing.T) {
		var actions []string
		for _, e := range env.auditEntries(t, "t1") {
			actions = append(actions, e.Action+":"+e.Outcome)
			dump := fmt.Sprintf("%+v", e)
			for _, v := range []string{"Camille", "Martin", "example", "3361"} {
				if strings.Contains(dump, v) {
					t.Errorf("audit entry %s holds personal data", e.Action)
				}
			}
		}
		wantActions := []string{
			"token.create:ok", "contact.create:ok", "contact.read:ok",
			"contact.search:ok", "contact.read:ok", "contact.search:ok", "contact.read:ok",
			"contact.search:invalid", "contact.search:invalid", "contact.search:invalid",
			"contact.create:conflict", "token.create:ok", "contact.read:ok", "contact.update:denied",
			"contact.update:ok", "contact.search:ok", "contact.search:ok", "contact.read:ok",
			"contact.update:invalid", "contact.erase:ok", "contact.read:not_found", "contact.erase:not_found",
			"contact.search:ok",
		}
		if !reflect.DeepEqual(actions, wantActions) {
			t.Errorf("audit actions = %v, want %v", actions, wantActions)
		}
	})
}

func TestServiceCreateInvalid(t *testing.T) {
	ctx := context.Background()
	env := mustService(t)
	agent := env.principal(t, "t1", vault.RoleAgent)
	before := env.auditEntries(t, "t1")
	no := false
	for name, in := range map[string]*vault.ContactInput{
		"unknown field":   {Fields: map[string]any{"colour": "red"}},
		"null field":      {Fields: map[string]any{"email": nil}},
		"bad email":       {Fields: map[string]any{"email": "jeanne(at)example.org"}},
		"bad phone":       {Fields: map[string]any{"phone": "12"}},
		"wrong type":      {Fields: map[string]any{"given_name": 12.0}},
		"unknown consent": {Consents: map[string]vault.ConsentInput{"telepathy": {Granted: &no}}},
		"consent granted": {Consents: map[string]vault.ConsentInput{"sms": {}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := env.svc.CreateContact(ctx, agent, "casework", in)
			if vault.ErrorCode(err) != vault.EINVALID || len(vault.ErrorFields(err)) == 0 {
				t.Errorf("CreateContact() error = %v, want EINVALID with field errors", err)
			}
		})
	}
	// Each attempt is on record as invalid, naming no field.
	after := env.auditEntries(t, "t1")[len(before):]
	if len(after) != 7 {
		t.Fatalf("invalid creates wrote %d audit entries, want 7", len(after))
	}
	for _, e := range after {
		if e.Action != vault.ActionContactCreate || e.Outcome != vault.OutcomeInvalid || e.Subject != "" || len(e.Fields) != 0 {
			t.Errorf("entry for an invalid create = %+v", e)
		}
	}
}

func TestServiceConcurrentUniqueCreate(t *testing.T) {
	ctx := context.Background()
	env := mustService(t)
	agent := env.principal(t, "t1", vault.RoleAgent)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = env.svc.CreateContact(ctx, agent, "casework", camille())
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch vault.ErrorCode(err) {
		case "":
			ok++
		case vault.ECONFLICT:
		default:
			t.Errorf("concurrent create error = %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent creates succeeded, want 1", ok)
	}
}

func TestServiceAuthenticate(t *testing.T) {
	ctx := context.Background()
	env := mustService(t)
	tok, stored, err := env.svc.IssueToken(ctx, vault.TokenSpec{TenantID: "t1", Role: vault.RoleVolunteer,
		Attributes: map[string][]string{"districts": {"d1", "d2"}}, Purposes: []string{"canvassing"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprintf("%+v", stored), tok[len(tok)-43:]) {
		t.Fatal("the stored token holds the secret")
	}
	p, err := env.svc.Authenticate(ctx, tok)
	if err != nil || p.Role != vault.RoleVolunteer || p.TenantID != "t1" || !reflect.DeepEqual(p.Attributes["districts"], []string{"d1", "d2"}) {
		t.Fatalf("Authenticate() = %+v, %v", p, err)
	}
	forged := tok[:len(tok)-1] + "A"
	if strings.HasSuffix(tok, "A") {
		forged = tok[:len(tok)-1] + "B"
	}
	for name, bearer := range map[string]string{
		"empty":     "",
		"garbage":   "hello",
		"forged":    forged,
		"unknown":   "coffre_aaaaaaaaaaaaaaaa_" + tok[len(tok)-43:],
		"truncated": tok[:len(tok)-1],
		"prefixed":  " " + tok,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := env.svc.Authenticate(ctx, bearer); vault.ErrorCode(err) != vault.EUNAUTHORIZED {
				t.Errorf("Authenticate(%s) error = %v, want EUNAUTHORIZED", name, err)
			}
		})
	}
	t.Run("Expired", func(t *testing.T) {
		env.now = testNow.Add(2 * time.Hour)
		if _, err := env.svc.Authenticate(ctx, tok); vault.ErrorCode(err) != vault.EUNAUTHORIZED {
			t.Errorf("Authenticate(expired) error = %v, want EUNAUTHORIZED", err)
		}
	})
	t.Run("BadSpec", func(t *testing.T) {
		for _, spec := range []vault.TokenSpec{
			{TenantID: "T1", Role: "agent"},
			{TenantID: "t1", Role: "king"},
			{TenantID: "t1", Role: "agent", Purposes: []string{"espionage"}},
			{TenantID: "t1", Role: "agent", Attributes: map[string][]string{"Bad Key": {"x"}}},
		} {
			if _, _, err := env.svc.IssueToken(ctx, spec); vault.ErrorCode(err) != vault.EINVALID {
				t.Errorf("IssueToken(%+v) error = %v, want EINVALID", spec, err)
			}
		}
	})
	t.Run("CreateTokenNeedsAdmin", func(t *testing.T) {
		env.now = testNow
		agent := env.principal(t, "t1", vault.RoleAgent)
		if _, _, err := env.svc.CreateToken(ctx, agent, vault.TokenSpec{Role: vault.RoleAdmin}); vault.ErrorCode(err) != vault.EFORBIDDEN {
			t.Errorf("agent CreateToken error = %v, want EFORBIDDEN", err)
		}
		admin := env.principal(t, "t1", vault.RoleAdmin)
		if _, tk, err := env.svc.CreateToken(ctx, admin, vault.TokenSpec{TenantID: "t2", Role: vault.RoleAgent}); err != nil || tk.TenantID != "t1" {
			t.Errorf("admin CreateToken = %+v, %v, want a t1 token", tk, err)
		}
	})
}

func TestServiceLoadContacts(t *testing.T) {
	ctx := context.Background()
	env := mustService(t)
	gen := func(i int) *vault.ContactInput {
		in := camille()
		in.Fields["email"] = fmt.Sprintf("person%d@example.org", i)
		return in
	}
	var progress []int
	n, err := env.svc.LoadContacts(ctx, "t1", 2500, gen, vault.LoadOptions{BatchSize: 1000, Progress: func(k int) { progress = append(progress, k) }})
	if err != nil || n != 2500 {
		t.Fatalf("LoadContacts() = %d, %v", n, err)
	}
	if !reflect.DeepEqual(progress, []int{1000, 2000, 2500}) {
		t.Errorf("progress = %v", progress)
	}
	agent := env.principal(t, "t1", vault.RoleAgent)
	found, err := env.svc.SearchContacts(ctx, agent, "casework", &vault.SearchQuery{Email: "person1234@example.org"})
	if err != nil || len(found) != 1 || found[0].Fields["given_name"] != "Camille" {
		t.Fatalf("SearchContacts(loaded) = %v, %v", found, err)
	}
	bad := func(i int) *vault.ContactInput {
		in := gen(i + 10000)
		if i == 7 {
			in.Fields["email"] = "broken"
		}
		return in
	}
	if _, err := env.svc.LoadContacts(ctx, "t1", 10, bad, vault.LoadOptions{}); vault.ErrorCode(err) != vault.EINVALID || !strings.Contains(vault.ErrorMessage(err), "position 8") {
		t.Errorf("LoadContacts(bad) error = %v, want EINVALID at position 8", err)
	}
}

func TestServiceTokenPurposes(t *testing.T) {
	ctx := context.Background()
	env := mustService(t)
	tok, _, err := env.svc.IssueToken(ctx, vault.TokenSpec{TenantID: "t1", Role: vault.RoleAgent, Purposes: []string{"casework"}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := env.svc.Authenticate(ctx, tok)
	c, err := env.svc.CreateContact(ctx, p, "casework", camille())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.GetContact(ctx, p, "newsletter", c.ID); vault.ErrorCode(err) != vault.EFORBIDDEN {
		t.Errorf("GetContact(undeclared purpose) error = %v, want EFORBIDDEN", err)
	}
}
