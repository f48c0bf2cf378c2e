package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// influxServer is an InfluxDB 1.8.3 (influxd) on free loopback ports with
// its data in the run's directory, as internal/influxtest starts it for
// tests (that package needs a *testing.T, so the harness has its own).
type influxServer struct {
	url string
	*child
}

// influxdBinary finds influxd where scripts/install-influxdb.sh puts it.
func influxdBinary() string {
	cache := os.Getenv("ICUGATE_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "icugate")
		}
	}
	if p := filepath.Join(cache, "bin", "influxd"); isFile(p) {
		return p
	}
	if p, err := exec.LookPath("influxd"); err == nil {
		return p
	}
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startInflux(ctx context.Context, cs *children, dir string) (*influxServer, error) {
	bin := influxdBinary()
	if bin == "" {
		return nil, fmt.Errorf("influxd 1.8.3 not found in $ICUGATE_CACHE/bin or PATH: run scripts/install-influxdb.sh")
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	rpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "influxdb.conf")
	text := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  index-version = "inmem"
  query-log-enabled = false
  trace-logging-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  pprof-enabled = false
[logging]
  level = "warn"
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "-config", conf)
	cmd.Env = append(os.Environ(), "INFLUXDB_REPORTING_DISABLED=true")
	c, err := cs.start("influxd", filepath.Join(dir, "influxd.log"), cmd)
	if err != nil {
		return nil, err
	}
	s := &influxServer{url: fmt.Sprintf("http://127.0.0.1:%d", httpPort), child: c}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.url + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return s, nil
			}
		}
		if c.exited() || time.Now().After(deadline) {
			c.stop(time.Second)
			return nil, fmt.Errorf("influxd did not answer /ping within 30s; see %s", filepath.Join(dir, "influxd.log"))
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// query runs one InfluxQL statement and returns its series' rows.
func (s *influxServer) query(db, q string) ([][]any, error) {
	v := url.Values{"q": {q}}
	if db != "" {
		v.Set("db", db)
	}
	resp, err := http.PostForm(s.url+"/query", v)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: status %d: %s", q, resp.StatusCode, body)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	var rows [][]any
	for _, res := range r.Results {
		if res.Error != "" {
			return nil, fmt.Errorf("query %q: %s", q, res.Error)
		}
		for _, se := range res.Series {
			rows = append(rows, se.Values...)
		}
	}
	return rows, nil
}

// count returns how many points of a measurement carry field.
func (s *influxServer) count(db, measurement, field string) (int64, error) {
	rows, err := s.query(db, fmt.Sprintf(`SELECT count(%q) FROM %q`, field, measurement))
	if err != nil || len(rows) == 0 || len(rows[0]) < 2 {
		return 0, err
	}
	n, _ := rows[0][1].(float64)
	return int64(n), nil
}

// mosquittoServer is a Mosquitto broker on a free loopback port with the
// deployment config's limits (configs/mosquitto/mosquitto.conf) except a
// queue long enough for the backlog test.
type mosquittoServer struct {
	url string
	*child
}

func mosquittoBinary() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if isFile(p) {
			return p
		}
	}
	return ""
}

func startMosquitto(ctx context.Context, cs *children, dir string) (*mosquittoServer, error) {
	bin := mosquittoBinary()
	if bin == "" {
		return nil, fmt.Errorf("mosquitto not found on PATH or in /usr/sbin: run scripts/install-mosquitto.sh")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root\n" // else it switches to "mosquitto", who cannot write dir
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf(`%sper_listener_settings false
listener %d 127.0.0.1
allow_anonymous true
persistence true
persistence_location %s/
autosave_interval 60
message_size_limit 65536
max_inflight_messages 100
max_queued_messages 1000000
max_queued_bytes 0
log_dest stderr
log_type error
log_type warning
`, user, port, filepath.Join(dir, "data"))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	c, err := cs.start("mosquitto", filepath.Join(dir, "mosquitto.log"), exec.Command(bin, "-c", conf))
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			conn.Close()
			return &mosquittoServer{url: "tcp://" + addr, child: c}, nil
		}
		if c.exited() || time.Now().After(deadline) {
			c.stop(time.Second)
			return nil, fmt.Errorf("mosquitto did not listen on %s within 10s; see %s", addr, filepath.Join(dir, "mosquitto.log"))
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
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
