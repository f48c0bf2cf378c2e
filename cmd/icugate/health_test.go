package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/icugate/icugate/internal/testcerts"
)

// TestHealthExitStatus runs health against servers answering each way a
// container HEALTHCHECK meets: only a 200 is healthy.
func TestHealthExitStatus(t *testing.T) {
	t.Parallel()
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(srv.Close)
		return srv.URL + "/healthz"
	}
	// hung answers nothing until the test ends: health must give up (its
	// client timeout) and report unhealthy, not hang the container check.
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(func() { close(release); hung.Close() })

	tests := []struct {
		name string
		args []string
		want int
	}{
		{"200", []string{"-url", status(http.StatusOK)}, 0},
		{"503", []string{"-url", status(http.StatusServiceUnavailable)}, 1},
		{"500", []string{"-url", status(http.StatusInternalServerError)}, 1},
		{"garbage", []string{"-url", "http://" + garbageServer(t) + "/healthz"}, 1},
		{"refused", []string{"-url", "http://" + freePort(t) + "/healthz"}, 1},
		{"timeout", []string{"-url", hung.URL + "/healthz"}, 1},
		{"bad flag", []string{"-nosuch"}, 2},
		{"bad url", []string{"-url", "::not a url"}, 1},
		{"no cacert file", []string{"-url", status(http.StatusOK), "-cacert", "/nonexistent/ca.pem"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := health(tt.args); got != tt.want {
				t.Errorf("health(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}

// garbageServer answers every connection with bytes that are not HTTP.
func garbageServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("\x00\x01garbage, not HTTP\r\n\r\n"))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// silentListener accepts connections and reads them, never answering.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestHealthOverHTTPSWithToken checks a gateway served over HTTPS by a
// certificate of a private CA, whose health needs a token: -cacert
// verifies it, -token-file authenticates; without the CA it is unhealthy.
func TestHealthOverHTTPSWithToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certs, err := testcerts.Write(dir, testcerts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certs.Cert, certs.Key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer health-token-0123456789" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("health-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := srv.URL + "/readyz"
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"-url", url, "-cacert", certs.CA, "-token-file", tok}, 0},
		{[]string{"-url", url, "-cacert", certs.CA}, 1},
		{[]string{"-url", url, "-token-file", tok}, 1},
	} {
		if got := health(tt.args); got != tt.want {
			t.Errorf("health(%q) = %d, want %d", tt.args, got, tt.want)
		}
	}
}
