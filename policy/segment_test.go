package policy

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/coffre/coffre/vault"
)

// condString writes a Cond compactly for comparisons.
func condString(c *vault.Cond) string {
	var parts []string
	for _, ch := range c.Children {
		parts = append(parts, condString(ch))
	}
	switch c.Op {
	case vault.CondTrue:
		return "true"
	case vault.CondFalse:
		return "false"
	case vault.CondAnd:
		return "and(" + strings.Join(parts, ", ") + ")"
	case vault.CondOr:
		return "or(" + strings.Join(parts, ", ") + ")"
	case vault.CondNot:
		return "not(" + strings.Join(parts, ", ") + ")"
	case vault.CondTokens:
		var ts []string
		for _, t := range c.Tokens {
			ts = append(ts, hex.EncodeToString(t))
		}
		return "tokens(" + strings.Join(ts, " ") + ")"
	case vault.CondFlag:
		return fmt.Sprintf("%s=%v", c.Flag, c.Value)
	case vault.CondConsent:
		return "consent(" + c.Consent + ")"
	}
	return fmt.Sprintf("op%d", c.Op)
}

func segReq(role, action, purpose string, districts ...string) *vault.AuthzRequest {
	return &vault.AuthzRequest{
		Principal: &vault.Principal{ID: "tok-" + role, TenantID: "mairie", Role: role},
		Action:    action, Purpose: purpose,
		Scope: map[string][]string{"district": districts},
	}
}

func TestSegmentScopeOfTheDefaultPolicy(t *testing.T) {
	e, err := New(context.Background(), Options{Schema: vault.DefaultSchema()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		req     *vault.AuthzRequest
		want    string
		answers string
	}{
		{segReq("agent", vault.ActionContactSegment, "casework"), "and(restricted=false, objected=false)", "count list"},
		{segReq("agent", vault.ActionContactSegment, "statistics"), "and(restricted=false, objected=false)", "count"},
		{segReq("agent", vault.ActionContactExport, "newsletter"), "and(restricted=false, objected=false, consent(newsletter))", ""},
		{segReq("volunteer", vault.ActionContactSegment, "newsletter", "aa01", "bb02"),
			"and(restricted=false, objected=false, tokens(aa01 bb02), consent(newsletter))", "count list"},
		{segReq("volunteer", vault.ActionContactSegment, "newsletter"), "false", "count list"},
		{segReq("volunteer", vault.ActionContactExport, "newsletter", "aa01"), "false", ""},
		{segReq("citizen", vault.ActionContactSegment, "casework"), "false", "count list"},
		{segReq("agent", vault.ActionContactSegment, ""), "false", "count list"},
	}
	for _, tc := range cases {
		name := tc.req.Principal.Role + "/" + tc.req.Action + "/" + tc.req.Purpose
		t.Run(name, func(t *testing.T) {
			s, err := e.SegmentScope(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := condString(s.Cond); got != tc.want {
				t.Errorf("cond = %s\nwant   %s", got, tc.want)
			}
			if got := strings.Join(s.Answers, " "); got != tc.answers || s.MinCount != 5 || s.Revision != e.Revision() || s.DecisionID == "" {
				t.Errorf("scope = %+v", s)
			}
		})
	}

	// Canvassing accepts any of three consents: one conjunction each.
	s, err := e.SegmentScope(ctx, segReq("volunteer", vault.ActionContactSegment, "canvassing", "aa01"))
	if err != nil {
		t.Fatal(err)
	}
	if got := condString(s.Cond); strings.Count(got, "consent(") != 3 || !strings.HasPrefix(got, "or(") {
		t.Errorf("canvassing cond = %s", got)
	}

	// Cached per principal: the same question gives the same scope, another
	// principal's is computed on its own.
	a, _ := e.SegmentScope(ctx, segReq("volunteer", vault.ActionContactSegment, "newsletter", "aa01"))
	b, _ := e.SegmentScope(ctx, segReq("volunteer", vault.ActionContactSegment, "newsletter", "aa01"))
	other := segReq("volunteer", vault.ActionContactSegment, "newsletter", "cc03")
	c, _ := e.SegmentScope(ctx, other)
	if a != b || condString(c.Cond) == condString(a.Cond) {
		t.Errorf("cache: %p %p, %s vs %s", a, b, condString(a.Cond), condString(c.Cond))
	}
}

// TestTranslate covers each residual shape a policy can leave, and refuses
// what the database cannot run.
func TestTranslate(t *testing.T) {
	schema := vault.DefaultSchema()
	ok := map[string]string{
		`input.resource.district = "aa01"`:                             "tokens(aa01)",
		`"aa01" = input.resource.district`:                             "tokens(aa01)",
		`input.resource.district == "aa01"`:                            "tokens(aa01)",
		`input.resource.district != "aa01"`:                            "not(tokens(aa01))",
		`internal.member_2(input.resource.district, ["aa01", "bb02"])`: "tokens(aa01 bb02)",
		`internal.member_2(input.resource.postal_code, {"cc03"})`:      "tokens(cc03)",
		`input.resource.consent_sms = true`:                            "consent(sms)",
		`input.resource.consent_sms = false`:                           "not(consent(sms))",
		`input.resource.consent_events`:                                "consent(events)",
		`not input.resource.objected`:                                  "not(objected=true)",
		`input.resource.restricted = false`:                            "restricted=false",
		`"mairie" = input.resource.tenant`:                             "true",
		`input.resource.tenant = "autre"`:                              "false",
	}
	for src, want := range ok {
		body := ast.MustParseBodyWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		c, err := translate([]ast.Body{body}, schema, "mairie")
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got := condString(c); got != want {
			t.Errorf("%s = %s, want %s", src, got, want)
		}
	}
	refused := []string{
		`input.resource.district > "aa01"`,                     // no order on tokens
		`input.resource.consents.newsletter = true`,            // nested member
		`input.resource.district = input.resource.postal_code`, // two columns
		`input.resource.district = "not hex"`,
		`input.resource.interests = "aa01"`,    // a list field
		`input.resource.notes = "aa01"`,        // not segmentable
		`input.resource.given_name = "aa01"`,   // not segmentable
		`input.resource.support_levels = "aa"`, // unknown
		`input.resource.restricted = "yes"`,
		`input.resource.consent_fax = true`, // not a consent of the schema
		`startswith(input.resource.district, "aa")`,
		`input.resource.district = "aa01" with input.x as 1`,
		`input.resource.district`,
		`internal.member_2(input.resource.district, input.principal.scope.district)`,
	}
	for _, src := range refused {
		body, err := ast.ParseBodyWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if c, err := translate([]ast.Body{body}, schema, "mairie"); err == nil {
			t.Errorf("%s translated to %s, want a refusal", src, condString(c))
		}
	}
	// No query: nothing matches. An empty query: everything does.
	if c, _ := translate(nil, schema, "mairie"); c.Op != vault.CondFalse {
		t.Errorf("no query = %s", condString(c))
	}
	if c, _ := translate([]ast.Body{{}}, schema, "mairie"); c.Op != vault.CondTrue {
		t.Errorf("empty query = %s", condString(c))
	}
}

// TestSegmentRuleTheDatabaseCannotRun: a policy whose segment rule leaves an
// order comparison on a token is refused at query time, never widened.
func TestSegmentRuleTheDatabaseCannotRun(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte(`package coffre.authz

default decision := {"allow": true}

segment_include if input.resource.district > "80"
`), 0o600)
	e, err := New(context.Background(), Options{Dir: dir, Schema: vault.DefaultSchema()})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := e.SegmentScope(context.Background(), segReq("agent", vault.ActionContactSegment, "casework")); err == nil {
		t.Fatalf("SegmentScope = %s, want an error", condString(s.Cond))
	}
}

// TestSegmentScopeAgreesWithTheRule evaluates the segment rule in full on
// every combination of a record's members and checks the translated
// conditions give the same answer: the database can neither widen nor
// narrow what the policy says.
func TestSegmentScopeAgreesWithTheRule(t *testing.T) {
	ctx := context.Background()
	schema := vault.DefaultSchema()
	e, err := New(ctx, Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	files, err := readBundle(e.fsys)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := parseModules(files, false)
	if err != nil {
		t.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query(segmentQuery), rego.Store(inmem.NewFromObject(map[string]any{"schema": schemaData(schema)}))}
	for _, m := range mods {
		opts = append(opts, rego.ParsedModule(m))
	}
	full, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	districts := []string{"aa01", "bb02", "cc03"}
	reqs := []*vault.AuthzRequest{
		segReq("agent", vault.ActionContactSegment, "casework"),
		segReq("agent", vault.ActionContactExport, "newsletter"),
		segReq("agent", vault.ActionContactExport, "events"),
		segReq("volunteer", vault.ActionContactSegment, "canvassing", "aa01", "bb02"),
		segReq("volunteer", vault.ActionContactSegment, "newsletter", "cc03"),
		segReq("volunteer", vault.ActionContactSegment, "events"),
		segReq("dpo", vault.ActionContactSegment, "dsr"),
	}
	checked := 0
	for _, req := range reqs {
		scope, err := e.SegmentScope(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		doc := (&input{req: req}).document()
		for _, tenant := range []string{"mairie", "autre"} {
			for _, d := range districts {
				for bits := range 1 << 5 {
					rec := map[string]any{"tenant": tenant, "district": d,
						"consent_newsletter": bits&1 != 0, "consent_sms": bits&2 != 0, "consent_events": bits&4 != 0,
						"restricted": bits&8 != 0, "objected": bits&16 != 0}
					doc["resource"] = rec
					rs, err := full.Eval(ctx, rego.EvalInput(doc))
					if err != nil {
						t.Fatal(err)
					}
					want := len(rs) == 1 && rs[0].Expressions[0].Value == true
					tok, _ := hex.DecodeString(d)
					r := &vault.Record{TenantID: tenant, Tokens: [][]byte{tok}, Consents: map[string]vault.ConsentState{
						"newsletter": {Granted: bits&1 != 0}, "sms": {Granted: bits&2 != 0}, "events": {Granted: bits&4 != 0}},
						Flags: vault.Flags{Restricted: bits&8 != 0, Objected: bits&16 != 0}}
					// The store runs the conditions within the tenant.
					got := tenant == req.Principal.TenantID && scope.Cond.Matches(r)
					if got != want {
						t.Errorf("%s %s %s on %v: conditions say %v, the rule says %v (%s)",
							req.Principal.Role, req.Action, req.Purpose, rec, got, want, condString(scope.Cond))
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d records checked", checked)
}
