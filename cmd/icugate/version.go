package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

// printVersion writes the version (from -ldflags, else the module version
// `go install` recorded), the VCS commit the binary was built from, and the
// Go toolchain.
func printVersion(w io.Writer, v string, buildInfo func() (*debug.BuildInfo, bool)) {
	goVersion := runtime.Version()
	commit := "commit unknown (built without VCS information)"
	if bi, ok := buildInfo(); ok {
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			commit = "commit " + rev
			if t := settings["vcs.time"]; t != "" {
				commit += " (" + t + ")"
			}
			if settings["vcs.modified"] == "true" {
				commit += " modified"
			}
		}
	}
	fmt.Fprintf(w, "icugate %s\n%s\n%s %s/%s\n", v, commit, goVersion, runtime.GOOS, runtime.GOARCH)
}

// runVersion is the version subcommand.
func runVersion(args []string) int {
	if len(args) > 0 {
		fmt.Fprintln(os.Stderr, "usage: icugate version")
		return 2
	}
	printVersion(os.Stdout, version, debug.ReadBuildInfo)
	return 0
}
