package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// Service applies normalisation, encryption, authorisation and audit around
// every contact operation. It is safe for concurrent use.
type Service struct {
	store  Store
	keys   KeyRing
	authz  Authorizer
	schema *Schema

	// Now is the clock; time.Now by default.
	Now func() time.Time

	tenants sync.Map // tenant id -> TenantKeys
	tokens  tokenCache
	scopes  scopeCache

	mailer    Mailer
	selfLimit selfLimiter
	audit     auditWriter
	log       AuditLog
}

// NewService returns a Service over a store, a key ring, an authoriser and
// a field schema.
func NewService(store Store, keys KeyRing, authz Authorizer, schema *Schema) *Service {
	return &Service{store: store, keys: keys, authz: authz, schema: schema, Now: time.Now, audit: auditWriter{store: store}}
}

// Close stops the service's audit writer after the appends in flight. The
// store is the caller's to close.
func (s *Service) Close() error {
	s.audit.close()
	return nil
}

// Schema returns the field schema the service applies.
func (s *Service) Schema() *Schema { return s.schema }

// Ping reports whether the service's store can serve requests.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// CreateContact validates, seals and stores a new contact for p's tenant.
// It returns the contact as p may see it. EINVALID for bad input (with
// per-field reasons), EFORBIDDEN when policy denies, ECONFLICT when a unique
// lookup value (email by default) is already taken.
func (s *Service) CreateContact(ctx context.Context, p *Principal, purpose string, in *ContactInput) (_ *ContactView, err error) {
	defer s.recordFailure(ctx, p, ActionContactCreate, purpose, "", &err)
	d, err := s.authorize(ctx, p, ActionContactCreate, purpose, Resource{TenantID: p.TenantID})
	if err != nil {
		return nil, err
	}
	if err := checkWrites(d, in.Fields); err != nil {
		return nil, err
	}
	now := s.now()
	c := &Contact{TenantID: p.TenantID, Fields: map[string]any{}, Consents: map[string]Consent{}, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(c, in.Fields, in.Consents, false, now); err != nil {
		return nil, err
	}
	c.ID = NewID(now)
	tk, err := s.tenantKeys(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	r, err := s.seal(tk, c, nil)
	if err != nil {
		return nil, err
	}
	r.Version = 1
	r.Suppression = s.suppressionLookups(tk, c)
	e := s.entry(ctx, p, ActionContactCreate, purpose, c.ID, fieldNames(c), d)
	if err := s.store.CreateContact(ctx, r, e); err != nil {
		return nil, s.conflict(err)
	}
	return s.view(c, d), nil
}

// GetContact returns one contact of p's tenant as p may see it. ENOTFOUND
// when there is no such contact in p's tenant, EFORBIDDEN when policy denies.
func (s *Service) GetContact(ctx context.Context, p *Principal, purpose, id string) (_ *ContactView, err error) {
	defer s.recordFailure(ctx, p, ActionContactRead, purpose, id, &err)
	r, err := s.record(ctx, p, id)
	if err != nil {
		return nil, err
	}
	d, err := s.authorize(ctx, p, ActionContactRead, purpose, resourceOf(p, r))
	if err != nil {
		return nil, err
	}
	c, err := s.open(ctx, r, d.Fields)
	if err != nil {
		return nil, err
	}
	v := s.view(c, d)
	if err := s.audit.append(ctx, s.entry(ctx, p, ActionContactRead, purpose, id, viewFields(v), d)); err != nil {
		return nil, err
	}
	return v, nil
}

// UpdateContact applies a patch to a contact of p's tenant. EINVALID for
// bad input, ENOTFOUND, EFORBIDDEN, and ECONFLICT when a unique value is
// taken or the contact changed concurrently.
func (s *Service) UpdateContact(ctx context.Context, p *Principal, purpose, id string, patch *ContactPatch) (_ *ContactView, err error) {
	defer s.recordFailure(ctx, p, ActionContactUpdate, purpose, id, &err)
	r, err := s.record(ctx, p, id)
	if err != nil {
		return nil, err
	}
	d, err := s.authorize(ctx, p, ActionContactUpdate, purpose, resourceOf(p, r))
	if err != nil {
		return nil, err
	}
	if err := checkWrites(d, patch.Fields); err != nil {
		return nil, err
	}
	return s.patch(ctx, p, purpose, r, d, patch)
}

// patch applies a checked patch to a record and stores it with its audit
// entry, which names the fields and consents touched (and extra).
func (s *Service) patch(ctx context.Context, p *Principal, purpose string, r *Record, d *Decision, patch *ContactPatch, extra ...string) (*ContactView, error) {
	c, err := s.open(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.apply(c, patch.Fields, patch.Consents, true, now); err != nil {
		return nil, err
	}
	c.UpdatedAt = now
	tk, err := s.tenantKeys(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	nr, err := s.seal(tk, c, r.WrappedKey)
	if err != nil {
		return nil, err
	}
	nr.Version = r.Version + 1
	touched := make([]string, 0, len(patch.Fields)+len(patch.Consents)+len(extra))
	for k := range patch.Fields {
		touched = append(touched, k)
	}
	for k := range patch.Consents {
		touched = append(touched, "consent."+k)
	}
	sort.Strings(touched)
	e := s.entry(ctx, p, ActionContactUpdate, purpose, c.ID, append(touched, extra...), d)
	if err := s.store.UpdateContact(ctx, nr, e); err != nil {
		return nil, s.conflict(err)
	}
	return s.view(c, d), nil
}

// EraseContact erases a contact of p's tenant: its data key is destroyed
// with its record, lookups and tokens (crypto-shredding). ENOTFOUND,
// EFORBIDDEN.
func (s *Service) EraseContact(ctx context.Context, p *Principal, purpose, id string) (err error) {
	defer s.recordFailure(ctx, p, ActionContactErase, purpose, id, &err)
	r, err := s.record(ctx, p, id)
	if err != nil {
		return err
	}
	d, err := s.authorize(ctx, p, ActionContactErase, purpose, resourceOf(p, r))
	if err != nil {
		return err
	}
	e := s.entry(ctx, p, ActionContactErase, purpose, id, nil, d)
	return s.store.EraseContact(ctx, p.TenantID, id, e)
}

// maxSearchResults bounds the contacts one lookup returns.
const maxSearchResults = 50

// SearchContacts finds the contacts of p's tenant with the given email or
// phone through its blind index. Contacts policy keeps from p are left out.
// EINVALID unless exactly one of the query's fields is set and valid.
func (s *Service) SearchContacts(ctx context.Context, p *Principal, purpose string, q *SearchQuery) (_ []*ContactView, err error) {
	defer s.recordFailure(ctx, p, ActionContactSearch, purpose, "", &err)
	var name, value string
	switch {
	case q.Email != "" && q.Phone == "":
		name, value = "email", q.Email
	case q.Phone != "" && q.Email == "":
		name, value = "phone", q.Phone
	default:
		return nil, Errorf(EINVALID, "Give exactly one of email or phone.")
	}
	f := s.schema.Field(name)
	if f == nil || !f.Lookup {
		return nil, Errorf(EINVALID, "The schema has no lookup field %q.", name)
	}
	sd, err := s.authorize(ctx, p, ActionContactSearch, purpose, Resource{TenantID: p.TenantID})
	if err != nil {
		return nil, err
	}
	v, ferr := f.Normalize(value, s.now())
	if ferr != nil {
		return nil, &Error{Code: EINVALID, Message: "Invalid search.", Fields: []FieldError{*ferr}}
	}
	tk, err := s.tenantKeys(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	rs, err := s.store.FindContacts(ctx, p.TenantID, name, tk.BlindIndex(name, v.(string)), maxSearchResults)
	if err != nil {
		return nil, fmt.Errorf("vault.SearchContacts: %w", err)
	}
	out := make([]*ContactView, 0, len(rs))
	entries := make([]*AuditEntry, 0, len(rs)+1)
	entries = append(entries, s.entry(ctx, p, ActionContactSearch, purpose, "", []string{name}, sd))
	for _, r := range rs {
		d, err := s.authorize(ctx, p, ActionContactRead, purpose, resourceOf(p, r))
		if ErrorCode(err) == EFORBIDDEN || ErrorCode(err) == ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		c, err := s.open(ctx, r, d.Fields)
		if err != nil {
			return nil, err
		}
		v := s.view(c, d)
		out = append(out, v)
		entries = append(entries, s.entry(ctx, p, ActionContactRead, purpose, r.ID, viewFields(v), d))
	}
	// One entry for the search, one in each found contact's history.
	if err := s.audit.append(ctx, entries...); err != nil {
		return nil, err
	}
	return out, nil
}

// recordFailure appends an audit entry for an operation that failed
// (denied, not found, invalid, conflicting, or broken), so attempts are on
// record too. The entry names no client-supplied text: the subject only
// when it is a well-formed id. A failure to append it is not reported over
// the operation's own error.
func (s *Service) recordFailure(ctx context.Context, p *Principal, action, purpose, subject string, errp *error) {
	if *errp == nil || p == nil {
		return
	}
	if !ValidID(subject) {
		subject = ""
	}
	var d *Decision
	var verr *Error
	if errors.As(*errp, &verr) {
		d = verr.decision
	}
	e := s.entry(ctx, p, action, purpose, subject, nil, d)
	e.Outcome = outcomeOf(*errp)
	_ = s.audit.append(context.WithoutCancel(ctx), e)
}

// viewFields lists the fields a view shows, sorted.
func viewFields(v *ContactView) []string {
	out := make([]string, 0, len(v.Fields))
	for k := range v.Fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// record loads a contact of p's tenant.
func (s *Service) record(ctx context.Context, p *Principal, id string) (*Record, error) {
	if !ValidID(id) {
		return nil, Errorf(ENOTFOUND, "Contact not found.")
	}
	r, err := s.store.Contact(ctx, p.TenantID, id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "Contact not found.")
	} else if err != nil {
		return nil, fmt.Errorf("vault.record: %w", err)
	}
	return r, nil
}

// authorize asks the authoriser and turns a denial into an error: another
// tenant's resource, or one the decision conceals, is ENOTFOUND (its
// existence is not revealed), any other denial EFORBIDDEN. An authoriser
// error denies.
func (s *Service) authorize(ctx context.Context, p *Principal, action, purpose string, res Resource) (*Decision, error) {
	if p == nil {
		return nil, Errorf(EUNAUTHORIZED, "Authentication required.")
	}
	if res.TenantID != p.TenantID {
		return nil, Errorf(ENOTFOUND, "Not found.")
	}
	if res.Kind == "" {
		res.Kind = KindContact
	}
	req := &AuthzRequest{Principal: p, Action: action, Purpose: purpose, Resource: res}
	if res.Kind == KindContact {
		var err error
		if req.Scope, err = s.principalScope(ctx, p); err != nil {
			return nil, err
		}
		if res.ContactID != "" {
			req.Resource.Tokens = ResourceScope(req.Scope, res.recordTokens)
		}
	}
	d, err := s.authz.Authorize(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("vault.authorize: no decision for %s: %w", action, err)
	}
	if !d.Allow {
		if d.Conceal {
			// The same answer as for a record that does not exist.
			msg := "Not found."
			if res.Kind == KindContact && res.ContactID != "" {
				msg = "Contact not found."
			}
			return nil, &Error{Code: ENOTFOUND, Message: msg, decision: d}
		}
		msg := "Not allowed."
		if d.Reason != "" {
			msg = "Not allowed: " + d.Reason
		}
		return nil, &Error{Code: EFORBIDDEN, Message: msg, decision: d}
	}
	return d, nil
}

// checkWrites refuses a write of a field the decision does not show in
// the clear: what may not be read for a purpose may not be written for it
// either.
func checkWrites(d *Decision, fields map[string]any) error {
	var problems []FieldError
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if o, known := d.Fields[k]; known && o != Clear {
			problems = append(problems, FieldError{Field: k, Reason: "cannot be written for this purpose by this role"})
		}
	}
	if len(problems) > 0 {
		return &Error{Code: EFORBIDDEN, Message: "Not allowed: some fields cannot be written for this purpose.", Fields: problems, decision: d}
	}
	return nil
}

// principalScope returns the segmentation tokens of p's scoping
// attributes (AuthzRequest.Scope), computed once per principal.
func (s *Service) principalScope(ctx context.Context, p *Principal) (map[string][]string, error) {
	if !s.schema.hasScope {
		return nil, nil
	}
	key := s.schema.scopeKey(p)
	if sc, ok := s.scopes.get(key); ok {
		return sc, nil
	}
	tk, err := s.tenantKeys(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	sc := s.schema.PrincipalScope(p.Attributes, tk.SegmentToken)
	s.scopes.put(key, sc)
	return sc, nil
}

// resourceOf describes a stored contact to the authoriser, as p sees it.
func resourceOf(p *Principal, r *Record) Resource {
	res := Resource{Kind: KindContact, TenantID: r.TenantID, ContactID: r.ID, Flags: r.Flags,
		Consents: make(map[string]bool, len(r.Consents)), recordTokens: r.Tokens}
	for k, c := range r.Consents {
		res.Consents[k] = c.Granted
	}
	if p != nil {
		res.Self = slices.Contains(p.Attributes[SubjectAttribute], r.ID)
	}
	return res
}

// apply validates fields and consents from a client and applies them to c.
// With patch set, a nil value removes a field; otherwise required fields
// must be present. Every problem is reported at once.
func (s *Service) apply(c *Contact, fields map[string]any, consents map[string]ConsentInput, patch bool, now time.Time) error {
	var problems []FieldError
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := fields[k]
		f := s.schema.Field(k)
		if f == nil {
			problems = append(problems, FieldError{Field: k, Reason: "is not a field of the schema"})
			continue
		}
		if v == nil {
			if !patch {
				problems = append(problems, FieldError{Field: k, Reason: "must not be null"})
			} else if f.Required {
				problems = append(problems, FieldError{Field: k, Reason: "is required and cannot be removed"})
			} else {
				delete(c.Fields, k)
			}
			continue
		}
		nv, ferr := f.Normalize(v, now)
		if ferr != nil {
			problems = append(problems, *ferr)
			continue
		}
		c.Fields[k] = nv
	}
	if !patch {
		for _, f := range s.schema.Fields {
			if _, ok := c.Fields[f.Name]; f.Required && !ok {
				problems = append(problems, FieldError{Field: f.Name, Reason: "is required"})
			}
		}
	}
	cnames := make([]string, 0, len(consents))
	for k := range consents {
		cnames = append(cnames, k)
	}
	sort.Strings(cnames)
	for _, k := range cnames {
		in := consents[k]
		name := "consents." + k
		switch {
		case !s.schema.HasConsent(k):
			problems = append(problems, FieldError{Field: name, Reason: "is not a consent of the schema"})
		case in.Granted == nil:
			problems = append(problems, FieldError{Field: name, Reason: "needs granted (true or false)"})
		case len(in.Source) > 200 || len(in.Proof) > 500:
			problems = append(problems, FieldError{Field: name, Reason: "source or proof is too long"})
		case in.At != nil && (in.At.After(now.Add(5*time.Minute)) || in.At.Year() < 1990):
			problems = append(problems, FieldError{Field: name, Reason: "at must be a past time"})
		default:
			at := now
			if in.At != nil {
				at = in.At.UTC()
			}
			c.Consents[k] = Consent{Granted: *in.Granted, At: at.Truncate(time.Microsecond), Source: in.Source, Proof: in.Proof}
		}
	}
	if len(problems) > 0 {
		return &Error{Code: EINVALID, Message: "Invalid contact.", Fields: problems}
	}
	return nil
}

// sealedConsent is the sealed part of a consent: who and how.
type sealedConsent struct {
	Source string `json:"source,omitempty"`
	Proof  string `json:"proof,omitempty"`
}

// seal turns a contact into a record: a new subject key when wrapped is
// nil (or the existing one), every field sealed, lookups and tokens derived.
func (s *Service) seal(tk TenantKeys, c *Contact, wrapped []byte) (*Record, error) {
	var sk SubjectKey
	var err error
	if wrapped == nil {
		sk, wrapped, err = tk.NewSubjectKey(c.ID)
	} else {
		sk, err = tk.OpenSubjectKey(c.ID, wrapped)
	}
	if err != nil {
		return nil, fmt.Errorf("vault.seal: subject key: %w", err)
	}
	defer sk.Destroy()
	r := &Record{
		TenantID: c.TenantID, ID: c.ID, WrappedKey: wrapped,
		Sealed:    make(map[string][]byte, len(c.Fields)+len(c.Consents)),
		Consents:  make(map[string]ConsentState, len(c.Consents)),
		Flags:     c.Flags,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	for _, f := range s.schema.Fields {
		v, ok := c.Fields[f.Name]
		if !ok {
			continue
		}
		pt, err := encodeValue(v)
		if err != nil {
			return nil, err
		}
		if r.Sealed[f.Name], err = sk.Seal(f.Name, pt); err != nil {
			return nil, fmt.Errorf("vault.seal: %w", err)
		}
		if f.Lookup {
			r.Lookups = append(r.Lookups, Lookup{Field: f.Name, Token: tk.BlindIndex(f.Name, v.(string)), Unique: f.Unique})
		}
		r.Tokens = append(r.Tokens, f.Tokens(v, tk.SegmentToken)...)
	}
	for k, cs := range c.Consents {
		r.Consents[k] = ConsentState{Granted: cs.Granted, At: cs.At}
		if cs.Granted {
			r.Tokens = append(r.Tokens, tk.SegmentToken("consent."+k, "granted"))
		}
		if cs.Source == "" && cs.Proof == "" {
			continue
		}
		pt, _ := json.Marshal(sealedConsent{Source: cs.Source, Proof: cs.Proof})
		if r.Sealed["consent."+k], err = sk.Seal("consent."+k, pt); err != nil {
			return nil, fmt.Errorf("vault.seal: %w", err)
		}
	}
	return r, nil
}

func encodeValue(v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case []string:
		return json.Marshal(v)
	}
	return nil, fmt.Errorf("vault.encodeValue: unexpected type %T", v)
}

// open decrypts a record. With obligations set, only the fields they show
// (clear or masked) are decrypted; hidden ones are never opened.
func (s *Service) open(ctx context.Context, r *Record, obligations map[string]string) (*Contact, error) {
	tk, err := s.tenantKeys(ctx, r.TenantID)
	if err != nil {
		return nil, err
	}
	sk, err := tk.OpenSubjectKey(r.ID, r.WrappedKey)
	if err != nil {
		return nil, fmt.Errorf("vault.open: subject key: %w", err)
	}
	defer sk.Destroy()
	c := &Contact{
		ID: r.ID, TenantID: r.TenantID, Flags: r.Flags, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Fields: make(map[string]any, len(r.Sealed)), Consents: make(map[string]Consent, len(r.Consents)),
	}
	for _, f := range s.schema.Fields {
		ct, ok := r.Sealed[f.Name]
		if !ok {
			continue
		}
		if ob := obligations[f.Name]; obligations != nil && ob != Clear && ob != Masked {
			continue
		}
		pt, err := sk.Open(f.Name, ct)
		if err != nil {
			return nil, fmt.Errorf("vault.open: field %s: %w", f.Name, err)
		}
		if f.List() {
			ss, err := decodeList(pt)
			if err != nil {
				return nil, fmt.Errorf("vault.open: field %s: %w", f.Name, err)
			}
			c.Fields[f.Name] = ss
		} else {
			c.Fields[f.Name] = string(pt)
		}
	}
	for k, cs := range r.Consents {
		con := Consent{Granted: cs.Granted, At: cs.At}
		if ct, ok := r.Sealed["consent."+k]; ok {
			pt, err := sk.Open("consent."+k, ct)
			if err != nil {
				return nil, fmt.Errorf("vault.open: consent %s: %w", k, err)
			}
			sc, err := decodeSealedConsent(pt)
			if err != nil {
				return nil, fmt.Errorf("vault.open: consent %s: %w", k, err)
			}
			con.Source, con.Proof = sc.Source, sc.Proof
		}
		c.Consents[k] = con
	}
	return c, nil
}

// view applies a decision's field obligations to a contact.
func (s *Service) view(c *Contact, d *Decision) *ContactView {
	v := &ContactView{ID: c.ID, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Fields: make(map[string]any, len(c.Fields)), Consents: make(map[string]ConsentView, len(c.Consents))}
	for _, f := range s.schema.Fields {
		val, ok := c.Fields[f.Name]
		if !ok {
			continue
		}
		switch d.Fields[f.Name] {
		case Clear:
			v.Fields[f.Name] = val
		case Masked:
			v.Fields[f.Name] = f.Mask(val)
		}
	}
	for k, cs := range c.Consents {
		v.Consents[k] = ConsentView{Granted: cs.Granted, At: cs.At, Source: cs.Source}
	}
	return v
}

// tenantKeys returns a tenant's opened key set, cached after first use.
func (s *Service) tenantKeys(ctx context.Context, tenantID string) (TenantKeys, error) {
	if tk, ok := s.tenants.Load(tenantID); ok {
		return tk.(TenantKeys), nil
	}
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("vault.tenantKeys: %w", err)
	}
	tk, err := s.keys.OpenTenantKeys(t.ID, t.Keys)
	if err != nil {
		return nil, fmt.Errorf("vault.tenantKeys: %w", err)
	}
	actual, _ := s.tenants.LoadOrStore(tenantID, tk)
	return actual.(TenantKeys), nil
}

// EnsureTenant creates a tenant with fresh keys unless it exists.
// EINVALID for a malformed tenant id.
func (s *Service) EnsureTenant(ctx context.Context, tenantID string) error {
	if !ValidTenantID(tenantID) {
		return Errorf(EINVALID, "Tenant ids are 1 to 63 lower-case letters, digits, - or _, starting with a letter or digit.")
	}
	_, err := s.store.Tenant(ctx, tenantID)
	if err == nil {
		return nil
	} else if ErrorCode(err) != ENOTFOUND {
		return fmt.Errorf("vault.EnsureTenant: %w", err)
	}
	keys, err := s.keys.NewTenantKeys(tenantID)
	if err != nil {
		return fmt.Errorf("vault.EnsureTenant: %w", err)
	}
	err = s.store.CreateTenant(ctx, &Tenant{ID: tenantID, Keys: keys, CreatedAt: s.now()})
	if err != nil && ErrorCode(err) != ECONFLICT {
		return fmt.Errorf("vault.EnsureTenant: %w", err)
	}
	return nil
}

// ValidTenantID reports whether id is a well-formed tenant id.
func ValidTenantID(id string) bool {
	if len(id) == 0 || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || (i > 0 && (c == '-' || c == '_'))
		if !ok {
			return false
		}
	}
	return true
}

func (s *Service) entry(ctx context.Context, p *Principal, action, purpose, subject string, fields []string, d *Decision) *AuditEntry {
	e := &AuditEntry{Time: s.now(), TenantID: p.TenantID, ActorID: p.ID, ActorRole: p.Role, Action: action,
		Subject: subject, Fields: fields, Purpose: purpose, Outcome: OutcomeOK, RequestID: RequestID(ctx)}
	if d != nil {
		e.DecisionID, e.PolicyRevision = d.ID, d.Revision
	}
	return e
}

// conflict turns a store conflict into a message for the caller.
func (s *Service) conflict(err error) error {
	if ErrorCode(err) == ECONFLICT {
		var e *Error
		if errors.As(err, &e) && e.Message != "" {
			return e
		}
		return Errorf(ECONFLICT, "A contact with the same unique value already exists.")
	}
	return err
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func fieldNames(c *Contact) []string {
	out := make([]string, 0, len(c.Fields)+len(c.Consents))
	for k := range c.Fields {
		out = append(out, k)
	}
	for k := range c.Consents {
		out = append(out, "consent."+k)
	}
	slices.Sort(out)
	return out
}
