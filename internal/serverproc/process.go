package serverproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Why Start refused or gave up on a server: it was already running, it
// exited before it was ready, or it was not ready in time.
var (
	ErrRunning  = errors.New("already running")
	ErrExited   = errors.New("exited at start")
	ErrNotReady = errors.New("not ready")
)

// pollEvery is how often Start asks a starting server whether it is ready.
const pollEvery = 20 * time.Millisecond

// Process runs a server binary, one run at a time: started, stopped, and
// started again on the same ports and data (a broker-restart test), with
// what the last start logged kept for failure messages. The zero Process
// is stopped. It is safe for concurrent use; Start and Stop wait for each
// other. A Process must not be copied.
type Process struct {
	logs logBuffer

	mu  sync.Mutex
	run *run // nil while stopped
}

// run is one started process and the goroutine that reaps it.
type run struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
}

// Start starts cmd and waits until ready reports true, asking every 20 ms
// for at most timeout, or until ctx ends. Whatever of stdout and stderr
// cmd does not send elsewhere is kept for Logs, which forgets the previous
// start's. The server dies with the program that started it (on Linux; see
// dieWithParent), so that no server outlives a killed test binary.
//
// When the server exits first (ErrExited), is not ready in time
// (ErrNotReady) or ctx ends (ErrNotReady and ctx's error), it is killed and
// reaped before Start returns, and the Process stays stopped; the caller's
// error adds the server's name, address and log. Starting a running
// Process fails with ErrRunning.
func (p *Process) Start(ctx context.Context, cmd *exec.Cmd, timeout time.Duration, ready func() bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run != nil {
		return ErrRunning
	}
	p.logs.reset()
	if cmd.Stdout == nil {
		cmd.Stdout = &p.logs
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &p.logs
	}
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	r := &run{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	if err := r.waitReady(ctx, timeout, ready); err != nil {
		return err
	}
	p.run = r
	return nil
}

// waitReady polls ready; on failure the process is gone when it returns.
func (r *run) waitReady(ctx context.Context, timeout time.Duration, ready func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		select {
		case <-r.done:
			return ErrExited
		case <-deadline.C:
			r.kill()
			return fmt.Errorf("%w within %v", ErrNotReady, timeout)
		case <-ctx.Done():
			r.kill()
			return fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop asks the server to end with SIGTERM, which lets it save its state
// (Mosquitto writes its persistence file), and kills it when it has not
// exited after grace. It returns once the process has exited and been
// reaped; stopping a stopped Process does nothing.
func (p *Process) Stop(grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run == nil {
		return
	}
	p.run.stop(grace)
	p.run = nil
}

func (r *run) stop(grace time.Duration) {
	select {
	case <-r.done:
		return // exited by itself
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-r.done:
	case <-timer.C:
		r.kill()
	}
}

// kill ends the process at once and waits until it has been reaped.
func (r *run) kill() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

// Running reports whether the server was started and not stopped since.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.run != nil
}

// Pid is the running server's process id, 0 while stopped.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run == nil {
		return 0
	}
	return p.run.cmd.Process.Pid
}

// Logs returns what the server wrote on its last start (so far, and up to
// a MiB) to the outputs Start kept.
func (p *Process) Logs() string { return p.logs.String() }

// logLimit is how much of a server's output logBuffer keeps: enough to
// diagnose a failed start, not so much that a chatty server fills memory.
const logLimit = 1 << 20

// logBuffer keeps what a server writes, up to the first MiB. It is safe
// for concurrent use: exec copies stdout and stderr in goroutines of their
// own.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps p, or drops it once the buffer holds more than a MiB; it
// never fails the server's write.
func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > logLimit {
		return len(p), nil
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}
