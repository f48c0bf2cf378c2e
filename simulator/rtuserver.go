package simulator

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
)

// rtuServer is a serial converter in "raw TCP server" mode with RTU
// devices behind it: RTU frames (unit, function, data, CRC) straight over
// TCP. A unit that is offline, absent, or sees a bad CRC stays silent, as
// on a real RS-485 bus.
type rtuServer struct {
	ep *endpointServer
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func listenRTU(ep *endpointServer) (*rtuServer, error) {
	ln, err := net.Listen("tcp", ep.addr)
	if err != nil {
		return nil, err
	}
	s := &rtuServer{ep: ep, ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *rtuServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *rtuServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serve answers request frames until the connection ends.
func (s *rtuServer) serve(c net.Conn) {
	client := c.RemoteAddr().String()
	var buf [260]byte
	for {
		n, err := readRTURequest(c, buf[:])
		if err != nil {
			return
		}
		frame := buf[:n]
		if crc16(frame[:n-2]) != binary.LittleEndian.Uint16(frame[n-2:]) {
			continue // garbled: a real device ignores it
		}
		resp, closeConn := s.respond(frame, client)
		if closeConn {
			return
		}
		if resp != nil {
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}
}

// readRTURequest reads one request frame. Requests of functions 1-6 are 8
// bytes; 15 and 16 carry a byte count. Anything else ends the connection.
func readRTURequest(r io.Reader, b []byte) (int, error) {
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return 0, err
	}
	switch fc := b[1]; {
	case fc >= 1 && fc <= 6:
		_, err := io.ReadFull(r, b[2:8])
		return 8, err
	case fc == 15 || fc == 16:
		if _, err := io.ReadFull(r, b[2:7]); err != nil {
			return 0, err
		}
		n := 7 + int(b[6]) + 2
		_, err := io.ReadFull(r, b[7:n])
		return n, err
	}
	return 0, errors.New("unsupported rtu function")
}

// respond builds the answer frame to one valid request; nil means silence.
func (s *rtuServer) respond(req []byte, client string) (resp []byte, closeConn bool) {
	unit, fc := req[0], req[1]
	if fc > 4 {
		s.ep.sim.writes.Add(1)
		return rtuException(unit, fc, 1), false
	}
	addr := binary.BigEndian.Uint16(req[2:])
	qty := binary.BigEndian.Uint16(req[4:])
	d, v, err := s.ep.gate(unit, client)
	switch {
	case v == drop:
		return nil, true
	case errors.Is(err, errNoAnswer):
		return nil, false
	case err != nil:
		return rtuException(unit, fc, 4), false
	}
	var data []byte
	switch fc {
	case 1, 2:
		if qty == 0 || qty > 2000 {
			return rtuException(unit, fc, 3), false
		}
		bits, err := d.readBits(fc == 2, addr, qty)
		if err != nil {
			return rtuException(unit, fc, 2), false
		}
		data = make([]byte, (len(bits)+7)/8)
		for k, on := range bits {
			if on {
				data[k/8] |= 1 << uint(k%8)
			}
		}
	default:
		if qty == 0 || qty > 125 {
			return rtuException(unit, fc, 3), false
		}
		regs, err := d.readRegisters(fc == 4, addr, qty)
		if err != nil {
			return rtuException(unit, fc, 2), false
		}
		data = make([]byte, 2*len(regs))
		for k, r := range regs {
			binary.BigEndian.PutUint16(data[2*k:], r)
		}
	}
	s.ep.answered(d, nil)
	out := append([]byte{unit, fc, byte(len(data))}, data...)
	return binary.LittleEndian.AppendUint16(out, crc16(out)), false
}

func rtuException(unit, fc, code byte) []byte {
	out := []byte{unit, fc | 0x80, code}
	return binary.LittleEndian.AppendUint16(out, crc16(out))
}

// crc16 is the Modbus RTU CRC (polynomial 0xA001 reflected, init 0xFFFF).
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc ^= uint16(x)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
