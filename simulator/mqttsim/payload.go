package mqttsim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
)

// Payload builds the status message a device of profile p publishes in
// state: the profile's simulate values for that state, encoded at their
// dotted paths (the inverse of the gateway's decoding), the device's
// expected serial at the serial value, and now at the profile's time path.
// Values the state does not list are 0, false or "".
func Payload(p *config.Profile, dev *config.Device, state string, now time.Time) ([]byte, error) {
	vals := p.Simulate[state]
	root := map[string]any{}
	for i := range p.Values {
		v := &p.Values[i]
		x, listed := vals[v.Name]
		if p.Serial != "" && v.Name == p.Serial && dev.Serial != "" {
			x, listed = dev.Serial, true
		}
		raw, err := encodeValue(v, x, listed)
		if err != nil {
			return nil, fmt.Errorf("profile %s state %s: %w", p.Name, state, err)
		}
		segs := strings.Split(v.Path, ".")
		if v.Bit != nil {
			prev, _ := get(root, segs).(uint64)
			if raw.(bool) {
				prev |= 1 << uint(*v.Bit)
			}
			raw = prev
		}
		if err := set(root, segs, raw); err != nil {
			return nil, fmt.Errorf("profile %s value %s: %w", p.Name, v.Name, err)
		}
	}
	if p.TimePath != "" {
		if err := set(root, strings.Split(p.TimePath, "."), now.UTC().Format(time.RFC3339Nano)); err != nil {
			return nil, fmt.Errorf("profile %s time_path: %w", p.Name, err)
		}
	}
	for k, v := range root { // the root stays an object
		root[k] = arrays(v)
	}
	return json.Marshal(root)
}

// encodeValue turns a decoded (engineering) value into what the device
// sends: raw = (value - offset) / scale, rounded for integer types.
func encodeValue(v *config.Value, x any, listed bool) (any, error) {
	if v.Bit != nil {
		if !listed {
			return false, nil
		}
		f, err := toFloat(x)
		return f != 0, err
	}
	switch v.Type {
	case config.TypeString:
		if !listed {
			return "", nil
		}
		return fmt.Sprint(x), nil
	case config.TypeBool:
		if !listed {
			return false, nil
		}
		f, err := toFloat(x)
		return f != 0, err
	}
	f := 0.0
	if listed {
		var err error
		if f, err = toFloat(x); err != nil {
			return nil, fmt.Errorf("value %s: %w", v.Name, err)
		}
	}
	scale := 1.0
	if v.Scale != nil && *v.Scale != 0 {
		scale = *v.Scale
	}
	raw := (f - v.Offset) / scale
	switch v.Type {
	case config.TypeFloat32, config.TypeFloat64:
		return raw, nil
	}
	return math.Round(raw), nil
}

func toFloat(x any) (float64, error) {
	switch n := x.(type) {
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	case float64:
		return n, nil
	case bool:
		if n {
			return 1, nil
		}
		return 0, nil
	case string:
		return strconv.ParseFloat(n, 64)
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("simulate value %v (%T) is not a number", x, x)
}

func get(root map[string]any, segs []string) any {
	cur := any(root)
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[s]
	}
	return cur
}

func set(root map[string]any, segs []string, val any) error {
	cur := root
	for _, s := range segs[:len(segs)-1] {
		next, ok := cur[s]
		if !ok {
			m := map[string]any{}
			cur[s] = m
			cur = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("path segment %q is both a value and an object", s)
		}
		cur = m
	}
	cur[segs[len(segs)-1]] = val
	return nil
}

// arrays turns objects whose keys are exactly 0..n-1 into JSON arrays, so
// a path like alarms.0.code is sent as {"alarms":[{"code":...}]}.
func arrays(x any) any {
	m, ok := x.(map[string]any)
	if !ok {
		return x
	}
	for k, v := range m {
		m[k] = arrays(v)
	}
	if len(m) == 0 {
		return m
	}
	list := make([]any, len(m))
	for k, v := range m {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(m) || strconv.Itoa(i) != k {
			return m
		}
		list[i] = v
	}
	return list
}
