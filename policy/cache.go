package policy

import (
	"sync"

	"github.com/coffre/coffre/vault"
)

// decisionCacheMax bounds the decisions one policy remembers. The cache is
// emptied when full: the next requests pay one evaluation each.
const decisionCacheMax = 1 << 16

// decisionCache memoises the decisions of one compiled policy by the
// canonical encoding of their whole input. It belongs to that policy
// alone, so it cannot serve a decision across revisions, and the input
// holds the principal's id, so it cannot serve one across principals.
type decisionCache struct {
	mu  sync.RWMutex
	m   map[string]*vault.Decision
	max int
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{m: make(map[string]*vault.Decision), max: max}
}

func (c *decisionCache) get(key []byte) (*vault.Decision, bool) {
	c.mu.RLock()
	d, ok := c.m[string(key)]
	c.mu.RUnlock()
	return d, ok
}

func (c *decisionCache) put(key []byte, d *vault.Decision) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = make(map[string]*vault.Decision, c.max)
	}
	c.m[string(key)] = d
	c.mu.Unlock()
}

func (c *decisionCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
