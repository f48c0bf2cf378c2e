package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// runCheck loads the site config named by -c and checks every file it
// names (secrets, keys, certificates). It prints every problem as
// file:line: message to stderr and returns 1, or prints a one-line summary
// to stdout and returns 0. Bad flags return 2.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "icugate.yaml", "site config `file`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: icugate check -c SITE.yaml\n\nValidates the site config, every profile it uses and every file it names\n(present, readable, secrets not readable by others, keys and certificates\nparse); prints each problem as file:line: message.")
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
	var probs *config.Problems
	switch {
	case errors.As(err, &probs):
	case err != nil:
		fmt.Fprintf(stderr, "icugate check: %v\n", err)
		return 1
	default:
		// Files are checked only once the site itself is valid: the paths
		// of a site with problems may not be what the user meant yet.
		probs = &config.Problems{List: config.CheckFiles(site, parseReportKey)}
	}
	if len(probs.List) > 0 {
		for _, p := range probs.List {
			fmt.Fprintln(stderr, p.String())
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", *path, len(probs.List))
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok: %s\n", *path, site.Summary())
	return 0
}

// parseReportKey parses the report signing key as the gateway does when it
// starts reporting (report.LoadPrivateKey).
func parseReportKey(data []byte) error {
	_, err := report.ParsePrivateKey(data)
	return err
}
