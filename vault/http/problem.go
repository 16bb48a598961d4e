package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/coffre/coffre/vault"
)

// Codes of this package, for failures that only exist in HTTP. Like the
// vault codes they are part of the public contract.
const (
	codeMethodNotAllowed     = "method_not_allowed"
	codeUnsupportedMediaType = "unsupported_media_type"
)

// problemTypeBase prefixes a code to make the problem's type URI.
const problemTypeBase = "https://coffre.dev/problems/"

// problemKinds maps each error code to its HTTP status and title. It is
// the only place where codes meet statuses.
var problemKinds = map[string]struct {
	status int
	title  string
}{
	vault.EINVALID:           {http.StatusBadRequest, "Invalid request"},
	vault.EUNAUTHORIZED:      {http.StatusUnauthorized, "Authentication required"},
	vault.EFORBIDDEN:         {http.StatusForbidden, "Forbidden"},
	vault.ENOTFOUND:          {http.StatusNotFound, "Not found"},
	codeMethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed"},
	vault.ECONFLICT:          {http.StatusConflict, "Conflict"},
	vault.ETOOLARGE:          {http.StatusRequestEntityTooLarge, "Request too large"},
	codeUnsupportedMediaType: {http.StatusUnsupportedMediaType, "Unsupported media type"},
	vault.EINTERNAL:          {http.StatusInternalServerError, "Internal error"},
	vault.EUNAVAILABLE:       {http.StatusServiceUnavailable, "Service unavailable"},
}

// internalDetail is the only detail a caller gets about an internal error.
const internalDetail = "An internal error occurred. The operator log has the details under this request id."

// problem is an RFC 9457 problem document with Coffre's extension
// members: code, errors and request_id.
type problem struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail"`
	Code      string             `json:"code"`
	Errors    []vault.FieldError `json:"errors"`
	RequestID string             `json:"request_id"`
}

// writeError answers a request with the problem document for err. An
// error that is not a *vault.Error with a known code is internal: it is
// logged with the request id, and the caller gets a generic detail. An
// unavailable error is logged too, with whatever cause err wraps; its
// detail is the *vault.Error's message only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := vault.ErrorCode(err)
	kind, known := problemKinds[code]
	detail := vault.ErrorMessage(err)
	switch {
	case !known || code == vault.EINTERNAL:
		s.log.ErrorContext(r.Context(), "internal error",
			"request_id", vault.RequestID(r.Context()), "route", routePattern(r), "error", err.Error())
		code, kind, detail = vault.EINTERNAL, problemKinds[vault.EINTERNAL], internalDetail
	case code == vault.EUNAVAILABLE:
		s.log.WarnContext(r.Context(), "unavailable",
			"request_id", vault.RequestID(r.Context()), "route", routePattern(r), "error", err.Error())
	}
	p := &problem{
		Type:      problemTypeBase + code,
		Title:     kind.title,
		Status:    kind.status,
		Detail:    detail,
		Code:      code,
		Errors:    vault.ErrorFields(err),
		RequestID: vault.RequestID(r.Context()),
	}
	if p.Errors == nil || code == vault.EINTERNAL {
		p.Errors = []vault.FieldError{}
	}
	if info := infoFrom(r.Context()); info != nil {
		info.code = code
	}
	h := w.Header()
	switch code {
	case vault.EUNAUTHORIZED:
		h.Set("WWW-Authenticate", wwwAuthenticate(err))
	case vault.ETOOLARGE:
		// The rest of the body is not read; the connection cannot be
		// reused.
		h.Set("Connection", "close")
	case vault.EUNAVAILABLE:
		h.Set("Retry-After", "5")
	}
	// The messages are the server's own, so they need no HTML escaping
	// (the content type and nosniff keep browsers from rendering them).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		// A problem of strings and ints always encodes.
		panic(fmt.Sprintf("http.writeError: %v", err))
	}
	h.Set("Content-Type", "application/problem+json")
	h.Del("Location")
	w.WriteHeader(p.Status)
	w.Write(buf.Bytes())
}

// wwwAuthenticate returns the RFC 6750 challenge for an unauthorized error.
func wwwAuthenticate(err error) string {
	switch {
	case errors.Is(err, errMissingToken):
		return `Bearer realm="coffre"`
	case errors.Is(err, errMalformedAuthorization):
		return `Bearer realm="coffre", error="invalid_request"`
	}
	return `Bearer realm="coffre", error="invalid_token"`
}

// notFound answers requests no route matches.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, vault.Errorf(vault.ENOTFOUND, "No such route; see /openapi.json."))
}

// allMethods are the methods tried to build a 405's Allow header.
var allMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// methodNotAllowed answers a request whose path has routes for other
// methods only, with the Allow header listing them.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	var allow []string
	for _, m := range allMethods {
		if s.router.Match(chi.NewRouteContext(), m, path) {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		// An unknown method on an unknown path.
		s.notFound(w, r)
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	s.writeError(w, r, vault.Errorf(codeMethodNotAllowed, "This route does not accept that method; the Allow header lists those it does."))
}
