package postgres

import (
	"strings"
	"testing"

	"github.com/coffre/coffre/vault"
)

// TestCountSQLSplitsOneNegation: a conjunction with one negated token
// condition is counted as a difference of two counts; anything else as
// one count.
func TestCountSQLSplitsOneNegation(t *testing.T) {
	tok := &vault.Cond{Op: vault.CondTokens, Tokens: [][]byte{[]byte("0123456789abcdef")}}
	not := &vault.Cond{Op: vault.CondNot, Children: []*vault.Cond{tok}}
	open := []*vault.Cond{{Op: vault.CondFlag, Flag: vault.FlagRestricted}, {Op: vault.CondFlag, Flag: vault.FlagObjected}}
	cases := []struct {
		name  string
		c     *vault.Cond
		split bool
	}{
		{"rest and not", &vault.Cond{Op: vault.CondAnd, Children: append(append([]*vault.Cond{}, open...), not)}, true},
		{"not alone in an and", &vault.Cond{Op: vault.CondAnd, Children: []*vault.Cond{not}}, true},
		{"empty and", &vault.Cond{Op: vault.CondAnd}, false},
		{"two negations", &vault.Cond{Op: vault.CondAnd, Children: []*vault.Cond{not, not}}, true},
		{"bare not", not, true},
		{"nested and", &vault.Cond{Op: vault.CondAnd, Children: []*vault.Cond{{Op: vault.CondAnd, Children: []*vault.Cond{open[0], not}}, open[1]}}, true},
		{"or", &vault.Cond{Op: vault.CondOr, Children: []*vault.Cond{not, open[0]}}, false},
		{"not of a flag", &vault.Cond{Op: vault.CondAnd, Children: []*vault.Cond{{Op: vault.CondNot, Children: []*vault.Cond{open[0]}}}}, false},
		{"not of no tokens", &vault.Cond{Op: vault.CondAnd, Children: []*vault.Cond{{Op: vault.CondNot, Children: []*vault.Cond{{Op: vault.CondTokens}}}}}, false},
	}
	for _, tc := range cases {
		q, args, err := countSQL(tc.c, "t1")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if split := strings.Count(q, "count(*)") == 2; split != tc.split {
			t.Errorf("%s: split %v, want %v: %s", tc.name, split, tc.split, q)
		}
		if args[1] != "t1" {
			t.Errorf("%s: args %v", tc.name, args)
		}
	}
}
