package api

import "errors"

// ErrUnavailable is wrapped by a Backend's mutating call that could not be
// carried out for now, through no fault of the request: its state store is
// full, failing or too slow to confirm. The server answers 503 with the
// error's text, so the caller knows to try again later.
var ErrUnavailable = errors.New("temporarily unavailable")
