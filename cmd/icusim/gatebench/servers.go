//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/internal/mosquittotest"
)

// startInflux starts InfluxDB 1.8.3 (influxd) on free loopback ports with
// its data in dir, as the integration tests start it.
func startInflux(ctx context.Context, dir string) (*influxtest.Server, error) {
	return influxtest.New(ctx, dir, influxtest.Options{})
}

// startMosquitto starts a Mosquitto broker on a free loopback port with
// the deployment config's message limit (configs/mosquitto/mosquitto.conf),
// a queue long enough for the backlog run, and persistence written once a
// minute rather than every second, so that the broker's disk writes stay
// out of the measured windows.
func startMosquitto(dir string) (*mosquittotest.Broker, error) {
	return mosquittotest.New(dir, mosquittotest.Config{
		MessageSizeLimit: 65536,
		MaxInflight:      100,
		MaxQueued:        1_000_000,
		AutosaveInterval: 60,
	})
}

// scrape reads a Prometheus text page and returns each metric's value
// summed over its label sets (histogram series are left out).
func scrape(ctx context.Context, metricsURL string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return parseMetrics(string(body)), nil
}

func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
			rest = line[i:]
		}
		if j := strings.LastIndexByte(rest, '}'); j >= 0 {
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(f[0], &v); err == nil {
			out[name] += v
		}
	}
	return out
}
