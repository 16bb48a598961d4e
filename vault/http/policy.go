package http

import "net/http"

// getPolicy serves GET /v1/policy: the revision and files of the policy in
// force, for admin and dpo.
func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	if !s.noQuery(w, r) {
		return
	}
	ctx := r.Context()
	info, err := s.svc.Policy(ctx, principalFrom(ctx))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, info)
}
