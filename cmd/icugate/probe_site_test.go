package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestProbeBySiteDevice probes a simulated ventilator named in a site
// file and checks what the commissioning engineer is told about its serial
// and its values.
func TestProbeBySiteDevice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		siteSerial string // what the probed site file expects
		values     map[string]any
		want       []string
	}{
		{"serial matches", "4242", nil,
			[]string{`serial: "4242" (matches the site config)`, "state: standby", "ok [0,200000]"}},
		{"serial mismatch", "9999", nil,
			[]string{`serial: "4242" MISMATCH: the site config expects "9999"`}},
		{"value outside range", "4242", map[string]any{"operating_hours": 300000},
			[]string{"OUTSIDE [0,200000]: check byte/word order", "state: none: a value is outside its plausible range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := freePort(t)
			sim := startSimulator(t, writeTinySite(t, t.TempDir(), addr, freePort(t), "4242"))
			if tt.values != nil {
				if err := sim.SetValues("vent-1", tt.values); err != nil {
					t.Fatal(err)
				}
			}
			path := writeTinySite(t, t.TempDir(), addr, freePort(t), tt.siteSerial)
			var out, errOut bytes.Buffer
			if code := probe([]string{"-c", path, "-device", "vent-1"}, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			if !strings.HasPrefix(out.String(), "device vent-1  ") {
				t.Errorf("output does not start with the device:\n%s", out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestProbeRejectsBadTargets exits 2, saying what is wrong, before any
// device is contacted.
func TestProbeRejectsBadTargets(t *testing.T) {
	t.Parallel()
	site := writeTinySite(t, t.TempDir(), "127.0.0.1:9", freePort(t), "4242")
	prof := "../../configs/profiles/generic-ventilator-modbus.yaml"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nosuch"}, "flag provided but not defined"},
		{"bad timeout", []string{"-timeout", "soon"}, "invalid value"},
		{"nothing given", nil, "give -c SITE -device ID, or -address"},
		{"site without device", []string{"-c", site}, "-c needs -device ID"},
		{"device not in site", []string{"-c", site, "-device", "vent-9"}, "device vent-9 not in " + site},
		{"site missing", []string{"-c", "no-such-site.yaml", "-device", "vent-1"}, "no-such-site.yaml"},
		{"address without profile", []string{"-address", "127.0.0.1:9"}, "give -c SITE"},
		{"unit out of range", []string{"-address", "127.0.0.1:9", "-profile", prof, "-unit", "256"}, "-unit 256 outside 0..255"},
		{"negative unit", []string{"-address", "127.0.0.1:9", "-profile", prof, "-unit", "-1"}, "-unit -1 outside 0..255"},
		{"profile missing", []string{"-address", "127.0.0.1:9", "-profile", "no-such-profile.yaml"}, "no-such-profile.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if code := probe(tt.args, &out, &errOut); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want empty", out.String())
			}
		})
	}
}

// TestProbeTimesOutOnSilentDevice probes an address that accepts the
// connection but never answers: exit 1 within the -timeout, not the
// one-minute overall bound.
func TestProbeTimesOutOnSilentDevice(t *testing.T) {
	t.Parallel()
	ln := silentListener(t)
	var out, errOut bytes.Buffer
	code := probe([]string{"-address", ln, "-profile", "../../configs/profiles/generic-ventilator-modbus.yaml", "-timeout", "200ms"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout %s", code, out.String())
	}
	if !strings.Contains(errOut.String(), "icugate probe:") || out.Len() != 0 {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
}
