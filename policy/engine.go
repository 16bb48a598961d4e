package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/coffre/coffre/policy/bundle"
	"github.com/coffre/coffre/vault"
)

// Options configure an Engine.
type Options struct {
	// Dir is the bundle directory; "" means the default bundle embedded in
	// the binary.
	Dir string
	// Schema is the field schema the policy sees as data.schema.
	Schema *vault.Schema
	// Logger receives reloads and evaluation errors; nil discards them.
	Logger *slog.Logger
	// OnReload, when set, is called after every reload attempt with the
	// revision in force and the reason the attempt failed (nil when the new
	// policy was loaded).
	OnReload func(ev ReloadEvent)
}

// ReloadEvent reports one reload attempt.
type ReloadEvent struct {
	// Previous and Revision are the revisions before and after; equal when
	// the attempt failed or nothing changed.
	Previous, Revision string
	Err                error
}

// Engine answers the vault's authorisation questions with an OPA policy.
// It is safe for concurrent use; Reload swaps the policy atomically.
type Engine struct {
	opts   Options
	fsys   fs.FS
	source string
	log    *slog.Logger

	cur      atomic.Pointer[compiled]
	mu       sync.Mutex // serialises reloads
	loadedAt atomic.Pointer[time.Time]
	lastErr  atomic.Pointer[string]
}

var (
	_ vault.Authorizer      = (*Engine)(nil)
	_ vault.PolicyDescriber = (*Engine)(nil)
)

// New loads, compiles and checks a bundle. The error of a broken bundle
// names the file, the line and the problem.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Schema == nil {
		return nil, errors.New("policy.New: a schema is required")
	}
	e := &Engine{opts: opts, log: opts.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if opts.Dir == "" {
		e.fsys, e.source = bundle.FS, "default"
	} else {
		st, err := os.Stat(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("policy.New: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("policy.New: %s is not a directory", opts.Dir)
		}
		e.fsys, e.source = os.DirFS(opts.Dir), opts.Dir
	}
	c, err := e.load(ctx)
	if err != nil {
		return nil, err
	}
	e.set(c)
	return e, nil
}

func (e *Engine) load(ctx context.Context) (*compiled, error) {
	files, err := readBundle(e.fsys)
	if err != nil {
		return nil, err
	}
	return compile(ctx, files, e.opts.Schema)
}

func (e *Engine) set(c *compiled) {
	now := time.Now().UTC()
	e.cur.Store(c)
	e.loadedAt.Store(&now)
	e.lastErr.Store(new(string))
}

// Revision returns the revision of the policy in force.
func (e *Engine) Revision() string { return e.cur.Load().revision }

// Reload reads and compiles the bundle again. On success the new policy
// replaces the old one; on failure the old one stays in force and the
// error is returned. Either way OnReload is told.
func (e *Engine) Reload(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	prev := e.cur.Load().revision
	c, err := e.load(ctx)
	ev := ReloadEvent{Previous: prev, Revision: prev, Err: err}
	switch {
	case err != nil:
		msg := err.Error()
		e.lastErr.Store(&msg)
		e.log.Error("policy reload refused; the previous policy stays in force", "revision", prev, "err", err)
	case c.revision == prev:
		e.lastErr.Store(new(string))
		e.log.Info("policy reloaded; unchanged", "revision", prev)
	default:
		e.set(c)
		ev.Revision = c.revision
		e.log.Info("policy reloaded", "previous", prev, "revision", c.revision)
	}
	if e.opts.OnReload != nil {
		e.opts.OnReload(ev)
	}
	return err
}

// PolicyInfo implements vault.PolicyDescriber.
func (e *Engine) PolicyInfo() vault.PolicyInfo {
	c := e.cur.Load()
	return vault.PolicyInfo{
		Revision: c.revision, Source: e.source, Files: append([]vault.PolicyFile(nil), c.files...),
		LoadedAt: e.loadedAt.Load().Format(time.RFC3339), LastError: *e.lastErr.Load(),
	}
}

// Authorize implements vault.Authorizer. A decision comes from the cache of
// the policy in force when the same input was answered before; otherwise
// the policy is evaluated. An evaluation error denies: the error is
// returned and logged.
func (e *Engine) Authorize(ctx context.Context, req *vault.AuthzRequest) (*vault.Decision, error) {
	c := e.cur.Load()
	buf := keyBuffers.Get().(*[]byte)
	defer keyBuffers.Put(buf)
	in := newInput(req, *buf)
	*buf = in.key
	if d, ok := c.cache.get(in.key); ok {
		return d, nil
	}
	d, err := c.evaluate(ctx, in)
	if err != nil {
		e.log.Error("policy evaluation failed; denied", "action", req.Action, "revision", c.revision, "err", err)
		return nil, err
	}
	c.cache.put(in.key, d)
	return d, nil
}

// keyBuffers recycles the buffers cache keys are encoded in.
var keyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// evaluate runs the prepared query and decodes the decision.
func (c *compiled) evaluate(ctx context.Context, in *input) (*vault.Decision, error) {
	rs, err := c.query.Eval(ctx, rego.EvalInput(in.document()))
	if err != nil {
		return nil, fmt.Errorf("policy: evaluation: %w", err)
	}
	d := &vault.Decision{ID: decisionID(c.revision, in.key), Revision: c.revision}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		d.Reason = "the policy gives no decision"
		return d, nil
	}
	if err := decode(rs[0].Expressions[0].Value, d); err != nil {
		return nil, err
	}
	return d, nil
}

// decisionID names a decision by its policy and its input: the same
// question under the same policy always gets the same id.
func decisionID(revision string, key []byte) string {
	h := sha256.New()
	h.Write([]byte(revision))
	h.Write([]byte{0})
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// decode reads a decision document into d. A malformed decision is an
// error, which denies.
func decode(v any, d *vault.Decision) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("policy: the decision is a %T, not an object", v)
	}
	allow, ok := m["allow"].(bool)
	if !ok {
		return errors.New("policy: the decision has no boolean allow")
	}
	if r, ok := m["reason"]; ok {
		if d.Reason, ok = r.(string); !ok {
			return errors.New("policy: the decision's reason is not a string")
		}
	}
	if c, ok := m["conceal"]; ok {
		if d.Conceal, ok = c.(bool); !ok {
			return errors.New("policy: the decision's conceal is not a boolean")
		}
	}
	if f, ok := m["fields"]; ok {
		fm, ok := f.(map[string]any)
		if !ok {
			return errors.New("policy: the decision's fields is not an object")
		}
		d.Fields = make(map[string]string, len(fm))
		for k, v := range fm {
			s, _ := v.(string)
			switch s {
			case vault.Clear, vault.Masked, vault.Hidden:
				d.Fields[k] = s
			default:
				return fmt.Errorf("policy: the obligation of field %q is not clear, masked or hidden", k)
			}
		}
	}
	d.Allow = allow
	if !allow && d.Reason == "" {
		d.Reason = "denied by policy"
	}
	return nil
}
