package vault

import (
	"context"
	"encoding/hex"
	"slices"
	"strings"
)

// RoleAuthorizer is the interim authoriser that stands until the policy
// engine (policy/) takes over, and the baseline the engine is measured
// against. It enforces tenant isolation and role rules only:
//
//   - admin and agent may create, update and erase contacts;
//   - admin, agent and dpo read every field in the clear;
//   - a volunteer reads contacts with contact and location details masked
//     and special-category fields hidden;
//   - only admin may create tokens;
//   - dpo reads and exports the audit log, admin reads its metadata;
//   - dpo handles data-subject requests;
//   - a token limited to some purposes may only declare those;
//   - citizen may do nothing yet.
//
// It is safe for concurrent use.
type RoleAuthorizer struct {
	Schema *Schema
}

var _ Authorizer = (*RoleAuthorizer)(nil)

// Authorize implements Authorizer.
func (a *RoleAuthorizer) Authorize(ctx context.Context, req *AuthzRequest) (*Decision, error) {
	d := &Decision{ID: "", Revision: "interim-roles"}
	p := req.Principal
	if p == nil || p.TenantID != req.Resource.TenantID {
		d.Reason = "the resource is in another tenant"
		return d, nil
	}
	if req.Purpose != "" && len(p.Purposes) > 0 && !slices.Contains(p.Purposes, req.Purpose) {
		d.Reason = "the token is not issued for this purpose"
		return d, nil
	}
	switch req.Action {
	case ActionContactCreate, ActionContactUpdate, ActionContactErase:
		d.Allow = p.Role == RoleAdmin || p.Role == RoleAgent
	case ActionContactRead, ActionContactSearch:
		d.Allow = slices.Contains([]string{RoleAdmin, RoleAgent, RoleDPO, RoleVolunteer}, p.Role)
	case ActionContactSegment:
		d.Allow = p.Role == RoleAgent || p.Role == RoleVolunteer
	case ActionPolicyRead:
		d.Allow = p.Role == RoleDPO || p.Role == RoleAdmin
	case ActionTokenCreate:
		d.Allow = p.Role == RoleAdmin
	case ActionAuditRead:
		d.Allow = p.Role == RoleDPO || p.Role == RoleAdmin
	case ActionAuditExport:
		d.Allow = p.Role == RoleDPO
	default:
		d.Allow = p.Role == RoleDPO && strings.HasPrefix(req.Action, "request.")
	}
	if !d.Allow {
		d.Reason = "the role " + p.Role + " may not " + req.Action
		return d, nil
	}
	d.Fields = make(map[string]string, len(a.Schema.Fields))
	for _, f := range a.Schema.Fields {
		switch {
		case p.Role != RoleVolunteer:
			d.Fields[f.Name] = Clear
		case f.Special():
			d.Fields[f.Name] = Hidden
		case f.Category == "contact" || f.Category == "location" && f.Segment == "":
			d.Fields[f.Name] = Masked
		case f.Category == "free_text":
			d.Fields[f.Name] = Hidden
		default:
			d.Fields[f.Name] = Clear
		}
	}
	return d, nil
}

var _ SegmentScoper = (*RoleAuthorizer)(nil)

// SegmentScope implements SegmentScoper: agents reach the tenant's records
// that are neither restricted nor objected; volunteers, those of them in
// their scope (req.Scope) with a granted consent; nobody else any.
func (a *RoleAuthorizer) SegmentScope(ctx context.Context, req *AuthzRequest) (*SegmentScope, error) {
	s := &SegmentScope{Answers: []string{AnswerCount, AnswerList}, MinCount: 5, Revision: "interim-roles",
		Cond: &Cond{Op: CondFalse}}
	p := req.Principal
	if p == nil || req.Purpose == "" || req.Action != ActionContactSegment {
		return s, nil
	}
	flags := []*Cond{{Op: CondFlag, Flag: FlagRestricted}, {Op: CondFlag, Flag: FlagObjected}}
	switch p.Role {
	case RoleAgent:
		s.Cond = &Cond{Op: CondAnd, Children: flags}
	case RoleVolunteer:
		and := &Cond{Op: CondAnd, Children: flags}
		for _, toks := range req.Scope {
			c := &Cond{Op: CondTokens}
			for _, t := range toks {
				b, err := hex.DecodeString(t)
				if err != nil {
					return nil, err
				}
				c.Tokens = append(c.Tokens, b)
			}
			and.Children = append(and.Children, c)
		}
		consents := &Cond{Op: CondOr}
		for _, name := range a.Schema.Consents {
			consents.Children = append(consents.Children, &Cond{Op: CondConsent, Consent: name})
		}
		s.Cond = &Cond{Op: CondAnd, Children: append(and.Children, consents)}
	}
	return s, nil
}
