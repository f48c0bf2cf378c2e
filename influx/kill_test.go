package influx

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/outbox"
)

// The kill test re-executes the test binary as a child that appends points
// and records each acknowledged one, while the parent SIGKILLs it at random
// moments and takes InfluxDB up and down.
const (
	killChildEnv = "ICUGATE_KILLTEST_DIR"
	killURLEnv   = "ICUGATE_KILLTEST_URL"
)

func killPoint(i int) Point {
	return NewPoint("kill", Class(i%2), map[string]string{"device": "d" + strconv.Itoa(i%5)},
		time.Unix(1_700_000_000, 0).Add(time.Duration(i)*time.Millisecond), Int("i", int64(i)))
}

// lastAcked reads the highest index the children recorded as acknowledged;
// a torn last line (the child died mid-write) is ignored.
func lastAcked(path string) int {
	b, _ := os.ReadFile(path)
	last := -1
	for _, line := range bytes.Split(b, []byte("\n")) {
		if n, err := strconv.Atoi(string(line)); err == nil && n > last {
			last = n
		}
	}
	return last
}

// killChild runs in the child process until it is killed.
func killChild() int {
	dir := os.Getenv(killChildEnv)
	ob, err := outbox.Open(outbox.Options{Dir: filepath.Join(dir, "outbox")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	w, err := NewWriter(&config.InfluxDB{URL: os.Getenv(killURLEnv), Bucket: influxtest.Bucket, BatchSize: 500, FlushInterval: 20 * time.Millisecond},
		Deps{Queue: ob, DeadLetterPath: filepath.Join(dir, "deadletter.jsonl"),
			Retry: Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	go func() { _ = w.Run(context.Background()) }()
	ackPath := filepath.Join(dir, "acked")
	f, err := os.OpenFile(ackPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return 2
	}
	i := lastAcked(ackPath) + 1
	for {
		pts := make([]Point, 50)
		for k := range pts {
			pts[k] = killPoint(i + k)
		}
		if err := w.Append(context.Background(), pts...); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		i += len(pts)
		// Recorded only after Append returned: these are acknowledged.
		fmt.Fprintf(f, "%d\n", i-1)
	}
}

// Not parallel: the children must get enough CPU to acknowledge points
// between kills, which other tests' InfluxDB servers starve them of.
func TestKillNineLosesNoAcknowledgedPoint(t *testing.T) {
	srv := influxtest.Start(t, influxtest.Options{})
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// At least 24 rounds; more (up to 96) while the children have
	// acknowledged too few points to prove anything, as on a machine
	// busy with other tests.
	const rounds = 24
	for round := 0; round < rounds || (round < 4*rounds && lastAcked(filepath.Join(dir, "acked")) < 1000); round++ {
		switch round % 6 {
		case 2:
			srv.Stop()
		case 4:
			srv.Start()
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir, killURLEnv+"="+srv.URL)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The random moment of the kill is the scenario.
		time.Sleep(time.Duration(20+rand.IntN(400)) * time.Millisecond)
		_ = cmd.Process.Kill()
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
			t.Fatalf("round %d: child ended by itself (%v): %s", round, err, stderr.String())
		}
	}
	srv.Start()
	acked := lastAcked(filepath.Join(dir, "acked"))
	if acked < 1000 {
		t.Fatalf("children acknowledged only %d points; the test proves little", acked+1)
	}
	// A last, clean run drains what the killed children left.
	ob, err := outbox.Open(outbox.Options{Dir: filepath.Join(dir, "outbox")})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	w, err := NewWriter(&config.InfluxDB{URL: srv.URL, Bucket: influxtest.Bucket, FlushInterval: 20 * time.Millisecond},
		fastDeps(ob, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitDrained(t, ob, 60*time.Second)
	cancel()
	<-done
	rows, err := srv.Query(fmt.Sprintf(`SELECT count("i") FROM "kill" WHERE "i" <= %d`, acked))
	if err != nil || len(rows) != 1 {
		t.Fatalf("query: %v %v", rows, err)
	}
	if got := int(rows[0][1].(float64)); got != acked+1 {
		t.Fatalf("%d of %d acknowledged points in InfluxDB: %d missing", got, acked+1, acked+1-got)
	}
	t.Logf("%d rounds, %d acknowledged points, all delivered; outbox %+v", rounds, acked+1, ob.Stats())
}
