package mqtt

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/mosquittotest"
)

// corpus reads testdata/malformed: file name (before the extension) is the
// reason the driver must count; %TS% becomes the current Unix time.
func corpus(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "malformed", "*.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("malformed corpus: %v (%d files)", err, len(files))
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		reason := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		out[reason] = bytes.ReplaceAll(b, []byte("%TS%"), []byte(strconv.FormatInt(time.Now().Unix(), 10)))
	}
	return out
}

// Not parallel: it bounds the process's heap, which parallel tests share.
func TestMalformedMessagesCountedAndDropped(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{MessageSizeLimit: 1 << 20})
	site := testSite(t, b.URL(), 2, 0)
	in := newFakeIntake()
	r := startDriver(t, site, in)
	pub := testPublisher(t, b.URL(), "pub-bad")
	good := testPublisher(t, b.URL(), "pub-good")
	const bad, healthy = "devices/vent-1/status", "devices/vent-2/status"

	publish(t, pub, bad, false, ventPayload("SN-vent-1", true, 500))
	waitFor(t, 5*time.Second, "vent-1 first good message", func() bool { return len(in.history("vent-1")) == 1 })
	before := in.history("vent-1")[0]

	// vent-2 keeps publishing good messages throughout.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			good.Publish(healthy, 1, false, ventPayload("SN-vent-2", i%2 == 0, i)).WaitTimeout(time.Second)
			time.Sleep(5 * time.Millisecond) // a steady healthy neighbour's pace, not a wait
		}
	})
	defer func() { cancel(); wg.Wait() }()

	want := map[string]float64{}
	for reason, payload := range corpus(t) {
		publish(t, pub, bad, false, payload)
		want[reason]++
	}
	old := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	cases := []struct {
		topic, reason string
		retained      bool
		payload       []byte
	}{
		{"devices/ghost/status", ReasonUnknownDevice, false, ventPayload("SN-x", true, 1)},
		{bad, ReasonStale, false, bytes.Replace(ventPayload("SN-vent-1", false, 1), []byte(strconv.FormatInt(time.Now().Unix(), 10)), []byte(old), 1)},
		{bad, ReasonFutureTime, false, bytes.Replace(ventPayload("SN-vent-1", false, 1), []byte(strconv.FormatInt(time.Now().Unix(), 10)), []byte(future), 1)},
		{bad, ReasonTooLarge, false, append([]byte(`{"pad":"`), append(bytes.Repeat([]byte("x"), 100_000), `"}`...)...)},
	}
	for _, c := range cases {
		publish(t, pub, c.topic, c.retained, c.payload)
		want[c.reason]++
	}
	// 10 MB: over the broker's message_size_limit, so Mosquitto drops it and
	// the gateway never sees it; the gateway must carry on regardless.
	publish(t, pub, bad, false, bytes.Repeat([]byte("A"), 10<<20))

	waitFor(t, 10*time.Second, "every refusal counted", func() bool {
		for reason, n := range want {
			if r.dropped(reason) != n {
				return false
			}
		}
		return true
	})
	for reason, n := range want {
		if got := r.dropped(reason); got != n {
			t.Errorf("dropped{reason=%s} = %v, want %v", reason, got, n)
		}
	}
	if h := in.history("vent-1"); len(h) != 1 || h[0].Time != before.Time {
		t.Errorf("bad messages reached the pipeline: vent-1 has %d observations", len(h))
	}
	n2 := len(in.history("vent-2"))
	waitFor(t, 5*time.Second, "vent-2 keeps flowing after the bad messages", func() bool { return len(in.history("vent-2")) > n2+5 })
	if got := r.metric("icugate_mqtt_connected", ""); got != 1 {
		t.Errorf("driver disconnected by bad input")
	}
	if d := r.d.acks.depth(); d > 2 {
		t.Errorf("%d messages left unacknowledged; dropped messages must be acknowledged", d)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > 64<<20 {
		t.Errorf("heap in use %d MB after the corpus; want bounded (< 64 MB)", ms.HeapInuse>>20)
	}
}
