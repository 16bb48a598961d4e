package http

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/coffre/coffre/vault"
)

// defaultAuditLimit is the page size of GET /v1/audit/entries without a
// limit; the service applies the same default.
const defaultAuditLimit = 100

// auditEntry is one audit entry in an answer of GET /v1/audit/entries.
// For an admin, who sees metadata only, subject and purpose are empty and
// fields is empty. The sealed part of an entry is never served.
type auditEntry struct {
	Seq            uint64    `json:"seq"`
	Time           time.Time `json:"time"`
	ActorID        string    `json:"actor_id"`
	ActorRole      string    `json:"actor_role"`
	Action         string    `json:"action"`
	Subject        string    `json:"subject"`
	Fields         []string  `json:"fields"`
	Purpose        string    `json:"purpose"`
	Outcome        string    `json:"outcome"`
	RequestID      string    `json:"request_id"`
	DecisionID     string    `json:"decision_id"`
	PolicyRevision string    `json:"policy_revision"`
}

// auditPage is the answer of GET /v1/audit/entries. Next is the from
// cursor of the next page, or null after the last one.
type auditPage struct {
	Entries []auditEntry `json:"entries"`
	Next    *uint64      `json:"next"`
}

// inclusionProof is the answer of GET /v1/audit/proof/inclusion; hashes are
// base64 (standard, padded).
type inclusionProof struct {
	Index  uint64   `json:"index"`
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"`
}

// consistencyProof is the answer of GET /v1/audit/proof/consistency.
type consistencyProof struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

// Patterns of the audit filters that are not contact ids: an actor is a
// token id or "operator", an action a dotted name such as contact.read.
var (
	auditActorRE  = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	auditActionRE = regexp.MustCompile(`^[a-z][a-z_]{0,31}(\.[a-z][a-z_]{0,31}){0,3}$`)
)

// queryParams reads a query string that may only hold the named
// parameters, each at most once. Its errors are EINVALID and name the
// parameter, never its value.
type queryParams struct {
	v    url.Values
	errs []vault.FieldError
}

func readQuery(r *http.Request, allowed ...string) (*queryParams, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, vault.Errorf(vault.EINVALID, "The query string is malformed.")
	}
	q := &queryParams{v: v}
	for k, vs := range v {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		switch {
		case !known:
			q.errs = append(q.errs, vault.FieldError{Field: "*", Reason: "is not a parameter of this route; see /openapi.json"})
		case len(vs) > 1:
			q.errs = append(q.errs, vault.FieldError{Field: k, Reason: "must be given at most once"})
		}
	}
	return q, nil
}

func (q *queryParams) fail(name, reason string) {
	q.errs = append(q.errs, vault.FieldError{Field: name, Reason: reason})
}

// has reports whether the parameter is given (possibly empty).
func (q *queryParams) has(name string) bool { _, ok := q.v[name]; return ok }

// str returns a parameter that must match re, or "".
func (q *queryParams) str(name string, re *regexp.Regexp, reason string) string {
	s := q.v.Get(name)
	if q.has(name) && !re.MatchString(s) {
		q.fail(name, reason)
		return ""
	}
	return s
}

// uint returns a decimal parameter; required ones must be given.
func (q *queryParams) uint(name string, required bool) uint64 {
	if !q.has(name) {
		if required {
			q.fail(name, "is required")
		}
		return 0
	}
	n, err := strconv.ParseUint(q.v.Get(name), 10, 64)
	if err != nil {
		q.fail(name, "must be a non-negative integer")
	}
	return n
}

// time returns an RFC 3339 parameter, or the zero time.
func (q *queryParams) time(name string) time.Time {
	if !q.has(name) {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, q.v.Get(name))
	if err != nil {
		q.fail(name, "must be an RFC 3339 date-time (2025-03-01T09:30:00Z)")
	}
	return t
}

// err returns the problems found, as one EINVALID error.
func (q *queryParams) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	return &vault.Error{Code: vault.EINVALID, Message: "Invalid query parameters.", Fields: q.errs}
}

// listAudit serves GET /v1/audit/entries: the caller's tenant's entries in
// sequence order, filtered and paginated. A dpo sees entries whole, an
// admin their metadata only; the service decides.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	q, err := readQuery(r, "subject", "actor", "action", "since", "until", "from", "after", "limit")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := vault.AuditFilter{
		// The subject is a contact's pseudonymous id, not personal data.
		Subject: q.v.Get("subject"),
		ActorID: q.str("actor", auditActorRE, "must be a token id (letters, digits, - and _)"),
		Action:  q.str("action", auditActionRE, "must be an action name such as contact.read"),
		Since:   q.time("since"),
		Until:   q.time("until"),
		From:    q.uint("from", false),
	}
	if q.has("subject") && !vault.ValidID(f.Subject) {
		f.Subject = ""
		q.fail("subject", "must be a contact id (a lower-case UUID)")
	}
	if q.has("after") {
		// The cursor of the design's first sketch: entries after a seq.
		if q.has("from") {
			q.fail("after", "cannot be given with from")
		}
		after := q.uint("after", false)
		if after == 1<<64-1 {
			q.fail("after", "is past the last possible entry")
		}
		f.From = after + 1
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		q.fail("until", "must be later than since")
	}
	limit := defaultAuditLimit
	if q.has("limit") {
		n, err := strconv.Atoi(q.v.Get("limit"))
		if err != nil || n < 1 || n > 1000 {
			q.fail("limit", "must be an integer between 1 and 1000")
		}
		limit = n
	}
	f.Limit = limit
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	entries, err := s.svc.AuditEntries(ctx, principalFrom(ctx), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := auditPage{Entries: make([]auditEntry, 0, len(entries))}
	for _, e := range entries {
		fields := e.Fields
		if fields == nil {
			fields = []string{}
		}
		page.Entries = append(page.Entries, auditEntry{
			Seq: e.Seq, Time: e.Time.UTC(), ActorID: e.ActorID, ActorRole: e.ActorRole, Action: e.Action,
			Subject: e.Subject, Fields: fields, Purpose: e.Purpose, Outcome: e.Outcome, RequestID: e.RequestID,
			DecisionID: e.DecisionID, PolicyRevision: e.PolicyRevision,
		})
	}
	if n := len(entries); n == limit && entries[n-1].Seq < 1<<64-1 {
		next := entries[n-1].Seq + 1
		page.Next = &next
	}
	s.writeJSON(w, r, http.StatusOK, page)
}

// auditCheckpoint serves GET /v1/audit/checkpoint: a fresh signed
// checkpoint, as the C2SP signed note's bytes exactly.
func (s *Server) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	if !s.noQuery(w, r) {
		return
	}
	ctx := r.Context()
	c, err := s.svc.AuditCheckpoint(ctx, principalFrom(ctx))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(c.Note)))
	w.WriteHeader(http.StatusOK)
	w.Write(c.Note)
}

// auditInclusion serves GET /v1/audit/proof/inclusion?index=&size=.
func (s *Server) auditInclusion(w http.ResponseWriter, r *http.Request) {
	q, err := readQuery(r, "index", "size")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	index, size := q.uint("index", true), q.uint("size", true)
	if err := q.err(); err == nil && index >= size {
		q.fail("index", "must be less than size")
	}
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	hashes, err := s.svc.AuditInclusionProof(ctx, principalFrom(ctx), index, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if hashes == nil {
		hashes = [][]byte{}
	}
	s.writeJSON(w, r, http.StatusOK, inclusionProof{Index: index, Size: size, Hashes: hashes})
}

// auditConsistency serves GET /v1/audit/proof/consistency?from=&to=.
func (s *Server) auditConsistency(w http.ResponseWriter, r *http.Request) {
	q, err := readQuery(r, "from", "to")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	from, to := q.uint("from", true), q.uint("to", true)
	if err := q.err(); err == nil && (from == 0 || from > to) {
		// Every tree extends the empty one: there is nothing to prove
		// from size 0 (RFC 6962).
		q.fail("from", "must be at least 1 and at most to")
	}
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	hashes, err := s.svc.AuditConsistencyProof(ctx, principalFrom(ctx), from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if hashes == nil {
		hashes = [][]byte{}
	}
	s.writeJSON(w, r, http.StatusOK, consistencyProof{From: from, To: to, Hashes: hashes})
}

// noQuery answers a request that carries query parameters its route does
// not take with a problem, and reports whether the request may go on.
func (s *Server) noQuery(w http.ResponseWriter, r *http.Request) bool {
	q, err := readQuery(r)
	if err == nil {
		err = q.err()
	}
	if err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// exportWriter sends the headers of an export with its first bytes, so
// that an error before them can still be answered with a problem.
type exportWriter struct {
	w           http.ResponseWriter
	contentType string
	filename    string
	started     bool
}

func (x *exportWriter) Write(b []byte) (int, error) {
	if !x.started {
		x.started = true
		h := x.w.Header()
		h.Set("Content-Type", x.contentType)
		h.Set("Content-Disposition", `attachment; filename="`+x.filename+`"`)
		x.w.WriteHeader(http.StatusOK)
	}
	return x.w.Write(b)
}

// unboundedWrite lifts the server's write timeout for a long stream: the
// transfer is bounded by the client instead.
func unboundedWrite(w http.ResponseWriter) error {
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// auditExport serves GET /v1/audit/export: the caller's tenant's view of
// the log (other tenants' entries redacted), streamed as the service
// writes it, up to a fresh checkpoint. It is never held in memory whole.
// An error before the first byte is a problem document; after it, the
// connection is aborted, so that the client sees a broken transfer rather
// than a complete-looking one.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request) {
	if !s.noQuery(w, r) {
		return
	}
	if err := unboundedWrite(w); err != nil {
		s.writeError(w, r, fmt.Errorf("http.auditExport: %w", err))
		return
	}
	ctx := r.Context()
	x := &exportWriter{w: w, contentType: "application/x-ndjson", filename: "coffre-audit.jsonl"}
	err := s.svc.ExportAudit(ctx, principalFrom(ctx), x, nil)
	switch {
	case err == nil && !x.started:
		// An export always holds a header and a checkpoint.
		s.writeError(w, r, errors.New("http.auditExport: the export wrote nothing"))
	case err != nil && !x.started:
		s.writeError(w, r, err)
	case err != nil:
		s.log.ErrorContext(ctx, "audit export aborted",
			"request_id", vault.RequestID(ctx), "route", routePattern(r), "error", err.Error())
		panic(http.ErrAbortHandler)
	}
}
