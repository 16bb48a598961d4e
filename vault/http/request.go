package http

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/dsrexport"
)

// createRequest serves POST /v1/requests: a request recorded by staff.
func (s *Server) createRequest(w http.ResponseWriter, r *http.Request) {
	var in vault.RequestInput
	if !s.readInto(w, r, &in) {
		return
	}
	ctx := r.Context()
	v, err := s.svc.CreateRequest(ctx, principalFrom(ctx), &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/requests/"+v.ID)
	s.writeJSON(w, r, http.StatusCreated, v)
}

// listRequests serves GET /v1/requests[?state=]: open requests first, the
// most urgent first.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	q, err := readQuery(r, "state")
	if err == nil {
		err = q.err()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	list, err := s.svc.Requests(ctx, principalFrom(ctx), r.URL.Query().Get("state"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []*vault.RequestView{}
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Requests []*vault.RequestView `json:"requests"`
	}{list})
}

// getRequest serves GET /v1/requests/{id}.
func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.svc.Request(ctx, principalFrom(ctx), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, v)
}

// startRequest serves POST /v1/requests/{id}/start.
func (s *Server) startRequest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.answerRequest(w, r)(s.svc.StartRequest(ctx, principalFrom(ctx), chi.URLParam(r, "id")))
}

// extendRequest serves POST /v1/requests/{id}/extend {months, reason}.
func (s *Server) extendRequest(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Months int    `json:"months"`
		Reason string `json:"reason"`
	}
	if !s.readInto(w, r, &in) {
		return
	}
	ctx := r.Context()
	s.answerRequest(w, r)(s.svc.ExtendRequest(ctx, principalFrom(ctx), chi.URLParam(r, "id"), in.Months, in.Reason))
}

// rejectRequest serves POST /v1/requests/{id}/reject {reason}.
func (s *Server) rejectRequest(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Reason string `json:"reason"`
	}
	if !s.readInto(w, r, &in) {
		return
	}
	ctx := r.Context()
	s.answerRequest(w, r)(s.svc.RejectRequest(ctx, principalFrom(ctx), chi.URLParam(r, "id"), in.Reason))
}

// completeRequest serves POST /v1/requests/{id}/complete.
func (s *Server) completeRequest(w http.ResponseWriter, r *http.Request) {
	var in vault.CompleteInput
	if !s.readInto(w, r, &in) {
		return
	}
	ctx := r.Context()
	s.answerRequest(w, r)(s.svc.CompleteRequest(ctx, principalFrom(ctx), chi.URLParam(r, "id"), &in))
}

// answerRequest writes a request or the error of the call that made it.
func (s *Server) answerRequest(w http.ResponseWriter, r *http.Request) func(*vault.RequestView, error) {
	return func(v *vault.RequestView, err error) {
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJSON(w, r, http.StatusOK, v)
	}
}

// selfRequest serves POST /v1/requests/self, without a token: a person
// asks about themselves by the email on file, and gets a one-time code
// there. The answer is the same whether the address is on file or not.
func (s *Server) selfRequest(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Tenant string `json:"tenant"`
		Type   string `json:"type"`
		Email  string `json:"email"`
	}
	if !s.readInto(w, r, &in) {
		return
	}
	id, err := s.svc.SelfRequest(r.Context(), in.Tenant, in.Type, in.Email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, struct {
		RequestID string `json:"request_id"`
		Message   string `json:"message"`
	}{id, "If this address is on file, a code was sent to it. Send it to /v1/requests/{id}/verify within 15 minutes."})
}

// verifyRequest serves POST /v1/requests/{id}/verify {tenant, code},
// without a token: 204 once the code matches.
func (s *Server) verifyRequest(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Tenant string `json:"tenant"`
		Code   string `json:"code"`
	}
	if !s.readInto(w, r, &in) {
		return
	}
	if err := s.svc.VerifyRequest(r.Context(), in.Tenant, chi.URLParam(r, "id"), in.Code); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// recipients are the categories of recipients an access answer names.
var recipients = []string{
	"agents du responsable de traitement, pour le suivi des dossiers / the controller's staff, for case work",
	"bénévoles de votre quartier, coordonnées masquées, si vous y avez consenti / volunteers of your district, contact details masked, if you consented",
	"le délégué à la protection des données / the data protection officer",
}

// exportRequest serves GET /v1/requests/{id}/export: the answer to an
// access or portability request, as a zip (data.json, data.csv,
// summary.html), streamed. An error after the first bytes aborts the
// transfer.
func (s *Server) exportRequest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ans, err := s.svc.RequestAnswer(ctx, principalFrom(ctx), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a := &dsrexport.Answer{
		GeneratedAt: time.Now().UTC(),
		Controller:  ans.Request.TenantID,
		Request:     dsrexport.Request{ID: ans.Request.ID, Type: ans.Request.Type, ReceivedAt: ans.Request.ReceivedAt},
		Contact:     ans.Contact,
		Consents:    map[string]dsrexport.ConsentDetail{},
		Schema:      s.svc.Schema(),
		Recipients:  recipients,
	}
	for k, c := range ans.Consents {
		a.Consents[k] = dsrexport.ConsentDetail{Granted: c.Granted, At: c.At, Source: c.Source, Proof: c.Proof}
	}
	for _, e := range ans.Accesses {
		a.Accesses = append(a.Accesses, dsrexport.Access{Time: e.Time, ActorRole: e.ActorRole, ActorID: e.ActorID,
			Action: e.Action, Purpose: e.Purpose, Fields: e.Fields})
	}
	x := &exportWriter{w: w, contentType: "application/zip", filename: "coffre-request-" + ans.Request.ID + ".zip"}
	if err := dsrexport.Write(x, a); err != nil {
		if !x.started {
			s.writeError(w, r, err)
			return
		}
		s.log.ErrorContext(ctx, "request export aborted", "request_id", vault.RequestID(ctx), "route", routePattern(r), "error", err.Error())
		panic(http.ErrAbortHandler)
	}
}
