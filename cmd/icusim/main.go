// Command icusim simulates every Modbus device of a site config on real
// transports, for demos and tests of icugate:
//
//	icusim -c SITE.yaml [-listen 127.0.0.1:8090] [-scenario FILE]
//
// Each device address gets a Modbus TCP server (rtu_over_tcp addresses an
// RTU-over-TCP server); unit ids are honoured so several devices can share
// an address. Register contents come from each profile's simulate: map for
// the device's current state (initially standby). The control API:
//
//	GET /devices                  list simulated devices
//	PUT /devices/{id}/state       {"state":"in_use"|"standby"|"fault"|"maintenance"|"offline"}
//	PUT /devices/{id}/faults      {"late":bool,"late_every":N,"exception":bool,"close":bool}
//
// A scenario file is a YAML list of {after: DURATION, device: ID, state:
// STATE} steps played in order, each after the previous one.
//
// MQTT devices are simulated by simulator/mqttsim (not wired here yet);
// serial RTU devices are not simulated. Both are logged and skipped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
	"github.com/icugate/icugate/simulator/mqttsim"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("icusim", flag.ContinueOnError)
	sitePath := fs.String("c", "", "site config file (required)")
	listen := fs.String("listen", "127.0.0.1:8090", "control API listen address")
	scenario := fs.String("scenario", "", "scenario file of timed state changes")
	lateBy := fs.Duration("late-by", 0, "delay of late answers (default: twice each device's timeout)")
	broker := fs.String("broker", "", "MQTT broker for MQTT devices (default: the site's mqtt.broker)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *sitePath == "" {
		fmt.Fprintln(os.Stderr, "icusim: -c SITE.yaml is required")
		return 2
	}
	site, err := config.Load(*sitePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "icusim:", err)
		return 1
	}
	var steps []simulator.Step
	if *scenario != "" {
		if steps, err = simulator.LoadScenario(*scenario); err != nil {
			fmt.Fprintln(os.Stderr, "icusim:", err)
			return 1
		}
	}
	sim, err := simulator.New(site, simulator.Options{Logger: log, LateBy: *lateBy})
	if err != nil {
		fmt.Fprintln(os.Stderr, "icusim:", err)
		return 1
	}
	if err := sim.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "icusim:", err)
		return 1
	}
	defer sim.Close()
	backends := []simulator.Backend{sim}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// MQTT devices publish through the site's broker (or -broker).
	var mqttDone chan error
	if hasMQTT(site) {
		url := *broker
		if url == "" && site.MQTT != nil {
			url = site.MQTT.Broker
		}
		if url == "" {
			fmt.Fprintln(os.Stderr, "icusim: the site has MQTT devices but no mqtt.broker; pass -broker tcp://host:port")
			return 1
		}
		msim, err := mqttsim.New(site, url, mqttsim.Options{Logger: log})
		if err != nil {
			fmt.Fprintln(os.Stderr, "icusim:", err)
			return 1
		}
		backends = append(backends, mqttBackend{sim: msim})
		mqttDone = make(chan error, 1)
		go func() { mqttDone <- msim.Run(ctx) }()
		defer func() { stop(); <-mqttDone }()
	}
	ctl := simulator.NewControl(backends...)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "icusim: control API:", err)
		return 1
	}
	srv := &http.Server{Handler: ctl, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("icusim running", "devices", len(ctl.Devices()), "control", ln.Addr().String())
	if len(steps) > 0 {
		go simulator.Play(ctx, steps, ctl.SetState, log)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("control API failed", "err", err)
			return 1
		}
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	return 0
}

func hasMQTT(site *config.Site) bool {
	for i := range site.Devices {
		if site.Devices[i].MQTT != nil {
			return true
		}
	}
	return false
}
