package policy

import (
	"sync"

	"github.com/coffre/coffre/vault"
)

// decisionCacheMax bounds the decisions one policy remembers. The cache is
// emptied when full: the next requests pay one evaluation each.
const decisionCacheMax = 1 << 16

// cache memoises the answers of one compiled policy (decisions, segment
// scopes) by the canonical encoding of their whole input. It belongs to
// that policy alone, so it cannot serve an answer across revisions, and
// the input holds the principal's id, so it cannot serve one across
// principals.
type cache[V any] struct {
	mu  sync.RWMutex
	m   map[string]V
	max int
}

type decisionCache = cache[*vault.Decision]

func newCache[V any](max int) *cache[V] {
	return &cache[V]{m: make(map[string]V), max: max}
}

func (c *cache[V]) get(key []byte) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[string(key)]
	c.mu.RUnlock()
	return v, ok
}

func (c *cache[V]) put(key []byte, v V) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = make(map[string]V, c.max)
	}
	c.m[string(key)] = v
	c.mu.Unlock()
}
