package agent_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

func latestUpdate(rcv *receiver, rosID string) *protocol.Session {
	var s *protocol.Session
	for _, e := range rcv.ofType(protocol.EventSessionUpdated) {
		if e.Session.RouterOSID == rosID {
			s = e.Session
		}
	}
	return s
}

// Counters arrive as absolute session.updated (hotspot from the active
// list, PPP from its <pppoe-NAME> interface); resources and the retained
// status carry the router's identity; the local endpoints answer.
func TestCountersResourcesAndStatus(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	addUsers(t, router, "r", 1)
	a := startAgent(t, testConfig(t, router, br.url(), nil))
	waitReady(t, a, rcv)
	h, err := router.LoginHotspot("r-h-0", mac(1), ip(1))
	if err != nil {
		t.Fatal(err)
	}
	p, err := router.LoginPPP("r-p-0", mac(2), ip(2))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		router.Tick()
	}
	hs := findRow(router.HotspotActive(), ".id", h)
	ifc := findRow(router.Interfaces(), "name", "<pppoe-r-p-0>")
	if hs == nil || ifc == nil {
		t.Fatal("sessions missing in the simulator")
	}
	testkit.Eventually(t, 10*time.Second, "counters equal to the router's", func() bool {
		hu, pu := latestUpdate(rcv, h), latestUpdate(rcv, p)
		return hu != nil && pu != nil &&
			formatU(hu.BytesIn) == hs["bytes-in"] && formatU(hu.BytesOut) == hs["bytes-out"] && formatU(hu.PacketsIn) == hs["packets-in"] &&
			formatU(pu.BytesIn) == ifc["rx-byte"] && formatU(pu.BytesOut) == ifc["tx-byte"]
	})
	if pu := latestUpdate(rcv, p); pu.BytesIn == 0 {
		t.Fatal("ppp counters are zero after traffic")
	}

	res := rcv.ofType(protocol.EventRouterResources)
	if len(res) == 0 {
		t.Fatal("no router.resources event")
	}
	r := res[len(res)-1].Resources
	if r.Identity != "hq-core" || r.Version == "" || r.Board == "" || r.TotalMemory == 0 {
		t.Fatalf("resources = %+v", r)
	}
	testkit.Eventually(t, 10*time.Second, "an online status with resources", func() bool {
		st, ok := rcv.lastStatus()
		return ok && st.State == protocol.StateOnline && st.RouterConnected && st.Resources != nil && st.Resources.Identity == "hq-core" && st.AgentVersion == "test"
	})

	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	code, body := get("/metrics")
	for _, m := range []string{"sitepulse_agent_events_published_total", "sitepulse_agent_outbox_depth", "sitepulse_agent_router_reconnects_total", "sitepulse_agent_publish_latency_seconds", `sitepulse_agent_events_recorded_total{type="session.started"} 2`} {
		if code != 200 || !strings.Contains(body, m) {
			t.Fatalf("/metrics lacks %s:\n%s", m, body)
		}
	}
	code, body = get("/status")
	var st agent.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("/status = %d %v\n%s", code, err, body)
	}
	if !st.Router.Connected || !st.MQTTConnected || st.Router.Sessions != 2 || st.Outbox.LastSeq == 0 || st.RouterID != testRouterID {
		t.Fatalf("/status = %+v", st)
	}
	rcv.checkClean(t)
}

// wholeUptimes returns the router's active sessions' uptimes in whole
// seconds, by .id.
func wholeUptimes(router *sim.Router) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, r := range append(router.HotspotActive(), router.PPPActive()...) {
		out[r[".id"]] = agent.ParseDuration(r["uptime"]).Truncate(time.Second)
	}
	return out
}

func formatU(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A restart with the same data dir diffs against the persisted state: the
// survivors keep their keys and produce no start or end, a session that
// ended meanwhile ends with vanished-on-resync, a new one starts.
func TestRestartKeepsSessionIdentity(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	addUsers(t, router, "x", 4)
	cfg := testConfig(t, router, br.url(), nil)
	a := startAgent(t, cfg)
	waitReady(t, a, rcv)
	var ids []string
	for i := range 3 {
		id, err := router.LoginHotspot(fmt.Sprint("x-h-", i), mac(i), ip(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	pid, err := router.LoginPPP("x-p-0", mac(9), ip(9))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "4 starts", func() bool { return len(rcv.ofType(protocol.EventSessionStarted)) == 4 })
	a.stop(t)
	stopped := wholeUptimes(router)

	if err := router.Logout(ids[0]); err != nil {
		t.Fatal(err)
	}
	newID, err := router.LoginHotspot("x-h-3", mac(3), ip(3))
	if err != nil {
		t.Fatal(err)
	}
	// Let uptimes move past a second boundary so now-uptime is recomputed
	// with different rounding.
	testkit.Eventually(t, 10*time.Second, "every uptime past a second boundary", func() bool {
		now := wholeUptimes(router)
		for id, up := range stopped {
			if _, ok := now[id]; ok && now[id] <= up {
				return false
			}
		}
		return true
	})
	snaps := len(rcv.ofType(protocol.EventSnapshot))
	startAgent(t, cfg)
	testkit.Eventually(t, 20*time.Second, "the restarted agent's snapshot", func() bool { return len(rcv.ofType(protocol.EventSnapshot)) > snaps })
	started, ended := keyCount(rcv.events())
	if len(started) != 5 {
		t.Errorf("%d distinct sessions started, want 5: %v", len(started), started)
	}
	for k, c := range started {
		if c != 1 {
			t.Errorf("%s started %d times", k, c)
		}
	}
	if len(ended) != 1 {
		t.Fatalf("ended = %v, want only %s", ended, ids[0])
	}
	for _, e := range rcv.ofType(protocol.EventSessionEnded) {
		if e.Session.RouterOSID != ids[0] || e.Reason != protocol.EndVanished {
			t.Errorf("ended %s with %q, want %s vanished", e.Session.RouterOSID, e.Reason, ids[0])
		}
	}
	snap := rcv.ofType(protocol.EventSnapshot)
	last := snap[len(snap)-1].Snapshot
	inSnap := map[string]string{}
	for _, s := range last.Sessions {
		inSnap[s.RouterOSID] = s.Key
	}
	for _, e := range rcv.ofType(protocol.EventSessionStarted) {
		id := e.Session.RouterOSID
		if id == ids[0] {
			continue
		}
		if inSnap[id] != e.Session.Key {
			t.Errorf("session %s: snapshot key %q, start key %q", id, inSnap[id], e.Session.Key)
		}
	}
	if _, ok := inSnap[newID]; !ok || len(inSnap) != 4 || inSnap[pid] == "" {
		t.Errorf("snapshot = %v, want 4 sessions including %s and %s", inSnap, newID, pid)
	}
	rcv.checkClean(t)
}
