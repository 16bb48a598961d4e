package policy

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/coffre/coffre/vault"
)

// Segment rules of a bundle (see bundle/segment.rego).
const (
	segmentQuery = "data.coffre.authz.segment_include"
	termsQuery   = `x := {"answers": [a | some a in data.coffre.authz.segment_answers], "min_count": data.coffre.authz.segment_min_count}`
)

// defaultMinCount applies when the policy sets no segment_min_count.
const defaultMinCount = 5

// prepareSegments prepares the partial evaluation of the segment rule and
// the query of its terms.
func prepareSegments(ctx context.Context, opts []func(*rego.Rego)) (rego.PreparedPartialQuery, rego.PreparedEvalQuery, error) {
	pq, err := rego.New(append(opts, rego.Query(segmentQuery), rego.Unknowns([]string{"input.resource"}))...).PrepareForPartial(ctx)
	if err != nil {
		return pq, rego.PreparedEvalQuery{}, fmt.Errorf("policy: segment rule: %w", err)
	}
	tq, err := rego.New(append(opts, rego.Query(termsQuery))...).PrepareForEval(ctx)
	if err != nil {
		return pq, tq, fmt.Errorf("policy: segment terms: %w", err)
	}
	return pq, tq, nil
}

// SegmentScope implements vault.SegmentScoper: it evaluates the segment
// rule partially, with the record unknown, and translates what is left into
// a vault.Cond the stores run inside their query. A residual the
// translator cannot express is an error, which refuses the query: a
// segment is never wider than the policy says. Scopes are cached like
// decisions, per policy and per principal.
func (e *Engine) SegmentScope(ctx context.Context, req *vault.AuthzRequest) (*vault.SegmentScope, error) {
	c := e.cur.Load()
	r := *req
	r.Resource = vault.Resource{Kind: vault.KindContact, TenantID: principalTenant(req.Principal)}
	key := append([]byte("segment\x00"), appendKey(nil, &r)...)
	if s, ok := c.segments.get(key); ok {
		return s, nil
	}
	s, err := c.segmentScope(ctx, &input{req: &r, key: key}, e.opts.Schema)
	if err != nil {
		e.log.Error("policy segment evaluation failed; refused", "action", req.Action, "revision", c.revision, "err", err)
		return nil, err
	}
	c.segments.put(key, s)
	return s, nil
}

func principalTenant(p *vault.Principal) string {
	if p == nil {
		return ""
	}
	return p.TenantID
}

func (c *compiled) segmentScope(ctx context.Context, in *input, schema *vault.Schema) (*vault.SegmentScope, error) {
	doc := in.document()
	delete(doc, "resource") // unknown: the records the database holds
	pq, err := c.segment.Partial(ctx, rego.EvalInput(doc))
	if err != nil {
		return nil, fmt.Errorf("policy: segment rule: %w", err)
	}
	if len(pq.Support) > 0 {
		return nil, fmt.Errorf("policy: the segment rule leaves support rules (%d), which the database cannot run", len(pq.Support))
	}
	cond, err := translate(pq.Queries, schema, principalTenant(in.req.Principal))
	if err != nil {
		return nil, err
	}
	s := &vault.SegmentScope{Cond: cond, MinCount: defaultMinCount, Revision: c.revision, DecisionID: decisionID(c.revision, in.key)}
	rs, err := c.terms.Eval(ctx, rego.EvalInput(doc))
	if err != nil {
		return nil, fmt.Errorf("policy: segment terms: %w", err)
	}
	if len(rs) == 1 {
		terms, _ := rs[0].Bindings["x"].(map[string]any)
		answers, _ := terms["answers"].([]any)
		for _, a := range answers {
			if a, ok := a.(string); ok {
				s.Answers = append(s.Answers, a)
			}
		}
		if n, ok := terms["min_count"].(json.Number); ok {
			v, err := n.Int64()
			if err != nil || v < 0 || v > 1_000_000 {
				return nil, fmt.Errorf("policy: segment_min_count %v is not a count", n)
			}
			s.MinCount = int(v)
		}
	}
	return s, nil
}

// translate turns the queries left by partial evaluation (a disjunction of
// conjunctions) into a Cond. It accepts only comparisons of one flat
// member of input.resource with values; anything else is an error.
func translate(queries []ast.Body, schema *vault.Schema, tenant string) (*vault.Cond, error) {
	if len(queries) == 0 {
		return &vault.Cond{Op: vault.CondFalse}, nil
	}
	or := &vault.Cond{Op: vault.CondOr}
	for _, body := range queries {
		and := &vault.Cond{Op: vault.CondAnd}
		for _, expr := range body {
			c, err := translateExpr(expr, schema, tenant)
			if err != nil {
				return nil, fmt.Errorf("policy: the segment rule leaves %q, which the database cannot run: %w", expr.String(), err)
			}
			and.Children = append(and.Children, c)
		}
		switch len(and.Children) {
		case 0:
			and.Op = vault.CondTrue
		case 1:
			and = and.Children[0]
		}
		or.Children = append(or.Children, and)
	}
	return simplify(or), nil
}

// simplify folds constants: an And with a false member is false, true
// members of an And and false members of an Or drop out, and a one-member
// And or Or is that member.
func simplify(c *vault.Cond) *vault.Cond {
	switch c.Op {
	case vault.CondAnd, vault.CondOr:
		absorbing, neutral := vault.CondFalse, vault.CondTrue
		if c.Op == vault.CondOr {
			absorbing, neutral = vault.CondTrue, vault.CondFalse
		}
		out := &vault.Cond{Op: c.Op}
		for _, ch := range c.Children {
			ch = simplify(ch)
			switch ch.Op {
			case absorbing:
				return ch
			case neutral:
				continue
			}
			out.Children = append(out.Children, ch)
		}
		switch len(out.Children) {
		case 0:
			return &vault.Cond{Op: neutral}
		case 1:
			return out.Children[0]
		}
		return out
	case vault.CondNot:
		ch := simplify(c.Children[0])
		switch ch.Op {
		case vault.CondTrue:
			return &vault.Cond{Op: vault.CondFalse}
		case vault.CondFalse:
			return &vault.Cond{Op: vault.CondTrue}
		}
		return not(ch)
	}
	return c
}

var (
	eqOp     = ast.Equality.Ref()
	assignEq = ast.Equal.Ref()
	neqOp    = ast.NotEqual.Ref()
	memberOp = ast.Member.Ref()
)

func translateExpr(expr *ast.Expr, schema *vault.Schema, tenant string) (*vault.Cond, error) {
	if len(expr.With) > 0 {
		return nil, fmt.Errorf("with is not supported")
	}
	var c *vault.Cond
	var err error
	switch {
	case expr.IsCall():
		op := expr.Operator()
		args := expr.Operands()
		switch {
		case (op.Equal(eqOp) || op.Equal(assignEq) || op.Equal(neqOp)) && len(args) == 2:
			col, val, ok := columnAndValue(args[0], args[1])
			if !ok {
				return nil, fmt.Errorf("a comparison must set one member of input.resource against a value")
			}
			if c, err = compare(col, val, schema, tenant); err == nil && op.Equal(neqOp) {
				c = not(c)
			}
		case op.Equal(memberOp) && len(args) == 2:
			col, ok := resourceColumn(args[0])
			if !ok || !ast.IsConstant(args[1].Value) {
				return nil, fmt.Errorf("membership must test one member of input.resource in a set of values")
			}
			c = &vault.Cond{Op: vault.CondOr}
			err = foreach(args[1].Value, func(v ast.Value) error {
				ch, err := compare(col, v, schema, tenant)
				c.Children = append(c.Children, ch)
				return err
			})
			if len(c.Children) == 0 {
				c = &vault.Cond{Op: vault.CondFalse} // in an empty set
			} else {
				c = mergeTokens(c)
			}
		default:
			return nil, fmt.Errorf("the operator %v is not supported", op)
		}
	default:
		term, ok := expr.Terms.(*ast.Term)
		if !ok {
			return nil, fmt.Errorf("unsupported expression")
		}
		col, ok := resourceColumn(term)
		if !ok {
			return nil, fmt.Errorf("a bare term must be a member of input.resource")
		}
		c, err = compare(col, ast.Boolean(true), schema, tenant)
	}
	if err != nil {
		return nil, err
	}
	if expr.Negated {
		c = not(c)
	}
	return c, nil
}

// resourceColumn reads input.resource.<member>.
func resourceColumn(t *ast.Term) (string, bool) {
	ref, ok := t.Value.(ast.Ref)
	if !ok || len(ref) != 3 || !ref[0].Equal(ast.InputRootDocument) {
		return "", false
	}
	r, ok1 := ref[1].Value.(ast.String)
	col, ok2 := ref[2].Value.(ast.String)
	if !ok1 || !ok2 || string(r) != "resource" {
		return "", false
	}
	return string(col), true
}

func columnAndValue(a, b *ast.Term) (string, ast.Value, bool) {
	if col, ok := resourceColumn(a); ok && ast.IsScalar(b.Value) {
		return col, b.Value, true
	}
	if col, ok := resourceColumn(b); ok && ast.IsScalar(a.Value) {
		return col, a.Value, true
	}
	return "", nil, false
}

// compare translates input.resource.<col> == v.
func compare(col string, v ast.Value, schema *vault.Schema, tenant string) (*vault.Cond, error) {
	switch {
	case col == "tenant":
		s, ok := v.(ast.String)
		if !ok {
			return nil, fmt.Errorf("tenant compared with a non-string")
		}
		if string(s) == tenant && tenant != "" {
			return &vault.Cond{Op: vault.CondTrue}, nil
		}
		return &vault.Cond{Op: vault.CondFalse}, nil
	case col == vault.FlagRestricted || col == vault.FlagObjected:
		b, ok := v.(ast.Boolean)
		if !ok {
			return nil, fmt.Errorf("%s compared with a non-boolean", col)
		}
		return &vault.Cond{Op: vault.CondFlag, Flag: col, Value: bool(b)}, nil
	case strings.HasPrefix(col, "consent_") && schema.HasConsent(strings.TrimPrefix(col, "consent_")):
		b, ok := v.(ast.Boolean)
		if !ok {
			return nil, fmt.Errorf("%s compared with a non-boolean", col)
		}
		c := &vault.Cond{Op: vault.CondConsent, Consent: strings.TrimPrefix(col, "consent_")}
		if !b {
			return not(c), nil
		}
		return c, nil
	}
	if f := schema.Field(col); f != nil && f.Segment == vault.SegmentExact && !f.List() {
		s, ok := v.(ast.String)
		if !ok {
			return nil, fmt.Errorf("%s compared with a non-token", col)
		}
		tok, err := hex.DecodeString(string(s))
		if err != nil || len(tok) == 0 {
			return nil, fmt.Errorf("%s compared with something that is not a hex token", col)
		}
		return &vault.Cond{Op: vault.CondTokens, Tokens: [][]byte{tok}}, nil
	}
	return nil, fmt.Errorf("input.resource.%s is not a member segments can test", col)
}

func foreach(v ast.Value, f func(ast.Value) error) error {
	var err error
	visit := func(t *ast.Term) {
		if err == nil {
			err = f(t.Value)
		}
	}
	switch c := v.(type) {
	case *ast.Array:
		c.Foreach(visit)
	case ast.Set:
		c.Foreach(visit)
	default:
		return fmt.Errorf("membership in a %T", v)
	}
	return err
}

// mergeTokens turns an Or of token conditions into one token condition.
func mergeTokens(c *vault.Cond) *vault.Cond {
	m := &vault.Cond{Op: vault.CondTokens}
	for _, ch := range c.Children {
		if ch.Op != vault.CondTokens {
			return c
		}
		m.Tokens = append(m.Tokens, ch.Tokens...)
	}
	return m
}

func not(c *vault.Cond) *vault.Cond {
	return &vault.Cond{Op: vault.CondNot, Children: []*vault.Cond{c}}
}
