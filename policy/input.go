package policy

import (
	"encoding/binary"
	"slices"

	"github.com/coffre/coffre/vault"
)

// input is one question to the policy and its canonical encoding, which
// keys the decision cache and names the decision. The document OPA
// evaluates is built only when the cache misses.
type input struct {
	req *vault.AuthzRequest
	key []byte
}

// newInput encodes a request; key is appended to buf.
func newInput(req *vault.AuthzRequest, buf []byte) *input {
	return &input{req: req, key: appendKey(buf[:0], req)}
}

// appendKey appends the canonical encoding of everything in req that the
// policy sees: every string length-prefixed, every list counted, every
// map in key order, so that two requests encode equally exactly when
// their policy inputs are equal.
func appendKey(b []byte, req *vault.AuthzRequest) []byte {
	b = append(b, 1) // encoding version
	if p := req.Principal; p != nil {
		b = append(b, 1)
		b = appendString(b, p.ID)
		b = appendString(b, p.TenantID)
		b = appendString(b, p.Role)
		b = appendStrings(b, p.Purposes)
		b = appendStringsMap(b, p.Attributes)
	} else {
		b = append(b, 0)
	}
	b = appendStringsMap(b, req.Scope)
	b = appendString(b, req.Action)
	b = appendString(b, req.Purpose)
	r := &req.Resource
	b = appendString(b, kindOf(r))
	b = appendString(b, r.TenantID)
	b = append(b, bit(r.Self), bit(r.Flags.Restricted), bit(r.Flags.Objected))
	keys := sortedKeys(r.Consents)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = append(b, bit(r.Consents[k]))
	}
	b = appendStringsMap(b, r.Tokens)
	if q := r.Request; q != nil {
		b = append(b, 1)
		b = appendString(b, q.ID)
		b = appendString(b, q.Type)
		b = appendString(b, q.State)
		b = append(b, bit(q.Subject))
	} else {
		b = append(b, 0)
	}
	// nil (not an update of flags alone) and [] are told apart.
	if r.SetFlags != nil {
		b = append(b, 1)
		b = appendStrings(b, r.SetFlags)
	} else {
		b = append(b, 0)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendStringsMap(b []byte, m map[string][]string) []byte {
	keys := sortedKeys(m)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendStrings(b, m[k])
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	return keys
}

func bit(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func kindOf(r *vault.Resource) string {
	if r.Kind == "" {
		return vault.KindContact
	}
	return r.Kind
}

// document builds the policy input document; see the package
// documentation for its shape. Nothing in it is a decrypted value.
func (in *input) document() map[string]any {
	req := in.req
	p := req.Principal
	principal := map[string]any{"id": "", "tenant": "", "roles": []any{}, "purposes": []any{}, "attributes": map[string]any{}, "scope": tokenSets(req.Scope)}
	if p != nil {
		roles := []any{}
		if p.Role != "" {
			roles = []any{p.Role}
		}
		principal["id"], principal["tenant"], principal["roles"] = p.ID, p.TenantID, roles
		principal["purposes"], principal["attributes"] = anySlice(p.Purposes), tokenSets(p.Attributes)
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
	var setFlags any
	if r.SetFlags != nil {
		setFlags = anySlice(r.SetFlags)
	}
	return map[string]any{
		"principal": principal,
		"action":    req.Action,
		"purpose":   req.Purpose,
		"resource": map[string]any{
			"kind":       kindOf(&r),
			"tenant":     r.TenantID,
			"self":       r.Self,
			"consents":   consents,
			"restricted": r.Flags.Restricted,
			"objected":   r.Flags.Objected,
			"tokens":     tokenSets(r.Tokens),
			"request":    request,
			"set_flags":  setFlags,
		},
	}
}

func tokenSets(m map[string][]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = anySlice(v)
	}
	return out
}
