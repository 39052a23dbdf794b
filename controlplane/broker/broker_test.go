package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// These tests exercise the broker on its own: real TCP and paho clients,
// with a recording Handler standing in for ingest. The end-to-end tests in
// e2e_test.go run the same broker with the real ingest and store.

// message is one Handler call.
type message struct {
	topic   string
	payload []byte
}

// recorder is a Handler that records calls; fail, when set, decides the
// result of each call.
type recorder struct {
	mu    sync.Mutex
	msgs  []message
	fail  func(topic string, payload []byte) error
	calls chan message
}

func newRecorder() *recorder { return &recorder{calls: make(chan message, 256)} }

func (r *recorder) HandleMessage(ctx context.Context, topic string, payload []byte) error {
	m := message{topic, append([]byte(nil), payload...)}
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	var err error
	if fail != nil {
		err = fail(topic, payload)
	}
	r.mu.Lock()
	if err == nil {
		r.msgs = append(r.msgs, m)
	}
	r.mu.Unlock()
	r.calls <- m
	return err
}

func (r *recorder) setFail(f func(topic string, payload []byte) error) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

func (r *recorder) applied() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message(nil), r.msgs...)
}

func (r *recorder) next(t testing.TB) message {
	t.Helper()
	select {
	case m := <-r.calls:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no Handler call")
		return message{}
	}
}

type testBroker struct {
	*Broker
	reg   *prometheus.Registry
	creds *credentials
	rec   *recorder
	logs  *testkit.LogBuffer
}

// startBroker starts a broker on 127.0.0.1:0 with a recording Handler and
// credentials in a fresh SQLite store; mutate adjusts the options first.
func startBroker(t testing.TB, mutate func(*Options)) *testBroker {
	t.Helper()
	return startBrokerOn(t, newCredentials(t), nil, prometheus.NewRegistry(), &testkit.LogBuffer{}, mutate)
}

// startBrokerOn starts a broker with the given parts; a nil h means a
// recorder.
func startBrokerOn(t testing.TB, creds *credentials, h Handler, reg *prometheus.Registry, logs *testkit.LogBuffer, mutate func(*Options)) *testBroker {
	t.Helper()
	tb := &testBroker{reg: reg, creds: creds, rec: newRecorder(), logs: logs}
	if h == nil {
		h = tb.rec
	}
	o := Options{
		Addr:       "127.0.0.1:0",
		Verifier:   tb.creds,
		Handler:    h,
		Registerer: tb.reg,
		Logger:     tb.logs.Logger(),
	}
	if mutate != nil {
		mutate(&o)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	tb.Broker = b
	return tb
}

func TestAuthentication(t *testing.T) {
	tb := startBroker(t, nil)
	id, secret := tb.creds.create(t)
	other, otherSecret := tb.creds.create(t)
	revoked, revokedSecret := tb.creds.create(t)
	tb.creds.revoke(t, revoked)

	tests := []struct {
		name         string
		client, user string
		secret       string
		opt          func(*paho.ClientOptions)
		reason       string // "" = accepted
	}{
		{"valid", id, id, secret, nil, ""},
		{"wrong secret", id, id, secret + "x", nil, authCredentials},
		{"another router's secret", id, id, otherSecret, nil, authCredentials},
		{"revoked", revoked, revoked, revokedSecret, nil, authCredentials},
		{"unknown router", testRouterID(), "", secret, nil, authCredentials},
		{"username differs from client id", id, other, otherSecret, nil, authClientID},
		{"invalid router id", "bad/id", "bad/id", secret, nil, authRouterID},
		{"empty password", id, id, "", nil, authNoPassword},
		{"inline client id", "inline", "inline", secret, nil, authClientID},
		{"will on another router's topic", id, id, secret, func(o *paho.ClientOptions) {
			o.SetBinaryWill(protocol.StatusTopic(other), statusPayload(t, other, protocol.StateOffline, t0), 1, true)
		}, authWillTopic},
		{"will on own status", id, id, secret, func(o *paho.ClientOptions) {
			o.SetBinaryWill(protocol.StatusTopic(id), statusPayload(t, id, protocol.StateOffline, t0), 1, true)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := tt.user
			if user == "" {
				user = tt.client
			}
			var before float64
			if tt.reason != "" {
				before = counter(t, tb.reg, "sitepulse_broker_auth_failures_total", "reason", tt.reason)
			}
			opts := []func(*paho.ClientOptions){func(o *paho.ClientOptions) { o.SetUsername(user) }}
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			a, err := tryAgent(t, tb.Addr(), tt.client, tt.secret, opts...)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("connect: %v, want success", err)
				}
				a.client.Disconnect(0)
				return
			}
			if err == nil {
				t.Fatal("connect succeeded, want refusal")
			}
			if !strings.Contains(err.Error(), "not Authorized") {
				t.Errorf("connect error = %v, want not Authorized (CONNACK 5)", err)
			}
			if got := counter(t, tb.reg, "sitepulse_broker_auth_failures_total", "reason", tt.reason); got != before+1 {
				t.Errorf("auth failures{%s} = %v, want %v", tt.reason, got, before+1)
			}
		})
	}
	if tb.logs.Contains(secret) || tb.logs.Contains(otherSecret) {
		t.Error("a secret appeared in the logs")
	}
}

func TestAuthCache(t *testing.T) {
	clock := testkit.NewClock(t0)
	tb := startBroker(t, func(o *Options) { o.Now = clock.Now; o.AuthCacheTTL = 5 * time.Minute })
	id, secret := tb.creds.create(t)

	connect := func() error {
		a, err := tryAgent(t, tb.Addr(), id, secret)
		if err == nil {
			a.client.Disconnect(0)
		}
		return err
	}
	calls := tb.creds.calls.Load()
	for i := range 3 {
		if err := connect(); err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
	}
	if got := tb.creds.calls.Load() - calls; got != 1 {
		t.Errorf("verifier calls for 3 connects within the TTL = %d, want 1", got)
	}

	// A wrong secret is never answered from the cache.
	if _, err := tryAgent(t, tb.Addr(), id, secret+"x"); err == nil {
		t.Error("wrong secret accepted while the right one is cached")
	}

	// After the TTL the verifier is asked again; if it is down, the agent
	// is refused rather than let in on a stale verification.
	clock.Advance(5*time.Minute + time.Second)
	tb.creds.fail.Store(true)
	if err := connect(); err == nil {
		t.Error("connect succeeded on an expired cache entry with the verifier down")
	}
	if got := counter(t, tb.reg, "sitepulse_broker_auth_failures_total", "reason", authVerifierError); got != 1 {
		t.Errorf("auth failures{verifier_error} = %v, want 1", got)
	}
	tb.creds.fail.Store(false)
	calls = tb.creds.calls.Load()
	if err := connect(); err != nil {
		t.Fatal(err)
	}
	if got := tb.creds.calls.Load() - calls; got != 1 {
		t.Errorf("verifier calls after expiry = %d, want 1", got)
	}
}

func TestInvalidateDisconnects(t *testing.T) {
	tests := []struct {
		name   string
		change func(tb *testBroker, id string) (newSecret string)
	}{
		{"rotate", func(tb *testBroker, id string) string { return tb.creds.rotate(t, id) }},
		{"revoke", func(tb *testBroker, id string) string { tb.creds.revoke(t, id); return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := startBroker(t, nil)
			id, secret := tb.creds.create(t)
			other, otherSecret := tb.creds.create(t)
			live := dialAgent(t, tb.Addr(), id, secret)
			bystander := dialAgent(t, tb.Addr(), other, otherSecret)

			newSecret := tt.change(tb, id)
			tb.Invalidate(id)
			live.waitLost()
			testkit.Eventually(t, 0, "router to disconnect", func() bool { return !tb.Connected(id) })

			if _, err := tryAgent(t, tb.Addr(), id, secret); err == nil {
				t.Error("the old secret still connects after Invalidate")
			}
			if newSecret != "" {
				dialAgent(t, tb.Addr(), id, newSecret)
			}
			if !tb.Connected(other) || !bystander.client.IsConnectionOpen() {
				t.Error("Invalidate disconnected another router")
			}
		})
	}
}

func TestACL(t *testing.T) {
	tb := startBroker(t, nil)
	r1, s1 := tb.creds.create(t)
	r2, s2 := tb.creds.create(t)
	victim := dialAgent(t, tb.Addr(), r2, s2)
	victim.subscribe(protocol.CmdTopic(r2))

	a := dialAgent(t, tb.Addr(), r1, s1)
	denied := []string{
		protocol.CmdTopic(r2), "sp/v1/+/cmd", "#", "sp/v1/#", "$SYS/#", "sp/v1/" + r1 + "/#",
		protocol.EventsTopic(r1), protocol.StatusTopic(r2), protocol.SharedEventsFilter,
	}
	for _, f := range denied {
		if got := a.subscribe(f); got != 0x80 {
			t.Errorf("subscribe %q: return code %#x, want 0x80 (failure)", f, got)
		}
	}
	if got := a.subscribe(protocol.CmdTopic(r1)); got != 1 {
		t.Errorf("subscribe own cmd: return code %#x, want 1", got)
	}
	if got := counter(t, tb.reg, "sitepulse_broker_acl_denied_total", "action", aclSubscribe); got != float64(len(denied)) {
		t.Errorf("acl denied{subscribe} = %v, want %d", got, len(denied))
	}

	// Its own topics are handled.
	for _, topic := range []string{protocol.EventsTopic(r1), protocol.StatusTopic(r1), protocol.CmdResultTopic(r1)} {
		if err := a.publish(topic, []byte(`{}`)); err != nil {
			t.Fatalf("publish %s: %v", topic, err)
		}
	}
	if got := len(tb.rec.applied()); got != 3 {
		t.Fatalf("Handler calls for own topics = %d, want 3", got)
	}

	// Anything else closes the MQTT 3.1.1 connection, unhandled.
	others := []string{
		protocol.EventsTopic(r2), protocol.StatusTopic(r2), protocol.CmdResultTopic(r2),
		protocol.CmdTopic(r1), protocol.CmdTopic(r2), protocol.BroadcastTopic("1", "private-tenant.1.sessions"),
		"sp/v1/" + r1 + "/events/x", "elsewhere",
	}
	for _, topic := range others {
		a := dialAgent(t, tb.Addr(), r1, s1)
		a.client.Publish(topic, 1, false, eventsPayload(t, r2, 1, 1))
		a.waitLost()
	}
	if got := len(tb.rec.applied()); got != 3 {
		t.Errorf("Handler calls after denied publishes = %d, want still 3", got)
	}
	if got := counter(t, tb.reg, "sitepulse_broker_acl_denied_total", "action", aclPublish); got != float64(len(others)) {
		t.Errorf("acl denied{publish} = %v, want %d", got, len(others))
	}
	if got := counter(t, tb.reg, "sitepulse_broker_acl_disconnects_total"); got != float64(len(others)) {
		t.Errorf("acl disconnects = %v, want %d", got, len(others))
	}
	// Nor was anything delivered: r2's first message is the control
	// plane's command, not r1's publish to r2's command topic.
	cmd := &protocol.Command{V: protocol.Version, ID: "c-1", Router: r2, Kind: protocol.CmdResync, IssuedAt: t0}
	if err := tb.PublishCommand(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-victim.msgs:
		if got, err := protocol.DecodeCommand(m.Payload()); err != nil || got.ID != "c-1" {
			t.Errorf("r2's first message: %q, want command c-1", m.Payload())
		}
	case <-time.After(10 * time.Second):
		t.Error("r2 received no command")
	}
}

func TestPubackWaitsForHandler(t *testing.T) {
	tb := startBroker(t, nil)
	id, secret := tb.creds.create(t)
	a := dialAgent(t, tb.Addr(), id, secret)

	entered, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	// However the test ends, the Handler must return, or Close waits forever.
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	tb.rec.setFail(func(string, []byte) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return nil
	})
	tok := a.client.Publish(protocol.EventsTopic(id), 1, false, eventsPayload(t, id, 1, 1))
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the Handler was not called")
	}
	// A PUBACK now would let the agent delete an event not yet stored.
	if tok.WaitTimeout(300 * time.Millisecond) {
		t.Fatal("PUBACK arrived before the Handler returned")
	}
	releaseOnce.Do(func() { close(release) })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("no PUBACK after the Handler returned: %v", tok.Error())
	}
}

func TestTransientFailureIsNotAcked(t *testing.T) {
	tb := startBroker(t, nil)
	id, secret := tb.creds.create(t)
	tb.rec.setFail(func(string, []byte) error { return errors.New("store unavailable") })

	// Seen on the wire: no PUBACK, the connection is closed.
	r := dialRaw(t, tb.Addr(), id, secret, 0)
	r.publish1(protocol.EventsTopic(id), eventsPayload(t, id, 1, 1))
	if typ, body := r.read(); typ != 0 {
		t.Fatalf("got packet type %#x %v after a failed Handler call, want the connection closed", typ, body)
	}
	if got := counter(t, tb.reg, "sitepulse_broker_handler_retries_total"); got != 1 {
		t.Errorf("handler retries = %v, want 1", got)
	}
}

func TestTransientFailureIsRedelivered(t *testing.T) {
	tb := startBroker(t, nil)
	id, secret := tb.creds.create(t)
	var mu sync.Mutex
	calls := 0
	tb.rec.setFail(func(topic string, payload []byte) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return errors.New("store unavailable")
		}
		return nil
	})
	// A persistent session: paho resends unacknowledged messages on
	// reconnect, as the agent replays its outbox.
	a := dialAgent(t, tb.Addr(), id, secret, func(o *paho.ClientOptions) {
		o.SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond)
	})
	payload := eventsPayload(t, id, 1, 3)
	// paho completes the token of a message it resends after a reconnect
	// when it re-queues it, not on its PUBACK, so watch the Handler instead.
	a.client.Publish(protocol.EventsTopic(id), 1, false, payload)
	testkit.Eventually(t, 0, "redelivery to be applied", func() bool { return len(tb.rec.applied()) == 1 })
	if got := tb.rec.applied(); string(got[0].payload) != string(payload) {
		t.Errorf("applied %q, want the batch", got[0].payload)
	}
	mu.Lock()
	if calls != 2 {
		t.Errorf("Handler calls = %d, want 2 (failure, then redelivery)", calls)
	}
	mu.Unlock()
}

func TestRejectedIsAckedNotRetained(t *testing.T) {
	tb := startBroker(t, nil)
	id, secret := tb.creds.create(t)
	a := dialAgent(t, tb.Addr(), id, secret)
	tb.rec.setFail(func(_ string, payload []byte) error {
		if strings.Contains(string(payload), "bad") {
			return controlplane.Errorf(controlplane.EINVALID, "bad payload")
		}
		return nil
	})

	publishRetained := func(topic string, payload []byte) {
		t.Helper()
		tok := a.client.Publish(topic, 1, true, payload)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: no PUBACK (%v)", topic, tok.Error())
		}
	}
	publishRetained(protocol.StatusTopic(id), []byte(`bad`))
	if got := len(tb.srv.Topics.Messages(protocol.StatusTopic(id))); got != 0 {
		t.Errorf("retained after a rejected status: %d messages, want 0", got)
	}
	if got := counter(t, tb.reg, "sitepulse_broker_rejected_total", "reason", controlplane.EINVALID); got != 1 {
		t.Errorf("rejected{invalid} = %v, want 1", got)
	}
	good := statusPayload(t, id, protocol.StateOnline, t0)
	publishRetained(protocol.StatusTopic(id), good)
	// mochi retains before it sends the PUBACK, yet one run in a few
	// hundred read nothing right after it; allow a moment (an audit saw
	// 1 in 100 runs fail without -race, not reproduced since).
	testkit.Eventually(t, 0, "the accepted status retained", func() bool {
		got := tb.srv.Topics.Messages(protocol.StatusTopic(id))
		return len(got) == 1 && string(got[0].Payload) == string(good)
	})
	publishRetained(protocol.EventsTopic(id), eventsPayload(t, id, 1, 1))
	if got := len(tb.srv.Topics.Messages(protocol.EventsTopic(id))); got != 0 {
		t.Errorf("retained events: %d messages, want 0 (only status is retained)", got)
	}
	if !a.client.IsConnectionOpen() {
		t.Error("a rejected payload closed the connection")
	}
}

func TestPacketSizeLimit(t *testing.T) {
	tb := startBroker(t, nil)
	id, secret := tb.creds.create(t)

	// Above MaxPayloadSize but within the packet limit: the Handler decides.
	a := dialAgent(t, tb.Addr(), id, secret)
	mid := make([]byte, protocol.MaxPayloadSize+1024)
	if err := a.publish(protocol.EventsTopic(id), mid); err != nil {
		t.Fatalf("publish of %d bytes: %v", len(mid), err)
	}
	if m := tb.rec.next(t); len(m.payload) != len(mid) {
		t.Errorf("Handler got %d bytes, want %d", len(m.payload), len(mid))
	}

	// Above the packet limit: mochi disconnects before any hook sees it.
	big := make([]byte, protocol.MaxPayloadSize+DefaultPacketHeadroom+1)
	a.client.Publish(protocol.EventsTopic(id), 1, false, big)
	a.waitLost()
	// mochi runs OnDisconnect after closing the socket.
	testkit.Eventually(t, 0, "rejected{packet_too_large} to count", func() bool {
		return counter(t, tb.reg, "sitepulse_broker_rejected_total", "reason", rejectPacketTooLarge) == 1
	})
	if got := len(tb.rec.applied()); got != 1 {
		t.Errorf("Handler calls = %d, want 1 (the oversized packet must not reach it)", got)
	}

	// The broker keeps serving.
	b := dialAgent(t, tb.Addr(), id, secret)
	if err := b.publish(protocol.EventsTopic(id), eventsPayload(t, id, 1, 1)); err != nil {
		t.Fatalf("publish after the oversized packet: %v", err)
	}
}

func TestWill(t *testing.T) {
	tests := []struct {
		name     string
		statusAt time.Time // zero: no status published on the connection
		wantTS   time.Time
	}{
		{"after a status", t0.Add(time.Minute), t0.Add(time.Minute + time.Millisecond)},
		{"without a status", time.Time{}, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := startBroker(t, nil)
			id, secret := tb.creds.create(t)
			a := dialAgent(t, tb.Addr(), id, secret, func(o *paho.ClientOptions) {
				o.SetBinaryWill(protocol.StatusTopic(id), statusPayload(t, id, protocol.StateOffline, t0), 1, true)
			})
			if !tt.statusAt.IsZero() {
				if err := a.publish(protocol.StatusTopic(id), statusPayload(t, id, protocol.StateOnline, tt.statusAt)); err != nil {
					t.Fatal(err)
				}
				tb.rec.next(t)
			}
			a.kill() // no DISCONNECT: the broker must send the will
			m := tb.rec.next(t)
			if m.topic != protocol.StatusTopic(id) {
				t.Fatalf("Handler got topic %q, want the status topic", m.topic)
			}
			st, err := protocol.DecodeStatus(m.payload)
			if err != nil {
				t.Fatalf("will payload: %v", err)
			}
			if st.State != protocol.StateOffline || !st.TS.Equal(tt.wantTS) {
				t.Errorf("will = %s at %v, want offline at %v", st.State, st.TS, tt.wantTS)
			}
		})
	}
}

func TestPublishCommand(t *testing.T) {
	tb := startBroker(t, nil)
	r1, s1 := tb.creds.create(t)
	r2, s2 := tb.creds.create(t)
	a1, a2 := dialAgent(t, tb.Addr(), r1, s1), dialAgent(t, tb.Addr(), r2, s2)
	a1.subscribe(protocol.CmdTopic(r1))
	a2.subscribe(protocol.CmdTopic(r2))
	if got := counter(t, tb.reg, "sitepulse_broker_clients_connected"); got != 2 {
		t.Errorf("clients connected = %v, want 2", got)
	}

	ctx := context.Background()
	send := func(router, id string) {
		t.Helper()
		cmd := &protocol.Command{V: protocol.Version, ID: id, Router: router, Kind: protocol.CmdResync, IssuedAt: t0}
		if err := tb.PublishCommand(ctx, cmd); err != nil {
			t.Fatalf("PublishCommand %s: %v", id, err)
		}
	}
	recv := func(a *agent) *protocol.Command {
		t.Helper()
		select {
		case m := <-a.msgs:
			if m.Qos() != 1 || m.Topic() != protocol.CmdTopic(a.id) {
				t.Errorf("%s got %s at QoS %d", a.id, m.Topic(), m.Qos())
			}
			cmd, err := protocol.DecodeCommand(m.Payload())
			if err != nil {
				t.Fatal(err)
			}
			return cmd
		case <-time.After(10 * time.Second):
			t.Fatalf("%s received no command", a.id)
			return nil
		}
	}
	send(r1, "c-1")
	if got := recv(a1); got.ID != "c-1" {
		t.Errorf("r1 got command %s, want c-1", got.ID)
	}
	// Commands to one client are delivered in order, so if r2 had received
	// c-1 it would come before c-2.
	send(r2, "c-2")
	if got := recv(a2); got.ID != "c-2" {
		t.Errorf("r2's first command is %s, want c-2", got.ID)
	}

	if err := tb.PublishCommand(ctx, &protocol.Command{V: protocol.Version, ID: "c-3", Kind: protocol.CmdResync, IssuedAt: t0}); !isCode(err, controlplane.EINVALID) {
		t.Errorf("command without router: %v, want EINVALID", err)
	}
	_ = tb.Close()
	if err := tb.PublishCommand(ctx, &protocol.Command{V: protocol.Version, ID: "c-4", Router: r1, Kind: protocol.CmdResync, IssuedAt: t0}); !isCode(err, controlplane.EUNAVAILABLE) {
		t.Errorf("after Close: %v, want EUNAVAILABLE", err)
	}
}

func TestTLSListener(t *testing.T) {
	cert, pool := selfSigned(t)
	tb := startBroker(t, func(o *Options) {
		o.Addr = ""
		o.TLSAddr = "127.0.0.1:0"
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	if tb.Addr() != nil {
		t.Errorf("Addr = %v without a plain listener, want nil", tb.Addr())
	}
	id, secret := tb.creds.create(t)
	o := paho.NewClientOptions().AddBroker("tls://" + tb.TLSAddr().String()).
		SetClientID(id).SetUsername(id).SetPassword(secret).SetProtocolVersion(4).
		SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("TLS connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	if tok := c.Publish(protocol.EventsTopic(id), 1, false, []byte("x")); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish over TLS: %v", tok.Error())
	}
}

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sitepulse test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestKeepaliveBounds(t *testing.T) {
	tb := startBroker(t, func(o *Options) { o.KeepaliveMin = 10 * time.Second; o.KeepaliveMax = 2 * time.Minute })
	tests := []struct {
		asked time.Duration
		want  uint16
	}{
		{2 * time.Second, 10},
		{30 * time.Second, 30},
		{time.Hour, 120},
		{0, 120},
	}
	for _, tt := range tests {
		id, secret := tb.creds.create(t)
		dialAgent(t, tb.Addr(), id, secret, func(o *paho.ClientOptions) { o.SetKeepAlive(tt.asked) })
		cl, ok := tb.srv.Clients.Get(id)
		if !ok {
			t.Fatalf("client %s not registered", id)
		}
		if got := cl.State.Keepalive; got != tt.want {
			t.Errorf("asked %v: keepalive %ds, want %ds", tt.asked, got, tt.want)
		}
	}
}

func TestMaxClients(t *testing.T) {
	tb := startBroker(t, func(o *Options) { o.MaxClients = 1 })
	r1, s1 := tb.creds.create(t)
	r2, s2 := tb.creds.create(t)
	dialAgent(t, tb.Addr(), r1, s1)
	if _, err := tryAgent(t, tb.Addr(), r2, s2); err == nil {
		t.Error("second client admitted with MaxClients 1")
	}
}

func TestNewValidates(t *testing.T) {
	creds := newCredentials(t)
	tests := []struct {
		name string
		o    Options
	}{
		{"no verifier", Options{Handler: newRecorder()}},
		{"no handler", Options{Verifier: creds}},
		{"TLS config without address", Options{Verifier: creds, Handler: newRecorder(), TLSConfig: &tls.Config{}}},
		{"keepalive bounds inverted", Options{Verifier: creds, Handler: newRecorder(), KeepaliveMin: time.Minute, KeepaliveMax: time.Second}},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}

// Close sends the will of every agent it disconnects, also of one whose
// packets were streaming in: mochi drops the will when it stops a
// connection between two packets, which left the router online after a
// graceful shutdown (a flake of cmd/sitepulse TestGracefulShutdown).
func TestCloseSendsEveryWill(t *testing.T) {
	for round := range 5 {
		tb := startBroker(t, nil)
		const agents = 4
		var ids []string
		for range agents {
			id, secret := tb.creds.create(t)
			ids = append(ids, id)
			a := dialAgent(t, tb.Addr(), id, secret, func(o *paho.ClientOptions) {
				o.SetBinaryWill(protocol.StatusTopic(id), statusPayload(t, id, protocol.StateOffline, t0), 1, true)
			})
			// Keep the broker's read loop busy between packets (on a topic
			// the ACL refuses, so the Handler sees none of them).
			go func() {
				for a.client.IsConnectionOpen() {
					a.client.Publish(protocol.EventsTopic("someone-else"), 0, false, "x").WaitTimeout(time.Second)
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		if err := tb.Close(); err != nil {
			t.Fatal(err)
		}
		wills := map[string]bool{}
		for _, m := range tb.rec.applied() {
			if st, err := protocol.DecodeStatus(m.payload); err == nil && st.State == protocol.StateOffline {
				wills[st.Router] = true
			}
		}
		for _, id := range ids {
			if !wills[id] {
				t.Errorf("round %d: no will ingested for %s", round, id)
			}
		}
	}
}
