package mosquittotest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
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
