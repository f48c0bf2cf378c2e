package gateway

import (
	"context"

	"github.com/icugate/icugate/pipeline"
)

// intakeSize bounds the observations waiting for the engine. The engine
// takes well over a million observations a second, so the queue is only
// ever full when the box is badly overloaded; then Offer waits rather than
// drops: a poll delayed is better than a state change lost, and waiting
// pushes back on drivers (each device has its own poll loop, so one
// waiting device delays no other's network I/O).
const intakeSize = 8192

// intake is the bounded queue between drivers and the engine loop. It
// implements pipeline.Intake.
type intake struct {
	ch chan pipeline.Observation
}

func newIntake() *intake {
	return &intake{ch: make(chan pipeline.Observation, intakeSize)}
}

// Offer queues o, waiting while the queue is full, until ctx ends.
func (in *intake) Offer(ctx context.Context, o pipeline.Observation) error {
	select {
	case in.ch <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
