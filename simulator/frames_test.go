package simulator

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

// mbap builds a Modbus TCP request: MBAP header, function, address and
// quantity.
func mbap(tx uint16, unit, fc byte, addr, qty uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, tx)
	b = append(b, 0, 0, 0, 6, unit, fc)
	b = binary.BigEndian.AppendUint16(b, addr)
	return binary.BigEndian.AppendUint16(b, qty)
}

// readMBAP reads one Modbus TCP answer, waiting at most wait.
func readMBAP(c net.Conn, wait time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	head := make([]byte, 6)
	if _, err := io.ReadFull(c, head); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint16(head[4:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	return append(head, body...), nil
}

// rtuFrame builds an RTU request with its CRC.
func rtuFrame(unit, fc byte, addr, qty uint16) []byte {
	b := []byte{unit, fc}
	b = binary.BigEndian.AppendUint16(b, addr)
	b = binary.BigEndian.AppendUint16(b, qty)
	return binary.LittleEndian.AppendUint16(b, crc16(b))
}

// readRTU reads an RTU answer: a normal one (unit, fc, count, data, crc)
// or an exception (unit, fc|0x80, code, crc).
func readRTU(c net.Conn, wait time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	b := make([]byte, 3)
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	n := 2
	if b[1]&0x80 == 0 {
		n += int(b[2])
	}
	rest := make([]byte, n)
	if _, err := io.ReadFull(c, rest); err != nil {
		return nil, err
	}
	return append(b, rest...), nil
}

func TestCRC16KnownValue(t *testing.T) {
	t.Parallel()
	// The classic example frame: read 10 holding registers at 0 from
	// unit 1 is 01 03 00 00 00 0A C5 CD.
	if got := crc16([]byte{1, 3, 0, 0, 0, 0x0A}); got != 0xCDC5 {
		t.Errorf("crc16 = %#04x, want 0xCDC5 (bytes C5 CD on the wire)", got)
	}
}

// TestMalformedTCPRequestsDoNotCrash sends broken frames; whatever the
// server makes of each, it must go on serving well-formed requests.
func TestMalformedTCPRequestsDoNotCrash(t *testing.T) {
	t.Parallel()
	site, shared, _ := tablesSite(t)
	startSim(t, site, Options{})
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"wrong protocol id", []byte{0, 1, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1}},
		{"length zero", []byte{0, 1, 0, 0, 0, 0, 1, 3}},
		{"length larger than sent", []byte{0, 1, 0, 0, 0, 200, 1, 3, 0, 0}},
		{"length 65535", []byte{0, 1, 0, 0, 0xFF, 0xFF, 1, 3, 0, 0, 0, 1}},
		{"truncated header", []byte{0, 1, 0}},
		{"unknown function 0x2B", mbap(1, 1, 0x2B, 0, 1)},
		{"function 0", mbap(1, 1, 0, 0, 1)},
		{"quantity 0", mbap(1, 1, 3, 0, 0)},
		{"quantity 126 registers", mbap(1, 1, 3, 0, 126)},
		{"quantity 2001 coils", mbap(1, 1, 1, 0, 2001)},
		{"broadcast unit 0", mbap(1, 0, 3, 0, 1)},
		{"unit 255", mbap(1, 255, 3, 0, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", shared)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = conn.Write(c.frame)
			_, _ = readMBAP(conn, 200*time.Millisecond) // an exception, silence or a close: all fine
			conn.Close()
			got, err := dial(t, shared, 1, 2*time.Second).ReadHoldingRegisters(1, 2)
			if err != nil || !slices.Equal(got, []byte{0, 0, 0, 77}) {
				t.Fatalf("after %s: % x, %v; want the serial 77", c.name, got, err)
			}
		})
	}
}

// TestQuantityOutOfRangeTCPClosesTheLink: simonvetter's server treats an
// out-of-range quantity as a protocol error and closes the connection
// (a real device would answer exception 3, as the RTU framer does); the
// address goes on serving new connections.
func TestQuantityOutOfRangeTCPClosesTheLink(t *testing.T) {
	t.Parallel()
	site, shared, _ := tablesSite(t)
	startSim(t, site, Options{})
	for _, c := range []struct {
		fc  byte
		qty uint16
	}{{3, 0}, {3, 126}, {4, 126}, {1, 2001}, {2, 0}} {
		conn, err := net.Dial("tcp", shared)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(mbap(9, 1, c.fc, 0, c.qty)); err != nil {
			t.Fatal(err)
		}
		resp, err := readMBAP(conn, 5*time.Second)
		conn.Close()
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("fc %d qty %d: % x, %v; want the connection closed", c.fc, c.qty, resp, err)
		}
	}
	if _, err := dial(t, shared, 1, 2*time.Second).ReadHoldingRegisters(0, 125); err != nil {
		t.Errorf("quantity 125 after the refusals: %v", err)
	}
}

// rtuSite is one RTU-over-TCP address with units 1 and 2.
func rtuSite(t *testing.T) (*config.Site, string) {
	t.Helper()
	addr := freeAddr(t)
	return &config.Site{Profiles: map[string]*config.Profile{"tables": tablesProfile(t)}, Devices: []config.Device{
		{ID: "r1", Kind: "ventilator", Profile: "tables", Serial: "77", Modbus: &config.ModbusDevice{RTUOverTCP: addr, UnitID: 1}},
		{ID: "r2", Kind: "ventilator", Profile: "tables", Serial: "78", Modbus: &config.ModbusDevice{RTUOverTCP: addr, UnitID: 2}},
	}}, addr
}

// TestRTUOverTCPAnswers checks RTU frames on the wire: data answers for
// each read function, exceptions for writes, bad quantities and
// addresses, and the exception fault.
func TestRTUOverTCPAnswers(t *testing.T) {
	t.Parallel()
	site, addr := rtuSite(t)
	s := startSim(t, site, Options{})
	if err := s.SetState("r1", StateInUse); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults("r2", Faults{Exception: true}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	answer := func(unit, fc byte, data ...byte) []byte {
		b := append([]byte{unit, fc, byte(len(data))}, data...)
		return binary.LittleEndian.AppendUint16(b, crc16(b))
	}
	exception := func(unit, fc, code byte) []byte {
		b := []byte{unit, fc | 0x80, code}
		return binary.LittleEndian.AppendUint16(b, crc16(b))
	}
	for _, c := range []struct {
		name string
		req  []byte
		want []byte
	}{
		{"fc3 status and serial", rtuFrame(1, 3, 0, 3), answer(1, 3, 0, 1, 0, 0, 0, 77)},
		{"fc4 temperature", rtuFrame(1, 4, 10, 1), answer(1, 4, 0x01, 0x6E)},
		{"fc1 coils 0-9", rtuFrame(1, 1, 0, 10), answer(1, 1, 1<<3, 0)},
		{"fc2 discrete 0-7", rtuFrame(1, 2, 0, 8), answer(1, 2, 1<<5)},
		{"fc6 write refused", rtuFrame(1, 6, 0, 1), exception(1, 6, 1)},
		{"fc3 quantity 0", rtuFrame(1, 3, 0, 0), exception(1, 3, 3)},
		{"fc3 quantity 126", rtuFrame(1, 3, 0, 126), exception(1, 3, 3)},
		{"fc1 quantity 2001", rtuFrame(1, 1, 0, 2001), exception(1, 1, 3)},
		{"fc3 past 65535", rtuFrame(1, 3, 65535, 2), exception(1, 3, 2)},
		{"fc2 past 65535", rtuFrame(1, 2, 65535, 2), exception(1, 2, 2)},
		{"exception fault", rtuFrame(2, 3, 0, 1), exception(2, 3, 4)},
	} {
		if _, err := conn.Write(c.req); err != nil {
			t.Fatal(err)
		}
		got, err := readRTU(conn, 2*time.Second)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: % x, %v; want % x", c.name, got, err, c.want)
		}
	}
	if s.Writes() != 1 {
		t.Errorf("Writes() = %d, want the one fc6", s.Writes())
	}
	// fc16 carries a byte count; it is read whole and refused.
	fc16 := []byte{1, 16, 0, 0, 0, 1, 2, 0, 9}
	fc16 = binary.LittleEndian.AppendUint16(fc16, crc16(fc16))
	if _, err := conn.Write(fc16); err != nil {
		t.Fatal(err)
	}
	if got, err := readRTU(conn, 2*time.Second); err != nil || !slices.Equal(got, exception(1, 16, 1)) {
		t.Errorf("fc16: % x, %v; want exception 1", got, err)
	}
}

// TestRTUOverTCPSilences: a bad CRC, an absent unit and an offline unit
// get no answer, as on an RS-485 bus, and the connection stays usable; an
// unknown function ends the connection (its frame length is unknown).
func TestRTUOverTCPSilences(t *testing.T) {
	t.Parallel()
	site, addr := rtuSite(t)
	s := startSim(t, site, Options{})
	if err := s.SetState("r2", StateOffline); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bad := rtuFrame(1, 3, 0, 1)
	bad[7] ^= 0xFF
	for name, req := range map[string][]byte{"bad crc": bad, "absent unit 9": rtuFrame(9, 3, 0, 1)} {
		if _, err := conn.Write(req); err != nil {
			t.Fatal(err)
		}
		if got, err := readRTU(conn, 150*time.Millisecond); err == nil {
			t.Errorf("%s: answered % x", name, got)
		}
	}
	if _, err := conn.Write(rtuFrame(1, 3, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if got, err := readRTU(conn, 2*time.Second); err != nil || len(got) != 9 || got[6] != 77 {
		t.Errorf("good frame after silences: % x, %v; want the serial 77", got, err)
	}

	// The offline unit: silent until it comes back, then the held
	// request is dropped, not answered late.
	off, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.Write(rtuFrame(2, 3, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if got, err := readRTU(off, 150*time.Millisecond); err == nil {
		t.Errorf("offline unit answered % x", got)
	}
	if err := s.SetState("r2", StateStandby); err != nil {
		t.Fatal(err)
	}
	if _, err := off.Write(rtuFrame(2, 3, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if got, err := readRTU(off, 2*time.Second); err != nil || len(got) != 9 || got[6] != 78 {
		t.Errorf("unit 2 back in standby: % x, %v; want only the new request's answer, serial 78", got, err)
	}

	unknown, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer unknown.Close()
	if _, err := unknown.Write([]byte{1, 0x2B, 0, 0}); err != nil {
		t.Fatal(err)
	}
	_ = unknown.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := unknown.Read(make([]byte, 16)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("unknown function: read %d bytes, %v; want the connection closed", n, err)
	}
}

// TestRTUOverTCPCloseFault: the connection is dropped instead of an
// answer.
func TestRTUOverTCPCloseFault(t *testing.T) {
	t.Parallel()
	site, addr := rtuSite(t)
	s := startSim(t, site, Options{})
	if err := s.SetFaults("r1", Faults{Close: true}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(rtuFrame(1, 3, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := readRTU(conn, 5*time.Second); err != io.EOF {
		t.Errorf("close fault: %v; want EOF", err)
	}
	if s.Clients(addr) != 1 {
		t.Errorf("Clients = %d, want 1", s.Clients(addr))
	}
}
