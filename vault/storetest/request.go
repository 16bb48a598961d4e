package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/vault"
)

// RunRequests runs the data-subject request part of the conformance suite
// (Run runs it too): requests, their verification codes, erasure at a
// request and the suppression list. It holds every store to every rule,
// the in-memory one included.
func RunRequests(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("Create", func(t *testing.T) { testRequestCreate(t, open) })
	t.Run("Update", func(t *testing.T) { testRequestUpdate(t, open) })
	t.Run("OneOpen", func(t *testing.T) { testRequestOneOpen(t, open) })
	t.Run("List", func(t *testing.T) { testRequestList(t, open) })
	t.Run("Code", func(t *testing.T) { testVerificationCode(t, open) })
	t.Run("Erase", func(t *testing.T) { testEraseSubject(t, open) })
	t.Run("Suppressed", func(t *testing.T) { testSuppressed(t, open) })
	t.Run("Invalid", func(t *testing.T) { testRequestInvalid(t, open) })
	t.Run("Context", func(t *testing.T) { testRequestContext(t, open) })
	t.Run("Counts", func(t *testing.T) { testRequestCounts(t, open) })
}

// requestFixture is a store with a tenant; rs is the store too, named
// for the request methods.
type requestFixture struct {
	s  vault.Store
	rs vault.RequestStore
	tn *vault.Tenant
}

func newRequestFixture(t *testing.T, open func(t *testing.T) vault.Store) *requestFixture {
	t.Helper()
	s := open(t)
	return &requestFixture{s: s, rs: s, tn: MustCreateTenant(t, s)}
}

// NewRequest returns an open request of the tenant of type typ about the
// contact subjectID, with a random id: received an hour ago by staff,
// identity pending, due a calendar month after receipt, assigned, at
// Version 1. Reason, ExtensionReason and CompletedAt are zero.
func NewRequest(tenantID, typ, subjectID string) *vault.DataRequest {
	now := Now()
	received := now.Add(-time.Hour)
	return &vault.DataRequest{
		ID:         vault.NewID(now),
		TenantID:   tenantID,
		Type:       typ,
		SubjectID:  subjectID,
		Channel:    vault.ChannelStaff,
		ReceivedAt: received,
		Identity:   vault.IdentityPending,
		State:      vault.StateReceived,
		DueAt:      received.AddDate(0, 1, 0),
		AssigneeID: "tok-" + hex.EncodeToString(RandomBytes(4)),
		CreatedBy:  "tok-" + hex.EncodeToString(RandomBytes(4)),
		UpdatedAt:  now,
		Version:    1,
	}
}

// NewCode returns a verification code of the request with a random
// 32-byte hash, expiring in 15 minutes, unused.
func NewCode(tenantID, requestID string) *vault.VerificationCode {
	return &vault.VerificationCode{
		TenantID:  tenantID,
		RequestID: requestID,
		Hash:      RandomBytes(32),
		ExpiresAt: Now().Add(15 * time.Minute),
	}
}

// DiffRequest describes how got differs from want, or returns "" (times
// compared with Equal, a zero time only equal to a zero time).
func DiffRequest(got, want *vault.DataRequest) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("request = %v, want %v", got, want)
	}
	var d []string
	for _, f := range []struct{ name, g, w string }{
		{"ID", got.ID, want.ID},
		{"TenantID", got.TenantID, want.TenantID},
		{"Type", got.Type, want.Type},
		{"SubjectID", got.SubjectID, want.SubjectID},
		{"Channel", got.Channel, want.Channel},
		{"Identity", got.Identity, want.Identity},
		{"IdentityMethod", got.IdentityMethod, want.IdentityMethod},
		{"State", got.State, want.State},
		{"Reason", got.Reason, want.Reason},
		{"ExtensionReason", got.ExtensionReason, want.ExtensionReason},
		{"AssigneeID", got.AssigneeID, want.AssigneeID},
		{"CreatedBy", got.CreatedBy, want.CreatedBy},
	} {
		if f.g != f.w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", f.name, f.g, f.w))
		}
	}
	for _, f := range []struct {
		name string
		g, w time.Time
	}{
		{"ReceivedAt", got.ReceivedAt, want.ReceivedAt},
		{"DueAt", got.DueAt, want.DueAt},
		{"UpdatedAt", got.UpdatedAt, want.UpdatedAt},
		{"CompletedAt", got.CompletedAt, want.CompletedAt},
	} {
		if !f.g.Equal(f.w) || f.g.IsZero() != f.w.IsZero() {
			d = append(d, fmt.Sprintf("%s = %v, want %v", f.name, f.g, f.w))
		}
	}
	if got.ExtensionMonths != want.ExtensionMonths {
		d = append(d, fmt.Sprintf("ExtensionMonths = %d, want %d", got.ExtensionMonths, want.ExtensionMonths))
	}
	if got.Version != want.Version {
		d = append(d, fmt.Sprintf("Version = %d, want %d", got.Version, want.Version))
	}
	return strings.Join(d, "; ")
}

// DiffCode describes how got differs from want, or returns "".
func DiffCode(got, want *vault.VerificationCode) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("code = %v, want %v", got, want)
	}
	var d []string
	if got.TenantID != want.TenantID {
		d = append(d, fmt.Sprintf("TenantID = %q, want %q", got.TenantID, want.TenantID))
	}
	if got.RequestID != want.RequestID {
		d = append(d, fmt.Sprintf("RequestID = %q, want %q", got.RequestID, want.RequestID))
	}
	if !bytes.Equal(got.Hash, want.Hash) {
		d = append(d, fmt.Sprintf("Hash = %s, want %s", short(got.Hash), short(want.Hash)))
	}
	if got.Attempts != want.Attempts {
		d = append(d, fmt.Sprintf("Attempts = %d, want %d", got.Attempts, want.Attempts))
	}
	for _, f := range []struct {
		name string
		g, w time.Time
	}{
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"UsedAt", got.UsedAt, want.UsedAt},
	} {
		if !f.g.Equal(f.w) || f.g.IsZero() != f.w.IsZero() {
			d = append(d, fmt.Sprintf("%s = %v, want %v", f.name, f.g, f.w))
		}
	}
	return strings.Join(d, "; ")
}

// mustCreateRequest stores r with a matching entry, failing t on error,
// and returns the entry.
func (f *requestFixture) mustCreateRequest(t testing.TB, r *vault.DataRequest) *vault.AuditEntry {
	t.Helper()
	e := NewEntry(r.TenantID, vault.ActionRequestCreate, r.SubjectID)
	if err := f.rs.CreateRequest(context.Background(), r, e); err != nil {
		t.Fatalf("CreateRequest(%s %s of %s) = %v, want nil", r.State, r.Type, r.SubjectID, err)
	}
	return e
}

// mustUpdateRequest replaces the stored request with r, whose Version must
// be one more than the stored one, failing t on error.
func (f *requestFixture) mustUpdateRequest(t testing.TB, r *vault.DataRequest) *vault.AuditEntry {
	t.Helper()
	e := NewEntry(r.TenantID, vault.ActionRequestComplete, r.SubjectID)
	if err := f.rs.UpdateRequest(context.Background(), r, e); err != nil {
		t.Fatalf("UpdateRequest(%s, %s, version %d) = %v, want nil", r.ID, r.State, r.Version, err)
	}
	return e
}

// closeRequest returns a copy of r completed (or rejected) a minute after
// its last update, at the next version.
func closeRequest(r *vault.DataRequest, state string) *vault.DataRequest {
	c := *r
	c.State = state
	if state == vault.StateRejected {
		c.Reason = "manifestly_unfounded"
	}
	c.UpdatedAt = r.UpdatedAt.Add(time.Minute)
	c.CompletedAt = c.UpdatedAt
	c.Version++
	return &c
}

// checkRequest reports an error unless the store holds want.
func (f *requestFixture) checkRequest(t testing.TB, want *vault.DataRequest) {
	t.Helper()
	got, err := f.rs.DataRequest(context.Background(), want.TenantID, want.ID)
	if err != nil {
		t.Errorf("DataRequest(%s) = %v, want nil", want.ID, err)
		return
	}
	if d := DiffRequest(got, want); d != "" {
		t.Errorf("DataRequest(%s): %s", want.ID, d)
	}
}

// checkNoRequest reports an error unless the request is ENOTFOUND.
func (f *requestFixture) checkNoRequest(t testing.TB, tenantID, id string) {
	t.Helper()
	_, err := f.rs.DataRequest(context.Background(), tenantID, id)
	checkCode(t, fmt.Sprintf("DataRequest(%s)", id), err, vault.ENOTFOUND)
}

// checkCodeStored reports an error unless the store holds want.
func (f *requestFixture) checkCodeStored(t testing.TB, want *vault.VerificationCode) {
	t.Helper()
	got, err := f.rs.VerificationCode(context.Background(), want.TenantID, want.RequestID)
	if err != nil {
		t.Errorf("VerificationCode(%s) = %v, want nil", want.RequestID, err)
		return
	}
	if d := DiffCode(got, want); d != "" {
		t.Errorf("VerificationCode(%s): %s", want.RequestID, d)
	}
}

// checkSuppressed reports an error unless Suppressed(tenantID, field,
// tokens) returns want, in order.
func (f *requestFixture) checkSuppressed(t testing.TB, tenantID, field string, tokens [][]byte, want ...[]byte) {
	t.Helper()
	got, err := f.rs.Suppressed(context.Background(), tenantID, field, tokens)
	call := fmt.Sprintf("Suppressed(%s, %d tokens)", field, len(tokens))
	if err != nil {
		t.Errorf("%s = %v, want nil", call, err)
		return
	}
	if len(got) != len(want) || !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("%s = %s, want %s", call, tokensList(got), tokensList(want))
	}
}

func tokensList(ts [][]byte) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = short(t)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func testRequestCreate(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		f := newRequestFixture(t, open)
		r := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		want := *r
		e := NewEntry(f.tn.ID, vault.ActionRequestCreate, r.SubjectID)
		mustCode(t, "CreateRequest", f.rs.CreateRequest(t.Context(), r, e), "")
		checkUnsequenced(t, "CreateRequest", e)
		f.checkRequest(t, &want)
		checkPending(t, f.s, e)
		settle(t, f.s)
		checkAudit(t, f.s, f.tn.ID, WithSeq(e, 0))
	})

	t.Run("Shapes", func(t *testing.T) {
		f := newRequestFixture(t, open)
		for _, tt := range []struct {
			name   string
			modify func(r *vault.DataRequest)
		}{
			{"Self", func(r *vault.DataRequest) { r.Channel, r.CreatedBy, r.AssigneeID = vault.ChannelSelf, "", "" }},
			{"Verified", func(r *vault.DataRequest) {
				r.Identity, r.IdentityMethod, r.State = vault.IdentityVerified, "identity_document", vault.StateVerified
			}},
			{"InProgress", func(r *vault.DataRequest) { r.State = vault.StateInProgress }},
			{"Completed", func(r *vault.DataRequest) { r.State, r.CompletedAt = vault.StateCompleted, r.UpdatedAt }},
			{"Rejected", func(r *vault.DataRequest) {
				r.State, r.Reason, r.CompletedAt, r.Identity = vault.StateRejected, "identity_not_verified", r.UpdatedAt, vault.IdentityFailed
			}},
			{"Extended", func(r *vault.DataRequest) {
				r.ExtensionMonths, r.ExtensionReason = 2, "complexity"
				r.DueAt = r.ReceivedAt.AddDate(0, 3, 0)
			}},
			{"OldTimes", func(r *vault.DataRequest) {
				r.ReceivedAt = time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)
				r.DueAt = time.Date(2000, 1, 31, 23, 59, 59, 1000, time.UTC)
				r.UpdatedAt = time.Date(2000, 2, 1, 0, 0, 0, 0, time.UTC)
			}},
			{"HighVersion", func(r *vault.DataRequest) { r.Version = 41 }},
			{"Unicode", func(r *vault.DataRequest) { r.AssigneeID = "agent — équipe ✓" }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				for _, typ := range vault.RequestTypes {
					r := NewRequest(f.tn.ID, typ, vault.NewID(Now()))
					tt.modify(r)
					want := *r
					f.mustCreateRequest(t, r)
					f.checkRequest(t, &want)
				}
			})
		}
	})

	t.Run("ZeroUpdatedAt", func(t *testing.T) {
		f := newRequestFixture(t, open)
		r := NewRequest(f.tn.ID, vault.RequestErasure, vault.NewID(Now()))
		r.UpdatedAt = time.Time{}
		before := Now().Add(-time.Minute)
		f.mustCreateRequest(t, r)
		if r.UpdatedAt.Before(before) {
			t.Fatalf("CreateRequest: r.UpdatedAt = %v for a zero time, want the store's time", r.UpdatedAt)
		}
		f.checkRequest(t, r)
	})

	t.Run("ErrConflict", func(t *testing.T) {
		f := newRequestFixture(t, open)
		r := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		f.mustCreateRequest(t, r)
		settle(t, f.s)
		// The same id, whatever the rest.
		dup := NewRequest(f.tn.ID, vault.RequestObjection, vault.NewID(Now()))
		dup.ID = r.ID
		e := NewEntry(f.tn.ID, vault.ActionRequestCreate, dup.SubjectID)
		checkCode(t, "CreateRequest(existing id)", f.rs.CreateRequest(t.Context(), dup, e), vault.ECONFLICT)
		checkUnsequenced(t, "CreateRequest(existing id)", e)
		f.checkRequest(t, r)
		checkPending(t, f.s)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		f := newRequestFixture(t, open)
		other := MustCreateTenant(t, f.s)
		r := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		f.mustCreateRequest(t, r)
		f.checkNoRequest(t, f.tn.ID, vault.NewID(Now()))
		f.checkNoRequest(t, other.ID, r.ID)
		f.checkNoRequest(t, f.tn.ID, "not-a-uuid")
		f.checkNoRequest(t, "tenant-without-requests", r.ID)
	})

	t.Run("OtherTenantSameID", func(t *testing.T) {
		// Request ids are a tenant's: another tenant may use the same.
		f := newRequestFixture(t, open)
		other := MustCreateTenant(t, f.s)
		a := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		b := NewRequest(other.ID, vault.RequestErasure, vault.NewID(Now()))
		b.ID = a.ID
		f.mustCreateRequest(t, a)
		f.mustCreateRequest(t, b)
		f.checkRequest(t, a)
		f.checkRequest(t, b)
	})
}

func testRequestUpdate(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		f := newRequestFixture(t, open)
		r := NewRequest(f.tn.ID, vault.RequestErasure, vault.NewID(Now()))
		ec := f.mustCreateRequest(t, r)

		// Everything but the tenant and the id is replaced.
		u := &vault.DataRequest{
			ID:              r.ID,
			TenantID:        r.TenantID,
			Type:            vault.RequestRestriction,
			SubjectID:       vault.NewID(Now()),
			Channel:         vault.ChannelSelf,
			ReceivedAt:      r.ReceivedAt.Add(-time.Hour),
			Identity:        vault.IdentityFailed,
			IdentityMethod:  "code",
			State:           vault.StateRejected,
			Reason:          "identity_not_verified",
			DueAt:           r.DueAt.AddDate(0, 2, 0),
			ExtensionMonths: 2,
			ExtensionReason: "number_of_requests",
			AssigneeID:      "tok-dpo",
			CreatedBy:       "tok-other",
			UpdatedAt:       r.UpdatedAt.Add(time.Second),
			CompletedAt:     r.UpdatedAt.Add(time.Second),
			Version:         r.Version + 1,
		}
		want := *u
		e := NewEntry(f.tn.ID, vault.ActionRequestReject, r.SubjectID)
		mustCode(t, "UpdateRequest", f.rs.UpdateRequest(t.Context(), u, e), "")
		checkUnsequenced(t, "UpdateRequest", e)
		f.checkRequest(t, &want)
		checkPending(t, f.s, ec, e)

		// Back to open, with zero times and codes.
		u2 := want
		u2.State, u2.Reason, u2.CompletedAt, u2.IdentityMethod, u2.ExtensionMonths, u2.ExtensionReason = vault.StateInProgress, "", time.Time{}, "", 0, ""
		u2.UpdatedAt = u2.UpdatedAt.Add(time.Second)
		u2.Version++
		want2 := u2
		mustCode(t, "UpdateRequest(reopened)", f.rs.UpdateRequest(t.Context(), &u2, NewEntry(f.tn.ID, vault.ActionRequestStart, r.SubjectID)), "")
		f.checkRequest(t, &want2)
	})

	t.Run("ZeroUpdatedAt", func(t *testing.T) {
		f := newRequestFixture(t, open)
		r := NewRequest(f.tn.ID, vault.RequestErasure, vault.NewID(Now()))
		r.UpdatedAt = r.UpdatedAt.Add(-time.Hour)
		f.mustCreateRequest(t, r)
		u := *r
		u.State, u.UpdatedAt, u.Version = vault.StateVerified, time.Time{}, r.Version+1
		before := Now().Add(-time.Minute)
		f.mustUpdateRequest(t, &u)
		if u.UpdatedAt.Before(before) {
			t.Fatalf("UpdateRequest: r.UpdatedAt = %v for a zero time, want the store's time", u.UpdatedAt)
		}
		f.checkRequest(t, &u)
	})

	t.Run("ErrConflictVersion", func(t *testing.T) {
		f := newRequestFixture(t, open)
		r := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		r.Version = 3
		f.mustCreateRequest(t, r)
		settle(t, f.s)
		for _, v := range []int64{0, 1, 2, 3, 5, 100} {
			u := *r
			u.State, u.Version = vault.StateVerified, v
			e := NewEntry(f.tn.ID, vault.ActionRequestStart, r.SubjectID)
			checkCode(t, fmt.Sprintf("UpdateRequest(Version %d over stored 3)", v), f.rs.UpdateRequest(t.Context(), &u, e), vault.ECONFLICT)
			checkUnsequenced(t, "UpdateRequest", e)
		}
		f.checkRequest(t, r)
		checkPending(t, f.s)
		// The right version goes through.
		u := *r
		u.State, u.Version = vault.StateVerified, 4
		f.mustUpdateRequest(t, &u)
		f.checkRequest(t, &u)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		f := newRequestFixture(t, open)
		other := MustCreateTenant(t, f.s)
		r := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		f.mustCreateRequest(t, r)
		settle(t, f.s)

		missing := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		missing.Version = 2
		e := NewEntry(f.tn.ID, vault.ActionRequestStart, missing.SubjectID)
		checkCode(t, "UpdateRequest(missing)", f.rs.UpdateRequest(t.Context(), missing, e), vault.ENOTFOUND)
		f.checkNoRequest(t, f.tn.ID, missing.ID)

		u := *r
		u.TenantID, u.State, u.Version = other.ID, vault.StateVerified, r.Version+1
		e = NewEntry(other.ID, vault.ActionRequestStart, r.SubjectID)
		checkCode(t, "UpdateRequest(other tenant)", f.rs.UpdateRequest(t.Context(), &u, e), vault.ENOTFOUND)
		f.checkNoRequest(t, other.ID, r.ID)
		f.checkRequest(t, r)
		checkPending(t, f.s)
	})
}

// testRequestOneOpen checks the rule that a subject has at most one open
// request of a type in a tenant.
func testRequestOneOpen(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("Sequential", func(t *testing.T) {
		f := newRequestFixture(t, open)
		other := MustCreateTenant(t, f.s)
		subject, subject2 := vault.NewID(Now()), vault.NewID(Now())
		first := NewRequest(f.tn.ID, vault.RequestAccess, subject)
		f.mustCreateRequest(t, first)
		settle(t, f.s)

		// A second open request of the type, whatever its open state.
		for _, state := range []string{vault.StateReceived, vault.StateVerified, vault.StateInProgress} {
			dup := NewRequest(f.tn.ID, vault.RequestAccess, subject)
			dup.State = state
			e := NewEntry(f.tn.ID, vault.ActionRequestCreate, subject)
			checkCode(t, "CreateRequest(second open "+state+" access)", f.rs.CreateRequest(t.Context(), dup, e), vault.ECONFLICT)
			checkUnsequenced(t, "CreateRequest", e)
			f.checkNoRequest(t, f.tn.ID, dup.ID)
		}
		checkPending(t, f.s)
		f.checkRequest(t, first)

		// Another type, another subject, another tenant.
		f.mustCreateRequest(t, NewRequest(f.tn.ID, vault.RequestErasure, subject))
		f.mustCreateRequest(t, NewRequest(f.tn.ID, vault.RequestAccess, subject2))
		f.mustCreateRequest(t, NewRequest(other.ID, vault.RequestAccess, subject))

		// Once the first is completed, a new one may open; once that one is
		// rejected, another.
		firstDone := closeRequest(first, vault.StateCompleted)
		f.mustUpdateRequest(t, firstDone)
		second := NewRequest(f.tn.ID, vault.RequestAccess, subject)
		f.mustCreateRequest(t, second)
		secondDone := closeRequest(second, vault.StateRejected)
		f.mustUpdateRequest(t, secondDone)
		third := NewRequest(f.tn.ID, vault.RequestAccess, subject)
		f.mustCreateRequest(t, third)
		settle(t, f.s)

		// An update that would open a closed request beside the open one.
		reopen := *secondDone
		reopen.State, reopen.Reason, reopen.CompletedAt, reopen.Version = vault.StateInProgress, "", time.Time{}, secondDone.Version+1
		e := NewEntry(f.tn.ID, vault.ActionRequestStart, subject)
		checkCode(t, "UpdateRequest(reopen beside an open one)", f.rs.UpdateRequest(t.Context(), &reopen, e), vault.ECONFLICT)
		checkUnsequenced(t, "UpdateRequest", e)
		f.checkRequest(t, secondDone)
		checkPending(t, f.s)

		// Updating the open one, which stays open, conflicts with nothing.
		thirdOn := *third
		thirdOn.State, thirdOn.Version = vault.StateInProgress, third.Version+1
		f.mustUpdateRequest(t, &thirdOn)
		f.checkRequest(t, &thirdOn)
		f.checkRequest(t, firstDone)
	})

	t.Run("Concurrent", func(t *testing.T) {
		f := newRequestFixture(t, open)
		subject := vault.NewID(Now())
		settle(t, f.s)
		const n = 12
		rs := make([]*vault.DataRequest, n)
		errs := make([]error, n)
		for i := range rs {
			rs[i] = NewRequest(f.tn.ID, vault.RequestErasure, subject)
		}
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range rs {
			wg.Go(func() {
				start.Wait()
				errs[i] = f.rs.CreateRequest(context.Background(), rs[i], NewEntry(f.tn.ID, vault.ActionRequestCreate, subject))
			})
		}
		start.Done()
		wg.Wait()
		var winner *vault.DataRequest
		conflicts := 0
		for i, err := range errs {
			switch vault.ErrorCode(err) {
			case "":
				if winner != nil {
					t.Errorf("CreateRequest #%d = nil after another succeeded, want ECONFLICT", i)
				}
				winner = rs[i]
			case vault.ECONFLICT:
				conflicts++
			default:
				t.Errorf("CreateRequest #%d = %v, want nil or ECONFLICT", i, err)
			}
		}
		if winner == nil || conflicts != n-1 {
			t.Fatalf("%d concurrent creates of one open request: %d conflicted, want %d and one success", n, conflicts, n-1)
		}
		if ps := pendingAll(t, f.s); len(ps) != 1 {
			t.Errorf("PendingAudit = %d entries, want 1", len(ps))
		}
		for _, r := range rs {
			if r != winner {
				f.checkNoRequest(t, f.tn.ID, r.ID)
			}
		}
		f.checkRequest(t, winner)
	})
}

// requestMatches is the reference semantics of a RequestFilter.
func requestMatches(f vault.RequestFilter, r *vault.DataRequest) bool {
	open := r.State != vault.StateCompleted && r.State != vault.StateRejected
	return r.TenantID == f.TenantID &&
		(f.State == "" || r.State == f.State) &&
		(f.SubjectID == "" || r.SubjectID == f.SubjectID) &&
		(!f.Open || open) &&
		(f.DueBefore.IsZero() || r.DueAt.Before(f.DueBefore))
}

// wantRequests returns the requests of all that f selects, due first, then
// by id, at most f.Limit of them (0: no limit).
func wantRequests(all []*vault.DataRequest, f vault.RequestFilter) []*vault.DataRequest {
	var out []*vault.DataRequest
	for _, r := range all {
		if requestMatches(f, r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *vault.DataRequest) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

func filterString(f vault.RequestFilter) string {
	var s []string
	if f.State != "" {
		s = append(s, "state="+f.State)
	}
	if f.SubjectID != "" {
		s = append(s, "subject="+f.SubjectID[len(f.SubjectID)-4:])
	}
	if f.Open {
		s = append(s, "open")
	}
	if !f.DueBefore.IsZero() {
		s = append(s, "due<"+f.DueBefore.Format(time.RFC3339Nano))
	}
	if f.Limit != 0 {
		s = append(s, fmt.Sprintf("limit=%d", f.Limit))
	}
	return "{" + strings.Join(s, " ") + "}"
}

func requestIDs(rs []*vault.DataRequest) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// checkRequests reports an error unless DataRequests(f) returns want, in
// order, and whether it did.
func (f *requestFixture) checkRequests(t testing.TB, filter vault.RequestFilter, want []*vault.DataRequest) bool {
	t.Helper()
	got, err := f.rs.DataRequests(context.Background(), filter)
	call := "DataRequests(" + filterString(filter) + ")"
	if err != nil {
		t.Errorf("%s = %v, want nil", call, err)
		return false
	}
	if g, w := requestIDs(got), requestIDs(want); !slices.Equal(g, w) {
		t.Errorf("%s = %d requests, want %d; %s", call, len(g), len(w), idDiff(g, w))
		return false
	}
	for i := range got {
		if d := DiffRequest(got[i], want[i]); d != "" {
			t.Errorf("%s[%d]: %s", call, i, d)
			return false
		}
	}
	return true
}

func testRequestList(t *testing.T, open func(t *testing.T) vault.Store) {
	f := newRequestFixture(t, open)
	other := MustCreateTenant(t, f.s)
	base := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	subjects := []string{vault.NewID(Now()), vault.NewID(Now()), vault.NewID(Now())}
	states := []string{vault.StateReceived, vault.StateVerified, vault.StateInProgress, vault.StateCompleted, vault.StateRejected}
	var all []*vault.DataRequest
	// For each subject and type: an earlier request, closed by an update,
	// then one in a state of the cycle, due on one of six days (so that
	// many share a due time and are ordered by id).
	for si, subject := range subjects {
		for ti, typ := range vault.RequestTypes {
			k := si*len(vault.RequestTypes) + ti
			early := NewRequest(f.tn.ID, typ, subject)
			early.DueAt = base.Add(time.Duration(k%4) * 24 * time.Hour)
			f.mustCreateRequest(t, early)
			closed := closeRequest(early, states[3+k%2])
			f.mustUpdateRequest(t, closed)
			all = append(all, closed)

			r := NewRequest(f.tn.ID, typ, subject)
			r.DueAt = base.Add(time.Duration(k%6) * 24 * time.Hour)
			r.State = states[k%len(states)]
			if r.State == vault.StateCompleted || r.State == vault.StateRejected {
				r.CompletedAt = r.UpdatedAt
			}
			f.mustCreateRequest(t, r)
			all = append(all, r)
		}
	}
	// Extensions move the due date of a few.
	for _, i := range []int{1, 8, 20, 33} {
		u := *all[i]
		u.ExtensionMonths, u.ExtensionReason, u.DueAt = 1, "complexity", u.DueAt.AddDate(0, 1, 0)
		u.Version++
		f.mustUpdateRequest(t, &u)
		all[i] = &u
	}
	// Another tenant's requests about the same subjects, due earlier.
	var others []*vault.DataRequest
	for _, subject := range subjects {
		r := NewRequest(other.ID, vault.RequestAccess, subject)
		r.DueAt = base.Add(-time.Hour)
		f.mustCreateRequest(t, r)
		others = append(others, r)
	}

	due := base.Add(2 * 24 * time.Hour)
	bounds := []time.Time{
		{},
		base,
		due,
		due.Add(time.Nanosecond),
		due.Add(-time.Microsecond),
		due.Add(time.Microsecond).In(time.FixedZone("UTC+2", 2*3600)),
		base.AddDate(1, 0, 0),
	}
	failed := 0
	for _, state := range append([]string{""}, states...) {
		for _, subject := range []string{"", subjects[0], subjects[2], vault.NewID(Now())} {
			for _, open := range []bool{false, true} {
				for _, before := range bounds {
					for _, limit := range []int{0, 1, 4} {
						filter := vault.RequestFilter{TenantID: f.tn.ID, State: state, SubjectID: subject, Open: open, DueBefore: before, Limit: limit}
						if !f.checkRequests(t, filter, wantRequests(all, filter)) {
							failed++
						}
						if failed >= 5 {
							t.FailNow()
						}
					}
				}
			}
		}
	}
	for _, filter := range []vault.RequestFilter{
		{TenantID: other.ID},
		{TenantID: other.ID, SubjectID: subjects[1]},
		{TenantID: other.ID, Open: true, DueBefore: base},
		{TenantID: other.ID, Limit: 2},
	} {
		f.checkRequests(t, filter, wantRequests(others, filter))
	}
	f.checkRequests(t, vault.RequestFilter{TenantID: "tenant-without-requests"}, nil)
	f.checkRequests(t, vault.RequestFilter{TenantID: f.tn.ID, Limit: 1000}, wantRequests(all, vault.RequestFilter{TenantID: f.tn.ID}))
}

func testVerificationCode(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		f := newRequestFixture(t, open)
		r := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		r.Channel = vault.ChannelSelf
		f.mustCreateRequest(t, r)
		settle(t, f.s)

		c := NewCode(f.tn.ID, r.ID)
		want := *c
		want.Hash = bytes.Clone(c.Hash)
		mustCode(t, "PutVerificationCode", f.rs.PutVerificationCode(t.Context(), c), "")
		f.checkCodeStored(t, &want)
		// Putting a code is no audited write.
		checkPending(t, f.s)
		// Neither the caller's code nor a returned one aliases the stored one.
		c.Hash[0] ^= 0xff
		got, err := f.rs.VerificationCode(t.Context(), f.tn.ID, r.ID)
		mustCode(t, "VerificationCode", err, "")
		got.Hash[1] ^= 0xff
		f.checkCodeStored(t, &want)

		// A failed attempt, then the use: Attempts and UsedAt only.
		u := want
		u.Hash, u.ExpiresAt = RandomBytes(32), want.ExpiresAt.Add(time.Hour)
		u.Attempts = 1
		e1 := NewEntry(f.tn.ID, vault.ActionRequestVerify, r.SubjectID)
		e1.Outcome = vault.OutcomeDenied
		mustCode(t, "UpdateVerificationCode(attempt)", f.rs.UpdateVerificationCode(t.Context(), &u, e1), "")
		checkUnsequenced(t, "UpdateVerificationCode", e1)
		want.Attempts = 1
		f.checkCodeStored(t, &want)
		u.Attempts, u.UsedAt = 2, Now()
		e2 := NewEntry(f.tn.ID, vault.ActionRequestVerify, r.SubjectID)
		mustCode(t, "UpdateVerificationCode(used)", f.rs.UpdateVerificationCode(t.Context(), &u, e2), "")
		want.Attempts, want.UsedAt = 2, u.UsedAt
		f.checkCodeStored(t, &want)
		checkPending(t, f.s, e1, e2)
		// A used code takes no more attempts, nor does a stale count.
		u.Attempts, u.UsedAt = 3, time.Time{}
		late := NewEntry(f.tn.ID, vault.ActionRequestVerify, r.SubjectID)
		mustCode(t, "UpdateVerificationCode(after use)", f.rs.UpdateVerificationCode(t.Context(), &u, late), vault.ECONFLICT)
		f.checkCodeStored(t, &want)
		checkPending(t, f.s, e1, e2) // the refused attempt appended nothing

		// A new code replaces the old one, attempts and use included.
		n := NewCode(f.tn.ID, r.ID)
		n.ExpiresAt = want.ExpiresAt.Add(30 * time.Minute)
		mustCode(t, "PutVerificationCode(again)", f.rs.PutVerificationCode(t.Context(), n), "")
		f.checkCodeStored(t, n)
		stale := *n
		stale.Attempts = 2 // the stored count is 0: not the next attempt
		staleEntry := NewEntry(f.tn.ID, vault.ActionRequestVerify, r.SubjectID)
		mustCode(t, "UpdateVerificationCode(stale)", f.rs.UpdateVerificationCode(t.Context(), &stale, staleEntry), vault.ECONFLICT)
		checkPending(t, f.s, e1, e2)
		used := *n
		used.Attempts, used.UsedAt = 1, Now()
		mustCode(t, "UpdateVerificationCode", f.rs.UpdateVerificationCode(t.Context(), &used, NewEntry(f.tn.ID, vault.ActionRequestVerify, r.SubjectID)), "")
		fresh := NewCode(f.tn.ID, r.ID)
		mustCode(t, "PutVerificationCode(after use)", f.rs.PutVerificationCode(t.Context(), fresh), "")
		f.checkCodeStored(t, fresh)
	})

	t.Run("PerRequest", func(t *testing.T) {
		f := newRequestFixture(t, open)
		other := MustCreateTenant(t, f.s)
		r1 := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		r2 := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		f.mustCreateRequest(t, r1)
		f.mustCreateRequest(t, r2)
		// Another tenant's request with the same id.
		r3 := NewRequest(other.ID, vault.RequestAccess, vault.NewID(Now()))
		r3.ID = r1.ID
		f.mustCreateRequest(t, r3)
		c1, c2, c3 := NewCode(f.tn.ID, r1.ID), NewCode(f.tn.ID, r2.ID), NewCode(other.ID, r1.ID)
		for _, c := range []*vault.VerificationCode{c1, c2, c3} {
			mustCode(t, "PutVerificationCode", f.rs.PutVerificationCode(t.Context(), c), "")
		}
		u := *c2
		u.Attempts = 1
		mustCode(t, "UpdateVerificationCode", f.rs.UpdateVerificationCode(t.Context(), &u, NewEntry(f.tn.ID, vault.ActionRequestVerify, "")), "")
		f.checkCodeStored(t, c1)
		f.checkCodeStored(t, &u)
		f.checkCodeStored(t, c3)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		f := newRequestFixture(t, open)
		other := MustCreateTenant(t, f.s)
		r := NewRequest(f.tn.ID, vault.RequestAccess, vault.NewID(Now()))
		f.mustCreateRequest(t, r)
		settle(t, f.s)

		_, err := f.rs.VerificationCode(t.Context(), f.tn.ID, r.ID)
		checkCode(t, "VerificationCode(no code yet)", err, vault.ENOTFOUND)
		e := NewEntry(f.tn.ID, vault.ActionRequestVerify, r.SubjectID)
		checkCode(t, "UpdateVerificationCode(no code yet)", f.rs.UpdateVerificationCode(t.Context(), NewCode(f.tn.ID, r.ID), e), vault.ENOTFOUND)
		checkUnsequenced(t, "UpdateVerificationCode", e)
		// A code needs its request.
		missing := vault.NewID(Now())
		checkCode(t, "PutVerificationCode(missing request)", f.rs.PutVerificationCode(t.Context(), NewCode(f.tn.ID, missing)), vault.ENOTFOUND)
		checkCode(t, "PutVerificationCode(other tenant's request)", f.rs.PutVerificationCode(t.Context(), NewCode(other.ID, r.ID)), vault.ENOTFOUND)
		_, err = f.rs.VerificationCode(t.Context(), f.tn.ID, missing)
		checkCode(t, "VerificationCode(missing request)", err, vault.ENOTFOUND)

		c := NewCode(f.tn.ID, r.ID)
		mustCode(t, "PutVerificationCode", f.rs.PutVerificationCode(t.Context(), c), "")
		_, err = f.rs.VerificationCode(t.Context(), other.ID, r.ID)
		checkCode(t, "VerificationCode(other tenant)", err, vault.ENOTFOUND)
		u := *c
		u.TenantID, u.Attempts = other.ID, 5
		checkCode(t, "UpdateVerificationCode(other tenant)", f.rs.UpdateVerificationCode(t.Context(), &u, NewEntry(other.ID, vault.ActionRequestVerify, "")), vault.ENOTFOUND)
		f.checkCodeStored(t, c)
		checkPending(t, f.s)
	})
}

// eraseFixture is a tenant with a contact r, the subject of an erasure
// request req in progress, and a contact o sharing r's phone and one of
// its segmentation tokens.
type eraseFixture struct {
	*requestFixture
	r, o *vault.Record
	req  *vault.DataRequest
}

func newEraseFixture(t *testing.T, open func(t *testing.T) vault.Store) *eraseFixture {
	t.Helper()
	f := &eraseFixture{requestFixture: newRequestFixture(t, open)}
	f.r, f.o = NewRecord(f.tn.ID), NewRecord(f.tn.ID)
	SetLookupToken(f.o, FieldPhone, LookupToken(f.r, FieldPhone))
	f.o.Tokens = append(f.o.Tokens, f.r.Tokens[0])
	MustCreateContact(t, f.s, f.r)
	MustCreateContact(t, f.s, f.o)
	f.req = NewRequest(f.tn.ID, vault.RequestErasure, f.r.ID)
	f.req.Identity, f.req.IdentityMethod, f.req.State = vault.IdentityVerified, "in_person", vault.StateInProgress
	f.mustCreateRequest(t, f.req)
	settle(t, f.s)
	return f
}

// suppressions returns a suppression per lookup of r, at request req,
// whose token is the lookup's: to the store a token is opaque bytes,
// whatever keyed hash the service keeps.
func suppressions(r *vault.Record, req *vault.DataRequest) []*vault.Suppression {
	var s []*vault.Suppression
	for _, l := range r.Lookups {
		s = append(s, &vault.Suppression{TenantID: r.TenantID, Field: l.Field, Token: bytes.Clone(l.Token), RequestID: req.ID, CreatedAt: Now()})
	}
	return s
}

// completed returns a copy of req completed, at the next version.
func completed(req *vault.DataRequest) *vault.DataRequest {
	return closeRequest(req, vault.StateCompleted)
}

// checkIntact reports an error unless nothing of the fixture changed: the
// contacts, their lookups and segment rows, the request, the suppression
// list, the pending audit entries (none).
func (f *eraseFixture) checkIntact(t *testing.T) {
	t.Helper()
	checkRecord(t, f.s, f.r)
	checkRecord(t, f.s, f.o)
	checkFound(t, "FindContacts(email)", find(t, f.s, f.tn.ID, FieldEmail, LookupToken(f.r, FieldEmail), 10), f.r)
	both := []*vault.Record{f.r, f.o}
	sortRecords(both)
	checkFound(t, "FindContacts(shared phone)", find(t, f.s, f.tn.ID, FieldPhone, LookupToken(f.r, FieldPhone), 10), both...)
	checkSegment(t, f.s, f.tn.ID, &vault.Cond{Op: vault.CondTokens, Tokens: [][]byte{f.r.Tokens[1]}}, []*vault.Record{f.r}, "r's own token")
	f.checkRequest(t, f.req)
	for _, l := range f.r.Lookups {
		f.checkSuppressed(t, f.tn.ID, l.Field, [][]byte{l.Token})
	}
	checkPending(t, f.s)
}

func testEraseSubject(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Run("OK", func(t *testing.T) {
		f := newEraseFixture(t, open)
		done := completed(f.req)
		want := *done
		sup := suppressions(f.r, f.req)
		e := NewEntry(f.tn.ID, vault.ActionContactErase, f.r.ID)
		mustCode(t, "EraseSubject", f.rs.EraseSubject(t.Context(), done, sup, e), "")
		checkUnsequenced(t, "EraseSubject", e)

		// The record, its key, lookups and segment rows are gone.
		checkAbsent(t, f.s, f.tn.ID, f.r.ID)
		checkFound(t, "FindContacts(erased email)", find(t, f.s, f.tn.ID, FieldEmail, LookupToken(f.r, FieldEmail), 10))
		checkFound(t, "FindContacts(shared phone)", find(t, f.s, f.tn.ID, FieldPhone, LookupToken(f.r, FieldPhone), 10), f.o)
		checkRecord(t, f.s, f.o)
		checkSegment(t, f.s, f.tn.ID, &vault.Cond{Op: vault.CondTrue}, []*vault.Record{f.o}, "true after erasure")
		checkSegment(t, f.s, f.tn.ID, &vault.Cond{Op: vault.CondTokens, Tokens: f.r.Tokens}, []*vault.Record{f.o}, "erased tokens")
		// The request is updated, the suppressions added, the entry pending.
		f.checkRequest(t, &want)
		f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{RandomBytes(32), LookupToken(f.r, FieldEmail)}, LookupToken(f.r, FieldEmail))
		f.checkSuppressed(t, f.tn.ID, FieldPhone, [][]byte{LookupToken(f.r, FieldPhone)}, LookupToken(f.r, FieldPhone))
		checkPending(t, f.s, e)
		settle(t, f.s)

		// Erased is erased.
		e2 := NewEntry(f.tn.ID, vault.ActionContactErase, f.r.ID)
		checkCode(t, "EraseContact(erased)", f.s.EraseContact(t.Context(), f.tn.ID, f.r.ID, e2), vault.ENOTFOUND)
		again := completed(done)
		checkCode(t, "EraseSubject(erased)", f.rs.EraseSubject(t.Context(), again, sup, NewEntry(f.tn.ID, vault.ActionContactErase, f.r.ID)), vault.ENOTFOUND)
		f.checkRequest(t, &want)
		checkPending(t, f.s)

		// A create holding a listed suppression token is refused whole,
		// in its own transaction, naming the field: nothing is written,
		// no entry appended.
		n := NewRecord(f.tn.ID)
		SetLookupToken(n, FieldEmail, LookupToken(f.r, FieldEmail))
		n.Suppression = []vault.Lookup{{Field: FieldPhone, Token: RandomBytes(32)}, {Field: FieldEmail, Token: LookupToken(f.r, FieldEmail)}}
		err := f.s.CreateContact(t.Context(), n, NewEntry(f.tn.ID, vault.ActionContactCreate, n.ID))
		checkCode(t, "CreateContact(suppressed)", err, vault.ECONFLICT)
		if ve := (*vault.Error)(nil); !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != FieldEmail {
			t.Errorf("CreateContact(suppressed) = %v, want the suppression error naming %s", err, FieldEmail)
		}
		checkAbsent(t, f.s, f.tn.ID, n.ID)
		checkPending(t, f.s)
		// Another tenant's list, another field's token or an unlisted
		// token does not stop a create; the unique email is free again.
		other := MustCreateTenant(t, f.s)
		o := NewRecord(other.ID)
		o.Suppression = []vault.Lookup{{Field: FieldEmail, Token: LookupToken(f.r, FieldEmail)}}
		MustCreateContact(t, f.s, o)
		n.Suppression = []vault.Lookup{{Field: FieldPhone, Token: LookupToken(f.r, FieldEmail)}, {Field: FieldEmail, Token: RandomBytes(32)}}
		MustCreateContact(t, f.s, n)
		checkFound(t, "FindContacts(email after re-create)", find(t, f.s, f.tn.ID, FieldEmail, LookupToken(f.r, FieldEmail), 10), n)
	})

	t.Run("NoSuppression", func(t *testing.T) {
		f := newEraseFixture(t, open)
		done := completed(f.req)
		e := NewEntry(f.tn.ID, vault.ActionContactErase, f.r.ID)
		mustCode(t, "EraseSubject(no suppression)", f.rs.EraseSubject(t.Context(), done, nil, e), "")
		checkAbsent(t, f.s, f.tn.ID, f.r.ID)
		f.checkRequest(t, done)
		f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{LookupToken(f.r, FieldEmail)})
		checkPending(t, f.s, e)
	})

	t.Run("SuppressedTwice", func(t *testing.T) {
		// A person erased, re-created and erased again: the suppression is
		// already on the list, which is no conflict; nor is a suppression
		// listed twice.
		f := newEraseFixture(t, open)
		sup := suppressions(f.r, f.req)
		sup = append(sup, &vault.Suppression{TenantID: f.tn.ID, Field: FieldEmail, Token: LookupToken(f.r, FieldEmail), RequestID: f.req.ID, CreatedAt: Now()})
		f.mustEraseSubject(t, completed(f.req), sup)

		n := NewRecord(f.tn.ID)
		SetLookupToken(n, FieldEmail, LookupToken(f.r, FieldEmail))
		MustCreateContact(t, f.s, n)
		req := NewRequest(f.tn.ID, vault.RequestErasure, n.ID)
		f.mustCreateRequest(t, req)
		done := completed(req)
		f.mustEraseSubject(t, done, suppressions(n, req))
		checkAbsent(t, f.s, f.tn.ID, n.ID)
		f.checkRequest(t, done)
		email := LookupToken(f.r, FieldEmail)
		f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{email, LookupToken(n, FieldPhone)}, email)
		f.checkSuppressed(t, f.tn.ID, FieldPhone, [][]byte{LookupToken(f.r, FieldPhone), LookupToken(n, FieldPhone)}, LookupToken(f.r, FieldPhone), LookupToken(n, FieldPhone))
	})

	t.Run("ZeroUpdatedAt", func(t *testing.T) {
		// The request is left as the caller says, open or not; a zero
		// UpdatedAt is the store's time.
		f := newEraseFixture(t, open)
		u := *f.req
		u.Version++
		u.UpdatedAt = time.Time{}
		before := Now().Add(-time.Minute)
		f.mustEraseSubject(t, &u, nil)
		if u.UpdatedAt.Before(before) {
			t.Errorf("EraseSubject: r.UpdatedAt = %v for a zero time, want the store's time", u.UpdatedAt)
		}
		f.checkRequest(t, &u)
	})

	t.Run("ErrConflictVersion", func(t *testing.T) {
		f := newEraseFixture(t, open)
		for _, v := range []int64{0, f.req.Version, f.req.Version + 2} {
			done := completed(f.req)
			done.Version = v
			e := NewEntry(f.tn.ID, vault.ActionContactErase, f.r.ID)
			checkCode(t, fmt.Sprintf("EraseSubject(Version %d over stored %d)", v, f.req.Version),
				f.rs.EraseSubject(t.Context(), done, suppressions(f.r, f.req), e), vault.ECONFLICT)
			checkUnsequenced(t, "EraseSubject", e)
		}
		f.checkIntact(t)
	})

	t.Run("ErrNotFoundContact", func(t *testing.T) {
		f := newEraseFixture(t, open)
		// A request about a contact that is not (or no longer) on file.
		for _, subject := range []string{vault.NewID(Now()), "not-a-uuid"} {
			gone := NewRequest(f.tn.ID, vault.RequestErasure, subject)
			f.mustCreateRequest(t, gone)
			settle(t, f.s)
			done := completed(gone)
			e := NewEntry(f.tn.ID, vault.ActionContactErase, subject)
			checkCode(t, "EraseSubject(missing contact)", f.rs.EraseSubject(t.Context(), done, suppressions(f.r, gone), e), vault.ENOTFOUND)
			f.checkRequest(t, gone)
		}
		f.checkIntact(t)
	})

	t.Run("ErrNotFoundRequest", func(t *testing.T) {
		f := newEraseFixture(t, open)
		missing := completed(NewRequest(f.tn.ID, vault.RequestErasure, f.r.ID))
		e := NewEntry(f.tn.ID, vault.ActionContactErase, f.r.ID)
		checkCode(t, "EraseSubject(missing request)", f.rs.EraseSubject(t.Context(), missing, suppressions(f.r, missing), e), vault.ENOTFOUND)
		f.checkNoRequest(t, f.tn.ID, missing.ID)
		f.checkIntact(t)
	})

	t.Run("ErrNotFoundOtherTenant", func(t *testing.T) {
		// Tenant b's request naming tenant a's contact erases nothing.
		f := newEraseFixture(t, open)
		b := MustCreateTenant(t, f.s)
		req := NewRequest(b.ID, vault.RequestErasure, f.r.ID)
		f.mustCreateRequest(t, req)
		settle(t, f.s)
		done := completed(req)
		var sup []*vault.Suppression
		for _, s := range suppressions(f.r, req) {
			s.TenantID = b.ID
			sup = append(sup, s)
		}
		e := NewEntry(b.ID, vault.ActionContactErase, f.r.ID)
		checkCode(t, "EraseSubject(other tenant's contact)", f.rs.EraseSubject(t.Context(), done, sup, e), vault.ENOTFOUND)
		f.checkRequest(t, req)
		f.checkSuppressed(t, b.ID, FieldEmail, [][]byte{LookupToken(f.r, FieldEmail)})
		f.checkIntact(t)
	})

	t.Run("Concurrent", func(t *testing.T) {
		// Two erasures at one request: one wins, the other is refused and
		// leaves nothing.
		f := newEraseFixture(t, open)
		const n = 6
		errs := make([]error, n)
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range n {
			wg.Go(func() {
				start.Wait()
				errs[i] = f.rs.EraseSubject(context.Background(), completed(f.req), suppressions(f.r, f.req),
					NewEntry(f.tn.ID, vault.ActionContactErase, f.r.ID))
			})
		}
		start.Done()
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch vault.ErrorCode(err) {
			case "":
				ok++
			case vault.ECONFLICT, vault.ENOTFOUND:
			default:
				t.Errorf("EraseSubject #%d = %v, want nil, ECONFLICT or ENOTFOUND", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d concurrent erasures at one request: %d succeeded, want 1", n, ok)
		}
		if ps := pendingAll(t, f.s); len(ps) != 1 {
			t.Errorf("PendingAudit = %d entries, want 1", len(ps))
		}
		checkAbsent(t, f.s, f.tn.ID, f.r.ID)
		f.checkRequest(t, completed(f.req))
	})
}

// mustEraseSubject erases r's subject at request r, failing t on error.
func (f *requestFixture) mustEraseSubject(t testing.TB, r *vault.DataRequest, s []*vault.Suppression) *vault.AuditEntry {
	t.Helper()
	e := NewEntry(r.TenantID, vault.ActionContactErase, r.SubjectID)
	if err := f.rs.EraseSubject(context.Background(), r, s, e); err != nil {
		t.Fatalf("EraseSubject(%s) = %v, want nil", r.SubjectID, err)
	}
	return e
}

func testSuppressed(t *testing.T, open func(t *testing.T) vault.Store) {
	f := newRequestFixture(t, open)
	other := MustCreateTenant(t, f.s)
	r := NewRecord(f.tn.ID)
	MustCreateContact(t, f.s, r)
	req := NewRequest(f.tn.ID, vault.RequestErasure, r.ID)
	f.mustCreateRequest(t, req)
	// Suppressions need not be the record's lookups: the store keeps what
	// it is given. t1 to t3 are emails, p1 a phone; t1 is an alt_email too.
	t1, t2, t3, p1 := RandomBytes(32), RandomBytes(32), RandomBytes(32), RandomBytes(32)
	// Short and long tokens alike.
	short, long := RandomBytes(8), RandomBytes(64)
	sup := func(field string, token []byte) *vault.Suppression {
		return &vault.Suppression{TenantID: f.tn.ID, Field: field, Token: bytes.Clone(token), RequestID: req.ID, CreatedAt: Now()}
	}
	f.mustEraseSubject(t, completed(req), []*vault.Suppression{
		sup(FieldEmail, t1), sup(FieldEmail, t2), sup(FieldEmail, t3), sup(FieldPhone, p1), sup("alt_email", t1),
		sup(FieldEmail, short), sup(FieldEmail, long),
	})

	x, y := RandomBytes(32), RandomBytes(32)
	f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{x, t1, y, t3}, t1, t3)
	f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{t3, t1, t3, t2, t1}, t3, t1, t2)
	f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{t2}, t2)
	f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{short, long}, short, long)
	f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{x, y})
	f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{p1})
	f.checkSuppressed(t, f.tn.ID, FieldPhone, [][]byte{t1, p1, t2}, p1)
	f.checkSuppressed(t, f.tn.ID, "alt_email", [][]byte{t2, t1}, t1)
	f.checkSuppressed(t, f.tn.ID, "postal_code", [][]byte{t1, p1})
	// Exact tokens only.
	f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{t1[:16], append(bytes.Clone(t1), 0), long[:32], short[:7]})
	// Nothing asked, nothing answered.
	f.checkSuppressed(t, f.tn.ID, FieldEmail, nil)
	f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{})
	// Another tenant has none.
	f.checkSuppressed(t, other.ID, FieldEmail, [][]byte{t1, t2, t3}, nil...)
	f.checkSuppressed(t, "tenant-without-suppressions", FieldPhone, [][]byte{p1})

	t.Run("Many", func(t *testing.T) {
		tokens := make([][]byte, 3000)
		for i := range tokens {
			tokens[i] = RandomBytes(32)
		}
		tokens[1234], tokens[2999] = bytes.Clone(t2), bytes.Clone(t1)
		f.checkSuppressed(t, f.tn.ID, FieldEmail, tokens, t2, t1)
	})

	t.Run("Copies", func(t *testing.T) {
		in := [][]byte{bytes.Clone(t1)}
		got, err := f.rs.Suppressed(t.Context(), f.tn.ID, FieldEmail, in)
		mustCode(t, "Suppressed", err, "")
		if len(got) == 1 {
			got[0][0] ^= 0xff
		}
		in[0][1] ^= 0xff
		f.checkSuppressed(t, f.tn.ID, FieldEmail, [][]byte{t1}, t1)
	})
}

func testRequestInvalid(t *testing.T, open func(t *testing.T) vault.Store) {
	f := newEraseFixture(t, open)
	tn, r, req := f.tn, f.r, f.req
	code := NewCode(tn.ID, req.ID)
	mustCode(t, "PutVerificationCode", f.rs.PutVerificationCode(t.Context(), code), "")
	entry := func() *vault.AuditEntry { return NewEntry(tn.ID, vault.ActionRequestCreate, r.ID) }
	request := func(modify func(r *vault.DataRequest)) *vault.DataRequest {
		n := NewRequest(tn.ID, vault.RequestPortability, r.ID)
		modify(n)
		return n
	}
	update := func(modify func(u *vault.DataRequest)) *vault.DataRequest {
		u := *req
		u.State = vault.StateVerified
		u.Version++
		modify(&u)
		return &u
	}
	codeWith := func(modify func(c *vault.VerificationCode)) *vault.VerificationCode {
		c := *code
		c.Attempts = 2
		modify(&c)
		return &c
	}
	sups := func(modify func(s []*vault.Suppression) []*vault.Suppression) []*vault.Suppression {
		return modify(suppressions(r, req))
	}
	done := completed(req)

	for _, tt := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CreateRequest(nil)", func(ctx context.Context) error { return f.rs.CreateRequest(ctx, nil, entry()) }},
		{"CreateRequest(nil entry)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(*vault.DataRequest) {}), nil)
		}},
		{"CreateRequest(entry without action)", func(ctx context.Context) error {
			e := entry()
			e.Action = ""
			return f.rs.CreateRequest(ctx, request(func(*vault.DataRequest) {}), e)
		}},
		{"CreateRequest(entry not UTF-8)", func(ctx context.Context) error {
			e := entry()
			e.Subject = "\xff"
			return f.rs.CreateRequest(ctx, request(func(*vault.DataRequest) {}), e)
		}},
		{"CreateRequest(no tenant)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.TenantID = "" }), entry())
		}},
		{"CreateRequest(no id)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.ID = "" }), entry())
		}},
		{"CreateRequest(no subject)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.SubjectID = "" }), entry())
		}},
		{"CreateRequest(unknown type)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.Type = "deletion" }), entry())
		}},
		{"CreateRequest(no type)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.Type = "" }), entry())
		}},
		{"CreateRequest(unknown state)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.State = "Completed" }), entry())
		}},
		{"CreateRequest(no state)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.State = "" }), entry())
		}},
		{"CreateRequest(zero ReceivedAt)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.ReceivedAt = time.Time{} }), entry())
		}},
		{"CreateRequest(zero DueAt)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.DueAt = time.Time{} }), entry())
		}},
		{"CreateRequest(extension of 3 months)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.ExtensionMonths = 3 }), entry())
		}},
		{"CreateRequest(negative extension)", func(ctx context.Context) error {
			return f.rs.CreateRequest(ctx, request(func(r *vault.DataRequest) { r.ExtensionMonths = -1 }), entry())
		}},

		{"DataRequest(no tenant)", func(ctx context.Context) error { _, err := f.rs.DataRequest(ctx, "", req.ID); return err }},
		{"DataRequest(no id)", func(ctx context.Context) error { _, err := f.rs.DataRequest(ctx, tn.ID, ""); return err }},
		{"DataRequests(no tenant)", func(ctx context.Context) error {
			_, err := f.rs.DataRequests(ctx, vault.RequestFilter{Limit: 10})
			return err
		}},
		{"DataRequests(limit -1)", func(ctx context.Context) error {
			_, err := f.rs.DataRequests(ctx, vault.RequestFilter{TenantID: tn.ID, Limit: -1})
			return err
		}},

		{"UpdateRequest(nil)", func(ctx context.Context) error { return f.rs.UpdateRequest(ctx, nil, entry()) }},
		{"UpdateRequest(nil entry)", func(ctx context.Context) error {
			return f.rs.UpdateRequest(ctx, update(func(*vault.DataRequest) {}), nil)
		}},
		{"UpdateRequest(no tenant)", func(ctx context.Context) error {
			return f.rs.UpdateRequest(ctx, update(func(u *vault.DataRequest) { u.TenantID = "" }), entry())
		}},
		{"UpdateRequest(no id)", func(ctx context.Context) error {
			return f.rs.UpdateRequest(ctx, update(func(u *vault.DataRequest) { u.ID = "" }), entry())
		}},
		{"UpdateRequest(unknown state)", func(ctx context.Context) error {
			return f.rs.UpdateRequest(ctx, update(func(u *vault.DataRequest) { u.State = "done" }), entry())
		}},
		{"UpdateRequest(entry of 1969)", func(ctx context.Context) error {
			e := entry()
			e.Time = time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)
			return f.rs.UpdateRequest(ctx, update(func(*vault.DataRequest) {}), e)
		}},

		{"PutVerificationCode(nil)", func(ctx context.Context) error { return f.rs.PutVerificationCode(ctx, nil) }},
		{"PutVerificationCode(no tenant)", func(ctx context.Context) error {
			return f.rs.PutVerificationCode(ctx, codeWith(func(c *vault.VerificationCode) { c.TenantID = "" }))
		}},
		{"PutVerificationCode(no request)", func(ctx context.Context) error {
			return f.rs.PutVerificationCode(ctx, codeWith(func(c *vault.VerificationCode) { c.RequestID = "" }))
		}},
		{"PutVerificationCode(no hash)", func(ctx context.Context) error {
			return f.rs.PutVerificationCode(ctx, codeWith(func(c *vault.VerificationCode) { c.Hash = nil }))
		}},
		{"PutVerificationCode(zero ExpiresAt)", func(ctx context.Context) error {
			return f.rs.PutVerificationCode(ctx, codeWith(func(c *vault.VerificationCode) { c.ExpiresAt = time.Time{} }))
		}},
		{"PutVerificationCode(negative attempts)", func(ctx context.Context) error {
			return f.rs.PutVerificationCode(ctx, codeWith(func(c *vault.VerificationCode) { c.Attempts = -1 }))
		}},
		{"VerificationCode(no tenant)", func(ctx context.Context) error {
			_, err := f.rs.VerificationCode(ctx, "", req.ID)
			return err
		}},
		{"VerificationCode(no request)", func(ctx context.Context) error {
			_, err := f.rs.VerificationCode(ctx, tn.ID, "")
			return err
		}},
		{"UpdateVerificationCode(nil)", func(ctx context.Context) error { return f.rs.UpdateVerificationCode(ctx, nil, entry()) }},
		{"UpdateVerificationCode(nil entry)", func(ctx context.Context) error {
			return f.rs.UpdateVerificationCode(ctx, codeWith(func(*vault.VerificationCode) {}), nil)
		}},
		{"UpdateVerificationCode(no tenant)", func(ctx context.Context) error {
			return f.rs.UpdateVerificationCode(ctx, codeWith(func(c *vault.VerificationCode) { c.TenantID = "" }), entry())
		}},
		{"UpdateVerificationCode(no request)", func(ctx context.Context) error {
			return f.rs.UpdateVerificationCode(ctx, codeWith(func(c *vault.VerificationCode) { c.RequestID = "" }), entry())
		}},
		{"UpdateVerificationCode(negative attempts)", func(ctx context.Context) error {
			return f.rs.UpdateVerificationCode(ctx, codeWith(func(c *vault.VerificationCode) { c.Attempts = -1 }), entry())
		}},
		{"UpdateVerificationCode(entry without tenant)", func(ctx context.Context) error {
			e := entry()
			e.TenantID = ""
			return f.rs.UpdateVerificationCode(ctx, codeWith(func(*vault.VerificationCode) {}), e)
		}},

		{"EraseSubject(nil request)", func(ctx context.Context) error { return f.rs.EraseSubject(ctx, nil, suppressions(r, req), entry()) }},
		{"EraseSubject(nil entry)", func(ctx context.Context) error { return f.rs.EraseSubject(ctx, done, suppressions(r, req), nil) }},
		{"EraseSubject(entry without action)", func(ctx context.Context) error {
			e := entry()
			e.Action = ""
			return f.rs.EraseSubject(ctx, done, suppressions(r, req), e)
		}},
		{"EraseSubject(request without subject)", func(ctx context.Context) error {
			u := *done
			u.SubjectID = ""
			return f.rs.EraseSubject(ctx, &u, suppressions(r, req), entry())
		}},
		{"EraseSubject(request of unknown state)", func(ctx context.Context) error {
			u := *done
			u.State = "erased"
			return f.rs.EraseSubject(ctx, &u, suppressions(r, req), entry())
		}},
		{"EraseSubject(nil suppression)", func(ctx context.Context) error {
			return f.rs.EraseSubject(ctx, done, sups(func(s []*vault.Suppression) []*vault.Suppression { return append(s, nil) }), entry())
		}},
		{"EraseSubject(suppression without field)", func(ctx context.Context) error {
			return f.rs.EraseSubject(ctx, done, sups(func(s []*vault.Suppression) []*vault.Suppression { s[1].Field = ""; return s }), entry())
		}},
		{"EraseSubject(suppression without token)", func(ctx context.Context) error {
			return f.rs.EraseSubject(ctx, done, sups(func(s []*vault.Suppression) []*vault.Suppression { s[0].Token = nil; return s }), entry())
		}},
		{"EraseSubject(suppression of another tenant)", func(ctx context.Context) error {
			return f.rs.EraseSubject(ctx, done, sups(func(s []*vault.Suppression) []*vault.Suppression { s[1].TenantID = "tenant-other"; return s }), entry())
		}},

		{"Suppressed(no tenant)", func(ctx context.Context) error {
			_, err := f.rs.Suppressed(ctx, "", FieldEmail, [][]byte{RandomBytes(32)})
			return err
		}},
		{"Suppressed(no field)", func(ctx context.Context) error {
			_, err := f.rs.Suppressed(ctx, tn.ID, "", [][]byte{RandomBytes(32)})
			return err
		}},
		{"Suppressed(empty token)", func(ctx context.Context) error {
			_, err := f.rs.Suppressed(ctx, tn.ID, FieldEmail, [][]byte{RandomBytes(32), {}})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := safeCall(func() error { return tt.call(t.Context()) })
			checkCode(t, tt.name, err, vault.EINVALID)
		})
	}
	f.checkIntact(t)
	f.checkCodeStored(t, code)
	f.checkRequests(t, vault.RequestFilter{TenantID: tn.ID}, []*vault.DataRequest{req})
}

// requestCalls returns one call of every RequestStore method, for the
// fixture's tenant, request and contact.
func requestCalls(f *eraseFixture, code *vault.VerificationCode) []struct {
	name string
	call func(ctx context.Context) error
} {
	tn, req := f.tn, f.req
	return []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CreateRequest", func(ctx context.Context) error {
			n := NewRequest(tn.ID, vault.RequestAccess, f.r.ID)
			return f.rs.CreateRequest(ctx, n, NewEntry(tn.ID, vault.ActionRequestCreate, n.SubjectID))
		}},
		{"DataRequest", func(ctx context.Context) error { _, err := f.rs.DataRequest(ctx, tn.ID, req.ID); return err }},
		{"DataRequests", func(ctx context.Context) error {
			_, err := f.rs.DataRequests(ctx, vault.RequestFilter{TenantID: tn.ID, Open: true})
			return err
		}},
		{"UpdateRequest", func(ctx context.Context) error {
			u := *req
			u.State, u.Version = vault.StateVerified, req.Version+1
			return f.rs.UpdateRequest(ctx, &u, NewEntry(tn.ID, vault.ActionRequestStart, req.SubjectID))
		}},
		{"PutVerificationCode", func(ctx context.Context) error { return f.rs.PutVerificationCode(ctx, NewCode(tn.ID, req.ID)) }},
		{"VerificationCode", func(ctx context.Context) error { _, err := f.rs.VerificationCode(ctx, tn.ID, req.ID); return err }},
		{"UpdateVerificationCode", func(ctx context.Context) error {
			c := *code
			c.Attempts, c.UsedAt = 1, Now()
			return f.rs.UpdateVerificationCode(ctx, &c, NewEntry(tn.ID, vault.ActionRequestVerify, req.SubjectID))
		}},
		{"EraseSubject", func(ctx context.Context) error {
			return f.rs.EraseSubject(ctx, completed(req), suppressions(f.r, req), NewEntry(tn.ID, vault.ActionContactErase, f.r.ID))
		}},
		{"Suppressed", func(ctx context.Context) error {
			_, err := f.rs.Suppressed(ctx, tn.ID, FieldEmail, [][]byte{LookupToken(f.r, FieldEmail)})
			return err
		}},
	}
}

func testRequestContext(t *testing.T, open func(t *testing.T) vault.Store) {
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"Canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}},
		{"DeadlineExceeded", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newEraseFixture(t, open)
			code := NewCode(f.tn.ID, f.req.ID)
			mustCode(t, "PutVerificationCode", f.rs.PutVerificationCode(t.Context(), code), "")
			ctx, cancel := tt.ctx()
			defer cancel()
			for _, c := range requestCalls(f, code) {
				err := callWithin(t, c.name, callTimeout, func() error { return c.call(ctx) })
				if err == nil {
					t.Errorf("%s(done context) = nil, want an error", c.name)
				}
			}
			f.checkIntact(t)
			f.checkCodeStored(t, code)
			f.checkRequests(t, vault.RequestFilter{TenantID: f.tn.ID}, []*vault.DataRequest{f.req})
		})
	}
}
