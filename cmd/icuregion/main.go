// Command icuregion is the regional aggregator: it receives the signed
// capacity reports of every hospital of a region, verifies them and
// serves the regional totals (docs/reporting.md).
//
//	icuregion -c REGION.yaml               run (also: icuregion run -c ...)
//	icuregion check -c REGION.yaml         validate the config and key registry
//	icuregion verify -key PUB -report FILE verify one signed report
//	icuregion canon FILE                   print the canonical (RFC 8785) bytes that were signed
//
// SIGHUP reloads the key registry (hospitals, their districts, parts and
// keys); SIGINT/SIGTERM stop.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/icugate/icugate/region"
	"github.com/icugate/icugate/report"
)

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "run":
			return run(args[1:], stderr)
		case "check":
			return check(args[1:], stdout, stderr)
		case "verify":
			return verify(args[1:], stdout, stderr)
		case "canon":
			return canon(args[1:], stdout, stderr)
		case "-h", "-help", "--help", "help":
			usage(stderr)
			return 0
		}
	}
	return run(args, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  icuregion [run] -c REGION.yaml          run the aggregator
  icuregion check -c REGION.yaml          validate the config, districts, key registry and alert receivers
  icuregion verify -key PUB.pem -report FILE
                                          verify a signed report with a hospital's public key
  icuregion canon FILE                    print the canonical bytes of FILE's report (what was signed)
`)
}

func loadConfig(name string, args []string, stderr io.Writer) (*region.Config, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "region config file (YAML)")
	if err := fs.Parse(args); err != nil {
		return nil, 2
	}
	if *path == "" || fs.NArg() > 0 {
		usage(stderr)
		return nil, 2
	}
	cfg, err := region.LoadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "icuregion: %v\n", err)
		return nil, 1
	}
	return cfg, 0
}

func run(args []string, stderr io.Writer) int {
	cfg, code := loadConfig("run", args, stderr)
	if cfg == nil {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	r, err := region.New(cfg, region.Deps{Log: log})
	if err != nil {
		fmt.Fprintf(stderr, "icuregion: %v\n", err)
		return 1
	}
	defer r.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for {
		select {
		case <-hup:
			_ = r.Reload() // logs its outcome; a bad file keeps the old registry
		case err := <-done:
			if err != nil {
				fmt.Fprintf(stderr, "icuregion: %v\n", err)
				return 1
			}
			return 0
		}
	}
}

func check(args []string, stdout, stderr io.Writer) int {
	cfg, code := loadConfig("check", args, stderr)
	if cfg == nil {
		return code
	}
	code = 0
	reg, err := region.LoadRegistry(cfg.KeysFile, cfg.Districts)
	if err != nil {
		fmt.Fprintf(stderr, "icuregion: %v\n", err)
		code = 1
	}
	if err := region.CheckReceivers(cfg); err != nil {
		fmt.Fprintf(stderr, "icuregion: %s: %v\n", cfg.File, err)
		code = 1
	}
	if cfg.InfluxDB != nil {
		// The same block serves the history routes: an unreadable token
		// file or a bad URL would only show at the first trend.
		if _, err := region.NewHistory(cfg.InfluxDB); err != nil {
			fmt.Fprintf(stderr, "icuregion: %s: influxdb: %v\n", cfg.File, err)
			code = 1
		}
	}
	if code != 0 {
		return code
	}
	parts := 0
	for _, id := range reg.Hospitals() {
		h, _ := reg.Hospital(id)
		parts += len(h.Parts)
	}
	fmt.Fprintf(stdout, "%s: region %s, %d districts, population %d, %d hospitals registered (%d gateways, %d keys), subscriptions %s\n",
		cfg.File, cfg.Region, len(cfg.Districts), cfg.Population, len(reg.Hospitals()), parts, reg.Keys(), strings.Join(cfg.Filters(), " "))
	for _, d := range cfg.Districts {
		n := 0
		for _, id := range reg.Hospitals() {
			if h, _ := reg.Hospital(id); h.District == d.ID {
				n++
			}
		}
		fmt.Fprintf(stdout, "  district %s %s: population %d, %d hospitals\n", d.ID, d.Name, d.Population, n)
	}
	if cfg.Alerts != nil {
		fmt.Fprintf(stdout, "  alerts: %d receivers, after %s\n", len(cfg.Alerts.Receivers), cfg.Alerts.For)
	}
	if cfg.InfluxDB != nil {
		fmt.Fprintf(stdout, "  history: influxdb %s, bucket %s (trends, charts, export table=trend)\n", cfg.InfluxDB.URL, cfg.InfluxDB.Bucket)
	} else {
		fmt.Fprintf(stdout, "  history: none (no influxdb block): trends and charts answer 404\n")
	}
	return 0
}

func verify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyPath := fs.String("key", "", "the hospital's public key (PEM)")
	repPath := fs.String("report", "", "the signed report (envelope JSON)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *keyPath == "" || *repPath == "" || fs.NArg() > 0 {
		usage(stderr)
		return 2
	}
	pub, err := report.LoadPublicKey(*keyPath)
	if err != nil {
		fmt.Fprintf(stderr, "icuregion verify: %v\n", err)
		return 1
	}
	data, err := os.ReadFile(*repPath)
	if err != nil {
		fmt.Fprintf(stderr, "icuregion verify: %v\n", err)
		return 1
	}
	r, err := report.Verify(data, pub)
	if err != nil {
		fmt.Fprintf(stderr, "icuregion verify: %s: NOT VALID: %v\n", *repPath, err)
		return 1
	}
	// A correctly signed report can still contradict itself; the
	// aggregator refuses those, so the verdict here must too.
	if err := region.CheckRows(r); err != nil {
		fmt.Fprintf(stderr, "icuregion verify: %s: NOT VALID: valid signature by key %s, but the counts are inconsistent: %v\n", *repPath, report.KeyID(pub), err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid signature by key %s: hospital %s, sequence %d, as_of %s, verified counts %v\n",
		*repPath, report.KeyID(pub), r.Hospital.ID, r.Sequence, r.AsOf.Format("2006-01-02T15:04:05Z07:00"), r.Verified)
	return 0
}

// canon prints the canonical bytes of the envelope's report member,
// without a trailing newline: exactly the bytes the signature covers, for
// openssl or any Ed25519 tool.
func canon(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		usage(stderr)
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "icuregion canon: %v\n", err)
		return 1
	}
	env, err := report.Open(data)
	if err != nil && env == nil {
		// An unsigned envelope still has a report to canonicalise.
		var e report.Envelope
		if jerr := json.Unmarshal(data, &e); jerr != nil || len(e.Report) == 0 {
			fmt.Fprintf(stderr, "icuregion canon: %s: %v\n", args[0], err)
			return 1
		}
		env = &e
	}
	c, err := report.Canonical(env.Report)
	if err != nil {
		fmt.Fprintf(stderr, "icuregion canon: %s: %v\n", args[0], err)
		return 1
	}
	_, _ = stdout.Write(c)
	return 0
}
