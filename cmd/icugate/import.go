package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/inventory"
)

const importUsage = `usage: icugate import -c SITE.yaml [-map MAPPING.yaml] [-o DEVICES.yaml] [-dry-run] [-encoding auto|utf-8|gbk] EXPORT.csv

Turns the device list exported from the hospital's CMMS into the site's
devices file (the first device_files entry of the site, or -o). Every row
is checked against the site and every problem printed with its row and
column; nothing is written unless every row is good and the site with the
new devices passes icugate check. -dry-run prints what would change and
writes nothing. A real run keeps the previous file as .bak; the running
gateway takes the new devices on reload (systemctl reload icugate).

Exit status: 0 imported (or nothing to change), 1 problems (all listed),
2 usage.
`

// runImport is icugate import. See importUsage.
func runImport(args []string, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sitePath := fs.String("c", "icugate.yaml", "site config `file`")
	mapPath := fs.String("map", "", "mapping `file`: the export's column names, kinds, vendor/model → profile, locations")
	out := fs.String("o", "", "devices `file` to write (default: the site's first device_files entry)")
	dryRun := fs.Bool("dry-run", false, "print what would change; write nothing")
	encName := fs.String("encoding", "auto", "the export's `encoding`: auto, utf-8 or gbk")
	fs.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fs.PrintDefaults()
	}
	source, ok := parseWithFile(fs, args, stderr, "import")
	if !ok {
		return 2
	}
	enc, err := inventory.ParseEncoding(*encName)
	if err != nil {
		fmt.Fprintf(stderr, "icugate import: %v\n", err)
		return 2
	}
	var mapping *inventory.Mapping
	if *mapPath != "" {
		if mapping, err = inventory.LoadMapping(*mapPath); err != nil {
			return printImportError(stderr, err, *mapPath)
		}
	}
	data, err := readExport(source)
	if err != nil {
		fmt.Fprintf(stderr, "icugate import: %v\n", err)
		return 1
	}
	plan, err := inventory.Prepare(inventory.Import{
		Site: *sitePath, Source: source, Data: data, Target: *out,
		Mapping: mapping, Encoding: enc, Now: now,
	})
	var noTarget *inventory.NoTargetError
	if errors.As(err, &noTarget) {
		fmt.Fprintf(stderr, "icugate import: %v\n", err)
		return 2
	}
	if err != nil {
		return printImportError(stderr, err, source)
	}
	printPlan(stdout, plan, source, *sitePath)
	switch {
	case *dryRun:
		fmt.Fprintf(stdout, "dry run: nothing written; run without -dry-run to write %s\n", plan.Target)
		return 0
	case plan.Diff.Empty() && plan.Included && plan.CurrentBroken == nil:
		fmt.Fprintf(stdout, "nothing changes: %s is left as it is\n", plan.Target)
		return 0
	}
	backup, err := plan.Write()
	if err != nil {
		fmt.Fprintf(stderr, "icugate import: %v (nothing changed)\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: %d devices", plan.Target, len(plan.Devices))
	if backup != "" {
		fmt.Fprintf(stdout, " (the previous file is %s)", backup)
	}
	fmt.Fprintln(stdout)
	if !plan.Included {
		fmt.Fprintf(stdout, "the site does not read it yet: add the line\n    %s\nat the top level of %s, then reload the gateway\n",
			inventory.IncludeLine(*sitePath, plan.Target), *sitePath)
		return 0
	}
	fmt.Fprintln(stdout, "apply it: systemctl reload icugate (or POST /api/v1/reload); the gateway checks the site again and keeps its running devices if the check fails")
	return 0
}

// parseWithFile parses flags on either side of the one file argument
// (icugate import -c site.yaml export.csv -dry-run).
func parseWithFile(fs *flag.FlagSet, args []string, stderr io.Writer, cmd string) (string, bool) {
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "icugate %s: name the CMMS export (a CSV file)\n", cmd)
		fs.Usage()
		return "", false
	}
	file := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "icugate %s: unexpected argument %q (one export at a time)\n", cmd, fs.Arg(0))
		return "", false
	}
	return file, true
}

// maxExportSize bounds what is read of an export: 10,000 devices are
// about 1.5 MB; anything near this is not a device list.
const maxExportSize = 64 << 20

func readExport(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxExportSize {
		return nil, fmt.Errorf("%s is %d MB, larger than any device list: is this the right file?", path, fi.Size()>>20)
	}
	return os.ReadFile(path)
}

// printImportError prints every problem, one per line, and a count.
func printImportError(stderr io.Writer, err error, file string) int {
	var ps *inventory.Problems
	if !errors.As(err, &ps) {
		fmt.Fprintf(stderr, "icugate import: %v\n", err)
		return 1
	}
	for _, p := range ps.List {
		fmt.Fprintln(stderr, p.String())
	}
	fmt.Fprintf(stderr, "%s: %d problem(s); nothing was written\n", file, len(ps.List))
	return 1
}

// printPlan prints what was read and how the site's devices change.
func printPlan(w io.Writer, p *inventory.Plan, source, site string) {
	t := p.Table
	fmt.Fprintf(w, "%s: %d rows read (%s, %s), header at row %d\n", source, len(t.Rows), t.Encoding, delimiterName(t.Delimiter), t.HeaderRow)
	if len(p.Skipped) > 0 {
		fmt.Fprintf(w, "  skipped: %s\n", countList(p.Skipped, "row"))
	}
	if len(p.Ignored) > 0 {
		fmt.Fprintf(w, "  columns not read: %s\n", strings.Join(p.Ignored, ", "))
	}
	if len(p.UnreadSerials) > 0 {
		fmt.Fprintf(w, "  serials checked for duplicates but not written (the profile reads no serial to compare): %s\n", countList(p.UnreadSerials, "device"))
	}
	if p.CurrentBroken != nil {
		fmt.Fprintf(w, "note: as it is, %s does not pass its check (%s); the new devices file does\n", site, firstLine(p.CurrentBroken))
	}
	fmt.Fprintf(w, "%s: ", relative(p.Target))
	p.Diff.Write(w, p.RowsByID())
}

func delimiterName(d rune) string {
	switch d {
	case '\t':
		return "tab-separated"
	case ';':
		return "semicolon-separated"
	}
	return "comma-separated"
}

// countList is "3 rows status 报废, 1 row kind 输液泵".
func countList(m map[string]int, what string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		n := m[k]
		unit := what
		if n != 1 {
			unit += "s"
		}
		parts[i] = fmt.Sprintf("%d %s %s", n, unit, k)
	}
	return strings.Join(parts, ", ")
}

// firstLine is an error's first line, with a count of the others.
func firstLine(err error) string {
	var ps *config.Problems
	if errors.As(err, &ps) && len(ps.List) > 1 {
		return fmt.Sprintf("%s, and %d more", ps.List[0], len(ps.List)-1)
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// relative shortens a path under the current directory.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
