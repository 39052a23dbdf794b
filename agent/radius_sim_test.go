package agent_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/agent/radius"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// The simulator as RouterOS's RADIUS client against the agent's real
// server: a login is decided by the synced copy and gets the plan's
// limits, an expired account is refused with the reason on the login
// page, the session is one session at the control plane (API view and
// accounting merged), and a kick from the dashboard arrives as a
// Disconnect-Request that ends it.
// simRadius is a simulated router whose hotspot and PPP ask the agent's
// RADIUS server, and whose /radius incoming takes the agent's
// Disconnect/CoA.
type simRadius struct {
	rcv    *receiver
	br     *testBroker
	cp     *radiusCP
	router *sim.Router
	a      *runningAgent
}

func startSimRadius(t *testing.T) *simRadius {
	t.Helper()
	g := &simRadius{rcv: newReceiver()}
	g.br = startBroker(t, "127.0.0.1:0", g.rcv)
	g.cp = newRadiusCP(t, g.br)
	g.router = startSim(t, sim.Config{})
	api, err := routeros.Dial(g.router.Addr(), testAPIUser, testAPIPass)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	run := func(words ...string) {
		t.Helper()
		if _, err := api.Run(words...); err != nil {
			t.Fatalf("%v: %v", words, err)
		}
	}
	run("/radius/incoming/set", "=accept=yes")
	testkit.Eventually(t, 5*time.Second, "/radius incoming listening", func() bool { return g.router.RadiusIncomingAddr() != "" })

	cfg := radiusTestConfig(t, g.router, g.br.url(), nil)
	cfg.RadiusCoAAddr = g.router.RadiusIncomingAddr()
	g.a = startAgent(t, cfg)
	waitReady(t, g.a, g.rcv)
	var auth, acct net.Addr
	testkit.Eventually(t, 10*time.Second, "radius listening", func() bool {
		auth, acct = g.a.RadiusAddrs()
		return auth != nil && acct != nil
	})
	port := func(ad net.Addr) string { return strconv.Itoa(ad.(*net.UDPAddr).Port) }
	run("/radius/add", "=service=hotspot,ppp", "=address=127.0.0.1", "=secret="+testRadiusSecret,
		"=authentication-port="+port(auth), "=accounting-port="+port(acct), "=timeout=1s")
	run("/ip/hotspot/profile/set", "=numbers=hsprof1", "=use-radius=yes")
	run("/ppp/aaa/set", "=use-radius=yes", "=accounting=yes")
	return g
}

func TestRadiusWithSimulatedRouter(t *testing.T) {
	g := startSimRadius(t)
	rcv, br, cp, router, a := g.rcv, g.br, g.cp, g.router, g.a
	var err error
	cp.send(t, protocol.AuthRadius, 0, 2, 2,
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "cust1", Password: "pw-cust1", Profile: "default", RateLimit: "2M/5M", ExpiresAt: time.Now().Add(time.Hour)},
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "cust2", Password: "pw-cust2", ExpiresAt: time.Now().Add(-time.Hour)},
	)
	testkit.Eventually(t, 10*time.Second, "entries synced", func() bool { v, _ := a.RadiusState(); return v == 2 })
	ctx := context.Background()

	_, err = router.HotspotLogin(ctx, sim.HotspotLoginRequest{User: "cust2", Password: "pw-cust2", MAC: mac(2), IP: ip(2)})
	var le *sim.LoginError
	if !errors.As(err, &le) || le.Message != "expired" {
		t.Fatalf("expired account: %v, want the login page to say expired", err)
	}

	id, err := router.HotspotLogin(ctx, sim.HotspotLoginRequest{User: "cust1", Password: "pw-cust1", MAC: mac(1), IP: ip(1)})
	if err != nil {
		t.Fatal(err)
	}
	var row map[string]string
	for _, r := range router.HotspotActive() {
		if r[".id"] == id {
			row = r
		}
	}
	if row == nil || row["rate-limit"] != "2M/5M" {
		t.Fatalf("active row %v, want the plan's rate limit from the Access-Accept", row)
	}
	testkit.Eventually(t, 10*time.Second, "the session at the control plane with its Acct-Session-Id", func() bool {
		for _, e := range rcv.events() {
			if e.Session != nil && e.Session.User == "cust1" && e.Session.AcctSessionID != "" {
				return true
			}
		}
		return false
	})

	br.sendCommand(t, protocol.Command{ID: "sim-kick", Kind: protocol.CmdHotspotActiveKick, Kick: &protocol.Kick{User: "cust1"}})
	if res := final(t, rcv, "sim-kick", false); res.Status != protocol.ResultSucceeded {
		t.Fatalf("kick: %+v", res)
	}
	testkit.Eventually(t, 10*time.Second, "the session gone from the router", func() bool {
		for _, r := range router.HotspotActive() {
			if r[".id"] == id {
				return false
			}
		}
		return true
	})
	testkit.Eventually(t, 10*time.Second, "its end at the control plane", func() bool {
		return len(rcv.ofType(protocol.EventSessionEnded)) > 0
	})
	// Both views have reported by now (the Stop is acknowledged only once
	// durable; the API's removal comes by listen): give a second view the
	// chance to add a duplicate before counting.
	testkit.Never(t, time.Second, "a second start or end", func() bool {
		started, ended := keyCount(rcv.events())
		return len(started) > 1 || len(ended) > 1
	})
	waitPublished(t, a, rcv)
	started, ended := keyCount(rcv.events())
	if len(started) != 1 || len(ended) != 1 {
		t.Fatalf("started %v, ended %v: want one session, started and ended once", started, ended)
	}
	for _, e := range rcv.ofType(protocol.EventSessionEnded) {
		if e.Reason != protocol.EndKicked {
			t.Fatalf("end reason %s, want kicked", e.Reason)
		}
	}
	if router.Calls("/ip/hotspot/active/remove") != 0 {
		t.Fatal("the kick went over the API, not RADIUS")
	}
	rcv.checkClean(t)
	cp.checkClean(t)
}

// With the MQTT link cut, customers still log in (hotspot CHAP and PPPoE
// MS-CHAPv2 from the synced NT hash) and accounting is buffered in the
// outbox; on return every event arrives once.
func TestRadiusOfflineWithSimulatedRouter(t *testing.T) {
	g := startSimRadius(t)
	ctx := context.Background()
	nt := radius.NTHash("pw-pp1")
	g.cp.send(t, protocol.AuthRadius, 0, 2, 2,
		protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "cust1", Password: "pw-cust1", RateLimit: "2M/5M"},
		protocol.RadiusEntry{Kind: protocol.KindPPPoE, Name: "pp1", NTHash: hex.EncodeToString(nt[:]), RateLimit: "10M/10M"},
	)
	testkit.Eventually(t, 10*time.Second, "entries synced", func() bool { v, _ := g.a.RadiusState(); return v == 2 })

	g.br.stop()
	testkit.Eventually(t, 10*time.Second, "mqtt down", func() bool { return !g.a.Status(ctx).MQTTConnected })
	hs, err := g.router.HotspotLogin(ctx, sim.HotspotLoginRequest{User: "cust1", Password: "pw-cust1", MAC: mac(1), IP: ip(1)})
	if err != nil {
		t.Fatalf("hotspot login while the cloud is unreachable: %v", err)
	}
	if _, err := g.router.DialPPPoE(ctx, "pp1", "pw-pp1", mac(2), ip(2)); err != nil {
		t.Fatalf("PPPoE dial while the cloud is unreachable: %v", err)
	}
	if _, err := g.router.DialPPPoE(ctx, "pp1", "wrong", mac(3), ip(3)); err == nil {
		t.Fatal("a wrong PPP password got in")
	}
	if err := g.router.LogoutUser(hs); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "events buffered", func() bool {
		st := g.a.Status(ctx)
		return st.Outbox.Depth >= 3
	})

	startBroker(t, g.br.addr, g.rcv)
	testkit.Eventually(t, 20*time.Second, "the outbox drained", func() bool {
		st := g.a.Status(ctx)
		return st.MQTTConnected && st.Outbox.Depth == 0
	})
	waitPublished(t, g.a, g.rcv)
	started, ended := keyCount(g.rcv.events())
	var hsKey, pppKey string
	for k := range started {
		switch {
		case strings.HasPrefix(k, "hotspot:cust1|"):
			hsKey = k
		case strings.HasPrefix(k, "pppoe:pp1|"):
			pppKey = k
		}
	}
	if len(started) != 2 || started[hsKey] != 1 || started[pppKey] != 1 {
		t.Fatalf("started %v, want the hotspot and the PPP session once each", started)
	}
	if len(ended) != 1 || ended[hsKey] != 1 {
		t.Fatalf("ended %v, want the hotspot session once", ended)
	}
	for _, e := range g.rcv.ofType(protocol.EventSessionEnded) {
		if e.Reason != protocol.EndLogout {
			t.Fatalf("end reason %s, want logout", e.Reason)
		}
	}
	g.rcv.checkClean(t)
}
