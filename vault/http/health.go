package http

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/coffre/coffre/vault"
)

// readyTimeout bounds the store ping of a readiness check.
const readyTimeout = 2 * time.Second

// status is the answer of the health routes.
type status struct {
	Status string `json:"status"`
}

// healthz serves GET /healthz: the process is up. It touches nothing else
// and needs no token.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, status{Status: "ok"})
}

// readyz serves GET /readyz: 200 when the store answers a ping within
// readyTimeout, a 503 unavailable problem otherwise. The cause goes to the
// operator log only. It needs no token.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		// The cause is logged by writeError; the caller only gets the
		// vault.Error's message.
		s.writeError(w, r, fmt.Errorf("http.readyz: %v: %w", err, vault.Errorf(vault.EUNAVAILABLE, "The store cannot serve requests.")))
		return
	}
	s.writeJSON(w, r, http.StatusOK, status{Status: "ok"})
}
