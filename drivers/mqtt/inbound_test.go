package mqtt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// encode encodes packets with paho's own encoder, so the reader is checked
// against the bytes paho (and any broker) produces.
func encode(t testing.TB, cps ...packets.ControlPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, cp := range cps {
		if err := cp.Write(&buf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func pubPacket(topic string, qos byte, id uint16, retained bool, payload []byte) *packets.PublishPacket {
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Qos, p.MessageID, p.Retain, p.Payload = topic, qos, id, retained, payload
	return p
}

// streamConn is a bufferedConn reading from a fixed byte stream.
func streamConn(data []byte, maxPayload int, sink publishSink) *bufferedConn {
	b := &bufferedConn{r: bufio.NewReaderSize(bytes.NewReader(data), 64)}
	b.receive(maxPayload, sink, nil)
	return b
}

type got struct {
	topic    string
	payload  string
	size     int
	qos      byte
	id       uint16
	retained bool
	skipped  bool
}

func TestReaderHandsOverPublishesAndPassesTheRest(t *testing.T) {
	connack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	connack.SessionPresent = true
	suback := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
	suback.MessageID, suback.ReturnCodes = 7, []byte{1, 0x80}
	puback := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
	puback.MessageID = 300
	pingresp := packets.NewControlPacket(packets.Pingresp)
	big := bytes.Repeat([]byte("x"), 5000) // above the 1 KiB limit below; longer than the 64-byte read buffer
	long := strings.Repeat("a", 200)       // a topic longer than the read buffer
	pubs := []*packets.PublishPacket{
		pubPacket("devices/v1/status", 1, 1, false, []byte(`{"a":1}`)),
		pubPacket("devices/v2/status", 0, 0, true, []byte(`{}`)),
		pubPacket("devices/v3/status", 1, 65535, false, big),
		pubPacket(long, 2, 256, false, []byte("é")),
		pubPacket("devices/v4/status", 1, 9, false, nil),
	}
	stream := encode(t, connack, pubs[0], suback, pubs[1], pubs[2], puback, pubs[3], pubs[4], pingresp)
	var seen []got
	b := streamConn(stream, 1024, func(m *message) {
		seen = append(seen, got{string(m.topic), string(m.payload), m.size, m.qos, m.id, m.retained, m.payload == nil && m.size > 0})
	})
	passed, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := encode(t, connack, suback, puback, pingresp); !bytes.Equal(passed, want) {
		t.Fatalf("passed through %x, want the non-PUBLISH packets byte for byte %x", passed, want)
	}
	want := []got{
		{"devices/v1/status", `{"a":1}`, 7, 1, 1, false, false},
		{"devices/v2/status", `{}`, 2, 0, 0, true, false},
		{"devices/v3/status", "", 5000, 1, 65535, false, true},
		{long, "é", 2, 2, 256, false, false},
		{"devices/v4/status", "", 0, 1, 9, false, false},
	}
	if len(seen) != len(want) {
		t.Fatalf("sink got %d messages, want %d: %+v", len(seen), len(want), seen)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("message %d: got %+v, want %+v", i, seen[i], want[i])
		}
	}
}

func TestReaderRefusesBrokenFraming(t *testing.T) {
	good := encode(t, pubPacket("t", 1, 1, false, []byte("{}")))
	cases := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"QoS 3", []byte{0x36, 5, 0, 1, 't', 0, 1}, errMalformed},
		{"remaining length of five bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, errMalformed},
		{"topic longer than the packet", []byte{0x30, 4, 0, 9, 'a', 'b'}, errMalformed},
		{"no room for the packet id", []byte{0x32, 3, 0, 1, 't'}, errMalformed},
		{"PUBLISH shorter than a topic length", []byte{0x30, 1, 0}, errMalformed},
		{"huge non-PUBLISH packet", []byte{0x90, 0xff, 0xff, 0xff, 0x7f}, errMalformed},
		{"stream ends inside a PUBLISH", good[:len(good)-1], io.ErrUnexpectedEOF},
		{"stream ends inside a length", []byte{0x30, 0x80}, io.ErrUnexpectedEOF},
		{"stream ends inside a SUBACK", []byte{0x90, 3, 0, 1}, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			b := streamConn(c.stream, 1024, func(*message) { n++ })
			_, err := b.Read(make([]byte, 16))
			if !errors.Is(err, c.want) {
				t.Fatalf("Read: %v, want %v", err, c.want)
			}
			if n != 0 {
				t.Fatalf("sink called %d times for a broken packet", n)
			}
		})
	}
}

// The reader must hand paho every non-PUBLISH packet however small the
// caller's reads (paho reads the fixed header a byte at a time).
func TestReaderServesSmallReads(t *testing.T) {
	suback := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
	suback.MessageID, suback.ReturnCodes = 1, []byte{1, 1, 1}
	stream := encode(t, pubPacket("a", 1, 1, false, []byte("{}")), suback, pubPacket("b", 0, 0, false, nil))
	b := streamConn(stream, 1024, func(*message) {})
	var out []byte
	one := make([]byte, 1)
	for {
		n, err := b.Read(one)
		out = append(out, one[:n]...)
		if err != nil {
			break
		}
	}
	if want := encode(t, suback); !bytes.Equal(out, want) {
		t.Fatalf("got %x, want %x", out, want)
	}
}

// paho's own packet reader, given what Read passes through, sees exactly
// the packets it would have seen, minus the messages.
func TestPahoReadsThePassedThroughPackets(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		connack := packets.NewControlPacket(packets.Connack)
		_, _ = server.Write(encode(t, pubPacket("x", 1, 5, false, []byte("{}")), connack, pubPacket("y", 1, 6, false, []byte("{}")), packets.NewControlPacket(packets.Pingresp)))
		server.Close()
	}()
	b := newBufferedConn(client)
	defer b.Close()
	var topics []string
	b.receive(1024, func(m *message) { topics = append(topics, string(m.topic)) }, nil)
	var types []byte
	for {
		cp, err := packets.ReadPacket(b)
		if err != nil {
			break
		}
		types = append(types, packetType(cp))
	}
	if string(types) != string([]byte{packets.Connack, packets.Pingresp}) || strings.Join(topics, ",") != "x,y" {
		t.Fatalf("paho read packet types %v, sink got %v; want CONNACK, PINGRESP and x,y", types, topics)
	}
}

func packetType(cp packets.ControlPacket) byte {
	switch cp.(type) {
	case *packets.ConnackPacket:
		return packets.Connack
	case *packets.PingrespPacket:
		return packets.Pingresp
	}
	return 0
}

// FuzzReader: any byte stream either yields packets or an error; it never
// panics, never hands over a payload above the limit and never passes a
// PUBLISH through.
func FuzzReader(f *testing.F) {
	f.Add(encode(f, pubPacket("devices/v1/status", 1, 1, false, []byte(`{"a":1}`)), packets.NewControlPacket(packets.Pingresp)))
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x32, 3, 0, 1, 't'})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := streamConn(data, 16, func(m *message) {
			if len(m.payload) > 16 || m.size < len(m.payload) {
				t.Fatalf("payload of %d bytes (size %d) handed over, limit 16", len(m.payload), m.size)
			}
		})
		passed, _ := io.ReadAll(b)
		for len(passed) > 0 {
			if passed[0]>>4 == publishType {
				t.Fatalf("a PUBLISH was passed through: %x", passed)
			}
			// Skip the passed packet by its length.
			n, k, shift := 0, 1, 0
			for ; k < len(passed); k++ {
				n |= int(passed[k]&0x7f) << shift
				shift += 7
				if passed[k]&0x80 == 0 {
					break
				}
			}
			passed = passed[min(len(passed), k+1+n):]
		}
	})
}
