//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary be the harness' own child: the harness
// starts os.Executable() with -serve, -floor or -publish, which under test
// is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-serve", "-floor", "-publish":
			os.Exit(run(os.Args[1:]))
		}
	}
	os.Exit(m.Run())
}

// waitLog waits until a child's log holds want.
func waitLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b, _ := os.ReadFile(path); !strings.Contains(string(b), want); b, _ = os.ReadFile(path) {
		if time.Now().After(deadline) {
			t.Fatalf("%s does not say %q: %q", path, want, b)
		}
		if err := sleep(context.Background(), 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

// alive reports whether a process exists (signal 0 reaches it).
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestChildrenStopAll: every started child is stopped, newest first, and
// its output lands in its log.
func TestChildrenStopAll(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cs := &children{}
	var pids []int
	for i, name := range []string{"a", "b"} {
		c, err := cs.start(name, filepath.Join(dir, name+".log"), exec.Command("sh", "-c", "echo started "+name+"; exec sleep 60"))
		if err != nil {
			t.Fatal(err)
		}
		if c.exited() {
			t.Fatalf("child %d exited at once", i)
		}
		pids = append(pids, c.pid())
		waitLog(t, filepath.Join(dir, name+".log"), "started")
	}
	cs.stopAll()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("child %d alive after stopAll", pid)
		}
	}
	for _, name := range []string{"a", "b"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name+".log")); string(b) != "started "+name+"\n" {
			t.Errorf("log of %s: %q", name, b)
		}
	}
	cs.stopAll() // nothing left: returns at once
}

// TestChildStopKillsWhatIgnoresSIGTERM: stop waits its grace, then kills,
// and says so.
func TestChildStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	cs := &children{}
	log := filepath.Join(t.TempDir(), "stubborn.log")
	c, err := cs.start("stubborn", log, exec.Command("sh", "-c", `trap "" TERM; echo ready; while :; do sleep 1; done`))
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, "ready") // the trap is set
	if c.stop(200 * time.Millisecond) {
		t.Error("stop reported a graceful exit of a process that ignores SIGTERM")
	}
	if !c.exited() || alive(c.pid()) {
		t.Error("the process survived stop")
	}
	if !c.stop(time.Second) {
		t.Error("stopping a stopped child does not report it stopped")
	}
}

func TestChildStartFailures(t *testing.T) {
	t.Parallel()
	cs := &children{}
	if _, err := cs.start("none", "", exec.Command(filepath.Join(t.TempDir(), "no-such-binary"))); err == nil || !strings.Contains(err.Error(), "start none") {
		t.Errorf("missing binary: %v", err)
	}
	if _, err := cs.start("nolog", filepath.Join(t.TempDir(), "missing", "dir", "x.log"), exec.Command("true")); err == nil {
		t.Error("a log in a missing directory was accepted")
	}
	if len(cs.procs) != 0 {
		t.Errorf("%d failed children are tracked", len(cs.procs))
	}
	c, err := cs.start("exits", "", exec.Command("sh", "-c", "exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	<-c.done
	var ee *exec.ExitError
	if !errors.As(c.err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit status %v, want 3", c.err)
	}
}

// TestLineChildSimulator starts this program's simulator mode as the
// harness does and speaks its line protocol: ready, start, stop with a
// JSON report, an unknown command, and exit when stdin closes.
func TestLineChildSimulator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	site := benchSite(t, dir, 3, 1)
	cs := &children{}
	defer cs.stopAll()
	ctx := context.Background()
	lc, err := cs.startLineChild(ctx, "simulator", filepath.Join(dir, "sim.log"), time.Minute, "-serve", site, "-shard", "0/1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := lc.ask(ctx, "start", 10*time.Second); err != nil || got != "ok" {
		t.Fatalf("start: %q, %v", got, err)
	}
	if got, err := lc.ask(ctx, "stop", 10*time.Second); err != nil || !strings.HasPrefix(got, `{"reads":0,`) || !strings.Contains(got, `"devices":3`) {
		t.Errorf("stop: %q, %v; want a report of 3 devices and no reads", got, err)
	}
	if got, err := lc.ask(ctx, "dance", 10*time.Second); err != nil || got != "unknown command" {
		t.Errorf("unknown command: %q, %v", got, err)
	}
	if !lc.finish(10*time.Second) || lc.err != nil {
		t.Errorf("simulator did not exit by itself when its stdin closed: %v", lc.err)
	}
}

// TestLineChildThatNeverGetsReady: a child that does not print "ready"
// is stopped and reported with its log.
func TestLineChildThatNeverGetsReady(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cs := &children{}
	defer cs.stopAll()
	// A site file that does not load: the simulator child exits.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("units: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "sim.log")
	_, err := cs.startLineChild(context.Background(), "simulator", log, 30*time.Second, "-serve", bad)
	if err == nil || !strings.Contains(err.Error(), "did not start") || !strings.Contains(err.Error(), log) {
		t.Errorf("bad site: %v; want 'did not start' and the log's path", err)
	}
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), "gatebench simulator:") {
		t.Errorf("the child's error is not in its log: %q", b)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	t.Parallel()
	if err := sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep with a cancelled context: %v", err)
	}
}

func TestRaiseFileLimit(t *testing.T) {
	var before syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	got, err := raiseFileLimit(before.Cur) // what it has: no change needed
	if err != nil || got < before.Cur {
		t.Errorf("raiseFileLimit(%d) = %d, %v", before.Cur, got, err)
	}
	var after syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &after)
	if after.Cur != got {
		t.Errorf("limit now %d, reported %d", after.Cur, got)
	}
}

func TestProcOfAnotherProcess(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if _, _, err := procCPU(pid); err != nil {
		t.Errorf("procCPU of a running child: %v", err)
	}
	if n, err := procPeakRSS(pid); err != nil || n <= 0 {
		t.Errorf("procPeakRSS of a running child: %d, %v", n, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, _, err := procCPU(pid); err == nil {
		t.Error("procCPU of a reaped process succeeded")
	}
	if _, err := procPeakRSS(pid); err == nil {
		t.Error("procPeakRSS of a reaped process succeeded")
	}
}
