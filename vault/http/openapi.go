package http

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/coffre/coffre/vault"
)

// openAPIJSON is the OpenAPI 3.1 description of every route of the
// router; a test checks the two agree.
//
//go:embed openapi.json
var openAPIJSON []byte

// openAPIDocument returns the embedded document with the schema's
// purposes as the values of the Coffre-Purpose header. It panics if the
// embedded document is malformed, which the package's tests rule out.
func openAPIDocument(schema *vault.Schema) []byte {
	var doc map[string]any
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		panic(fmt.Sprintf("http: embedded openapi.json: %v", err))
	}
	param, ok := lookup(doc, "components", "parameters", "Purpose", "schema").(map[string]any)
	if !ok {
		panic("http: embedded openapi.json has no components.parameters.Purpose.schema")
	}
	param["enum"] = schema.Purposes
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("http: openapi.json: %v", err))
	}
	return append(b, '\n')
}

// lookup follows keys through nested JSON objects; nil if one is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// serveOpenAPI serves GET /openapi.json. It holds no personal data, so
// clients may keep it (revalidating).
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(s.openapi)
}
