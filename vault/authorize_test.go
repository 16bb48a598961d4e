package vault_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coffre/coffre/vault"
)

// recorder wraps the role authoriser, keeps every request it is asked,
// and conceals what conceal says.
type recorder struct {
	inner   vault.Authorizer
	mu      sync.Mutex
	reqs    []vault.AuthzRequest
	conceal func(*vault.AuthzRequest) bool
}

func (r *recorder) Authorize(ctx context.Context, req *vault.AuthzRequest) (*vault.Decision, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, *req)
	r.mu.Unlock()
	if r.conceal != nil && r.conceal(req) {
		return &vault.Decision{Reason: "outside your reach", Conceal: true}, nil
	}
	return r.inner.Authorize(ctx, req)
}

func (r *recorder) last(action string) vault.AuthzRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reqs) - 1; i >= 0; i-- {
		if r.reqs[i].Action == action {
			return r.reqs[i]
		}
	}
	return vault.AuthzRequest{}
}

func TestAuthorizerSeesScopeTokensNotValues(t *testing.T) {
	rec := &recorder{}
	env := mustServiceWith(t, func(s *vault.Schema) vault.Authorizer {
		rec.inner = &vault.RoleAuthorizer{Schema: s}
		return rec
	})
	ctx := context.Background()
	agent := env.principal(t, "t1", vault.RoleAgent)
	granted := true
	c, err := env.svc.CreateContact(ctx, agent, "casework", &vault.ContactInput{
		Fields:   map[string]any{"given_name": "Zéphyrine", "district": "quartier-nord", "email": "zephyrine@example.org"},
		Consents: map[string]vault.ConsentInput{"newsletter": {Granted: &granted}},
	})
	if err != nil {
		t.Fatal(err)
	}
	volunteer := func(id string, districts ...string) *vault.Principal {
		return &vault.Principal{ID: id, TenantID: "t1", Role: vault.RoleVolunteer, Attributes: map[string][]string{"districts": districts}}
	}

	// In the volunteer's districts: one of their two tokens matches.
	if _, err := env.svc.GetContact(ctx, volunteer("v1", "quartier-nord", "d9"), "canvassing", c.ID); err != nil {
		t.Fatal(err)
	}
	req := rec.last(vault.ActionContactRead)
	scope, got := req.Scope["district"], req.Resource.Tokens["district"]
	if len(scope) != 2 || len(got) != 1 || !slices.Contains(scope, got[0]) {
		t.Fatalf("scope %v, resource tokens %v: want one of two matching", scope, got)
	}
	if req.Resource.Kind != vault.KindContact || req.Resource.Self || !req.Resource.Consents["newsletter"] {
		t.Fatalf("resource = %+v", req.Resource)
	}
	// The record is described by tokens only (the principal's own
	// attributes are theirs, not the contact's data).
	if s := fmt.Sprintf("%+v", req.Resource); strings.Contains(s, "Zéphyrine") || strings.Contains(s, "zephyrine") || strings.Contains(s, "quartier-nord") {
		t.Fatalf("the authoriser was given a value: %s", s)
	}

	// Outside them: the principal's tokens match nothing on the record.
	if _, err := env.svc.GetContact(ctx, volunteer("v2", "d4"), "canvassing", c.ID); err != nil {
		t.Fatal(err)
	}
	if req := rec.last(vault.ActionContactRead); len(req.Scope["district"]) != 1 || len(req.Resource.Tokens["district"]) != 0 {
		t.Fatalf("out of district: scope %v, tokens %v", req.Scope, req.Resource.Tokens)
	}

	// A citizen whose subject is the contact reads their own record.
	citizen := &vault.Principal{ID: "c1", TenantID: "t1", Role: vault.RoleCitizen, Attributes: map[string][]string{vault.SubjectAttribute: {c.ID}}}
	env.svc.GetContact(ctx, citizen, "", c.ID)
	if req := rec.last(vault.ActionContactRead); !req.Resource.Self {
		t.Fatal("the citizen's own record is not marked self")
	}
	other := &vault.Principal{ID: "c2", TenantID: "t1", Role: vault.RoleCitizen, Attributes: map[string][]string{vault.SubjectAttribute: {vault.NewID(testNow)}}}
	env.svc.GetContact(ctx, other, "", c.ID)
	if req := rec.last(vault.ActionContactRead); req.Resource.Self {
		t.Fatal("another citizen's record is marked self")
	}
}

func TestConcealedDenialIsNotFound(t *testing.T) {
	rec := &recorder{conceal: func(r *vault.AuthzRequest) bool { return r.Principal.Role == vault.RoleVolunteer }}
	env := mustServiceWith(t, func(s *vault.Schema) vault.Authorizer {
		rec.inner = &vault.RoleAuthorizer{Schema: s}
		return rec
	})
	ctx := context.Background()
	agent := env.principal(t, "t1", vault.RoleAgent)
	c, err := env.svc.CreateContact(ctx, agent, "casework", &vault.ContactInput{Fields: map[string]any{"given_name": "Anouk"}})
	if err != nil {
		t.Fatal(err)
	}
	v := env.principal(t, "t1", vault.RoleVolunteer)
	_, err = env.svc.GetContact(ctx, v, "canvassing", c.ID)
	_, missing := env.svc.GetContact(ctx, agent, "casework", vault.NewID(testNow))
	if vault.ErrorCode(err) != vault.ENOTFOUND || vault.ErrorMessage(err) != vault.ErrorMessage(missing) {
		t.Fatalf("concealed read = %v, missing = %v: want the same answer", err, missing)
	}
	entries := env.auditEntries(t, "t1")
	last := entries[len(entries)-2]
	if last.Action != vault.ActionContactRead || last.Outcome != vault.OutcomeNotFound || last.ActorID != v.ID {
		t.Fatalf("audit entry of the concealed read = %+v", last)
	}
}

func TestScopeTokens(t *testing.T) {
	s := vault.DefaultSchema()
	tok := func(field, value string) []byte { return []byte(field + "=" + value) }
	scope := s.PrincipalScope(map[string][]string{"districts": {" d3 ", "d7"}, "other": {"x"}}, tok)
	if len(scope) != 1 || len(scope["district"]) != 2 {
		t.Fatalf("PrincipalScope = %v", scope)
	}
	// Values are normalised as the stored ones are.
	if want := fmt.Sprintf("%x", "district=d3"); scope["district"][0] != want {
		t.Fatalf("token of ' d3 ' = %s, want %s", scope["district"][0], want)
	}
	if empty := s.PrincipalScope(nil, tok); empty == nil || empty["district"] == nil || len(empty["district"]) != 0 {
		t.Fatalf("no attribute: %v, want an empty list that matches nothing", empty)
	}
	rt := vault.ResourceScope(scope, [][]byte{[]byte("interests=velo"), []byte("district=d7")})
	if len(rt["district"]) != 1 || rt["district"][0] != scope["district"][1] {
		t.Fatalf("ResourceScope = %v", rt)
	}
	if rt := vault.ResourceScope(scope, nil); len(rt["district"]) != 0 {
		t.Fatalf("ResourceScope(no tokens) = %v", rt)
	}
}
