// Package api is the gateway's local HTTP interface (PRODUCT §6 Local HTTP,
// §9 HTTP API): health and readiness, Prometheus metrics, the JSON API over
// devices, beds and capacity, server-sent events of every transition, the
// mutating calls, and the web dashboard for biomedical engineers, embedded
// from api/web (plain HTML, CSS and JavaScript modules; works offline).
//
// The package reads snapshots and transitions through Backend; it never
// reaches into drivers or the engine. The gateway implements Backend and
// runs the Server.
//
// # Routes
//
//	GET  /healthz                          liveness: always 200 {"status":"ok"}
//	GET  /readyz                           200 {"status":"ready"}; 503 {"status":"degraded","reasons":[...]}
//	                                       when Backend.Degraded() lists reasons; 503 while starting or stopping
//	GET  /metrics                          Prometheus text format
//	GET  /api/v1/site                      hospital, units (class, subtype, beds), pools
//	GET  /api/v1/devices?kind=&unit=&state= devices (state, place, last seen, transport)
//	GET  /api/v1/devices/{id}              one device: values, history, usage per day
//	GET  /api/v1/beds?unit=&state=&class=  beds (state, equipped, reason, devices)
//	GET  /api/v1/capacity                  the capacity document (PRODUCT §9)
//	GET  /api/v1/events                    server-sent events (see below)
//	PUT  /api/v1/devices/{id}/maintenance  {"on": true|false}
//	PUT  /api/v1/devices/{id}/assignment   {"at": "BED_OR_POOL_ID"}
//	POST /api/v1/reload                    re-read the config (empty body or {})
//	GET  /                                 the dashboard
//
// Filters take comma-separated or repeated values; an unknown parameter or
// value is a 400 naming what is accepted.
//
// # Mutating calls
//
// When tokens are configured, PUT and POST need "Authorization: Bearer
// TOKEN" (401 without, 403 when wrong). Bodies are strict JSON: one object,
// no unknown fields, nothing after it, at most 64 KiB (413 beyond).
// Cross-origin browser requests are refused (403). An unknown device is a
// 404; an unknown bed or pool to move to is a 422; a reload whose config
// is rejected is a 422 listing each problem, and the running config is
// kept. Every call, accepted or rejected, goes to Backend.Audit with who
// (the token's name or "anonymous"), the peer address, action, device,
// status and result.
//
// # Errors
//
// Every error is JSON: {"error": "what, in a few words", "reason": "what
// and where, e.g. the field and byte offset"}, plus "problems" for a
// rejected reload.
//
// # Events
//
// GET /api/v1/events is a text/event-stream: first "retry: MS", then an
// event "site" (as GET /api/v1/site) and an event "snapshot" (the whole
// pipeline.Snapshot), then one event "transition" per pipeline.Transition,
// and a ": heartbeat" comment every 15 s. Streams never replay: a client
// that reconnects gets a fresh site and snapshot.
package api
