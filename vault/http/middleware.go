package http

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/coffre/coffre/vault"
)

type ctxKey int

const (
	infoKey ctxKey = iota
	principalKey
	purposeKey
)

// requestInfo collects what the access log says about a request as it is
// served: its id, the token that authenticated it and the problem code of
// a failure. Nothing in it comes from a request body.
type requestInfo struct {
	id      string
	tokenID string
	code    string
}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey).(*requestInfo)
	return info
}

// principalFrom returns the authenticated caller; nil outside /v1.
func principalFrom(ctx context.Context) *vault.Principal {
	p, _ := ctx.Value(principalKey).(*vault.Principal)
	return p
}

// purposeFrom returns the purpose the caller declared, or "".
func purposeFrom(ctx context.Context) string {
	p, _ := ctx.Value(purposeKey).(string)
	return p
}

// routePattern returns the pattern of the route serving r
// ("/v1/contacts/{id}"), or "" when none matched.
func routePattern(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		return rctx.RoutePattern()
	}
	return ""
}

// requestIDPattern is what a client's X-Request-Id must look like to be
// kept: long enough to be an id, too constrained to carry much else.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

var requestIDEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// requestID gives every request an id: the client's X-Request-Id if it
// matches requestIDPattern, a random one otherwise. The id is echoed in
// the response, carried in the context for audit entries, and logged.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			var b [16]byte
			rand.Read(b[:])
			id = requestIDEncoding.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), infoKey, &requestInfo{id: id})
		next.ServeHTTP(w, r.WithContext(vault.WithRequestID(ctx, id)))
	})
}

// loggedMethods are the methods the access log names; any other is
// logged as OTHER, since a method is free text chosen by the client.
var loggedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace}

// accessLog logs one line per request. It never logs the raw path, the
// query string, headers or bodies: those may hold personal data.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &responseWriter{ResponseWriter: w}
		aborted := true
		defer func() {
			if !aborted {
				return
			}
			// A handler aborted the answer it had begun (recoverPanic lets
			// only http.ErrAbortHandler through): log it, then let
			// net/http close the connection.
			v := recover()
			if v == nil {
				return
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "request aborted",
				slog.String("route", routePattern(r)), slog.Int("status", rw.statusCode()), slog.Int64("bytes", rw.bytes),
				slog.Duration("duration", time.Since(start)), slog.String("request_id", vault.RequestID(r.Context())))
			panic(v)
		}()
		next.ServeHTTP(rw, r)
		aborted = false
		duration := time.Since(start)
		status := rw.statusCode()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		ctx := r.Context()
		if !s.log.Enabled(ctx, level) {
			return
		}
		method := r.Method
		if !slices.Contains(loggedMethods, method) {
			method = "OTHER"
		}
		// At most eight attributes: an array on the stack rather than a
		// slice grown on the heap for every request.
		var buf [8]slog.Attr
		attrs := append(buf[:0],
			slog.String("method", method),
			slog.String("route", routePattern(r)),
			slog.Int("status", status),
			slog.Int64("bytes", rw.bytes),
			slog.Duration("duration", duration),
		)
		if info := infoFrom(ctx); info != nil {
			attrs = append(attrs, slog.String("request_id", info.id), slog.String("token_id", info.tokenID))
			if info.code != "" {
				attrs = append(attrs, slog.String("code", info.code))
			}
		}
		s.log.LogAttrs(ctx, level, "request", attrs...)
	})
}

// responseWriter records the status and size of a response.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// secureHeaders sets the headers every answer carries: nothing is cached
// (answers hold personal data or tokens), nothing is sniffed, framed or
// run as a page.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, sh := range secureHeaderValues {
			h[sh.key] = sh.value
		}
		next.ServeHTTP(w, r)
	})
}

// secureHeaderValues are the headers of every answer, with their keys in
// canonical form and their values as the slices http.Header holds, built
// once: Header.Set would canonicalise each key and allocate each slice on
// every answer. The slices are shared by all answers, which is safe
// because each has a capacity of one: net/http and Header.Set replace a
// value, and Header.Add appends to a slice with no room, so it copies.
var secureHeaderValues = [...]struct {
	key   string
	value []string
}{
	{"Cache-Control", []string{"no-store"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Content-Security-Policy", []string{"default-src 'none'; frame-ancestors 'none'"}},
	{"Referrer-Policy", []string{"no-referrer"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Cross-Origin-Resource-Policy", []string{"same-origin"}},
}

// recoverPanic turns a handler's panic into an internal error: logged with
// its stack, answered with a generic 500 problem. If the answer had already
// begun, the connection is aborted instead so the client sees a broken
// response, not a complete one.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := fmt.Errorf("http: panic serving request: %v\n%s", v, debug.Stack())
			if rw, ok := w.(*responseWriter); ok && rw.status != 0 {
				s.log.ErrorContext(r.Context(), "internal error",
					"request_id", vault.RequestID(r.Context()), "route", routePattern(r), "error", err.Error())
				panic(http.ErrAbortHandler)
			}
			s.writeError(w, r, err)
		}()
		next.ServeHTTP(w, r)
	})
}

// Unauthorized errors of a request without a usable Authorization header;
// wwwAuthenticate tells them apart from a bad token.
var (
	errMissingToken           = vault.Errorf(vault.EUNAUTHORIZED, "This route needs an API token: send the header Authorization: Bearer <token>.")
	errMalformedAuthorization = vault.Errorf(vault.EUNAUTHORIZED, "The Authorization header must be: Bearer <token>.")
)

// authenticate admits requests with a valid bearer token and puts their
// principal in the context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var token string
		switch vs := r.Header.Values("Authorization"); len(vs) {
		case 0:
			s.writeError(w, r, errMissingToken)
			return
		case 1:
			scheme, t, ok := strings.Cut(vs[0], " ")
			token = strings.TrimSpace(t)
			if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
				s.writeError(w, r, errMalformedAuthorization)
				return
			}
		default:
			s.writeError(w, r, errMalformedAuthorization)
			return
		}
		p, err := s.svc.Authenticate(r.Context(), token)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if info := infoFrom(r.Context()); info != nil {
			info.tokenID = p.ID
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

// purpose reads the Coffre-Purpose header into the context. A request may
// omit it; if it is there, once, it must be one of the schema's purposes.
func (s *Server) purpose(next http.Handler) http.Handler {
	purposes := s.svc.Schema().Purposes
	bad := vault.Errorf(vault.EINVALID, "The Coffre-Purpose header must be given at most once and name one of the purposes: %s.",
		strings.Join(purposes, ", "))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var purpose string
		switch vs := r.Header.Values("Coffre-Purpose"); len(vs) {
		case 0:
		case 1:
			if !slices.Contains(purposes, vs[0]) {
				s.writeError(w, r, bad)
				return
			}
			purpose = vs[0]
		default:
			s.writeError(w, r, bad)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), purposeKey, purpose)))
	})
}
