package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// health exits 0 when the gateway at -url answers 200, else 1 with the
// reasons /readyz gives (a configured part not working: reports, InfluxDB,
// broker, devices, alert receivers). Containers built from scratch have no
// curl, so the binary probes itself; the container HEALTHCHECK uses it.
// -url .../healthz checks liveness only. Over HTTPS, -cacert names the CA
// that signs the gateway's certificate; -token-file a token, where health
// is not public.
func health(args []string) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/readyz", "health endpoint (/readyz: working; /healthz: alive)")
	caFile := fs.String("cacert", "", "with an https:// URL: PEM CA that signs the gateway's certificate (default: the system's)")
	tokenFile := fs.String("token-file", "", "file holding an API token, when health needs one (http.public_health: false)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := &http.Client{Timeout: 5 * time.Second}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "icugate health: -cacert:", err)
			return 2
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "icugate health: -cacert %s: no PEM certificate found\n", *caFile)
			return 2
		}
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	req, err := http.NewRequest(http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		return 1
	}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "icugate health: -token-file:", err)
			return 2
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
	}
	resp, err := c.Do(req)
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
