package pgtest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/coffre/coffre/vault/postgres/pgtest"
)

// TestHelperMustOpen is run by TestSkipOrFail in a child process.
func TestHelperMustOpen(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") != "1" {
		t.Skip("run by TestSkipOrFail")
	}
	pgtest.MustOpen(t)
}

// TestSkipOrFail checks the rule: without a usable test database a test
// is skipped on a developer's machine and fails under CI=true.
func TestSkipOrFail(t *testing.T) {
	for _, tt := range []struct {
		name, url, ci string
		want          string
	}{
		{"UnsetLaptop", "", "", "SKIP"},
		{"UnsetCI", "", "true", "FAIL"},
		{"UnreachableLaptop", "postgres://postgres@127.0.0.1:1/test?connect_timeout=2", "", "SKIP"},
		{"UnreachableCI", "postgres://postgres@127.0.0.1:1/test?connect_timeout=2", "true", "FAIL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMustOpen$", "-test.v")
			cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", pgtest.EnvURL+"="+tt.url, "CI="+tt.ci)
			out, err := cmd.CombinedOutput()
			got := "PASS"
			switch {
			case strings.Contains(string(out), "--- SKIP: TestHelperMustOpen"):
				got = "SKIP"
			case err != nil || strings.Contains(string(out), "--- FAIL"):
				got = "FAIL"
			}
			if got != tt.want {
				t.Errorf("MustOpen with %s=%q CI=%q: %s, want %s\n%s", pgtest.EnvURL, tt.url, tt.ci, got, tt.want, out)
			}
		})
	}
}

func TestWithSearchPath(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?search_path=s1&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?search_path=s1"},
		{"postgres://u@h/db?search_path=old", "postgres://u@h/db?search_path=s1"},
		{"host=h dbname=db", "host=h dbname=db search_path=s1"},
	} {
		if got := pgtest.WithSearchPath(tt.in, "s1"); got != tt.want {
			t.Errorf("WithSearchPath(%q, s1) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
