package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/coffre/coffre/vault"
)

// writeJSON answers with v as JSON: as json.Marshal encodes it, through
// appendJSON into a pooled buffer when v is an answer appendJSON encodes.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	bp := jsonBuffers.Get().(*[]byte)
	defer putJSONBuffer(bp)
	b, ok := appendJSON((*bp)[:0], v)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			s.writeError(w, r, fmt.Errorf("http.writeJSON: %w", err))
			return
		}
	}
	b = append(b, '\n')
	if ok {
		*bp = b // Write does not keep b: it goes back to the pool
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// readBody reads the JSON object in r's body: application/json, at most
// the Server's body limit, nothing after the object. EINVALID,
// ETOOLARGE, or unsupported_media_type.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	tooLarge := vault.Errorf(vault.ETOOLARGE, "The request body is larger than %d bytes.", s.maxBody)
	if r.ContentLength > s.maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge
	} else if err != nil {
		return nil, vault.Errorf(vault.EINVALID, "The request body could not be read.")
	}
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 {
		return nil, vault.Errorf(vault.EINVALID, "The request body is empty; send a JSON object.")
	} else if b[0] != '{' {
		return nil, vault.Errorf(vault.EINVALID, "The request body must be a JSON object.")
	}
	return body, nil
}

// checkContentType accepts application/json, with no parameter but an
// optional charset=utf-8.
func checkContentType(ct string) error {
	bad := vault.Errorf(codeUnsupportedMediaType, "The request body must be sent as Content-Type: application/json.")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return bad
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return bad
		}
	}
	return nil
}

// readInto reads a JSON body into v, answering the error itself.
func (s *Server) readInto(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := s.readBody(w, r)
	if err == nil {
		err = decodeJSON(body, v, "")
	}
	if err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// decodeJSON decodes exactly one JSON value from b into v, refusing
// members v does not declare and anything after the value. Its errors
// are EINVALID with messages written from the position and the expected
// type only: the decoder's own messages can quote the submitted value, so
// they never reach a caller or a log. path prefixes the field names of
// type errors ("consents.newsletter").
func decodeJSON(b []byte, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	// Numbers in free-form values (contact fields) stay json.Number, so an
	// out-of-range one is refused by the schema, which names the field.
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, path)
	}
	if _, err := dec.Token(); err != io.EOF {
		return vault.Errorf(vault.EINVALID, "The request body has data after the JSON object.")
	}
	return nil
}

// jsonNames are the member names of request bodies: only these are
// repeated from a decoder's error path; anything else becomes "*".
var jsonNames = map[string]bool{
	"fields": true, "consents": true, "granted": true, "at": true, "source": true, "proof": true,
	"email": true, "phone": true, "role": true, "attributes": true, "purposes": true, "ttl_seconds": true,
	"filter": true, "segment": true, "answer": true, "limit": true, "cursor": true, "name": true, "and": true, "or": true,
	"not": true, "field": true, "in": true, "age": true, "min": true, "max": true, "consent": true, "created": true,
	"updated": true, "after": true, "before": true, "type": true, "subject": true, "received_at": true,
	"identity_method": true, "assignee": true, "months": true, "reason": true, "withdraw": true, "legal_retention": true,
	"tenant": true, "code": true,
}

func jsonError(err error, path string) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return vault.Errorf(vault.EINVALID, "The request body is not valid JSON (syntax error at byte %d).", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return vault.Errorf(vault.EINVALID, "The request body ends in the middle of a JSON value.")
	case errors.As(err, &typ):
		var names []string
		if path != "" {
			names = append(names, path)
		}
		for _, n := range strings.Split(typ.Field, ".") {
			if n == "" {
				continue
			} else if !jsonNames[n] {
				n = "*"
			}
			names = append(names, n)
		}
		return &vault.Error{
			Code:    vault.EINVALID,
			Message: fmt.Sprintf("The request body has a value of the wrong type (at byte %d).", typ.Offset),
			Fields:  []vault.FieldError{{Field: strings.Join(names, "."), Reason: "must be " + jsonType(typ.Type)}},
		}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		where := "The request body"
		if path != "" {
			where = "The value of " + path
		}
		return vault.Errorf(vault.EINVALID, "%s has a member this request does not accept; see /openapi.json.", where)
	}
	return vault.Errorf(vault.EINVALID, "The request body is not valid for this request; see /openapi.json.")
}

// jsonType names the JSON type that decodes into t.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer within range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}
