// Package e2e tests icugate as hospital IT runs it: icusim, Mosquitto,
// InfluxDB and `icugate run` as separate processes, talking over loopback,
// checked through the HTTP API and InfluxDB queries.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/internal/mosquittotest"
)

const apiToken = "e2e-token-0123456789abcdef"

// env is one running set of processes.
type env struct {
	t        *testing.T
	dir      string
	bin      string
	sitePath string
	api      string // http://host:port of icugate
	sim      string // http://host:port of icusim
	influx   *influxtest.Server
	gateway  *exec.Cmd
	gwLog    *logBuffer
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return freeAddrs(t, 1)[0]
}

// freeAddrs returns n distinct loopback addresses nobody listens on right
// now, holding all open until every one is chosen (closing each at once
// lets the kernel hand the same port out twice).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

// build compiles icugate and icusim once per test binary run.
func build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	cmd := exec.Command("go", "build", "-race", "-o", bin+string(os.PathSeparator), "github.com/icugate/icugate/cmd/icugate", "github.com/icugate/icugate/cmd/icusim")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// writeSite rewrites the demo site for this test: every port moved to a
// free one, the broker and InfluxDB of the test, a short hold, an API token.
func writeSite(t *testing.T, dir, broker string, influx *influxtest.Server) (path, apiAddr, simAddr string) {
	t.Helper()
	src, err := os.ReadFile("../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	re := regexp.MustCompile(`127\.0\.0\.1:15[0-9]{3}`)
	moved := map[string]string{}
	for _, a := range re.FindAllString(text, -1) {
		moved[a] = ""
	}
	ports := freeAddrs(t, len(moved)+2)
	i := 0
	for a := range moved {
		moved[a] = ports[i]
		i++
	}
	text = re.ReplaceAllStringFunc(text, func(a string) string { return moved[a] })
	apiAddr, simAddr = ports[i], ports[i+1]
	profiles, _ := filepath.Abs("../configs/profiles")
	text = strings.Replace(text, "profiles_dir: profiles", "profiles_dir: "+profiles, 1)
	text = strings.ReplaceAll(text, "tcp://127.0.0.1:18830", broker)
	text = strings.ReplaceAll(text, "http://127.0.0.1:18086", influx.URL)
	text = strings.Replace(text, "bucket: icugate/autogen", "bucket: "+influx.Bucket+"\n  token_file: "+filepath.Join(dir, "influx-token")+"\n  flush_interval: 200ms", 1)
	text = strings.Replace(text, "dir: ../data/demo-outbox", "dir: "+filepath.Join(dir, "outbox"), 1)
	text = strings.Replace(text, "listen: 127.0.0.1:8080", "listen: "+apiAddr+"\n  token_file: "+filepath.Join(dir, "api-token"), 1)
	if strings.Contains(text, "hold:") {
		text = regexp.MustCompile(`(?m)^hold: .*$`).ReplaceAllString(text, "hold: 1s")
	} else {
		text = strings.Replace(text, "units:\n", "hold: 1s\n\nunits:\n", 1)
	}
	for name, content := range map[string]string{"influx-token": influx.Token, "api-token": "e2e " + apiToken} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path = filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, apiAddr, simAddr
}

// start launches a process that the test stops at its end.
func start(t *testing.T, log *logBuffer, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("--- %s output (last 4 KB) ---\n%s", filepath.Base(name), tail(log.String(), 4096))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (e *env) startGateway() {
	e.gwLog = &logBuffer{}
	e.gateway = start(e.t, e.gwLog, filepath.Join(e.bin, "icugate"), "run", "-c", e.sitePath, "-data", filepath.Join(e.dir, "data"))
}

// stopGateway sends SIGTERM and waits for a clean exit.
func (e *env) stopGateway() {
	e.t.Helper()
	if err := e.gateway.Process.Signal(syscall.SIGTERM); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.gateway.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			e.t.Fatalf("icugate exited with %v\n%s", err, tail(e.gwLog.String(), 4096))
		}
	case <-time.After(30 * time.Second):
		e.t.Fatal("icugate did not stop within 30s of SIGTERM")
	}
}

// capacity is the part of GET /api/v1/capacity the test reads.
type capacity struct {
	Hospital struct {
		BedsTotal    int  `json:"beds_total"`
		BedsEquipped int  `json:"beds_equipped"`
		Verified     bool `json:"verified"`
	} `json:"hospital"`
	Units []struct {
		Unit string `json:"unit"`
	} `json:"units"`
}

func (e *env) getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (e *env) capacity() (capacity, error) {
	var c capacity
	err := e.getJSON(e.api+"/api/v1/capacity", &c)
	return c, err
}

func (e *env) waitCapacity(what string, within time.Duration, cond func(c capacity) bool) capacity {
	e.t.Helper()
	deadline := time.Now().Add(within)
	var last capacity
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := e.capacity()
		if err == nil && cond(c) {
			return c
		}
		last, lastErr = c, err
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("%s: not within %v (last %+v, err %v)\n%s", what, within, last.Hospital, lastErr, tail(e.gwLog.String(), 3000))
	return last
}

// call makes an HTTP request and returns the status and body.
func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func setup(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	broker := mosquittotest.Start(t, mosquittotest.Config{})
	influx := influxtest.Start(t, influxtest.Options{})
	e := &env{t: t, dir: dir, influx: influx, bin: build(t, dir)}
	var apiAddr, simAddr string
	e.sitePath, apiAddr, simAddr = writeSite(t, dir, broker.URL(), influx)
	e.api = "http://" + apiAddr
	e.sim = "http://" + simAddr
	start(t, &logBuffer{}, filepath.Join(e.bin, "icusim"), "-c", e.sitePath, "-listen", simAddr)
	e.startGateway()
	return e
}

// logBuffer collects a process's output; safe to read while it runs.
// waitOutput waits until a process's output (read by out) contains msg,
// failing with the output's tail if it does not within d.
func waitOutput(t *testing.T, what string, d time.Duration, out func() string, msg string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(d); !strings.Contains(out(), msg); <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q not logged within %v\n%s", what, msg, d, tail(out(), 3000))
		}
	}
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// skipShort is true when -short asks to leave out the slow end-to-end
// tests; under CI=true they always run.
func skipShort() bool {
	return testing.Short() && os.Getenv("CI") != "true"
}
