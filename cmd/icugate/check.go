package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/icugate/icugate/config"
)

// runCheck loads the site config named by -c. It prints every problem as
// file:line: message to stderr and returns 1, or prints a one-line summary
// to stdout and returns 0. Bad flags return 2.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "icugate.yaml", "site config `file`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: icugate check -c SITE.yaml\n\nValidates the site config and every profile it uses; prints each problem as file:line: message.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "icugate check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	site, err := config.Load(*path)
	if err != nil {
		var probs *config.Problems
		if errors.As(err, &probs) {
			for _, p := range probs.List {
				fmt.Fprintln(stderr, p.String())
			}
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", *path, len(probs.List))
		} else {
			fmt.Fprintf(stderr, "icugate check: %v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok: %s\n", *path, site.Summary())
	return 0
}
