package bundle_test

import (
	"context"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/coffre/coffre/policy/bundle"
	"github.com/coffre/coffre/vault"
)

// TestRego runs every Rego test of the default bundle against the default
// schema, with OPA's own test runner.
func TestRego(t *testing.T) {
	ctx := context.Background()

	modules := parseBundle(t)
	store := inmem.NewFromObject(map[string]any{"schema": policySchema(vault.DefaultSchema())})
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Abort(ctx, txn)

	ch, err := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetStore(store).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		RunTests(ctx, txn)
	if err != nil {
		t.Fatalf("compiling the bundle: %v", err)
	}
	var passed int
	var failed []string
	for r := range ch {
		name := r.Package + "." + r.Name
		if r.Location != nil {
			name += " (" + r.Location.String() + ")"
		}
		switch {
		case r.Error != nil:
			failed = append(failed, name+": error: "+r.Error.Error())
		case r.Fail:
			msg := name + ": fail"
			if len(r.Output) > 0 {
				msg += "\n" + strings.TrimRight(string(r.Output), "\n")
			}
			failed = append(failed, msg)
		case r.Skip:
			t.Logf("%s.%s: skipped", r.Package, r.Name)
		default:
			passed++
		}
	}
	sort.Strings(failed)
	for _, f := range failed {
		t.Error(f)
	}
	if passed == 0 && len(failed) == 0 {
		t.Fatal("the bundle holds no Rego test")
	}
	t.Logf("%d Rego tests passed, %d failed", passed, len(failed))
}

// TestRegoFormatted checks that every Rego file of the bundle is laid out
// as opa fmt lays it out.
func TestRegoFormatted(t *testing.T) {
	names, err := fs.Glob(bundle.FS, "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		src, err := fs.ReadFile(bundle.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := format.SourceWithOpts(name, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Errorf("formatting %s: %v", name, err)
			continue
		}
		if string(want) != string(src) {
			t.Errorf("%s is not formatted as opa fmt would", name)
		}
	}
}

// parseBundle parses every Rego file of bundle.FS as Rego v1.
func parseBundle(t *testing.T) map[string]*ast.Module {
	t.Helper()
	names, err := fs.Glob(bundle.FS, "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	modules := make(map[string]*ast.Module, len(names))
	for _, name := range names {
		src, err := fs.ReadFile(bundle.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("parsing %s: %v", name, err)
		}
		modules[name] = m
	}
	if len(modules) == 0 {
		t.Fatal("the bundle holds no Rego file")
	}
	return modules
}

// policySchema converts a schema to the data.schema document the policy
// sees (see package policy): fields keyed by name.
func policySchema(s *vault.Schema) map[string]any {
	fields := make(map[string]any, len(s.Fields))
	for _, f := range s.Fields {
		purposes := f.Purposes
		if purposes == nil {
			purposes = []string{}
		}
		fields[f.Name] = map[string]any{
			"category":    f.Category,
			"sensitivity": f.Sensitivity,
			"purposes":    purposes,
			"segment":     f.Segment,
			"scope":       f.Scope,
			"type":        f.Type,
			"list":        f.List(),
		}
	}
	return map[string]any{
		"purposes": s.Purposes,
		"fields":   fields,
		"consents": s.Consents,
	}
}
