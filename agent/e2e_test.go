package agent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// N scripted logins and logouts produce exactly N session.started and N
// session.ended at the broker, in the simulator's order, with the right
// fields.
func TestLoginsAndLogoutsArriveInOrder(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	const n = 12
	addUsers(t, router, "s", n)
	logs := &testkit.LogBuffer{}
	a := startAgent(t, testConfig(t, router, br.url(), logs))
	waitReady(t, a, rcv)

	type want struct {
		op   protocol.EventType
		kind protocol.SessionKind
		id   string
		user string
		mac  string
		addr string
	}
	var script []want
	ids := map[string]string{}
	for i := range n {
		hu, pu := fmt.Sprintf("s-h-%d", i), fmt.Sprintf("s-p-%d", i)
		id, err := router.LoginHotspot(hu, mac(i), ip(i))
		if err != nil {
			t.Fatal(err)
		}
		ids[hu] = id
		script = append(script, want{protocol.EventSessionStarted, protocol.KindHotspot, id, hu, mac(i), ip(i)})
		id, err = router.LoginPPP(pu, mac(100+i), ip(100+i))
		if err != nil {
			t.Fatal(err)
		}
		ids[pu] = id
		script = append(script, want{protocol.EventSessionStarted, protocol.KindPPPoE, id, pu, mac(100 + i), ip(100 + i)})
		if i%3 == 2 { // interleave some logouts with the logins
			prev := fmt.Sprintf("s-h-%d", i-1)
			if err := router.Logout(ids[prev]); err != nil {
				t.Fatal(err)
			}
			script = append(script, want{protocol.EventSessionEnded, protocol.KindHotspot, ids[prev], prev, mac(i - 1), ip(i - 1)})
		}
	}
	for i := range n {
		for _, u := range []string{fmt.Sprintf("s-h-%d", i), fmt.Sprintf("s-p-%d", i)} {
			already := false
			for _, w := range script {
				if w.op == protocol.EventSessionEnded && w.user == u {
					already = true
				}
			}
			if already {
				continue
			}
			if err := router.Logout(ids[u]); err != nil {
				t.Fatal(err)
			}
			kind, m, addr := protocol.KindHotspot, mac(i), ip(i)
			if u[2] == 'p' {
				kind, m, addr = protocol.KindPPPoE, mac(100+i), ip(100+i)
			}
			script = append(script, want{protocol.EventSessionEnded, kind, ids[u], u, m, addr})
		}
	}

	var got []protocol.Event
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("%d started and %d ended", 2*n, 2*n), func() bool {
		got = got[:0]
		for _, e := range rcv.events() {
			if e.Type == protocol.EventSessionStarted || e.Type == protocol.EventSessionEnded {
				got = append(got, e)
			}
		}
		return len(got) >= len(script)
	})
	if len(got) != len(script) {
		t.Fatalf("got %d started/ended events, want exactly %d", len(got), len(script))
	}
	keys := map[string]string{}
	for i, w := range script {
		e := got[i]
		s := e.Session
		if e.Type != w.op || s.Kind != w.kind || s.RouterOSID != w.id || s.User != w.user || s.MAC != w.mac || s.Address != w.addr {
			t.Fatalf("event %d = %s %s id=%s user=%s mac=%s addr=%s; want %s %s id=%s user=%s mac=%s addr=%s",
				i, e.Type, s.Kind, s.RouterOSID, s.User, s.MAC, s.Address, w.op, w.kind, w.id, w.user, w.mac, w.addr)
		}
		if w.op == protocol.EventSessionStarted {
			keys[w.user] = s.Key
			continue
		}
		if e.Reason != protocol.EndLogout {
			t.Errorf("end of %s: reason %q, want %q", w.user, e.Reason, protocol.EndLogout)
		}
		if s.Key != keys[w.user] {
			t.Errorf("end of %s: key %q, want the start's %q", w.user, s.Key, keys[w.user])
		}
	}
	for _, e := range got {
		if e.Session.Kind == protocol.KindPPPoE && e.Session.SessionID == "" {
			t.Errorf("ppp session %s without session id", e.Session.User)
		}
		if e.Session.StartedAt.IsZero() || time.Since(e.Session.StartedAt) > time.Minute {
			t.Errorf("session %s started_at %v, want about now", e.Session.User, e.Session.StartedAt)
		}
	}
	rcv.checkClean(t)
	a.stop(t)
	for _, secret := range []string{testAPIPass, testSecret} {
		if logs.Contains(secret) {
			t.Errorf("agent logs contain a secret %q", secret)
		}
	}
	if st, ok := rcv.lastStatus(); !ok || st.State != protocol.StateOffline {
		t.Errorf("last status = %+v, want offline after a graceful stop", st)
	}
	if testing.Verbose() {
		t.Log(logs.String())
	}
}

// The broker is down while sessions churn; when it returns every event
// arrives, and every seq is either received or was coalesced.
func TestBrokerOutageLosesNothing(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	const n = 30
	addUsers(t, router, "o", n)
	var mu sync.Mutex
	var coalesced []uint64
	cfg := testConfig(t, router, br.url(), nil)
	cfg.OutboxMaxEvents = 40
	cfg.CountersInterval = 100 * time.Millisecond
	cfg.OnCoalesce = func(s []uint64) {
		mu.Lock()
		coalesced = append(coalesced, s...)
		mu.Unlock()
	}
	a := startAgent(t, cfg)
	waitReady(t, a, rcv)

	ids := map[string]string{}
	login := func(i int) {
		t.Helper()
		u := fmt.Sprintf("o-h-%d", i)
		id, err := router.LoginHotspot(u, mac(i), ip(i))
		if err != nil {
			t.Fatal(err)
		}
		ids[u] = id
		u = fmt.Sprintf("o-p-%d", i)
		if id, err = router.LoginPPP(u, mac(500+i), ip(500+i)); err != nil {
			t.Fatal(err)
		}
		ids[u] = id
	}
	for i := range 5 {
		login(i)
	}
	testkit.Eventually(t, 10*time.Second, "the first logins", func() bool { return len(rcv.ofType(protocol.EventSessionStarted)) == 10 })

	br.stop()
	testkit.Eventually(t, 10*time.Second, "the agent to notice the broker is gone", func() bool { return !a.Status(context.Background()).MQTTConnected })
	loggedOut := 0
	for i := 5; i < n; i++ {
		login(i)
		router.Tick() // traffic: counters change, updates pile up
		if i%4 == 0 {
			for _, u := range []string{fmt.Sprintf("o-h-%d", i-3), fmt.Sprintf("o-p-%d", i-2)} {
				if err := router.Logout(ids[u]); err != nil {
					t.Fatal(err)
				}
				loggedOut++
			}
		}
		// One round at a time: the agent has seen this round's logins and
		// logouts before the next.
		testkit.Eventually(t, 10*time.Second, fmt.Sprintf("the agent to track the router's sessions after round %d", i), func() bool {
			return a.Status(context.Background()).Router.Sessions == len(router.HotspotActive())+len(router.PPPActive())
		})
	}
	testkit.Eventually(t, 10*time.Second, "the outbox to coalesce while offline", func() bool {
		router.Tick()
		mu.Lock()
		defer mu.Unlock()
		return len(coalesced) > 0
	})
	testkit.Eventually(t, 10*time.Second, "the outage's events in the outbox", func() bool {
		return len(rcv.ofType(protocol.EventSessionEnded)) == 0 && a.Status(context.Background()).Outbox.Depth > 0
	})

	startBroker(t, br.addr, rcv)
	testkit.Eventually(t, 20*time.Second, "the outbox to drain after the broker returned", func() bool {
		s := a.Status(context.Background())
		return s.MQTTConnected && s.Outbox.Depth == 0 && len(rcv.ofType(protocol.EventSessionEnded)) == loggedOut
	})
	a.stop(t)

	last := a.Status(context.Background()).Outbox.LastSeq
	got := map[uint64]bool{}
	for _, e := range rcv.events() {
		got[e.Seq] = true
	}
	mu.Lock()
	for _, s := range coalesced {
		if got[s] {
			continue // published before it was coalesced: harmless
		}
		got[s] = true
	}
	mu.Unlock()
	for s := uint64(1); s <= last; s++ {
		if !got[s] {
			t.Fatalf("seq %d neither received nor coalesced (last seq %d)", s, last)
		}
	}
	started, ended := keyCount(rcv.events())
	if len(started) != 2*n {
		t.Errorf("%d sessions started, want %d", len(started), 2*n)
	}
	for k, c := range started {
		if c != 1 {
			t.Errorf("session %s started %d times", k, c)
		}
	}
	for k, c := range ended {
		if c != 1 || started[k] != 1 {
			t.Errorf("session %s ended %d times (started %d)", k, c, started[k])
		}
	}
	if len(ended) != loggedOut {
		t.Errorf("%d sessions ended, want %d", len(ended), loggedOut)
	}
	rcv.checkClean(t)
}

// The simulator drops the API connections and comes back with sessions
// changed: the agent resyncs and ends the vanished ones with
// vanished-on-resync, without touching the survivors.
func TestRouterDropResyncsVanishedSessions(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	addUsers(t, router, "d", 6)
	a := startAgent(t, testConfig(t, router, br.url(), nil))
	waitReady(t, a, rcv)
	ids := map[string]string{}
	for i := range 4 {
		var err error
		if ids[fmt.Sprintf("h%d", i)], err = router.LoginHotspot(fmt.Sprintf("d-h-%d", i), mac(i), ip(i)); err != nil {
			t.Fatal(err)
		}
		if ids[fmt.Sprintf("p%d", i)], err = router.LoginPPP(fmt.Sprintf("d-p-%d", i), mac(50+i), ip(50+i)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, "8 starts", func() bool { return len(rcv.ofType(protocol.EventSessionStarted)) == 8 })

	// The agent's listens must not see these removals: only a resync can.
	router.SetListenRemovals("/ip/hotspot/active", false)
	router.SetListenRemovals("/ppp/active", false)
	for _, k := range []string{"h0", "h1", "p0"} {
		if err := router.Logout(ids[k]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := router.LoginHotspot("d-h-5", mac(5), ip(5)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the new login", func() bool { return len(rcv.ofType(protocol.EventSessionStarted)) == 9 })
	if n := len(rcv.ofType(protocol.EventSessionEnded)); n != 0 {
		t.Fatalf("%d ends before the resync; the listen should have missed them", n)
	}
	snapshots := len(rcv.ofType(protocol.EventSnapshot))
	router.DropConnections()
	testkit.Eventually(t, 10*time.Second, "three vanished-on-resync ends", func() bool { return len(rcv.ofType(protocol.EventSessionEnded)) == 3 })
	ended := map[string]bool{}
	for _, e := range rcv.ofType(protocol.EventSessionEnded) {
		if e.Reason != protocol.EndVanished {
			t.Errorf("%s ended with %q, want %q", e.Session.User, e.Reason, protocol.EndVanished)
		}
		ended[e.Session.RouterOSID] = true
	}
	for _, k := range []string{"h0", "h1", "p0"} {
		if !ended[ids[k]] {
			t.Errorf("%s (%s) did not end", k, ids[k])
		}
	}
	testkit.Eventually(t, 10*time.Second, "the resync snapshot", func() bool { return len(rcv.ofType(protocol.EventSnapshot)) > snapshots })
	snap := rcv.ofType(protocol.EventSnapshot)
	if last := snap[len(snap)-1].Snapshot; len(last.Sessions) != 6 {
		t.Errorf("resync snapshot lists %d sessions, want 6", len(last.Sessions))
	}

	// A reboot ends everything; nothing tells the listen.
	router.SetListenRemovals("/ip/hotspot/active", true)
	router.SetListenRemovals("/ppp/active", true)
	router.Reboot(300 * time.Millisecond)
	testkit.Eventually(t, 15*time.Second, "every session to end after the reboot", func() bool { return len(rcv.ofType(protocol.EventSessionEnded)) == 9 })
	started, endedKeys := keyCount(rcv.events())
	for k, c := range started {
		if c != 1 || endedKeys[k] != 1 {
			t.Errorf("session %s: started %d, ended %d; want 1 and 1", k, c, endedKeys[k])
		}
	}
	for _, e := range rcv.ofType(protocol.EventSessionEnded) {
		if e.Reason != protocol.EndVanished {
			t.Errorf("%s ended with %q after the reboot, want %q", e.Session.User, e.Reason, protocol.EndVanished)
		}
	}
	rcv.checkClean(t)
}

// Listen misses a removal; the periodic snapshot diff ends the session.
func TestPeriodicDiffCatchesMissedRemoval(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	addUsers(t, router, "m", 3)
	router.SetListenRemovals("/ip/hotspot/active", false)
	cfg := testConfig(t, router, br.url(), nil)
	cfg.ResyncInterval = 300 * time.Millisecond
	a := startAgent(t, cfg)
	waitReady(t, a, rcv)
	var ids []string
	for i := range 3 {
		id, err := router.LoginHotspot(fmt.Sprintf("m-h-%d", i), mac(i), ip(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	testkit.Eventually(t, 10*time.Second, "3 starts", func() bool { return len(rcv.ofType(protocol.EventSessionStarted)) == 3 })
	if err := router.Logout(ids[1]); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the periodic diff to end the session", func() bool { return len(rcv.ofType(protocol.EventSessionEnded)) == 1 })
	e := rcv.ofType(protocol.EventSessionEnded)[0]
	if e.Session.RouterOSID != ids[1] || e.Reason != protocol.EndVanished {
		t.Fatalf("ended %s with %q, want %s with %q", e.Session.RouterOSID, e.Reason, ids[1], protocol.EndVanished)
	}
	// Several more diffs run; none may end or restart the survivors. Rounds
	// never overlap, so once the fifth print since now has reached the
	// router, four rounds have been diffed; their events, if any, are
	// published before the outbox is empty again.
	prints := router.Calls("/ip/hotspot/active/print")
	testkit.Eventually(t, 20*time.Second, "four more periodic diffs", func() bool {
		return router.Calls("/ip/hotspot/active/print") >= prints+5
	})
	waitPublished(t, a, rcv)
	started, ended := keyCount(rcv.events())
	if len(started) != 3 || len(ended) != 1 {
		t.Fatalf("started %v ended %v; want 3 starts and 1 end", started, ended)
	}
	rcv.checkClean(t)
}
