package mqtt

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestSessionStoreKeepsOnlyWhatTheClientSends checks that received packets
// are not stored (paho never reads them back, and the acker never deletes
// them) while the client's own publishes are, for paho to resend after a
// reconnect.
func TestSessionStoreKeepsOnlyWhatTheClientSends(t *testing.T) {
	s := newSessionStore()
	s.Open()
	defer s.Close()
	in := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	out := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	s.Put("i.7", in)
	s.Put("o.7", out)
	if keys := s.All(); len(keys) != 1 || keys[0] != "o.7" {
		t.Fatalf("stored keys %v, want only o.7", keys)
	}
	if s.Get("i.7") != nil || s.Get("o.7") != out {
		t.Fatal("Get: want nothing for i.7 and the publish for o.7")
	}
	s.Del("i.7")
	s.Del("o.7")
	if keys := s.All(); len(keys) != 0 {
		t.Fatalf("keys %v left after Del", keys)
	}
}
