package agent_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqttsrv "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/agent/radius"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// The RADIUS side of the agent, driven through its Decider (the UDP
// server is radsrv's package; radius_e2e_test.go runs it for real) and
// through the broker as the control plane would.

const testRadiusSecret = "radius-secret-Pq77"

// radiusCP is the control plane's RADIUS half in these tests: it records
// the agent's sync states and asks, and answers asks with answer.
type radiusCP struct {
	br     *testBroker
	mu     sync.Mutex
	states []protocol.RadiusState
	asks   []protocol.RadiusAsk
	bad    []string
	// answer, if set, decides an ask; nil leaves it unanswered.
	answer func(protocol.RadiusAsk) *protocol.RadiusAnswer
	held   uint64 // Head of the last page sent, for answer pages
}

func newRadiusCP(t *testing.T, br *testBroker) *radiusCP {
	t.Helper()
	cp := &radiusCP{br: br}
	for i, f := range []string{"sp/v1/+/radius/state", "sp/v1/+/radius/ask"} {
		if err := br.srv.Subscribe(f, 20+i, cp.onPublish); err != nil {
			t.Fatal(err)
		}
	}
	return cp
}

func (cp *radiusCP) onPublish(_ *mqttsrv.Client, _ packets.Subscription, pk packets.Packet) {
	t, err := protocol.ParseTopic(pk.TopicName)
	if err != nil {
		cp.mu.Lock()
		cp.bad = append(cp.bad, err.Error())
		cp.mu.Unlock()
		return
	}
	switch t.Kind {
	case protocol.TopicRadiusState:
		s, err := protocol.DecodeRadiusState(pk.Payload)
		cp.mu.Lock()
		if err != nil {
			cp.bad = append(cp.bad, "state: "+err.Error())
		} else {
			cp.states = append(cp.states, *s)
		}
		cp.mu.Unlock()
	case protocol.TopicRadiusAsk:
		a, err := protocol.DecodeRadiusAsk(pk.Payload)
		cp.mu.Lock()
		if err != nil {
			cp.bad = append(cp.bad, "ask: "+err.Error())
			cp.mu.Unlock()
			return
		}
		cp.asks = append(cp.asks, *a)
		answer, held := cp.answer, cp.held
		cp.mu.Unlock()
		if answer == nil {
			return
		}
		if ans := answer(*a); ans != nil {
			ans.ID = a.ID
			// Answers ride a page that carries no entries (a duplicate by
			// version), off the broker's delivery goroutine.
			go cp.publish(protocol.RadiusSync{Mode: protocol.AuthRadius, From: held, To: held, Head: held, Answers: []protocol.RadiusAnswer{*ans}})
		}
	}
}

func (cp *radiusCP) publish(p protocol.RadiusSync) error {
	p.V, p.Router = protocol.Version, testRouterID
	b, err := protocol.Encode(&p)
	if err != nil {
		return err
	}
	return cp.br.srv.Publish(protocol.RadiusSyncTopic(testRouterID), b, false, 1)
}

// send publishes a page; entries get versions From+1... unless set.
func (cp *radiusCP) send(t *testing.T, mode string, from, to, head uint64, es ...protocol.RadiusEntry) {
	t.Helper()
	v := from
	for i := range es {
		if es[i].Version == 0 {
			v++
			es[i].Version = v
		}
	}
	cp.mu.Lock()
	cp.held = max(cp.held, head)
	cp.mu.Unlock()
	if err := cp.publish(protocol.RadiusSync{Mode: mode, From: from, To: to, Head: head, Entries: es, InterimSeconds: 30}); err != nil {
		t.Fatal(err)
	}
}

func (cp *radiusCP) stateCount() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return len(cp.states)
}

func (cp *radiusCP) lastState() (protocol.RadiusState, bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if len(cp.states) == 0 {
		return protocol.RadiusState{}, false
	}
	return cp.states[len(cp.states)-1], true
}

func (cp *radiusCP) askCount() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return len(cp.asks)
}

func (cp *radiusCP) checkClean(t *testing.T) {
	t.Helper()
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if len(cp.bad) > 0 {
		t.Errorf("control plane got invalid RADIUS payloads: %v", cp.bad)
	}
}

func radiusTestConfig(t *testing.T, router *sim.Router, brokerURL string, logs *testkit.LogBuffer) agent.Config {
	t.Helper()
	cfg := testConfig(t, router, brokerURL, logs)
	cfg.RadiusAuthAddr, cfg.RadiusAcctAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RadiusSecret = []byte(testRadiusSecret)
	cfg.RadiusAskTimeout = 300 * time.Millisecond
	cfg.RadiusEnforceInterval = 50 * time.Millisecond
	cfg.RadiusRequireMessageAuth = true
	return cfg
}

// coaRecorder stands in for the router's /radius incoming in the tests
// that run without the real radius package (the simulator's RADIUS client
// replaces it in the end-to-end tests).
type coaRecorder struct {
	mu          sync.Mutex
	disconnects []radius.Target
	coas        []radius.Decision
	coaTargets  []radius.Target
	nak         map[string]bool // AcctSessionID → answer NAK
}

func (c *coaRecorder) install(a *runningAgent) {
	agent.SetRadiusCoA(a.Agent, func(t radius.Target) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.disconnects = append(c.disconnects, t)
		if c.nak[t.AcctSessionID] {
			return fmt.Errorf("%w: 503 Session-Context-Not-Found", radius.ErrNAK)
		}
		return nil
	}, func(t radius.Target, d radius.Decision) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.coas = append(c.coas, d)
		c.coaTargets = append(c.coaTargets, t)
		return nil
	})
}

func (c *coaRecorder) disconnected(acct string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.disconnects {
		if t.AcctSessionID == acct {
			n++
		}
	}
	return n
}

func (c *coaRecorder) coaFor(acct string) (radius.Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.coaTargets {
		if t.AcctSessionID == acct {
			return c.coas[i], true
		}
	}
	return radius.Decision{}, false
}

type radiusRig struct {
	rcv    *receiver
	br     *testBroker
	cp     *radiusCP
	router *sim.Router
	cfg    agent.Config
	a      *runningAgent
	dec    radius.Decider
	coa    *coaRecorder
	logs   *testkit.LogBuffer
}

// checkNoSecrets fails if any of the secrets reached the logs.
func (g *radiusRig) checkNoSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, testRadiusSecret) {
		if g.logs.Contains(s) {
			t.Errorf("logs contain the secret %q", s)
		}
	}
}

func startRadiusRig(t *testing.T) *radiusRig {
	t.Helper()
	g := &radiusRig{rcv: newReceiver(), coa: &coaRecorder{nak: map[string]bool{}}, logs: &testkit.LogBuffer{}}
	g.br = startBroker(t, "127.0.0.1:0", g.rcv)
	g.cp = newRadiusCP(t, g.br)
	g.router = startSim(t, sim.Config{})
	g.cfg = radiusTestConfig(t, g.router, g.br.url(), g.logs)
	g.start(t)
	return g
}

func (g *radiusRig) start(t *testing.T) {
	t.Helper()
	n := g.cp.stateCount()
	g.a = startAgent(t, g.cfg)
	g.coa.install(g.a)
	g.dec = g.a.RadiusDecider()
	waitReady(t, g.a, g.rcv)
	testkit.Eventually(t, 10*time.Second, "the agent's sync state on connect", func() bool { return g.cp.stateCount() > n })
}

func (g *radiusRig) waitVersion(t *testing.T, v uint64) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("sync version %d held", v), func() bool {
		got, _ := g.a.RadiusState()
		return got == v
	})
}

func hsReq(user, mac, acct string) radius.Request {
	return radius.Request{Kind: protocol.KindHotspot, User: user, MAC: mac, IP: "10.5.0.9", AcctSessionID: acct, Method: radius.MethodCHAP}
}

func TestRadiusSyncApply(t *testing.T) {
	g := startRadiusRig(t)
	ctx := context.Background()
	if st, _ := g.cp.lastState(); st.Version != 0 || st.Count != 0 || st.Router != testRouterID {
		t.Fatalf("state on connect %+v, want version 0, count 0", st)
	}
	hs := func(name string) protocol.RadiusEntry {
		return protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: name, Password: "pw-" + name}
	}
	// Page 0..2 of head 4: applied, no state yet (not the last page).
	g.cp.send(t, protocol.AuthRadius, 0, 2, 4, hs("a"), hs("b"))
	g.waitVersion(t, 2)
	states := g.cp.stateCount()
	if _, ok := g.dec.Credentials(protocol.KindHotspot, "a"); !ok {
		t.Fatal("entry a not applied")
	}
	// The same page again: a duplicate, dropped (a changed body shows it).
	dup := hs("a")
	dup.Version, dup.Password = 1, "changed"
	g.cp.send(t, protocol.AuthRadius, 0, 2, 4, dup)
	// A page past a missing one (3..4 while holding 2): a gap, so the
	// agent reports its version for a resend.
	g.cp.send(t, protocol.AuthRadius, 3, 4, 4, protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "c", Version: 4, Password: "x"})
	testkit.Eventually(t, 5*time.Second, "a state after the gap", func() bool { return g.cp.stateCount() > states })
	if st, _ := g.cp.lastState(); st.Version != 2 || st.Count != 2 {
		t.Fatalf("state after gap %+v, want version 2 count 2", st)
	}
	if s, _ := g.dec.Credentials(protocol.KindHotspot, "a"); s.Password != "pw-a" {
		t.Fatalf("duplicate page applied: password %q", s.Password)
	}
	if _, ok := g.dec.Credentials(protocol.KindHotspot, "c"); ok {
		t.Fatal("a page past a gap was applied")
	}
	// The resend: 2..3 then 3..4 (which deletes b); the last page (To ==
	// Head) makes the agent report.
	states = g.cp.stateCount()
	g.cp.send(t, protocol.AuthRadius, 2, 3, 4, protocol.RadiusEntry{Kind: protocol.KindPPPoE, Name: "a", Version: 3, NTHash: strings.Repeat("ab", 16)})
	g.cp.send(t, protocol.AuthRadius, 3, 4, 4, protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "b", Version: 4, Deleted: true})
	g.waitVersion(t, 4)
	testkit.Eventually(t, 5*time.Second, "a state after the last page", func() bool {
		st, _ := g.cp.lastState()
		return g.cp.stateCount() > states && st.Version == 4
	})
	if st, _ := g.cp.lastState(); st.Count != 2 {
		t.Fatalf("state %+v, want 2 live entries (hotspot a, ppp a)", st)
	}
	if _, ok := g.dec.Credentials(protocol.KindHotspot, "b"); ok {
		t.Fatal("deleted entry still answers")
	}
	s, ok := g.dec.Credentials(protocol.KindPPPoE, "a")
	if !ok || !s.HasNT || s.NTHash[0] != 0xab || s.Password != "" {
		t.Fatalf("ppp entry credentials %+v %v, want the NT hash only", s, ok)
	}
	if rs := g.a.Status(ctx).Radius; rs == nil || rs.Mode != protocol.AuthRadius || rs.Version != 4 || rs.Entries != 2 {
		t.Fatalf("/status radius %+v, want radius mode, version 4, 2 entries", rs)
	}
	if d := g.dec.Decide(ctx, hsReq("a", mac(1), "00000001")); !d.Accept || d.InterimInterval != 30*time.Second {
		t.Fatalf("decision %+v, want accept with the sync's interim", d)
	}

	// Restart: the copy, its version and the mode survive, and the state
	// is reported on the new connection.
	g.a.stop(t)
	g.start(t)
	if st, _ := g.cp.lastState(); st.Version != 4 || st.Count != 2 {
		t.Fatalf("state after restart %+v, want version 4 count 2", st)
	}
	if d := g.dec.Decide(ctx, hsReq("a", mac(1), "00000002")); !d.Accept {
		t.Fatalf("after restart: %+v, want accept", d)
	}
	// A local mode page rejects every login, and keeps the copy.
	g.cp.send(t, protocol.AuthLocal, 4, 4, 4)
	testkit.Eventually(t, 5*time.Second, "local mode", func() bool {
		return g.dec.Decide(ctx, hsReq("a", mac(1), "00000003")).Reason == "radius not enabled for this router"
	})
	// A malformed page is counted and logged without its content.
	if err := g.cp.br.srv.Publish(protocol.RadiusSyncTopic(testRouterID), []byte(`{"v":1,"router":"site-1","mode":"radius","from":4,"to":5,"head":5,"entries":[{"kind":"hotspot","name":"z","version":5,"password":"pw-leak","nt_hash":"xyz"}]}`), false, 1); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the invalid page logged", func() bool { return g.logs.Contains("invalid radius sync page") })
	g.checkNoSecrets(t, "pw-a", "pw-b", strings.Repeat("ab", 16), "pw-leak")
	g.cp.checkClean(t)
	g.rcv.checkClean(t)
}

func TestRadiusDecide(t *testing.T) {
	g := startRadiusRig(t)
	ctx := context.Background()
	now := time.Now()
	// Local mode (no page yet): rejected with the documented reason.
	if d := g.dec.Decide(ctx, hsReq("x", mac(1), "")); d.Accept || d.Reason != "radius not enabled for this router" {
		t.Fatalf("before any page: %+v", d)
	}
	g.cp.send(t, protocol.AuthRadius, 0, 8, 8,
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "alice", Password: "pw", Profile: "gold", RateLimit: "2M/5M", ExpiresAt: now.Add(time.Hour), FramedPool: "pool1"},
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "bob", Password: "pw", Disabled: true, Reason: "unpaid"},
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "carol", Password: "pw", ExpiresAt: now.Add(-time.Minute)},
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "dave", Password: "pw", DataCapBytes: 1000, UsedBytes: 1000},
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "eve", Password: "pw", DataCapBytes: 5000, UsedBytes: 1000, UptimeLimitSeconds: 600},
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "fay", Password: "pw", SharedUsers: 2},
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "gus", Password: "pw", DataCapBytes: 1000, UsedBytes: 400},
		protocol.RadiusEntry{Kind: protocol.KindPPPoE, Name: "alice", NTHash: strings.Repeat("0f", 16), RateLimit: "1M/1M"},
	)
	g.waitVersion(t, 8)

	d := g.dec.Decide(ctx, hsReq("alice", mac(1), "00000001"))
	if !d.Accept || d.Profile != "gold" || d.RateLimit != "2M/5M" || d.FramedPool != "pool1" || d.TotalLimit != 0 {
		t.Fatalf("alice: %+v", d)
	}
	if d.SessionTimeout > time.Hour || d.SessionTimeout < time.Hour-time.Minute {
		t.Fatalf("alice session timeout %s, want the hour left", d.SessionTimeout)
	}
	if pd := g.dec.Decide(ctx, radius.Request{Kind: protocol.KindPPPoE, User: "alice", MAC: mac(1), AcctSessionID: "0x81500001"}); !pd.Accept || pd.RateLimit != "1M/1M" {
		t.Fatalf("ppp alice: %+v (a hotspot and a PPP entry may share a name)", pd)
	}
	for _, c := range []struct{ user, reason string }{
		{"bob", "unpaid"}, {"carol", "expired"}, {"dave", "data limit reached"}, {"nobody", "unknown user"},
	} {
		if d := g.dec.Decide(ctx, hsReq(c.user, mac(2), "")); d.Accept || d.Reason != c.reason {
			t.Errorf("%s: %+v, want reject %q", c.user, d, c.reason)
		}
	}
	d = g.dec.Decide(ctx, hsReq("eve", mac(3), "00000003"))
	if !d.Accept || d.TotalLimit != 4000 || d.SessionTimeout != 600*time.Second {
		t.Fatalf("eve: %+v, want total limit 4000 and 600 s", d)
	}

	// Shared users, counted from live RADIUS sessions at this router.
	start := func(user, m, acct string) {
		t.Helper()
		if err := g.dec.Account(ctx, radius.Accounting{Status: radius.AcctStart, Kind: protocol.KindHotspot, AcctSessionID: acct, User: user, MAC: m, IP: "10.5.0.3", EventTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	start("fay", mac(10), "00000A10")
	start("fay", mac(11), "00000A11")
	if d := g.dec.Decide(ctx, hsReq("fay", mac(12), "00000A12")); d.Accept || d.Reason != "already logged in on 2 devices" {
		t.Fatalf("third device of fay: %+v", d)
	}
	if d := g.dec.Decide(ctx, hsReq("fay", mac(11), "00000A13")); !d.Accept {
		t.Fatalf("a logged-in device logging in again: %+v, want accept", d)
	}

	// Usage counted from accounting: gus has 600 bytes left; an interim
	// with 700 crosses the cap and the session is disconnected; the next
	// login is refused.
	start("gus", mac(20), "00000B20")
	if err := g.dec.Account(ctx, radius.Accounting{Status: radius.AcctInterim, Kind: protocol.KindHotspot, AcctSessionID: "00000B20", User: "gus", MAC: mac(20),
		SessionTime: 30 * time.Second, InputOctets: 200, OutputOctets: 500, EventTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "gus disconnected at the cap", func() bool { return g.coa.disconnected("00000B20") == 1 })
	if err := g.dec.Account(ctx, radius.Accounting{Status: radius.AcctStop, Kind: protocol.KindHotspot, AcctSessionID: "00000B20", User: "gus", MAC: mac(20),
		SessionTime: 31 * time.Second, InputOctets: 200, OutputOctets: 500, TerminateCause: 6, EventTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if d := g.dec.Decide(ctx, hsReq("gus", mac(21), "00000B21")); d.Accept || d.Reason != "data limit reached" {
		t.Fatalf("gus after the cap: %+v", d)
	}
	// A new version of the entry (the control plane counted the bytes)
	// restarts the agent's own count.
	g.cp.send(t, protocol.AuthRadius, 8, 9, 9, protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "gus", Password: "pw", DataCapBytes: 2000, UsedBytes: 1100})
	g.waitVersion(t, 9)
	if d := g.dec.Decide(ctx, hsReq("gus", mac(21), "00000B22")); !d.Accept || d.TotalLimit != 900 {
		t.Fatalf("gus after a top-up: %+v, want total limit 900", d)
	}
	g.cp.checkClean(t)
}

// One session seen by both the API and accounting is one session at the
// control plane: one key, one started, updates, one ended.
func TestRadiusAccountingMergesWithAPI(t *testing.T) {
	g := startRadiusRig(t)
	ctx := context.Background()
	g.cp.send(t, protocol.AuthRadius, 0, 1, 1, protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "h1", Password: "pw"})
	g.waitVersion(t, 1)
	if err := g.router.AddHotspotUser("h1", "pw", ""); err != nil {
		t.Fatal(err)
	}

	// API first: the router's row, then accounting for it.
	id, err := g.router.LoginHotspot("h1", mac(1), ip(1))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the API's session.started", func() bool { return len(g.rcv.ofType(protocol.EventSessionStarted)) == 1 })
	key := g.rcv.ofType(protocol.EventSessionStarted)[0].Session.Key
	acct := fmt.Sprintf("%08X", mustHex(t, strings.TrimPrefix(id, "*")))
	acctRec := func(st radius.AcctStatus, secs int, in, out uint64, cause int) radius.Accounting {
		return radius.Accounting{Status: st, Kind: protocol.KindHotspot, AcctSessionID: acct, User: "h1", MAC: mac(1), IP: ip(1),
			SessionTime: time.Duration(secs) * time.Second, InputOctets: in, OutputOctets: out, TerminateCause: cause, EventTime: time.Now()}
	}
	for _, r := range []radius.Accounting{acctRec(radius.AcctStart, 0, 0, 0, 0), acctRec(radius.AcctInterim, 30, 1000, 5000, 0), acctRec(radius.AcctInterim, 60, 2000, 9000, 0)} {
		if err := g.dec.Account(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// Account returned: the events are committed; they reach the broker.
	waitPublished(t, g.a, g.rcv)
	var upd *protocol.Event
	for _, e := range g.rcv.ofType(protocol.EventSessionUpdated) {
		if e.Session.Key == key && e.Session.BytesOut == 9000 {
			upd = &e
		}
	}
	if upd == nil || upd.Session.AcctSessionID != acct || upd.Session.BytesIn != 2000 {
		t.Fatalf("no session.updated with the interim's absolute counters under the API's key %s: %+v", key, g.rcv.ofType(protocol.EventSessionUpdated))
	}
	// The router ends it: Stop (User-Request) and the API's removal.
	if err := g.dec.Account(ctx, acctRec(radius.AcctStop, 90, 3000, 12000, 1)); err != nil {
		t.Fatal(err)
	}
	if err := g.router.Logout(id); err != nil {
		t.Fatal(err)
	}
	// A retransmitted Stop adds nothing.
	if err := g.dec.Account(ctx, acctRec(radius.AcctStop, 90, 3000, 12000, 1)); err != nil {
		t.Fatal(err)
	}

	// Accounting first (the API never sees this one): a PPP session.
	pa := func(st radius.AcctStatus, in uint64, cause int) radius.Accounting {
		return radius.Accounting{Status: st, Kind: protocol.KindPPPoE, AcctSessionID: "0x81500007", User: "p1", MAC: mac(2), IP: ip(2),
			SessionTime: time.Duration(in) * time.Millisecond, InputOctets: in, OutputOctets: 2 * in, TerminateCause: cause, EventTime: time.Now()}
	}
	if err := g.dec.Account(ctx, pa(radius.AcctStart, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := g.dec.Account(ctx, pa(radius.AcctInterim, 100, 0)); err != nil {
		t.Fatal(err)
	}
	// The agent restarts in the middle: the session keeps its key.
	g.a.stop(t)
	g.start(t)
	if err := g.dec.Account(ctx, pa(radius.AcctInterim, 200, 0)); err != nil {
		t.Fatal(err)
	}
	if err := g.dec.Account(ctx, pa(radius.AcctStop, 300, 6)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "both ends at the broker", func() bool { return len(g.rcv.ofType(protocol.EventSessionEnded)) >= 2 })
	waitPublished(t, g.a, g.rcv)

	started, ended := keyCount(g.rcv.events())
	pkey := protocol.PPPKey("p1", "0x81500007")
	if len(started) != 2 || started[key] != 1 || started[pkey] != 1 {
		t.Fatalf("started per key %v, want one for %s and one for %s", started, key, pkey)
	}
	if len(ended) != 2 || ended[key] != 1 || ended[pkey] != 1 {
		t.Fatalf("ended per key %v, want one each", ended)
	}
	for _, e := range g.rcv.ofType(protocol.EventSessionEnded) {
		want := protocol.EndLogout
		if e.Session.Key == pkey {
			want = protocol.EndKicked // Admin-Reset
			if e.Session.BytesOut != 600 || e.Session.AcctSessionID != "0x81500007" {
				t.Errorf("ppp end %+v, want the Stop's counters", e.Session)
			}
		}
		if e.Reason != want {
			t.Errorf("end of %s: reason %s, want %s", e.Session.Key, e.Reason, want)
		}
	}
	n := 0
	for _, e := range g.rcv.ofType(protocol.EventSessionUpdated) {
		if e.Session.Key == pkey {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d updates of the PPP session, want 2 (one per interim)", n)
	}
	g.rcv.checkClean(t)
}

func mustHex(t *testing.T, s string) uint64 {
	t.Helper()
	var n uint64
	if _, err := fmt.Sscanf(s, "%X", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRadiusVoucher(t *testing.T) {
	g := startRadiusRig(t)
	ctx := context.Background()
	voucher := func(code string) protocol.RadiusEntry {
		return protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: code, Password: code, Voucher: true, VoucherSeconds: 3600, Profile: "1h", RateLimit: "1M/2M"}
	}
	g.cp.send(t, protocol.AuthRadius, 0, 3, 3, voucher("V-ANSWERED"), voucher("V-REJECTED"), voucher("V-OFFLINE"))
	g.waitVersion(t, 3)
	g.cp.mu.Lock()
	g.cp.answer = func(a protocol.RadiusAsk) *protocol.RadiusAnswer {
		switch a.Code {
		case "V-ANSWERED":
			return &protocol.RadiusAnswer{Accept: true, Entry: &protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "V-ANSWERED", Version: 4,
				Password: "V-ANSWERED", Profile: "1h", RateLimit: "1M/2M", ExpiresAt: time.Now().Add(time.Hour)}}
		case "V-REJECTED":
			return &protocol.RadiusAnswer{Accept: false, Reason: "voucher already used at another site"}
		}
		return nil // V-OFFLINE: the control plane does not answer in time
	}
	g.cp.mu.Unlock()

	t.Run("answered", func(t *testing.T) {
		d := g.dec.Decide(ctx, hsReq("V-ANSWERED", mac(1), "00000001"))
		if !d.Accept || d.RateLimit != "1M/2M" || d.SessionTimeout < 59*time.Minute {
			t.Fatalf("answered voucher: %+v", d)
		}
		// The answer's account replaced the voucher: the next login is an
		// ordinary one, not asked again.
		asks := g.cp.askCount()
		if d := g.dec.Decide(ctx, hsReq("V-ANSWERED", mac(1), "00000002")); !d.Accept {
			t.Fatalf("again: %+v", d)
		}
		if g.cp.askCount() != asks {
			t.Fatal("an answered voucher was asked about again")
		}
		d = g.dec.Decide(ctx, hsReq("V-REJECTED", mac(1), "00000003"))
		if d.Accept || d.Reason != "voucher already used at another site" {
			t.Fatalf("rejected voucher: %+v", d)
		}
	})

	t.Run("offline rule", func(t *testing.T) {
		start := time.Now()
		d := g.dec.Decide(ctx, hsReq("V-OFFLINE", mac(5), "00000005"))
		if !d.Accept || d.SessionTimeout != time.Hour || d.RateLimit != "1M/2M" {
			t.Fatalf("unanswered voucher: %+v, want accept for VoucherSeconds", d)
		}
		if el := time.Since(start); el < 300*time.Millisecond {
			t.Fatalf("decided in %s, before the ask timeout", el)
		}
		// The same device again: allowed, not asked, not reported again.
		asks := g.cp.askCount()
		if d := g.dec.Decide(ctx, hsReq("V-OFFLINE", mac(5), "00000006")); !d.Accept || d.SessionTimeout > time.Hour {
			t.Fatalf("same device again: %+v", d)
		}
		if g.cp.askCount() != asks {
			t.Fatal("a voucher redeemed locally was asked about again")
		}
		// A second device with the same code (shared users 1): refused.
		if d := g.dec.Decide(ctx, hsReq("V-OFFLINE", mac(6), "00000007")); d.Accept || d.Reason != "voucher already used on another device" {
			t.Fatalf("second device: %+v", d)
		}
		waitPublished(t, g.a, g.rcv)
		uses := g.rcv.ofType(protocol.EventVoucherUsed)
		if len(uses) != 1 || uses[0].Voucher.Code != "V-OFFLINE" || uses[0].Voucher.MAC != mac(5) ||
			uses[0].Voucher.EndsAt.Sub(uses[0].Voucher.At) != time.Hour {
			t.Fatalf("voucher.used events %+v, want exactly one for V-OFFLINE from %s lasting an hour", uses, mac(5))
		}
	})

	t.Run("mqtt down", func(t *testing.T) {
		g.cp.send(t, protocol.AuthRadius, 3, 4, 4, voucher("V-DOWN"))
		g.waitVersion(t, 4)
		g.br.stop()
		testkit.Eventually(t, 10*time.Second, "mqtt down", func() bool { return !g.a.Status(ctx).MQTTConnected })
		start := time.Now()
		d := g.dec.Decide(ctx, hsReq("V-DOWN", mac(7), "00000008"))
		if !d.Accept || d.SessionTimeout != time.Hour {
			t.Fatalf("voucher while MQTT is down: %+v", d)
		}
		if el := time.Since(start); el > 250*time.Millisecond {
			t.Fatalf("waited %s for an ask that could not be sent", el)
		}
		// Remembered across a restart.
		g.a.stop(t)
		a := startAgent(t, g.cfg)
		if d := a.RadiusDecider().Decide(ctx, hsReq("V-DOWN", mac(8), "00000009")); d.Accept {
			t.Fatalf("second device after a restart: %+v, want reject", d)
		}
		if d := a.RadiusDecider().Decide(ctx, hsReq("V-DOWN", mac(7), "0000000A")); !d.Accept {
			t.Fatalf("same device after a restart: %+v, want accept", d)
		}
	})
	// Voucher codes are passwords: never logged.
	g.checkNoSecrets(t, "V-OFFLINE", "V-ANSWERED", "V-DOWN")
	g.cp.checkClean(t)
}

func TestRadiusKickAndEntryChanges(t *testing.T) {
	g := startRadiusRig(t)
	ctx := context.Background()
	g.cp.send(t, protocol.AuthRadius, 0, 3, 3,
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "k1", Password: "pw", RateLimit: "1M/1M"},
		protocol.RadiusEntry{Kind: protocol.KindPPPoE, Name: "k2", NTHash: strings.Repeat("11", 16)},
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "k3", Password: "pw", RateLimit: "1M/1M"},
	)
	g.waitVersion(t, 3)
	start := func(kind protocol.SessionKind, user, acct string) {
		t.Helper()
		if err := g.dec.Account(ctx, radius.Accounting{Status: radius.AcctStart, Kind: kind, AcctSessionID: acct, User: user, MAC: mac(1), IP: ip(1), EventTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	start(protocol.KindHotspot, "k1", "00000011")
	start(protocol.KindPPPoE, "k2", "0x81500002")
	start(protocol.KindHotspot, "k3", "00000013")

	// A kick by user becomes a Disconnect of that session; the router is
	// not asked over the API.
	removes := g.router.Calls("/ip/hotspot/active/remove")
	g.br.sendCommand(t, protocol.Command{ID: "kick-1", Kind: protocol.CmdHotspotActiveKick, Kick: &protocol.Kick{User: "k1"}})
	if res := final(t, g.rcv, "kick-1", false); res.Status != protocol.ResultSucceeded {
		t.Fatalf("kick: %+v", res)
	}
	if n := g.coa.disconnected("00000011"); n != 1 {
		t.Fatalf("%d disconnects for k1, want 1", n)
	}
	// Delivered again: answered from the record, not sent again.
	g.br.sendCommand(t, protocol.Command{ID: "kick-1", Kind: protocol.CmdHotspotActiveKick, Kick: &protocol.Kick{User: "k1"}})
	if res := final(t, g.rcv, "kick-1", true); res.Status != protocol.ResultSucceeded {
		t.Fatalf("kick redelivered: %+v", res)
	}
	if n := g.coa.disconnected("00000011"); n != 1 {
		t.Fatalf("%d disconnects after a redelivery, want 1", n)
	}
	if g.router.Calls("/ip/hotspot/active/remove") != removes {
		t.Fatal("a RADIUS kick went over the API")
	}
	// The Stop that follows ends it as kicked (Admin-Reset), once.
	if err := g.dec.Account(ctx, radius.Accounting{Status: radius.AcctStop, Kind: protocol.KindHotspot, AcctSessionID: "00000011", User: "k1", MAC: mac(1), TerminateCause: 6, EventTime: time.Now()}); err != nil {
		t.Fatal(err)
	}

	// A NAK fails the command with its text.
	g.coa.mu.Lock()
	g.coa.nak["0x81500002"] = true
	g.coa.mu.Unlock()
	g.br.sendCommand(t, protocol.Command{ID: "kick-2", Kind: protocol.CmdPPPActiveKick, Kick: &protocol.Kick{Key: protocol.PPPKey("k2", "0x81500002")}})
	res := final(t, g.rcv, "kick-2", false)
	if res.Status != protocol.ResultFailed || !strings.Contains(res.Message, "Session-Context-Not-Found") {
		t.Fatalf("kick with a NAK: %+v", res)
	}

	// Entry changes while sessions are live: a new rate limit is a CoA, a
	// disabled entry a Disconnect.
	g.cp.send(t, protocol.AuthRadius, 3, 5, 5,
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "k3", Password: "pw", RateLimit: "4M/8M"},
		protocol.RadiusEntry{Kind: protocol.KindPPPoE, Name: "k2", NTHash: strings.Repeat("11", 16), Disabled: true, Reason: "unpaid"},
	)
	testkit.Eventually(t, 5*time.Second, "a CoA with k3's new rate limit", func() bool {
		d, ok := g.coa.coaFor("00000013")
		return ok && d.RateLimit == "4M/8M"
	})
	testkit.Eventually(t, 5*time.Second, "k2 disconnected once disabled", func() bool { return g.coa.disconnected("0x81500002") >= 2 })

	// An entry that expires while its session is live is disconnected
	// and its end says expired.
	g.coa.mu.Lock()
	g.coa.nak = map[string]bool{}
	g.coa.mu.Unlock()
	g.cp.send(t, protocol.AuthRadius, 5, 6, 6, protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "k4", Password: "pw", ExpiresAt: time.Now().Add(1500 * time.Millisecond)})
	g.waitVersion(t, 6)
	if d := g.dec.Decide(ctx, hsReq("k4", mac(4), "00000014")); !d.Accept || d.SessionTimeout > 1500*time.Millisecond {
		t.Fatalf("k4: %+v", d)
	}
	start(protocol.KindHotspot, "k4", "00000014")
	testkit.Eventually(t, 10*time.Second, "k4 disconnected at its expiry", func() bool { return g.coa.disconnected("00000014") == 1 })
	if err := g.dec.Account(ctx, radius.Accounting{Status: radius.AcctStop, Kind: protocol.KindHotspot, AcctSessionID: "00000014", User: "k4", MAC: mac(1), TerminateCause: 6, EventTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waitPublished(t, g.a, g.rcv)
	reasons := map[string]protocol.EndReason{}
	for _, e := range g.rcv.ofType(protocol.EventSessionEnded) {
		reasons[e.Session.User] = e.Reason
	}
	if reasons["k1"] != protocol.EndKicked || reasons["k4"] != protocol.EndExpired {
		t.Fatalf("end reasons %v, want k1 kicked, k4 expired", reasons)
	}
}

// An Acct-Session-Id that names no row (another format) still finds the
// API's session of the same user and device.
func TestRadiusAccountingMatchesByUserAndMAC(t *testing.T) {
	g := startRadiusRig(t)
	ctx := context.Background()
	if err := g.router.AddHotspotUser("m1", "pw", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := g.router.LoginHotspot("m1", mac(3), ip(3)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the API's session.started", func() bool { return len(g.rcv.ofType(protocol.EventSessionStarted)) == 1 })
	key := g.rcv.ofType(protocol.EventSessionStarted)[0].Session.Key
	for _, st := range []radius.AcctStatus{radius.AcctStart, radius.AcctInterim} {
		if err := g.dec.Account(ctx, radius.Accounting{Status: st, Kind: protocol.KindHotspot, AcctSessionID: "sess-77", User: "m1", MAC: mac(3),
			InputOctets: 10, OutputOctets: 20, EventTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	waitPublished(t, g.a, g.rcv)
	started, _ := keyCount(g.rcv.events())
	if len(started) != 1 || started[key] != 1 {
		t.Fatalf("started %v, want only the API's %s", started, key)
	}
	ups := g.rcv.ofType(protocol.EventSessionUpdated)
	if len(ups) == 0 || ups[len(ups)-1].Session.Key != key || ups[len(ups)-1].Session.AcctSessionID != "sess-77" {
		t.Fatalf("updates %+v, want the interim under %s with its Acct-Session-Id", ups, key)
	}
}
