package http_test

import (
	"crypto/sha256"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

var cpuLine = regexp.MustCompile(`(?m)^process_cpu_seconds_total (\S+)$`)

// scrapeCPU returns the server's process_cpu_seconds_total.
func (e *env) scrapeCPU(t *testing.T) float64 {
	t.Helper()
	rec := e.do(request{method: "GET", path: "/metrics"})
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	m := cpuLine.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("/metrics has no process_cpu_seconds_total:\n%s", rec.Body)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v < 0 {
		t.Fatalf("process_cpu_seconds_total %q: %v", m[1], err)
	}
	return v
}

// TestMetricsCPU checks that /metrics reports the process's CPU time and
// that the counter grows with work done in between.
func TestMetricsCPU(t *testing.T) {
	e := newEnv(t)
	before := e.scrapeCPU(t)
	sum := sha256.Sum256(nil)
	for range 200000 {
		sum = sha256.Sum256(sum[:])
	}
	after := e.scrapeCPU(t)
	if after <= before {
		t.Errorf("process_cpu_seconds_total went from %g to %g across %x's work", before, after, sum[:2])
	}
}
