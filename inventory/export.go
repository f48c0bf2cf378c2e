package inventory

import (
	"bytes"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/icugate/icugate/config"
)

// Export writes devices as CSV with the Columns, and the Settings columns
// that some device sets to other than its default, so that importing the
// file gives the same devices. enc is EncodingGBK for GBK, else UTF-8 with
// a BOM (which Excel needs to read UTF-8).
func Export(w io.Writer, devices []config.Device, enc Encoding) error {
	cols := append([]string(nil), Columns...)
	for _, f := range Settings {
		for i := range devices {
			if settingValue(&devices[i], f) != "" {
				cols = append(cols, f)
				break
			}
		}
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.UseCRLF = true // what Excel writes and expects
	if err := cw.Write(cols); err != nil {
		return err
	}
	rec := make([]string, len(cols))
	for i := range devices {
		for j, f := range cols {
			rec[j] = fieldValue(&devices[i], f)
			if isSetting(f) {
				rec[j] = settingValue(&devices[i], f)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	out, err := encodeText(buf.String(), enc)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

func isSetting(f string) bool {
	for _, s := range Settings {
		if s == f {
			return true
		}
	}
	return false
}

// fieldValue is a loaded device's value of a field as an export writes
// it (settings with their defaults applied).
func fieldValue(d *config.Device, f string) string {
	m := d.Modbus
	var rtu *config.RTU
	if m != nil {
		rtu = m.RTU
	}
	switch f {
	case FieldAssetID:
		return d.ID
	case FieldSerial:
		return d.Serial
	case FieldKind:
		return d.Kind
	case FieldProfile:
		return d.Profile
	case FieldLocation:
		return d.At
	case FieldProtocol:
		return d.Transport()
	case FieldAddress:
		if m != nil {
			return m.Endpoint()
		}
	case FieldUnitID:
		if m != nil {
			return strconv.Itoa(m.UnitID)
		}
	case FieldTopic:
		if d.MQTT != nil {
			return d.MQTT.Topic
		}
	case FieldPMDue:
		return d.PMDue
	case FieldInterval:
		return durString(d.Interval())
	case FieldFreshness:
		if d.Freshness != nil {
			return durString(*d.Freshness)
		}
	case FieldFailures:
		if d.Failures != 0 {
			return strconv.Itoa(d.Failures)
		}
	case FieldTimeout:
		if m != nil {
			return durString(m.Timeout)
		}
	case FieldMaxConns:
		if m != nil {
			return strconv.Itoa(m.MaxConns)
		}
	case FieldCloseAfterPoll:
		if m != nil {
			return strconv.FormatBool(m.CloseAfterPoll)
		}
	case FieldBaud:
		if rtu != nil {
			return strconv.Itoa(rtu.Baud)
		}
	case FieldDataBits:
		if rtu != nil {
			return strconv.Itoa(rtu.DataBits)
		}
	case FieldParity:
		if rtu != nil {
			return rtu.Parity
		}
	case FieldStopBits:
		if rtu != nil {
			return strconv.Itoa(rtu.StopBits)
		}
	}
	return ""
}

// settingValue is a setting's value when it is not the default, else "".
func settingValue(d *config.Device, f string) string {
	v := fieldValue(d, f)
	if v == settingDefault(d, f) {
		return ""
	}
	return v
}

// settingDefault is what Load gives a device that leaves f unset.
func settingDefault(d *config.Device, f string) string {
	switch f {
	case FieldInterval:
		if d.MQTT != nil {
			return durString(config.DefaultMQTTInterval)
		}
		return durString(config.DefaultModbusInterval)
	case FieldTimeout:
		return durString(config.DefaultModbusTimeout)
	case FieldMaxConns:
		return strconv.Itoa(config.DefaultMaxConns)
	case FieldCloseAfterPoll:
		return "false"
	case FieldBaud:
		return strconv.Itoa(config.DefaultBaud)
	case FieldDataBits:
		return strconv.Itoa(config.DefaultDataBits)
	case FieldParity:
		return config.DefaultParity
	case FieldStopBits:
		return strconv.Itoa(config.DefaultStopBits)
	}
	return ""
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
