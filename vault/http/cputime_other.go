//go:build !unix

package http

// ProcessCPUSeconds reports no CPU time where getrusage is missing.
func ProcessCPUSeconds() (float64, bool) { return 0, false }
