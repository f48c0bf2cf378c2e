package influx

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/influxtest"
)

func TestWriterDeliversInOrder(t *testing.T) {
	t.Parallel()
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
	waitFor(t, 10*time.Second, "the writer to count 3000 written", func() bool { return r.w.Status().Written >= 3000 },
		func() string { return fmt.Sprintf(": status %+v", r.w.Status()) })
	if st := r.w.Status(); st.State != "ok" {
		t.Fatalf("status %+v", st)
	}
}
