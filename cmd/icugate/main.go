// Command icugate is the ICU edge gateway: it polls ICU devices, derives
// device, bed and capacity state, and writes and reports it.
//
//	icugate run -c SITE.yaml      run the gateway
//	icugate check -c SITE.yaml    validate a site config and its profiles
//	icugate probe ...             show one device's values once (commissioning)
//	icugate import ... FILE.csv   devices file from a CMMS export (CSV)
//	icugate export -c SITE.yaml   the site's devices as CSV
//	icugate keygen                make a report-signing key pair
//	icugate version               print build information
package main

import (
	"fmt"
	"os"
	"time"
)

// command is one subcommand; it returns the process exit status.
type command struct {
	summary string
	run     func(args []string) int
}

// commands are the subcommands, in the order usage lists them. Each one's
// code lives in the file of its name.
var commands = []struct {
	name string
	command
}{
	{"run", command{"run the gateway: icugate run -c SITE.yaml", runGateway}},
	{"check", command{"validate a site config and every profile it uses", func(args []string) int {
		return runCheck(args, os.Stdout, os.Stderr)
	}}},
	{"probe", command{"show one device's values: one Modbus read, or an MQTT device's next message (commissioning)", runProbe}},
	{"import", command{"turn a CMMS export (CSV) into the site's devices file; -dry-run shows the change", func(args []string) int {
		return runImport(args, os.Stdout, os.Stderr, time.Now())
	}}},
	{"export", command{"write the site's devices as CSV, the columns import reads", func(args []string) int {
		return runExport(args, os.Stdout, os.Stderr)
	}}},
	{"keygen", command{"make a report-signing key pair (Ed25519)", func(args []string) int {
		return keygen(args, os.Stdout, os.Stderr)
	}}},
	{"health", command{"probe a running gateway's /healthz (for container HEALTHCHECK)", health}},
	{"backup", command{"back up state.db (while running, too) and the site's config: icugate backup -c SITE.yaml -o FILE.tar.gz", func(args []string) int {
		return runBackup(args, os.Stdout, os.Stderr)
	}}},
	{"restore", command{"put a backup's state.db (and with -config-dir its config) back; refused while a gateway runs", func(args []string) int {
		return runRestore(args, os.Stdout, os.Stderr)
	}}},
	{"version", command{"print version, commit and Go version", runVersion}},
}

// lookup returns the subcommand called name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c.command, true
		}
	}
	return command{}, false
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	c, ok := lookup(os.Args[1])
	if !ok {
		fmt.Fprintf(os.Stderr, "icugate: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(c.run(os.Args[2:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: icugate <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
}
