package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/alertmanagertest"
	"github.com/icugate/icugate/internal/mailpittest"
	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/simulator/mqttsim"
)

// hookServer is a webhook receiver: it checks each body's signature and
// keeps the notifications; while down it answers 503.
type hookServer struct {
	t    *testing.T
	key  []byte
	down atomic.Bool
	mu   sync.Mutex
	got  []notify.Notification
	bad  []string
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.down.Load() {
		http.Error(w, "receiver down for maintenance", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := notify.VerifyWebhook(h.key, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		h.bad = append(h.bad, err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var n notify.Notification
	if err := json.Unmarshal(body, &n); err != nil {
		h.bad = append(h.bad, err.Error())
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.got = append(h.got, n)
}

func (h *hookServer) list() []notify.Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// TestNativeAlertsEndToEnd runs `icugate run` with every receiver on real
// servers (a webhook over HTTP, mailpit over STARTTLS with a login,
// Alertmanager, Mosquitto) and MQTT monitors a test publishes:
//   - a monitor that stops publishing gives exactly one alert on every
//     receiver once the rule's for: has passed; one in maintenance none;
//   - a kill -9 and restart while the alert fires repeat nothing;
//   - when the monitor returns, every receiver gets one resolve — the
//     webhook, down for 60 s meanwhile (and the gateway killed again while
//     the resolve waited for it), gets it once it is back;
//   - health names the failing webhook while it is down.
func TestNativeAlertsEndToEnd(t *testing.T) {
	if skipShort() {
		t.Skip("separate processes and a 60 s receiver outage (-short; never skipped under CI=true)")
	}
	dir := t.TempDir()
	broker := mosquittotest.Start(t, mosquittotest.Config{})
	mail := mailpittest.Start(t, mailpittest.Config{RequireSTARTTLS: true, Users: map[string]string{"icugate": "mail-pass"}})
	am := alertmanagertest.Start(t)
	hook := &hookServer{t: t, key: []byte("webhook-shared-secret")}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	bin := build(t, dir)

	for name, content := range map[string]string{"hook.key": string(hook.key), "smtp-user": "icugate", "smtp-pass": "mail-pass", "api-token": "biomed e2e-token-0123456789abcdef"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	profiles, _ := filepath.Abs("../configs/profiles")
	apiAddr := freeAddr(t)
	site := fmt.Sprintf(`hospital: {id: alert-test, name: Alert Test, level: secondary, total_beds: 100, region: test}
profiles_dir: %s
hold: 0s
units:
  - {id: icu, name: ICU One, class: general, requires: [monitor], beds: [bed-0, bed-1]}
devices:
  - {id: mon-0, kind: monitor, profile: generic-monitor-mqtt, at: bed-0, mqtt: {interval: 1s}}
  - {id: mon-1, kind: monitor, profile: generic-monitor-mqtt, at: bed-1, mqtt: {interval: 1s}}
mqtt: {broker: %s, client_id: icugate-alert-test}
outbox: {dir: %s}
http: {listen: %s, token_file: api-token}
alerts:
  start_grace: 3s
  receivers:
    - {name: hook, type: webhook, url: %q, secret_file: hook.key, timeout: 2s}
    - {name: mail, type: email, url: %q, from: icugate@hospital.example, to: [biomed@hospital.example], username_file: smtp-user, password_file: smtp-pass, tls: {ca_file: %s}}
    - {name: am, type: alertmanager, url: %q}
    - {name: bus, type: mqtt, topic: icugate/alert-test/alerts}
  rules:
    - {name: monitor-offline, when: device_offline, kinds: [monitor], for: 2s, severity: critical}
`, profiles, broker.URL(), filepath.Join(dir, "outbox"), apiAddr, hookSrv.URL, mail.SMTPURL(), mail.CAFile(), am.URL())
	sitePath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(sitePath, []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(sitePath)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(bin, "icugate"), "check", "-c", sitePath).CombinedOutput(); err != nil {
		t.Fatalf("icugate check: %v\n%s", err, out)
	}

	// The monitors publish every 500 ms while on.
	var on [2]atomic.Bool
	on[0].Store(true)
	on[1].Store(true)
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("alert-test-devices"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device publisher: %v", tok.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for i := range 2 {
				if !on[i].Load() {
					continue
				}
				dev := &cfg.Devices[i]
				payload, err := mqttsim.Payload(cfg.Profiles[dev.Profile], dev, "standby", time.Now())
				if err == nil {
					pub.Publish(dev.MQTT.Topic, 1, false, payload).WaitTimeout(5 * time.Second)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait(); pub.Disconnect(100) })

	// The alert topic's retained messages, as a dashboard on the bus sees
	// them.
	var busMu sync.Mutex
	bus := map[string]notify.Notification{}
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("alert-test-bus").
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe("icugate/alert-test/alerts/#", 1, func(_ paho.Client, m paho.Message) {
				var n notify.Notification
				if json.Unmarshal(m.Payload(), &n) == nil {
					busMu.Lock()
					bus[m.Topic()] = n
					busMu.Unlock()
				}
			})
		}))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("bus subscriber: %v", tok.Error())
	}
	t.Cleanup(func() { sub.Disconnect(100) })
	busState := func() string {
		busMu.Lock()
		defer busMu.Unlock()
		return bus["icugate/alert-test/alerts/monitor-offline/device/mon-0"].Status
	}

	api := "http://" + apiAddr
	var gwLog *logBuffer
	startGW := func() *exec.Cmd {
		gwLog = &logBuffer{}
		cmd := exec.Command(filepath.Join(bin, "icugate"), "run", "-c", sitePath, "-data", filepath.Join(dir, "data"))
		cmd.Stdout, cmd.Stderr = gwLog, gwLog
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			if res, err := (&http.Client{Timeout: time.Second}).Get(api + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("icugate not serving within 30s\n%s", tail(gwLog.String(), 3000))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	gw := startGW()
	defer func() {
		_ = gw.Process.Kill()
		_ = gw.Wait()
		if t.Failed() {
			t.Logf("last icugate run:\n%s", tail(gwLog.String(), 6000))
		}
	}()
	kill := func() {
		_ = gw.Process.Kill()
		_ = gw.Wait()
	}
	until := func(what string, within time.Duration, cond func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			ok, detail := cond()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v (%s)\n%s", what, within, detail, tail(gwLog.String(), 3000))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	deviceState := func(id string) string {
		code, body := call(t, http.MethodGet, api+"/api/v1/devices/"+id, "", "")
		var d struct{ State string }
		if code == 200 {
			_ = json.Unmarshal([]byte(body), &d)
		}
		return d.State
	}
	until("both monitors online", 20*time.Second, func() (bool, string) {
		return deviceState("mon-0") == "standby" && deviceState("mon-1") == "standby", deviceState("mon-0") + " " + deviceState("mon-1")
	})
	if code, body := call(t, http.MethodPut, api+"/api/v1/devices/mon-1/maintenance", "e2e-token-0123456789abcdef", `{"on":true}`); code != 200 {
		t.Fatalf("maintenance of mon-1: %d %s", code, body)
	}

	// Both monitors go silent; only mon-0 is an alert.
	on[0].Store(false)
	on[1].Store(false)
	amAlerts := func() []alertmanagertest.Alert {
		a, _ := am.Alerts(context.Background(), `alertname="monitor-offline"`)
		return a
	}
	until("firing on every receiver", 30*time.Second, func() (bool, string) {
		msgs, _ := mail.Messages(context.Background())
		return len(hook.list()) >= 1 && len(msgs) >= 1 && len(amAlerts()) >= 1 && busState() == notify.StatusFiring,
			fmt.Sprintf("hook %d, mail %d, alertmanager %d, bus %q", len(hook.list()), len(msgs), len(amAlerts()), busState())
	})
	got := hook.list()
	if n := got[0]; len(got) != 1 || n.Status != notify.StatusFiring || n.Device != "mon-0" || n.Kind != "monitor" ||
		n.Bed != "bed-0" || n.Unit != "icu" || !strings.Contains(n.Summary.EN, "Patient monitor mon-0 (bed bed-0, unit ICU One) is offline") ||
		!strings.Contains(n.Summary.ZH, "监护仪 mon-0离线") {
		t.Fatalf("webhook got %+v", got)
	}
	msgs := mail.WaitMessages(t, 1)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "mon-0") || !strings.Contains(msgs[0].Text, "监护仪") {
		t.Errorf("mail: %+v", msgs)
	}
	if a := amAlerts(); len(a) != 1 || a[0].Labels["device"] != "mon-0" || a[0].Labels["severity"] != "critical" || a[0].Labels["hospital"] != "alert-test" {
		t.Errorf("alertmanager: %+v", a)
	}

	// kill -9 and restart while the alert fires: nothing is sent again.
	kill()
	gw = startGW()
	time.Sleep(8 * time.Second) // past start_grace and for:, with mon-0 still silent
	if got := hook.list(); len(got) != 1 {
		t.Errorf("after a restart the webhook has %d notifications, want still 1: %+v", len(got), got)
	}
	if msgs, _ := mail.Messages(context.Background()); len(msgs) != 1 {
		t.Errorf("after a restart mailpit has %d messages, want still 1", len(msgs))
	}
	code, body := call(t, http.MethodGet, api+"/api/v1/alerts", "", "")
	if code != 200 || !strings.Contains(body, `"id":"monitor-offline/device/mon-0"`) || strings.Contains(body, "mon-1") {
		t.Errorf("GET /api/v1/alerts after restart: %d %s", code, tail(body, 2000))
	}

	// The webhook goes down for 60 s; mon-0 comes back: every other
	// receiver gets the resolve at once.
	hook.down.Store(true)
	downAt := time.Now()
	on[0].Store(true)
	until("resolved on mail, Alertmanager and the bus", 30*time.Second, func() (bool, string) {
		msgs, _ := mail.Messages(context.Background())
		return len(msgs) == 2 && len(amAlerts()) == 0 && busState() == notify.StatusResolved,
			fmt.Sprintf("mail %d, alertmanager %d, bus %q", len(msgs), len(amAlerts()), busState())
	})
	if msgs := mail.WaitMessages(t, 2); !strings.Contains(msgs[1].Subject, "resolved") {
		t.Errorf("second mail is not the resolve: %q", msgs[1].Subject)
	}
	until("health names the failing webhook", 45*time.Second, func() (bool, string) {
		code, body := call(t, http.MethodGet, api+"/readyz", "", "")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "receiver hook (webhook) failing"), fmt.Sprintf("%d %s", code, body)
	})
	// The gateway is killed while the resolve waits for the webhook.
	kill()
	gw = startGW()
	time.Sleep(time.Until(downAt.Add(60 * time.Second)))
	if n := len(hook.list()); n != 1 {
		t.Fatalf("the webhook got %d notifications while down", n)
	}
	hook.down.Store(false)
	until("the resolve reaches the webhook once it is back", 45*time.Second, func() (bool, string) {
		return len(hook.list()) >= 2, fmt.Sprintf("hook %d", len(hook.list()))
	})
	time.Sleep(2 * time.Second) // nothing more may follow
	got = hook.list()
	if len(got) != 2 || got[1].Status != notify.StatusResolved || got[1].AlertID != got[0].AlertID || got[1].ID == got[0].ID {
		t.Errorf("webhook got %+v, want the firing then the resolve", got)
	}
	if len(hook.bad) > 0 {
		t.Errorf("webhook requests refused: %v", hook.bad)
	}
	until("health clear once the webhook took everything", 30*time.Second, func() (bool, string) {
		code, body := call(t, http.MethodGet, api+"/readyz", "", "")
		return code == http.StatusOK, body
	})
	if msgs, _ := mail.Messages(context.Background()); len(msgs) != 2 {
		t.Errorf("mailpit has %d messages at the end, want 2", len(msgs))
	}
}
