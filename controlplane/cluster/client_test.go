package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/cluster/clustertest"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// recorder is a Handler that records what it applied and fails on demand.
type recorder struct {
	mu      sync.Mutex
	calls   []string // payloads, every call
	applied []string // payloads of successful calls
	fail    map[string]int
	reject  map[string]bool
	topics  map[string][]byte
	notify  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{fail: map[string]int{}, reject: map[string]bool{}, topics: map[string][]byte{}, notify: make(chan struct{}, 1)}
}

func (r *recorder) HandleMessage(_ context.Context, topic string, payload []byte) error {
	r.mu.Lock()
	defer func() {
		r.mu.Unlock()
		select {
		case r.notify <- struct{}{}:
		default:
		}
	}()
	p := string(payload)
	r.calls = append(r.calls, p)
	r.topics[topic] = payload
	if r.fail[p] > 0 {
		r.fail[p]--
		return errors.New("store unavailable")
	}
	if r.reject[p] {
		return controlplane.Errorf(controlplane.EINVALID, "malformed")
	}
	r.applied = append(r.applied, p)
	return nil
}

func (r *recorder) appliedCopy() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.applied...)
}

func startClient(t *testing.T, brokerURL, id string, h Handler) *Client {
	t.Helper()
	c, err := New(Options{URL: brokerURL, ClientID: id, Handler: h, RetryDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// The subscriptions are made in the OnConnect handler; wait for them
	// by a round trip through the broker.
	waitSubscribed(t, brokerURL, c)
	return c
}

// waitSubscribed publishes relays from a probe origin until c hands one
// to Fanin's remote channel, proving its subscriptions are in place.
func waitSubscribed(t *testing.T, brokerURL string, c *Client) {
	t.Helper()
	probe := agentClient(t, brokerURL, "probe-"+c.opts.ClientID, nil)
	defer probe.Disconnect(0)
	body, _ := json.Marshal(controlplane.TenantCreated{Tenant: controlplane.Tenant{ID: 1}})
	for seq := uint64(1); ; seq++ {
		msg, _ := json.Marshal(relayMessage{Origin: "probe", Seq: seq, Type: "TenantCreated", Change: body})
		probe.Publish(protocol.BroadcastTopic("0", fanout.SystemAdminChannel), 0, false, msg).Wait()
		select {
		case <-c.relay.remote:
			// Drain what other probes may still deliver.
			for {
				select {
				case <-c.relay.remote:
				case <-time.After(50 * time.Millisecond):
					return
				}
			}
		case <-time.After(100 * time.Millisecond):
		}
		if seq > 100 {
			t.Fatal("client never subscribed")
		}
	}
}

// agentClient connects a plain paho client (an agent, or a test probe).
func agentClient(t *testing.T, brokerURL, id string, tweak func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(id).SetAutoReconnect(false)
	if tweak != nil {
		tweak(o)
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("agent connect: %v", tok.Error())
	}
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, retained bool, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// assertNothingRedelivered restarts a client with the same id (so the
// broker resumes its session and resends anything unacknowledged), then
// publishes a sentinel and checks that only the sentinel arrives.
func assertNothingRedelivered(t *testing.T, brokerURL string, ids []string, agent mqtt.Client) {
	t.Helper()
	recs := make([]*recorder, len(ids))
	for i, id := range ids {
		recs[i] = newRecorder()
		startClient(t, brokerURL, id, recs[i])
	}
	publish(t, agent, protocol.EventsTopic("r1"), false, []byte("sentinel"))
	testkit.Eventually(t, 0, "the sentinel", func() bool {
		n := 0
		for _, r := range recs {
			n += len(r.appliedCopy())
		}
		return n > 0
	})
	for i, r := range recs {
		for _, p := range r.appliedCopy() {
			if p != "sentinel" {
				t.Errorf("client %s got %q again after a restart: it was not acknowledged", ids[i], p)
			}
		}
	}
}

func TestSharedIngestAppliesEachMessageOnceAndAcks(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	ra, rb := newRecorder(), newRecorder()
	a := startClient(t, broker, "cp-a", ra)
	b := startClient(t, broker, "cp-b", rb)
	agent := agentClient(t, broker, "r1", nil)
	defer agent.Disconnect(0)

	const n = 40
	for i := range n {
		publish(t, agent, protocol.EventsTopic("r1"), false, fmt.Appendf(nil, "batch-%02d", i))
	}
	seen := map[string]int{}
	testkit.Eventually(t, 0, "every batch", func() bool {
		clear(seen)
		for _, r := range []*recorder{ra, rb} {
			for _, p := range r.appliedCopy() {
				seen[p]++
			}
		}
		return len(seen) == n
	})
	for p, k := range seen {
		if k != 1 {
			t.Errorf("%s applied %d times, want 1", p, k)
		}
	}
	if len(ra.appliedCopy()) == 0 || len(rb.appliedCopy()) == 0 {
		t.Errorf("one replica got everything (a=%d b=%d): the subscription is not shared", len(ra.appliedCopy()), len(rb.appliedCopy()))
	}
	_ = a.Close()
	_ = b.Close()
	assertNothingRedelivered(t, broker, []string{"cp-a", "cp-b"}, agent)
}

func TestRetryableFailureIsRedeliveredInOrder(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	r := newRecorder()
	r.fail["m1"] = 1
	r.reject["bad"] = true
	c := startClient(t, broker, "cp-a", r)
	agent := agentClient(t, broker, "r1", nil)
	defer agent.Disconnect(0)

	for _, p := range []string{"m1", "bad", "m2", "m3"} {
		publish(t, agent, protocol.EventsTopic("r1"), false, []byte(p))
	}
	want := []string{"m1", "m2", "m3"}
	testkit.Eventually(t, 0, "m1..m3 applied", func() bool { return len(r.appliedCopy()) >= len(want) })
	// Nothing more is in flight once m3 is applied: the redelivery after
	// the failure resent m1, bad, m2 and m3 in order.
	if got := r.appliedCopy(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("applied %v, want %v", got, want)
	}
	if r.fail["m1"] != 0 {
		t.Errorf("m1 was not tried first")
	}
	_ = c.Close()
	assertNothingRedelivered(t, broker, []string{"cp-a"}, agent)
}

func TestRelayDeliversOtherReplicasChangesOnce(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	a := startClient(t, broker, "cp-a", newRecorder())
	b := startClient(t, broker, "cp-b", newRecorder())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	localA, localB := make(chan controlplane.Change), make(chan controlplane.Change)
	outA, outB := a.Fanin(ctx, localA, nil), b.Fanin(ctx, localB, nil)

	started := controlplane.SessionStarted{Session: controlplane.Session{TenantID: 7, RouterID: "r1", Key: "k1", User: "+254712345678", Kind: protocol.KindHotspot}}
	localA <- started
	if got := recv(t, outA); !sameChange(got, started) {
		t.Fatalf("A's fan-out got %#v, want its own change", got)
	}
	if got := recv(t, outB); !sameChange(got, started) {
		t.Fatalf("B's fan-out got %#v, want A's change", got)
	}
	ended := controlplane.SessionEnded{Record: controlplane.SessionRecord{Session: started.Session, EndReason: protocol.EndLogout}}
	localB <- ended
	if got := recv(t, outB); !sameChange(got, ended) {
		t.Fatalf("B's fan-out got %#v", got)
	}
	if got := recv(t, outA); !sameChange(got, ended) {
		t.Fatalf("A's fan-out got %#v, want B's change", got)
	}
	// Neither gets its own relay back.
	select {
	case got := <-outA:
		t.Fatalf("A got an extra change %#v", got)
	case got := <-outB:
		t.Fatalf("B got an extra change %#v", got)
	case <-time.After(300 * time.Millisecond):
	}

	// A lost relay (seq 2 of origin x) becomes a ReplicaGap before the next.
	probe := agentClient(t, broker, "probe", nil)
	defer probe.Disconnect(0)
	body, _ := json.Marshal(started)
	for _, seq := range []uint64{1, 3} {
		msg, _ := json.Marshal(relayMessage{Origin: "x", Seq: seq, Type: "SessionStarted", Change: body})
		publish(t, probe, protocol.BroadcastTopic("7", fanout.TenantChannel(7, "sessions")), false, msg)
	}
	wantSeq := []any{controlplane.SessionStarted{}, controlplane.ReplicaGap{Tenant: 7}, controlplane.SessionStarted{}}
	for i, w := range wantSeq {
		got := recv(t, outA)
		if fmt.Sprintf("%T", got) != fmt.Sprintf("%T", w) || (i == 1 && got != w) {
			t.Fatalf("change %d: got %#v, want %#v", i, got, w)
		}
	}
}

// A replica holds back its own batch until the batch before it, applied
// by another replica, has been relayed: dashboards see commit order.
func TestFaninOrdersBatchesAcrossReplicas(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	a := startClient(t, broker, "cp-a", newRecorder())
	b := startClient(t, broker, "cp-b", newRecorder())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	localA := make(chan controlplane.Change)
	outA, outB := a.Fanin(ctx, localA, nil), b.Fanin(ctx, make(chan controlplane.Change), nil)
	sendGroup := func(g *group) {
		localA <- g.head
		for _, ch := range g.changes {
			localA <- ch
		}
	}

	sendGroup(batch("r1", 0, 1))
	for name, out := range map[string]<-chan controlplane.Change{"A": outA, "B": outB} {
		if got := names([]controlplane.Change{recv(t, out)}); got[0] != "r1:0-1" {
			t.Fatalf("%s's fan-out got %v first", name, got)
		}
	}
	sendGroup(batch("r1", 2, 3)) // A applied 2→3; 1→2 was applied by another replica
	select {
	case got := <-outA:
		t.Fatalf("A delivered %v before its predecessor", names([]controlplane.Change{got}))
	case <-time.After(300 * time.Millisecond):
	}

	// The other replica's relay of 1→2 arrives.
	probe := agentClient(t, broker, "probe", nil)
	defer probe.Disconnect(0)
	g := batch("r1", 1, 2)
	body, _ := json.Marshal(g.changes[0])
	rb, _ := json.Marshal(relayBatch{Head: g.head, Changes: []relayChange{{Type: "SessionStarted", Change: body}}})
	msg, _ := json.Marshal(relayMessage{Origin: "x", Seq: 1, Type: batchType, Change: rb})
	publish(t, probe, protocol.BroadcastTopic("7", fanout.TenantChannel(7, "sessions")), false, msg)
	for name, out := range map[string]<-chan controlplane.Change{"A": outA, "B": outB} {
		got := names([]controlplane.Change{recv(t, out), recv(t, out)})
		if want := []string{"r1:1-2", "r1:2-3"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s's fan-out got %v, want %v", name, got, want)
		}
	}

	// A malformed batch relay is dropped and counted, not delivered.
	bad, _ := json.Marshal(relayMessage{Origin: "x", Seq: 2, Type: batchType, Change: json.RawMessage(`{"head":{"RouterID":"r1","Prev":3,"Last":4,"Changes":2},"changes":[]}`)})
	publish(t, probe, protocol.BroadcastTopic("7", fanout.TenantChannel(7, "sessions")), false, bad)
	testkit.Eventually(t, 0, "the malformed relay counted", func() bool {
		return testutil.ToFloat64(a.m.relayDropped.WithLabelValues("malformed")) == 1
	})
	select {
	case got := <-outA:
		t.Fatalf("A delivered %#v from a malformed relay", got)
	case <-time.After(100 * time.Millisecond):
	}
}

func recv(t *testing.T, c <-chan controlplane.Change) controlplane.Change {
	t.Helper()
	select {
	case ch := <-c:
		return ch
	case <-time.After(5 * time.Second):
		t.Fatal("no change")
		return nil
	}
}

func sameChange(a, b controlplane.Change) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) && string(ja) == string(jb)
}

func TestCommandsConnectivityAndWill(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	r := newRecorder()
	c := startClient(t, broker, "cp-a", r)

	connectedAt := time.Now().UTC().Truncate(time.Millisecond)
	will, _ := protocol.Encode(&protocol.Status{V: protocol.Version, Router: "r1", State: protocol.StateOffline, TS: connectedAt})
	var conn net.Conn
	var connMu sync.Mutex
	agent := agentClient(t, broker, "r1", func(o *mqtt.ClientOptions) {
		o.SetBinaryWill(protocol.StatusTopic("r1"), will, 1, true)
		o.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			cn, err := net.Dial("tcp", u.Host)
			connMu.Lock()
			conn = cn
			connMu.Unlock()
			return cn, err
		})
	})
	cmds := make(chan []byte, 1)
	if tok := agent.Subscribe(protocol.CmdTopic("r1"), 1, func(_ mqtt.Client, m mqtt.Message) { cmds <- m.Payload() }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if c.Connected("r1") {
		t.Fatal("Connected before any status")
	}
	onlineTS := connectedAt.Add(time.Second)
	online, _ := protocol.Encode(&protocol.Status{V: protocol.Version, Router: "r1", State: protocol.StateOnline, TS: onlineTS})
	publish(t, agent, protocol.StatusTopic("r1"), true, online)
	testkit.Eventually(t, 0, "Connected", func() bool { return c.Connected("r1") })

	cmd := &protocol.Command{V: protocol.Version, ID: "c-1", Router: "r1", Kind: protocol.CmdResync, IssuedAt: time.Now()}
	if err := c.PublishCommand(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-cmds:
		got, err := protocol.DecodeCommand(p)
		if err != nil || got.ID != "c-1" {
			t.Fatalf("agent got %s (%v)", p, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not get the command")
	}

	// The agent dies: the broker publishes its will, stamped before the
	// online status; the client moves it after.
	connMu.Lock()
	_ = conn.Close()
	connMu.Unlock()
	testkit.Eventually(t, 0, "not Connected", func() bool { return !c.Connected("r1") })
	testkit.Eventually(t, 0, "the will ingested", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		st, err := protocol.DecodeStatus(r.topics[protocol.StatusTopic("r1")])
		return err == nil && st.State == protocol.StateOffline
	})
	r.mu.Lock()
	st, _ := protocol.DecodeStatus(r.topics[protocol.StatusTopic("r1")])
	r.mu.Unlock()
	if !st.TS.After(onlineTS) {
		t.Errorf("will ingested with ts %v, want after the online status's %v", st.TS, onlineTS)
	}
}

// A replica that shuts down gracefully leaves the shared subscriptions
// first, so the broker stops handing it messages: with a Deployment its
// client id never comes back, and whatever the broker queued for its
// session would wait there until the session expired.
func TestCloseLeavesTheSharedSubscription(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	ra, rb := newRecorder(), newRecorder()
	a := startClient(t, broker, "cp-a", ra)
	startClient(t, broker, "cp-b", rb)
	agent := agentClient(t, broker, "r1", nil)
	defer agent.Disconnect(0)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	const n = 10
	for i := range n {
		publish(t, agent, protocol.EventsTopic("r1"), false, fmt.Appendf(nil, "batch-%02d", i))
	}
	testkit.Eventually(t, 0, "every batch applied by the replica still running", func() bool { return len(rb.appliedCopy()) == n })
	if got := len(ra.appliedCopy()); got != 0 {
		t.Errorf("the closed replica applied %d batches", got)
	}
}

// Billing's changes reach the other replica's fan-out whole, each of its
// kinds, so a dashboard on any replica sees payments, subscriptions,
// plans, customers and revenue.
func TestRelayCarriesBillingChanges(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	a := startClient(t, broker, "cp-a", newRecorder())
	b := startClient(t, broker, "cp-b", newRecorder())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	localA := make(chan controlplane.Change)
	outA, outB := a.Fanin(ctx, localA, nil), b.Fanin(ctx, make(chan controlplane.Change), nil)

	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	code := 0
	changes := []controlplane.Change{
		controlplane.PaymentChanged{Payment: controlplane.Payment{ID: 41, TenantID: 7, Provider: controlplane.ProviderMpesaSTK,
			Amount: controlplane.KES(5000), Phone: "+254712345678", Receipt: "QKJ7ABC123", Status: controlplane.PaymentCompleted,
			ResultCode: &code, CreatedAt: at, UpdatedAt: at, CompletedAt: &at}},
		controlplane.SubscriptionChanged{Subscription: controlplane.Subscription{ID: 6, TenantID: 7, CustomerID: 5, PlanID: 3,
			Status: controlplane.SubscriptionActive, StartsAt: &at, EndsAt: &at}, Renewed: true},
		controlplane.PlanChanged{Op: controlplane.AccountCreated, Plan: controlplane.Plan{ID: 3, TenantID: 7, Name: "Daily",
			Price: controlplane.KES(5000), Routers: []controlplane.PlanRouter{{RouterID: "r1", State: controlplane.SyncPending}}}},
		controlplane.CustomerChanged{Customer: controlplane.Customer{ID: 5, TenantID: 7, Phone: "+254712345678"}},
		controlplane.BillingStatsChanged{Stats: controlplane.BillingStats{TenantID: 7, Currency: "KES", RevenueToday: 5000}},
		controlplane.BillingStatsChanged{Stats: controlplane.BillingStats{Revenue30d: 9000, ByCurrency: map[string]int64{"KES": 9000}}},
	}
	for _, c := range changes {
		if _, _, _, ok := route(c); !ok {
			t.Fatalf("%T is not relayed", c)
		}
		localA <- c
		if got := recv(t, outA); !sameChange(got, c) {
			t.Fatalf("A's fan-out got %#v, want its own %T", got, c)
		}
		if got := recv(t, outB); !sameChange(got, c) {
			t.Fatalf("B's fan-out got %#v, want A's %T", got, c)
		}
	}
}
