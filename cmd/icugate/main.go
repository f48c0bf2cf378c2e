// Command icugate is the ICU edge gateway: it polls ICU devices, derives
// device, bed and capacity state, and writes and reports it.
//
//	icugate run -c SITE.yaml      run the gateway
//	icugate check -c SITE.yaml    validate a site config and its profiles
//	icugate probe ...             read one device once (commissioning)
//	icugate keygen                make a report-signing key pair
//	icugate version               print build information
package main

import (
	"fmt"
	"os"
	"sort"
)

// command is one subcommand; it returns the process exit status.
type command struct {
	summary string
	run     func(args []string) int
}

// commands is filled by the init functions of the subcommand files, so each
// subcommand lives in its own file.
var commands = map[string]command{}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "icugate: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(c.run(os.Args[2:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: icugate <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
}
