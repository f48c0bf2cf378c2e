package modbus_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/simulator"
)

// openPTY opens a pseudo-terminal pair: the master for the test, the
// slave's path for the driver's serial port.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("TIOCGPTN: %v", e)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("TIOCSPTLCK: %v", e)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// TestRTUSerialLine polls two units over a real serial port (a pty),
// bridged to the simulator's RTU bus: a healthy unit and one answering
// with exceptions. This exercises goburrow/serial, the RTU framing and
// the drain on a line without transaction ids.
func TestRTUSerialLine(t *testing.T) {
	t.Parallel()
	p := statusProfile(t)
	busAddr := freeAddr(t)
	simSite := testSite(p, 2, func(i int) config.ModbusDevice {
		return config.ModbusDevice{RTUOverTCP: busAddr, UnitID: 1 + i}
	})
	sim := startSim(t, simSite, simulator.Options{})
	must(t, sim.SetFaults(simSite.Devices[1].ID, simulator.Faults{Exception: true}))

	master, slave := openPTY(t)
	bus, err := net.Dial("tcp", busAddr)
	must(t, err)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(bus, master); done <- struct{}{} }()
	go func() { _, _ = io.Copy(master, bus); done <- struct{}{} }()
	t.Cleanup(func() {
		bus.Close()
		master.Close()
		<-done
		<-done
	})

	site := testSite(p, 2, func(i int) config.ModbusDevice {
		return config.ModbusDevice{RTU: &config.RTU{Device: slave, Baud: 115200, Parity: "N"}, UnitID: 1 + i,
			Interval: 100 * time.Millisecond, Timeout: time.Second}
	})
	drv, err := modbus.New(site, modbus.Options{})
	must(t, err)
	col := newCollector()
	stop := runDriver(t, drv, col)
	all := ids(site)
	waitFor(t, 20*time.Second, "a few polls of each serial unit", func() bool {
		return col.okCount(all[0]) >= 3 && len(col.get(all[1])) >= 3
	}, func() string { return col.summary(all...) })
	stop()
	if ok, failed := checkIdentity(t, p, 0, col.get(site.Devices[0].ID)); ok < 3 || failed > 0 {
		t.Errorf("healthy serial unit: %d ok, %d failed", ok, failed)
	}
	recs := col.get(site.Devices[1].ID)
	if len(recs) == 0 {
		t.Fatal("no observations of the exception unit")
	}
	checkExceptions(t, "exception serial unit", recs)
}
