package serverproc

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sh is a server played by a shell script.
func sh(script string) *exec.Cmd { return exec.Command("/bin/sh", "-c", script) }

// logged reports when the server has written s.
func logged(p *Process, s string) func() bool {
	return func() bool { return strings.Contains(p.Logs(), s) }
}

// signalled is the signal that ended a reaped process (0 if none did).
func signalled(r *run) syscall.Signal {
	ws, _ := r.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() {
		return 0
	}
	return ws.Signal()
}

// gone reports whether the process with this pid has been reaped.
func gone(pid int) bool { return syscall.Kill(pid, 0) != nil }

// TestStartWaitsUntilReadyAndStopTerminates: Start returns once the server
// says it is ready, with both its outputs kept; a second Start is refused;
// Stop ends the server with SIGTERM and reaps it, and the Process can be
// started again, its log starting afresh.
func TestStartWaitsUntilReadyAndStopTerminates(t *testing.T) {
	t.Parallel()
	var p Process
	script := "sleep 0.1; echo config >&2; echo ready; exec sleep 30"
	if err := p.Start(context.Background(), sh(script), 10*time.Second, logged(&p, "ready")); err != nil {
		t.Fatal(err)
	}
	if !p.Running() || !strings.Contains(p.Logs(), "config") {
		t.Errorf("after Start: running %v, log %q; want running, stderr kept", p.Running(), p.Logs())
	}
	if err := p.Start(context.Background(), sh(script), time.Second, logged(&p, "ready")); !errors.Is(err, ErrRunning) {
		t.Errorf("Start of a running Process: %v; want ErrRunning", err)
	}
	r, pid := p.run, p.Pid()
	p.Stop(10 * time.Second)
	if sig := signalled(r); sig != syscall.SIGTERM || !gone(pid) || p.Running() || p.Pid() != 0 {
		t.Errorf("after Stop: ended by %v, gone %v, running %v; want SIGTERM, reaped, stopped", sig, gone(pid), p.Running())
	}
	p.Stop(10 * time.Second) // stopped: does nothing
	if err := p.Start(context.Background(), sh("echo again; exec sleep 30"), 10*time.Second, logged(&p, "again")); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(10 * time.Second)
	if p.Logs() != "again\n" {
		t.Errorf("log after a restart %q; want only the new start's", p.Logs())
	}
}

// TestStopKillsAfterGrace: a server that ignores SIGTERM is killed once
// the grace has passed.
func TestStopKillsAfterGrace(t *testing.T) {
	t.Parallel()
	var p Process
	if err := p.Start(context.Background(), sh(`trap "" TERM; echo up; exec sleep 30`), 10*time.Second, logged(&p, "up")); err != nil {
		t.Fatal(err)
	}
	r, pid := p.run, p.Pid()
	p.Stop(50 * time.Millisecond)
	if sig := signalled(r); sig != syscall.SIGKILL || !gone(pid) {
		t.Errorf("after Stop: ended by %v, gone %v; want SIGKILL and reaped", sig, gone(pid))
	}
}

// TestStartGivesUp: a server that exits, is not ready in time, or is
// started under an ended context fails Start with the reason, its log kept
// and no process left behind; output the caller sends elsewhere stays
// there.
func TestStartGivesUp(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name    string
		ctx     context.Context
		script  string
		timeout time.Duration
		want    []error
	}{
		{"exits", context.Background(), "echo $$; echo 'bad config' >&2; exit 3", 10 * time.Second, []error{ErrExited}},
		{"never ready", context.Background(), "echo $$; exec sleep 30", 100 * time.Millisecond, []error{ErrNotReady}},
		{"context ended", cancelled, "echo $$; exec sleep 30", 10 * time.Second, []error{ErrNotReady, context.Canceled}},
	} {
		var p Process
		err := p.Start(c.ctx, sh(c.script), c.timeout, func() bool { return false })
		for _, want := range c.want {
			if !errors.Is(err, want) || p.Running() {
				t.Errorf("%s: Start = %v, running %v; want %v and stopped", c.name, err, p.Running(), want)
			}
		}
		// The script may not have run before a cancelled Start killed it.
		if pid, perr := strconv.Atoi(strings.SplitN(p.Logs(), "\n", 2)[0]); perr == nil && !gone(pid) {
			t.Errorf("%s: process %d still exists after Start gave up", c.name, pid)
		}
	}
	var p Process
	var stderr bytes.Buffer
	cmd := sh("echo 'bad config' >&2; exit 3")
	cmd.Stderr = &stderr
	if err := p.Start(context.Background(), cmd, 10*time.Second, func() bool { return false }); !errors.Is(err, ErrExited) ||
		stderr.String() != "bad config\n" || p.Logs() != "" {
		t.Errorf("Start = %v, stderr %q, Logs %q; want ErrExited and the output where the caller sent it", err, stderr.String(), p.Logs())
	}
	if err := p.Start(context.Background(), exec.Command("/nonexistent/testd"), time.Second, func() bool { return true }); err == nil ||
		!strings.Contains(err.Error(), "start /nonexistent/testd") || p.Running() {
		t.Errorf("Start of a missing binary: %v; want an error naming it", err)
	}
}

// TestLogBufferKeepsTheFirstMiB: output beyond a MiB is dropped without
// failing the server's writes; concurrent writes (stdout and stderr) are
// safe.
func TestLogBufferKeepsTheFirstMiB(t *testing.T) {
	t.Parallel()
	var l logBuffer
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 16 {
				if n, err := l.Write(chunk); n != len(chunk) || err != nil {
					t.Errorf("Write = %d, %v; want all of it taken", n, err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(l.String()); n <= logLimit || n > logLimit+len(chunk) {
		t.Errorf("kept %d bytes of %d; want the first MiB and at most one write more", n, 32*len(chunk))
	}
}
