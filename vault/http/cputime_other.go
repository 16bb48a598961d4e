//go:build !unix

package http

// processCPUSeconds reports no CPU time where getrusage is missing.
func processCPUSeconds() (float64, bool) { return 0, false }
