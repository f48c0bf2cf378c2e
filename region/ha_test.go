package region

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/internal/natstest"
	"github.com/icugate/icugate/report"
)

// TestRegionHAOnNATSCluster is the high-availability deployment of
// docs/reporting.md §6: a three-node NATS cluster (JetStream, MQTT streams
// replicated to every node), 50 hospitals publishing their signed reports
// to all three nodes, and two aggregator instances on different nodes,
// each subscribed plainly (mqtt.shared false) with the other nodes as
// failover. One NATS node is killed (SIGKILL) in the middle of a round;
// later one instance is stopped in the middle of a round (in-process: its
// context ends, so it closes its connections; the other instance has its
// own subscription either way); the node is started again and a fresh
// instance is started at the end.
//
// It asserts that every instance receives every report (no per-instance
// share), that every report the cluster accepted (acknowledged to its
// hospital) reaches every surviving instance's view — each hospital at its
// latest acknowledged sequence —, that the surviving views equal the
// ground truth and each other, figure for figure, and that a fresh
// instance rebuilds the same view from the retained reports alone.
func TestRegionHAOnNATSCluster(t *testing.T) {
	cl := natstest.StartCluster(t)
	n1, n2, n3 := cl.Nodes[0], cl.Nodes[1], cl.Nodes[2]
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("NATSTEST_LOGS") != "" {
			for _, n := range cl.Nodes {
				t.Logf("%s log:\n%s", n.Name, n.Logs())
			}
		}
	})
	hs := newHospitals(t, 50)
	keys := writeKeys(t, t.TempDir(), hs)
	a := startHA(t, keys, "region-a", n1.URL(), n2.URL(), n3.URL())
	b := startHA(t, keys, "region-b", n2.URL(), n3.URL(), n1.URL())
	// Each hospital publishes to one node (a third of them to each), with
	// the other two as failover, as a gateway of the HA region would.
	gws := []*haGateway{
		haPublisher(t, "gw-1", n1.URL(), n2.URL(), n3.URL()),
		haPublisher(t, "gw-2", n2.URL(), n3.URL(), n1.URL()),
		haPublisher(t, "gw-3", n3.URL(), n1.URL(), n2.URL()),
	}
	truth := map[string]*report.Report{}
	var published int

	// Rounds 1–5 with every node up: both instances accept every report
	// live, each on its own.
	start := time.Now()
	const calm = 5
	for range calm {
		published += haRound(t, gws, hs, truth, nil)
	}
	for _, in := range []*instance{a, b} {
		eventually(t, 30*time.Second, in.cfg.MQTT.ClientID+" accepts every report", func() bool {
			return in.Counts()[Live][Accepted] >= calm*50
		})
		if n := in.Counts()[Live][Accepted]; n != calm*50 {
			t.Fatalf("%s accepted %d live reports for %d published", in.cfg.MQTT.ClientID, n, calm*50)
		}
	}
	calmRate := float64(calm*50) / time.Since(start).Seconds()
	haSame(t, "every node up", truth, a, b)

	// Round 6: node 1 (region-a's broker, gw-1's) is killed half way
	// through; the rest of the round and rounds 7–10 go on.
	sweepsA := a.Sweeps()
	var killed time.Time
	published += haRound(t, gws, hs, truth, func() { killed = time.Now(); n1.Kill() })
	eventually(t, 60*time.Second, "region-a reconnected to another node", func() bool { return a.Sweeps() > sweepsA })
	failover := time.Since(killed)
	for range 4 {
		published += haRound(t, gws, hs, truth, nil)
	}
	haSame(t, "node 1 killed", truth, a, b)

	// Round 11: region-b is stopped half way through; rounds 12–13 go on,
	// region-a alone follows them.
	published += haRound(t, gws, hs, truth, b.stop)
	for range 2 {
		published += haRound(t, gws, hs, truth, nil)
	}
	haSame(t, "region-b stopped", truth, a)

	// Node 1 comes back. While a node is down, a surviving node's copy of
	// the retained messages can stop following the replicated stream
	// (nats-server v2.15.3: seen as every hospital retained at the round
	// of the kill), so a fresh instance is only started once the cluster
	// is whole again; docs/reporting.md §6 says so.
	n1.Start()
	// A fresh instance on node 3 knows the region from the retained
	// reports alone.
	freshStart := time.Now()
	c := startHA(t, keys, "region-c", n3.URL(), n1.URL(), n2.URL())
	counts := c.Counts()
	if n := counts[Retained][Accepted] + counts[Live][Accepted]; n != 50 {
		t.Fatalf("fresh instance accepted %d reports, want the 50 retained ones (%v)", n, counts)
	}
	rebuilt := time.Since(freshStart)
	haSame(t, "fresh instance", truth, a, c)
	t.Logf("%d reports acknowledged (%d sends, the rest resent after the node was lost); %.0f reports/s with every node up (published, acknowledged and accepted by both instances); region-a back on another node %v after node 1 was killed; fresh instance rebuilt the region in %v",
		hs[0].seq*uint64(len(hs)), published, calmRate, failover.Round(time.Millisecond), rebuilt.Round(time.Millisecond))
}

// startHA starts an instance subscribed plainly (mqtt.shared false) to
// broker, with failover brokers.
func startHA(t *testing.T, keys, name, broker string, failover ...string) *instance {
	t.Helper()
	cfg := testConfig(keys, broker)
	cfg.MQTT.ClientID = name
	cfg.MQTT.Shared = new(bool)
	cfg.MQTT.Failover = failover
	cfg.MQTT.SweepInterval = -1 // sweeps at every (re)connect only
	r, err := New(cfg, Deps{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	in := &instance{Region: r}
	in.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Run: %v", name, err)
		}
		r.Close()
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			in.stop()
		}
	})
	eventually(t, 60*time.Second, name+" subscribed", func() bool { return r.Sweeps() >= 1 })
	return in
}

// haGateway is the connection of a third of the hospitals: to one node,
// moving to the next of brokers when it is lost. It reconnects itself,
// with a new client, rather than through paho's auto-reconnect, whose
// resend of in-flight publishes races with its writer (paho 1.5.1,
// client.resume); a report that was in flight is sent again by haRound.
type haGateway struct {
	t       *testing.T
	id      string
	brokers []string
	next    int
	c       paho.Client
}

func haPublisher(t *testing.T, id string, brokers ...string) *haGateway {
	t.Helper()
	g := &haGateway{t: t, id: id, brokers: brokers}
	g.connect()
	t.Cleanup(func() { g.c.Disconnect(100) })
	return g
}

// connect connects to the first broker, from the current one on, that
// takes the connection.
func (g *haGateway) connect() {
	g.t.Helper()
	if g.c != nil {
		g.c.Disconnect(0)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b := g.brokers[g.next%len(g.brokers)]
		c := paho.NewClient(paho.NewClientOptions().AddBroker(b).SetClientID(g.id).SetCleanSession(true).
			SetAutoReconnect(false).SetConnectTimeout(2 * time.Second))
		tok := c.Connect()
		if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			g.c = c
			return
		}
		c.Disconnect(0)
		if time.Now().After(deadline) {
			g.t.Fatalf("%s: no broker took the connection: %v", g.id, tok.Error())
		}
		g.next++
	}
}

// publish sends a retained QoS 1 report, reconnecting first when the
// connection was lost.
func (g *haGateway) publish(topic string, payload []byte) paho.Token {
	if !g.c.IsConnectionOpen() {
		g.next++
		g.connect()
	}
	return g.c.Publish(topic, 1, true, payload)
}

// haRound publishes every hospital's next report, retained at QoS 1,
// through its node's connection, and records it as the truth once the
// cluster acknowledged it. A report that was not acknowledged is sent
// again, the same report, as a gateway's outbox does, until it is: a
// hospital never moves on past an unacknowledged report. midway, when
// not nil, runs after half the round was sent.
func haRound(t *testing.T, gws []*haGateway, hs []*hospital, truth map[string]*report.Report, midway func()) int {
	t.Helper()
	now := time.Now()
	type sent struct {
		h   *hospital
		r   *report.Report
		env []byte
		tok paho.Token
	}
	var out []*sent
	send := func(s *sent, i int) {
		s.tok = gws[i%len(gws)].publish(report.Topic("R01", s.h.id), s.env)
	}
	for i, h := range hs {
		if midway != nil && i == len(hs)/2 {
			midway()
		}
		r := h.next("R01", now)
		s := &sent{h: h, r: r, env: h.sign(t, r)}
		send(s, i)
		out = append(out, s)
	}
	n := len(out)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; len(out) > 0; i++ {
		var again []*sent
		for j, s := range out {
			if s.tok.WaitTimeout(5*time.Second) && s.tok.Error() == nil {
				truth[s.h.id] = s.r
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: report %d not acknowledged within 30s: %v", s.h.id, s.r.Sequence, s.tok.Error())
			}
			send(s, i+j+1) // through another node's connection
			again = append(again, s)
			n++
		}
		out = again
	}
	return n
}

// haSame waits until every instance's view holds each hospital at its
// latest acknowledged sequence, then checks the figures against the truth
// and against each other.
func haSame(t *testing.T, stage string, truth map[string]*report.Report, ins ...*instance) {
	t.Helper()
	want := map[string]uint64{}
	for id, r := range truth {
		want[id] = r.Sequence
	}
	for _, in := range ins {
		deadline := time.Now().Add(30 * time.Second)
		for !reflect.DeepEqual(haSeqs(in), want) {
			if time.Now().After(deadline) {
				got := haSeqs(in)
				var diff []string
				for id, seq := range want {
					if got[id] != seq {
						diff = append(diff, fmt.Sprintf("%s at %d, acknowledged %d", id, got[id], seq))
					}
				}
				sort.Strings(diff)
				t.Fatalf("%s: %s does not hold every acknowledged report after 30s: %v", stage, in.cfg.MQTT.ClientID, diff)
			}
			time.Sleep(20 * time.Millisecond)
		}
		expectTotals(t, stage+": "+in.cfg.MQTT.ClientID, in.View(), truth)
	}
	first := ins[0].View()
	for _, in := range ins[1:] {
		v := in.View()
		if !reflect.DeepEqual(v.Totals, first.Totals) || !reflect.DeepEqual(v.Indicators, first.Indicators) || !reflect.DeepEqual(v.Districts, first.Districts) {
			t.Fatalf("%s: %s and %s differ:\n%+v\n%+v", stage, ins[0].cfg.MQTT.ClientID, in.cfg.MQTT.ClientID, first.Totals, v.Totals)
		}
	}
}

// haSeqs is each hospital's sequence in the instance's view.
func haSeqs(in *instance) map[string]uint64 {
	out := map[string]uint64{}
	es := in.Entries()
	sort.Slice(es, func(i, j int) bool { return es[i].Report.Hospital.ID < es[j].Report.Hospital.ID })
	for _, e := range es {
		out[e.Report.Hospital.ID] = e.Report.Sequence
	}
	return out
}

// TestNATSClusterConfigs checks the shipped HA configs: the region config
// of configs/region/nats-cluster subscribes plainly with two failover
// nodes, a bad failover URL is refused with its line, and nats-server
// accepts the three node configs.
func TestNATSClusterConfigs(t *testing.T) {
	dir := filepath.Join("..", "configs", "region", "nats-cluster")
	c, err := LoadConfig(filepath.Join(dir, "region.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Shared() || len(c.MQTT.Failover) != 2 || !reflect.DeepEqual(c.Filters(), c.Topics()) {
		t.Fatalf("shared %v, failover %v, filters %v: want a plain subscription and two failover nodes", c.Shared(), c.MQTT.Failover, c.Filters())
	}
	base := testConfig("k.yaml", "")
	if !base.Shared() || !strings.HasPrefix(base.Filters()[0], "$share/icuregion/") {
		t.Fatalf("default filters %v: want the shared subscription", base.Filters())
	}
	bad := "region: R01\npopulation: 1000\nkeys_file: k.yaml\nmqtt:\n  broker: tcp://a:1883\n  failover:\n    - nats-2:1883\n"
	if _, err := ParseConfig([]byte(bad), "r.yaml"); err == nil || !strings.Contains(err.Error(), "r.yaml:7") || !strings.Contains(err.Error(), "failover") {
		t.Fatalf("bad failover URL: %v", err)
	}

	bin := natstest.Require(t)
	tmp := t.TempDir()
	shared, err := os.ReadFile(filepath.Join(dir, "cluster.conf"))
	if err != nil {
		t.Fatal(err)
	}
	// The store directory of a real node is not writable here.
	shared = []byte(strings.ReplaceAll(string(shared), "/var/lib/nats/jetstream", filepath.Join(tmp, "js")))
	if err := os.WriteFile(filepath.Join(tmp, "cluster.conf"), shared, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d.conf", i)
		node, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(node), fmt.Sprintf("server_name: nats-%d\n", i)) {
			t.Errorf("%s does not name its node nats-%d", name, i)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), node, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-t", "-c", filepath.Join(tmp, name)).CombinedOutput(); err != nil {
			t.Errorf("nats-server -t %s: %v\n%s", name, err, out)
		}
	}
}
