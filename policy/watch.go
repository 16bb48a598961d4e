package policy

import (
	"context"
	"crypto/sha256"
	"time"
)

// Watch reloads the policy whenever the files of its directory change,
// checking every interval until ctx ends. It does nothing for the embedded
// default bundle. A change that does not compile is refused by Reload and
// not retried until the files change again.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	if e.opts.Dir == "" {
		return
	}
	last := e.fingerprint()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp := e.fingerprint()
		if fp == last {
			continue
		}
		last = fp
		_ = e.Reload(ctx) // logged and reported by Reload
	}
}

// fingerprint hashes every Rego file of the bundle; an unreadable bundle
// has its own fingerprint, so that fixing it counts as a change.
func (e *Engine) fingerprint() [32]byte {
	files, err := readBundle(e.fsys)
	h := sha256.New()
	if err != nil {
		h.Write([]byte("unreadable\x00" + err.Error()))
	}
	for _, f := range files {
		h.Write([]byte(f.name))
		h.Write([]byte{0})
		h.Write(f.src)
		h.Write([]byte{0})
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
