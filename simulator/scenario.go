package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Step is one timed state change of a scenario.
//
// A scenario file is a YAML list of steps, played in order; each step's
// "after" is the wait since the previous step (the first: since start):
//
//   - after: 30s
//     device: vent-1
//     state: in_use
//   - after: 1m
//     device: vent-1
//     state: offline
type Step struct {
	After  time.Duration `yaml:"after"`
	Device string        `yaml:"device"`
	State  string        `yaml:"state"`
	Line   int           `yaml:"-"`
}

// LoadScenario reads and checks a scenario file; errors name file and line.
func LoadScenario(path string) ([]Step, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: a scenario is a list of {after, device, state}", path, list.Line)
	}
	var steps []Step
	var errs []error
	for _, n := range list.Content {
		var s Step
		dec := n.Decode
		if err := strictDecode(n, &s, dec); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, n.Line, err))
			continue
		}
		s.Line = n.Line
		switch {
		case s.After < 0:
			errs = append(errs, fmt.Errorf("%s:%d: after must not be negative", path, n.Line))
		case s.Device == "":
			errs = append(errs, fmt.Errorf("%s:%d: device is missing", path, n.Line))
		case !ValidState(s.State):
			errs = append(errs, fmt.Errorf("%s:%d: unknown state %q (want in_use, standby, fault, maintenance or offline)", path, n.Line, s.State))
		}
		steps = append(steps, s)
	}
	return steps, errors.Join(errs...)
}

// strictDecode rejects unknown keys in a step.
func strictDecode(n *yaml.Node, s *Step, dec func(any) error) error {
	if n.Kind != yaml.MappingNode {
		return errors.New("a step is a mapping {after, device, state}")
	}
	for i := 0; i < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "after", "device", "state":
		default:
			return fmt.Errorf("unknown key %q (want after, device, state)", k)
		}
	}
	return dec(s)
}

// Play applies the steps in order until done or ctx ends. A step naming a
// device no backend simulates is logged and skipped.
func Play(ctx context.Context, steps []Step, set func(id, state string) error, log *slog.Logger) error {
	for _, s := range steps {
		t := time.NewTimer(s.After)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := set(s.Device, s.State); err != nil {
			log.Warn("scenario step failed", "line", s.Line, "device", s.Device, "state", s.State, "err", err)
			continue
		}
		log.Info("scenario step", "device", s.Device, "state", s.State)
	}
	return nil
}
