package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/coffre/coffre/vault"
)

// decisionQuery is the rule every bundle must define.
const decisionQuery = "data.coffre.authz.decision"

// maxBundleBytes bounds the Rego a bundle may hold.
const maxBundleBytes = 8 << 20

// file is one Rego file of a bundle.
type file struct {
	name string
	src  []byte
	test bool
}

// readBundle reads every .rego file under fsys, sorted by name.
func readBundle(fsys fs.FS) ([]file, error) {
	var files []file
	total := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if path.Ext(p) != ".rego" || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if total += len(b); total > maxBundleBytes {
			return fmt.Errorf("the bundle is larger than %d bytes", maxBundleBytes)
		}
		files = append(files, file{name: p, src: b, test: strings.HasSuffix(p, "_test.rego")})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy: reading the bundle: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	served := 0
	for _, f := range files {
		if !f.test {
			served++
		}
	}
	if served == 0 {
		return nil, errors.New("policy: the bundle holds no .rego file")
	}
	return files, nil
}

// parseModules parses a bundle's files as Rego v1; with tests false, the
// *_test.rego files are left out. A syntax error names the file and line.
func parseModules(files []file, tests bool) (map[string]*ast.Module, error) {
	mods := make(map[string]*ast.Module, len(files))
	for _, f := range files {
		if f.test && !tests {
			continue
		}
		m, err := ast.ParseModuleWithOpts(f.name, string(f.src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		mods[f.name] = m
	}
	return mods, nil
}

// revision hashes the served files and the schema the policy sees.
func revision(files []file, schemaJSON []byte) string {
	h := sha256.New()
	for _, f := range files {
		if f.test {
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f.name, len(f.src))
		h.Write(f.src)
	}
	h.Write([]byte("schema\x00"))
	h.Write(schemaJSON)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// compiled is one loaded policy: its prepared query, its revision and its
// own decision cache. It is never changed once built.
type compiled struct {
	query    rego.PreparedEvalQuery
	revision string
	files    []vault.PolicyFile
	cache    *decisionCache

	// segment is the segment rule prepared for partial evaluation, terms
	// the query of its answers and minimum count; segments caches scopes.
	segment  rego.PreparedPartialQuery
	terms    rego.PreparedEvalQuery
	segments *cache[*vault.SegmentScope]
}

// compile parses, compiles and prepares a bundle, then checks that it
// answers a sample question with a well-formed decision.
func compile(ctx context.Context, files []file, schema *vault.Schema) (*compiled, error) {
	mods, err := parseModules(files, false)
	if err != nil {
		return nil, err
	}
	data := schemaData(schema)
	schemaJSON, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("policy: schema: %w", err)
	}
	opts := []func(*rego.Rego){
		rego.Store(inmem.NewFromObject(map[string]any{"schema": data})),
		rego.StrictBuiltinErrors(true),
	}
	for _, m := range mods {
		opts = append(opts, rego.ParsedModule(m))
	}
	pq, err := rego.New(append(opts, rego.Query(decisionQuery))...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if !definesDecision(mods) {
		return nil, fmt.Errorf("policy: the bundle defines no %s rule", decisionQuery)
	}
	c := &compiled{query: pq, revision: revision(files, schemaJSON),
		cache: newCache[*vault.Decision](decisionCacheMax), segments: newCache[*vault.SegmentScope](decisionCacheMax)}
	if c.segment, c.terms, err = prepareSegments(ctx, opts); err != nil {
		return nil, err
	}
	for _, f := range files {
		if !f.test {
			sum := sha256.Sum256(f.src)
			c.files = append(c.files, vault.PolicyFile{Name: f.name, SHA256: hex.EncodeToString(sum[:]), Size: len(f.src)})
		}
	}
	// A policy that cannot answer a plain question is refused now rather
	// than at the first request.
	probe := &vault.AuthzRequest{
		Principal: &vault.Principal{ID: "probe", TenantID: "probe", Role: vault.RoleAgent},
		Action:    vault.ActionContactRead, Purpose: firstOr(schema.Purposes, ""),
		Resource: vault.Resource{Kind: vault.KindContact, TenantID: "probe"},
	}
	if _, err := c.evaluate(ctx, newInput(probe, nil)); err != nil {
		return nil, fmt.Errorf("policy: the bundle fails on a sample question: %w", err)
	}
	return c, nil
}

// definesDecision reports whether some module defines the decision rule.
func definesDecision(mods map[string]*ast.Module) bool {
	want := ast.MustParseRef(decisionQuery)
	for _, m := range mods {
		for _, r := range m.Rules {
			if m.Package.Path.Extend(r.Head.Ref()).Equal(want) {
				return true
			}
		}
	}
	return false
}

func firstOr(ss []string, def string) string {
	if len(ss) > 0 {
		return ss[0]
	}
	return def
}
