package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSampleStatesDefaults checks that configs/icugate.sample.yaml, which
// documents every option with its default, states the defaults Load
// really applies.
func TestSampleStatesDefaults(t *testing.T) {
	s, err := Load("../configs/icugate.sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dev := s.Devices[0].Modbus
	rtu := s.Devices[2].Modbus.RTU
	checks := []struct {
		name      string
		got, want any
	}{
		{"target_year", s.TargetYear, DefaultTargetYear},
		{"profiles_dir", s.ProfilesDir, filepath.Join("..", "configs", DefaultProfilesDir)},
		{"hold", s.HoldTime(), DefaultHold},
		{"clinical", s.Clinical, false},
		{"requires", len(s.Units[0].Requires), len(s.Units[0].RequiredKinds())},
		{"failures", s.Devices[0].Failures, DefaultFailures},
		{"unit_id", dev.UnitID, DefaultUnitID},
		{"interval", dev.Interval, DefaultModbusInterval},
		{"timeout", dev.Timeout, DefaultModbusTimeout},
		{"max_conns", dev.MaxConns, DefaultMaxConns},
		{"rtu", *rtu, RTU{Device: rtu.Device, Baud: DefaultBaud, DataBits: DefaultDataBits, Parity: DefaultParity, StopBits: DefaultStopBits}},
		{"mqtt interval", s.Devices[3].MQTT.Interval, DefaultMQTTInterval},
		{"mqtt client_id", s.MQTT.ClientID, "icugate-" + s.Hospital.ID},
		{"max_message_bytes", s.MQTT.MaxMessageBytes, DefaultMaxMessageBytes},
		{"batch_size", s.InfluxDB.BatchSize, DefaultBatchSize},
		{"flush_interval", s.InfluxDB.FlushInterval, DefaultFlushInterval},
		{"outbox.dir", s.Outbox.Dir, filepath.Join("..", "configs", DefaultOutboxDir)},
		{"outbox.max_size", s.Outbox.MaxSize, DefaultOutboxMaxSize},
		{"report.interval", s.Report.Interval, DefaultReportInterval},
		{"report.gateway_id", s.Report.GatewayID, s.Hospital.ID},
		{"http.listen", s.HTTP.Listen, DefaultHTTPListen},
		{"log", s.Log, Log{Level: DefaultLogLevel, Format: DefaultLogFormat}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("sample %s = %v, but the default is %v", c.name, c.got, c.want)
		}
	}
	// The sample's MQTT topic is the one the profile pattern gives.
	p := s.Profiles[s.Devices[3].Profile]
	if want := "devices/" + s.Devices[3].ID + "/status"; p.Topic == "" || s.Devices[3].MQTT.Topic != want {
		t.Errorf("sample mqtt topic %q, profile pattern %q", s.Devices[3].MQTT.Topic, p.Topic)
	}
}

// TestAccessExamples checks configs/access: the example token file parses
// with its three roles, and the http block loads into a site.
func TestAccessExamples(t *testing.T) {
	b, err := os.ReadFile("../configs/access/api-tokens.example")
	if err != nil {
		t.Fatal(err)
	}
	toks, err := ParseAPITokens(string(b), "api-tokens.example")
	if err != nil || len(toks) != 3 || toks[0].Role != RoleViewer || toks[1].Role != RoleEngineer || toks[2].Role != RoleAdmin {
		t.Fatalf("example tokens: %+v, %v", toks, err)
	}
	block, err := os.ReadFile("../configs/access/http-https.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(writeSite(t, minimalSite+string(block), nil))
	if err != nil {
		t.Fatalf("site with the example http block: %v", err)
	}
	if !s.HTTP.ReadRequiresToken || s.HTTP.TLS == nil || !s.HTTP.HealthIsPublic() || s.HTTP.MetricsArePublic() {
		t.Errorf("example http block: %+v", s.HTTP)
	}
}
