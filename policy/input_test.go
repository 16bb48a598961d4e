package policy

import (
	"bytes"
	"testing"

	"github.com/coffre/coffre/vault"
)

// TestKeyTellsInputsApart changes one thing the policy sees at a time: each
// change must change the cache key, or a cached decision could answer a
// question it was not made for.
func TestKeyTellsInputsApart(t *testing.T) {
	mutations := map[string]func(r *vault.AuthzRequest){
		"principal id":     func(r *vault.AuthzRequest) { r.Principal.ID = "tok2" },
		"principal tenant": func(r *vault.AuthzRequest) { r.Principal.TenantID = "autre" },
		"role":             func(r *vault.AuthzRequest) { r.Principal.Role = vault.RoleAgent },
		"token purposes":   func(r *vault.AuthzRequest) { r.Principal.Purposes = []string{"canvassing"} },
		"attribute value":  func(r *vault.AuthzRequest) { r.Principal.Attributes["districts"] = []string{"d3", "d8"} },
		"attribute name":   func(r *vault.AuthzRequest) { r.Principal.Attributes["zones"] = r.Principal.Attributes["districts"] },
		"no principal":     func(r *vault.AuthzRequest) { r.Principal = nil },
		"scope":            func(r *vault.AuthzRequest) { r.Scope["district"] = r.Scope["district"][:1] },
		"action":           func(r *vault.AuthzRequest) { r.Action = vault.ActionContactUpdate },
		"purpose":          func(r *vault.AuthzRequest) { r.Purpose = "newsletter" },
		"kind":             func(r *vault.AuthzRequest) { r.Resource.Kind = vault.KindAudit },
		"resource tenant":  func(r *vault.AuthzRequest) { r.Resource.TenantID = "autre" },
		"self":             func(r *vault.AuthzRequest) { r.Resource.Self = true },
		"restricted":       func(r *vault.AuthzRequest) { r.Resource.Flags.Restricted = true },
		"objected":         func(r *vault.AuthzRequest) { r.Resource.Flags.Objected = true },
		"consent value":    func(r *vault.AuthzRequest) { r.Resource.Consents["sms"] = true },
		"consent absent":   func(r *vault.AuthzRequest) { delete(r.Resource.Consents, "sms") },
		"tokens":           func(r *vault.AuthzRequest) { r.Resource.Tokens = map[string][]string{"district": {}} },
		"request": func(r *vault.AuthzRequest) {
			r.Resource.Request = &vault.RequestContext{ID: "r1", Type: "access", State: "verified"}
		},
		"set flags":    func(r *vault.AuthzRequest) { r.Resource.SetFlags = []string{vault.FlagRestricted} },
		"set no flags": func(r *vault.AuthzRequest) { r.Resource.SetFlags = []string{} },
		// Boundaries between strings must count: "ab"+"c" is not "a"+"bc".
		"split strings": func(r *vault.AuthzRequest) {
			r.Principal.ID, r.Principal.TenantID = r.Principal.ID+r.Principal.TenantID[:1], r.Principal.TenantID[1:]
		},
	}
	base := appendKey(nil, fullRead("tok1"))
	seen := map[string]string{string(base): "base"}
	for name, mutate := range mutations {
		r := fullRead("tok1")
		mutate(r)
		k := string(appendKey(nil, r))
		if other, dup := seen[k]; dup {
			t.Errorf("%s encodes like %s", name, other)
		}
		seen[k] = name
	}

	// The same input built in another order encodes equally.
	a := fullRead("tok1")
	b := fullRead("tok1")
	b.Resource.Consents = map[string]bool{"events": true, "sms": false, "newsletter": true}
	b.Principal.Attributes = map[string][]string{"districts": {"d3", "d7"}}
	if !bytes.Equal(appendKey(nil, a), appendKey(nil, b)) {
		t.Error("equal inputs encode differently")
	}
	// The resource's contact id is not part of the input.
	b.Resource.ContactID = "another"
	if !bytes.Equal(appendKey(nil, a), appendKey(nil, b)) {
		t.Error("the contact id changes the key, though the policy never sees it")
	}
}
