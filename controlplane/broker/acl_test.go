package broker

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/sitepulse/sitepulse/protocol"
)

// A QoS 1 publish the ACL denies closes an MQTT 3.1.1 connection at once
// (MQTT-3.3.5-2: acknowledge or close), without the DISCONNECT packet
// 3.1.1 servers never send, whatever the topic: mochi itself drops $SYS and
// wildcard topics without any answer.
func TestDeniedPublishClosesMQTT311(t *testing.T) {
	tb := startBroker(t, nil)
	r1, s1 := tb.creds.create(t)
	r2, _ := tb.creds.create(t)
	long := "sp/v1/" + strings.Repeat("x", 500) + "\n\"/events"
	topics := []string{protocol.EventsTopic(r2), "$SYS/broker/x", "sp/v1/+/events", "sp/v1/#", long}
	for i, topic := range topics {
		c := dialRaw(t, tb.Addr(), r1, s1, 0)
		c.publish1(topic, eventsPayload(t, r1, 1, 1))
		if typ, body := c.read(); typ != 0 {
			t.Errorf("publish to %q: got packet type %#x %v, want the connection closed", topic, typ, body)
		}
		if got := counter(t, tb.reg, "sitepulse_broker_acl_disconnects_total"); got != float64(i+1) {
			t.Errorf("acl disconnects after %q = %v, want %d", topic, got, i+1)
		}
	}
	if got := counter(t, tb.reg, "sitepulse_broker_acl_denied_total", "action", aclPublish); got != float64(len(topics)) {
		t.Errorf("acl denied{publish} = %v, want %d", got, len(topics))
	}
	if got := len(tb.rec.applied()); got != 0 {
		t.Errorf("Handler calls = %d, want 0", got)
	}
	// Logged once per publish, with the topic bounded and quoted.
	logs := tb.logs.String()
	if n := strings.Count(logs, "closing its connection"); n != len(topics) {
		t.Errorf("close logged %d times, want %d:\n%s", n, len(topics), logs)
	}
	if strings.Contains(logs, strings.Repeat("x", 200)) || strings.Contains(logs, "\n\"/events") {
		t.Errorf("long topic logged unbounded or unquoted:\n%s", logs)
	}

	// QoS 0 needs no answer: dropped, counted, the connection stays.
	a := dialAgent(t, tb.Addr(), r1, s1)
	a.client.Publish(protocol.EventsTopic(r2), 0, false, eventsPayload(t, r2, 1, 1)).Wait()
	if err := a.publish(protocol.EventsTopic(r1), eventsPayload(t, r1, 1, 1)); err != nil {
		t.Fatalf("own publish after a denied QoS 0 one: %v", err)
	}
	if got := counter(t, tb.reg, "sitepulse_broker_acl_disconnects_total"); got != float64(len(topics)) {
		t.Errorf("acl disconnects after QoS 0 = %v, want still %d", got, len(topics))
	}
}

// MQTT 5 has a negative PUBACK: a denied publish is answered "not
// authorized" (0x87) and the connection stays up.
func TestDeniedPublishMQTT5Puback(t *testing.T) {
	tb := startBroker(t, nil)
	r1, s1 := tb.creds.create(t)
	r2, _ := tb.creds.create(t)
	c := dialV5(t, tb.Addr(), r1, s1)
	for i, topic := range []string{protocol.EventsTopic(r2), protocol.CmdTopic(r1), "$SYS/broker/x", "sp/v1/+/events"} {
		id := uint16(i + 1)
		c.publish(id, topic, eventsPayload(t, r2, 1, 1))
		if got := c.puback(id); got != packets.ErrNotAuthorized.Code {
			t.Errorf("PUBACK reason for %q = %#x, want 0x87", topic, got)
		}
	}
	c.publish(100, protocol.EventsTopic(r1), eventsPayload(t, r1, 1, 1))
	if got := c.puback(100); got != packets.CodeSuccess.Code {
		t.Errorf("PUBACK reason for own topic = %#x, want 0", got)
	}
	if got := len(tb.rec.applied()); got != 1 {
		t.Errorf("Handler calls = %d, want 1 (the own topic)", got)
	}
	if got := counter(t, tb.reg, "sitepulse_broker_acl_denied_total", "action", aclPublish); got != 4 {
		t.Errorf("acl denied{publish} = %v, want 4", got)
	}
	if got := counter(t, tb.reg, "sitepulse_broker_acl_disconnects_total"); got != 0 {
		t.Errorf("acl disconnects = %v, want 0", got)
	}
}

// v5Conn is a minimal MQTT 5 client built on mochi's packet codec.
type v5Conn struct {
	t testing.TB
	net.Conn
	r *bufio.Reader
}

func dialV5(t testing.TB, addr net.Addr, id, secret string) *v5Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &v5Conn{t: t, Conn: nc, r: bufio.NewReader(nc)}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 5,
		Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 60, ClientIdentifier: id,
			UsernameFlag: true, Username: []byte(id), PasswordFlag: true, Password: []byte(secret),
		},
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	c.write(buf.Bytes())
	ack := c.next(packets.Connack)
	if ack.ReasonCode != packets.CodeSuccess.Code {
		t.Fatalf("CONNACK reason %#x", ack.ReasonCode)
	}
	return c
}

func (c *v5Conn) write(b []byte) {
	c.t.Helper()
	if _, err := c.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *v5Conn) publish(id uint16, topic string, payload []byte) {
	c.t.Helper()
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: 1},
		ProtocolVersion: 5, TopicName: topic, PacketID: id, Payload: payload,
	}
	var buf bytes.Buffer
	if err := pk.PublishEncode(&buf); err != nil {
		c.t.Fatal(err)
	}
	c.write(buf.Bytes())
}

// puback returns the reason code of the PUBACK for packet id.
func (c *v5Conn) puback(id uint16) byte {
	c.t.Helper()
	pk := c.next(packets.Puback)
	if pk.PacketID != id {
		c.t.Fatalf("PUBACK for packet %d, want %d", pk.PacketID, id)
	}
	return pk.ReasonCode
}

// next reads the next packet, which must be of type want.
func (c *v5Conn) next(want byte) packets.Packet {
	c.t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	hb, err := c.r.ReadByte()
	if err != nil {
		c.t.Fatalf("read: %v (connection closed?)", err)
	}
	pk := packets.Packet{ProtocolVersion: 5}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		c.t.Fatal(err)
	}
	n, mult := 0, 1
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if pk.FixedHeader.Type != want {
		c.t.Fatalf("got packet type %d, want %d", pk.FixedHeader.Type, want)
	}
	switch want {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return pk
}
