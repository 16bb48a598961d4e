package http

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/coffre/coffre/vault"
)

// AppendContactView is appendJSON for a contact view, the answer of a
// create, a read or an update.
func AppendContactView(b []byte, v *vault.ContactView) ([]byte, bool) { return appendJSON(b, v) }

// AppendContactList is appendJSON for the answer of a search.
func AppendContactList(b []byte, vs []*vault.ContactView) ([]byte, bool) {
	return appendJSON(b, contactList{Contacts: vs})
}

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
