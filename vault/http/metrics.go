package http

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/coffre/coffre/vault"
)

// metrics serves GET /metrics in the Prometheus text format: the
// deadlines of data-subject requests per tenant, the policy revision in
// force and the CPU time the server has used (process_cpu_seconds_total,
// the name Prometheus's own clients give it; coffre bench reads it to
// report the server's CPU per request). Tenant ids and counts only:
// nothing about a person.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	ms, err := s.svc.RequestMetrics(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var b strings.Builder
	gauge := func(name, help string, value func(m vault.RequestMetrics) int) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, m := range ms {
			fmt.Fprintf(&b, "%s{tenant=%q} %d\n", name, m.TenantID, value(m))
		}
	}
	gauge("coffre_requests_open", "Data-subject requests neither completed nor rejected.", func(m vault.RequestMetrics) int { return m.Open })
	gauge("coffre_requests_overdue", "Open data-subject requests past their legal due date.", func(m vault.RequestMetrics) int { return m.Overdue })
	gauge("coffre_requests_due_soon", "Open data-subject requests due within seven days.", func(m vault.RequestMetrics) int { return m.DueSoon })
	if rev := s.svc.PolicyRevision(); rev != "" {
		fmt.Fprintf(&b, "# HELP coffre_policy_info The policy revision in force.\n# TYPE coffre_policy_info gauge\ncoffre_policy_info{revision=%q} 1\n", rev)
	}
	if cpu, ok := ProcessCPUSeconds(); ok {
		fmt.Fprintf(&b, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\n", cpu)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}
