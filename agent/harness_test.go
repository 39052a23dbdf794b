package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	mqttsrv "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

const (
	testRouterID = "site-1"
	testAPIUser  = "sitepulse"
	testAPIPass  = "router-pass-Zq81"
	testSecret   = "mqtt-secret-Xk42"
)

// receiver is the control plane's side of the test: it records everything
// the agent publishes, deduplicating events by seq as ingest does.
type receiver struct {
	mu       sync.Mutex
	bySeq    map[uint64]protocol.Event
	arrivals []uint64 // every seq received, duplicates included
	results  []protocol.CommandResult
	statuses []protocol.Status
	bad      []string
}

func newReceiver() *receiver { return &receiver{bySeq: map[uint64]protocol.Event{}} }

func (r *receiver) onPublish(_ *mqttsrv.Client, _ packets.Subscription, pk packets.Packet) {
	t, err := protocol.ParseTopic(pk.TopicName)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, pk.TopicName+": "+err.Error())
		return
	}
	switch t.Kind {
	case protocol.TopicEvents:
		b, err := protocol.DecodeEventBatch(pk.Payload)
		if err != nil {
			r.bad = append(r.bad, "events: "+err.Error())
			return
		}
		// The batch names as its predecessor an event published before it,
		// so ingest behind a shared subscription can wait for it.
		if _, seen := r.bySeq[b.Prev]; b.Prev != 0 && !seen {
			r.bad = append(r.bad, fmt.Sprintf("batch %d..%d names prev %d, which was never published", b.Events[0].Seq, b.Events[len(b.Events)-1].Seq, b.Prev))
		}
		if b.Epoch == "" {
			r.bad = append(r.bad, "batch without an epoch")
		}
		for _, e := range b.Events {
			r.arrivals = append(r.arrivals, e.Seq)
			if old, ok := r.bySeq[e.Seq]; ok && !sameEvent(old, e) {
				r.bad = append(r.bad, fmt.Sprintf("seq %d reused: %s %s then %s %s", e.Seq, old.Type, sessKey(old), e.Type, sessKey(e)))
			}
			r.bySeq[e.Seq] = e
		}
	case protocol.TopicStatus:
		if len(pk.Payload) == 0 {
			return
		}
		s, err := protocol.DecodeStatus(pk.Payload)
		if err != nil {
			r.bad = append(r.bad, "status: "+err.Error())
			return
		}
		r.statuses = append(r.statuses, *s)
	case protocol.TopicCmdResult:
		res, err := protocol.DecodeCommandResult(pk.Payload)
		if err != nil {
			r.bad = append(r.bad, "result: "+err.Error())
			return
		}
		r.results = append(r.results, *res)
	}
}

func sessKey(e protocol.Event) string {
	if e.Session != nil {
		return e.Session.Key
	}
	return ""
}

// sameEvent tells a redelivery from a different event under the same seq.
func sameEvent(a, b protocol.Event) bool {
	return a.Type == b.Type && a.TS.Equal(b.TS) && sessKey(a) == sessKey(b)
}

// received reports whether the event with seq arrived.
func (r *receiver) received(seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.bySeq[seq]
	return ok
}

// events returns the deduplicated events in seq order.
func (r *receiver) events() []protocol.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]protocol.Event, 0, len(r.bySeq))
	for _, e := range r.bySeq {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b protocol.Event) int { return int(a.Seq) - int(b.Seq) })
	return out
}

func (r *receiver) ofType(t protocol.EventType) []protocol.Event {
	var out []protocol.Event
	for _, e := range r.events() {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

func (r *receiver) resultsFor(id string) []protocol.CommandResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []protocol.CommandResult
	for _, res := range r.results {
		if res.ID == id {
			out = append(out, res)
		}
	}
	return out
}

func (r *receiver) lastStatus() (protocol.Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.statuses) == 0 {
		return protocol.Status{}, false
	}
	return r.statuses[len(r.statuses)-1], true
}

func (r *receiver) checkClean(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		t.Errorf("receiver got invalid payloads: %v", r.bad)
	}
}

// testBroker is an embedded mochi broker with the allow-all hook.
type testBroker struct {
	srv  *mqttsrv.Server
	addr string
	once sync.Once
}

// startBroker starts a broker on addr ("127.0.0.1:0" or a port reused
// after a stop) feeding rcv through inline subscriptions.
func startBroker(t *testing.T, addr string, rcv *receiver) *testBroker {
	t.Helper()
	var ln net.Listener
	var err error
	// A port reused after a stop may take a moment to be free again.
	testkit.Eventually(t, 5*time.Second, "a listener on "+addr, func() bool {
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	srv := mqttsrv.New(&mqttsrv.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("t1", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	for i, f := range []string{"sp/v1/+/events", "sp/v1/+/status", "sp/v1/+/cmd/result"} {
		if err := srv.Subscribe(f, i+1, rcv.onPublish); err != nil {
			t.Fatal(err)
		}
	}
	b := &testBroker{srv: srv, addr: ln.Addr().String()}
	t.Cleanup(b.stop)
	return b
}

func (b *testBroker) stop() { b.once.Do(func() { _ = b.srv.Close() }) }

func (b *testBroker) url() string { return "tcp://" + b.addr }

// sendCommand publishes a command to the agent at QoS 1.
func (b *testBroker) sendCommand(t *testing.T, c protocol.Command) {
	t.Helper()
	c.V = protocol.Version
	c.Router = testRouterID
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now().UTC()
	}
	p, err := protocol.Encode(&c)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Publish(protocol.CmdTopic(testRouterID), p, false, 1); err != nil {
		t.Fatal(err)
	}
}

func startSim(t *testing.T, cfg sim.Config) *sim.Router {
	t.Helper()
	cfg.User, cfg.Password = testAPIUser, testAPIPass
	if cfg.TrafficInterval == 0 {
		cfg.TrafficInterval = -1 // the test drives the scenario with Tick
	}
	if cfg.Identity == "" {
		cfg.Identity = "hq-core"
	}
	r := sim.New(cfg)
	if err := r.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// testConfig is a fast agent configuration for tests.
func testConfig(t *testing.T, router *sim.Router, brokerURL string, logs *testkit.LogBuffer) agent.Config {
	t.Helper()
	var logger *slog.Logger
	if logs != nil {
		logger = logs.Logger()
	}
	return agent.Config{
		RouterID:          testRouterID,
		RouterAddr:        router.Addr(),
		RouterUser:        testAPIUser,
		RouterPassword:    testAPIPass,
		MQTTURL:           brokerURL,
		MQTTSecret:        testSecret,
		DataDir:           t.TempDir(),
		CountersInterval:  200 * time.Millisecond,
		ResourcesInterval: time.Second,
		ResyncInterval:    time.Hour, // tests that need the periodic diff lower it
		IOTimeout:         5 * time.Second,
		RouterMinBackoff:  20 * time.Millisecond,
		RouterMaxBackoff:  200 * time.Millisecond,
		MQTTMinBackoff:    20 * time.Millisecond,
		MQTTMaxBackoff:    200 * time.Millisecond,
		MQTTAckTimeout:    5 * time.Second,
		ShutdownTimeout:   5 * time.Second,
		Version:           "test",
		Logger:            logger,
	}
}

// runningAgent is an agent started in-process.
type runningAgent struct {
	*agent.Agent
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t *testing.T, cfg agent.Config) *runningAgent {
	t.Helper()
	a, err := agent.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	t.Cleanup(func() { ra.stop(t) })
	return ra
}

// stop stops the agent gracefully and closes it; it is idempotent.
func (ra *runningAgent) stop(t *testing.T) {
	t.Helper()
	if ra.cancel == nil {
		return
	}
	ra.cancel()
	ra.cancel = nil
	select {
	case err := <-ra.done:
		if err != nil {
			t.Errorf("agent run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("agent did not stop within 30s")
	}
	if err := ra.Close(); err != nil {
		t.Errorf("agent close: %v", err)
	}
}

// waitReady waits until the agent is connected on both sides and its first
// snapshot has arrived.
func waitReady(t *testing.T, a *runningAgent, rcv *receiver) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "agent connected with its first snapshot at the broker", func() bool {
		s := a.Status(context.Background())
		return s.Router.Connected && s.MQTTConnected && len(rcv.ofType(protocol.EventSnapshot)) > 0
	})
}

// waitPublished waits until everything the agent has committed so far is
// at the receiver.
func waitPublished(t *testing.T, a *runningAgent, rcv *receiver) {
	t.Helper()
	last := a.Status(context.Background()).Outbox.LastSeq
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("events up to seq %d at the receiver", last), func() bool {
		evs := rcv.events()
		return last == 0 || len(evs) > 0 && evs[len(evs)-1].Seq >= last
	})
}

// addUsers creates n hotspot users and n PPP secrets named prefix-h-i and
// prefix-p-i.
func addUsers(t *testing.T, r *sim.Router, prefix string, n int) {
	t.Helper()
	for i := range n {
		if err := r.AddHotspotUser(fmt.Sprintf("%s-h-%d", prefix, i), "pw", ""); err != nil {
			t.Fatal(err)
		}
		if err := r.AddPPPSecret(fmt.Sprintf("%s-p-%d", prefix, i), "pw", ""); err != nil {
			t.Fatal(err)
		}
	}
}

func mac(i int) string { return fmt.Sprintf("02:00:00:00:%02X:%02X", i/256, i%256) }

func ip(i int) string { return fmt.Sprintf("10.5.%d.%d", i/250, 2+i%250) }

// keyCount counts started and ended events per session key.
func keyCount(evs []protocol.Event) (started, ended map[string]int) {
	started, ended = map[string]int{}, map[string]int{}
	for _, e := range evs {
		switch e.Type {
		case protocol.EventSessionStarted:
			started[e.Session.Key]++
		case protocol.EventSessionEnded:
			ended[e.Session.Key]++
		}
	}
	return started, ended
}
