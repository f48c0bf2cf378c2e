package alerts

import (
	"fmt"
	"strings"
	"time"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
)

// kindNames are the device kinds in both languages (shared/seeds glossary);
// other kinds are named by their id.
var kindNames = map[string]notify.Text{
	"ventilator": {EN: "Ventilator", ZH: "呼吸机"},
	"monitor":    {EN: "Patient monitor", ZH: "监护仪"},
	"ecmo":       {EN: "ECMO", ZH: "体外膜肺氧合 (ECMO)"},
	"crrt":       {EN: "CRRT", ZH: "连续性肾脏替代治疗 (CRRT)"},
}

// stateNames are device and bed states in both languages, for resolve
// notices.
var stateNames = map[string]notify.Text{
	"offline":     {EN: "offline", ZH: "离线"},
	"fault":       {EN: "fault", ZH: "故障"},
	"maintenance": {EN: "in maintenance", ZH: "维护中"},
	"in_use":      {EN: "in use", ZH: "使用中"},
	"standby":     {EN: "standby", ZH: "待机"},
	"degraded":    {EN: "degraded", ZH: "未达标"},
	"available":   {EN: "available", ZH: "空闲可用"},
	"occupied":    {EN: "occupied", ZH: "已占用"},
}

// sourceNames are the health sources in both languages.
var sourceNames = map[string]notify.Text{
	"reports":  {EN: "regional reports", ZH: "区域上报"},
	"influxdb": {EN: "InfluxDB", ZH: "InfluxDB 时序库"},
	"outbox":   {EN: "outbox", ZH: "本地缓存队列"},
	"mqtt":     {EN: "MQTT broker", ZH: "MQTT 代理"},
	"devices":  {EN: "devices", ZH: "设备"},
	"alerts":   {EN: "alert receivers", ZH: "告警接收方"},
	"store":    {EN: "state store", ZH: "状态存储"},
}

func lookup(m map[string]notify.Text, k string) notify.Text {
	if t, ok := m[k]; ok {
		return t
	}
	return notify.Text{EN: k, ZH: k}
}

// names are the labels text needs from the site config.
type names struct {
	hospital string
	units    map[string]string // unit id → display name
}

func namesOf(site *config.Site) names {
	n := names{hospital: site.Hospital.ID, units: map[string]string{}}
	for _, u := range site.Units {
		name := u.Name
		if name == "" {
			name = u.ID
		}
		n.units[u.ID] = name
	}
	return n
}

func (n names) unit(id string) string {
	if v, ok := n.units[id]; ok {
		return v
	}
	return id
}

// where names the subject's place: "bed A-03, unit ICU-A" / "ICU-A A-03床".
func (n names) where(s Subject) notify.Text {
	var en, zh []string
	if s.Bed != "" {
		en = append(en, "bed "+s.Bed)
		zh = append(zh, s.Bed+"床")
	}
	if s.Unit != "" {
		en = append(en, "unit "+n.unit(s.Unit))
		zh = append([]string{n.unit(s.Unit)}, zh...)
	}
	if len(en) == 0 {
		return notify.Text{EN: "the hospital's store", ZH: "医院设备库"}
	}
	return notify.Text{EN: strings.Join(en, ", "), ZH: strings.Join(zh, " ")}
}

// what is the subject with its condition, in both languages, e.g.
// "Ventilator vent-01 (bed A-03, unit ICU-A) is offline".
func (n names) what(a Alert, below int) notify.Text {
	s := a.Subject
	switch a.Condition {
	case config.AlertDeviceOffline, config.AlertDeviceFault:
		k, w := lookup(kindNames, s.Kind), n.where(s)
		st := lookup(stateNames, "offline")
		if a.Condition == config.AlertDeviceFault {
			st = lookup(stateNames, "fault")
		}
		return notify.Text{
			EN: fmt.Sprintf("%s %s (%s) is %s", k.EN, s.Device, w.EN, st.EN),
			ZH: fmt.Sprintf("%s %s %s%s", w.ZH, k.ZH, s.Device, st.ZH),
		}
	case config.AlertBedDegraded:
		return notify.Text{
			EN: fmt.Sprintf("Bed %s (unit %s) is not equipped", s.Bed, n.unit(s.Unit)),
			ZH: fmt.Sprintf("%s %s床设备不齐备", n.unit(s.Unit), s.Bed),
		}
	case config.AlertUnitBelow:
		return notify.Text{
			EN: fmt.Sprintf("Unit %s has fewer than %d equipped beds", n.unit(s.Unit), below),
			ZH: fmt.Sprintf("%s 达标床位少于 %d 张", n.unit(s.Unit), below),
		}
	case config.AlertCountsUnverified:
		return notify.Text{
			EN: fmt.Sprintf("Counts of unit %s are not verified", n.unit(s.Unit)),
			ZH: fmt.Sprintf("%s 床位数未经设备核实", n.unit(s.Unit)),
		}
	case config.AlertGatewayDegraded:
		src := lookup(sourceNames, s.Source)
		return notify.Text{
			EN: fmt.Sprintf("Gateway %s: %s not working", n.hospital, src.EN),
			ZH: fmt.Sprintf("网关 %s：%s异常", n.hospital, src.ZH),
		}
	}
	return notify.Text{EN: a.ID, ZH: a.ID}
}

// notification builds what receivers get for change c.
func (n names) notification(c change) notify.Notification {
	a := c.alert
	below := 0
	if c.rule != nil {
		below = c.rule.Below
	}
	what := n.what(a, below)
	nt := notify.Notification{
		ID:        fmt.Sprintf("%s:%s:%s:%d", n.hospital, a.ID, c.kind, c.at.UnixMilli()),
		AlertID:   a.ID,
		Status:    notify.StatusFiring,
		Repeat:    c.kind == changeRepeat,
		Rule:      a.Rule,
		Condition: a.Condition,
		Severity:  a.Severity,
		Hospital:  n.hospital,
		Device:    a.Subject.Device,
		Kind:      a.Subject.Kind,
		Bed:       a.Subject.Bed,
		Unit:      a.Subject.Unit,
		Source:    a.Subject.Source,
		Cause:     a.Cause,
		StartsAt:  a.StartsAt,
		At:        c.at,
	}
	since := notify.Text{
		EN: fmt.Sprintf("since %s (%s)", a.StartsAt.Local().Format("2006-01-02 15:04:05"), c.at.Sub(a.StartsAt).Round(time.Second)),
		ZH: fmt.Sprintf("自 %s 起（持续 %s）", a.StartsAt.Local().Format("2006-01-02 15:04:05"), c.at.Sub(a.StartsAt).Round(time.Second)),
	}
	switch c.kind {
	case changeResolve:
		nt.Status, nt.EndsAt = notify.StatusResolved, c.at
		st := lookup(stateNames, c.now)
		nt.Summary = notify.Text{EN: "Resolved: " + what.EN, ZH: "已恢复：" + what.ZH}
		nt.Description = notify.Text{
			EN: fmt.Sprintf("%s — no longer: now %s. It lasted %s.", what.EN, st.EN, c.at.Sub(a.StartsAt).Round(time.Second)),
			ZH: fmt.Sprintf("%s —— 已结束，当前：%s。持续 %s。", what.ZH, st.ZH, c.at.Sub(a.StartsAt).Round(time.Second)),
		}
	case changeRepeat:
		nt.Summary = notify.Text{EN: "Still: " + what.EN, ZH: "仍未恢复：" + what.ZH}
		nt.Description = n.description(what, a, since)
	default:
		nt.Summary = what
		nt.Description = n.description(what, a, since)
	}
	return nt
}

func (n names) description(what notify.Text, a Alert, since notify.Text) notify.Text {
	return notify.Text{
		EN: fmt.Sprintf("%s %s. Cause: %s. Rule %s, severity %s.", what.EN, since.EN, a.Cause, a.Rule, a.Severity),
		ZH: fmt.Sprintf("%s，%s。原因：%s。规则 %s，级别 %s。", what.ZH, since.ZH, a.Cause, a.Rule, a.Severity),
	}
}
