package agent_test

import (
	"fmt"
	"testing"

	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// TestProfileCommands runs the typed profile commands through the agent
// against the simulator with the real go-routeros client, including the
// idempotent cases: add of an existing profile, set of a missing one,
// remove of a missing one.
func TestProfileCommands(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	a := startAgent(t, testConfig(t, router, br.url(), nil))
	waitReady(t, a, rcv)
	n := 0
	run := func(t *testing.T, kind protocol.CommandKind, spec protocol.ProfileSpec) protocol.CommandResult {
		t.Helper()
		n++
		id := fmt.Sprintf("prof-%d", n)
		br.sendCommand(t, protocol.Command{ID: id, Kind: kind, ProfileSpec: &spec})
		return final(t, rcv, id, false)
	}
	succeed := func(t *testing.T, kind protocol.CommandKind, spec protocol.ProfileSpec) protocol.CommandResult {
		t.Helper()
		res := run(t, kind, spec)
		if res.Status != protocol.ResultSucceeded {
			t.Fatalf("%s %s: %+v, want succeeded", kind, spec.Name, res)
		}
		return res
	}
	count := func(rows []map[string]string, name string) int {
		c := 0
		for _, r := range rows {
			if r["name"] == name {
				c++
			}
		}
		return c
	}
	yes, no := true, false

	t.Run("hotspot", func(t *testing.T) {
		add := protocol.ProfileSpec{Name: "daily-5M", RateLimit: "2M/5M", SessionTimeout: "1d", IdleTimeout: "15m", SharedUsers: 2}
		first := succeed(t, protocol.CmdHotspotProfileAdd, add)
		if first.Ret == "" {
			t.Fatalf("add: no ret in %+v", first)
		}
		p := findRow(router.HotspotProfiles(), "name", "daily-5M")
		for k, want := range map[string]string{".id": first.Ret, "rate-limit": "2M/5M", "session-timeout": "1d", "idle-timeout": "15m", "shared-users": "2"} {
			if p[k] != want {
				t.Errorf("after add: %s = %q, want %q", k, p[k], want)
			}
		}

		// Add again (an earlier attempt's result was lost, say) with a new
		// rate: one profile, carrying the new values, same .id.
		add.RateLimit = "4M/10M"
		again := succeed(t, protocol.CmdHotspotProfileAdd, add)
		if again.Ret != first.Ret {
			t.Errorf("second add ret = %q, want the existing %q", again.Ret, first.Ret)
		}
		if c := count(router.HotspotProfiles(), "daily-5M"); c != 1 {
			t.Fatalf("%d profiles named daily-5M after adding twice, want 1", c)
		}
		if got := findRow(router.HotspotProfiles(), "name", "daily-5M")["rate-limit"]; got != "4M/10M" {
			t.Errorf("rate-limit after the second add = %q, want 4M/10M", got)
		}

		// Set changes only what it carries; "0s" clears the timeout.
		succeed(t, protocol.CmdHotspotProfileSet, protocol.ProfileSpec{Name: "daily-5M", SessionTimeout: "0s"})
		p = findRow(router.HotspotProfiles(), "name", "daily-5M")
		if p["session-timeout"] != "0s" || p["rate-limit"] != "4M/10M" || p["shared-users"] != "2" {
			t.Errorf("after set: %v, want session-timeout 0s and the rest unchanged", p)
		}

		// Set of a missing profile creates it.
		res := succeed(t, protocol.CmdHotspotProfileSet, protocol.ProfileSpec{Name: "weekly", RateLimit: "1M/2M"})
		if p := findRow(router.HotspotProfiles(), "name", "weekly"); p == nil || p["rate-limit"] != "1M/2M" || p[".id"] != res.Ret || p["shared-users"] != "1" {
			t.Errorf("set of a missing profile: %v (ret %q), want it added with shared-users 1", p, res.Ret)
		}

		// A profile a user still names is refused with the router's text;
		// once free it goes, and removing it again succeeds.
		if err := router.AddHotspotUser("alice", "pw", "weekly"); err != nil {
			t.Fatal(err)
		}
		res = run(t, protocol.CmdHotspotProfileRemove, protocol.ProfileSpec{Name: "weekly"})
		if res.Status != protocol.ResultFailed || res.Code != protocol.CodeRouterError || res.Message != "failure: profile weekly is in use" {
			t.Errorf("remove in use: %+v, want router_error", res)
		}
		succeed(t, protocol.CmdHotspotProfileRemove, protocol.ProfileSpec{Name: "daily-5M"})
		succeed(t, protocol.CmdHotspotProfileRemove, protocol.ProfileSpec{Name: "daily-5M"})
		if c := count(router.HotspotProfiles(), "daily-5M"); c != 0 {
			t.Errorf("%d profiles named daily-5M after remove", c)
		}
		if router.Calls("/ip/hotspot/user/profile/remove") != 2 {
			t.Errorf("remove ran %d times on the router, want 2 (in use, then daily-5M; the missing one runs none)", router.Calls("/ip/hotspot/user/profile/remove"))
		}

		// A customer of a profile the agent made can log in on it.
		succeed(t, protocol.CmdHotspotProfileAdd, protocol.ProfileSpec{Name: "one-device", SharedUsers: 1})
		if err := router.AddHotspotUser("bob", "pw", "one-device"); err != nil {
			t.Fatal(err)
		}
		if _, err := router.LoginHotspotPassword("bob", "pw", "02:00:00:00:01:01", "10.5.50.10"); err != nil {
			t.Fatal(err)
		}
		if _, err := router.LoginHotspotPassword("bob", "pw", "02:00:00:00:01:02", "10.5.50.11"); err == nil {
			t.Error("second device logged in on a shared-users=1 profile")
		}
	})

	t.Run("ppp", func(t *testing.T) {
		spec := protocol.ProfileSpec{Name: "home-20M", RateLimit: "10M/20M", SessionTimeout: "30d", LocalAddress: "100.64.0.1",
			RemoteAddress: "pppoe-pool", OnlyOne: &yes, Comment: "plan 9"}
		succeed(t, protocol.CmdPPPProfileAdd, spec)
		succeed(t, protocol.CmdPPPProfileAdd, spec)
		if c := count(router.PPPProfiles(), "home-20M"); c != 1 {
			t.Fatalf("%d ppp profiles named home-20M after adding twice, want 1", c)
		}
		p := findRow(router.PPPProfiles(), "name", "home-20M")
		for k, want := range map[string]string{"rate-limit": "10M/20M", "session-timeout": "30d", "local-address": "100.64.0.1",
			"remote-address": "pppoe-pool", "only-one": "yes", "comment": "plan 9"} {
			if p[k] != want {
				t.Errorf("after add: %s = %q, want %q", k, p[k], want)
			}
		}
		succeed(t, protocol.CmdPPPProfileSet, protocol.ProfileSpec{Name: "home-20M", RateLimit: "0/0", OnlyOne: &no})
		p = findRow(router.PPPProfiles(), "name", "home-20M")
		if p["rate-limit"] != "0/0" || p["only-one"] != "no" || p["local-address"] != "100.64.0.1" {
			t.Errorf("after set: %v", p)
		}
		succeed(t, protocol.CmdPPPProfileSet, protocol.ProfileSpec{Name: "biz-50M", RateLimit: "50M/50M"})
		if findRow(router.PPPProfiles(), "name", "biz-50M") == nil {
			t.Error("set of a missing ppp profile did not add it")
		}
		succeed(t, protocol.CmdPPPProfileRemove, protocol.ProfileSpec{Name: "home-20M"})
		succeed(t, protocol.CmdPPPProfileRemove, protocol.ProfileSpec{Name: "never-there"})
		if findRow(router.PPPProfiles(), "name", "home-20M") != nil {
			t.Error("home-20M still there after remove")
		}
		if findRow(router.PPPProfiles(), "name", "default") == nil || findRow(router.PPPProfiles(), "name", "default-encryption") == nil {
			t.Error("a default profile went missing")
		}
	})
}
