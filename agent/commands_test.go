package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// final waits for a command's final result (succeeded or failed).
func final(t *testing.T, rcv *receiver, id string, dup bool) protocol.CommandResult {
	t.Helper()
	var res protocol.CommandResult
	testkit.Eventually(t, 15*time.Second, "the result of command "+id, func() bool {
		for _, r := range rcv.resultsFor(id) {
			if r.Status != protocol.ResultRunning && r.Duplicate == dup {
				res = r
				return true
			}
		}
		return false
	})
	return res
}

func findRow(rows []map[string]string, key, value string) map[string]string {
	for _, r := range rows {
		if r[key] == value {
			return r
		}
	}
	return nil
}

func TestCommands(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	addUsers(t, router, "c", 3)
	cfg := testConfig(t, router, br.url(), nil)
	cfg.RawAllow = []string{"/system/identity", "/ip/hotspot/user/profile/print", "/ppp/profile/print"}
	a := startAgent(t, cfg)
	waitReady(t, a, rcv)
	yes, no := true, false
	n := 0
	send := func(c protocol.Command) string {
		n++
		c.ID = fmt.Sprintf("cmd-%d", n)
		br.sendCommand(t, c)
		return c.ID
	}

	t.Run("executed once when delivered twice", func(t *testing.T) {
		c := protocol.Command{ID: "dup-1", Kind: protocol.CmdHotspotUserAdd, HotspotUser: &protocol.HotspotUser{Name: "twice", Password: "secret-pw", Comment: "x"}}
		br.sendCommand(t, c)
		br.sendCommand(t, c)
		first := final(t, rcv, "dup-1", false)
		if first.Status != protocol.ResultSucceeded || first.Ret == "" {
			t.Fatalf("first delivery: %+v, want succeeded with ret", first)
		}
		dup := final(t, rcv, "dup-1", true)
		if dup.Status != protocol.ResultSucceeded || dup.Ret != first.Ret {
			t.Fatalf("second delivery: %+v, want the recorded success", dup)
		}
		count := 0
		for _, u := range router.HotspotUsers() {
			if u["name"] == "twice" {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("%d users named twice, want 1", count)
		}
		running := 0
		for _, r := range rcv.resultsFor("dup-1") {
			if r.Status == protocol.ResultRunning {
				running++
			}
		}
		if running != 1 {
			t.Fatalf("%d running reports, want 1", running)
		}
	})

	t.Run("failure carries the RouterOS message", func(t *testing.T) {
		id := send(protocol.Command{Kind: protocol.CmdHotspotUserAdd, HotspotUser: &protocol.HotspotUser{Name: "c-h-0"}})
		res := final(t, rcv, id, false)
		if res.Status != protocol.ResultFailed || res.Code != protocol.CodeRouterError || res.Message != "failure: already have user with this name for this server" {
			t.Fatalf("got %+v, want failed router_error with RouterOS's duplicate message", res)
		}
		id = send(protocol.Command{Kind: protocol.CmdHotspotUserAdd, HotspotUser: &protocol.HotspotUser{Name: "nop", Profile: "no-such-profile"}})
		res = final(t, rcv, id, false)
		if res.Code != protocol.CodeRouterError || !strings.Contains(res.Message, "input does not match any value of profile") {
			t.Fatalf("got %+v, want RouterOS's profile message", res)
		}
	})

	t.Run("raw outside the allow-list is refused", func(t *testing.T) {
		id := send(protocol.Command{Kind: protocol.CmdRaw, Raw: &protocol.RawCommand{Path: "/ip/hotspot/user/remove", Args: []string{"=.id=c-h-1"}}})
		res := final(t, rcv, id, false)
		if res.Status != protocol.ResultFailed || res.Code != protocol.CodeRefused {
			t.Fatalf("got %+v, want refused", res)
		}
		if findRow(router.HotspotUsers(), "name", "c-h-1") == nil {
			t.Fatal("the refused raw command removed the user")
		}
		for _, r := range rcv.resultsFor(id) {
			if r.Status == protocol.ResultRunning {
				t.Fatal("a refused command reported running")
			}
		}
	})

	t.Run("raw inside the allow-list runs", func(t *testing.T) {
		id := send(protocol.Command{Kind: protocol.CmdRaw, Raw: &protocol.RawCommand{Path: "/system/identity/print"}})
		res := final(t, rcv, id, false)
		if res.Status != protocol.ResultSucceeded || len(res.Rows) != 1 || res.Rows[0]["name"] != "hq-core" {
			t.Fatalf("got %+v, want the identity row", res)
		}
	})

	t.Run("expired never runs", func(t *testing.T) {
		now := time.Now().UTC()
		id := send(protocol.Command{Kind: protocol.CmdHotspotUserAdd, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute),
			HotspotUser: &protocol.HotspotUser{Name: "too-late"}})
		res := final(t, rcv, id, false)
		if res.Status != protocol.ResultFailed || res.Code != protocol.CodeExpired {
			t.Fatalf("got %+v, want expired", res)
		}
		if findRow(router.HotspotUsers(), "name", "too-late") != nil {
			t.Fatal("the expired command ran")
		}
	})

	t.Run("invalid command with an id is answered", func(t *testing.T) {
		p := []byte(`{"v":1,"id":"bad-1","router":"` + testRouterID + `","kind":"hotspot.user.add","issued_at":"2025-01-01T00:00:00Z"}`)
		if err := br.srv.Publish(protocol.CmdTopic(testRouterID), p, false, 1); err != nil {
			t.Fatal(err)
		}
		res := final(t, rcv, "bad-1", false)
		if res.Code != protocol.CodeInvalid {
			t.Fatalf("got %+v, want invalid", res)
		}
	})

	// Every typed kind against the simulated menus.
	kinds := []struct {
		name  string
		cmd   protocol.Command
		check func(t *testing.T, res protocol.CommandResult)
	}{
		{"hotspot user add", protocol.Command{Kind: protocol.CmdHotspotUserAdd, HotspotUser: &protocol.HotspotUser{Name: "new-h", Password: "pw1", Comment: "c1", LimitUptime: "1h", Disabled: &no}},
			func(t *testing.T, _ protocol.CommandResult) {
				u := findRow(router.HotspotUsers(), "name", "new-h")
				if u == nil || u["comment"] != "c1" || u["limit-uptime"] != "1h" {
					t.Fatalf("user = %v", u)
				}
			}},
		{"hotspot user set", protocol.Command{Kind: protocol.CmdHotspotUserSet, HotspotUser: &protocol.HotspotUser{Name: "new-h", Comment: "c2"}},
			func(t *testing.T, _ protocol.CommandResult) {
				if u := findRow(router.HotspotUsers(), "name", "new-h"); u["comment"] != "c2" || u["limit-uptime"] != "1h" {
					t.Fatalf("user = %v, want comment c2 and limit-uptime kept", u)
				}
			}},
		{"hotspot user disable", protocol.Command{Kind: protocol.CmdHotspotUserDisable, HotspotUser: &protocol.HotspotUser{Name: "new-h"}},
			func(t *testing.T, _ protocol.CommandResult) {
				if u := findRow(router.HotspotUsers(), "name", "new-h"); u["disabled"] != "true" {
					t.Fatalf("user = %v, want disabled", u)
				}
			}},
		{"hotspot user enable", protocol.Command{Kind: protocol.CmdHotspotUserEnable, HotspotUser: &protocol.HotspotUser{Name: "new-h"}},
			func(t *testing.T, _ protocol.CommandResult) {
				if u := findRow(router.HotspotUsers(), "name", "new-h"); u["disabled"] != "false" {
					t.Fatalf("user = %v, want enabled", u)
				}
			}},
		{"hotspot user remove", protocol.Command{Kind: protocol.CmdHotspotUserRemove, HotspotUser: &protocol.HotspotUser{Name: "new-h"}},
			func(t *testing.T, _ protocol.CommandResult) {
				if u := findRow(router.HotspotUsers(), "name", "new-h"); u != nil {
					t.Fatalf("user still there: %v", u)
				}
			}},
		{"hotspot user remove missing", protocol.Command{Kind: protocol.CmdHotspotUserRemove, HotspotUser: &protocol.HotspotUser{Name: "new-h"}},
			func(t *testing.T, res protocol.CommandResult) {
				if res.Status != protocol.ResultFailed || res.Code != protocol.CodeRouterError {
					t.Fatalf("got %+v, want failed", res)
				}
			}},
		{"ppp secret add", protocol.Command{Kind: protocol.CmdPPPSecretAdd, PPPSecret: &protocol.PPPSecret{Name: "new-p", Password: "pw2", RemoteAddress: "10.9.9.9"}},
			func(t *testing.T, _ protocol.CommandResult) {
				s := findRow(router.PPPSecrets(), "name", "new-p")
				if s == nil || s["service"] != "pppoe" || s["remote-address"] != "10.9.9.9" {
					t.Fatalf("secret = %v", s)
				}
			}},
		{"ppp secret set", protocol.Command{Kind: protocol.CmdPPPSecretSet, PPPSecret: &protocol.PPPSecret{Name: "new-p", Comment: "moved", Disabled: &yes}},
			func(t *testing.T, _ protocol.CommandResult) {
				if s := findRow(router.PPPSecrets(), "name", "new-p"); s["comment"] != "moved" || s["disabled"] != "true" {
					t.Fatalf("secret = %v", s)
				}
			}},
		{"ppp secret enable", protocol.Command{Kind: protocol.CmdPPPSecretEnable, PPPSecret: &protocol.PPPSecret{Name: "new-p"}},
			func(t *testing.T, _ protocol.CommandResult) {
				if s := findRow(router.PPPSecrets(), "name", "new-p"); s["disabled"] != "false" {
					t.Fatalf("secret = %v", s)
				}
			}},
		{"ppp secret disable", protocol.Command{Kind: protocol.CmdPPPSecretDisable, PPPSecret: &protocol.PPPSecret{Name: "new-p"}},
			func(t *testing.T, _ protocol.CommandResult) {
				if s := findRow(router.PPPSecrets(), "name", "new-p"); s["disabled"] != "true" {
					t.Fatalf("secret = %v", s)
				}
			}},
		{"ppp secret remove", protocol.Command{Kind: protocol.CmdPPPSecretRemove, PPPSecret: &protocol.PPPSecret{Name: "new-p"}},
			func(t *testing.T, _ protocol.CommandResult) {
				if s := findRow(router.PPPSecrets(), "name", "new-p"); s != nil {
					t.Fatalf("secret still there: %v", s)
				}
			}},
		{"hotspot profile rate limit", protocol.Command{Kind: protocol.CmdHotspotProfileLimit, Profile: &protocol.ProfileRate{Name: "default", RateLimit: "512k/2M"}},
			func(t *testing.T, _ protocol.CommandResult) {
				res := final(t, rcv, sendRaw(t, br, &n, "/ip/hotspot/user/profile/print"), false)
				if p := findRow(res.Rows, "name", "default"); p["rate-limit"] != "512k/2M" {
					t.Fatalf("profile = %v", p)
				}
			}},
		{"ppp profile rate limit", protocol.Command{Kind: protocol.CmdPPPProfileLimit, Profile: &protocol.ProfileRate{Name: "default", RateLimit: "1M/4M"}},
			func(t *testing.T, _ protocol.CommandResult) {
				res := final(t, rcv, sendRaw(t, br, &n, "/ppp/profile/print"), false)
				if p := findRow(res.Rows, "name", "default"); p["rate-limit"] != "1M/4M" {
					t.Fatalf("profile = %v", p)
				}
			}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			id := send(k.cmd)
			res := final(t, rcv, id, false)
			if res.Status != protocol.ResultSucceeded && k.name != "hotspot user remove missing" {
				t.Fatalf("got %+v, want succeeded", res)
			}
			k.check(t, res)
		})
	}

	t.Run("kicks end sessions with reason kicked", func(t *testing.T) {
		h0, err := router.LoginHotspot("c-h-0", mac(1), ip(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := router.LoginHotspot("c-h-1", mac(2), ip(2)); err != nil {
			t.Fatal(err)
		}
		p0, err := router.LoginPPP("c-p-0", mac(3), ip(3))
		if err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "3 starts", func() bool { return len(rcv.ofType(protocol.EventSessionStarted)) == 3 })
		var key string
		for _, e := range rcv.ofType(protocol.EventSessionStarted) {
			if e.Session.RouterOSID == h0 {
				key = e.Session.Key
			}
		}
		for _, k := range []protocol.Command{
			{Kind: protocol.CmdHotspotActiveKick, Kick: &protocol.Kick{Key: key}},
			{Kind: protocol.CmdHotspotActiveKick, Kick: &protocol.Kick{User: "c-h-1"}},
			{Kind: protocol.CmdPPPActiveKick, Kick: &protocol.Kick{RouterOSID: p0}},
		} {
			if res := final(t, rcv, send(k), false); res.Status != protocol.ResultSucceeded {
				t.Fatalf("kick %+v: %+v", k.Kick, res)
			}
		}
		testkit.Eventually(t, 10*time.Second, "3 ends", func() bool { return len(rcv.ofType(protocol.EventSessionEnded)) == 3 })
		for _, e := range rcv.ofType(protocol.EventSessionEnded) {
			if e.Reason != protocol.EndKicked {
				t.Errorf("%s ended with %q, want kicked", e.Session.User, e.Reason)
			}
		}
		if len(router.HotspotActive())+len(router.PPPActive()) != 0 {
			t.Fatal("sessions left after the kicks")
		}
		res := final(t, rcv, send(protocol.Command{Kind: protocol.CmdHotspotActiveKick, Kick: &protocol.Kick{Key: key}}), false)
		if res.Status != protocol.ResultFailed {
			t.Fatalf("kick of a gone session: %+v, want failed", res)
		}
	})

	t.Run("resync sends a snapshot", func(t *testing.T) {
		before := len(rcv.ofType(protocol.EventSnapshot))
		if res := final(t, rcv, send(protocol.Command{Kind: protocol.CmdResync}), false); res.Status != protocol.ResultSucceeded {
			t.Fatalf("resync: %+v", res)
		}
		testkit.Eventually(t, 10*time.Second, "a new snapshot", func() bool { return len(rcv.ofType(protocol.EventSnapshot)) > before })
	})

	t.Run("redelivery after a restart is answered from the record", func(t *testing.T) {
		a.stop(t)
		a2 := startAgent(t, cfg)
		testkit.Eventually(t, 20*time.Second, "the restarted agent", func() bool {
			s := a2.Status(context.Background())
			return s.Router.Connected && s.MQTTConnected
		})
		br.sendCommand(t, protocol.Command{ID: "dup-1", Kind: protocol.CmdHotspotUserAdd, HotspotUser: &protocol.HotspotUser{Name: "twice"}})
		testkit.Eventually(t, 10*time.Second, "a second duplicate answer", func() bool {
			d := 0
			for _, r := range rcv.resultsFor("dup-1") {
				if r.Duplicate && r.Status == protocol.ResultSucceeded {
					d++
				}
			}
			return d == 2
		})
		recent := a2.Status(context.Background()).RecentCommands
		if len(recent) == 0 {
			t.Fatal("no recent commands in /status")
		}
	})
	rcv.checkClean(t)
}

func sendRaw(t *testing.T, br *testBroker, n *int, path string) string {
	t.Helper()
	*n++
	id := fmt.Sprintf("raw-%d", *n)
	br.sendCommand(t, protocol.Command{ID: id, Kind: protocol.CmdRaw, Raw: &protocol.RawCommand{Path: path}})
	return id
}
