package vault

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SegmentQuery asks for a count or a page of the contacts that match a
// filter, or a saved segment's filter.
type SegmentQuery struct {
	Filter *Filter `json:"filter,omitempty"`
	// Segment names a saved segment to run instead of Filter.
	Segment string `json:"segment,omitempty"`
	// Answer is "count" (the default) or "list".
	Answer string `json:"answer,omitempty"`
	// Limit bounds a list page: 1 to 500, 50 by default.
	Limit int `json:"limit,omitempty"`
	// Cursor continues a list after the page that returned it.
	Cursor string `json:"cursor,omitempty"`
}

// SegmentResult answers a SegmentQuery. Count is a number, or the string
// "< N" when the count is below the policy's threshold and the caller gets
// aggregates only.
type SegmentResult struct {
	Count      any            `json:"count,omitempty"`
	Contacts   []*ContactView `json:"contacts,omitempty"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// Answers of a segment query.
const (
	AnswerCount = "count"
	AnswerList  = "list"
)

const (
	defaultSegmentPage = 50
	maxSegmentPage     = 500
	exportBatch        = 500
)

// segmentNameRE is the form of a saved segment's name: a slug, so that a
// name can never carry a person's data into the audit log.
var segmentNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// segmentPlan is a checked segment query: the conditions to run and what
// the policy allows.
type segmentPlan struct {
	cond     *Cond
	scope    *SegmentScope
	decision *Decision
	fields   []string // the filter's fields, for the audit entry
}

// planSegment authorises a segment action for p, asks the policy for its
// record conditions and compiles the filter. The conditions the store runs
// are the filter AND the policy's. The decision's field obligations say
// which fields p may filter on (those a read would show) and export.
func (s *Service) planSegment(ctx context.Context, p *Principal, action, purpose string, f *Filter) (*segmentPlan, error) {
	d, err := s.authorize(ctx, p, action, purpose, Resource{Kind: KindContact, TenantID: principalTenant(p)})
	if err != nil {
		return nil, err
	}
	scoper, ok := s.authz.(SegmentScoper)
	if !ok {
		return nil, Errorf(EUNAVAILABLE, "The authoriser in force cannot scope segments.")
	}
	scopeTokens, err := s.principalScope(ctx, p)
	if err != nil {
		return nil, err
	}
	scope, err := scoper.SegmentScope(ctx, &AuthzRequest{Principal: p, Action: action, Purpose: purpose,
		Resource: Resource{Kind: KindContact, TenantID: p.TenantID}, Scope: scopeTokens})
	if err != nil {
		return nil, fmt.Errorf("vault.planSegment: no segment scope for %s: %w", action, err)
	}
	tk, err := s.tenantKeys(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	fc := &filterCompiler{schema: s.schema, tok: tk.SegmentToken, now: s.now(), fields: map[string]bool{},
		visible: func(field string) bool { o := d.Fields[field]; return o == Clear || o == Masked }}
	user, err := fc.compile(f, "filter", 0)
	if err != nil {
		return nil, err
	}
	plan := &segmentPlan{
		cond:  &Cond{Op: CondAnd, Children: []*Cond{user, resolveConsents(scope.Cond, tk.SegmentToken)}},
		scope: scope, decision: d,
	}
	for k := range fc.fields {
		plan.fields = append(plan.fields, k)
	}
	sort.Strings(plan.fields)
	return plan, nil
}

// QuerySegment counts or lists the contacts of p's tenant that match a
// filter and that the policy lets p reach; the database runs both
// conditions. A list shows each contact as a single read would, and puts a
// read entry in each listed contact's history. EINVALID for a bad filter,
// EFORBIDDEN when policy refuses the segment or the answer.
func (s *Service) QuerySegment(ctx context.Context, p *Principal, purpose string, q *SegmentQuery) (_ *SegmentResult, err error) {
	defer s.recordFailure(ctx, p, ActionContactSegment, purpose, "", &err)
	if p == nil {
		return nil, Errorf(EUNAUTHORIZED, "Authentication required.")
	}
	f, err := s.queryFilter(ctx, p, q.Filter, q.Segment)
	if err != nil {
		return nil, err
	}
	answer := q.Answer
	if answer == "" {
		answer = AnswerCount
	}
	if answer != AnswerCount && answer != AnswerList {
		return nil, &Error{Code: EINVALID, Message: "Invalid segment query.", Fields: []FieldError{{Field: "answer", Reason: "must be count or list"}}}
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultSegmentPage
	}
	if limit < 1 || limit > maxSegmentPage {
		return nil, &Error{Code: EINVALID, Message: "Invalid segment query.", Fields: []FieldError{{Field: "limit", Reason: fmt.Sprintf("must be 1 to %d", maxSegmentPage)}}}
	}
	if q.Cursor != "" && !ValidID(q.Cursor) {
		return nil, &Error{Code: EINVALID, Message: "Invalid segment query.", Fields: []FieldError{{Field: "cursor", Reason: "is not a cursor this API returned"}}}
	}
	plan, err := s.planSegment(ctx, p, ActionContactSegment, purpose, f)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(plan.scope.Answers, answer) {
		return nil, Errorf(EFORBIDDEN, "Not allowed: the policy gives no %s of segments to this role for this purpose.", answer)
	}
	entry := s.entry(ctx, p, ActionContactSegment, purpose, "", append(plan.fields, "answer:"+answer), plan.decision)
	entry.DecisionID, entry.PolicyRevision = plan.scope.DecisionID, plan.scope.Revision
	if answer == AnswerCount {
		n, err := s.store.CountContacts(ctx, p.TenantID, plan.cond)
		if err != nil {
			return nil, fmt.Errorf("vault.QuerySegment: %w", err)
		}
		res := &SegmentResult{Count: n}
		if !slices.Contains(plan.scope.Answers, AnswerList) && n < int64(plan.scope.MinCount) {
			res.Count = "< " + strconv.Itoa(plan.scope.MinCount)
		}
		if err := s.audit.append(ctx, entry); err != nil {
			return nil, err
		}
		return res, nil
	}
	rs, err := s.store.ListContacts(ctx, p.TenantID, plan.cond, q.Cursor, limit+1)
	if err != nil {
		return nil, fmt.Errorf("vault.QuerySegment: %w", err)
	}
	res := &SegmentResult{Contacts: []*ContactView{}}
	if len(rs) > limit {
		rs = rs[:limit]
		res.NextCursor = rs[limit-1].ID
	}
	entries := []*AuditEntry{entry}
	for _, r := range rs {
		v, e, err := s.readForSegment(ctx, p, purpose, r, ActionContactRead)
		if err != nil {
			return nil, err
		}
		if v != nil {
			res.Contacts = append(res.Contacts, v)
			entries = append(entries, e)
		}
	}
	if err := s.audit.append(ctx, entries...); err != nil {
		return nil, err
	}
	return res, nil
}

// readForSegment opens one record of a segment as a single read would
// show it, with the audit entry of that access; nil when the read policy
// refuses it (it is then left out).
func (s *Service) readForSegment(ctx context.Context, p *Principal, purpose string, r *Record, action string) (*ContactView, *AuditEntry, error) {
	d, err := s.authorize(ctx, p, ActionContactRead, purpose, resourceOf(p, r))
	if ErrorCode(err) == EFORBIDDEN || ErrorCode(err) == ENOTFOUND {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	c, err := s.open(ctx, r, d.Fields)
	if err != nil {
		return nil, nil, err
	}
	v := s.view(c, d)
	return v, s.entry(ctx, p, action, purpose, r.ID, viewFields(v), d), nil
}

// queryFilter returns the filter of a query: given, or a saved segment's.
func (s *Service) queryFilter(ctx context.Context, p *Principal, f *Filter, name string) (*Filter, error) {
	switch {
	case f != nil && name != "":
		return nil, Errorf(EINVALID, "Give a filter or a segment name, not both.")
	case f != nil:
		return f, nil
	case name == "":
		return nil, Errorf(EINVALID, "Give a filter or a segment name.")
	}
	if !segmentNameRE.MatchString(name) {
		return nil, Errorf(ENOTFOUND, "Segment not found.")
	}
	seg, err := s.store.Segment(ctx, p.TenantID, name)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "Segment not found.")
	} else if err != nil {
		return nil, fmt.Errorf("vault.queryFilter: %w", err)
	}
	var saved Filter
	if err := json.Unmarshal(seg.Filter, &saved); err != nil {
		return nil, fmt.Errorf("vault.queryFilter: stored segment %s: %w", name, err)
	}
	return &saved, nil
}

// ExportSegment writes, as CSV, every contact of p's tenant that matches a
// filter (or saved segment) and that the policy lets p export for purpose,
// with fields as a single read would show them. Each batch's audit entries
// (one in each exported contact's history) are durable before the batch is
// written; a last entry names the segment, the purpose and the number of
// contacts. progress, when set, is told the running count. EFORBIDDEN when
// policy refuses the export.
func (s *Service) ExportSegment(ctx context.Context, p *Principal, purpose string, q *SegmentQuery, w io.Writer, progress func(n int)) (n int, err error) {
	defer s.recordFailure(ctx, p, ActionContactExport, purpose, "", &err)
	if p == nil {
		return 0, Errorf(EUNAUTHORIZED, "Authentication required.")
	}
	f, err := s.queryFilter(ctx, p, q.Filter, q.Segment)
	if err != nil {
		return 0, err
	}
	plan, err := s.planSegment(ctx, p, ActionContactExport, purpose, f)
	if err != nil {
		return 0, err
	}
	var columns []string
	for _, fd := range s.schema.Fields {
		if o := plan.decision.Fields[fd.Name]; o == Clear || o == Masked {
			columns = append(columns, fd.Name)
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"id"}, columns...)); err != nil {
		return 0, fmt.Errorf("vault.ExportSegment: %w", err)
	}
	after := ""
	for {
		rs, err := s.store.ListContacts(ctx, p.TenantID, plan.cond, after, exportBatch)
		if err != nil {
			return n, fmt.Errorf("vault.ExportSegment: %w", err)
		}
		var rows [][]string
		var entries []*AuditEntry
		for _, r := range rs {
			v, e, err := s.readForSegment(ctx, p, purpose, r, ActionContactExport)
			if err != nil {
				return n, err
			}
			if v == nil {
				continue
			}
			row := []string{v.ID}
			for _, col := range columns {
				row = append(row, csvCell(v.Fields[col]))
			}
			rows = append(rows, row)
			entries = append(entries, e)
		}
		if len(entries) > 0 {
			if err := s.audit.append(ctx, entries...); err != nil {
				return n, err
			}
		}
		if err := cw.WriteAll(rows); err != nil {
			return n, fmt.Errorf("vault.ExportSegment: %w", err)
		}
		n += len(rows)
		if progress != nil {
			progress(n)
		}
		if len(rs) < exportBatch {
			break
		}
		after = rs[len(rs)-1].ID
	}
	label := "segment:"
	if q.Segment != "" {
		label += q.Segment
	}
	e := s.entry(ctx, p, ActionContactExport, purpose, "", append(plan.fields, label, "contacts:"+strconv.Itoa(n)), plan.decision)
	e.DecisionID, e.PolicyRevision = plan.scope.DecisionID, plan.scope.Revision
	if err := s.audit.append(ctx, e); err != nil {
		return n, err
	}
	return n, nil
}

// csvCell writes a field value for a spreadsheet: lists joined with "; ",
// and a value a spreadsheet would run as a formula quoted with '.
func csvCell(v any) string {
	var s string
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		s = v
	case []string:
		s = strings.Join(v, "; ")
	default:
		s = fmt.Sprint(v)
	}
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		s = "'" + s
	}
	return s
}

// SaveSegment keeps a named filter for p's tenant, after checking that p
// may run it. EINVALID for a bad name or filter, ECONFLICT when the name
// is taken.
func (s *Service) SaveSegment(ctx context.Context, p *Principal, purpose, name string, f *Filter) (_ *SavedSegment, err error) {
	defer s.recordFailure(ctx, p, ActionSegmentSave, purpose, "", &err)
	if p == nil {
		return nil, Errorf(EUNAUTHORIZED, "Authentication required.")
	}
	if !segmentNameRE.MatchString(name) {
		return nil, &Error{Code: EINVALID, Message: "Invalid segment.", Fields: []FieldError{{Field: "name", Reason: "must be 1 to 63 lower-case letters, digits, - or _"}}}
	}
	if f == nil {
		return nil, &Error{Code: EINVALID, Message: "Invalid segment.", Fields: []FieldError{{Field: "filter", Reason: "is required"}}}
	}
	plan, err := s.planSegment(ctx, p, ActionContactSegment, purpose, f)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("vault.SaveSegment: %w", err)
	}
	seg := &SavedSegment{TenantID: p.TenantID, Name: name, Filter: b, OwnerID: p.ID, CreatedAt: s.now()}
	e := s.entry(ctx, p, ActionSegmentSave, purpose, "", append(plan.fields, "segment:"+name), plan.decision)
	if err := s.store.SaveSegment(ctx, seg, e); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, Errorf(ECONFLICT, "A segment with this name already exists.")
		}
		return nil, fmt.Errorf("vault.SaveSegment: %w", err)
	}
	return seg, nil
}

// Segments lists the saved segments of p's tenant, for those who may
// segment.
func (s *Service) Segments(ctx context.Context, p *Principal, purpose string) (_ []*SavedSegment, err error) {
	defer s.recordFailure(ctx, p, ActionContactSegment, purpose, "", &err)
	if _, err := s.authorize(ctx, p, ActionContactSegment, purpose, Resource{Kind: KindContact, TenantID: principalTenant(p)}); err != nil {
		return nil, err
	}
	out, err := s.store.Segments(ctx, p.TenantID)
	if err != nil {
		return nil, fmt.Errorf("vault.Segments: %w", err)
	}
	return out, nil
}

// DeleteSegment deletes a saved segment of p's tenant. ENOTFOUND when
// there is none with that name.
func (s *Service) DeleteSegment(ctx context.Context, p *Principal, purpose, name string) (err error) {
	defer s.recordFailure(ctx, p, ActionSegmentDelete, purpose, "", &err)
	d, err := s.authorize(ctx, p, ActionContactSegment, purpose, Resource{Kind: KindContact, TenantID: principalTenant(p)})
	if err != nil {
		return err
	}
	if !segmentNameRE.MatchString(name) {
		return Errorf(ENOTFOUND, "Segment not found.")
	}
	e := s.entry(ctx, p, ActionSegmentDelete, purpose, "", []string{"segment:" + name}, d)
	if err := s.store.DeleteSegment(ctx, p.TenantID, name, e); err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "Segment not found.")
		}
		return fmt.Errorf("vault.DeleteSegment: %w", err)
	}
	return nil
}
