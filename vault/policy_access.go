package vault

import (
	"context"
	"fmt"
)

// Policy describes the policy in force to p: its revision and its files.
// EFORBIDDEN unless policy lets p read it (admin and dpo by default);
// EUNAVAILABLE when the authoriser cannot describe its policy.
func (s *Service) Policy(ctx context.Context, p *Principal) (_ *PolicyInfo, err error) {
	defer s.recordFailure(ctx, p, ActionPolicyRead, "", "", &err)
	d, err := s.authorize(ctx, p, ActionPolicyRead, "", Resource{Kind: KindPolicy, TenantID: principalTenant(p)})
	if err != nil {
		return nil, err
	}
	pd, ok := s.authz.(PolicyDescriber)
	if !ok {
		return nil, Errorf(EUNAVAILABLE, "The authoriser in force does not describe its policy.")
	}
	info := pd.PolicyInfo()
	if err := s.audit.append(ctx, s.entry(ctx, p, ActionPolicyRead, "", "", nil, d)); err != nil {
		return nil, err
	}
	return &info, nil
}

// SystemActor names the instance itself in audit entries it writes on its
// own account, such as policy reloads.
const SystemActor = "system"

// InstanceTenant is the tenant of audit entries that concern the whole
// instance rather than one tenant. No real tenant can have this id.
const InstanceTenant = "_instance"

// RecordPolicyReload writes the audit entry of a policy reload attempt:
// outcome ok with the new revision, or error with the revision that stays
// in force. The entry is InstanceTenant's: the policy applies to every
// tenant, and every tenant's entries name the revision that decided them.
func (s *Service) RecordPolicyReload(ctx context.Context, revision string, reloadErr error) error {
	e := &AuditEntry{Time: s.now(), TenantID: InstanceTenant, ActorID: SystemActor, ActorRole: SystemActor, Action: ActionPolicyReload,
		Outcome: OutcomeOK, PolicyRevision: revision, RequestID: RequestID(ctx)}
	if reloadErr != nil {
		e.Outcome = OutcomeError
	}
	if err := s.audit.append(ctx, e); err != nil {
		return fmt.Errorf("vault.RecordPolicyReload: %w", err)
	}
	return nil
}

// PolicyRevision returns the revision of the policy in force, or "" when
// the authoriser cannot describe its policy.
func (s *Service) PolicyRevision() string {
	if pd, ok := s.authz.(PolicyDescriber); ok {
		return pd.PolicyInfo().Revision
	}
	return ""
}
