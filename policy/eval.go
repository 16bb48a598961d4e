package policy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/coffre/coffre/vault"
)

// Question is one authorisation question in the terms a DPO uses: names
// and values where the vault would put tokens. It is what
// `coffre policy eval` reads.
type Question struct {
	Principal QuestionPrincipal `json:"principal"`
	Action    string            `json:"action"`
	Purpose   string            `json:"purpose"`
	Resource  QuestionResource  `json:"resource"`
}

// QuestionPrincipal is the caller of a Question.
type QuestionPrincipal struct {
	ID         string              `json:"id"`
	Tenant     string              `json:"tenant"`
	Role       string              `json:"role"`
	Purposes   []string            `json:"purposes"`
	Attributes map[string][]string `json:"attributes"`
}

// QuestionResource is the resource of a Question. Values holds the
// record's values of the fields that scope access (e.g. its district);
// they are turned into tokens, never given to the policy as such.
type QuestionResource struct {
	Kind       string                `json:"kind"`
	Tenant     string                `json:"tenant"`
	Self       bool                  `json:"self"`
	Consents   map[string]bool       `json:"consents"`
	Restricted bool                  `json:"restricted"`
	Objected   bool                  `json:"objected"`
	Values     map[string]string     `json:"values"`
	Request    *vault.RequestContext `json:"request"`
	SetFlags   []string              `json:"set_flags"`
}

// Eval answers a Question with the policy in force, bypassing the cache.
// Attribute and field values become tokens under a key made for this call
// alone: the policy only ever compares tokens with each other, so the
// answer is the one the vault would give, though the decision id differs
// from the vault's, whose tokens are the tenant's.
func (e *Engine) Eval(ctx context.Context, q *Question) (*vault.Decision, error) {
	if q.Action == "" {
		return nil, errors.New("policy: the question needs an action")
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tok := func(field, value string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(field))
		m.Write([]byte{0})
		m.Write([]byte(value))
		return m.Sum(nil)[:16]
	}
	schema := e.opts.Schema
	req := &vault.AuthzRequest{
		Principal: &vault.Principal{ID: q.Principal.ID, TenantID: q.Principal.Tenant, Role: q.Principal.Role,
			Purposes: q.Principal.Purposes, Attributes: q.Principal.Attributes},
		Action: q.Action, Purpose: q.Purpose,
		Resource: vault.Resource{Kind: q.Resource.Kind, TenantID: q.Resource.Tenant, Self: q.Resource.Self,
			Consents: q.Resource.Consents, Flags: vault.Flags{Restricted: q.Resource.Restricted, Objected: q.Resource.Objected},
			Request: q.Resource.Request, SetFlags: q.Resource.SetFlags},
	}
	req.Scope = schema.PrincipalScope(q.Principal.Attributes, tok)
	var tokens [][]byte
	for name, v := range q.Resource.Values {
		f := schema.Field(name)
		if f == nil || f.Segment == "" {
			return nil, errors.New("policy: resource value " + name + " is not a segmentable field of the schema")
		}
		nv, ferr := f.Normalize(v, time.Time{})
		if ferr != nil {
			return nil, errors.New("policy: resource value " + name + " " + ferr.Reason)
		}
		tokens = append(tokens, f.Tokens(nv, tok)...)
	}
	if req.Resource.Kind == "" || req.Resource.Kind == vault.KindContact {
		req.Resource.Tokens = vault.ResourceScope(req.Scope, tokens)
	}
	return e.cur.Load().evaluate(ctx, newInput(req, nil))
}
