package mqtt

import (
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// sessionStore is paho's Store for the driver: it keeps what the client
// sends (its own QoS 1 publishes and subscriptions, which paho resends
// after a reconnect) in paho's MemoryStore, and keeps nothing it receives.
//
// paho (v1.5.1) stores every received QoS 1 PUBLISH under an "i." key until
// its ack is sent, and on resume discards such entries unread (client.go,
// resume: only a stored inbound PUBREL is used). For a gateway receiving
// thousands of messages a second that is a locked map insert and delete per
// message, and, since the acker writes PUBACKs itself, entries that paho
// would never delete. The broker, not the client, is what makes QoS 1
// delivery survive a reconnect: it redelivers every unacknowledged message
// on the persistent session. An inbound PUBREL (QoS 2, which the driver
// never subscribes at) is likewise resent by the broker.
type sessionStore struct {
	*paho.MemoryStore
}

func newSessionStore() *sessionStore { return &sessionStore{paho.NewMemoryStore()} }

// inbound reports whether a paho store key names a received packet.
func inbound(key string) bool { return strings.HasPrefix(key, "i.") }

// Put stores the client's own packets; received ones are not kept.
func (s *sessionStore) Put(key string, m packets.ControlPacket) {
	if !inbound(key) {
		s.MemoryStore.Put(key, m)
	}
}

// Get returns a stored packet; received ones never are.
func (s *sessionStore) Get(key string) packets.ControlPacket {
	if inbound(key) {
		return nil
	}
	return s.MemoryStore.Get(key)
}

// Del removes a stored packet.
func (s *sessionStore) Del(key string) {
	if !inbound(key) {
		s.MemoryStore.Del(key)
	}
}
