package policy

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/coffre/coffre/policy/bundle"
	"github.com/coffre/coffre/vault"
)

// TestSummary counts the outcomes of a bundle's Rego tests.
type TestSummary struct {
	Pass, Fail, Error, Skip int
}

// OK reports whether the bundle has tests and all of them passed.
func (s TestSummary) OK() bool { return s.Fail == 0 && s.Error == 0 && s.Pass > 0 }

// RunTests runs the Rego unit tests (*_test.rego) of the bundle in dir, or
// of the default bundle when dir is "", with OPA's tester and the schema
// as data.schema. It writes one line per failed or erroring test, and with
// verbose one per test, then a summary. The error is for a bundle that
// cannot be read or compiled.
func RunTests(ctx context.Context, dir string, schema *vault.Schema, w io.Writer, verbose bool) (TestSummary, error) {
	var fsys fs.FS = bundle.FS
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	files, err := readBundle(fsys)
	if err != nil {
		return TestSummary{}, err
	}
	mods, err := parseModules(files, true)
	if err != nil {
		return TestSummary{}, err
	}
	store := inmem.NewFromObject(map[string]any{"schema": schemaData(schema)})
	r := tester.NewRunner().SetStore(store).SetModules(mods).
		SetDefaultRegoVersion(ast.RegoV1).RaiseBuiltinErrors(true).SetTimeout(30 * time.Second)
	ch, err := r.RunTests(ctx, nil)
	if err != nil {
		return TestSummary{}, fmt.Errorf("policy: %w", err)
	}
	var results []*tester.Result
	for res := range ch {
		results = append(results, res)
	}
	sort.Slice(results, func(i, j int) bool {
		a, b := results[i], results[j]
		if a.Location != nil && b.Location != nil && a.Location.File != b.Location.File {
			return a.Location.File < b.Location.File
		}
		if a.Location != nil && b.Location != nil && a.Location.Row != b.Location.Row {
			return a.Location.Row < b.Location.Row
		}
		return a.Name < b.Name
	})
	var s TestSummary
	for _, res := range results {
		where := res.Package + "." + res.Name
		if res.Location != nil {
			where = fmt.Sprintf("%s:%d: %s", res.Location.File, res.Location.Row, where)
		}
		switch {
		case res.Error != nil:
			s.Error++
			fmt.Fprintf(w, "ERROR %s: %v\n", where, res.Error)
		case res.Fail:
			s.Fail++
			fmt.Fprintf(w, "FAIL  %s\n", where)
		case res.Skip:
			s.Skip++
			if verbose {
				fmt.Fprintf(w, "SKIP  %s\n", where)
			}
		default:
			s.Pass++
			if verbose {
				fmt.Fprintf(w, "PASS  %s (%s)\n", where, res.Duration.Round(time.Microsecond))
			}
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d errors, %d skipped\n", s.Pass, s.Fail, s.Error, s.Skip)
	return s, nil
}
