package inventory

import (
	"strings"
	"unicode"
)

// A field is one thing a row says about a device. Its name is what the
// mapping file and an export's header call it.
const (
	FieldAssetID  = "asset_id" // the device id
	FieldSerial   = "serial"
	FieldKind     = "kind"
	FieldVendor   = "vendor"
	FieldModel    = "model"
	FieldProfile  = "profile"
	FieldLocation = "location" // a bed or pool id, or a CMMS location mapped to one
	FieldProtocol = "protocol" // modbus-tcp | modbus-rtu | modbus-rtu-over-tcp | mqtt
	FieldAddress  = "address"  // host:port, or the serial device for modbus-rtu
	FieldUnitID   = "unit_id"
	FieldTopic    = "topic"
	FieldPMDue    = "pm_due"
	FieldStatus   = "status" // the CMMS's asset status; rows scrapped or retired are skipped

	// Settings most devices leave at their defaults; an export writes
	// their columns only when a device sets one.
	FieldInterval       = "interval"
	FieldTimeout        = "timeout"
	FieldMaxConns       = "max_conns"
	FieldCloseAfterPoll = "close_after_poll"
	FieldFreshness      = "freshness"
	FieldFailures       = "failures"
	FieldBaud           = "baud"
	FieldDataBits       = "data_bits"
	FieldParity         = "parity"
	FieldStopBits       = "stop_bits"
)

// Columns are the columns of an export, in order, and what an import reads
// without a mapping file. An export adds the settings columns (Settings)
// that some device of the site sets.
var Columns = []string{
	FieldAssetID, FieldSerial, FieldKind, FieldProfile, FieldLocation,
	FieldProtocol, FieldAddress, FieldUnitID, FieldTopic, FieldPMDue,
}

// Settings are the columns of the settings most devices leave at their
// defaults.
var Settings = []string{
	FieldInterval, FieldTimeout, FieldMaxConns, FieldCloseAfterPoll, FieldFreshness,
	FieldFailures, FieldBaud, FieldDataBits, FieldParity, FieldStopBits,
}

// defaultHeaders are the header names each field is read from unless the
// mapping file names its own: icugate's, and the English and Chinese
// names CMMS exports commonly use. They are compared normalised (see
// normHeader): case, spaces, '_', '-', '/', '.' and brackets do not matter.
var defaultHeaders = map[string][]string{
	FieldAssetID: {"asset_id", "asset no", "asset number", "asset tag", "asset", "device id", "equipment id", "equipment no",
		"资产编号", "资产编码", "资产号", "固定资产编号", "设备编号", "设备编码"},
	FieldSerial:   {"serial", "serial no", "serial number", "sn", "序列号", "设备序列号", "出厂编号", "出厂序列号", "机身号"},
	FieldKind:     {"kind", "type", "device type", "equipment type", "category", "设备类型", "设备类别", "设备分类", "类型", "类别"},
	FieldVendor:   {"vendor", "manufacturer", "make", "brand", "厂家", "生产厂家", "厂商", "生产厂商", "制造商", "品牌"},
	FieldModel:    {"model", "model no", "型号", "规格型号", "设备型号"},
	FieldProfile:  {"profile", "icugate profile"},
	FieldLocation: {"location", "at", "bed", "bed or pool", "place", "位置", "床位", "床号", "所在位置", "使用位置", "存放地点", "安装位置"},
	FieldProtocol: {"protocol", "transport", "协议", "通信协议", "通讯协议"},
	FieldAddress:  {"address", "ip", "ip address", "host", "endpoint", "地址", "ip地址", "通信地址", "通讯地址"},
	FieldUnitID:   {"unit_id", "unit id", "slave id", "modbus unit id", "modbus id", "station", "station id", "从站地址", "从站号", "站号", "站地址"},
	FieldTopic:    {"topic", "mqtt topic", "主题", "mqtt主题"},
	FieldPMDue: {"pm_due", "pm due", "pm due date", "next pm", "next pm date", "next maintenance",
		"下次保养日期", "下次维护日期", "下次预防性维护日期", "保养到期日", "下次pm日期"},
	FieldStatus:         {"status", "asset status", "状态", "设备状态", "资产状态", "使用状态"},
	FieldInterval:       {"interval", "poll interval", "采集间隔"},
	FieldTimeout:        {"timeout", "超时"},
	FieldMaxConns:       {"max_conns", "max connections"},
	FieldCloseAfterPoll: {"close_after_poll"},
	FieldFreshness:      {"freshness"},
	FieldFailures:       {"failures"},
	FieldBaud:           {"baud", "baud rate", "波特率"},
	FieldDataBits:       {"data_bits", "数据位"},
	FieldParity:         {"parity", "校验", "校验位"},
	FieldStopBits:       {"stop_bits", "停止位"},
}

// defaultKinds maps the kind names CMMS exports use to icugate's kinds.
// Every kind of a profile in the site's profiles_dir is also taken as
// itself.
var defaultKinds = map[string]string{
	"ventilator": "ventilator", "呼吸机": "ventilator", "有创呼吸机": "ventilator", "无创呼吸机": "ventilator",
	"治疗用呼吸机": "ventilator", "急救呼吸机": "ventilator", "转运呼吸机": "ventilator",
	"monitor": "monitor", "patient monitor": "monitor", "监护仪": "monitor", "多参数监护仪": "monitor",
	"病人监护仪": "monitor", "心电监护仪": "monitor", "床旁监护仪": "monitor", "多参数病人监护仪": "monitor",
	"ecmo": "ecmo", "体外膜肺氧合": "ecmo", "体外膜肺": "ecmo", "体外膜肺氧合系统": "ecmo", "体外循环": "ecmo",
	"crrt": "crrt", "连续性肾脏替代治疗": "crrt", "连续性血液净化": "crrt", "血液净化": "crrt",
	"血液净化装置": "crrt", "血滤机": "crrt", "床旁血滤机": "crrt",
}

// defaultSkipStatus are the asset statuses of rows that are not imported:
// devices the hospital no longer uses.
var defaultSkipStatus = []string{"报废", "已报废", "待报废", "停用", "已停用", "闲置报废", "scrapped", "retired", "disposed", "decommissioned"}

// normHeader normalises a header or a value compared by name: lower case,
// without spaces, '_', '-', '/', '.', ':' and brackets (ASCII or
// full-width), so "Asset ID", "asset_id" and "ASSET-ID" are one name.
func normHeader(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r), strings.ContainsRune("_-/.:()[]（）【】：", r):
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// normValue normalises a kind, vendor, model or status: lower case, inner
// spaces collapsed, full-width brackets as ASCII ones.
func normValue(s string) string {
	s = strings.NewReplacer("（", "(", "）", ")").Replace(strings.ToLower(s))
	return strings.Join(strings.Fields(s), " ")
}
