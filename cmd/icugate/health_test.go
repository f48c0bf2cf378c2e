package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
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
