// This test runs the ten-minute cut in full (about 12 minutes of
// mostly waiting; its package runs beside the others in CI).
// SITEPULSE_RADIUS_OUTAGE shortens it for a local run:
//
//	SITEPULSE_RADIUS_OUTAGE=40s go test -run TestLoginsThroughACloudOutage ./e2e/radius/

package radius

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// outage is how long the agent's MQTT link stays cut: the 10
// minutes unless SITEPULSE_RADIUS_OUTAGE says otherwise (a shorter value
// for a quick local run; CI uses the default).
func outage(t *testing.T) time.Duration {
	if v := os.Getenv("SITEPULSE_RADIUS_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("SITEPULSE_RADIUS_OUTAGE=%q: want a duration of at least 10s", v)
		}
		return d
	}
	return 10 * time.Minute
}

// TestLoginsThroughACloudOutage cuts the agent's MQTT link (a proxy that
// holds the connection and forwards nothing, as a dead uplink does) for
// ten minutes while customers log in, use the link, log out and get
// kicked at the router. Every login of a synced account is accepted from
// the agent's copy, every accounting record is answered by the agent (the
// router has none pending), and on return the cloud's live sessions equal
// the router's and its history has each ended session exactly once.
func TestLoginsThroughACloudOutage(t *testing.T) {
	t.Parallel()
	down := outage(t)
	c := startCloud(t, 1)
	proxy, err := harness.NewBlackhole(c.srv.MQTTAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	s := c.startSite(0, proxy.Addr())
	c.setAuthMode(s, "radius")
	p := c.createPlan("1 day", "1d", "1M/2M")
	users := []string{"cust-1", "cust-2", "cust-3", "cust-4"}
	for _, u := range users {
		if code := c.call("POST", "/api/v1/accounts", map[string]any{"tenant_id": c.fx.TenantID, "kind": "hotspot", "name": u,
			"password": u + "-pw", "profile": p.Profile, "expires_at": time.Now().Add(6 * time.Hour).UTC(),
			"router_ids": []string{s.routerID}}, nil); code >= 300 {
			t.Fatalf("create account %s: %d", u, code)
		}
	}
	s.synced()
	mac := func(i int) string { return fmt.Sprintf("AA:BB:CC:00:03:%02X", i) }
	ip := func(i int) string { return fmt.Sprintf("10.5.51.%d", 10+i) }
	login := func(i int) string {
		t.Helper()
		r := s.hotspotLogin(users[i], users[i]+"-pw", mac(i), ip(i), "chap")
		if !r.OK {
			t.Fatalf("login %s: %+v", users[i], r)
		}
		return r.ID
	}
	first := login(0)
	second := login(1)
	testkit.Eventually(t, 20*time.Second, "both sessions in the cloud", func() bool { return len(c.liveSessions(s.routerID)) == 2 })

	proxy.SetCut(true)
	testkit.Eventually(t, 2*time.Minute, "the cloud sees the agent go offline", func() bool {
		var r struct {
			Status string `json:"status"`
		}
		c.call("GET", "/api/v1/routers/"+s.routerID, nil, &r)
		return r.Status == "offline"
	})
	// The outage's timeline, from when the cloud noticed it (the broker's
	// keepalive takes most of a minute): what customers do, at fractions
	// of it.
	cutAt := time.Now()
	at := func(frac float64) {
		if d := time.Until(cutAt.Add(time.Duration(frac * float64(down)))); d > 0 {
			time.Sleep(d)
		}
	}
	at(0.1)
	login(2)
	at(0.3)
	s.logout(first, true)
	at(0.5)
	login(3)
	at(0.7)
	s.logout(second, false) // the router's admin kicks cust-2
	at(0.8)
	login(0)
	at(1)
	// A record sent a moment ago may still be on its way; every one is
	// answered within the router's timeout (3 s), none given up.
	var st map[string]any
	testkit.Eventually(t, 10*time.Second, "every accounting record answered", func() bool {
		st = s.radiusStats()
		return num(st, "acct_pending") == 0
	})
	if num(st, "timeouts") != 0 || num(st, "acct_dropped") != 0 {
		t.Fatalf("the agent left the router without answers during the outage: %v", st)
	}
	if num(st, "acct_answered") < 6 {
		t.Fatalf("accounting during the outage: %v", st)
	}
	proxy.SetCut(false)

	// Back: the cloud's view equals the router's.
	type view struct{ user, mac, addr string }
	routerView := func() []view {
		var v []view
		for _, r := range s.active("/ip/hotspot/active") {
			v = append(v, view{r["user"], r["mac-address"], r["address"]})
		}
		slices.SortFunc(v, func(a, b view) int { return strings.Compare(a.user+a.mac, b.user+b.mac) })
		return v
	}
	cloudView := func() []view {
		var v []view
		for _, r := range c.liveSessions(s.routerID) {
			v = append(v, view{str(r["user"]), str(r["mac"]), str(r["address"])})
		}
		slices.SortFunc(v, func(a, b view) int { return strings.Compare(a.user+a.mac, b.user+b.mac) })
		return v
	}
	testkit.Eventually(t, 2*time.Minute, "the cloud's live sessions equal the router's", func() bool {
		return slices.Equal(routerView(), cloudView()) && len(routerView()) == 3
	})
	var hist struct {
		Data []map[string]any `json:"data"`
	}
	testkit.Eventually(t, 60*time.Second, "both ended sessions in the history", func() bool {
		c.call("GET", "/api/v1/sessions/history?router_id="+s.routerID+"&limit=100", nil, &hist)
		return len(hist.Data) >= 2
	})
	ended := map[string]int{}
	for _, h := range hist.Data {
		ended[str(h["user"])]++
		if num(h, "bytes_in")+num(h, "bytes_out") == 0 {
			t.Errorf("ended session without its traffic: %v", h)
		}
	}
	if len(hist.Data) != 2 || ended["cust-1"] != 1 || ended["cust-2"] != 1 {
		t.Fatalf("history after the outage: %v, want cust-1 and cust-2 once each", hist.Data)
	}
	for _, live := range c.liveSessions(s.routerID) {
		if num(live, "bytes_in")+num(live, "bytes_out") == 0 {
			t.Errorf("live session without its counters: %v", live)
		}
	}
	var status struct {
		Status string `json:"status"`
	}
	c.call("GET", "/api/v1/routers/"+s.routerID, nil, &status)
	if status.Status != "online" {
		t.Fatalf("router %s after the outage", status.Status)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
