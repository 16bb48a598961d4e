package vault

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/coffre/coffre/audit"
)

// Audit actions.
const (
	ActionAuditRead   = "audit.read"
	ActionAuditExport = "audit.export"
)

// AuditLog is the tamper-evident log the service exposes; *audit.Log
// implements it.
type AuditLog interface {
	// Checkpoint sequences what is pending and returns a signed checkpoint
	// of the current size.
	Checkpoint(ctx context.Context) (*audit.StoredCheckpoint, error)
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
	// Export streams the log up to a fresh checkpoint; tenant "" is the
	// full log, otherwise other tenants' entries are redacted.
	Export(ctx context.Context, w io.Writer, tenant string, progress func(done, total uint64)) error
	// Sync sequences what is pending, so that it can be read back.
	Sync(ctx context.Context) (uint64, error)
}

var _ AuditLog = (*audit.Log)(nil)

// SetAuditLog gives the service the log behind the audit operations.
// Without one, they fail with EUNAVAILABLE. The entries that record no
// change go to the log, numbered at once, unless the store prefers them
// pending (PendingAppender).
func (s *Service) SetAuditLog(l AuditLog) {
	s.log = l
	var to entryAppender
	if a, ok := l.(entryAppender); ok {
		if p, ok := s.store.(PendingAppender); !ok || !p.PrefersPendingAppends() {
			to = a
		}
	}
	s.audit.appendTo(to)
}

// PendingAppender is implemented by a store on which the entries that
// record no change (reads, searches, refusals) are better committed
// pending, with AppendAudit, for the log's sequencer to number within its
// interval, than numbered at once through the log: on PostgreSQL the
// pending INSERT is the cheaper statement and takes no lock, and the
// sequencer numbers hundreds of entries in one statement, while a
// numbered append also replaces the tree head. A store with a single
// writer (SQLite) does better numbered: the sequencer's large pass would
// hold that writer while reads wait.
type PendingAppender interface {
	PrefersPendingAppends() bool
}

// AuditEntries lists audit entries of p's tenant, every entry appended so
// far sequenced first. A dpo sees them
// whole; an admin sees metadata only (no subject, fields or purpose).
// EFORBIDDEN for other roles, EINVALID for a bad filter.
func (s *Service) AuditEntries(ctx context.Context, p *Principal, f AuditFilter) (_ []*AuditEntry, err error) {
	defer s.recordFailure(ctx, p, ActionAuditRead, "", "", &err)
	if p == nil {
		return nil, Errorf(EUNAUTHORIZED, "Authentication required.")
	}
	f.TenantID = p.TenantID
	if f.Limit == 0 {
		f.Limit = 100
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return nil, Errorf(EINVALID, "limit must be between 1 and 1000.")
	}
	d, err := s.auditAccess(ctx, p, ActionAuditRead)
	if err != nil {
		return nil, err
	}
	// What was done up to now is listed, not only what the sequencer has
	// numbered already.
	if _, err := s.log.Sync(ctx); err != nil {
		return nil, fmt.Errorf("vault.AuditEntries: %w", err)
	}
	entries, err := s.store.AuditEntries(ctx, f)
	if err != nil {
		return nil, err
	}
	if p.Role != RoleDPO {
		for _, e := range entries {
			e.Subject, e.Fields, e.Purpose = "", nil, ""
		}
	}
	for _, e := range entries {
		e.Sealed = nil
	}
	if err := s.audit.append(ctx, s.entry(ctx, p, ActionAuditRead, "", f.Subject, nil, d)); err != nil {
		return nil, err
	}
	return entries, nil
}

// AuditCheckpoint returns a signed checkpoint of the current log.
// EFORBIDDEN unless p is a dpo or an admin.
func (s *Service) AuditCheckpoint(ctx context.Context, p *Principal) (_ *audit.StoredCheckpoint, err error) {
	defer s.recordFailure(ctx, p, ActionAuditRead, "", "", &err)
	if _, err := s.auditAccess(ctx, p, ActionAuditRead); err != nil {
		return nil, err
	}
	return s.log.Checkpoint(ctx)
}

// AuditInclusionProof proves that the entry at index is in the tree of the
// given size. EFORBIDDEN unless p is a dpo or an admin; EINVALID when the
// index or size is out of range.
func (s *Service) AuditInclusionProof(ctx context.Context, p *Principal, index, size uint64) (_ [][]byte, err error) {
	defer s.recordFailure(ctx, p, ActionAuditRead, "", "", &err)
	if _, err := s.auditAccess(ctx, p, ActionAuditRead); err != nil {
		return nil, err
	}
	proof, err := s.log.InclusionProof(ctx, index, size)
	return proof, rangeError(err)
}

// AuditConsistencyProof proves that the tree of size from is a prefix of
// the tree of size to. Codes as AuditInclusionProof.
func (s *Service) AuditConsistencyProof(ctx context.Context, p *Principal, from, to uint64) (_ [][]byte, err error) {
	defer s.recordFailure(ctx, p, ActionAuditRead, "", "", &err)
	if _, err := s.auditAccess(ctx, p, ActionAuditRead); err != nil {
		return nil, err
	}
	proof, err := s.log.ConsistencyProof(ctx, from, to)
	return proof, rangeError(err)
}

// ExportAudit streams p's tenant's view of the log (other tenants' entries
// redacted) to w. EFORBIDDEN unless p is a dpo. The export is itself
// recorded before it starts.
func (s *Service) ExportAudit(ctx context.Context, p *Principal, w io.Writer, progress func(done, total uint64)) (err error) {
	defer s.recordFailure(ctx, p, ActionAuditExport, "", "", &err)
	d, err := s.auditAccess(ctx, p, ActionAuditExport)
	if err != nil {
		return err
	}
	if err := s.audit.append(ctx, s.entry(ctx, p, ActionAuditExport, "", "", nil, d)); err != nil {
		return err
	}
	return s.log.Export(ctx, w, p.TenantID, progress)
}

// auditAccess authorises an audit action and checks a log is set.
func (s *Service) auditAccess(ctx context.Context, p *Principal, action string) (*Decision, error) {
	d, err := s.authorize(ctx, p, action, "", Resource{Kind: KindAudit, TenantID: principalTenant(p)})
	if err != nil {
		return nil, err
	}
	if s.log == nil {
		return nil, Errorf(EUNAVAILABLE, "The audit log is not available.")
	}
	return d, nil
}

func principalTenant(p *Principal) string {
	if p == nil {
		return ""
	}
	return p.TenantID
}

// rangeError turns the log's out-of-range error into EINVALID.
func rangeError(err error) error {
	if err != nil && errors.Is(err, audit.ErrOutOfRange) {
		return Errorf(EINVALID, "Index or size out of range of the log.")
	}
	return err
}
