// Package config holds the site configuration and the device profiles: their
// YAML shape, strict decoding, defaults and validation. Every problem found is
// reported with the file and line it concerns, all at once, so an engineer can
// fix a config in one pass instead of one error per start attempt.
package config

import "time"

// Hospital levels recognised by the policy indicators.
const (
	LevelTertiary  = "tertiary"
	LevelSecondary = "secondary"
)

// Unit classes (PRODUCT §5).
const (
	ClassGeneral     = "general"
	ClassSpecialty   = "specialty"
	ClassConvertible = "convertible"
)

// Site is one hospital's gateway configuration (PRODUCT §9). It is produced by
// Load, which also resolves and compiles every profile the site uses.
type Site struct {
	// File is the path the site was loaded from; used in error messages.
	File string `yaml:"-"`

	Hospital   Hospital `yaml:"hospital"`
	TargetYear int      `yaml:"target_year"`
	Units      []Unit   `yaml:"units"`
	Pools      []Pool   `yaml:"pools"`
	Devices    []Device `yaml:"devices"`
	// DeviceFiles are files holding more devices (a devices: list each,
	// e.g. written by icugate import), relative to the site file; Load
	// appends their devices after the inline ones (include.go).
	DeviceFiles []DeviceFile `yaml:"device_files"`
	// ProfilesDir is where profile files are looked up, relative to the
	// site file unless absolute. Default "profiles".
	ProfilesDir string `yaml:"profiles_dir"`
	// Hold is how long a bed condition must hold before the bed state
	// changes (PRODUCT §5). Default 15s; zero is allowed.
	Hold *time.Duration `yaml:"hold"`
	// Clinical enables collection of values a profile marks clinical.
	// Default false: no patient data leaves the box.
	Clinical bool `yaml:"clinical"`

	MQTT     *MQTT     `yaml:"mqtt"`
	InfluxDB *InfluxDB `yaml:"influxdb"`
	Outbox   Outbox    `yaml:"outbox"`
	Report   Report    `yaml:"report"`
	HTTP     HTTP      `yaml:"http"`
	Log      Log       `yaml:"log"`
	// Alerts are the gateway's own alert rules and receivers; nil: none.
	Alerts *Alerts `yaml:"alerts"`

	// Profiles maps profile name to the loaded, compiled profile. Filled
	// by Load; not part of the YAML.
	Profiles map[string]*Profile `yaml:"-"`
}

// Hospital identifies the site and carries the figures the policy
// indicators are computed against.
type Hospital struct {
	ID        string `yaml:"id"`
	Name      string `yaml:"name"`
	Level     string `yaml:"level"`      // tertiary | secondary
	TotalBeds int    `yaml:"total_beds"` // all inpatient beds of the hospital
	Region    string `yaml:"region"`
	// Staffing is declared, not measured; indicators derived from it are
	// marked as declared.
	Staffing *Staffing `yaml:"staffing"`
}

// Staffing is the declared ICU staffing used for bed:doctor and bed:nurse
// ratios (references 1:0.8 and 1:3).
type Staffing struct {
	Doctors int `yaml:"doctors"`
	Nurses  int `yaml:"nurses"`
}

// Unit is one ICU unit and its beds.
type Unit struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Class   string `yaml:"class"`   // general | specialty | convertible
	Subtype string `yaml:"subtype"` // free text: RICU, CCU, NICU, ...
	// Requires lists the device kinds each bed needs to be equipped; a kind
	// listed twice is needed twice. Default [monitor, ventilator].
	Requires []string `yaml:"requires"`
	// Occupancy lists the kinds whose in_use state marks a bed occupied.
	// Default [monitor, ventilator].
	Occupancy []string `yaml:"occupancy"`
	Beds      []string `yaml:"beds"`
}

// Pool is a store of devices not at a bed: a unit's or the hospital's.
// In YAML a pool is either a bare id or a mapping {id, unit}.
type Pool struct {
	ID   string `yaml:"id"`
	Unit string `yaml:"unit"` // owning unit; empty for the hospital's store
}

// Device is one physical device, where it is, and how to reach it.
type Device struct {
	ID      string `yaml:"id"`
	Kind    string `yaml:"kind"`
	Profile string `yaml:"profile"`
	At      string `yaml:"at"`     // a bed id or a pool id
	Serial  string `yaml:"serial"` // expected serial; a mismatch makes the device untrusted
	// Freshness overrides the freshness window (default 3 intervals, min 5s).
	Freshness *time.Duration `yaml:"freshness"`
	// Failures is how many consecutive failed polls make the device
	// offline before its freshness window runs out. Default 3.
	Failures int `yaml:"failures"`
	// PMDue is the date the next preventive maintenance is due
	// (YYYY-MM-DD, from the CMMS); the dashboard lists devices due soon
	// and overdue.
	PMDue string `yaml:"pm_due"`

	Modbus *ModbusDevice `yaml:"modbus"`
	MQTT   *MQTTDevice   `yaml:"mqtt"`
}

// Transport names as used in summaries and metrics.
const (
	TransportModbusTCP     = "modbus-tcp"
	TransportModbusRTU     = "modbus-rtu"
	TransportModbusRTUoTCP = "modbus-rtu-over-tcp"
	TransportMQTT          = "mqtt"
)

// PMDueDate is PMDue as a date (midnight local time); false when unset or
// not a date (Load rejects the latter).
func (d *Device) PMDueDate() (time.Time, bool) {
	if d.PMDue == "" {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(time.DateOnly, d.PMDue, time.Local)
	return t, err == nil
}

// Transport names how the device is reached.
func (d *Device) Transport() string {
	switch {
	case d.MQTT != nil:
		return TransportMQTT
	case d.Modbus != nil && d.Modbus.RTU != nil:
		return TransportModbusRTU
	case d.Modbus != nil && d.Modbus.RTUOverTCP != "":
		return TransportModbusRTUoTCP
	default:
		return TransportModbusTCP
	}
}

// Interval is how often the device is polled (Modbus) or publishes at the
// least (MQTT), after defaults.
func (d *Device) Interval() time.Duration {
	if d.MQTT != nil {
		return d.MQTT.Interval
	}
	if d.Modbus != nil {
		return d.Modbus.Interval
	}
	return 0
}

// FreshnessWindow is how long a device's last valid answer stays valid:
// the configured override, else 3 intervals, never less than 5s.
func (d *Device) FreshnessWindow() time.Duration {
	if d.Freshness != nil && *d.Freshness > 0 {
		return *d.Freshness
	}
	iv := d.Interval()
	if iv <= 0 {
		iv = DefaultModbusInterval
		if d.MQTT != nil {
			iv = DefaultMQTTInterval
		}
	}
	w := 3 * iv
	if w < MinFreshness {
		w = MinFreshness
	}
	return w
}

// ModbusDevice is the modbus transport block of a device. Exactly one of
// Address (Modbus TCP), RTU (serial line) or RTUOverTCP is set.
type ModbusDevice struct {
	Address    string        `yaml:"address"`      // host:port, Modbus TCP
	RTU        *RTU          `yaml:"rtu"`          // serial line
	RTUOverTCP string        `yaml:"rtu_over_tcp"` // host:port of a raw-TCP serial converter
	UnitID     int           `yaml:"unit_id"`      // 0..247, default 1
	Interval   time.Duration `yaml:"interval"`     // default 1s
	Timeout    time.Duration `yaml:"timeout"`      // default 1s
	// MaxConns caps connections to this address (shared by every device
	// on it). Default 1.
	MaxConns int `yaml:"max_conns"`
	// CloseAfterPoll closes the connection after each poll, for devices
	// that misbehave on long-lived connections.
	CloseAfterPoll bool `yaml:"close_after_poll"`
}

// Endpoint is the address that identifies the shared connection: the TCP
// address, the converter address, or the serial device path.
func (m *ModbusDevice) Endpoint() string {
	switch {
	case m.RTU != nil:
		return m.RTU.Device
	case m.RTUOverTCP != "":
		return m.RTUOverTCP
	default:
		return m.Address
	}
}

// RTU describes a serial line.
type RTU struct {
	Device   string `yaml:"device"`    // e.g. /dev/ttyUSB0
	Baud     int    `yaml:"baud"`      // default 19200
	DataBits int    `yaml:"data_bits"` // default 8
	Parity   string `yaml:"parity"`    // N | E | O, default E
	StopBits int    `yaml:"stop_bits"` // default 1
}

// MQTTDevice is the mqtt transport block of a device.
type MQTTDevice struct {
	// Topic the device publishes its status on. Default: the profile's
	// topic pattern with {id} replaced by the device id.
	Topic string `yaml:"topic"`
	// Interval is the device's heartbeat: it publishes at least this often.
	// Default 10s.
	Interval time.Duration `yaml:"interval"`
}

// MQTT is the broker connection of the gateway.
type MQTT struct {
	Broker       string `yaml:"broker"`    // tcp://host:1883, ssl://host:8883
	ClientID     string `yaml:"client_id"` // stable; default icugate-{hospital id}
	UsernameFile string `yaml:"username_file"`
	PasswordFile string `yaml:"password_file"`
	TLS          *TLS   `yaml:"tls"`
	// MaxMessageBytes is the largest payload accepted; larger ones are
	// dropped and counted. Default 65536. Keep the broker's
	// message_size_limit at or below it.
	MaxMessageBytes int `yaml:"max_message_bytes"`
}

// TLS configures a TLS client.
type TLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// InfluxDB is the time-series output.
type InfluxDB struct {
	URL       string `yaml:"url"`
	TokenFile string `yaml:"token_file"` // or env ICUGATE_INFLUXDB_TOKEN
	Org       string `yaml:"org"`
	Bucket    string `yaml:"bucket"` // InfluxDB 1.8: "db/rp"
	TLS       *TLS   `yaml:"tls"`
	// BatchSize and FlushInterval bound a write batch. Defaults 5000, 1s.
	BatchSize     int           `yaml:"batch_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Outbox is the durable on-disk queue in front of InfluxDB and reports.
type Outbox struct {
	Dir string `yaml:"dir"` // default ./data/outbox
	// MaxSize is the disk budget, e.g. "512MB". Default 256MB.
	MaxSize ByteSize `yaml:"max_size"`
}

// Report configures the signed regional capacity report.
type Report struct {
	Interval  time.Duration `yaml:"interval"` // default 1m
	KeyFile   string        `yaml:"key_file"`
	GatewayID string        `yaml:"gateway_id"`
	HTTPURL   string        `yaml:"http_url"` // optional POST target
	// Part names this gateway's part (building, campus) of a hospital that
	// runs several gateways; each part signs with its own key, registered
	// to that part at the region. Empty: the hospital's only gateway
	// (part "main"), on icu/v1/{region}/{hospital}/capacity as before;
	// set: icu/v1/{region}/{hospital}/{part}/capacity (docs/reporting.md).
	Part string `yaml:"part"`
}

// HTTP is the local API listener.
type HTTP struct {
	Listen    string `yaml:"listen"`     // default 127.0.0.1:8080
	TokenFile string `yaml:"token_file"` // or env ICUGATE_API_TOKEN
	// Hosts are the host names the gateway is reached by (e.g.
	// icugate.hospital.local), besides localhost, IP addresses and the
	// listen host, which are always accepted. A request naming any other
	// host is refused (421): the defence against DNS rebinding.
	Hosts []string `yaml:"hosts"`
	// RequestTimeout bounds serving one request, a change the engine
	// must confirm included (503 beyond). 0: 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxEventClients bounds open event streams (dashboards); beyond it
	// a new one is refused with 503 and Retry-After. 0: 256.
	MaxEventClients int `yaml:"max_event_clients"`
	// ReadRequiresToken makes every API read (bed occupancy, device
	// locations, the event stream) need a token of any role; the
	// dashboard then asks for one. Needs http.token_file.
	ReadRequiresToken bool `yaml:"read_requires_token"`
	// PublicHealth keeps /healthz and /readyz open when reads need a
	// token (container and load-balancer checks carry none). Default true.
	PublicHealth *bool `yaml:"public_health"`
	// PublicMetrics keeps /metrics open when reads need a token. Default
	// false: Prometheus then sends a token (authorization.credentials_file).
	PublicMetrics *bool `yaml:"public_metrics"`
	// TLS serves the API and dashboard over HTTPS (TLS 1.2 or newer) with
	// this certificate and key; both files are read again on reload
	// (SIGHUP), so a renewed certificate needs no restart.
	TLS *ServerTLS `yaml:"tls"`
}

// ServerTLS is the certificate the gateway serves HTTPS with.
type ServerTLS struct {
	// CertFile is the PEM certificate chain, the gateway's first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is its PEM private key.
	KeyFile string `yaml:"key_file"`
}

// HealthIsPublic reports whether /healthz and /readyz answer without a
// token when reads need one.
func (h *HTTP) HealthIsPublic() bool { return h.PublicHealth == nil || *h.PublicHealth }

// MetricsArePublic reports whether /metrics answers without a token when
// reads need one.
func (h *HTTP) MetricsArePublic() bool { return h.PublicMetrics != nil && *h.PublicMetrics }

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error, default info
	Format string `yaml:"format"` // text | json, default text
}
