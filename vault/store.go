package vault

import (
	"context"
	"time"

	"github.com/coffre/coffre/audit"
)

// Store is the persistence a Service needs. Implementations (vault/postgres,
// vault/sqlite) are safe for concurrent use and pass vault/storetest.
type Store interface {
	TenantStore
	ContactStore
	TokenStore
	AuditStore
	SegmentStore
	RequestStore
	// audit.Store is the storage of the audit log's sequencer.
	audit.Store
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Tenant is a tenant's key material as a store holds it: sealed under the
// root key, opaque to the store.
type Tenant struct {
	ID string
	// Keys is the tenant's key set sealed under the root key.
	Keys      []byte
	CreatedAt time.Time
}

// TenantStore persists tenants.
type TenantStore interface {
	// CreateTenant stores a new tenant; ECONFLICT if the id exists.
	CreateTenant(ctx context.Context, t *Tenant) error
	// Tenant returns a tenant; ENOTFOUND if there is none with that id.
	Tenant(ctx context.Context, id string) (*Tenant, error)
}

// ContactStore persists contact records. Every method is scoped to one
// tenant: a record of another tenant is ENOTFOUND.
type ContactStore interface {
	// CreateContact stores r and appends e in one transaction. ECONFLICT if
	// the id exists or a unique lookup token is taken in the tenant.
	CreateContact(ctx context.Context, r *Record, e *AuditEntry) error
	// Contact returns a record; ENOTFOUND if absent.
	Contact(ctx context.Context, tenantID, id string) (*Record, error)
	// UpdateContact replaces the sealed fields, consents, flags, lookups
	// and tokens of r and appends e in one transaction. ENOTFOUND if the
	// record is absent, ECONFLICT if its stored version is not r.Version-1
	// or a unique lookup token is taken by another record.
	UpdateContact(ctx context.Context, r *Record, e *AuditEntry) error
	// EraseContact deletes the record, its wrapped key, lookups and tokens,
	// and appends e, in one transaction. ENOTFOUND if absent.
	EraseContact(ctx context.Context, tenantID, id string, e *AuditEntry) error
	// FindContacts returns at most limit records of the tenant whose lookup
	// token for field equals token, oldest first.
	FindContacts(ctx context.Context, tenantID, field string, token []byte, limit int) ([]*Record, error)
	// LoadContacts bulk-inserts records (demo data, imports) with one
	// audit entry; all or nothing.
	LoadContacts(ctx context.Context, rs []*Record, e *AuditEntry) error
}

// TokenStore persists API tokens.
type TokenStore interface {
	// CreateToken stores t and appends e in one transaction; ECONFLICT if
	// the id exists.
	CreateToken(ctx context.Context, t *APIToken, e *AuditEntry) error
	// Token returns a token by id; ENOTFOUND if absent.
	Token(ctx context.Context, id string) (*APIToken, error)
}

// AuditStore appends audit entries that record no data change (reads,
// searches, denials) and reads sequenced entries back.
type AuditStore interface {
	// AppendAudit durably appends unsequenced entries in one transaction,
	// all or none.
	AppendAudit(ctx context.Context, entries []*AuditEntry) error
	// AuditEntries returns the sequenced entries that match f, in Seq
	// order. EINVALID for a filter without tenant or with a bad limit.
	AuditEntries(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}
