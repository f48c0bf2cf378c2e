//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// children owns every process the harness starts, so that each one is
// stopped on the way out, Ctrl-C and errors included.
type children struct {
	mu    sync.Mutex
	procs []*child
}

// child is one started process.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // its exit status, once done
	log  *os.File
}

// start runs a command with its output in logPath (or discarded). The
// child gets SIGKILL if the harness dies without stopping it (termSig for
// processes that should stop gracefully is sent by stop).
func (cs *children) start(name, logPath string, cmd *exec.Cmd) (*child, error) {
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		c.log = f
		if cmd.Stdout == nil {
			cmd.Stdout = f
		}
		if cmd.Stderr == nil {
			cmd.Stderr = f
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if c.log != nil {
			c.log.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		if c.log != nil {
			c.log.Close()
		}
		close(c.done)
	}()
	cs.mu.Lock()
	cs.procs = append(cs.procs, c)
	cs.mu.Unlock()
	return c, nil
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace, then kills. It returns
// whether the child stopped by itself within grace.
func (c *child) stop(grace time.Duration) bool {
	if c.exited() {
		return true
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return true
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return false
	}
}

// stopAll stops every child still running, newest first.
func (cs *children) stopAll() {
	cs.mu.Lock()
	procs := cs.procs
	cs.procs = nil
	cs.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(10 * time.Second)
	}
}

// lineChild is a child that speaks the harness' line protocol on its
// standard input and output (the simulator and publisher modes).
type lineChild struct {
	*child
	in  io.WriteCloser
	out *bufio.Reader
}

// startLineChild starts this program in a child mode and waits for its
// "ready" line.
func (cs *children) startLineChild(ctx context.Context, name, logPath string, wait time.Duration, args ...string) (*lineChild, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c, err := cs.start(name, logPath, cmd)
	if err != nil {
		return nil, err
	}
	lc := &lineChild{child: c, in: in, out: bufio.NewReader(outPipe)}
	line, err := lc.read(ctx, wait)
	if err != nil || line != "ready" {
		c.stop(time.Second)
		return nil, fmt.Errorf("%s did not start (%q, %v); see %s", name, line, err, logPath)
	}
	return lc, nil
}

// read returns the child's next line, waiting at most wait.
func (lc *lineChild) read(ctx context.Context, wait time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := lc.out.ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(wait):
		return "", fmt.Errorf("%s: no answer within %v", lc.name, wait)
	}
}

// finish closes the child's standard input, which tells it to end, and
// waits up to grace for it to exit by itself (so that its last words
// reach its log), then stops it. It reports whether it ended by itself.
func (lc *lineChild) finish(grace time.Duration) bool {
	lc.in.Close()
	select {
	case <-lc.done:
		return true
	case <-time.After(grace):
		lc.stop(time.Second)
		return false
	}
}

// ask sends a command line and returns the answer line.
func (lc *lineChild) ask(ctx context.Context, cmd string, wait time.Duration) (string, error) {
	if _, err := io.WriteString(lc.in, cmd+"\n"); err != nil {
		return "", fmt.Errorf("%s: %w", lc.name, err)
	}
	return lc.read(ctx, wait)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// procCPU returns a process' user and system CPU time so far.
func procCPU(pid int) (user, sys time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStat(string(b))
}

// parseStat reads utime and stime (fields 14 and 15) of a /proc/PID/stat
// line. The command name (field 2) may hold spaces and parentheses, so
// fields are counted from its last ')'.
func parseStat(s string) (user, sys time.Duration, err error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, errors.New("proc stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, errors.New("proc stat: too few fields")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("proc stat: utime %q stime %q", f[11], f[12])
	}
	tick := time.Second / clockTicks
	return time.Duration(u) * tick, time.Duration(st) * tick, nil
}

// procPeakRSS returns a process' peak resident set size (VmHWM) in bytes.
func procPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseHWM(string(b))
}

func parseHWM(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("proc status: no VmHWM line")
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// raiseFileLimit lifts RLIMIT_NOFILE so that 10,000 addresses fit in the
// simulator (a listener and a connection each) and the gateway; children
// inherit it. As root the hard limit goes up too.
func raiseFileLimit(want uint64) (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Max < want {
		hard := rl
		hard.Max, hard.Cur = want, want
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &hard) == nil {
			return want, nil
		}
	}
	rl.Cur = min(max(rl.Cur, want), rl.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}
