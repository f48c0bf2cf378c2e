package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/inventory"
)

const exportUsage = `usage: icugate export -c SITE.yaml [-o DEVICES.csv] [-encoding utf-8|gbk]

Writes every device of the site (those in the site file and in its
device_files) as CSV, with the columns icugate import reads, so that the
file can be checked against the CMMS, edited in a spreadsheet and imported
again. UTF-8 is written with a BOM so that Excel reads it as UTF-8; gbk is
for older tools on Chinese Windows. Without -o the CSV goes to stdout.
`

// runExport is icugate export. See exportUsage.
func runExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sitePath := fs.String("c", "icugate.yaml", "site config `file`")
	out := fs.String("o", "", "CSV `file` to write (default: stdout)")
	encName := fs.String("encoding", "utf-8", "`encoding` of the CSV: utf-8 (with BOM) or gbk")
	fs.Usage = func() {
		fmt.Fprint(stderr, exportUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "icugate export: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	enc, err := inventory.ParseEncoding(*encName)
	if err != nil || enc == inventory.EncodingAuto {
		fmt.Fprintf(stderr, "icugate export: -encoding %q: want utf-8 or gbk\n", *encName)
		return 2
	}
	site, err := config.Load(*sitePath)
	var probs *config.Problems
	if errors.As(err, &probs) {
		for _, p := range probs.List {
			fmt.Fprintln(stderr, p.String())
		}
		fmt.Fprintf(stderr, "%s: %d problem(s); fix them first (icugate check)\n", *sitePath, len(probs.List))
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "icugate export: %v\n", err)
		return 1
	}
	var buf bytes.Buffer
	if err := inventory.Export(&buf, site.Devices, enc); err != nil {
		fmt.Fprintf(stderr, "icugate export: %v\n", err)
		return 1
	}
	if *out == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			fmt.Fprintf(stderr, "icugate export: %v\n", err)
			return 1
		}
		return 0
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "icugate export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %d devices to %s\n", len(site.Devices), *out)
	return 0
}
