package modbus

import (
	"fmt"
	"sort"

	"github.com/icugate/icugate/config"
)

// Protocol limits of one read request (Modbus Application Protocol 1.1b3,
// functions 1-4).
const (
	maxRegisters = 125
	maxBits      = 2000
	// DefaultMaxGap is how many unused registers (or bits) a coalesced
	// read bridges when the profile does not say.
	DefaultMaxGap = 8
)

// Read-only function codes: the only ones this driver ever sends.
const (
	fcReadCoils          byte = 1
	fcReadDiscreteInputs byte = 2
	fcReadHolding        byte = 3
	fcReadInput          byte = 4
)

// Request is one read the planner builds: a function code, a start address
// and a quantity of registers or bits.
type Request struct {
	Function byte
	Address  uint16
	Quantity uint16
}

// bits reports whether the request reads a bit table.
func (r Request) bits() bool {
	return r.Function == fcReadCoils || r.Function == fcReadDiscreteInputs
}

// dataBytes is the size of the answer's data: two bytes a register, or
// the bits packed eight to a byte.
func (r Request) dataBytes() int {
	if r.bits() {
		return (int(r.Quantity) + 7) / 8
	}
	return int(r.Quantity) * 2
}

// failed names the request in an error about it.
func (r Request) failed(err error) error {
	return fmt.Errorf("read function %d address %d quantity %d: %w", r.Function, r.Address, r.Quantity, err)
}

// checkDataBytes refuses answer data of any other size than r asked for.
func (r Request) checkDataBytes(data []byte) error {
	if want := r.dataBytes(); len(data) != want {
		return &FrameError{Detail: fmt.Sprintf("function %d at %d: got %d data bytes, want %d for %d items",
			r.Function, r.Address, len(data), want, r.Quantity)}
	}
	return nil
}

// slot is where one value's data sits in the answers of a plan.
type slot struct {
	req    int // index into Plan.Requests
	offset int // registers (or bits) from the request's start
	count  int // registers (0 for bits)
}

// Plan is the fixed set of reads for one profile, built once: values of a
// table that lie close together are fetched by one request (bridging gaps
// of up to MaxGap unused registers or bits), within the protocol's limit of
// 125 registers or 2000 bits per request.
type Plan struct {
	Requests []Request
	slots    []slot
	serial   int // index of the profile's serial value, -1 if none
}

// tableFunction maps a table to its read function code.
func tableFunction(table string) (byte, error) {
	switch table {
	case config.TableCoil:
		return fcReadCoils, nil
	case config.TableDiscrete:
		return fcReadDiscreteInputs, nil
	case config.TableHolding:
		return fcReadHolding, nil
	case config.TableInput:
		return fcReadInput, nil
	}
	return 0, fmt.Errorf("unknown table %q (want coil, discrete, holding or input)", table)
}

// checkValue rejects what the decoder could not handle.
func checkValue(v *config.Value) error {
	if v.Address == nil {
		return fmt.Errorf("value %s: no address", v.Name)
	}
	bitTable := v.Table == config.TableCoil || v.Table == config.TableDiscrete
	if bitTable && v.Type != "" && v.Type != config.TypeBool {
		return fmt.Errorf("value %s: table %s holds bits, type must be bool", v.Name, v.Table)
	}
	switch v.Order {
	case "", config.OrderABCD, config.OrderCDAB, config.OrderBADC, config.OrderDCBA:
	default:
		return fmt.Errorf("value %s: unknown order %q", v.Name, v.Order)
	}
	if !bitTable {
		switch v.Type {
		case "", config.TypeBool, config.TypeInt16, config.TypeUint16, config.TypeInt32, config.TypeUint32,
			config.TypeFloat32, config.TypeInt64, config.TypeUint64, config.TypeFloat64:
		case config.TypeString:
			if v.Length < 1 || v.Length > maxRegisters {
				return fmt.Errorf("value %s: string length %d must be 1..%d registers", v.Name, v.Length, maxRegisters)
			}
		default:
			return fmt.Errorf("value %s: unknown type %q", v.Name, v.Type)
		}
		if v.Bit != nil && (*v.Bit < 0 || *v.Bit >= 16*v.Registers() || v.Type == config.TypeString) {
			return fmt.Errorf("value %s: bit %d outside the value's %d bits", v.Name, *v.Bit, 16*v.Registers())
		}
	}
	n := v.Registers()
	if n == 0 {
		n = 1
	}
	if *v.Address < 0 || *v.Address+n > 65536 {
		return fmt.Errorf("value %s: address %d (+%d) outside 0..65535", v.Name, *v.Address, n)
	}
	return nil
}

// NewPlan builds the coalesced reads for a modbus profile.
func NewPlan(p *config.Profile) (*Plan, error) {
	gap := DefaultMaxGap
	if p.MaxGap != nil && *p.MaxGap >= 0 {
		gap = *p.MaxGap
	}
	type span struct {
		value      int
		start, end int // [start, end)
	}
	byTable := map[byte][]span{}
	for i := range p.Values {
		v := &p.Values[i]
		fc, err := tableFunction(v.Table)
		if err != nil {
			return nil, fmt.Errorf("profile %s: value %s: %w", p.Name, v.Name, err)
		}
		if err := checkValue(v); err != nil {
			return nil, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		n := v.Registers()
		if n == 0 {
			n = 1
		}
		byTable[fc] = append(byTable[fc], span{value: i, start: *v.Address, end: *v.Address + n})
	}
	plan := &Plan{slots: make([]slot, len(p.Values)), serial: -1}
	if p.Serial != "" {
		plan.serial = p.Index(p.Serial)
	}
	for _, fc := range []byte{fcReadCoils, fcReadDiscreteInputs, fcReadHolding, fcReadInput} {
		spans := byTable[fc]
		if len(spans) == 0 {
			continue
		}
		limit := maxRegisters
		if fc == fcReadCoils || fc == fcReadDiscreteInputs {
			limit = maxBits
		}
		sort.SliceStable(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
		cur := -1
		var start, end int
		for _, s := range spans {
			if cur >= 0 && s.start-end <= gap && max(end, s.end)-start <= limit {
				end = max(end, s.end)
			} else {
				if cur >= 0 {
					plan.Requests[cur].Quantity = uint16(end - start)
				}
				plan.Requests = append(plan.Requests, Request{Function: fc, Address: uint16(s.start)})
				cur = len(plan.Requests) - 1
				start, end = s.start, s.end
			}
			v := &p.Values[s.value]
			plan.slots[s.value] = slot{req: cur, offset: s.start - start, count: v.Registers()}
		}
		plan.Requests[cur].Quantity = uint16(end - start)
	}
	return plan, nil
}
