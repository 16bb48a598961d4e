package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

// safeCall runs f, turning a panic into an error that names it.
func safeCall(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

func testInvalid(t *testing.T, open func(t *testing.T) vault.Store) {
	s := open(t)
	tn := MustCreateTenant(t, s)
	r := NewRecord(tn.ID)
	MustCreateContact(t, s, r)
	settle(t, s)
	entry := func() *vault.AuditEntry { return NewEntry(tn.ID, vault.ActionContactCreate, "") }
	badEntry := func(modify func(e *vault.AuditEntry)) *vault.AuditEntry {
		e := entry()
		modify(e)
		return e
	}
	record := func(modify func(r *vault.Record)) *vault.Record {
		n := NewRecord(tn.ID)
		modify(n)
		return n
	}
	update := func(modify func(u *vault.Record)) *vault.Record {
		u := CloneRecord(r)
		u.Version++
		modify(u)
		return u
	}
	token := func(modify func(k *vault.APIToken)) *vault.APIToken {
		k := NewToken(tn.ID)
		modify(k)
		return k
	}
	email := LookupToken(r, FieldEmail)

	for _, tt := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CreateTenant(nil)", func(ctx context.Context) error { return s.CreateTenant(ctx, nil) }},
		{"CreateTenant(no id)", func(ctx context.Context) error {
			n := NewTenant()
			n.ID = ""
			return s.CreateTenant(ctx, n)
		}},
		{"Tenant(\"\")", func(ctx context.Context) error { _, err := s.Tenant(ctx, ""); return err }},

		{"CreateContact(nil record)", func(ctx context.Context) error { return s.CreateContact(ctx, nil, entry()) }},
		{"CreateContact(nil entry)", func(ctx context.Context) error { return s.CreateContact(ctx, NewRecord(tn.ID), nil) }},
		{"CreateContact(no tenant)", func(ctx context.Context) error {
			return s.CreateContact(ctx, record(func(r *vault.Record) { r.TenantID = "" }), entry())
		}},
		{"CreateContact(no id)", func(ctx context.Context) error {
			return s.CreateContact(ctx, record(func(r *vault.Record) { r.ID = "" }), entry())
		}},
		{"CreateContact(lookup without field)", func(ctx context.Context) error {
			return s.CreateContact(ctx, record(func(r *vault.Record) { r.Lookups[0].Field = "" }), entry())
		}},
		{"CreateContact(lookup without token)", func(ctx context.Context) error {
			return s.CreateContact(ctx, record(func(r *vault.Record) { r.Lookups[1].Token = nil }), entry())
		}},
		{"CreateContact(empty segmentation token)", func(ctx context.Context) error {
			return s.CreateContact(ctx, record(func(r *vault.Record) { r.Tokens[1] = nil }), entry())
		}},
		{"CreateContact(entry without tenant)", func(ctx context.Context) error {
			return s.CreateContact(ctx, NewRecord(tn.ID), badEntry(func(e *vault.AuditEntry) { e.TenantID = "" }))
		}},
		{"CreateContact(entry without action)", func(ctx context.Context) error {
			return s.CreateContact(ctx, NewRecord(tn.ID), badEntry(func(e *vault.AuditEntry) { e.Action = "" }))
		}},
		{"CreateContact(entry of 1969)", func(ctx context.Context) error {
			return s.CreateContact(ctx, NewRecord(tn.ID), badEntry(func(e *vault.AuditEntry) {
				e.Time = time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)
			}))
		}},
		{"CreateContact(entry not UTF-8)", func(ctx context.Context) error {
			return s.CreateContact(ctx, NewRecord(tn.ID), badEntry(func(e *vault.AuditEntry) { e.Subject = "\xff\xfe" }))
		}},

		{"Contact(no tenant)", func(ctx context.Context) error { _, err := s.Contact(ctx, "", r.ID); return err }},
		{"Contact(no id)", func(ctx context.Context) error { _, err := s.Contact(ctx, tn.ID, ""); return err }},

		{"UpdateContact(nil record)", func(ctx context.Context) error { return s.UpdateContact(ctx, nil, entry()) }},
		{"UpdateContact(nil entry)", func(ctx context.Context) error { return s.UpdateContact(ctx, update(func(*vault.Record) {}), nil) }},
		{"UpdateContact(no tenant)", func(ctx context.Context) error {
			return s.UpdateContact(ctx, update(func(u *vault.Record) { u.TenantID = "" }), entry())
		}},
		{"UpdateContact(no id)", func(ctx context.Context) error {
			return s.UpdateContact(ctx, update(func(u *vault.Record) { u.ID = "" }), entry())
		}},
		{"UpdateContact(lookup without token)", func(ctx context.Context) error {
			return s.UpdateContact(ctx, update(func(u *vault.Record) { u.Lookups[0].Token = []byte{} }), entry())
		}},
		{"UpdateContact(entry not UTF-8)", func(ctx context.Context) error {
			return s.UpdateContact(ctx, update(func(*vault.Record) {}), badEntry(func(e *vault.AuditEntry) { e.Fields = []string{"\xc0"} }))
		}},

		{"EraseContact(no tenant)", func(ctx context.Context) error { return s.EraseContact(ctx, "", r.ID, entry()) }},
		{"EraseContact(no id)", func(ctx context.Context) error { return s.EraseContact(ctx, tn.ID, "", entry()) }},
		{"EraseContact(nil entry)", func(ctx context.Context) error { return s.EraseContact(ctx, tn.ID, r.ID, nil) }},
		{"EraseContact(entry of year 10000)", func(ctx context.Context) error {
			return s.EraseContact(ctx, tn.ID, r.ID, badEntry(func(e *vault.AuditEntry) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }))
		}},

		{"FindContacts(no tenant)", func(ctx context.Context) error {
			_, err := s.FindContacts(ctx, "", FieldEmail, email, 10)
			return err
		}},
		{"FindContacts(no field)", func(ctx context.Context) error {
			_, err := s.FindContacts(ctx, tn.ID, "", email, 10)
			return err
		}},
		{"FindContacts(no token)", func(ctx context.Context) error {
			_, err := s.FindContacts(ctx, tn.ID, FieldEmail, nil, 10)
			return err
		}},
		{"FindContacts(limit 0)", func(ctx context.Context) error {
			_, err := s.FindContacts(ctx, tn.ID, FieldEmail, email, 0)
			return err
		}},
		{"FindContacts(limit -1)", func(ctx context.Context) error {
			_, err := s.FindContacts(ctx, tn.ID, FieldEmail, email, -1)
			return err
		}},

		{"LoadContacts(nil batch)", func(ctx context.Context) error { return s.LoadContacts(ctx, nil, entry()) }},
		{"LoadContacts(nil entry)", func(ctx context.Context) error {
			return s.LoadContacts(ctx, []*vault.Record{NewRecord(tn.ID)}, nil)
		}},
		{"LoadContacts(nil record)", func(ctx context.Context) error {
			return s.LoadContacts(ctx, []*vault.Record{NewRecord(tn.ID), nil}, entry())
		}},
		{"LoadContacts(record without tenant)", func(ctx context.Context) error {
			return s.LoadContacts(ctx, []*vault.Record{NewRecord(tn.ID), record(func(r *vault.Record) { r.TenantID = "" })}, entry())
		}},
		{"LoadContacts(entry without tenant)", func(ctx context.Context) error {
			return s.LoadContacts(ctx, []*vault.Record{NewRecord(tn.ID)}, badEntry(func(e *vault.AuditEntry) { e.TenantID = "" }))
		}},

		{"CreateToken(nil)", func(ctx context.Context) error { return s.CreateToken(ctx, nil, entry()) }},
		{"CreateToken(nil entry)", func(ctx context.Context) error { return s.CreateToken(ctx, NewToken(tn.ID), nil) }},
		{"CreateToken(no id)", func(ctx context.Context) error {
			return s.CreateToken(ctx, token(func(k *vault.APIToken) { k.ID = "" }), entry())
		}},
		{"CreateToken(no tenant)", func(ctx context.Context) error {
			return s.CreateToken(ctx, token(func(k *vault.APIToken) { k.TenantID = "" }), entry())
		}},
		{"CreateToken(entry not UTF-8)", func(ctx context.Context) error {
			return s.CreateToken(ctx, NewToken(tn.ID), badEntry(func(e *vault.AuditEntry) { e.RequestID = "\xff" }))
		}},
		{"Token(\"\")", func(ctx context.Context) error { _, err := s.Token(ctx, ""); return err }},

		{"AppendAudit(nil entry)", func(ctx context.Context) error {
			return s.AppendAudit(ctx, []*vault.AuditEntry{entry(), nil})
		}},
		{"AppendAudit(entry without tenant)", func(ctx context.Context) error {
			return s.AppendAudit(ctx, []*vault.AuditEntry{badEntry(func(e *vault.AuditEntry) { e.TenantID = "" })})
		}},
		{"AuditEntries(no tenant)", func(ctx context.Context) error {
			_, err := s.AuditEntries(ctx, vault.AuditFilter{Limit: 10})
			return err
		}},
		{"AuditEntries(limit 0)", func(ctx context.Context) error {
			_, err := s.AuditEntries(ctx, vault.AuditFilter{TenantID: tn.ID})
			return err
		}},
		{"AuditEntries(limit 1001)", func(ctx context.Context) error {
			_, err := s.AuditEntries(ctx, vault.AuditFilter{TenantID: tn.ID, Limit: 1001})
			return err
		}},
		{"PendingAudit(0)", func(ctx context.Context) error { _, err := s.PendingAudit(ctx, 0); return err }},
		{"PendingAudit(-1)", func(ctx context.Context) error { _, err := s.PendingAudit(ctx, -1); return err }},
		{"AddCheckpoint(nil)", func(ctx context.Context) error { return s.AddCheckpoint(ctx, nil) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := safeCall(func() error { return tt.call(t.Context()) })
			checkCode(t, tt.name, err, vault.EINVALID)
		})
	}
	checkRecord(t, s, r)
	checkPending(t, s)
	if ts, _ := s.Checkpoints(t.Context(), 0, 1<<62); len(ts) != 0 {
		t.Errorf("Checkpoints = %d after invalid calls, want none", len(ts))
	}
}
