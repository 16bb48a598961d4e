package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the version of coffre. Release builds set it with
// -ldflags "-X main.Version=v1.2.3"; otherwise it comes from the module
// build information, or is "dev".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// runVersion implements coffre version.
func (m *Main) runVersion(ctx context.Context, args []string) error {
	fl := m.newFlagSet("version", "version")
	if err := fl.parse(args); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "coffre %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
