package modbus

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

// answers holds the data bytes of every request of a plan, reused poll
// after poll.
type answers [][]byte

func newAnswers(p *Plan) answers {
	a := make(answers, len(p.Requests))
	for i, r := range p.Requests {
		a[i] = make([]byte, r.dataBytes())
	}
	return a
}

// readAll runs every request of the plan on one connection. It stops at
// the first error.
func readAll(ctx context.Context, c conn, unit byte, p *Plan, timeout time.Duration, a answers) error {
	for i, r := range p.Requests {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := c.read(unit, r, timeout)
		if err != nil {
			return r.failed(err)
		}
		copy(a[i], data)
	}
	return nil
}

// rawOf returns the raw registers of value i (or its bit as 0/1) from the
// answers. regs must have room for 125 registers.
func (p *Plan) rawOf(i int, a answers, regs []uint16) []uint16 {
	s := p.slots[i]
	data := a[s.req]
	if s.count == 0 {
		bit := data[s.offset/8] >> uint(s.offset%8) & 1
		return append(regs[:0], uint16(bit))
	}
	regs = regs[:s.count]
	for k := range regs {
		regs[k] = binary.BigEndian.Uint16(data[2*(s.offset+k):])
	}
	return regs
}

// decodeValue decodes value i of the profile from the answers.
func (p *Plan) decodeValue(prof *config.Profile, i int, a answers, order string) (decoded, error) {
	// A small buffer for the usual values of up to four registers, so
	// that a poll does not clear a string-sized one per value.
	var small [4]uint16
	var raw []uint16
	if p.slots[i].count <= len(small) {
		raw = p.rawOf(i, a, small[:])
	} else {
		var buf [maxRegisters]uint16
		raw = p.rawOf(i, a, buf[:])
	}
	v := &prof.Values[i]
	if p.slots[i].count == 0 {
		return decodeBit(raw[0] == 1), nil
	}
	return decodeRegisters(v, raw, order)
}

// decodeAll fills samples (positioned as prof.Values) from the answers,
// checks every range and extracts the serial. A value out of range makes
// the whole observation an error.
func (p *Plan) decodeAll(prof *config.Profile, a answers, samples []rules.Sample, sc *serialCache) (serial string, err error) {
	for i := range prof.Values {
		v := &prof.Values[i]
		d, err := p.decodeValue(prof, i, a, v.Order)
		if err != nil {
			return "", err
		}
		if !inRange(v, d.sample) {
			return "", &RangeError{Value: v.Name, Got: d.sample.Num, Min: v.Range[0], Max: v.Range[1]}
		}
		samples[i] = d.sample
		if i == p.serial {
			serial = sc.of(d)
		}
	}
	return serial, nil
}

// Reading is the result of ReadOnce: every value with its raw data.
type Reading struct {
	Device string
	Time   time.Time
	Values []ValueReading
	// Samples are the decoded values positioned as the profile's Values,
	// ready for Profile.Derive.
	Samples []rules.Sample
	// Serial is the serial the device reported ("" if the profile has none).
	Serial string
	// Requests are the reads that were sent.
	Requests []Request
}

// ValueReading is one value of a Reading.
type ValueReading struct {
	Name    string
	Table   string
	Address int
	Type    string
	Order   string
	// Raw are the value's registers in address order, or one 0/1 for a
	// bit table.
	Raw     []uint16
	Sample  rules.Sample
	Unit    string
	InRange bool
}

// ReadOnce reads one device once over a fresh connection, for
// commissioning (icugate probe). Values out of range are reported, not
// failed; the error is set only when the read itself failed.
func ReadOnce(ctx context.Context, dev *config.Device, prof *config.Profile) (Reading, error) {
	if dev.Modbus == nil {
		return Reading{}, fmt.Errorf("device %s: no modbus block", dev.ID)
	}
	plan, err := NewPlan(prof)
	if err != nil {
		return Reading{}, fmt.Errorf("device %s: %w", dev.ID, err)
	}
	timeout := dev.Modbus.Timeout
	if timeout <= 0 {
		timeout = config.DefaultModbusTimeout
	}
	c, err := dial(ctx, dev.Modbus, timeout)
	if err != nil {
		return Reading{}, fmt.Errorf("device %s: connect %s: %w", dev.ID, dev.Modbus.Endpoint(), err)
	}
	defer c.close()
	a := newAnswers(plan)
	if err := readAll(ctx, c, byte(dev.Modbus.UnitID), plan, timeout, a); err != nil {
		return Reading{}, fmt.Errorf("device %s: %w", dev.ID, err)
	}
	r := Reading{Device: dev.ID, Time: time.Now(), Requests: plan.Requests, Samples: make([]rules.Sample, len(prof.Values))}
	for i := range prof.Values {
		v := &prof.Values[i]
		var buf [maxRegisters]uint16
		raw := append([]uint16(nil), plan.rawOf(i, a, buf[:])...)
		d, err := plan.decodeValue(prof, i, a, v.Order)
		if err != nil {
			return r, fmt.Errorf("device %s: %w", dev.ID, err)
		}
		r.Samples[i] = d.sample
		if v.Name == prof.Serial {
			r.Serial = serialString(d)
		}
		r.Values = append(r.Values, ValueReading{
			Name: v.Name, Table: v.Table, Address: *v.Address, Type: v.Type, Order: v.Order,
			Raw: raw, Sample: d.sample, Unit: v.Unit, InRange: inRange(v, d.sample),
		})
	}
	return r, nil
}

// DecodeAs decodes a value's raw registers under a given word/byte order,
// so that a commissioning engineer can see which order gives plausible
// numbers.
func DecodeAs(v *config.Value, raw []uint16, order string) (rules.Sample, error) {
	if v.Table == config.TableCoil || v.Table == config.TableDiscrete {
		return decodeBit(len(raw) > 0 && raw[0] == 1).sample, nil
	}
	d, err := decodeRegisters(v, raw, order)
	return d.sample, err
}
