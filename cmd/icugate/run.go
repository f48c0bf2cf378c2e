package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/gateway"
)

// stopTimeout bounds a graceful stop: stop polling, take queued
// observations, make the last points durable, close connections.
const stopTimeout = 20 * time.Second

func runGateway(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	sitePath := fs.String("c", "site.yaml", "site config file")
	dataDir := fs.String("data", "", "data directory for the state store (default: the outbox dir's parent)")
	level := fs.String("log-level", "", "log level: debug, info, warn, error (default: the config's log.level)")
	format := fs.String("log-format", "", "log format: text or json (default: the config's log.format)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the whole run to this file (for diagnosing load; go tool pprof reads it)")
	memProfile := fs.String("memprofile", "", "write a Go heap profile to this file when the gateway stops")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			if err = pprof.StartCPUProfile(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "icugate: -cpuprofile:", err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *memProfile != "" {
		defer func() {
			f, err := os.Create(*memProfile)
			if err == nil {
				err = pprof.WriteHeapProfile(f)
				f.Close()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "icugate: -memprofile:", err)
			}
		}()
	}
	site, err := config.Load(*sitePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintf(os.Stderr, "icugate: %s has problems; nothing started (check it with: icugate check -c %s)\n", *sitePath, *sitePath)
		return 1
	}
	logger, err := newLogger(site, *level, *format)
	if err != nil {
		fmt.Fprintln(os.Stderr, "icugate:", err)
		return 2
	}
	slog.SetDefault(logger)

	gw, err := gateway.New(site, gateway.Options{SitePath: *sitePath, DataDir: *dataDir, Logger: logger, Version: version})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	go notifySystemd(ctx, gw)
	for {
		select {
		case err := <-done:
			if err != nil {
				logger.Error("icugate stopped", "err", err)
				return 1
			}
			logger.Info("icugate stopped")
			return 0
		case s := <-sigs:
			if s == syscall.SIGHUP {
				rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
				if err := gw.Reload(rctx); err != nil {
					logger.Error("SIGHUP reload failed; running config kept", "err", err)
				}
				rcancel()
				continue
			}
			logger.Info("signal received; stopping", "signal", s.String())
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					logger.Error("icugate stopped with an error", "err", err)
					return 1
				}
				logger.Info("icugate stopped")
				return 0
			case <-time.After(stopTimeout):
				logger.Error("graceful stop took too long; exiting", "timeout", stopTimeout)
				return 1
			case <-sigs:
				logger.Error("second signal; exiting now")
				return 1
			}
		}
	}
}

func newLogger(site *config.Site, level, format string) (*slog.Logger, error) {
	if level == "" {
		level = site.Log.Level
	}
	if format == "" {
		format = site.Log.Format
	}
	var lv slog.Level
	if level != "" {
		if err := lv.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}
