//go:build linux

package modbus

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	gb "github.com/goburrow/modbus"
	"golang.org/x/sys/unix"

	"github.com/icugate/icugate/pipeline"
)

// The event loop (reactor) polls every Modbus TCP endpoint that has one
// connection from one goroutine.
//
// With a goroutine per connection, each poll parks its goroutine until the
// answer comes and the runtime wakes it: at 2,000 polls a second on this
// 2-core VM that scheduling cost about as much again as the system calls
// themselves (25-27 ms of CPU per 1,000 polls where a bare epoll loop
// making the same polls costs 14-16; cmd/icusim/bench prints both). Here
// one goroutine owns all those sockets in its own epoll set, so one
// wake-up serves every answer that has arrived. Requests are still strictly
// one at a time per connection, units of an endpoint in turn, with the
// same schedule (schedule.go), the same goburrow packager and answer
// checks (validateAnswer), the same error handling (any error but an
// exception closes the connection, so a late answer is never read as the
// next one's), backoffs and metrics as the worker path; only the waiting
// differs. Tests run the fault scenarios on both paths.
//
// Dials run in their own goroutines (they may take the whole timeout) and
// hand the socket over; from then on the loop uses a duplicate of its
// descriptor and Go's net.Conn is closed. Offering to the intake blocks
// the loop, so a full intake delays every endpoint it serves: the gateway's
// intake holds 8,192 observations in front of an engine that takes
// millions a second, so it is full only when the box is badly overloaded.

// maxEvents is how many readiness events one epoll_wait returns at most.
const maxEvents = 128

// reactor is the event loop of a set of Modbus TCP endpoints.
type reactor struct {
	log    *slog.Logger
	in     pipeline.Intake
	epfd   int
	evfd   int // eventfd: wakes the loop (dial results, stop)
	events []unix.EpollEvent
	ready  int // events filled by the last epoll_wait
	// inflight counts connections waiting for an answer; while none is,
	// the loop waits on a timer instead of in epoll_wait (see wait).
	inflight int
	wakeCh   chan struct{}
	timer    *time.Timer
	// conns by socket descriptor, while registered (descriptors are
	// small integers: a slice, not a map, on the per-answer path).
	conns []*rconn
	// wakeups: endpoints with no poll running, by the time their next
	// device is due.
	idle wakeups
	// nextDeadline is at or before the earliest deadline of the requests
	// out (it may be one already answered); expire scans the connections
	// only when it has passed.
	nextDeadline time.Time

	mu     sync.Mutex
	dialed []dialResult // handed over by dial goroutines
	dials  sync.WaitGroup
}

// rconn is the loop's state of one endpoint's connection.
type rconn struct {
	ep      *endpoint
	pk      *gb.TCPClientHandler // goburrow's MBAP packager (transaction ids)
	chk     gb.Packager          // pk with typed errors (checkedPackager)
	fd      int                  // -1 when closed
	busy    bool                 // a poll runs
	dialing bool                 // and waits for its dial
	sent    bool                 // and has sent a request (so it attempted a read)
	waiting bool                 // for an answer (counted in reactor.inflight)

	// The poll that runs: device, request index, start, request, answer.
	dv       *device
	k        int
	start    time.Time
	deadline time.Time
	req      []byte
	buf      [mbapMax]byte
	n        int
}

type dialResult struct {
	c   *rconn
	fd  int
	err error
}

// newReactor sets up the loop's epoll set; it fails only if the kernel
// refuses (the driver then polls those endpoints with workers).
func newReactor(log *slog.Logger, in pipeline.Intake) (*reactor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	r := &reactor{log: log, in: in, epfd: epfd, evfd: evfd, events: make([]unix.EpollEvent, maxEvents),
		wakeCh: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	r.timer.Stop()
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}); err != nil {
		r.closeFDs()
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return r, nil
}

func (r *reactor) closeFDs() {
	unix.Close(r.epfd)
	unix.Close(r.evfd)
}

// wake interrupts the loop's wait, whichever kind it is. Safe from any
// goroutine.
func (r *reactor) wake() {
	var one [8]byte
	one[0] = 1 // any non-zero value makes the eventfd readable
	_, _ = unix.Write(r.evfd, one[:])
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// run polls the endpoints until ctx ends, then closes every connection and
// waits for dials in flight. No goroutine outlives it.
func (r *reactor) run(ctx context.Context, eps []*endpoint) {
	stop := context.AfterFunc(ctx, r.wake)
	defer stop()
	now := time.Now()
	for _, ep := range eps {
		ep.start(now)
		pk := gb.NewTCPClientHandler(ep.key)
		c := &rconn{ep: ep, fd: -1, pk: pk, chk: checkedPackager{Packager: pk}}
		r.schedule(c)
	}
	r.loop(ctx)
	for _, c := range r.conns {
		if c != nil {
			_ = unix.Close(c.fd)
			c.fd = -1
		}
	}
	r.dials.Wait()
	for _, d := range r.takeDialed() {
		if d.fd >= 0 {
			_ = unix.Close(d.fd)
		}
	}
	r.closeFDs()
}

// loop is the event loop: take finished dials, fail expired requests,
// start the polls that are due, then wait for answers (or the next due
// time) and handle them, until ctx ends.
func (r *reactor) loop(ctx context.Context) {
	for ctx.Err() == nil {
		now := time.Now()
		for _, d := range r.takeDialed() {
			r.connected(ctx, d, now)
		}
		r.expire(ctx, now)
		for r.idle.Len() > 0 && !r.idle[0].at.After(now) {
			c := heap.Pop(&r.idle).(wakeup).c
			r.next(ctx, c, now)
		}
		if ctx.Err() != nil {
			return
		}
		r.wait(r.nextWake(now))
		r.drain(ctx)
	}
}

// nextWake is when the loop must look again at the latest: the earliest
// device due or request deadline.
func (r *reactor) nextWake(now time.Time) time.Time {
	at := now.Add(time.Hour)
	if r.idle.Len() > 0 && r.idle[0].at.Before(at) {
		at = r.idle[0].at
	}
	if !r.nextDeadline.IsZero() && r.nextDeadline.Before(at) {
		at = r.nextDeadline
	}
	return at
}

// wait blocks until a socket of the set is readable, the loop is woken, or
// until at. The events found are left in r.events[:r.ready].
//
// While answers are awaited it blocks in epoll_wait itself (rounded up to
// the millisecond): parking in Go's netpoller instead cost a netpoller
// round and often a second thread per wake-up, as much as the loop saves.
// While none is (between bursts: the usual wait, up to the next slot) it
// sleeps on a timer, so that no thread sits in a long system call: the
// runtime's monitor then polls every 20 µs to take its processor back.
func (r *reactor) wait(at time.Time) {
	r.ready = 0
	d := time.Until(at)
	if d <= 0 {
		r.poll()
		return
	}
	if r.inflight == 0 {
		r.timer.Reset(d)
		select {
		case <-r.timer.C:
		case <-r.wakeCh:
			r.timer.Stop()
		}
		r.poll()
		return
	}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	for {
		n, err := unix.EpollWait(r.epfd, r.events, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.log.Error("modbus event loop: epoll_wait failed", "err", err)
			return
		}
		r.ready = n
		return
	}
}

// poll collects ready events without waiting.
func (r *reactor) poll() {
	for {
		n, err := rawEpollPoll(r.epfd, r.events)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.log.Error("modbus event loop: epoll_wait failed", "err", err)
			n = 0
		}
		r.ready = n
		return
	}
}

// drain handles the events of the last wait, and any that followed.
func (r *reactor) drain(ctx context.Context) {
	for r.ready > 0 {
		now := time.Now()
		full := r.ready == len(r.events)
		for _, ev := range r.events[:r.ready] {
			if int(ev.Fd) == r.evfd {
				var b [8]byte
				_, _ = unix.Read(r.evfd, b[:])
				continue
			}
			if c := r.conn(int(ev.Fd)); c != nil {
				r.readable(ctx, c, now)
			}
		}
		r.ready = 0
		if !full {
			return
		}
		r.poll()
	}
}

// schedule puts an idle connection's endpoint on the wake-up heap at its
// next device's due time.
func (r *reactor) schedule(c *rconn) {
	c.busy = false
	c.ep.mu.Lock()
	var at time.Time
	if len(c.ep.due) > 0 {
		at = c.ep.due[0].due
	}
	c.ep.mu.Unlock()
	if at.IsZero() {
		return
	}
	heap.Push(&r.idle, wakeup{at: at, c: c})
}

// next starts the endpoint's next due device, or puts it back to wait.
func (r *reactor) next(ctx context.Context, c *rconn, now time.Time) {
	dv, wait := c.ep.next(now)
	if dv == nil {
		heap.Push(&r.idle, wakeup{at: now.Add(wait), c: c})
		return
	}
	c.busy, c.dv, c.k, c.start, c.sent = true, dv, 0, now, false
	if err := dv.precheck(now); err != nil {
		r.finish(ctx, c, err, now)
		return
	}
	if c.fd >= 0 {
		r.send(ctx, c, now)
		return
	}
	if err := c.ep.dialBackoff(); err != nil {
		r.finish(ctx, c, c.ep.connectFailed(err), now)
		return
	}
	c.dialing = true
	r.dials.Add(1)
	go r.dial(ctx, c, dv.timeout)
}

// dial opens a connection for c in its own goroutine and hands the loop a
// duplicate of its descriptor.
func (r *reactor) dial(ctx context.Context, c *rconn, timeout time.Duration) {
	defer r.dials.Done()
	res := dialResult{c: c, fd: -1}
	nc, err := dialNet(ctx, c.ep.cfg.Address, timeout)
	if err == nil {
		res.fd, err = ownFD(nc)
		nc.Close()
	}
	res.err = err
	r.mu.Lock()
	r.dialed = append(r.dialed, res)
	r.mu.Unlock()
	r.wake()
}

// ownFD duplicates a connection's socket (close-on-exec, non-blocking like
// the original) so that it outlives the net.Conn.
func ownFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (r *reactor) takeDialed() []dialResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dialed
	r.dialed = nil
	return d
}

// connected takes a dial's result: the poll that waited for it goes on, or
// fails with the dial's error.
func (r *reactor) connected(ctx context.Context, d dialResult, now time.Time) {
	c := d.c
	c.dialing = false
	if d.err == nil {
		d.err = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, d.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(d.fd)})
		if d.err != nil {
			unix.Close(d.fd)
		}
	}
	c.ep.dialed(d.err)
	if d.err != nil {
		r.finish(ctx, c, c.ep.connectFailed(d.err), now)
		return
	}
	c.fd = d.fd
	for len(r.conns) <= d.fd {
		r.conns = append(r.conns, nil)
	}
	r.conns[d.fd] = c
	r.send(ctx, c, now)
}

// send writes request c.k of the running poll.
func (r *reactor) send(ctx context.Context, c *rconn, now time.Time) {
	rq := c.dv.plan.Requests[c.k]
	c.pk.SlaveId = c.dv.unit
	var data [4]byte
	binary.BigEndian.PutUint16(data[0:], rq.Address)
	binary.BigEndian.PutUint16(data[2:], rq.Quantity)
	if !readOnly(rq.Function) {
		// Never reached: the planner builds only functions 1-4.
		r.finish(ctx, c, fmt.Errorf("refusing to send function code %d: the driver is read-only", rq.Function), now)
		return
	}
	req, err := c.pk.Encode(&gb.ProtocolDataUnit{FunctionCode: rq.Function, Data: data[:]})
	if err == nil {
		c.req, c.n, c.sent = req, 0, true
		if !c.waiting {
			c.waiting = true
			r.inflight++
		}
		c.deadline = now.Add(c.dv.timeout)
		if r.nextDeadline.IsZero() || c.deadline.Before(r.nextDeadline) {
			r.nextDeadline = c.deadline
		}
		var k int
		k, err = ignoringEINTR(func() (int, error) { return rawWrite(c.fd, req) })
		if err == nil && k < len(req) {
			err = errors.New("socket send buffer full") // a few bytes into an idle socket: never in practice
		}
		if err != nil {
			err = &net.OpError{Op: "write", Net: "tcp", Addr: c.remote(), Err: os.NewSyscallError("write", err)}
		}
	}
	if err != nil {
		r.finish(ctx, c, r.wrapRead(c, err), now)
	}
}

// readable reads what arrived for c and completes its request when the
// answer is whole.
func (r *reactor) readable(ctx context.Context, c *rconn, now time.Time) {
	k, err := ignoringEINTR(func() (int, error) { return rawRead(c.fd, c.buf[c.n:]) })
	switch {
	case err == unix.EAGAIN:
		return
	case err != nil:
		err = &net.OpError{Op: "read", Net: "tcp", Addr: c.remote(), Err: os.NewSyscallError("read", err)}
	case k == 0:
		err = io.EOF
	}
	if !c.busy || c.dv == nil || c.dialing {
		// Bytes (or a close) on a connection with no request out: a late
		// answer or the device hanging up. Close; the next poll dials.
		r.closeConn(c)
		return
	}
	if err != nil {
		r.finish(ctx, c, r.wrapRead(c, err), now)
		return
	}
	c.n += k
	want, done, ferr := framedMBAP(c.buf[:c.n])
	if ferr == nil && !done {
		return
	}
	if ferr == nil && c.n > want {
		ferr = &FrameError{Detail: fmt.Sprintf("%d bytes after the answer", c.n-want)}
	}
	var data []byte
	if ferr == nil {
		data, ferr = validateAnswer(c.chk, c.req, c.buf[:c.n], c.dv.plan.Requests[c.k])
	}
	if ferr != nil {
		r.finish(ctx, c, r.wrapRead(c, ferr), now)
		return
	}
	copy(c.dv.answers[c.k], data)
	c.k++
	if c.k < len(c.dv.plan.Requests) {
		r.send(ctx, c, now)
		return
	}
	r.finish(ctx, c, nil, now)
}

// expire fails the requests whose device did not answer in time. It looks
// only once the earliest deadline has passed, and then finds the next.
func (r *reactor) expire(ctx context.Context, now time.Time) {
	if r.nextDeadline.IsZero() || now.Before(r.nextDeadline) {
		return
	}
	r.nextDeadline = time.Time{}
	for _, c := range r.conns {
		if c == nil || !c.waiting {
			continue
		}
		if now.Before(c.deadline) {
			if r.nextDeadline.IsZero() || c.deadline.Before(r.nextDeadline) {
				r.nextDeadline = c.deadline
			}
			continue
		}
		err := &net.OpError{Op: "read", Net: "tcp", Addr: c.remote(), Err: os.ErrDeadlineExceeded}
		r.finish(ctx, c, r.wrapRead(c, err), now)
	}
}

func (r *reactor) wrapRead(c *rconn, err error) error {
	return c.dv.plan.Requests[c.k].failed(err)
}

// finish ends the running poll as the worker path does: connection kept
// or closed, unit backoff, observation offered, device rescheduled.
func (r *reactor) finish(ctx context.Context, c *rconn, err error, now time.Time) {
	dv := c.dv
	if c.waiting {
		c.waiting = false
		r.inflight--
	}
	if c.sent {
		if c.fd >= 0 && (!keepsConnection(err) || dv.closeEach) {
			r.closeConn(c)
		}
		dv.afterRead(err)
	}
	obs := dv.observation(c.start, err, now)
	dv.report(obs.Err, r.log)
	c.dv = nil
	if ctx.Err() != nil {
		return
	}
	if oerr := r.in.Offer(ctx, obs); oerr != nil {
		return
	}
	c.ep.reschedule(dv, now)
	// Straight on to the endpoint's next due unit, as a worker would:
	// the units behind one address are polled back to back.
	c.busy = false
	r.next(ctx, c, now)
}

// conn returns the connection on descriptor fd, if registered.
func (r *reactor) conn(fd int) *rconn {
	if fd < 0 || fd >= len(r.conns) {
		return nil
	}
	return r.conns[fd]
}

func (r *reactor) closeConn(c *rconn) {
	if c.fd < 0 {
		return
	}
	_ = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	r.conns[c.fd] = nil
	_ = unix.Close(c.fd)
	c.fd = -1
}

func (c *rconn) remote() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", c.ep.cfg.Address)
	return a
}

// wakeup is an idle connection waiting for its endpoint's next due device.
type wakeup struct {
	at time.Time
	c  *rconn
}

type wakeups []wakeup

func (w wakeups) Len() int           { return len(w) }
func (w wakeups) Less(i, j int) bool { return w[i].at.Before(w[j].at) }
func (w wakeups) Swap(i, j int)      { w[i], w[j] = w[j], w[i] }
func (w *wakeups) Push(x any)        { *w = append(*w, x.(wakeup)) }
func (w *wakeups) Pop() any {
	old := *w
	x := old[len(old)-1]
	*w = old[:len(old)-1]
	return x
}

// loopable reports whether the event loop serves ep: plain Modbus TCP with
// one connection.
func loopable(ep *endpoint) bool {
	return ep.cfg.RTU == nil && ep.cfg.RTUOverTCP == "" && len(ep.conns) == 1
}

// System calls that never block (non-blocking sockets, epoll_wait with a
// zero timeout) are made raw, without telling the scheduler: the
// entersyscall/exitsyscall pair costs as much as a small read, and each
// first one after a quiet spell wakes the runtime's monitor thread, which
// then polls every 20 µs for a millisecond. Only the blocking epoll_wait
// in wait goes through the scheduler.

func rawWrite(fd int, b []byte) (int, error) { return rawIO(unix.SYS_WRITE, fd, b) }

func rawRead(fd int, b []byte) (int, error) { return rawIO(unix.SYS_READ, fd, b) }

func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawEpollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	// epoll_pwait with no signal mask: epoll_wait does not exist on arm64.
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
