package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/vault"
)

// Lookup fields used by the fixtures: FieldEmail is unique in a tenant,
// FieldPhone is shared by a household.
const (
	FieldEmail = "email"
	FieldPhone = "phone"
)

// RandomBytes returns n random bytes from crypto/rand.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Now returns the current time in UTC, truncated to the microsecond, the
// precision every store keeps.
func Now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// NewTenant returns a tenant with a random id and random sealed key bytes.
func NewTenant() *vault.Tenant {
	return &vault.Tenant{
		ID:        "tenant-" + hex.EncodeToString(RandomBytes(6)),
		Keys:      RandomBytes(64),
		CreatedAt: Now(),
	}
}

// NewRecord returns a record of the tenant with a random id, random opaque
// sealed fields and wrapped key, two consents, a unique FieldEmail lookup,
// a non-unique FieldPhone lookup, three segmentation tokens and Version 1.
func NewRecord(tenantID string) *vault.Record {
	now := Now()
	return &vault.Record{
		TenantID:   tenantID,
		ID:         vault.NewID(now),
		WrappedKey: RandomBytes(60),
		Sealed: map[string][]byte{
			"given_name":         RandomBytes(28),
			"family_name":        RandomBytes(31),
			FieldEmail:           RandomBytes(45),
			FieldPhone:           RandomBytes(40),
			"interests":          RandomBytes(0),
			"consent.newsletter": RandomBytes(50),
		},
		Consents: map[string]vault.ConsentState{
			"newsletter": {Granted: true, At: now.Add(-48 * time.Hour)},
			"sms":        {Granted: false, At: now.Add(-time.Hour)},
		},
		Flags: vault.Flags{Restricted: false, Objected: true},
		Lookups: []vault.Lookup{
			NewLookup(FieldEmail, true),
			NewLookup(FieldPhone, false),
		},
		Tokens:    [][]byte{RandomBytes(32), RandomBytes(32), RandomBytes(32)},
		CreatedAt: now,
		UpdatedAt: now,
		Version:   1,
	}
}

// NewLookup returns a lookup of field with a random 32-byte token.
func NewLookup(field string, unique bool) vault.Lookup {
	return vault.Lookup{Field: field, Token: RandomBytes(32), Unique: unique}
}

// NewToken returns an API token of the tenant with a random id and hash,
// attributes, purposes and an expiry.
func NewToken(tenantID string) *vault.APIToken {
	now := Now()
	return &vault.APIToken{
		ID:         "tok-" + hex.EncodeToString(RandomBytes(8)),
		TenantID:   tenantID,
		Role:       vault.RoleVolunteer,
		Attributes: map[string][]string{"district": {"d1", "d4"}, "team": {"north"}},
		Purposes:   []string{"canvassing", "newsletter"},
		Hash:       RandomBytes(32),
		CreatedAt:  now,
		ExpiresAt:  now.Add(90 * 24 * time.Hour),
	}
}

// NewEntry returns an audit entry of the tenant for action on subject,
// with every field set (Seq aside: a store sets it when it sequences the
// entry), Sealed to random opaque bytes and RequestID unique.
func NewEntry(tenantID, action, subject string) *vault.AuditEntry {
	return &vault.AuditEntry{
		Time:           Now(),
		TenantID:       tenantID,
		ActorID:        "tok-" + hex.EncodeToString(RandomBytes(4)),
		ActorRole:      vault.RoleAgent,
		Action:         action,
		Subject:        subject,
		Fields:         []string{"email", "given_name"},
		Purpose:        "case-work",
		Outcome:        vault.OutcomeOK,
		RequestID:      "req-" + hex.EncodeToString(RandomBytes(8)),
		DecisionID:     "dec-" + hex.EncodeToString(RandomBytes(4)),
		PolicyRevision: "rev-1",
		Sealed:         RandomBytes(48),
	}
}

// CloneRecord returns a deep copy of r.
func CloneRecord(r *vault.Record) *vault.Record {
	c := *r
	c.WrappedKey = bytes.Clone(r.WrappedKey)
	if r.Sealed != nil {
		c.Sealed = make(map[string][]byte, len(r.Sealed))
		for k, v := range r.Sealed {
			c.Sealed[k] = bytes.Clone(v)
		}
	}
	c.Consents = maps.Clone(r.Consents)
	c.Lookups = nil
	for _, l := range r.Lookups {
		c.Lookups = append(c.Lookups, vault.Lookup{Field: l.Field, Token: bytes.Clone(l.Token), Unique: l.Unique})
	}
	c.Tokens = nil
	for _, t := range r.Tokens {
		c.Tokens = append(c.Tokens, bytes.Clone(t))
	}
	return &c
}

// LookupToken returns the token of r's lookup of field, or nil.
func LookupToken(r *vault.Record, field string) []byte {
	for _, l := range r.Lookups {
		if l.Field == field {
			return l.Token
		}
	}
	return nil
}

// SetLookupToken sets the token of r's lookup of field.
func SetLookupToken(r *vault.Record, field string, token []byte) {
	for i := range r.Lookups {
		if r.Lookups[i].Field == field {
			r.Lookups[i].Token = bytes.Clone(token)
		}
	}
}

// MustCreateTenant creates a fresh tenant in s, failing tb on error.
func MustCreateTenant(tb testing.TB, s vault.Store) *vault.Tenant {
	tb.Helper()
	t := NewTenant()
	if err := s.CreateTenant(context.Background(), t); err != nil {
		tb.Fatalf("CreateTenant(%s) = %v, want nil", t.ID, err)
	}
	return t
}

// MustCreateContact stores r with a matching audit entry, failing tb on
// error, and returns the entry (unsequenced, Seq zero).
func MustCreateContact(tb testing.TB, s vault.Store, r *vault.Record) *vault.AuditEntry {
	tb.Helper()
	e := NewEntry(r.TenantID, vault.ActionContactCreate, r.ID)
	if err := s.CreateContact(context.Background(), r, e); err != nil {
		tb.Fatalf("CreateContact(%s) = %v, want nil", r.ID, err)
	}
	return e
}

// DiffRecord describes how got differs from want, field by field, or
// returns "" when they are equal under the suite's rules: times compared
// with Equal, nil and empty maps and slices alike, lookups and tokens in
// any order.
func DiffRecord(got, want *vault.Record) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("record = %v, want %v", got, want)
	}
	var d []string
	add := func(field string, g, w any) {
		d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w))
	}
	if got.TenantID != want.TenantID {
		add("TenantID", got.TenantID, want.TenantID)
	}
	if got.ID != want.ID {
		add("ID", got.ID, want.ID)
	}
	if !bytes.Equal(got.WrappedKey, want.WrappedKey) {
		add("WrappedKey", short(got.WrappedKey), short(want.WrappedKey))
	}
	if g, w := sealedString(got.Sealed), sealedString(want.Sealed); g != w {
		add("Sealed", g, w)
	}
	if g, w := consentsString(got.Consents), consentsString(want.Consents); g != w {
		add("Consents", g, w)
	}
	if got.Flags != want.Flags {
		add("Flags", got.Flags, want.Flags)
	}
	if g, w := lookupsString(got.Lookups), lookupsString(want.Lookups); g != w {
		add("Lookups", g, w)
	}
	if g, w := tokensString(got.Tokens), tokensString(want.Tokens); g != w {
		add("Tokens", g, w)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		add("CreatedAt", got.CreatedAt, want.CreatedAt)
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		add("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	}
	if got.Version != want.Version {
		add("Version", got.Version, want.Version)
	}
	return strings.Join(d, "; ")
}

// DiffEntry describes how got differs from want, or returns "" when they
// are equal (times compared with Equal, nil and empty Fields and Sealed
// alike).
func DiffEntry(got, want *vault.AuditEntry) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("entry = %v, want %v", got, want)
	}
	var d []string
	add := func(field string, g, w any) {
		d = append(d, fmt.Sprintf("%s = %q, want %q", field, g, w))
	}
	if got.Seq != want.Seq {
		d = append(d, fmt.Sprintf("Seq = %d, want %d", got.Seq, want.Seq))
	}
	if !got.Time.Equal(want.Time) {
		d = append(d, fmt.Sprintf("Time = %v, want %v", got.Time, want.Time))
	}
	for _, f := range []struct{ name, g, w string }{
		{"TenantID", got.TenantID, want.TenantID},
		{"ActorID", got.ActorID, want.ActorID},
		{"ActorRole", got.ActorRole, want.ActorRole},
		{"Action", got.Action, want.Action},
		{"Subject", got.Subject, want.Subject},
		{"Purpose", got.Purpose, want.Purpose},
		{"Outcome", got.Outcome, want.Outcome},
		{"RequestID", got.RequestID, want.RequestID},
		{"DecisionID", got.DecisionID, want.DecisionID},
		{"PolicyRevision", got.PolicyRevision, want.PolicyRevision},
	} {
		if f.g != f.w {
			add(f.name, f.g, f.w)
		}
	}
	if !slices.Equal(got.Fields, want.Fields) {
		add("Fields", got.Fields, want.Fields)
	}
	if !bytes.Equal(got.Sealed, want.Sealed) {
		d = append(d, fmt.Sprintf("Sealed = %s, want %s", short(got.Sealed), short(want.Sealed)))
	}
	return strings.Join(d, "; ")
}

// VaultEntry returns an entry of the audit log as a vault.AuditEntry.
func VaultEntry(e *audit.Entry) *vault.AuditEntry {
	return &vault.AuditEntry{Seq: e.Seq, Time: e.Time, TenantID: e.Tenant, ActorID: e.ActorID,
		ActorRole: e.ActorRole, Action: e.Action, Subject: e.Subject, Fields: e.Fields, Purpose: e.Purpose,
		Outcome: e.Outcome, RequestID: e.RequestID, DecisionID: e.DecisionID, PolicyRevision: e.PolicyRevision,
		Sealed: e.Sealed}
}

// AuditEntry returns e as the audit log encodes it.
func AuditEntry(e *vault.AuditEntry) *audit.Entry {
	return &audit.Entry{Seq: e.Seq, Time: e.Time, Tenant: e.TenantID, ActorID: e.ActorID,
		ActorRole: e.ActorRole, Action: e.Action, Subject: e.Subject, Fields: e.Fields, Purpose: e.Purpose,
		Outcome: e.Outcome, RequestID: e.RequestID, DecisionID: e.DecisionID, PolicyRevision: e.PolicyRevision,
		Sealed: e.Sealed}
}

// WithSeq returns a copy of e with the given Seq, for comparing an entry
// as written with the same entry read back sequenced.
func WithSeq(e *vault.AuditEntry, seq uint64) *vault.AuditEntry {
	c := *e
	c.Seq = seq
	return &c
}

// DiffToken describes how got differs from want, or returns "".
func DiffToken(got, want *vault.APIToken) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("token = %v, want %v", got, want)
	}
	var d []string
	add := func(field string, g, w any) {
		d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w))
	}
	if got.ID != want.ID {
		add("ID", got.ID, want.ID)
	}
	if got.TenantID != want.TenantID {
		add("TenantID", got.TenantID, want.TenantID)
	}
	if got.Role != want.Role {
		add("Role", got.Role, want.Role)
	}
	if g, w := attrsString(got.Attributes), attrsString(want.Attributes); g != w {
		add("Attributes", g, w)
	}
	if !slices.Equal(got.Purposes, want.Purposes) {
		add("Purposes", got.Purposes, want.Purposes)
	}
	if !bytes.Equal(got.Hash, want.Hash) {
		add("Hash", short(got.Hash), short(want.Hash))
	}
	for _, f := range []struct {
		name string
		g, w time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"RevokedAt", got.RevokedAt, want.RevokedAt},
	} {
		if !f.g.Equal(f.w) || f.g.IsZero() != f.w.IsZero() {
			add(f.name, f.g, f.w)
		}
	}
	return strings.Join(d, "; ")
}

func short(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) > 8 {
		return fmt.Sprintf("%x…(%d bytes)", b[:8], len(b))
	}
	return fmt.Sprintf("%x", b)
}

func sealedString(m map[string][]byte) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s = append(s, fmt.Sprintf("%s:%x", k, m[k]))
	}
	return "{" + strings.Join(s, " ") + "}"
}

func consentsString(m map[string]vault.ConsentState) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		c := m[k]
		s = append(s, fmt.Sprintf("%s:%t@%d", k, c.Granted, c.At.UnixMicro()))
	}
	return "{" + strings.Join(s, " ") + "}"
}

func lookupsString(ls []vault.Lookup) string {
	var s []string
	for _, l := range ls {
		s = append(s, fmt.Sprintf("%s:%x:%t", l.Field, l.Token, l.Unique))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

func tokensString(ts [][]byte) string {
	var s []string
	for _, t := range ts {
		s = append(s, hex.EncodeToString(t))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

func attrsString(m map[string][]string) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s = append(s, fmt.Sprintf("%s:%q", k, m[k]))
	}
	return "{" + strings.Join(s, " ") + "}"
}
