package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// health exits 0 when the gateway at -url answers 200, else 1 with the
// reasons /readyz gives (a configured part not working: reports, InfluxDB,
// broker, devices, alert receivers). Containers built from scratch have no
// curl, so the binary probes itself; the container HEALTHCHECK uses it.
// -url .../healthz checks liveness only.
func health(args []string) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/readyz", "health endpoint (/readyz: working; /healthz: alive)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(*url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Status  string   `json:"status"`
			Reasons []string `json:"reasons"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
		fmt.Fprintln(os.Stderr, "unhealthy:", resp.Status, body.Status)
		for _, r := range body.Reasons {
			fmt.Fprintln(os.Stderr, "  -", r)
		}
		return 1
	}
	return 0
}
