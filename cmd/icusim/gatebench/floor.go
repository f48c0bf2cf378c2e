//go:build linux

package main

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"sync/atomic"
	"time"

	gb "github.com/goburrow/modbus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
)

// floorAddress is one address of the floor: goburrow's TCP handler (one
// connection) shared by the devices behind it, as the gateway shares one
// connection per address. The handler's unit id is a field of its
// packager, so a device sets it and reads under mu.
type floorAddress struct {
	mu     sync.Mutex
	h      *gb.TCPClientHandler
	client gb.Client
}

// slotOffset is when in the interval an address' devices start: in the
// gateway driver's slots of modbus.StartSlot, by a hash of the address,
// so that the floor wakes in bursts as the driver does (the same polls
// spread thinly over the interval cost the runtime and the kernel a
// wake-up each, about four times the CPU at 1,000 devices).
func slotOffset(addr string, interval time.Duration) time.Duration {
	slots := uint64(interval / modbus.StartSlot)
	if slots <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(addr))
	return time.Duration(h.Sum64()%slots) * modbus.StartSlot
}

// runFloor is the floor child: the plainest Go poller of the same site,
// github.com/goburrow/modbus v0.1.0 from one goroutine per device, each
// reading the bench profile's 16 holding registers every interval and
// doing nothing with the answer. Its CPU is what polling costs a Go
// program before any decoding, state or output. It runs until its
// standard input closes.
func runFloor(sitePath string) int {
	site, err := config.Load(sitePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench floor:", err)
		return 1
	}
	addrs := map[string]*floorAddress{}
	var devs []*config.Device
	for i := range site.Devices {
		m := site.Devices[i].Modbus
		if m == nil || m.Address == "" {
			continue
		}
		if addrs[m.Address] == nil {
			h := gb.NewTCPClientHandler(m.Address)
			h.Timeout = m.Timeout
			h.IdleTimeout = 0
			addrs[m.Address] = &floorAddress{h: h, client: gb.NewClient(h)}
		}
		devs = append(devs, &site.Devices[i])
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var polls, errs atomic.Int64
	for _, d := range devs {
		a := addrs[d.Modbus.Address]
		unit := byte(d.Modbus.UnitID)
		iv := d.Modbus.Interval
		offset := slotOffset(d.Modbus.Address, iv)
		wg.Go(func() {
			select {
			case <-time.After(offset):
			case <-stop:
				return
			}
			tick := time.NewTicker(iv)
			defer tick.Stop()
			for {
				a.mu.Lock()
				a.h.SlaveId = unit
				_, err := a.client.ReadHoldingRegisters(0, benchRegisters)
				if err != nil {
					_ = a.h.Close() // dial afresh, as the gateway does after an error
					errs.Add(1)
				}
				a.mu.Unlock()
				polls.Add(1)
				select {
				case <-tick.C:
				case <-stop:
					return
				}
			}
		})
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
	}
	close(stop)
	wg.Wait()
	for _, a := range addrs {
		_ = a.h.Close()
	}
	fmt.Fprintf(os.Stderr, "floor: %d polls, %d errors\n", polls.Load(), errs.Load())
	return 0
}
