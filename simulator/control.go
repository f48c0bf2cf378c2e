package simulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
)

// FaultSetter is a backend that can also switch faults (the Modbus
// simulator can; others may not).
type FaultSetter interface {
	SetFaults(id string, f Faults) error
}

// Control is the simulator's HTTP control API over one or more backends:
//
//	GET /devices                      list every simulated device
//	PUT /devices/{id}/state           {"state":"in_use"|"standby"|"fault"|"maintenance"|"offline"}
//	PUT /devices/{id}/faults          {"late":bool,"late_every":N,"exception":bool,"close":bool}
//
// A request for a device goes to the first backend that simulates it.
type Control struct {
	backends []Backend
	mux      *http.ServeMux
}

// NewControl builds the control API over backends.
func NewControl(backends ...Backend) *Control {
	c := &Control{backends: backends, mux: http.NewServeMux()}
	c.mux.HandleFunc("GET /devices", c.list)
	c.mux.HandleFunc("PUT /devices/{id}/state", c.state)
	c.mux.HandleFunc("PUT /devices/{id}/faults", c.faults)
	return c
}

// ServeHTTP serves the control API.
func (c *Control) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Devices lists the devices of every backend, by id.
func (c *Control) Devices() []DeviceInfo {
	all := []DeviceInfo{}
	for _, b := range c.backends {
		all = append(all, b.Devices()...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

func (c *Control) list(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, c.Devices())
}

// SetState dispatches a state change to the backend simulating the device.
func (c *Control) SetState(id, state string) error {
	if !ValidState(state) {
		return errors.New("unknown state " + state + " (want in_use, standby, fault, maintenance or offline)")
	}
	for _, b := range c.backends {
		err := b.SetState(id, state)
		if !errors.Is(err, ErrUnknownDevice) {
			return err
		}
	}
	return ErrUnknownDevice
}

func (c *Control) state(w http.ResponseWriter, r *http.Request) {
	var body struct {
		State string `json:"state"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	err := c.SetState(r.PathValue("id"), body.State)
	reply(w, err, body)
}

func (c *Control) faults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !readJSON(w, r, &f) {
		return
	}
	id := r.PathValue("id")
	err := error(ErrUnknownDevice)
	for _, b := range c.backends {
		fs, ok := b.(FaultSetter)
		if !ok {
			continue
		}
		if err = fs.SetFaults(id, f); !errors.Is(err, ErrUnknownDevice) {
			break
		}
	}
	reply(w, err, f)
}

func reply(w http.ResponseWriter, err error, body any) {
	switch {
	case errors.Is(err, ErrUnknownDevice):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
