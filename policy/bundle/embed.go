// Package bundle holds Coffre's default policy: the Rego rules that decide
// what each shipped role may do, and their tests. It is embedded in the
// binary; see package policy for the input and output they work on.
package bundle

import "embed"

// FS holds the default bundle's Rego files, tests included.
//
//go:embed *.rego
var FS embed.FS
