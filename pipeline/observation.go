// Package pipeline is the device-state and bed-capacity engine. It is pure
// and deterministic: no I/O, no goroutines of its own, and its clock is the
// time carried by the events it is fed. The same events in the same order
// always give the same snapshot, which is what makes the counts testable.
package pipeline

import (
	"context"
	"time"

	"github.com/icugate/icugate/rules"
)

// Observation is one poll result or one message from a device: either its
// decoded values or the error that prevented decoding.
type Observation struct {
	// Device is the device id from the site config.
	Device string
	// Time is when the values held: the device's own timestamp when it
	// carries a trusted one, else the receipt time.
	Time time.Time
	// Values are positioned as the device profile's Values. Offer hands
	// the slice over: the driver must not modify it afterwards (the
	// observation may wait in a queue); the engine copies what it keeps.
	Values []rules.Sample
	// Serial is the identity the device reported, "" if not read.
	Serial string
	// Err is set when the poll or message failed; Values is then ignored.
	Err error
	// Ack, when set, is called once the observation has been taken by the
	// pipeline (and, with a durable outbox, once the points derived from it
	// are durable). Drivers use it to acknowledge MQTT messages late.
	Ack func()
}

// Intake is where drivers hand observations. It is bounded: Offer blocks
// until the observation is queued or ctx ends, and returns ctx.Err() then.
// Implementations must be safe for concurrent use by many drivers.
type Intake interface {
	Offer(ctx context.Context, o Observation) error
}

// Driver is a transport that runs until its context ends, handing the intake
// one observation at a time. Run returns nil on a clean stop.
type Driver interface {
	Run(ctx context.Context, in Intake) error
}
