package report

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHTTPTransportTellsOfAnswers: every answer of the report endpoint,
// accepted or refused, reaches OnAnswer with its Date and a send time
// before its receive time (the gateway watches its clock with them).
func TestHTTPTransportTellsOfAnswers(t *testing.T) {
	ahead := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	codes := []int{http.StatusAccepted, http.StatusConflict}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", ahead.Format(http.TimeFormat))
		w.WriteHeader(codes[n%len(codes)])
		n++
	}))
	defer srv.Close()
	var got []time.Time
	tr := &HTTPTransport{URL: srv.URL, Attempts: 1, OnAnswer: func(sent, received time.Time, h http.Header) {
		if received.Before(sent) {
			t.Errorf("received %v before sent %v", received, sent)
		}
		d, err := http.ParseTime(h.Get("Date"))
		if err != nil {
			t.Errorf("Date %q: %v", h.Get("Date"), err)
		}
		got = append(got, d)
	}}
	_ = tr.Send(context.Background(), Message{Hospital: "h1", Sequence: 1, Payload: []byte("{}")})
	_ = tr.Send(context.Background(), Message{Hospital: "h1", Sequence: 2, Payload: []byte("{}")})
	if len(got) != 2 || !got[0].Equal(ahead) || !got[1].Equal(ahead) {
		t.Errorf("answers told: %v, want two at %v", got, ahead)
	}
}
