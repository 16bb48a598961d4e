package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/coffre/coffre/vault"
)

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// Limits of the http.Server that Open starts. The read timeouts stop slow
// clients from holding connections; the write timeout bounds a handler
// and the time to send its answer.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Options tunes a Server.
type Options struct {
	// Logger receives the access log and the details of internal errors;
	// nothing is logged when it is nil.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body; DefaultMaxBodyBytes when 0.
	// Larger bodies are refused with too_large (413).
	MaxBodyBytes int64
}

// Server is the JSON API over a vault.Service. Its Handler is safe for
// concurrent use; Open and Close are meant to be called once each.
type Server struct {
	svc     *vault.Service
	log     *slog.Logger
	maxBody int64
	router  *chi.Mux
	openapi []byte

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when the serving goroutine returns
}

// NewServer returns a Server for svc. It does not listen until Open.
func NewServer(svc *vault.Service, opts Options) *Server {
	s := &Server{svc: svc, log: opts.Logger, maxBody: opts.MaxBodyBytes}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.openapi = openAPIDocument(svc.Schema())
	s.router = s.routes()
	return s
}

// routes builds the router: middleware, then one line per route.
func (s *Server) routes() *chi.Mux {
	r := chi.NewRouter()
	r.Use(s.requestID, s.accessLog, secureHeaders, s.recoverPanic)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/openapi.json", s.serveOpenAPI)
	r.Get("/metrics", s.metrics)
	// A person's own requests: no token, a one-time code instead.
	r.Post("/v1/requests/self", s.selfRequest)
	r.Post("/v1/requests/{id}/verify", s.verifyRequest)

	r.Group(func(r chi.Router) {
		r.Use(s.authenticate, s.purpose)
		r.Post("/v1/contacts", s.createContact)
		r.Post("/v1/contacts/search", s.searchContacts)
		r.Get("/v1/contacts/{id}", s.getContact)
		r.Patch("/v1/contacts/{id}", s.updateContact)
		r.Delete("/v1/contacts/{id}", s.eraseContact)
		r.Post("/v1/tokens", s.createToken)
		r.Get("/v1/audit/entries", s.listAudit)
		r.Get("/v1/audit/checkpoint", s.auditCheckpoint)
		r.Get("/v1/audit/proof/inclusion", s.auditInclusion)
		r.Get("/v1/audit/proof/consistency", s.auditConsistency)
		r.Get("/v1/audit/export", s.auditExport)
		r.Get("/v1/policy", s.getPolicy)
		r.Post("/v1/segments/query", s.querySegment)
		r.Post("/v1/segments/export", s.exportSegment)
		r.Post("/v1/segments", s.saveSegment)
		r.Get("/v1/segments", s.listSegments)
		r.Delete("/v1/segments/{name}", s.deleteSegment)
		r.Post("/v1/requests", s.createRequest)
		r.Get("/v1/requests", s.listRequests)
		r.Get("/v1/requests/{id}", s.getRequest)
		r.Post("/v1/requests/{id}/start", s.startRequest)
		r.Post("/v1/requests/{id}/extend", s.extendRequest)
		r.Post("/v1/requests/{id}/reject", s.rejectRequest)
		r.Post("/v1/requests/{id}/complete", s.completeRequest)
		r.Get("/v1/requests/{id}/export", s.exportRequest)
	})
	return r
}

// Handler returns the API's http.Handler, for tests or to mount it in
// another server. It is safe for concurrent use.
func (s *Server) Handler() http.Handler { return s.router }

// Open listens on addr (host:port; port 0 picks a free one) and serves the
// API on a goroutine the Server owns until Close. It fails if the address
// cannot be bound or the Server was opened before.
func (s *Server) Open(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("http.Open: server already opened")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("http.Open: %w", err)
	}
	srv := &http.Server{
		Handler:           s.router,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	s.srv, s.ln, s.done = srv, ln, done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()
	return nil
}

// Addr returns the address the Server listens on, or nil before Open.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// URL returns the base URL of the Server ("http://127.0.0.1:8080"), or ""
// before Open. An unspecified listen address (0.0.0.0, ::) is given as
// the loopback address.
func (s *Server) URL() string {
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	ip := a.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if a.IP.To4() == nil {
			ip = net.IPv6loopback
		}
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// Close shuts the Server down gracefully: it stops accepting connections
// and waits for requests in flight to complete until ctx ends, then closes
// the remaining connections and returns ctx's error. Closing a Server that
// was never opened does nothing.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
		err = fmt.Errorf("http.Close: %w", err)
	}
	<-done
	return err
}
