//go:build !unix

package main

// ownCPUSeconds reports no CPU time where getrusage is missing.
func ownCPUSeconds() (float64, bool) { return 0, false }
