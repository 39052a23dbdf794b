package broker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// counter reads one labelled series of a counter vector from the registry.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// agent is a paho MQTT 3.1.1 client standing in for a SitePulse agent.
type agent struct {
	t      testing.TB
	id     string
	client paho.Client

	mu   sync.Mutex
	conn net.Conn // the current TCP connection, for killing it
	lost chan error
	msgs chan paho.Message
}

// dialAgent connects id with secret to addr and fails the test on error.
func dialAgent(t testing.TB, addr net.Addr, id, secret string, opts ...func(*paho.ClientOptions)) *agent {
	t.Helper()
	a, err := tryAgent(t, addr, id, secret, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	return a
}

// tryAgent connects and returns the CONNECT error, if any.
func tryAgent(t testing.TB, addr net.Addr, id, secret string, opts ...func(*paho.ClientOptions)) (*agent, error) {
	t.Helper()
	a := &agent{t: t, id: id, lost: make(chan error, 16), msgs: make(chan paho.Message, 64)}
	o := paho.NewClientOptions().
		AddBroker("tcp://" + addr.String()).
		SetClientID(id).SetUsername(id).SetPassword(secret).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(5 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(true).
		// Never block paho's goroutines: a blocked handler stalls Disconnect.
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case a.lost <- err:
			default:
			}
		}).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			select {
			case a.msgs <- m:
			default:
				t.Errorf("%s: message on %s dropped by the test agent", id, m.Topic())
			}
		}).
		SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
			if err == nil {
				a.mu.Lock()
				a.conn = c
				a.mu.Unlock()
			}
			return c, err
		})
	for _, f := range opts {
		f(o)
	}
	a.client = paho.NewClient(o)
	tok := a.client.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { a.client.Disconnect(0); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: paho Disconnect hung", id)
		}
	})
	return a, nil
}

// publish sends payload at QoS 1 and waits for the PUBACK.
func (a *agent) publish(topic string, payload []byte) error {
	tok := a.client.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("publish timed out")
	}
	return tok.Error()
}

// subscribe subscribes filter at QoS 1 and returns the granted code.
func (a *agent) subscribe(filter string) byte {
	a.t.Helper()
	tok := a.client.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(10 * time.Second) {
		a.t.Fatalf("subscribe %s timed out", filter)
	}
	if err := tok.Error(); err != nil {
		a.t.Fatalf("subscribe %s: %v", filter, err)
	}
	key := filter
	if strings.HasPrefix(key, "$share/") { // paho keys shared filters without the prefix
		key = strings.Join(strings.Split(key, "/")[2:], "/")
	}
	return tok.(*paho.SubscribeToken).Result()[key]
}

// kill closes the TCP connection without an MQTT DISCONNECT.
func (a *agent) kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.conn.Close()
}

// waitLost waits until the broker has closed the connection.
func (a *agent) waitLost() {
	a.t.Helper()
	select {
	case <-a.lost:
	case <-time.After(10 * time.Second):
		a.t.Fatalf("%s: connection not closed", a.id)
	}
}

// testRouterID returns a fresh router id in the store's format.
func testRouterID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "r" + hex.EncodeToString(b)
}

// Fixed times keep payloads readable in failures.
var t0 = time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)

func statusPayload(t testing.TB, router string, state protocol.AgentState, ts time.Time) []byte {
	t.Helper()
	b, err := protocol.Encode(&protocol.Status{V: protocol.Version, Router: router, State: state, TS: ts, AgentVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventsPayload is a batch of events seq from..to mixing starts, counter
// updates and ends: every third event ends the session started two
// events before (on even seqs) or starts one, the others start or update.
func eventsPayload(t testing.TB, router string, from, to int) []byte {
	t.Helper()
	b := &protocol.EventBatch{V: protocol.Version, Router: router}
	for seq := from; seq <= to; seq++ {
		e := protocol.Event{Seq: uint64(seq), TS: t0.Add(time.Duration(seq) * time.Second)}
		switch seq % 3 {
		case 1:
			e.Type, e.Session = protocol.EventSessionStarted, testSession(seq)
		case 2:
			s := testSession(seq - 1)
			s.BytesIn, s.BytesOut = uint64(seq*1000), uint64(seq*100)
			e.Type, e.Session = protocol.EventSessionUpdated, s
		default:
			if seq%2 == 0 {
				e.Type, e.Session, e.Reason = protocol.EventSessionEnded, testSession(seq-2), protocol.EndLogout
			} else {
				e.Type, e.Session = protocol.EventSessionStarted, testSession(seq)
			}
		}
		b.Events = append(b.Events, e)
	}
	p, err := protocol.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testSession(seq int) *protocol.Session {
	login := t0.Add(time.Duration(seq) * time.Second)
	user := fmt.Sprintf("user%d", seq)
	mac := fmt.Sprintf("AA:BB:CC:00:%02X:%02X", (seq>>8)&0xff, seq&0xff)
	return &protocol.Session{Kind: protocol.KindHotspot, Key: protocol.HotspotKey(user, mac, login, ""), User: user, MAC: mac, Address: "10.5.50.2", StartedAt: login}
}

// isCode reports whether err carries the controlplane code.
func isCode(err error, code string) bool { return controlplane.ErrorCode(err) == code }

// rawConn is a hand-rolled MQTT 3.1.1 client for checks paho hides, such as
// whether a PUBACK was ever written.
type rawConn struct {
	t testing.TB
	net.Conn
}

func mqttString(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

func mqttPacket(header byte, body []byte) []byte {
	out := []byte{header}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

// dialRaw connects with clean session and keepalive 60 s and checks the
// CONNACK return code.
func dialRaw(t testing.TB, addr net.Addr, id, secret string, wantRC byte) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawConn{t: t, Conn: c}
	body := append(mqttString("MQTT"), 4, 0xC2, 0, 60) // level 4; username, password, clean
	body = append(body, mqttString(id)...)
	body = append(body, mqttString(id)...)
	body = append(body, mqttString(secret)...)
	r.write(mqttPacket(0x10, body))
	typ, p := r.read()
	if typ != 0x20 || len(p) != 2 || p[1] != wantRC {
		t.Fatalf("CONNACK: type %#x body %v, want return code %d", typ, p, wantRC)
	}
	return r
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// publish1 sends a QoS 1 PUBLISH with packet id 1.
func (r *rawConn) publish1(topic string, payload []byte) {
	body := append(mqttString(topic), 0, 1)
	r.write(mqttPacket(0x32, append(body, payload...)))
}

// read returns the next packet's type nibble (shifted back) and body; type
// 0 means the connection was closed.
func (r *rawConn) read() (byte, []byte) {
	r.t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [1]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			r.t.Fatal("read timed out")
		}
		return 0, nil
	}
	n, mult := 0, 1
	for {
		var b [1]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil
		}
		n += int(b[0]&0x7f) * mult
		mult *= 128
		if b[0]&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil
	}
	return h[0] & 0xf0, body
}
