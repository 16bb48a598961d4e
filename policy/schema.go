package policy

import "github.com/coffre/coffre/vault"

// schemaData is the field schema as the policy sees it, at data.schema.
func schemaData(s *vault.Schema) map[string]any {
	fields := make(map[string]any, len(s.Fields))
	for _, f := range s.Fields {
		fields[f.Name] = map[string]any{
			"type":        f.Type,
			"category":    f.Category,
			"sensitivity": f.Sensitivity,
			"purposes":    anySlice(f.Purposes),
			"segment":     f.Segment,
			"scope":       f.Scope,
			"list":        f.List(),
		}
	}
	return map[string]any{
		"name":     s.Name,
		"purposes": anySlice(s.Purposes),
		"consents": anySlice(s.Consents),
		"fields":   fields,
	}
}

// anySlice turns a string slice into the []any OPA's store expects, never
// nil.
func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
