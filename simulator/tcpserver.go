package simulator

import (
	"errors"
	"io"
	"log"
	"sync"
	"time"

	mb "github.com/simonvetter/modbus"
)

// offlineHold is how long an offline device keeps a request unanswered
// before letting go of it (the client has long given up by then).
const offlineHold = 30 * time.Second

// endpointServer serves one address: Modbus TCP through simonvetter's
// server, or RTU over TCP through our own framer (simonvetter v1.6.4 serves
// only tcp and tcp+tls).
type endpointServer struct {
	sim   *Simulator
	addr  string
	rtu   bool
	units map[uint8]*device

	mu      sync.Mutex
	clients map[string]bool
	ms      *mb.ModbusServer // tcp
	rtuSrv  *rtuServer       // rtu over tcp
}

func (ep *endpointServer) start() error {
	if ep.rtu {
		srv, err := listenRTU(ep)
		if err != nil {
			return err
		}
		ep.rtuSrv = srv
		return nil
	}
	ms, err := ep.newTCPServer()
	if err != nil {
		return err
	}
	ep.mu.Lock()
	ep.ms = ms
	ep.mu.Unlock()
	return nil
}

// newTCPServer starts a Modbus TCP server on the endpoint's address.
func (ep *endpointServer) newTCPServer() (*mb.ModbusServer, error) {
	ms, err := mb.NewServer(&mb.ServerConfiguration{
		URL:        "tcp://" + ep.addr,
		Timeout:    5 * time.Minute,
		MaxClients: ep.sim.opts.MaxClients,
		Logger:     log.New(io.Discard, "", 0),
	}, tcpHandler{ep})
	if err != nil {
		return nil, err
	}
	if err := ms.Start(); err != nil {
		return nil, err
	}
	return ms, nil
}

func (ep *endpointServer) close() {
	if ep.rtuSrv != nil {
		ep.rtuSrv.close()
	}
	ep.mu.Lock()
	ms := ep.ms
	ep.mu.Unlock()
	if ms != nil {
		_ = ms.Stop()
	}
}

// dropConnections closes every client connection of a TCP endpoint (the
// "close" fault) by restarting its server.
func (ep *endpointServer) dropConnections() {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	select {
	case <-ep.sim.done:
		return
	default:
	}
	// A new server, not Stop and Start of the same one: simonvetter's
	// Stop does not wait for its accept goroutine, which then reads the
	// listener field that Start rewrites (a data race seen under -race).
	_ = ep.ms.Stop()
	ms, err := ep.newTCPServer()
	if err != nil {
		ep.sim.log.Error("restart simulated endpoint", "address", ep.addr, "err", err)
		return
	}
	ep.ms = ms
}

// outcome of gating one request.
var errNoAnswer = errors.New("no answer")

// gate applies a unit's state and faults to one request. It returns the
// device to read from, or the error to answer with; errNoAnswer means stay
// silent (RTU) and drop means close the connection.
func (ep *endpointServer) gate(unit uint8, client string) (*device, verdict, error) {
	ep.mu.Lock()
	ep.clients[client] = true
	ep.mu.Unlock()
	d := ep.units[unit]
	if d == nil {
		return nil, silent, errNoAnswer
	}
	v, delay, changed := d.decide()
	switch v {
	case silent:
		ep.sim.wait(offlineHold, changed)
		return nil, silent, errNoAnswer
	case drop:
		return nil, drop, errNoAnswer
	case exception:
		return nil, exception, mb.ErrServerDeviceFailure
	}
	if delay > 0 && !ep.sim.wait(delay, nil) {
		return nil, silent, errNoAnswer
	}
	return d, answer, nil
}

// answered reports a read answered with data to Options.OnRead.
func (ep *endpointServer) answered(d *device, err error) {
	if err == nil && ep.sim.opts.OnRead != nil {
		ep.sim.opts.OnRead(d.cfg.ID, time.Now())
	}
}

// tcpHandler is simonvetter's request handler for one TCP endpoint.
type tcpHandler struct{ ep *endpointServer }

// tcpErr maps a gate verdict to what simonvetter's server can do: it
// always answers, so silence becomes "gateway target failed to respond"
// (sent only after the hold, when the client has gone), and a drop
// restarts the endpoint's server to close its connections.
func (h tcpHandler) tcpErr(v verdict, err error) error {
	switch v {
	case drop:
		h.ep.dropConnections()
		return mb.ErrGWTargetFailedToRespond
	case silent:
		return mb.ErrGWTargetFailedToRespond
	}
	return err
}

func mapReadErr(err error) error {
	if errors.Is(err, errIllegalAddress) {
		return mb.ErrIllegalDataAddress
	}
	return err
}

// HandleCoils serves function 1 (and refuses writes).
func (h tcpHandler) HandleCoils(req *mb.CoilsRequest) ([]bool, error) {
	if req.IsWrite {
		h.ep.sim.writes.Add(1)
		return nil, mb.ErrIllegalFunction
	}
	d, v, err := h.ep.gate(req.UnitId, req.ClientAddr)
	if err != nil {
		return nil, h.tcpErr(v, err)
	}
	out, err := d.readBits(false, req.Addr, req.Quantity)
	h.ep.answered(d, err)
	return out, mapReadErr(err)
}

// HandleDiscreteInputs serves function 2.
func (h tcpHandler) HandleDiscreteInputs(req *mb.DiscreteInputsRequest) ([]bool, error) {
	d, v, err := h.ep.gate(req.UnitId, req.ClientAddr)
	if err != nil {
		return nil, h.tcpErr(v, err)
	}
	out, err := d.readBits(true, req.Addr, req.Quantity)
	h.ep.answered(d, err)
	return out, mapReadErr(err)
}

// HandleHoldingRegisters serves function 3 (and refuses writes).
func (h tcpHandler) HandleHoldingRegisters(req *mb.HoldingRegistersRequest) ([]uint16, error) {
	if req.IsWrite {
		h.ep.sim.writes.Add(1)
		return nil, mb.ErrIllegalFunction
	}
	d, v, err := h.ep.gate(req.UnitId, req.ClientAddr)
	if err != nil {
		return nil, h.tcpErr(v, err)
	}
	out, err := d.readRegisters(false, req.Addr, req.Quantity)
	h.ep.answered(d, err)
	return out, mapReadErr(err)
}

// HandleInputRegisters serves function 4.
func (h tcpHandler) HandleInputRegisters(req *mb.InputRegistersRequest) ([]uint16, error) {
	d, v, err := h.ep.gate(req.UnitId, req.ClientAddr)
	if err != nil {
		return nil, h.tcpErr(v, err)
	}
	out, err := d.readRegisters(true, req.Addr, req.Quantity)
	h.ep.answered(d, err)
	return out, mapReadErr(err)
}

var _ mb.RequestHandler = tcpHandler{}
