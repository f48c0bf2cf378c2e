package mosquittotest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

func TestStartStopRestart(t *testing.T) {
	b := Start(t, Config{})
	dial := func() error {
		c, err := net.Dial("tcp", b.Addr())
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("broker not reachable after Start: %v", err)
	}
	b.Stop()
	if err := dial(); err == nil {
		t.Fatal("broker still reachable after Stop")
	}
	// Persistence is what broker-restart tests rely on: the database must
	// be written on stop (mosquitto must be able to write the temp dir).
	if _, err := os.Stat(filepath.Join(b.dir, "data", "mosquitto.db")); err != nil {
		t.Fatalf("no persistence file after Stop: %v\n%s", err, b.Logs())
	}
	b.Start()
	if err := dial(); err != nil {
		t.Fatalf("broker not reachable after Start again: %v\n%s", err, b.Logs())
	}
	b.Restart()
	if err := dial(); err != nil {
		t.Fatalf("broker not reachable after Restart: %v\n%s", err, b.Logs())
	}
}

// TestNewOutsideATest starts a broker the way the benchmark harness does
// (no testing.TB), with its settings in the config, and stops it.
func TestNewOutsideATest(t *testing.T) {
	t.Parallel()
	if Binary() == "" {
		Require(t) // skips, or fails under CI=true
	}
	dir := filepath.Join(t.TempDir(), "broker")
	b, err := New(dir, Config{MessageSizeLimit: 65536, AutosaveInterval: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	if b.Dir() != dir {
		t.Errorf("Dir %q, want %q", b.Dir(), dir)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"autosave_interval 60\n", "message_size_limit 65536\n", "max_queued_messages 1000000\n", "max_inflight_messages 100\n"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatalf("broker not reachable: %v\n%s", err, b.Logs())
	}
	c.Close()
	pid := b.proc.Pid()
	b.Stop()
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("mosquitto %d still exists after Stop", pid)
	}
	if c, err := net.Dial("tcp", b.Addr()); err == nil {
		c.Close()
		t.Error("broker reachable after Stop")
	}
}

// TestUsers: with Users set, the broker takes only those logins; anonymous
// clients and wrong passwords are refused with the codes clients report.
func TestUsers(t *testing.T) {
	t.Parallel()
	b := Start(t, Config{Users: map[string]string{"icugate": "s3cret", "biomed": "other"}})
	connect := func(user, pass string) error {
		o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID("mosquittotest-" + user).
			SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
		if user != "" {
			o.SetUsername(user).SetPassword(pass)
		}
		c := paho.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			return errors.New("connect timed out")
		}
		if tok.Error() == nil {
			c.Disconnect(50)
		}
		return tok.Error()
	}
	if err := connect("icugate", "s3cret"); err != nil {
		t.Fatalf("right password refused: %v\n%s", err, b.Logs())
	}
	if err := connect("biomed", "other"); err != nil {
		t.Fatalf("second user refused: %v\n%s", err, b.Logs())
	}
	for _, c := range []struct{ user, pass string }{{"icugate", "wrong"}, {"", ""}, {"nobody", "s3cret"}} {
		err := connect(c.user, c.pass)
		if !errors.Is(err, packets.ErrorRefusedNotAuthorised) && !errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) {
			t.Errorf("login %q/%q: %v, want refused", c.user, c.pass, err)
		}
	}
}
