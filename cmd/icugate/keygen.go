package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/icugate/icugate/report"
)

// keygen writes a new report-signing key pair into -out and prints the key
// id. The private key stays on the gateway (report.key_file); the public
// key goes to the regional authority's key registry.
func keygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".", "directory to write "+report.PrivateKeyFile+" (mode 0600) and "+report.PublicKeyFile+" into")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: icugate keygen [-out DIR]")
		return 2
	}
	id, err := report.GenerateKeyFiles(*out)
	if err != nil {
		fmt.Fprintf(stderr, "icugate keygen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "key id %s\nprivate key %s (keep it on the gateway; set report.key_file)\npublic key  %s (send it to the regional authority)\n",
		id, filepath.Join(*out, report.PrivateKeyFile), filepath.Join(*out, report.PublicKeyFile))
	return 0
}
