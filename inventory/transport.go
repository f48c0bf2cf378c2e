package inventory

import (
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/icugate/icugate/config"
)

// protocols are the protocol names a row may give, normalised (normHeader).
var protocols = map[string]string{
	"modbustcp": config.TransportModbusTCP, "tcp": config.TransportModbusTCP, "modbus": config.TransportModbusTCP,
	"modbusrtu": config.TransportModbusRTU, "rtu": config.TransportModbusRTU, "rs485": config.TransportModbusRTU,
	"serial": config.TransportModbusRTU, "串口": config.TransportModbusRTU,
	"modbusrtuovertcp": config.TransportModbusRTUoTCP, "rtuovertcp": config.TransportModbusRTUoTCP,
	"mqtt": config.TransportMQTT,
}

// transport reads the row's protocol, address, unit id and topic into the
// device's modbus or mqtt block. Without a protocol, the profile says
// Modbus or MQTT, and an address that is a path (/dev/ttyUSB0) says serial.
func (c *converter) transport(r Row, get func(string) (string, string), d *config.Device, p *config.Profile) {
	pv, pCol := get(FieldProtocol)
	addr, aCol := get(FieldAddress)
	var proto string
	switch {
	case pv != "":
		if proto = protocols[normHeader(pv)]; proto == "" {
			c.ps.add(r.Num, pCol, "unknown protocol %q: want modbus-tcp, modbus-rtu, modbus-rtu-over-tcp or mqtt", pv)
			return
		}
	case p != nil && p.Transport() == "mqtt":
		proto = config.TransportMQTT
	case p == nil && addr == "":
		return // no profile (reported): nothing to tell the protocol by
	case strings.HasPrefix(addr, "/"):
		proto = config.TransportModbusRTU
	default:
		proto = config.TransportModbusTCP
	}
	if p != nil {
		want := "modbus"
		if proto == config.TransportMQTT {
			want = "mqtt"
		}
		if p.Transport() != want {
			c.ps.add(r.Num, pCol, "protocol %s, but profile %s reads %s values", proto, d.Profile, p.Transport())
			return
		}
	}
	if proto == config.TransportMQTT {
		c.mqtt(r, get, d, p)
		return
	}
	if v, col := get(FieldTopic); v != "" {
		c.ps.add(r.Num, col, "a topic, but the device is %s: topics are for MQTT devices", proto)
	}
	c.modbus(r, get, d, proto, addr, aCol)
}

// modbus fills a Modbus device's block: its address (host:port, serial
// port or converter) and unit id, unique on that address.
func (c *converter) modbus(r Row, get func(string) (string, string), d *config.Device, proto, addr, aCol string) {
	m := &config.ModbusDevice{UnitID: config.DefaultUnitID}
	d.Modbus = m
	before := len(c.ps.list)
	switch {
	case addr == "" && proto == config.TransportModbusRTU:
		c.ps.add(r.Num, aCol, "no address: a modbus-rtu device needs its serial port (/dev/ttyUSB0)")
	case addr == "":
		c.ps.add(r.Num, aCol, "no address: a %s device needs host:port (a host alone takes port %d)", proto, c.m.modbusPort())
	case proto == config.TransportModbusRTU:
		if !strings.HasPrefix(addr, "/") || strings.ContainsAny(addr, " \t") {
			c.ps.add(r.Num, aCol, "address %q: a modbus-rtu device's address is its serial port, such as /dev/ttyUSB0", addr)
		}
		m.RTU = &config.RTU{Device: addr}
	case proto == config.TransportModbusRTUoTCP:
		a, err := hostPort(addr, 0)
		if err != "" {
			c.ps.add(r.Num, aCol, "address %q: %s (the serial converter's raw TCP port, e.g. 10.0.0.9:4001)", addr, err)
		}
		m.RTUOverTCP = a
	default:
		a, err := hostPort(addr, c.m.modbusPort())
		if err != "" {
			c.ps.add(r.Num, aCol, "address %q: %s", addr, err)
		}
		m.Address = a
	}
	lowest := 0 // Modbus TCP: 0 is a valid unit id some converters use
	if proto != config.TransportModbusTCP {
		lowest = 1 // on a serial line 0 is broadcast: no device answers it
	}
	if v, col := get(FieldUnitID); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			c.ps.add(r.Num, col, "unit id %q: want a whole number %d..247", v, lowest)
		case n < lowest || n > 247:
			c.ps.add(r.Num, col, "unit id %d outside %d..247 (%s)", n, lowest, proto)
		}
		m.UnitID = n
	}
	if len(c.ps.list) > before {
		return // a bad address or unit id is not compared with others
	}
	key := slaveKey(proto, m.Endpoint(), m.UnitID)
	switch {
	case c.slaves[key] != 0:
		c.ps.add(r.Num, aCol, "address %s unit id %d: duplicate of row %d: give each device on a shared address its own unit id", m.Endpoint(), m.UnitID, c.slaves[key])
	case c.otherSlaves[key] != "":
		o := c.otherSlaves[key]
		c.ps.add(r.Num, aCol, "address %s unit id %d is already device %s's (in %s)", m.Endpoint(), m.UnitID, o, c.x.otherIn[o])
	default:
		c.slaves[key] = r.Num
	}
}

// mqtt fills an MQTT device's block. Its address and unit id cells, if
// any, are not used: the gateway reaches it through the broker.
func (c *converter) mqtt(r Row, get func(string) (string, string), d *config.Device, p *config.Profile) {
	topic, tCol := get(FieldTopic)
	d.MQTT = &config.MQTTDevice{Topic: topic}
	effective := topic
	switch {
	case topic != "" && strings.ContainsAny(topic, "+#"):
		c.ps.add(r.Num, tCol, "topic %q must not contain MQTT wildcards (+ or #)", topic)
		return
	case topic == "" && p != nil && p.Topic == "":
		c.ps.add(r.Num, tCol, "no topic, and profile %s has no topic pattern to make one from", d.Profile)
		return
	case topic == "" && p != nil:
		effective = strings.ReplaceAll(p.Topic, "{id}", d.ID)
	}
	if c.x.site.MQTT == nil && c.mqttRow == 0 {
		c.mqttRow = r.Num
		c.ps.add(r.Num, "", "an MQTT device, but %s has no mqtt: broker block: add one (configs/icugate.sample.yaml shows it), or import only Modbus devices", c.x.site.File)
	}
	switch {
	case effective == "":
	case c.topics[effective] != 0:
		c.ps.add(r.Num, tCol, "topic %s: duplicate of row %d", effective, c.topics[effective])
	case c.otherTopics[effective] != "":
		o := c.otherTopics[effective]
		c.ps.add(r.Num, tCol, "topic %s is already device %s's (in %s)", effective, o, c.x.otherIn[o])
	default:
		c.topics[effective] = r.Num
	}
}

// hostName is a DNS name or an IPv4 address's look-alike.
var hostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$`)

// hostPort checks an address and returns it as host:port; a host alone
// takes defPort (none when defPort is 0). The problem is "" when it is fine.
func hostPort(v string, defPort int) (string, string) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		if defPort == 0 {
			return v, "want host:port with a port 1..65535"
		}
		host, port = strings.Trim(v, "[]"), strconv.Itoa(defPort)
		if strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return v, "want host:port with a port 1..65535, or a host alone"
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return v, "want a port 1..65535"
	}
	ip := net.ParseIP(host)
	switch {
	case host == "":
		return v, "no host: want the device's or converter's IP address or name"
	case ip == nil && strings.Trim(host, "0123456789.") == "":
		return v, "not an IP address"
	case ip == nil && !hostName.MatchString(host):
		return v, "want an IP address or host name"
	}
	return net.JoinHostPort(host, port), ""
}
