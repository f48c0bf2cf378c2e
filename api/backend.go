package api

import (
	"context"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// Backend is what the HTTP server needs from the running gateway. Every
// method is called from request goroutines, concurrently: implementations
// must be safe for concurrent use, and the read methods must be cheap (they
// serve dashboards that poll and reconnect).
type Backend interface {
	// Snapshot returns the latest consistent snapshot. It must be cheap
	// (already built) and the caller must not modify it.
	Snapshot() pipeline.Snapshot
	// Site returns the site config in force (units with names and
	// subtypes, pools, device transports and profiles). The caller must
	// not modify it; a reload replaces it rather than changing it.
	Site() *config.Site
	// Device returns one device's status, last decoded values, recent
	// state history and daily utilisation; false when the device is not
	// configured.
	Device(id string) (DeviceDetail, bool)
	// SetMaintenance sets or clears the engineer's maintenance flag of a
	// device on behalf of by. An unknown device is an error wrapping
	// pipeline.ErrUnknown that changes nothing.
	//
	// SetMaintenance, Move and Reload get a context that ends after
	// Config.RequestTimeout (or when the client leaves); they must return
	// soon after it ends, with an error wrapping ctx.Err(). Such a call
	// is answered 503, saying the change may still take effect.
	SetMaintenance(ctx context.Context, device string, req MaintenanceRequest, by string) error
	// Move assigns a device to a bed or pool on behalf of by. An unknown
	// device, bed or pool is an error wrapping pipeline.ErrUnknown that
	// changes nothing.
	Move(ctx context.Context, device, to string, by string) error
	// Reload re-reads and applies the site config, or keeps the old one
	// and returns the problems found (one per line, "file:line: message").
	Reload(ctx context.Context) error
	// Subscribe delivers every transition from now on until ctx ends, then
	// closes the channel. It must never block the engine: a subscriber
	// that does not keep up loses events (counted by the backend). The
	// channel may also close early when the gateway stops. The server
	// holds one subscription while any event stream is open, however
	// many are.
	Subscribe(ctx context.Context) <-chan pipeline.Transition
	// Ready returns nil when the gateway is ready to serve (config loaded,
	// engine running), else why not.
	Ready() error
	// Degraded lists why a ready gateway is not doing all it is configured
	// to do (the outbox cannot write, InfluxDB refuses points, …), one
	// plain sentence each; empty when all is well. It must be cheap: it is
	// called on every /readyz.
	Degraded() []string
	// Audit records one mutating API call durably: every call that
	// reached SetMaintenance, Move or Reload, whatever came of it. Calls
	// refused before (token, origin, body, unknown device) are only
	// counted, in icugate_http_mutations_refused_total. It must not block
	// for long: it is called on the request path.
	Audit(e AuditEntry)
	// Alerts and AckAlert serve the native alerts (alertsBackend).
	alertsBackend
	// Maintenance lists open work orders and preventive maintenance due.
	Maintenance() (MaintenanceView, error)
	// Usage builds the usage report q asks for (GET /api/v1/usage) from
	// the stored days and the day in progress. It reads the state store:
	// a long range of a large site takes a while, so it must return soon
	// after ctx ends, with an error wrapping ctx.Err(). A q.ID that names
	// nothing gives a report without totals.
	Usage(ctx context.Context, q UsageQuery) (UsageReport, error)
}

// MaintenanceRequest is PUT /api/v1/devices/{id}/maintenance: on or off,
// and for on the work order's details (all optional).
type MaintenanceRequest struct {
	On             bool
	Reason         string
	Ticket         string
	ExpectedReturn *time.Time
}

// DeviceDetail is one device as the device page shows it.
type DeviceDetail struct {
	pipeline.DeviceStatus
	// Values are the device's last decoded values, in profile order.
	Values []DeviceValue `json:"values"`
	// History holds the device's recent transitions (state changes and
	// moves), oldest first.
	History []pipeline.Transition `json:"history"`
	// Usage is hours in each state per day for the last days, oldest
	// first; days without data are present with zero hours.
	Usage []UsageDay `json:"usage"`
	// WorkOrder is the open maintenance work order, if any; WorkOrders
	// the device's work orders, newest first (the open one included).
	WorkOrder  *WorkOrder  `json:"work_order,omitempty"`
	WorkOrders []WorkOrder `json:"work_orders"`
	// PMDue is the next preventive maintenance date (YYYY-MM-DD), if
	// configured.
	PMDue string `json:"pm_due,omitempty"`
}

// DeviceValue is one decoded value of a device.
type DeviceValue struct {
	Name string `json:"name"`
	// Value is the number, for numeric and boolean values (1/0).
	Value float64 `json:"value"`
	// Text is set for string values (serial numbers, firmware), and then
	// Value is 0.
	Text string `json:"text,omitempty"`
	Unit string `json:"unit,omitempty"`
	// MDC is the IEEE 11073-10101 code, when the profile gives one.
	MDC string `json:"mdc,omitempty"`
}

// UsageDay is a device's time per state on one calendar day (the gateway's
// local time zone).
type UsageDay struct {
	// Day is the date, YYYY-MM-DD.
	Day         string  `json:"day"`
	InUse       float64 `json:"in_use_hours"`
	Standby     float64 `json:"standby_hours"`
	Offline     float64 `json:"offline_hours"`
	Fault       float64 `json:"fault_hours"`
	Maintenance float64 `json:"maintenance_hours"`
}

// AuditEntry is one mutating API call that reached the backend, applied
// or not: who asked, from where, what, and what came of it.
type AuditEntry struct {
	Time time.Time `json:"time"`
	// Who is the name of the token presented, or "anonymous" when no
	// valid token identified the caller.
	Who string `json:"who"`
	// Remote is the peer address of the connection (proxies' forwarding
	// headers are not trusted).
	Remote string `json:"remote"`
	// Action is "maintenance", "assignment", "reload", "alert_ack",
	// "sign_in" or "backup".
	Action string `json:"action"`
	// Device is the device concerned, "" for reload.
	Device string `json:"device,omitempty"`
	// Detail is what was asked, e.g. "on=true" or "at=icu1-3".
	Detail string `json:"detail,omitempty"`
	// Status is the HTTP status answered.
	Status int `json:"status"`
	// Result is "ok" or the reason the call was rejected or failed.
	Result string `json:"result"`
}
