package vault

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Request actions, asked of the authoriser and named in audit entries.
const (
	ActionRequestCreate   = "request.create"
	ActionRequestRead     = "request.read"
	ActionRequestList     = "request.list"
	ActionRequestStart    = "request.start"
	ActionRequestExtend   = "request.extend"
	ActionRequestReject   = "request.reject"
	ActionRequestComplete = "request.complete"
	ActionRequestExport   = "request.export"
	ActionRequestCode     = "request.code"
	ActionRequestVerify   = "request.verify"
	KindRequest           = "request"
)

// Self-service and identity-check limits.
const (
	codeTTL          = 15 * time.Minute
	codeMaxAttempts  = 5
	selfPerHour      = 3
	maxExtension     = 2
	dueSoon          = 7 * 24 * time.Hour
	selfActor        = "subject"
	maxBackdatedDays = 366
)

// Mailer sends the one-time codes of requests people make themselves. The
// address and the text are personal data: implementations never log them.
type Mailer interface {
	Send(ctx context.Context, to, subject, text string) error
}

// SetMailer sets how one-time codes are sent.
func (s *Service) SetMailer(m Mailer) { s.mailer = m }

// RequestInput is a request recorded by staff.
type RequestInput struct {
	Type      string `json:"type"`
	SubjectID string `json:"subject"`
	// ReceivedAt is when the request arrived (default now); it may be up
	// to a year in the past, for a letter opened late.
	ReceivedAt *time.Time `json:"received_at,omitempty"`
	// IdentityMethod, when given, records that staff checked the person's
	// identity, and how: the request starts verified.
	IdentityMethod string `json:"identity_method,omitempty"`
	AssigneeID     string `json:"assignee,omitempty"`
}

// RequestView is a request as the API shows it, with its deadline state.
type RequestView struct {
	*DataRequest
	Overdue bool `json:"overdue"`
	DueSoon bool `json:"due_soon"`
}

func (s *Service) viewRequest(r *DataRequest) *RequestView {
	now := s.now()
	open := isOpen(r)
	return &RequestView{DataRequest: r, Overdue: open && now.After(r.DueAt), DueSoon: open && !now.After(r.DueAt) && r.DueAt.Sub(now) <= dueSoon}
}

func requestEntryFields(r *DataRequest, extra ...string) []string {
	return append([]string{"request:" + r.ID, "type:" + r.Type, "state:" + r.State}, extra...)
}

// dueAt is one calendar month after receipt, plus the extension.
func dueAt(received time.Time, extension int) time.Time {
	return received.AddDate(0, 1+extension, 0)
}

// CreateRequest records a data-subject request made to staff (a letter, an
// email, at the counter). EINVALID for a bad type, identity method or
// date, ENOTFOUND for an unknown subject, ECONFLICT when the same person
// has an open request of the same type.
func (s *Service) CreateRequest(ctx context.Context, p *Principal, in *RequestInput) (_ *RequestView, err error) {
	defer s.recordFailure(ctx, p, ActionRequestCreate, "dsr", in.SubjectID, &err)
	d, err := s.authorize(ctx, p, ActionRequestCreate, "dsr", Resource{Kind: KindRequest, TenantID: principalTenant(p)})
	if err != nil {
		return nil, err
	}
	var problems []FieldError
	if !slices.Contains(RequestTypes, in.Type) {
		problems = append(problems, FieldError{Field: "type", Reason: "must be one of " + strings.Join(RequestTypes, ", ")})
	}
	if in.IdentityMethod != "" && (!slices.Contains(IdentityMethods, in.IdentityMethod) || in.IdentityMethod == "code") {
		problems = append(problems, FieldError{Field: "identity_method", Reason: "must be one of identity_document, in_person, known_email, signed_letter"})
	}
	now := s.now()
	received := now
	if in.ReceivedAt != nil {
		received = in.ReceivedAt.UTC().Truncate(time.Microsecond)
		if received.After(now.Add(5*time.Minute)) || now.Sub(received) > maxBackdatedDays*24*time.Hour {
			problems = append(problems, FieldError{Field: "received_at", Reason: "must be a past time within a year"})
		}
	}
	if !ValidID(in.SubjectID) {
		problems = append(problems, FieldError{Field: "subject", Reason: "must be a contact id"})
	}
	if len(problems) > 0 {
		return nil, &Error{Code: EINVALID, Message: "Invalid request.", Fields: problems}
	}
	if _, err := s.store.Contact(ctx, p.TenantID, in.SubjectID); ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "No contact of this tenant has this id.")
	} else if err != nil {
		return nil, fmt.Errorf("vault.CreateRequest: %w", err)
	}
	r := &DataRequest{ID: NewID(now), TenantID: p.TenantID, Type: in.Type, SubjectID: in.SubjectID, Channel: ChannelStaff,
		ReceivedAt: received, Identity: IdentityPending, State: StateReceived, DueAt: dueAt(received, 0),
		AssigneeID: in.AssigneeID, CreatedBy: p.ID, UpdatedAt: now, Version: 1}
	if in.IdentityMethod != "" {
		r.Identity, r.IdentityMethod, r.State = IdentityVerified, in.IdentityMethod, StateVerified
	}
	e := s.entry(ctx, p, ActionRequestCreate, "dsr", r.SubjectID, requestEntryFields(r), d)
	if err := s.store.CreateRequest(ctx, r, e); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, Errorf(ECONFLICT, "This person already has an open %s request.", r.Type)
		}
		return nil, fmt.Errorf("vault.CreateRequest: %w", err)
	}
	return s.viewRequest(r), nil
}

// Requests lists p's tenant's requests, those due first (so the overdue
// ones lead). state, when set, filters.
func (s *Service) Requests(ctx context.Context, p *Principal, state string) (_ []*RequestView, err error) {
	defer s.recordFailure(ctx, p, ActionRequestList, "dsr", "", &err)
	d, err := s.authorize(ctx, p, ActionRequestList, "dsr", Resource{Kind: KindRequest, TenantID: principalTenant(p)})
	if err != nil {
		return nil, err
	}
	if state != "" && !slices.Contains([]string{StateReceived, StateVerified, StateInProgress, StateCompleted, StateRejected}, state) {
		return nil, &Error{Code: EINVALID, Message: "Invalid filter.", Fields: []FieldError{{Field: "state", Reason: "must be received, verified, in_progress, completed or rejected"}}}
	}
	list, err := s.store.DataRequests(ctx, RequestFilter{TenantID: p.TenantID, State: state, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("vault.Requests: %w", err)
	}
	out := make([]*RequestView, len(list))
	for i, r := range list {
		out[i] = s.viewRequest(r)
	}
	// Open requests first, by due date; then the closed ones.
	sort.SliceStable(out, func(i, j int) bool {
		return isOpen(out[i].DataRequest) && !isOpen(out[j].DataRequest)
	})
	if err := s.audit.append(ctx, s.entry(ctx, p, ActionRequestList, "dsr", "", nil, d)); err != nil {
		return nil, err
	}
	return out, nil
}

// OverdueRequests lists the open requests of a tenant past their due
// date, for the operator (coffre request overdue); no principal.
func (s *Service) OverdueRequests(ctx context.Context, tenantID string) ([]*RequestView, error) {
	list, err := s.store.DataRequests(ctx, RequestFilter{TenantID: tenantID, Open: true, DueBefore: s.now().Add(dueSoon), Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("vault.OverdueRequests: %w", err)
	}
	out := make([]*RequestView, 0, len(list))
	for _, r := range list {
		out = append(out, s.viewRequest(r))
	}
	return out, nil
}

// loadRequest authorises action on one request of p's tenant and loads it.
func (s *Service) loadRequest(ctx context.Context, p *Principal, action, id string) (*DataRequest, *Decision, error) {
	d, err := s.authorize(ctx, p, action, "dsr", Resource{Kind: KindRequest, TenantID: principalTenant(p)})
	if err != nil {
		return nil, nil, err
	}
	if !ValidID(id) {
		return nil, nil, Errorf(ENOTFOUND, "Request not found.")
	}
	r, err := s.store.DataRequest(ctx, p.TenantID, id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil, Errorf(ENOTFOUND, "Request not found.")
	} else if err != nil {
		return nil, nil, fmt.Errorf("vault.loadRequest: %w", err)
	}
	return r, d, nil
}

// Request returns one request.
func (s *Service) Request(ctx context.Context, p *Principal, id string) (_ *RequestView, err error) {
	defer s.recordFailure(ctx, p, ActionRequestRead, "dsr", "", &err)
	r, d, err := s.loadRequest(ctx, p, ActionRequestRead, id)
	if err != nil {
		return nil, err
	}
	if err := s.audit.append(ctx, s.entry(ctx, p, ActionRequestRead, "dsr", r.SubjectID, requestEntryFields(r), d)); err != nil {
		return nil, err
	}
	return s.viewRequest(r), nil
}

func isOpen(r *DataRequest) bool { return r.State != StateCompleted && r.State != StateRejected }

// changeRequest applies change to an open request and stores it with its
// audit entry. EINVALID (with the reason) when the request is closed.
func (s *Service) changeRequest(ctx context.Context, p *Principal, action, id string, change func(r *DataRequest) error, extra ...string) (*RequestView, error) {
	r, d, err := s.loadRequest(ctx, p, action, id)
	if err != nil {
		return nil, err
	}
	if !isOpen(r) {
		return nil, Errorf(ECONFLICT, "The request is %s: it can no longer change.", r.State)
	}
	if err := change(r); err != nil {
		return nil, err
	}
	r.UpdatedAt = s.now()
	r.Version++
	e := s.entry(ctx, p, action, "dsr", r.SubjectID, requestEntryFields(r, extra...), d)
	if err := s.store.UpdateRequest(ctx, r, e); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, Errorf(ECONFLICT, "The request changed meanwhile: read it again.")
		}
		return nil, fmt.Errorf("vault.changeRequest: %w", err)
	}
	return s.viewRequest(r), nil
}

// StartRequest marks a verified request in progress, assigned to p.
func (s *Service) StartRequest(ctx context.Context, p *Principal, id string) (_ *RequestView, err error) {
	defer s.recordFailure(ctx, p, ActionRequestStart, "dsr", "", &err)
	return s.changeRequest(ctx, p, ActionRequestStart, id, func(r *DataRequest) error {
		if r.State != StateVerified {
			return Errorf(ECONFLICT, "Only a verified request can start; this one is %s.", r.State)
		}
		r.State, r.AssigneeID = StateInProgress, p.ID
		return nil
	})
}

// ExtendRequest extends a request's deadline by months (the total at most
// two, GDPR Art. 12(3)) for a reason code.
func (s *Service) ExtendRequest(ctx context.Context, p *Principal, id string, months int, reason string) (_ *RequestView, err error) {
	defer s.recordFailure(ctx, p, ActionRequestExtend, "dsr", "", &err)
	return s.changeRequest(ctx, p, ActionRequestExtend, id, func(r *DataRequest) error {
		var problems []FieldError
		if months < 1 || r.ExtensionMonths+months > maxExtension {
			problems = append(problems, FieldError{Field: "months", Reason: fmt.Sprintf("must bring the extension to at most %d months in all (now %d)", maxExtension, r.ExtensionMonths)})
		}
		if !slices.Contains(ExtensionReasons, reason) {
			problems = append(problems, FieldError{Field: "reason", Reason: "must be one of " + strings.Join(ExtensionReasons, ", ")})
		}
		if len(problems) > 0 {
			return &Error{Code: EINVALID, Message: "Invalid extension.", Fields: problems}
		}
		r.ExtensionMonths += months
		r.ExtensionReason = reason
		r.DueAt = dueAt(r.ReceivedAt, r.ExtensionMonths)
		return nil
	}, "extension:"+reason)
}

// RejectRequest rejects a request for a reason code.
func (s *Service) RejectRequest(ctx context.Context, p *Principal, id, reason string) (_ *RequestView, err error) {
	defer s.recordFailure(ctx, p, ActionRequestReject, "dsr", "", &err)
	return s.changeRequest(ctx, p, ActionRequestReject, id, func(r *DataRequest) error {
		if !slices.Contains(RejectReasons, reason) {
			return &Error{Code: EINVALID, Message: "Invalid rejection.", Fields: []FieldError{{Field: "reason", Reason: "must be one of " + strings.Join(RejectReasons, ", ")}}}
		}
		r.State, r.Reason, r.CompletedAt = StateRejected, reason, s.now()
		return nil
	}, "reason:"+reason)
}

// requestResource describes the request's subject to the authoriser, with
// the request it is done for.
func (s *Service) requestResource(p *Principal, r *DataRequest, rec *Record) Resource {
	res := resourceOf(p, rec)
	res.Request = &RequestContext{ID: r.ID, Type: r.Type, State: r.State, Subject: rec.ID == r.SubjectID}
	return res
}

// CompleteInput carries what completing a request needs.
type CompleteInput struct {
	// Fields and Consents are the rectification to apply.
	Fields   map[string]any          `json:"fields,omitempty"`
	Consents map[string]ConsentInput `json:"consents,omitempty"`
	// Withdraw names the consents a consent withdrawal withdraws (all
	// when empty).
	Withdraw []string `json:"withdraw,omitempty"`
	// LegalRetention, for an erasure, records that a legal duty to keep
	// the data applies (GDPR Art. 17(3)): the request is rejected and the
	// record restricted instead.
	LegalRetention bool `json:"legal_retention,omitempty"`
}

// CompleteRequest carries out a verified request and closes it:
// rectification applies the change through the normal update; erasure
// shreds the subject's data key, removes the record and keeps a keyed
// suppression entry (or, under a legal retention duty, restricts the
// record and rejects the request); restriction and objection set the
// record's flag; consent withdrawal withdraws the consents; access and
// portability close once the export was made. Every step is audited with
// the request's id.
func (s *Service) CompleteRequest(ctx context.Context, p *Principal, id string, in *CompleteInput) (_ *RequestView, err error) {
	defer s.recordFailure(ctx, p, ActionRequestComplete, "dsr", "", &err)
	r, d, err := s.loadRequest(ctx, p, ActionRequestComplete, id)
	if err != nil {
		return nil, err
	}
	if !isOpen(r) {
		return nil, Errorf(ECONFLICT, "The request is %s: it can no longer change.", r.State)
	}
	if r.State != StateVerified && r.State != StateInProgress {
		return nil, Errorf(ECONFLICT, "The person's identity is not verified yet: a request is completed only once it is.")
	}
	rec, err := s.store.Contact(ctx, p.TenantID, r.SubjectID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ECONFLICT, "The request's subject is no longer on file: reject the request (no_data).")
	} else if err != nil {
		return nil, fmt.Errorf("vault.CompleteRequest: %w", err)
	}
	now := s.now()
	close := func(state, reason string) error {
		r.State, r.Reason, r.CompletedAt, r.UpdatedAt = state, reason, now, now
		r.Version++
		e := s.entry(ctx, p, ActionRequestComplete, "dsr", r.SubjectID, requestEntryFields(r), d)
		return s.store.UpdateRequest(ctx, r, e)
	}
	switch r.Type {
	case RequestAccess, RequestPortability:
		// The export is the answer; closing records that it was given.
	case RequestRectification:
		if len(in.Fields) == 0 && len(in.Consents) == 0 {
			return nil, &Error{Code: EINVALID, Message: "Invalid completion.", Fields: []FieldError{{Field: "fields", Reason: "a rectification needs the fields to change"}}}
		}
		if _, err := s.updateForRequest(ctx, p, r, rec, &ContactPatch{Fields: in.Fields, Consents: in.Consents}); err != nil {
			return nil, err
		}
	case RequestConsentWithdrawal:
		patch := &ContactPatch{Consents: map[string]ConsentInput{}}
		names := in.Withdraw
		if len(names) == 0 {
			names = s.schema.Consents
		}
		no := false
		for _, n := range names {
			patch.Consents[n] = ConsentInput{Granted: &no, Source: "request " + r.ID}
		}
		if _, err := s.updateForRequest(ctx, p, r, rec, patch); err != nil {
			return nil, err
		}
	case RequestRestriction, RequestObjection:
		flag := FlagRestricted
		if r.Type == RequestObjection {
			flag = FlagObjected
		}
		if err := s.setFlag(ctx, p, r, rec, flag); err != nil {
			return nil, err
		}
	case RequestErasure:
		if in.LegalRetention {
			// The policy decides the restriction like any change: a
			// denial fails the completion and leaves the record as it is.
			if err := s.setFlag(ctx, p, r, rec, FlagRestricted); err != nil {
				return nil, err
			}
			if err := close(StateRejected, "legal_retention"); err != nil {
				return nil, fmt.Errorf("vault.CompleteRequest: %w", err)
			}
			return s.viewRequest(r), nil
		}
		return s.eraseForRequest(ctx, p, r, rec)
	}
	if err := close(StateCompleted, ""); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, Errorf(ECONFLICT, "The request changed meanwhile: read it again.")
		}
		return nil, fmt.Errorf("vault.CompleteRequest: %w", err)
	}
	return s.viewRequest(r), nil
}

// updateForRequest applies a patch to the request's subject as the DPO,
// inside the request, through the normal update path.
func (s *Service) updateForRequest(ctx context.Context, p *Principal, r *DataRequest, rec *Record, patch *ContactPatch) (*ContactView, error) {
	dd, err := s.authorize(ctx, p, ActionContactUpdate, "dsr", s.requestResource(p, r, rec))
	if err != nil {
		return nil, err
	}
	return s.patch(ctx, p, "dsr", rec, dd, patch, "request:"+r.ID)
}

// setFlag turns on one of the record's flags (FlagRestricted,
// FlagObjected) inside a request: the sealed data stay as they are. The
// policy is asked a contact.update that sets this flag alone, and decides;
// a denial leaves the record unchanged.
func (s *Service) setFlag(ctx context.Context, p *Principal, r *DataRequest, rec *Record, flag string) error {
	nr := *rec
	switch flag {
	case FlagRestricted:
		nr.Flags.Restricted = true
	case FlagObjected:
		nr.Flags.Objected = true
	default:
		return fmt.Errorf("vault.setFlag: unknown flag %q", flag)
	}
	res := s.requestResource(p, r, rec)
	res.SetFlags = []string{flag}
	dd, err := s.authorize(ctx, p, ActionContactUpdate, "dsr", res)
	if err != nil {
		return err
	}
	nr.Version = rec.Version + 1
	nr.UpdatedAt = s.now()
	var fields []string
	if nr.Flags != rec.Flags {
		fields = append(fields, flag)
	}
	e := s.entry(ctx, p, ActionContactUpdate, "dsr", rec.ID, append(fields, "request:"+r.ID), dd)
	if err := s.store.UpdateContact(ctx, &nr, e); err != nil {
		return s.conflict(err)
	}
	return nil
}

// eraseForRequest erases the subject inside an erasure request: one
// transaction removes the record and its key, keeps the suppression
// entries of its lookup values and completes the request.
func (s *Service) eraseForRequest(ctx context.Context, p *Principal, r *DataRequest, rec *Record) (*RequestView, error) {
	dd, err := s.authorize(ctx, p, ActionContactErase, "dsr", s.requestResource(p, r, rec))
	if err != nil {
		return nil, err
	}
	now := s.now()
	tk, err := s.tenantKeys(ctx, r.TenantID)
	if err != nil {
		return nil, err
	}
	lookups := map[string]string{}
	for _, f := range s.schema.Fields {
		if f.Lookup {
			lookups[f.Name] = Clear
		}
	}
	c, err := s.open(ctx, rec, lookups)
	if err != nil {
		return nil, err
	}
	var sup []*Suppression
	for _, name := range slices.Sorted(maps.Keys(lookups)) {
		if v, ok := c.Fields[name].(string); ok {
			sup = append(sup, &Suppression{TenantID: r.TenantID, Field: name, Token: suppressionToken(tk, name, v), RequestID: r.ID, CreatedAt: now})
		}
	}
	r.State, r.CompletedAt, r.UpdatedAt = StateCompleted, now, now
	r.Version++
	e := s.entry(ctx, p, ActionContactErase, "dsr", rec.ID, requestEntryFields(r, "suppressions:"+fmt.Sprint(len(sup))), dd)
	if err := s.store.EraseSubject(ctx, r, sup, e); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, Errorf(ECONFLICT, "The request changed meanwhile: read it again.")
		}
		return nil, fmt.Errorf("vault.eraseForRequest: %w", err)
	}
	return s.viewRequest(r), nil
}

// suppressionToken is the keyed hash a suppression keeps of a lookup
// value: keyed apart from the blind index, so that nothing of the erased
// person's lookups remains, yet the same value gives the same hash.
func suppressionToken(tk TenantKeys, field, value string) []byte {
	return tk.BlindIndex("suppressed."+field, value)
}

// suppressionLookups returns the suppression tokens of c's lookup values,
// which CreateContact must find absent from the suppression list: a
// person erased at their request is flagged, not silently re-created.
func (s *Service) suppressionLookups(tk TenantKeys, c *Contact) []Lookup {
	var out []Lookup
	for _, f := range s.schema.Fields {
		if v, ok := c.Fields[f.Name].(string); ok && f.Lookup {
			out = append(out, Lookup{Field: f.Name, Token: suppressionToken(tk, f.Name, v)})
		}
	}
	return out
}

// SuppressedError is the error of a create refused because the value of
// field belongs to a person erased at their request. Stores return it
// from CreateContact (see Record.Suppression).
func SuppressedError(field string) *Error {
	return &Error{Code: ECONFLICT, Message: "This person was erased at their request: they are on the suppression list and are not re-created.",
		Fields: []FieldError{{Field: field, Reason: "matches an erased person's"}}}
}

// errNoCode is the one answer to a wrong, expired, used or unknown code.
var errNoCode = Errorf(EUNAUTHORIZED, "The code is wrong, expired or already used.")

// selfLimiter bounds the requests one person (one email's blind index)
// makes in an hour.
type selfLimiter struct {
	mu sync.Mutex
	m  map[string][]time.Time
}

func (l *selfLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) > 100000 {
		l.m = make(map[string][]time.Time)
	}
	var recent []time.Time
	for _, t := range l.m[key] {
		if now.Sub(t) < time.Hour {
			recent = append(recent, t)
		}
	}
	if len(recent) >= selfPerHour {
		l.m[key] = recent
		return false
	}
	l.m[key] = append(recent, now)
	return true
}

// SelfRequest records a request a person makes about themselves, found by
// the email on file, and sends a one-time code to that address. The answer
// is the same whether or not the address is on file (the request id of a
// request that may not exist), so that nobody learns who is. EINVALID for
// a bad type or email, ETOOLARGE (rate limit) after three in an hour.
func (s *Service) SelfRequest(ctx context.Context, tenantID, typ, email string) (string, error) {
	if !ValidTenantID(tenantID) {
		return "", Errorf(EINVALID, "Unknown tenant.")
	}
	if !slices.Contains(RequestTypes, typ) {
		return "", &Error{Code: EINVALID, Message: "Invalid request.", Fields: []FieldError{{Field: "type", Reason: "must be one of " + strings.Join(RequestTypes, ", ")}}}
	}
	f := s.schema.Field("email")
	if f == nil || !f.Lookup {
		return "", Errorf(EUNAVAILABLE, "The schema has no email lookup field.")
	}
	v, ferr := f.Normalize(email, s.now())
	if ferr != nil {
		return "", &Error{Code: EINVALID, Message: "Invalid request.", Fields: []FieldError{*ferr}}
	}
	if s.mailer == nil {
		return "", Errorf(EUNAVAILABLE, "No way to send the verification code is configured.")
	}
	now := s.now()
	id := NewID(now)
	tk, err := s.tenantKeys(ctx, tenantID)
	if ErrorCode(err) == ENOTFOUND {
		return id, nil // the same answer as for an address not on file
	} else if err != nil {
		return "", err
	}
	bi := tk.BlindIndex("email", v.(string))
	if !s.selfLimit.allow(tenantID+"\x00"+string(bi), now) {
		return "", Errorf(ETOOLARGE, "Too many requests for this address: try again in an hour.")
	}
	found, err := s.store.FindContacts(ctx, tenantID, "email", bi, 2)
	if err != nil {
		return "", fmt.Errorf("vault.SelfRequest: %w", err)
	}
	if len(found) != 1 {
		return id, nil
	}
	rec := found[0]
	r := &DataRequest{ID: id, TenantID: tenantID, Type: typ, SubjectID: rec.ID, Channel: ChannelSelf, ReceivedAt: now,
		Identity: IdentityPending, State: StateReceived, DueAt: dueAt(now, 0), UpdatedAt: now, Version: 1}
	p := &Principal{ID: selfActor, TenantID: tenantID, Role: RoleCitizen}
	e := s.entry(ctx, p, ActionRequestCreate, "dsr", rec.ID, requestEntryFields(r, "channel:self"), nil)
	if err := s.store.CreateRequest(ctx, r, e); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return id, nil // an open request exists: nothing new, nothing said
		}
		return "", fmt.Errorf("vault.SelfRequest: %w", err)
	}
	if err := s.sendCode(ctx, tk, r, rec); err != nil {
		return "", err
	}
	return id, nil
}

// sendCode makes a one-time code, stores its keyed hash and sends it to
// the email on file.
func (s *Service) sendCode(ctx context.Context, tk TenantKeys, r *DataRequest, rec *Record) error {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return fmt.Errorf("vault.sendCode: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	now := s.now()
	c := &VerificationCode{TenantID: r.TenantID, RequestID: r.ID, Hash: tk.BlindIndex("request_code", r.ID+":"+code), ExpiresAt: now.Add(codeTTL)}
	if err := s.store.PutVerificationCode(ctx, c); err != nil {
		return fmt.Errorf("vault.sendCode: %w", err)
	}
	opened, err := s.open(ctx, rec, map[string]string{"email": Clear})
	if err != nil {
		return err
	}
	to, _ := opened.Fields["email"].(string)
	text := fmt.Sprintf("Bonjour,\n\nVotre code de vérification pour la demande %s (%s) est : %s\nIl expire dans 15 minutes.\n\n"+
		"Hello,\n\nYour verification code for request %s (%s) is: %s\nIt expires in 15 minutes.\n", r.ID, r.Type, code, r.ID, r.Type, code)
	if err := s.mailer.Send(ctx, to, "Code de vérification / Verification code", text); err != nil {
		return fmt.Errorf("vault.sendCode: sending the code: %w", err)
	}
	p := &Principal{ID: selfActor, TenantID: r.TenantID, Role: RoleCitizen}
	return s.audit.append(ctx, s.entry(ctx, p, ActionRequestCode, "dsr", r.SubjectID, requestEntryFields(r), nil))
}

// VerifyRequest checks the one-time code of a request a person made; the
// request is then verified. A wrong, expired or used code, or an unknown
// request, get one answer (EUNAUTHORIZED), and each failure is audited;
// after five failures the code is dead.
func (s *Service) VerifyRequest(ctx context.Context, tenantID, id, code string) error {
	if !ValidTenantID(tenantID) || !ValidID(id) || len(code) != 6 {
		return errNoCode
	}
	r, err := s.store.DataRequest(ctx, tenantID, id)
	if err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return errNoCode
		}
		return fmt.Errorf("vault.VerifyRequest: %w", err)
	}
	c, err := s.store.VerificationCode(ctx, tenantID, id)
	if err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return errNoCode
		}
		return fmt.Errorf("vault.VerifyRequest: %w", err)
	}
	tk, err := s.tenantKeys(ctx, tenantID)
	if err != nil {
		return err
	}
	now := s.now()
	p := &Principal{ID: selfActor, TenantID: tenantID, Role: RoleCitizen}
	ok := subtle.ConstantTimeCompare(tk.BlindIndex("request_code", id+":"+code), c.Hash) == 1
	usable := c.UsedAt.IsZero() && now.Before(c.ExpiresAt) && c.Attempts < codeMaxAttempts && r.State == StateReceived
	if !usable {
		// Expired, used or dead: refused, and on record.
		e := s.entry(ctx, p, ActionRequestVerify, "dsr", r.SubjectID, requestEntryFields(r, "code:unusable"), nil)
		e.Outcome = OutcomeDenied
		if err := s.audit.append(ctx, e); err != nil {
			return err
		}
		return errNoCode
	}
	// Every comparison uses up an attempt, recorded before its result is
	// given: the store takes the attempt only if it follows the stored
	// count, so concurrent guesses cannot share one.
	c.Attempts++
	if ok {
		c.UsedAt = now
	}
	fields := requestEntryFields(r, fmt.Sprintf("attempt:%d", c.Attempts))
	e := s.entry(ctx, p, ActionRequestVerify, "dsr", r.SubjectID, fields, nil)
	if !ok {
		e.Outcome = OutcomeDenied
	}
	if err := s.store.UpdateVerificationCode(ctx, c, e); ErrorCode(err) == ECONFLICT {
		return errNoCode
	} else if err != nil {
		return fmt.Errorf("vault.VerifyRequest: %w", err)
	}
	if !ok {
		return errNoCode
	}
	r.Identity, r.IdentityMethod, r.State, r.UpdatedAt = IdentityVerified, "code", StateVerified, now
	r.Version++
	if err := s.store.UpdateRequest(ctx, r, s.entry(ctx, p, ActionRequestVerify, "dsr", r.SubjectID, requestEntryFields(r), nil)); err != nil {
		return fmt.Errorf("vault.VerifyRequest: %w", err)
	}
	return nil
}

// AccessAnswer is what an access or portability answer holds.
type AccessAnswer struct {
	Request  *DataRequest
	Contact  *ContactView
	Consents map[string]Consent
	Accesses []*AuditEntry
}

// RequestAnswer gathers, for an access or portability request, the
// subject's data in the clear with its consents' evidence and everyone
// who accessed the record, from the audit log. The export is audited
// before it is returned.
func (s *Service) RequestAnswer(ctx context.Context, p *Principal, id string) (_ *AccessAnswer, err error) {
	defer s.recordFailure(ctx, p, ActionRequestExport, "dsr", "", &err)
	r, d, err := s.loadRequest(ctx, p, ActionRequestExport, id)
	if err != nil {
		return nil, err
	}
	if r.Type != RequestAccess && r.Type != RequestPortability {
		return nil, Errorf(ECONFLICT, "Only an access or portability request has an export.")
	}
	if r.State != StateVerified && r.State != StateInProgress && r.State != StateCompleted {
		return nil, Errorf(ECONFLICT, "The person's identity is not verified yet.")
	}
	rec, err := s.store.Contact(ctx, p.TenantID, r.SubjectID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ECONFLICT, "The request's subject is no longer on file.")
	} else if err != nil {
		return nil, fmt.Errorf("vault.RequestAnswer: %w", err)
	}
	// The DPO reads inside the request; a completed one is opened as it
	// was while open.
	res := s.requestResource(p, r, rec)
	if r.State == StateCompleted {
		res.Request.State = StateInProgress
	}
	rd, err := s.authorize(ctx, p, ActionContactRead, "dsr", res)
	if err != nil {
		return nil, err
	}
	c, err := s.open(ctx, rec, rd.Fields)
	if err != nil {
		return nil, err
	}
	var accesses []*AuditEntry
	if s.log != nil {
		if _, err := s.log.Sync(ctx); err != nil {
			return nil, fmt.Errorf("vault.RequestAnswer: %w", err)
		}
	}
	for from := uint64(0); ; {
		es, err := s.store.AuditEntries(ctx, AuditFilter{TenantID: p.TenantID, Subject: rec.ID, From: from, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("vault.RequestAnswer: %w", err)
		}
		accesses = append(accesses, es...)
		if len(es) < 1000 {
			break
		}
		from = es[len(es)-1].Seq + 1
	}
	v := s.view(c, rd)
	entries := []*AuditEntry{
		s.entry(ctx, p, ActionContactRead, "dsr", rec.ID, append(viewFields(v), "request:"+r.ID), rd),
		s.entry(ctx, p, ActionRequestExport, "dsr", rec.ID, requestEntryFields(r), d),
	}
	if err := s.audit.append(ctx, entries...); err != nil {
		return nil, err
	}
	return &AccessAnswer{Request: r, Contact: v, Consents: c.Consents, Accesses: accesses}, nil
}

// RequestMetrics are the deadline figures of every tenant with open
// requests, for the metrics endpoint.
type RequestMetrics struct {
	TenantID string
	Open     int
	Overdue  int
	DueSoon  int
}

// RequestMetrics counts every tenant's open requests, those past their due
// date and those due within a week. It names tenants and counts, nothing
// about a person.
func (s *Service) RequestMetrics(ctx context.Context) ([]RequestMetrics, error) {
	now := s.now()
	overdue, err := s.store.RequestCounts(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("vault.RequestMetrics: %w", err)
	}
	soon, err := s.store.RequestCounts(ctx, now.Add(dueSoon))
	if err != nil {
		return nil, fmt.Errorf("vault.RequestMetrics: %w", err)
	}
	byTenant := map[string]*RequestMetrics{}
	var out []RequestMetrics
	for _, c := range soon {
		out = append(out, RequestMetrics{TenantID: c.TenantID, Open: c.Open, DueSoon: c.Due})
	}
	for i := range out {
		byTenant[out[i].TenantID] = &out[i]
	}
	for _, c := range overdue {
		if m := byTenant[c.TenantID]; m != nil {
			m.Overdue = c.Due
			m.DueSoon -= c.Due
		}
	}
	return out, nil
}
