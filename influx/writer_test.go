package influx

import (
	"context"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/influxtest"
)

func TestWriterDeliversInOrder(t *testing.T) {
	srv := influxtest.Start(t, influxtest.Options{})
	r := newRig(t, srv, influxtest.Bucket, srv.Token, 0)
	r.run()
	for i := range 3000 {
		c := Telemetry
		if i%5 == 0 {
			c = State
		}
		if err := r.w.Append(context.Background(), seqPoint("order", c, i)); err != nil {
			t.Fatal(err)
		}
	}
	waitCount(t, srv, "order", "i", 3000, 20*time.Second)
	r.q.checkOrder(t)
	// InfluxDB shows a batch before the writer has read its answer.
	st := r.w.Status()
	for deadline := time.Now().Add(5 * time.Second); st.Written < 3000 && time.Now().Before(deadline); st = r.w.Status() {
		time.Sleep(10 * time.Millisecond)
	}
	if st.State != "ok" || st.Written < 3000 {
		t.Fatalf("status %+v", st)
	}
}
