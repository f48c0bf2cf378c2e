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
//	GET  /healthz                          liveness: always 200 {"status":"ok"}, whatever the Host
//	GET  /readyz                           200 {"status":"ready"}; 503 {"status":"degraded","reasons":[...]}
//	                                       when Backend.Degraded() lists reasons; 503 while starting or stopping
//	GET  /metrics                          Prometheus text format
//	GET  /api/v1/site                      hospital, units (class, subtype, beds), pools
//	GET  /api/v1/devices?kind=&unit=&state= devices (state, place, last seen, transport)
//	GET  /api/v1/devices/{id}              one device: values, history, usage per day
//	GET  /api/v1/beds?unit=&state=&class=  beds (state, equipped, reason, devices)
//	GET  /api/v1/capacity                  the capacity document (PRODUCT §9)
//	GET  /api/v1/capacity/fhir             the same counts as a FHIR R4 MeasureReport (HL7 SANER codes)
//	GET  /api/v1/capacity/fhir/Measure     the Measure the MeasureReport answers
//	GET  /api/v1/events                    server-sent events (see below); 503 when too many are open
//	GET  /api/v1/usage?by=&from=&to=&days=&id=&format=
//	                                       hours per state, availability and utilisation per device,
//	                                       kind or unit and day, with totals; format=csv (or Accept:
//	                                       text/csv) downloads it (see Usage reports below)
//	PUT  /api/v1/devices/{id}/maintenance  {"on": true|false, "reason", "ticket", "expected_return"}; engineer role
//	PUT  /api/v1/devices/{id}/assignment   {"at": "BED_OR_POOL_ID"}; engineer role
//	POST /api/v1/reload                    re-read the config (empty body or {}); admin role
//	GET  /api/v1/alerts?history=N          native alerts, receivers, history
//	POST /api/v1/alerts/ack                {"id": "ALERT_ID", "comment": "..."}; engineer role
//	GET  /api/v1/maintenance               open work orders, preventive maintenance due
//	GET  /api/v1/audit?device=&who=&action=&from=&to=&limit=&format=
//	                                       the audit trail, newest first; format=csv downloads it;
//	                                       engineer role
//	GET  /api/v1/backup                    a consistent copy of state.db (admin role; audited)
//	GET  /api/v1/session                   whether tokens are configured, reads protected, who is signed in
//	POST /api/v1/session                   {"token": "..."}: the dashboard's sign-in (HttpOnly session cookie)
//	DELETE /api/v1/session                 sign out
//	GET  /                                 the dashboard
//
// Filters take comma-separated or repeated values; an unknown parameter or
// value is a 400 naming what is accepted.
//
// # Usage reports
//
// GET /api/v1/usage reports, for each device, kind or unit (by=device,
// the default, by=kind, by=unit; the hospital's store is the unit
// "(store)") and each local day of the range, the hours in use, standby,
// offline, fault and maintenance, the hours observed, the number of
// devices with data, and
//
//	availability % = 100 × (in_use + standby) / observed
//	utilisation %  = 100 × in_use / (in_use + standby)
//
// (null when the denominator is zero: a day without data is "no_data",
// never 0 %), then each group's total over the range and the total of all
// groups. The range is from..to (YYYY-MM-DD, both included, the gateway's
// time zone), or the days=N days ending at to; to defaults to today, the
// range to 7 days. At most 366 days per request, none after today nor
// before the oldest day kept (store.UsageRetentionDays, 731). id=
// restricts the report to one group. format=csv answers a CSV file
// (Content-Disposition: attachment) with the header
// day,<by>,kind,units,devices,in_use_hours,standby_hours,offline_hours,
// fault_hours,maintenance_hours,observed_hours,availability_pct,
// utilisation_pct; the totals are the rows whose day is "total", the last
// one with id "(all)". A bad parameter is a 400 naming it.
// docs/usage-reports.md says what is counted and how.
//
// # Hosts
//
// Every route but /healthz answers only requests whose Host header names
// this gateway: localhost, an IP address, the host of Config.Listen, or
// one of Config.Hosts (http.hosts). Any other name is a 421 saying which
// names are accepted. This defeats DNS rebinding, where a web page whose
// name the attacker points at the gateway's address would otherwise be
// same-origin with it in the engineer's browser.
//
// # Time limits
//
// Every route but the event stream is bounded by Config.RequestTimeout
// (default 10 s): a backend call gets a context with that deadline, and a
// mutating call the backend did not confirm in time is answered 503
// {"error":"gateway busy"} (reload: "reload interrupted"), whose reason
// says that the change may still take effect. Should a handler or backend
// ignore its context, a backstop answers 503 {"error":"timeout"} two
// seconds later.
//
// # Mutating calls
//
// When tokens are configured, PUT and POST need "Authorization: Bearer
// TOKEN" or the dashboard's session cookie (401 without, 403 when wrong,
// 403 "role not allowed" when the token's role is below the call's: see
// Token.Role; maintenance, moves and alert acknowledgement need engineer,
// reload admin). With Config.ReadRequiresToken every read and the event
// stream need a token of any role too (health and metrics per
// PublicHealth and PublicMetrics). Requests from browsers on other
// origins are refused (403): an Origin header must name this gateway (as
// for Host), and Sec-Fetch-Site must not say cross-site. Bodies are strict
// JSON: one object, no unknown fields, field names exactly as documented
// (case matters), no field twice, nothing after it, at most 64 KiB (413
// beyond); a 400 names the offending field. An unknown device is a 404;
// an unknown bed or pool to move to is a 422; a reload whose config is
// rejected is a 422 listing each problem, and the running config is kept.
//
// Every call that reaches the backend (applied, refused by it, or failed
// there, 5xx included) goes to Backend.Audit with who (the token's name
// or "anonymous"), the peer address, action, device, status and result.
// A role refusal (403 "role not allowed") and a dashboard sign-in are
// written too. Any other call refused before (401, 403, 400, 404, 413, 415,
// 422 for an unknown place) changed nothing and is not written to the
// durable trail: it is
// counted in icugate_http_mutations_refused_total{action,reason}, and
// logged at most 20 times a minute, the next line saying how many were
// left out. A flood of bad requests therefore costs neither disk nor the
// calls that matter.
//
// # Status codes
//
//	200  served, or applied
//	400  bad query or body (the reason names the parameter or field)
//	401  token missing or malformed (with WWW-Authenticate)
//	403  token not accepted, its role too low, or a cross-origin request
//	404  unknown route or device
//	405  method not allowed
//	413  body over 64 KiB
//	415  body not application/json
//	421  Host does not name this gateway
//	422  unknown bed or pool; config rejected by reload
//	500  the backend failed (not applied)
//	503  not ready; the backend could not save a change (ErrUnavailable)
//	     or did not answer in time; too many event streams (with
//	     Retry-After)
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
//
// All streams share one backend subscription, and each transition is
// encoded once for all of them. At most Config.MaxEventClients streams
// (http.max_event_clients, default 256) are open; beyond, 503 with
// Retry-After: 10. A client that falls Config.EventBuffer (256)
// transitions behind is disconnected and counted in
// icugate_http_event_streams_lagged_total; its EventSource reconnects. An
// idle stream costs about 37 KiB (heap and two goroutines' stacks), so
// the default cap holds streams to under 10 MiB; each write has a
// deadline (Config.WriteTimeout), so a client that stops reading cannot
// hold one longer.
package api
