package sim_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim"
)

func TestProfileMenus(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")

	// A fresh router's hotspot default profile, with RouterOS's defaults.
	def := one(t, c, "/ip/hotspot/user/profile/print", "?name=default")
	for k, want := range map[string]string{".id": "*0", "shared-users": "1", "idle-timeout": "none", "keepalive-timeout": "2m",
		"status-autorefresh": "1m", "default": "true"} {
		if def[k] != want {
			t.Errorf("hotspot default profile %s = %q, want %q", k, def[k], want)
		}
	}
	ppp := rows(t, c, "/ppp/profile/print", "=.proplist=name,only-one,default")
	if len(ppp) != 2 || ppp[0]["name"] != "default" || ppp[1]["name"] != "default-encryption" || ppp[0]["only-one"] != "default" {
		t.Fatalf("ppp profiles of a fresh router: %v", ppp)
	}

	rows(t, c, "/ip/hotspot/user/profile/add", "=name=daily", "=rate-limit=2M/5M", "=session-timeout=1d", "=shared-users=2")
	got := one(t, c, "/ip/hotspot/user/profile/print", "?name=daily")
	for k, want := range map[string]string{"rate-limit": "2M/5M", "session-timeout": "1d", "shared-users": "2",
		"idle-timeout": "none", "default": "false"} {
		if got[k] != want {
			t.Errorf("added profile %s = %q, want %q", k, got[k], want)
		}
	}
	rows(t, c, "/ip/hotspot/user/profile/set", "=.id="+got[".id"], "=rate-limit=4M/10M")
	if got := one(t, c, "/ip/hotspot/user/profile/print", "?name=daily")["rate-limit"]; got != "4M/10M" {
		t.Errorf("rate-limit after set = %q", got)
	}
	rows(t, c, "/ppp/profile/add", "=name=home", "=rate-limit=10M/20M", "=local-address=100.64.0.1", "=remote-address=pool1", "=only-one=yes",
		"=idle-timeout=1d00:30:00") // RouterOS's clock form is a duration too
	if err := r.AddHotspotUser("alice", "pw", "daily"); err != nil {
		t.Fatal(err)
	}
	if err := r.AddPPPSecret("bob", "pw", "home"); err != nil {
		t.Fatal(err)
	}

	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{
		{"duplicate hotspot profile", []string{"/ip/hotspot/user/profile/add", "=name=daily"}, "failure: profile with the same name already exists"},
		{"duplicate ppp profile", []string{"/ppp/profile/add", "=name=default"}, "failure: profile with the same name already exists"},
		{"set missing", []string{"/ip/hotspot/user/profile/set", "=numbers=ghost", "=rate-limit=1M/1M"}, "no such item"},
		{"remove missing", []string{"/ppp/profile/remove", "=numbers=ghost"}, "no such item"},
		{"remove hotspot default", []string{"/ip/hotspot/user/profile/remove", "=numbers=default"}, "failure: default profile can not be removed"},
		{"remove default-encryption", []string{"/ppp/profile/remove", "=numbers=default-encryption"}, "failure: default profile can not be removed"},
		{"remove hotspot profile in use", []string{"/ip/hotspot/user/profile/remove", "=numbers=daily"}, "failure: profile daily is in use"},
		{"remove ppp profile in use", []string{"/ppp/profile/remove", "=numbers=home"}, "failure: profile home is in use"},
		{"user with unknown profile", []string{"/ip/hotspot/user/add", "=name=carol", "=profile=gold"}, "input does not match any value of profile"},
		{"secret with unknown profile", []string{"/ppp/secret/set", "=numbers=bob", "=profile=gold"}, "input does not match any value of profile"},
		{"shared-users not a number", []string{"/ip/hotspot/user/profile/set", "=numbers=daily", "=shared-users=many"}, "invalid value for argument shared-users"},
		{"session-timeout not a duration", []string{"/ppp/profile/set", "=numbers=home", "=session-timeout=soon"}, "invalid value for argument session-timeout"},
		{"idle-timeout bad clock", []string{"/ppp/profile/set", "=numbers=home", "=idle-timeout=00:75:00"}, "invalid value for argument idle-timeout"},
		{"only-one not an enum", []string{"/ppp/profile/set", "=numbers=home", "=only-one=maybe"}, "input does not match any value of only-one"},
		{"comment on a hotspot profile", []string{"/ip/hotspot/user/profile/set", "=numbers=daily", "=comment=x"}, "unknown parameter comment"},
		{"shared-users on ppp", []string{"/ppp/profile/set", "=numbers=home", "=shared-users=2"}, "unknown parameter shared-users"},
	})

	// Once nothing refers to it, a profile can go.
	rows(t, c, "/ip/hotspot/user/set", "=numbers=alice", "=profile=default")
	rows(t, c, "/ip/hotspot/user/profile/remove", "=numbers=daily")
	if n := len(rows(t, c, "/ip/hotspot/user/profile/print", "?name=daily")); n != 0 {
		t.Errorf("%d profiles named daily after remove, want 0", n)
	}
	if n := len(r.HotspotProfiles()); n != 1 {
		t.Errorf("HotspotProfiles: %d rows, want 1 (default)", n)
	}
	if n := len(r.PPPProfiles()); n != 3 {
		t.Errorf("PPPProfiles: %d rows, want 3", n)
	}
}

func loginMessage(t *testing.T, err error) string {
	t.Helper()
	var le *sim.LoginError
	if !errors.As(err, &le) {
		t.Fatalf("login error %v (%T), want *sim.LoginError", err, err)
	}
	return le.Message
}

func TestLoginHotspotPassword(t *testing.T) {
	var clk testkit.Clock
	clk.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	r := startRouter(t, sim.Config{Now: clk.Now})
	c := dial(t, r, "admin", "")
	rows(t, c, "/ip/hotspot/user/profile/add", "=name=hour", "=session-timeout=1h", "=shared-users=2")
	rows(t, c, "/ip/hotspot/user/add", "=name=alice", "=password=pw", "=profile=hour")
	rows(t, c, "/ip/hotspot/user/add", "=name=dave", "=password=pw", "=disabled=yes")
	rows(t, c, "/ip/hotspot/user/add", "=name=erin", "=password=pw", "=limit-uptime=30m")

	for _, tt := range []struct{ name, user, password, want string }{
		{"unknown user", "nobody", "pw", "invalid username or password"},
		{"wrong password", "alice", "nope", "invalid username or password"},
		{"disabled", "dave", "pw", "user dave is disabled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.LoginHotspotPassword(tt.user, tt.password, "02:00:00:00:00:01", "10.5.50.2")
			if got := loginMessage(t, err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if n := len(r.HotspotActive()); n != 0 {
		t.Fatalf("%d sessions after refused logins, want 0", n)
	}

	// shared-users=2: a third device is refused until one leaves.
	id1, err := r.LoginHotspotPassword("alice", "pw", "02:00:00:00:00:01", "10.5.50.2")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Minute)
	id2, err := r.LoginHotspotPassword("alice", "pw", "02:00:00:00:00:02", "10.5.50.3")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.LoginHotspotPassword("alice", "pw", "02:00:00:00:00:03", "10.5.50.4")
	if got, want := loginMessage(t, err), "no more sessions are allowed for user alice"; got != want {
		t.Errorf("third session: got %q, want %q", got, want)
	}
	if left := one(t, c, "/ip/hotspot/active/print", "?.id="+id1)["session-time-left"]; left != "40m" {
		t.Errorf("session-time-left of the first session = %q, want 40m", left)
	}

	// session-timeout=1h on the simulator's clock: the first session ends
	// at 1h, the second lives on.
	clk.Advance(40 * time.Minute)
	r.Tick()
	active := r.HotspotActive()
	if len(active) != 1 || active[0][".id"] != id2 {
		t.Fatalf("after 1h: active %v, want only %s", active, id2)
	}
	if _, err := r.LoginHotspotPassword("alice", "pw", "02:00:00:00:00:03", "10.5.50.4"); err != nil {
		t.Errorf("login after a session expired: %v", err)
	}
	clk.Advance(20 * time.Minute)
	r.ExpireSessions()
	for _, a := range r.HotspotActive() {
		if a[".id"] == id2 {
			t.Errorf("second session still active 1h after its login")
		}
	}

	// limit-uptime=30m: the session is cut when the allowance runs out, and
	// the next login is refused.
	if _, err := r.LoginHotspotPassword("erin", "pw", "02:00:00:00:00:09", "10.5.50.9"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Minute)
	r.ExpireSessions()
	if got := one(t, c, "/ip/hotspot/user/print", "?name=erin")["uptime"]; got != "30m" {
		t.Errorf("erin's uptime = %q, want 30m", got)
	}
	_, err = r.LoginHotspotPassword("erin", "pw", "02:00:00:00:00:09", "10.5.50.9")
	if got, want := loginMessage(t, err), "user erin has reached uptime limit"; got != want {
		t.Errorf("after limit-uptime: got %q, want %q", got, want)
	}

	// limit-bytes-total: once ended sessions moved that much, no login.
	rows(t, c, "/ip/hotspot/user/add", "=name=fred", "=password=pw", "=limit-bytes-total=1000")
	fid, err := r.LoginHotspotPassword("fred", "pw", "02:00:00:00:00:0F", "10.5.50.15")
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		r.Tick() // traffic grows on most ticks
	}
	if err := r.Logout(fid); err != nil {
		t.Fatal(err)
	}
	_, err = r.LoginHotspotPassword("fred", "pw", "02:00:00:00:00:0F", "10.5.50.15")
	if got, want := loginMessage(t, err), "user fred has reached traffic limit"; got != want {
		t.Errorf("after limit-bytes-total: got %q, want %q", got, want)
	}

	// The password-less LoginHotspot the scenarios use is unchanged.
	if _, err := r.LoginHotspot("alice", "02:00:00:00:00:05", "10.5.50.5"); err != nil {
		t.Errorf("LoginHotspot: %v", err)
	}
}

func TestLoginPPPPassword(t *testing.T) {
	var clk testkit.Clock
	clk.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	r := startRouter(t, sim.Config{Now: clk.Now})
	c := dial(t, r, "admin", "")
	rows(t, c, "/ppp/profile/add", "=name=month", "=session-timeout=30d", "=only-one=yes")
	rows(t, c, "/ppp/secret/add", "=name=bob", "=password=pw", "=profile=month", "=service=pppoe")
	rows(t, c, "/ppp/secret/add", "=name=dave", "=password=pw", "=disabled=yes")

	_, err := r.LoginPPPPassword("bob", "wrong", "DC:2C:6E:01:02:03", "10.20.0.2")
	if got := loginMessage(t, err); got != "invalid username or password" {
		t.Errorf("wrong password: got %q", got)
	}
	_, err = r.LoginPPPPassword("dave", "pw", "DC:2C:6E:01:02:04", "10.20.0.3")
	if got := loginMessage(t, err); got != "user dave is disabled" {
		t.Errorf("disabled: got %q", got)
	}
	id, err := r.LoginPPPPassword("bob", "pw", "DC:2C:6E:01:02:03", "10.20.0.2")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.LoginPPPPassword("bob", "pw", "DC:2C:6E:01:02:05", "10.20.0.5")
	if got := loginMessage(t, err); got != "no more sessions are allowed for user bob" {
		t.Errorf("only-one: got %q", got)
	}
	clk.Advance(30*24*time.Hour - time.Second)
	r.ExpireSessions()
	if a := r.PPPActive(); len(a) != 1 || a[0][".id"] != id {
		t.Fatalf("before 30d: %v", a)
	}
	clk.Advance(time.Second)
	r.ExpireSessions()
	if a := r.PPPActive(); len(a) != 0 {
		t.Fatalf("after 30d: %v, want none", a)
	}
}
