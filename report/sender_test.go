package report

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// memStore is a PendingStore in memory, with switchable failures.
type memStore struct {
	seq     uint64
	pending map[string][]byte
	failPut error
}

func newMemStore() *memStore { return &memStore{pending: map[string][]byte{}} }

func (m *memStore) NextSequence(string) (uint64, error) { m.seq++; return m.seq, nil }
func (m *memStore) PutPending(name string, b []byte) error {
	if m.failPut != nil {
		return m.failPut
	}
	m.pending[name] = append([]byte(nil), b...)
	return nil
}
func (m *memStore) Pending(name string) ([]byte, error) { return m.pending[name], nil }
func (m *memStore) ClearPending(name string, still func([]byte) bool) error {
	if b, ok := m.pending[name]; ok && still(b) {
		delete(m.pending, name)
	}
	return nil
}

// flakyTransport fails while down and records what it took.
type flakyTransport struct {
	down bool
	got  []uint64
}

func (f *flakyTransport) Send(_ context.Context, m Message) error {
	if f.down {
		return errors.New("broker unreachable")
	}
	f.got = append(f.got, m.Sequence)
	return nil
}

func prepare(seq uint64) (Message, error) {
	return Message{Hospital: "h1", Sequence: seq, Topic: "t", Payload: []byte(fmt.Sprint(seq))}, nil
}

func TestSenderDeliversOnceAndClears(t *testing.T) {
	st, tr := newMemStore(), &flakyTransport{}
	s, err := NewSender(st, []Transport{tr})
	if err != nil {
		t.Fatal(err)
	}
	if m, _, err := s.Try(context.Background()); m != nil || err != nil {
		t.Fatalf("Try with nothing queued = %v, %v", m, err)
	}
	if _, err := s.Queue(prepare); err != nil {
		t.Fatal(err)
	}
	if st.pending["report"] == nil {
		t.Fatal("queued report not stored before the first attempt")
	}
	m, _, err := s.Try(context.Background())
	if err != nil || m == nil || m.Sequence != 1 {
		t.Fatalf("Try = %v, %v; want sequence 1 delivered", m, err)
	}
	if st.pending["report"] != nil || s.Pending() != nil {
		t.Fatal("delivered report still pending")
	}
	if m, _, _ := s.Try(context.Background()); m != nil || len(tr.got) != 1 {
		t.Fatalf("second Try sent again: %v, transport got %v", m, tr.got)
	}
}

// TestSenderRetriesWithGrowingDelay: while the transport fails, attempts
// wait out a delay that grows and stays within the documented bounds; the
// report survives a restart (a new Sender on the same store) and is
// delivered once the transport is back.
func TestSenderRetriesWithGrowingDelay(t *testing.T) {
	st, tr := newMemStore(), &flakyTransport{down: true}
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s, _ := NewSender(st, []Transport{tr})
	s.now = func() time.Time { return now }
	if _, err := s.Queue(prepare); err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	for i := range 8 {
		m, retryIn, err := s.Try(context.Background())
		if m != nil || err == nil || !strings.Contains(err.Error(), "broker unreachable") {
			t.Fatalf("attempt %d: %v, %v; want the transport's error", i, m, err)
		}
		ceiling := min(time.Second<<i, time.Minute)
		if retryIn < ceiling/2 || retryIn > ceiling {
			t.Fatalf("attempt %d: retry in %v, want within [%v, %v]", i, retryIn, ceiling/2, ceiling)
		}
		// Before the delay is over, Try does not send.
		now = now.Add(retryIn - time.Millisecond)
		if m, _, err := s.Try(context.Background()); m != nil || err != nil {
			t.Fatalf("attempt %d: Try inside the delay = %v, %v", i, m, err)
		}
		now = now.Add(time.Millisecond)
		last = retryIn
	}
	if last < 30*time.Second {
		t.Fatalf("delay after 8 failures = %v, want near the 1 min cap", last)
	}
	// Restart: the report comes back from the store and goes at once.
	tr.down = false
	s2, err := NewSender(st, []Transport{tr})
	if err != nil || s2.Pending() == nil || s2.Pending().Sequence != 1 {
		t.Fatalf("after restart pending = %v, %v", s2.Pending(), err)
	}
	if m, _, err := s2.Try(context.Background()); err != nil || m == nil || m.Sequence != 1 {
		t.Fatalf("after restart Try = %v, %v", m, err)
	}
	if len(tr.got) != 1 {
		t.Fatalf("transport got %v, want exactly [1]", tr.got)
	}
}

// TestSenderNewerReplacesWaiting: a newer report replaces one still
// waiting and is tried at once, without the old one's delay.
func TestSenderNewerReplacesWaiting(t *testing.T) {
	st, tr := newMemStore(), &flakyTransport{down: true}
	s, _ := NewSender(st, []Transport{tr})
	s.Queue(prepare)
	if _, retryIn, _ := s.Try(context.Background()); retryIn == 0 {
		t.Fatal("failed attempt gave no retry delay")
	}
	tr.down = false
	if _, err := s.Queue(prepare); err != nil {
		t.Fatal(err)
	}
	m, _, err := s.Try(context.Background())
	if err != nil || m == nil || m.Sequence != 2 {
		t.Fatalf("Try = %v, %v; want sequence 2 at once", m, err)
	}
	if len(tr.got) != 1 || tr.got[0] != 2 {
		t.Fatalf("transport got %v, want only [2]", tr.got)
	}
}

// TestSenderClearKeepsNewer: clearing a delivered report leaves a newer one
// that another writer stored meanwhile.
func TestSenderClearKeepsNewer(t *testing.T) {
	st := newMemStore()
	tr := &flakyTransport{}
	s, _ := NewSender(st, []Transport{sendHook(func(Message) {
		st.pending["report"] = []byte(`{"Sequence": 99}`)
	}), tr})
	s.Queue(prepare)
	if m, _, err := s.Try(context.Background()); err != nil || m == nil {
		t.Fatalf("Try = %v, %v", m, err)
	}
	if string(st.pending["report"]) != `{"Sequence": 99}` {
		t.Fatalf("newer pending report was cleared: %q", st.pending["report"])
	}
}

type sendHook func(Message)

func (h sendHook) Send(_ context.Context, m Message) error { h(m); return nil }

func TestSenderStoreFailures(t *testing.T) {
	st := newMemStore()
	st.pending["report"] = []byte("{not json")
	s, err := NewSender(st, nil)
	if err == nil || !strings.Contains(err.Error(), "pending report") || s == nil || s.Pending() != nil {
		t.Fatalf("corrupt pending: sender %v, err %v; want a usable sender and an error", s, err)
	}
	st.failPut = errors.New("disk full")
	if _, err := s.Queue(prepare); err == nil || !strings.Contains(err.Error(), "storing the report") {
		t.Fatalf("Queue on a full store: %v", err)
	}
	if s.Pending() != nil {
		t.Fatal("a report that could not be stored became pending")
	}
	if _, err := s.Queue(func(uint64) (Message, error) { return Message{}, errors.New("no snapshot") }); err == nil {
		t.Fatal("prepare error swallowed")
	}
}
