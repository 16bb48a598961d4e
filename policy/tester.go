package policy

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/coffre/coffre/policy/bundle"
	"github.com/coffre/coffre/vault"
)

// TestSummary counts the outcomes of a bundle's Rego tests.
type TestSummary struct {
	Pass, Fail, Error, Skip int
	// Coverage is the percentage of the policy's (non-test) lines the
	// tests evaluated; Uncovered lists the others as file:line ranges.
	Coverage  float64
	Uncovered []string
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
	cov := cover.New()
	r := tester.NewRunner().SetStore(store).SetModules(mods).SetCoverageQueryTracer(cov).
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
	served := make(map[string]*ast.Module, len(mods))
	for name, m := range mods {
		if !strings.HasSuffix(name, "_test.rego") {
			served[name] = m
		}
	}
	rep := cov.Report(served)
	s.Coverage = rep.Coverage
	for _, f := range sortedKeys(rep.Files) {
		for _, rg := range rep.Files[f].NotCovered {
			at := fmt.Sprintf("%s:%d", f, rg.Start.Row)
			if rg.End.Row != rg.Start.Row {
				at += fmt.Sprintf("-%d", rg.End.Row)
			}
			if !slices.Contains(s.Uncovered, at) {
				s.Uncovered = append(s.Uncovered, at)
			}
		}
	}
	if verbose {
		for _, u := range s.Uncovered {
			fmt.Fprintf(w, "NOT COVERED %s\n", u)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d errors, %d skipped; %.1f%% of the policy's lines covered\n",
		s.Pass, s.Fail, s.Error, s.Skip, s.Coverage)
	return s, nil
}
