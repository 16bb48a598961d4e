package policy

import (
	"encoding/json"
	"fmt"

	"github.com/coffre/coffre/vault"
)

// input is one question to the policy: the document OPA evaluates and its
// canonical encoding, which keys the decision cache.
type input struct {
	doc map[string]any
	key []byte
}

// newInput builds the policy input for a request; see the package
// documentation for its shape. Nothing in it is a decrypted value.
func newInput(req *vault.AuthzRequest) *input {
	p := req.Principal
	principal := map[string]any{"id": "", "tenant": "", "roles": []any{}, "purposes": []any{}, "attributes": map[string]any{}, "scope": tokenSets(req.Scope)}
	if p != nil {
		attrs := make(map[string]any, len(p.Attributes))
		for k, vs := range p.Attributes {
			attrs[k] = anySlice(vs)
		}
		roles := []any{}
		if p.Role != "" {
			roles = []any{p.Role}
		}
		principal["id"], principal["tenant"], principal["roles"] = p.ID, p.TenantID, roles
		principal["purposes"], principal["attributes"] = anySlice(p.Purposes), attrs
	}
	r := req.Resource
	consents := make(map[string]any, len(r.Consents))
	for k, v := range r.Consents {
		consents[k] = v
	}
	var request any
	if q := r.Request; q != nil {
		request = map[string]any{"id": q.ID, "type": q.Type, "state": q.State, "subject": q.Subject}
	}
	kind := r.Kind
	if kind == "" {
		kind = vault.KindContact
	}
	doc := map[string]any{
		"principal": principal,
		"action":    req.Action,
		"purpose":   req.Purpose,
		"resource": map[string]any{
			"kind":       kind,
			"tenant":     r.TenantID,
			"self":       r.Self,
			"consents":   consents,
			"restricted": r.Flags.Restricted,
			"objected":   r.Flags.Objected,
			"tokens":     tokenSets(r.Tokens),
			"request":    request,
		},
	}
	// encoding/json writes map keys sorted, so equal inputs encode equally.
	key, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("policy: encoding an input of plain values: %v", err))
	}
	return &input{doc: doc, key: key}
}

func tokenSets(m map[string][]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = anySlice(v)
	}
	return out
}
