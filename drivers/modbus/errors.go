package modbus

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	gb "github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// Reasons a poll fails, as returned by Reason and used as a metric label.
const (
	ReasonTimeout   = "timeout"   // no (complete) answer within the device's timeout
	ReasonException = "exception" // the device answered with a Modbus exception
	ReasonCRC       = "crc"       // RTU frame with a bad checksum
	ReasonFrame     = "frame"     // short, malformed or mismatched answer
	ReasonRefused   = "refused"   // connection refused
	ReasonReset     = "reset"     // connection reset, closed or broken pipe
	ReasonRange     = "range"     // a decoded value outside its plausible range
	ReasonBackoff   = "backoff"   // poll skipped: the unit or its connection is backed off
	ReasonCanceled  = "canceled"  // the driver is stopping
	ReasonIO        = "io"        // any other transport error (DNS, serial port, ...)
)

// FrameError is an answer that does not fit its request: wrong transaction
// or unit id, wrong function code, wrong byte count, bad length or CRC.
type FrameError struct {
	CRC    bool
	Detail string
}

// Error describes what did not fit.
func (e *FrameError) Error() string { return "malformed answer: " + e.Detail }

// backoffError is returned for a poll skipped while its unit or its
// connection is backed off; it wraps the error that caused the backoff.
type backoffError struct {
	what string
	err  error
}

func (e *backoffError) Error() string { return e.what + " backed off after: " + e.err.Error() }
func (e *backoffError) Unwrap() error { return e.err }

// Reason names the category of a poll error: one of the Reason constants.
func Reason(err error) string {
	if err == nil {
		// Before reasonOf, whose targets for errors.As escape to the
		// heap: a successful poll allocates nothing here.
		return ""
	}
	return reasonOf(err)
}

func reasonOf(err error) string {
	var be *backoffError
	var re *RangeError
	var fe *FrameError
	var me *gb.ModbusError
	var ne net.Error
	switch {
	case errors.As(err, &be):
		return ReasonBackoff
	case errors.As(err, &re):
		return ReasonRange
	case errors.As(err, &fe):
		if fe.CRC {
			return ReasonCRC
		}
		return ReasonFrame
	case errors.As(err, &me):
		if isException(me) {
			return ReasonException
		}
		return ReasonFrame
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, serial.ErrTimeout),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNABORTED):
		return ReasonReset
	}
	return ReasonIO
}

// isException reports whether a goburrow ModbusError is a genuine exception
// response. goburrow reports ANY function code other than the request's as
// a ModbusError; only request|0x80 is an exception, the rest is garbage.
func isException(me *gb.ModbusError) bool {
	return me.FunctionCode&0x80 != 0 && me.ExceptionCode != 0
}

// keepsConnection reports whether the connection may be reused after err:
// only a well-formed exception response leaves the line in a known state.
// Anything else (a timeout above all: the late answer would be read as the
// answer to the next request) closes the connection.
func keepsConnection(err error) bool {
	return err == nil || keepsAfter(err)
}

func keepsAfter(err error) bool {
	var me *gb.ModbusError
	var re *RangeError
	return errors.As(err, &re) || (errors.As(err, &me) && isException(me))
}
