package agent_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

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
func TestRadiusWithSimulatedRouter(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	cp := newRadiusCP(t, br)
	router := startSim(t, sim.Config{})
	api, err := routeros.Dial(router.Addr(), testAPIUser, testAPIPass)
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
	testkit.Eventually(t, 5*time.Second, "/radius incoming listening", func() bool { return router.RadiusIncomingAddr() != "" })

	cfg := radiusTestConfig(t, router, br.url(), nil)
	cfg.RadiusCoAAddr = router.RadiusIncomingAddr()
	a := startAgent(t, cfg)
	waitReady(t, a, rcv)
	var auth, acct net.Addr
	testkit.Eventually(t, 10*time.Second, "radius listening", func() bool {
		auth, acct = a.RadiusAddrs()
		return auth != nil && acct != nil
	})
	port := func(ad net.Addr) string { return strconv.Itoa(ad.(*net.UDPAddr).Port) }
	run("/radius/add", "=service=hotspot,ppp", "=address=127.0.0.1", "=secret="+testRadiusSecret,
		"=authentication-port="+port(auth), "=accounting-port="+port(acct), "=timeout=1s")
	run("/ip/hotspot/profile/set", "=numbers=hsprof1", "=use-radius=yes")

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
