package report

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/pipeline"
)

type recorder struct {
	mu   sync.Mutex
	msgs []Message
	fail error
}

func (r *recorder) Send(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func TestPublisherPublishesOnChangeAndInterval(t *testing.T) {
	site := testSite(t, false)
	key := newKey(t)
	rec := &recorder{}
	p, err := NewPublisher(site, key, rec)
	if err != nil {
		t.Fatal(err)
	}
	e := engineAt(t, site, time.Second, nil)
	ctx := context.Background()
	seq := uint64(0)
	step := func(d time.Duration, states map[string]pipeline.DeviceState) bool {
		feed(t, e, site, d, states)
		snap := e.Snapshot()
		if !p.Due(&snap) {
			return false
		}
		seq++
		if _, err := p.Publish(ctx, &snap, seq); err != nil {
			t.Fatal(err)
		}
		return true
	}
	if !step(time.Second, nil) {
		t.Fatal("first snapshot not published")
	}
	if step(2*time.Second, nil) || step(30*time.Second, nil) {
		t.Fatal("published without a change before the interval")
	}
	if !step(31*time.Second, map[string]pipeline.DeviceState{"vent-g1": pipeline.InUse}) {
		t.Fatal("a bed becoming occupied was not published")
	}
	if step(33*time.Second, nil) {
		t.Fatal("a change 2s after the last report was published (MinGap 5s)")
	}
	if !step(36*time.Second, nil) {
		t.Fatal("the change held back by MinGap was not published after it")
	}
	if !step(41*time.Second, map[string]pipeline.DeviceState{"vent-g1": pipeline.InUse}) {
		t.Fatal("a bed becoming occupied again was not published")
	}
	if step(60*time.Second, map[string]pipeline.DeviceState{"vent-g1": pipeline.InUse}) {
		t.Fatal("published again 19s after the change")
	}
	if !step(101*time.Second, map[string]pipeline.DeviceState{"vent-g1": pipeline.InUse}) {
		t.Fatal("not published when the interval elapsed")
	}
	if len(rec.msgs) != 5 {
		t.Fatalf("sent %d messages, want 5", len(rec.msgs))
	}
	pub := key.Public().(ed25519.PublicKey)
	for i, m := range rec.msgs {
		if m.Topic != "icu/v1/R01/H001/capacity" || m.Sequence != uint64(i+1) {
			t.Errorf("message %d: topic %s seq %d", i, m.Topic, m.Sequence)
		}
		r, err := Verify(m.Payload, pub)
		if err != nil || r.Sequence != m.Sequence {
			t.Errorf("message %d does not verify: %v", i, err)
		}
	}
}

func TestPublisherRetriesAfterFailedSend(t *testing.T) {
	site := testSite(t, false)
	rec := &recorder{fail: errors.New("broker down")}
	p, err := NewPublisher(site, newKey(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	snap := engineAt(t, site, time.Second, nil).Snapshot()
	if _, err := p.Publish(context.Background(), &snap, 1); err == nil {
		t.Fatal("Publish hid the transport error")
	}
	if !p.Due(&snap) {
		t.Fatal("after a failed send the same counts are not due again")
	}
}

func TestNewPublisherRejectsTopicBreakingIDs(t *testing.T) {
	site := testSite(t, false)
	site.Hospital.Region = "north/east"
	if _, err := NewPublisher(site, newKey(t)); err == nil {
		t.Fatal("a region with '/' was accepted")
	}
}

func TestHTTPTransportRetries(t *testing.T) {
	var calls atomic.Int32
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ = io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Icugate-Sequence") != "9" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	tr := &HTTPTransport{URL: srv.URL, Client: srv.Client(), Backoff: time.Millisecond}
	if err := tr.Send(context.Background(), Message{Hospital: "H001", Sequence: 9, Payload: []byte(`{"x":1}`)}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || string(body) != `{"x":1}` {
		t.Fatalf("calls %d body %q", calls.Load(), body)
	}
}

func TestHTTPTransportDoesNotRetryRejection(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "bad signature", http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	tr := &HTTPTransport{URL: srv.URL, Client: srv.Client(), Backoff: time.Millisecond}
	if err := tr.Send(context.Background(), Message{Payload: []byte("{}")}); err == nil || calls.Load() != 1 {
		t.Fatalf("err %v after %d calls; want an error after 1", err, calls.Load())
	}
}

// The MQTT transport publishes retained: a subscriber that arrives later
// still gets the latest report.
func TestMQTTTransportPublishesRetained(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{})
	site := testSite(t, false)
	key := newKey(t)
	opts := paho.NewClientOptions().AddBroker(b.URL()).SetClientID("pub-test")
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	p, err := NewPublisher(site, key, &MQTTTransport{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	snap := engineAt(t, site, time.Second, nil).Snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Publish(ctx, &snap, 1); err != nil {
		t.Fatal(err)
	}

	got := make(chan paho.Message, 1)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("sub-test"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	sub.Subscribe("icu/v1/+/+/capacity", 1, func(_ paho.Client, m paho.Message) {
		select {
		case got <- m:
		default:
		}
	}).WaitTimeout(5 * time.Second)
	select {
	case m := <-got:
		if !m.Retained() || m.Topic() != "icu/v1/R01/H001/capacity" {
			t.Fatalf("retained %v topic %s", m.Retained(), m.Topic())
		}
		if _, err := Verify(m.Payload(), key.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retained report for a late subscriber")
	}
}

func TestPublisherOfferTakesSequenceOnlyWhenDue(t *testing.T) {
	site := testSite(t, false)
	rec := &recorder{}
	p, err := NewPublisher(site, newKey(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	e := engineAt(t, site, time.Second, nil)
	var seq uint64
	next := func() (uint64, error) { seq++; return seq, nil }
	for i := 0; i < 5; i++ {
		feed(t, e, site, time.Duration(i+1)*time.Second, nil)
		snap := e.Snapshot()
		sent, err := p.Offer(context.Background(), &snap, next)
		if err != nil || sent != (i == 0) {
			t.Fatalf("offer %d: sent %v err %v", i, sent, err)
		}
	}
	if seq != 1 || len(rec.msgs) != 1 {
		t.Fatalf("sequence taken %d times, %d messages", seq, len(rec.msgs))
	}
}

// A gateway that is one part of its hospital publishes on its own retained
// topics, so the gateways of one hospital never overwrite each other; part
// main (or none) keeps the hospital's topics.
func TestPartTopics(t *testing.T) {
	for _, c := range []struct{ part, capacity, presence string }{
		{"", "icu/v1/R01/H001/capacity", "icu/v1/R01/H001/gateway"},
		{MainPart, "icu/v1/R01/H001/capacity", "icu/v1/R01/H001/gateway"},
		{"east", "icu/v1/R01/H001/east/capacity", "icu/v1/R01/H001/east/gateway"},
	} {
		if got := PartTopic("R01", "H001", c.part); got != c.capacity {
			t.Errorf("PartTopic(%q) = %s", c.part, got)
		}
		if got := PresenceTopic("R01", "H001", c.part); got != c.presence {
			t.Errorf("PresenceTopic(%q) = %s", c.part, got)
		}
	}
	for _, id := range []string{"east", "B2", "campus-2.north", "a_b"} {
		if err := CheckPartID("part", id); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
	for _, id := range []string{"", "-x", ".x", "a/b", "a+b", "a#", "$sys", "a b", strings.Repeat("x", MaxPartID+1)} {
		if err := CheckPartID("part", id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
	site := testSite(t, false)
	site.Report.Part = "east"
	rec := &recorder{}
	p, err := NewPublisher(site, newKey(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	snap := engineAt(t, site, time.Second, nil).Snapshot()
	m, err := p.Publish(context.Background(), &snap, 1)
	if err != nil || m.Topic != "icu/v1/R01/H001/east/capacity" || m.Part != "east" {
		t.Fatalf("part publisher: %+v %v", m, err)
	}
	site.Report.Part = "east/1"
	if _, err := NewPublisher(site, newKey(t)); err == nil || !strings.Contains(err.Error(), "report.part") {
		t.Fatalf("a part id with '/' was accepted: %v", err)
	}
}
