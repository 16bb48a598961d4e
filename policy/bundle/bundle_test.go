package bundle_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"github.com/coffre/coffre/policy"
	"github.com/coffre/coffre/policy/bundle"
	"github.com/coffre/coffre/vault"
)

// TestRego runs every Rego test of the default bundle against the default
// schema, with OPA's own test runner (as coffre policy test does), and
// checks that the tests evaluate every line of the policy but its safety
// nets.
func TestRego(t *testing.T) {
	var out strings.Builder
	sum, err := policy.RunTests(context.Background(), "", vault.DefaultSchema(), &out, true)
	if err != nil {
		t.Fatalf("compiling the bundle: %v", err)
	}
	if !sum.OK() {
		t.Fatalf("Rego tests: %+v\n%s", sum, out.String())
	}
	if sum.Pass < 50 {
		t.Errorf("only %d Rego tests", sum.Pass)
	}
	// The default decision and one else branch are safety nets no input
	// reaches; anything else uncovered is a rule without a test.
	if sum.Coverage < 99 {
		t.Errorf("the tests cover %.1f%% of the policy's lines; not covered: %v", sum.Coverage, sum.Uncovered)
	}
	t.Logf("%d Rego tests passed, %.1f%% of lines covered", sum.Pass, sum.Coverage)
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
