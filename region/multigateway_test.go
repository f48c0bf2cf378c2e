package region

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/report"
)

// End to end through a real Mosquitto and a real InfluxDB 1.8, with real
// gateways' MQTT connections (drivers/mqtt: presence and last will) and
// report publishers: four hospitals in two districts, one of them (H002)
// with two gateways (parts main and east). Checked at each stage against
// the hand-computed figures of parts_helpers_test.go:
//
//  1. all report: per-district and regional per-100k, H002 merged from
//     both gateways (neither overwrites the other), InfluxDB per part and
//     per district;
//  2. east's gateway loses its connection (the broker publishes its last
//     will): H002 partial, east gateway_down, D01 figures from H001 and
//     H002 main only; the API, metrics, page and a webhook name it (and
//     H004, never reported, once the alerts' 30 s passed);
//  3. main's gateway stops cleanly (explicit offline), H003's gateway
//     stays connected but stops reporting: H002 silent gateway_down,
//     H003 silent no_report, alerts for both, H002's partial resolved
//     after its silent alert fired;
//  4. H003 reports again: its alert resolves.
//
// Bad input through the broker (a part's key on another part's topic,
// another hospital's key, an unregistered part) is rejected and counted.
func TestMultiGatewayHospitalsEndToEnd(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	db := influxtest.Start(t, influxtest.Options{})
	t.Setenv("ICUGATE_INFLUXDB_TOKEN", db.Token)
	hr := newHandRegion(t, t.TempDir())
	sink, hook := startWebhook(t, []byte("s3cret"))
	clk := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	r := e2eRegion(t, hr.keys, b.URL(), clk, hook.URL, &config.InfluxDB{URL: db.URL, Bucket: db.Bucket})
	api := "http://" + r.Addr()

	eastProxy := newCutProxy(t, b.Addr())
	h001 := startGateway(t, b.URL(), "H001", "", hr.h001.key, bedsH001)
	main := startGateway(t, b.URL(), "H002", "", hr.h002main.key, bedsH002Main)
	east := startGateway(t, eastProxy.URL(), "H002", "east", hr.h002east.key, bedsH002East)
	h003 := startGateway(t, b.URL(), "H003", "", hr.h003.key, bedsH003)
	online := func(h, p string) func() bool { return func() bool { return presenceOf(r, h, p) == PresenceOnline } }
	for _, hp := range [][2]string{{"H001", "main"}, {"H002", "main"}, {"H002", "east"}, {"H003", "main"}} {
		eventually(t, 20*time.Second, hp[0]+"/"+hp[1]+" online", online(hp[0], hp[1]))
	}

	// 1. Every gateway reports.
	t0 := clk.Now()
	for _, g := range []*gateway{h001, main, east, h003} {
		g.report(t, t0)
	}
	eventually(t, 20*time.Second, "4 reports accepted", func() bool { return r.Counts()[Live][Accepted]+r.Counts()[Retained][Accepted] >= 4 })
	v := r.View()
	checkIndicators(t, "D01", v.Districts[0].Indicators, per(98, 5e5), per(96, 5e5), per(63, 5e5), 12, [4]bool{true, true, true, true})
	checkIndicators(t, "D02", v.Districts[1].Indicators, 18, 12, 12, 12, [4]bool{true, false, true, true})
	checkIndicators(t, "region", v.Indicators, per(107, 5.5e5), per(102, 5.5e5), per(69, 5.5e5), 12, [4]bool{true, true, true, true})
	h2 := hospitalOf(t, v, "H002")
	if h2.Status != StatusReporting || h2.Totals.BedsTotal != 115 || !h2.MeetsTargetsConfigured || h2.Policy.Staffing.Doctors != 36 ||
		h2.Parts[0].GatewayID != "icugate-H002" || h2.Parts[1].GatewayID != "icugate-H002-east" || h2.Parts[1].Presence != PresenceOnline {
		t.Fatalf("H002 from two gateways: %+v", h2)
	}
	// InfluxDB: one series per part, the district's figure is the sum of
	// its parts' last points.
	influxSum := func(district, field, class string) int {
		t.Helper()
		rows, err := db.Query(fmt.Sprintf(`SELECT sum(x) FROM (SELECT last(%s) AS x FROM region_capacity WHERE district='%s' AND unit='all' AND class=~/%s/ AND time > now() - 1h AND time < now() + 1h GROUP BY hospital, part, class)`, field, district, class))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("influx %s %s: %v", district, field, rows)
		}
		return asInt(t, rows[0][1])
	}
	if icu, eq, ready, parts := influxSum("D01", "beds_total", "^(general|specialty)$"), influxSum("D01", "beds_equipped", "^all$"), influxSum("D01", "convertible_ready", "^all$"), influxSum("D02", "beds_total", "^(general|specialty)$"); icu != 98 || eq != 38+25+90 || ready != 60 || parts != 9 {
		t.Fatalf("InfluxDB: D01 icu %d equipped %d ready %d, D02 icu %d", icu, eq, ready, parts)
	}

	// Bad input through the broker: rejected, counted by reason.
	gw := publisher(t, b.URL())
	eastAsMain := hr.h002east.sign(t, hr.h002east.nextWith("R01", t0, bedsH002East))
	publish(t, gw, report.PartTopic("R01", "H002", "main"), eastAsMain, false)
	publish(t, gw, report.PartTopic("R01", "H002", "west"), eastAsMain, false)
	h001AsH002 := func() []byte {
		rep := hr.h001.nextWith("R01", t0, bedsH001)
		rep.Hospital.ID = "H002"
		return hr.h001.sign(t, rep)
	}()
	publish(t, gw, report.PartTopic("R01", "H002", "east"), h001AsH002, false)
	publish(t, gw, "icu/v1/R01/H002/main/capacity", eastAsMain, false)
	eventually(t, 10*time.Second, "bad input counted", func() bool {
		c := r.Counts()[Live]
		return c[PartMismatch] == 2 && c[HospitalMismatch] == 1 && c[Malformed] == 1
	})

	// 2. East's gateway is cut off: the broker publishes its last will.
	eastProxy.cut()
	eventually(t, 20*time.Second, "east's last will", func() bool { return presenceOf(r, "H002", "east") == PresenceOffline })
	// The others report 2 minutes on; 2 minutes later east's report is 4
	// minutes old (silent after 3), theirs 2.
	clk.Add(2 * time.Minute)
	t1 := clk.Now()
	for _, g := range []*gateway{h001, main, h003} {
		g.report(t, t1)
	}
	eventually(t, 20*time.Second, "round 2 accepted", func() bool { return hospitalOf(t, r.View(), "H003").Parts[0].AsOf.Equal(t1) })
	clk.Add(2 * time.Minute)
	eventually(t, 10*time.Second, "H002 partial", func() bool { return hospitalOf(t, r.View(), "H002").Status == StatusPartial })
	v = r.View()
	h2 = hospitalOf(t, v, "H002")
	if len(h2.SilentParts) != 1 || h2.SilentParts[0] != "east" || h2.Parts[1].Reason != ReasonGatewayDown || h2.Totals.BedsTotal != 25 || h2.MeetsTargetsConfigured {
		t.Fatalf("H002 with east down: %+v", h2)
	}
	checkIndicators(t, "D01 partial", v.Districts[0].Indicators, per(53, 5e5), per(51, 5e5), per(18, 5e5), per(15, 5e5), [4]bool{false, false, false, false})
	var api1 View
	getJSON(t, api+"/api/v1/region", &api1)
	if len(api1.Districts) != 2 || api1.Districts[0].Indicators.ICUBedsPer100k != per(53, 5e5) || api1.Districts[0].Totals.Partial != 1 || api1.Hospitals[1].Parts[1].Report != nil {
		t.Fatalf("GET /api/v1/region districts: %+v", api1.Districts)
	}
	var nr []NotReporting
	getJSON(t, api+"/api/v1/not-reporting", &nr)
	if len(nr) != 2 || nr[0].Hospital != "H002" || nr[0].Status != StatusPartial || len(nr[0].Parts) != 1 || nr[0].Parts[0].ID != "east" || nr[0].Parts[0].Reason != ReasonGatewayDown || nr[1].Hospital != "H004" {
		t.Fatalf("GET /api/v1/not-reporting: %+v", nr)
	}
	metrics := getText(t, api+"/metrics")
	for _, want := range []string{
		`icugate_region_hospital_status{district="D01",hospital="H002",status="partial"} 1`,
		`icugate_region_hospital_silent_parts{hospital="H002"} 1`,
		`icugate_region_part_gateway_online{hospital="H002",part="east"} 0`,
		`icugate_region_part_gateway_online{hospital="H002",part="main"} 1`,
		`icugate_region_district_per_100k{district="D01",indicator="icu"} 10.6`,
		`icugate_region_target_met{district="D02",indicator="icu"} 1`,
		`icugate_region_reports_total{outcome="part_mismatch",source="live"} 2`,
		`icugate_region_presence_total{outcome="offline"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	page := getText(t, api+"/")
	for _, want := range []string{"Central City", "North County", "east: gateway_down", "never_reported", "10.60", "partial"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	eventually(t, 10*time.Second, "H002 partial alerted", func() bool { return len(sink.find(alertID(rulePartial, "H002"), notify.StatusFiring)) == 1 })
	// H004, never heard of, alerted once the alerts' 30 s had passed.
	eventually(t, 10*time.Second, "H004 alerted as never reported", func() bool { return len(sink.find(alertID(ruleSilent, "H004"), notify.StatusFiring)) == 1 })
	eventually(t, 10*time.Second, "alert metrics", func() bool {
		m := getText(t, api+"/metrics")
		return strings.Contains(m, `icugate_region_alerts_firing{rule="hospital_partial"} 1`) && strings.Contains(m, `icugate_region_alert_notifications_total{receiver="commission",result="sent"} 2`)
	})
	if got := len(sink.find(alertID(ruleSilent, "H001"), notify.StatusFiring)); got != 0 {
		t.Fatalf("H001, which always reported, was alerted %d times", got)
	}
	n := sink.find(alertID(rulePartial, "H002"), notify.StatusFiring)[0]
	if n.Severity != "warning" || n.Hospital != "H002" || !strings.Contains(n.Summary.EN, "east: gateway down") || !strings.Contains(n.Summary.ZH, "网关离线") || !n.StartsAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("partial alert: %+v", n)
	}

	// 3. Main's gateway stops cleanly; H003's stays up but stops reporting.
	main.stop()
	eventually(t, 20*time.Second, "main's explicit offline", func() bool { return presenceOf(r, "H002", "main") == PresenceOffline })
	clk.Add(time.Minute)
	t2 := clk.Now()
	h001.report(t, t2)
	eventually(t, 20*time.Second, "H001 reported", func() bool { return hospitalOf(t, r.View(), "H001").Parts[0].AsOf.Equal(t2) })
	clk.Add(31 * time.Second) // main's and H003's reports are 3m31s old
	eventually(t, 20*time.Second, "H002 and H003 silent", func() bool {
		v := r.View()
		return hospitalOf(t, v, "H002").Status == StatusSilent && hospitalOf(t, v, "H003").Status == StatusSilent && hospitalOf(t, v, "H001").Status == StatusReporting
	})
	v = r.View()
	if h2, h3 := hospitalOf(t, v, "H002"), hospitalOf(t, v, "H003"); h2.Reason != ReasonGatewayDown || h3.Reason != ReasonNoReport || h3.Parts[0].Presence != PresenceOnline {
		t.Fatalf("silent reasons: H002 %s, H003 %s (presence %s)", h2.Reason, h3.Reason, h3.Parts[0].Presence)
	}
	checkIndicators(t, "D01 without H002", v.Districts[0].Indicators, per(28, 5e5), per(26, 5e5), per(18, 5e5), per(15, 5e5), [4]bool{false, false, false, false})
	checkIndicators(t, "D02 without H003", v.Districts[1].Indicators, 0, 0, 0, 0, [4]bool{false, false, false, false})
	eventually(t, 10*time.Second, "silent alerts and the partial one resolved", func() bool {
		return len(sink.find(alertID(ruleSilent, "H002"), notify.StatusFiring)) == 1 && len(sink.find(alertID(ruleSilent, "H003"), notify.StatusFiring)) == 1 &&
			len(sink.find(alertID(rulePartial, "H002"), notify.StatusResolved)) == 1
	})
	if sink.index(alertID(ruleSilent, "H002"), notify.StatusFiring) > sink.index(alertID(rulePartial, "H002"), notify.StatusResolved) {
		t.Error("H002's partial alert resolved before its silent alert fired")
	}
	if n := sink.find(alertID(ruleSilent, "H003"), notify.StatusFiring)[0]; n.Severity != "critical" || !strings.Contains(n.Summary.EN, "gateway up, no report") {
		t.Fatalf("H003 alert: %+v", n)
	}

	// 4. H003 reports again.
	h003.report(t, clk.Now())
	eventually(t, 20*time.Second, "H003's alert resolved", func() bool { return len(sink.find(alertID(ruleSilent, "H003"), notify.StatusResolved)) == 1 })
	if sink.bad != 0 {
		t.Fatalf("%d webhook requests failed their signature", sink.bad)
	}
	if m := getText(t, api+"/metrics"); !strings.Contains(m, `icugate_region_influx_writes_total{result="error"} 0`) {
		t.Fatal("InfluxDB writes failed")
	}
}
