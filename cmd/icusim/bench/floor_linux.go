//go:build linux

package main

import (
	"fmt"
	"net"
	"runtime"
	"syscall"
	"time"
)

// epollFloor measures what the same polls cost with no Go runtime work per
// poll: one locked OS thread, raw non-blocking sockets (one per address,
// TCP_NODELAY as Go sets it) and one epoll set, requests written and
// answers read with bare system calls, the units of an address in turn,
// addresses woken in slots (as the driver's scheduler does) over the
// interval. Nothing is decoded or delivered. It returns CPU per poll and
// the polls done; the driver's number is best read against it, since both
// vary with the VM's load.
func epollFloor(p params, slots int, d time.Duration) (time.Duration, int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return 0, 0, err
	}
	defer syscall.Close(epfd)
	fds := make([]int, len(p.Addrs))
	for i := range fds {
		fds[i] = -1
	}
	defer func() {
		for _, fd := range fds {
			if fd >= 0 {
				syscall.Close(fd)
			}
		}
	}()
	for i, a := range p.Addrs {
		ta, err := net.ResolveTCPAddr("tcp4", a)
		if err != nil {
			return 0, 0, err
		}
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0, 0, err
		}
		fds[i] = fd
		sa := &syscall.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ta.IP.To4())
		if err := syscall.Connect(fd, sa); err != nil {
			return 0, 0, fmt.Errorf("floor: connect %s: %w", a, err)
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		if err := syscall.SetNonblock(fd, true); err != nil {
			return 0, 0, err
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return 0, 0, err
		}
	}
	// Read 16 holding registers from unit u: the driver's request.
	req := func(u int) []byte { return []byte{0, 1, 0, 0, 0, 6, byte(u), 3, 0, 0, 0, 16} }
	const answer = 9 + 32
	unit := make([]int, len(fds))
	got := make([]int, len(fds))
	buf := make([]byte, 512)
	evs := make([]syscall.EpollEvent, 128)
	slot := p.Interval / time.Duration(slots)
	polls := 0
	u0, s0 := cpuTime()
	start := time.Now()
	for k := 0; time.Since(start) < d; k++ {
		if w := time.Until(start.Add(time.Duration(k) * slot)); w > 0 {
			time.Sleep(w)
		}
		lo, hi := (k%slots)*len(fds)/slots, (k%slots+1)*len(fds)/slots
		pending := 0
		for i := lo; i < hi; i++ {
			unit[i], got[i] = 1, 0
			if _, err := syscall.Write(fds[i], req(1)); err != nil {
				return 0, 0, err
			}
			pending++
		}
		for pending > 0 {
			n, err := syscall.EpollWait(epfd, evs, 2000)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return 0, 0, err
			}
			if n == 0 {
				return 0, 0, fmt.Errorf("floor: no answer within 2s")
			}
			for _, e := range evs[:n] {
				i := int(e.Fd)
				m, err := syscall.Read(fds[i], buf)
				if err == syscall.EAGAIN {
					continue
				}
				if err != nil || m == 0 {
					return 0, 0, fmt.Errorf("floor: read %s: %v", p.Addrs[i], err)
				}
				if got[i] += m; got[i] < answer {
					continue
				}
				polls++
				got[i] = 0
				if unit[i] < p.PerAddress && (i*p.PerAddress+unit[i]) < p.Devices {
					unit[i]++
					if _, err := syscall.Write(fds[i], req(unit[i])); err != nil {
						return 0, 0, err
					}
				} else {
					pending--
				}
			}
		}
	}
	u, s := cpuTime()
	if polls == 0 {
		return 0, 0, fmt.Errorf("floor: no polls")
	}
	return (u - u0 + s - s0) / time.Duration(polls), polls, nil
}
