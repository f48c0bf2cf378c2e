// Package mosquittotest runs a real Mosquitto broker for tests: on a free
// 127.0.0.1 port, with a generated config and a temporary persistence
// directory, stopped by t.Cleanup. Stop and Restart keep the port and the
// persistence directory, so broker-restart tests see the same sessions.
//
// The broker comes from the tool cache ($ICUGATE_CACHE/bin), PATH or
// /usr/sbin/mosquitto (install it with scripts/install-mosquitto.sh). When
// it is missing the test is skipped, or fails when CI=true: CI must never
// pass by skipping its integration tests.
// Programs that are not tests (the benchmark harness cmd/icusim/gatebench)
// start one with New and stop it themselves.
// Tests never use port 1883, so a system Mosquitto service (Debian starts
// one) does not collide with them.
package mosquittotest

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/serverproc"
)

// Config tunes the generated broker config; zero fields take defaults.
type Config struct {
	// MessageSizeLimit is message_size_limit: larger PUBLISH payloads are
	// dropped by the broker. Default 1 MiB.
	MessageSizeLimit int
	// MaxInflight is max_inflight_messages per client. Default 100.
	MaxInflight int
	// MaxQueued is max_queued_messages per client. Default 1,000,000, so
	// tests and benchmarks never lose messages to the broker's queue cap.
	MaxQueued int
	// AutosaveInterval is autosave_interval in seconds: how often the
	// broker writes its persistence file. Default 1, so that a test's
	// sessions survive a kill; benchmarks want it rarer.
	AutosaveInterval int
	// Users, when not empty, turns authentication on: anonymous clients
	// are refused and only these username → password logins are accepted
	// (a password_file in the broker's directory, hashed as mosquitto_passwd
	// hashes). Empty: anonymous access, as before.
	Users map[string]string
}

// Broker is one running (or stopped) Mosquitto.
type Broker struct {
	t    testing.TB // nil for a broker from New
	bin  string
	dir  string
	conf string
	port int
	proc serverproc.Process
}

// stopGrace is how long Stop waits for Mosquitto to write its persistence
// file and exit before it kills it.
const stopGrace = 5 * time.Second

// ErrNotInstalled is returned by New when mosquitto is not installed.
var ErrNotInstalled = errors.New("mosquitto not found on PATH or at /usr/sbin/mosquitto; install it with scripts/install-mosquitto.sh (apt-get install -y mosquitto)")

// binary: Debian installs mosquitto in /usr/sbin, outside most users' PATH.
var binary = serverproc.Binary{
	Name:         "mosquitto",
	Paths:        []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"},
	NotInstalled: ErrNotInstalled,
}

// Binary returns the mosquitto executable, or "" when it is not installed.
func Binary() string { return binary.Path() }

// Require returns the mosquitto executable, or ends the test: skipped, or
// failed when CI=true, with how to install it.
func Require(t testing.TB) string {
	t.Helper()
	return binary.Require(t)
}

// Start starts a broker for the test and stops it at cleanup.
func Start(t testing.TB, cfg Config) *Broker {
	t.Helper()
	b, err := newBroker(Require(t), t.TempDir(), cfg)
	if err != nil {
		t.Fatalf("mosquittotest: %v", err)
	}
	b.t = t
	t.Cleanup(b.Stop)
	return b
}

// New starts a broker with its config, persistence and nothing else in
// dir (created if missing); the caller stops it with Stop.
func New(dir string, cfg Config) (*Broker, error) {
	bin := Binary()
	if bin == "" {
		return nil, ErrNotInstalled
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b, err := newBroker(bin, dir, cfg)
	if err != nil {
		return nil, fmt.Errorf("mosquittotest: %w", err)
	}
	return b, nil
}

func newBroker(bin, dir string, cfg Config) (*Broker, error) {
	if cfg.MessageSizeLimit <= 0 {
		cfg.MessageSizeLimit = 1 << 20
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 100
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 1_000_000
	}
	if cfg.AutosaveInterval <= 0 {
		cfg.AutosaveInterval = 1
	}
	b := &Broker{bin: bin, dir: dir, conf: filepath.Join(dir, "mosquitto.conf")}
	var err error
	// A free port can be taken between the check and mosquitto's bind.
	for attempt := 0; attempt < 3; attempt++ {
		if b.port, err = serverproc.FreePort(); err != nil {
			return nil, err
		}
		if err = os.WriteFile(b.conf, []byte(b.config(cfg)), 0o600); err != nil {
			return nil, err
		}
		if err = b.writePasswords(cfg.Users); err != nil {
			return nil, err
		}
		if err = b.start(); err == nil {
			return b, nil
		}
	}
	return nil, err
}

func (b *Broker) config(cfg Config) string {
	user := ""
	if os.Geteuid() == 0 {
		// Started as root, mosquitto switches to user "mosquitto", which
		// cannot write the test's temporary persistence directory.
		user = "user root\n"
	}
	return fmt.Sprintf(`# generated by internal/mosquittotest
%sper_listener_settings false
listener %d 127.0.0.1
%spersistence true
persistence_location %s/
autosave_interval %d
message_size_limit %d
max_packet_size %d
max_inflight_messages %d
max_queued_messages %d
log_dest stderr
log_type error
log_type warning
log_type notice
`, user, b.port, b.access(cfg.Users), filepath.Join(b.dir, "data"), cfg.AutosaveInterval, cfg.MessageSizeLimit, 16<<20+1024, cfg.MaxInflight, cfg.MaxQueued)
}

// access is the config's authentication: anonymous, or the password file
// of users.
func (b *Broker) access(users map[string]string) string {
	if len(users) == 0 {
		return "allow_anonymous true\n"
	}
	return "allow_anonymous false\npassword_file " + filepath.Join(b.dir, "passwd") + "\n"
}

// writePasswords writes the password file of users (none: nothing). Each
// line is USER:$7$ITERATIONS$SALT$HASH, PBKDF2-SHA512 over a 12-byte salt,
// the format mosquitto_passwd writes since Mosquitto 2.0; generating it
// here spares the tests a second binary.
func (b *Broker) writePasswords(users map[string]string) error {
	if len(users) == 0 {
		return nil
	}
	var buf strings.Builder
	for _, name := range slices.Sorted(maps.Keys(users)) {
		salt := make([]byte, 12)
		if _, err := rand.Read(salt); err != nil {
			return err
		}
		const iterations = 101 // mosquitto_passwd's default
		hash, err := pbkdf2.Key(sha512.New, users[name], salt, iterations, sha512.Size)
		if err != nil {
			return err
		}
		fmt.Fprintf(&buf, "%s:$7$%d$%s$%s\n", name, iterations,
			base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(hash))
	}
	return os.WriteFile(filepath.Join(b.dir, "passwd"), []byte(buf.String()), 0o600)
}

// URL is the broker's address for MQTT clients: tcp://127.0.0.1:PORT.
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Addr is host:port of the listener.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Dir is the directory holding the broker's config and persistence.
func (b *Broker) Dir() string { return b.dir }

// Logs returns what the broker logged so far (for failure messages).
func (b *Broker) Logs() string { return b.proc.Logs() }

func (b *Broker) start() error {
	if err := os.MkdirAll(filepath.Join(b.dir, "data"), 0o700); err != nil {
		return err
	}
	cmd := exec.Command(b.bin, "-c", b.conf)
	if err := b.proc.Start(context.Background(), cmd, 5*time.Second, b.accepts); err != nil {
		return fmt.Errorf("mosquitto on %s: %w: %s", b.Addr(), err, b.proc.Logs())
	}
	return nil
}

// accepts reports whether the listener takes connections.
func (b *Broker) accepts() bool {
	c, err := net.DialTimeout("tcp", b.Addr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Stop stops the broker with SIGTERM, which makes Mosquitto write its
// persistence file, and waits for it to exit. Stopping a stopped broker
// does nothing.
func (b *Broker) Stop() { b.proc.Stop(stopGrace) }

// Restart stops a test's broker and starts it again on the same port with
// the same persistence directory; it fails the test if it cannot.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = b.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond) // the port may linger briefly
	}
	b.t.Fatalf("mosquittotest: restart: %v", err)
}

// Start starts a test's stopped broker again (same port, same
// persistence); it fails the test if it cannot.
func (b *Broker) Start() {
	b.t.Helper()
	if b.proc.Running() {
		b.t.Fatal(errors.New("mosquittotest: broker already running"))
	}
	if err := b.start(); err != nil {
		b.t.Fatalf("mosquittotest: start: %v", err)
	}
}
