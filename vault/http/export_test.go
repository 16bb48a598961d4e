package http

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/coffre/coffre/vault"
)

// AppendContactView is appendJSON for a contact view, the answer of a
// create, a read or an update.
func AppendContactView(b []byte, v *vault.ContactView) ([]byte, bool) { return appendJSON(b, v) }

// AppendContactList is appendJSON for the answer of a search.
func AppendContactList(b []byte, vs []*vault.ContactView) ([]byte, bool) {
	return appendJSON(b, contactList{Contacts: vs})
}

// AppendSegmentResult is appendJSON for the answer of a segment query.
func AppendSegmentResult(b []byte, r *vault.SegmentResult) ([]byte, bool) { return appendJSON(b, r) }

// MarshalContactList is json.Marshal of the answer of a search.
func MarshalContactList(vs []*vault.ContactView) ([]byte, error) {
	return json.Marshal(contactList{Contacts: vs})
}

// WriteJSON is writeJSON of a Server that logs nowhere.
func WriteJSON(v any) *httptest.ResponseRecorder {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	s.writeJSON(rec, httptest.NewRequest("GET", "/", nil), http.StatusOK, v)
	return rec
}

// SetRequestCode sets the problem code the access log reports for the
// request of ctx, as writeError does.
func SetRequestCode(r *http.Request, code string) {
	if info := infoFrom(r.Context()); info != nil {
		info.code = code
	}
}

// AccessLog is next behind the request id and access log middleware of a
// Server logging to log.
func AccessLog(log *slog.Logger, next http.Handler) http.Handler {
	s := &Server{log: log}
	return s.requestID(s.accessLog(next))
}

// AccessLogBefore is AccessLog with the access log's line written as it
// was before it checked the level first and kept its attributes in an
// array (without the aborted-request path): the benchmarks compare the
// two, the tests check that their lines are the same.
func AccessLogBefore(log *slog.Logger, next http.Handler) http.Handler {
	s := &Server{log: log}
	return s.requestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &responseWriter{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		method := r.Method
		if !slices.Contains(loggedMethods, method) {
			method = "OTHER"
		}
		attrs := []slog.Attr{
			slog.String("method", method),
			slog.String("route", routePattern(r)),
			slog.Int("status", rw.statusCode()),
			slog.Int64("bytes", rw.bytes),
			slog.Duration("duration", time.Since(start)),
		}
		if info := infoFrom(r.Context()); info != nil {
			attrs = append(attrs, slog.String("request_id", info.id), slog.String("token_id", info.tokenID))
			if info.code != "" {
				attrs = append(attrs, slog.String("code", info.code))
			}
		}
		level := slog.LevelInfo
		if rw.statusCode() >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}))
}

// SecureHeaders exposes the middleware that sets the headers of every
// answer.
var SecureHeaders = secureHeaders
