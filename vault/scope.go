package vault

import (
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"
)

// PrincipalScope computes AuthzRequest.Scope: for each field that scopes
// access (Field.Scope), the segmentation tokens of the values of that
// attribute in attrs, through tok (a TenantKeys.SegmentToken). A field
// whose attribute is absent gets an empty list, which matches no record.
// Values that do not normalise are left out.
func (s *Schema) PrincipalScope(attrs map[string][]string, tok func(field, value string) []byte) map[string][]string {
	var out map[string][]string
	for _, f := range s.Fields {
		if f.Scope == "" {
			continue
		}
		if out == nil {
			out = make(map[string][]string, 1)
		}
		ts := []string{}
		for _, v := range attrs[f.Scope] {
			nv, ferr := f.Normalize(v, time.Time{})
			if ferr != nil {
				continue
			}
			for _, t := range f.Tokens(nv, tok) {
				ts = append(ts, hex.EncodeToString(t))
			}
		}
		out[f.Name] = ts
	}
	return out
}

// ResourceScope computes Resource.Tokens: for each field of scope, those
// of a record's tokens that are in the principal's list.
func ResourceScope(scope map[string][]string, tokens [][]byte) map[string][]string {
	if len(scope) == 0 {
		return nil
	}
	hexes := make([]string, len(tokens))
	for i, t := range tokens {
		hexes[i] = hex.EncodeToString(t)
	}
	out := make(map[string][]string, len(scope))
	for field, want := range scope {
		got := []string{}
		for _, w := range want {
			if slices.Contains(hexes, w) {
				got = append(got, w)
			}
		}
		out[field] = got
	}
	return out
}

// scopeKey keys a principal's scope tokens: its tenant, id and the values
// of the attributes that scope access.
func (s *Schema) scopeKey(p *Principal) string {
	var b strings.Builder
	b.WriteString(p.TenantID)
	b.WriteByte(0)
	b.WriteString(p.ID)
	for _, f := range s.Fields {
		if f.Scope == "" {
			continue
		}
		for _, v := range p.Attributes[f.Scope] {
			b.WriteByte(0)
			b.WriteString(v)
		}
		b.WriteByte(1)
	}
	return b.String()
}

// scopeCacheMax bounds the principals whose scope tokens are remembered.
const scopeCacheMax = 10000

// scopeCache remembers each principal's scope tokens: a token's
// attributes never change, so its id and tenant key the entry.
type scopeCache struct {
	mu sync.RWMutex
	m  map[string]map[string][]string
}

func (c *scopeCache) get(key string) (map[string][]string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *scopeCache) put(key string, v map[string][]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= scopeCacheMax {
		c.m = make(map[string]map[string][]string)
	}
	c.m[key] = v
}
