package http

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/coffre/coffre/vault"
)

// contactBody is the body of a create or a patch. Consents are decoded one
// at a time, so that an error can name the consent it is about.
type contactBody struct {
	Fields   map[string]any             `json:"fields"`
	Consents map[string]json.RawMessage `json:"consents"`
}

// consentBody is one consent of a contactBody. At is parsed here rather
// than by the decoder, whose time errors quote the submitted text.
type consentBody struct {
	Granted *bool   `json:"granted"`
	At      *string `json:"at"`
	Source  string  `json:"source"`
	Proof   string  `json:"proof"`
}

// readContact reads a contactBody. EINVALID, ETOOLARGE,
// unsupported_media_type.
func (s *Server) readContact(w http.ResponseWriter, r *http.Request) (map[string]any, map[string]vault.ConsentInput, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, nil, err
	}
	return decodeContact(body)
}

// decodeContact decodes the body of a create or a patch: by
// decodeContactFast when the body has the common shape, by decodeJSON,
// which writes the errors, otherwise. EINVALID.
func decodeContact(body []byte) (map[string]any, map[string]vault.ConsentInput, error) {
	// Exactly one of parsed (fast) and raw (decodeJSON) holds the
	// consents, if the body has any.
	fields, parsed, ok := decodeContactFast(body)
	var raw map[string]json.RawMessage
	if !ok {
		var in contactBody
		if err := decodeJSON(body, &in, ""); err != nil {
			return nil, nil, err
		}
		fields, raw = in.Fields, in.Consents
	}
	if raw == nil && parsed == nil {
		return fields, nil, nil
	}
	consents := make(map[string]vault.ConsentInput, len(raw)+len(parsed))
	var problems []vault.FieldError
	names := make([]string, 0, len(raw)+len(parsed))
	for k := range raw {
		names = append(names, k)
	}
	for k := range parsed {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		c, ok := parsed[k]
		if !ok {
			name := "consents." + k
			if err := decodeJSON(raw[k], &c, name); err != nil {
				fe := vault.ErrorFields(err)
				if len(fe) == 0 {
					fe = []vault.FieldError{{Field: name, Reason: "must be an object of granted, at, source and proof only"}}
				}
				problems = append(problems, fe...)
				continue
			}
		}
		ci := vault.ConsentInput{Granted: c.Granted, Source: c.Source, Proof: c.Proof}
		if c.At != nil {
			t, err := time.Parse(time.RFC3339Nano, *c.At)
			if err != nil {
				problems = append(problems, vault.FieldError{Field: "consents." + k + ".at", Reason: "must be an RFC 3339 date-time"})
				continue
			}
			ci.At = &t
		}
		consents[k] = ci
	}
	if len(problems) > 0 {
		return nil, nil, &vault.Error{Code: vault.EINVALID, Message: "Invalid contact.", Fields: problems}
	}
	return fields, consents, nil
}

// createContact serves POST /v1/contacts: 201 with the contact as the
// caller may see it and its Location.
func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	fields, consents, err := s.readContact(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	v, err := s.svc.CreateContact(ctx, principalFrom(ctx), purposeFrom(ctx), &vault.ContactInput{Fields: fields, Consents: consents})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/contacts/"+v.ID)
	s.writeJSON(w, r, http.StatusCreated, v)
}

// getContact serves GET /v1/contacts/{id}.
func (s *Server) getContact(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.svc.GetContact(ctx, principalFrom(ctx), purposeFrom(ctx), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, v)
}

// updateContact serves PATCH /v1/contacts/{id}: fields given are set
// (null removes one), consents given replace that consent.
func (s *Server) updateContact(w http.ResponseWriter, r *http.Request) {
	fields, consents, err := s.readContact(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	v, err := s.svc.UpdateContact(ctx, principalFrom(ctx), purposeFrom(ctx), chi.URLParam(r, "id"),
		&vault.ContactPatch{Fields: fields, Consents: consents})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, v)
}

// eraseContact serves DELETE /v1/contacts/{id}: erasure, 204.
func (s *Server) eraseContact(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := s.svc.EraseContact(ctx, principalFrom(ctx), purposeFrom(ctx), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// contactList is the answer of a search.
type contactList struct {
	Contacts []*vault.ContactView `json:"contacts"`
}

// searchContacts serves POST /v1/contacts/search: the lookup value travels
// in the body, never in the URL.
func (s *Server) searchContacts(w http.ResponseWriter, r *http.Request) {
	var q vault.SearchQuery
	if !s.readInto(w, r, &q) {
		return
	}
	ctx := r.Context()
	vs, err := s.svc.SearchContacts(ctx, principalFrom(ctx), purposeFrom(ctx), &q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if vs == nil {
		vs = []*vault.ContactView{}
	}
	s.writeJSON(w, r, http.StatusOK, contactList{Contacts: vs})
}
