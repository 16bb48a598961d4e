package storetest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/storetest"
)

func TestDiffRecord(t *testing.T) {
	r := storetest.NewRecord("tenant-a")
	if d := storetest.DiffRecord(storetest.CloneRecord(r), r); d != "" {
		t.Errorf("DiffRecord(clone, r) = %q, want \"\"", d)
	}

	// Order of lookups and tokens, nil versus empty, and time zones do not
	// count.
	c := storetest.CloneRecord(r)
	c.Lookups[0], c.Lookups[1] = c.Lookups[1], c.Lookups[0]
	c.Tokens[0], c.Tokens[2] = c.Tokens[2], c.Tokens[0]
	c.CreatedAt = c.CreatedAt.In(time.FixedZone("CET", 3600))
	if d := storetest.DiffRecord(c, r); d != "" {
		t.Errorf("DiffRecord(reordered, r) = %q, want \"\"", d)
	}
	e1, e2 := storetest.NewRecord("tenant-a"), storetest.NewRecord("tenant-a")
	e1.Sealed, e1.Consents, e1.Lookups, e1.Tokens = nil, nil, nil, nil
	e2.Sealed, e2.Consents, e2.Lookups, e2.Tokens = map[string][]byte{}, map[string]vault.ConsentState{}, []vault.Lookup{}, [][]byte{}
	e2.ID, e2.WrappedKey, e2.CreatedAt, e2.UpdatedAt = e1.ID, e1.WrappedKey, e1.CreatedAt, e1.UpdatedAt
	if d := storetest.DiffRecord(e1, e2); d != "" {
		t.Errorf("DiffRecord(nil fields, empty fields) = %q, want \"\"", d)
	}

	for _, tt := range []struct {
		field  string
		modify func(r *vault.Record)
	}{
		{"WrappedKey", func(r *vault.Record) { r.WrappedKey[0] ^= 1 }},
		{"Sealed", func(r *vault.Record) { r.Sealed["given_name"][0] ^= 1 }},
		{"Sealed", func(r *vault.Record) { delete(r.Sealed, "interests") }},
		{"Consents", func(r *vault.Record) { r.Consents["sms"] = vault.ConsentState{Granted: true, At: r.Consents["sms"].At} }},
		{"Consents", func(r *vault.Record) {
			r.Consents["sms"] = vault.ConsentState{At: r.Consents["sms"].At.Add(time.Microsecond)}
		}},
		{"Flags", func(r *vault.Record) { r.Flags.Restricted = true }},
		{"Lookups", func(r *vault.Record) { r.Lookups[0].Unique = !r.Lookups[0].Unique }},
		{"Lookups", func(r *vault.Record) { r.Lookups = r.Lookups[:1] }},
		{"Tokens", func(r *vault.Record) { r.Tokens[1][0] ^= 1 }},
		{"CreatedAt", func(r *vault.Record) { r.CreatedAt = r.CreatedAt.Add(time.Microsecond) }},
		{"UpdatedAt", func(r *vault.Record) { r.UpdatedAt = r.UpdatedAt.Add(time.Microsecond) }},
		{"Version", func(r *vault.Record) { r.Version++ }},
	} {
		c := storetest.CloneRecord(r)
		tt.modify(c)
		if d := storetest.DiffRecord(c, r); !strings.HasPrefix(d, tt.field+" = ") {
			t.Errorf("DiffRecord(changed %s) = %q, want it to name %s", tt.field, d, tt.field)
		}
	}
}

func TestCloneRecord(t *testing.T) {
	r := storetest.NewRecord("tenant-a")
	c := storetest.CloneRecord(r)
	c.WrappedKey[0] ^= 1
	c.Sealed["email"][0] ^= 1
	c.Lookups[0].Token[0] ^= 1
	c.Tokens[0][0] ^= 1
	c.Consents["newsletter"] = vault.ConsentState{}
	if d := storetest.DiffRecord(c, r); !strings.Contains(d, "WrappedKey") || !strings.Contains(d, "Sealed") ||
		!strings.Contains(d, "Lookups") || !strings.Contains(d, "Tokens") || !strings.Contains(d, "Consents") {
		t.Errorf("changing a clone changed the original: DiffRecord = %q", d)
	}
}

func TestNewRecord(t *testing.T) {
	r := storetest.NewRecord("tenant-a")
	if !vault.ValidID(r.ID) {
		t.Errorf("NewRecord().ID = %q, want a valid id", r.ID)
	}
	if r.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("NewRecord().CreatedAt = %v, want whole microseconds", r.CreatedAt)
	}
	if storetest.LookupToken(r, storetest.FieldEmail) == nil || storetest.LookupToken(r, storetest.FieldPhone) == nil {
		t.Errorf("NewRecord() lookups = %v, want email and phone", r.Lookups)
	}
	if d := storetest.DiffRecord(storetest.NewRecord("tenant-a"), r); d == "" {
		t.Errorf("two NewRecord() are equal, want random contents")
	}
}
