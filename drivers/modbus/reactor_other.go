//go:build !linux

package modbus

import (
	"context"
	"errors"
	"log/slog"

	"github.com/icugate/icugate/pipeline"
)

// The event loop is Linux-only; elsewhere every endpoint has workers.

type reactor struct{}

func newReactor(*slog.Logger, pipeline.Intake) (*reactor, error) {
	return nil, errors.New("the modbus event loop needs Linux")
}

func (*reactor) run(context.Context, []*endpoint) {}

func loopable(*endpoint) bool { return false }
