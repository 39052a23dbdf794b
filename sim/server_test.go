package sim_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"
	"github.com/go-routeros/routeros/v3/proto"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim"
)

// startRouter starts a simulator on a loopback port and closes it at the end.
func startRouter(t *testing.T, cfg sim.Config) *sim.Router {
	t.Helper()
	if cfg.TrafficInterval == 0 {
		cfg.TrafficInterval = -1 // tests drive the scenario with Tick
	}
	r := sim.New(cfg)
	if err := r.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// dial connects and logs in with the real go-routeros client.
func dial(t *testing.T, r *sim.Router, user, password string) *routeros.Client {
	t.Helper()
	c, err := routeros.DialTimeout(r.Addr(), user, password, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetLogHandler(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { c.Close() })
	return c
}

func deviceMessage(t *testing.T, err error) string {
	t.Helper()
	var de *routeros.DeviceError
	if !errors.As(err, &de) {
		t.Fatalf("got error %v (%T), want *routeros.DeviceError", err, err)
	}
	return de.Sentence.Map["message"]
}

func TestLogin(t *testing.T) {
	r := startRouter(t, sim.Config{User: "api", Password: "s3cret"})
	dial(t, r, "api", "s3cret")

	_, err := routeros.DialTimeout(r.Addr(), "api", "wrong", 5*time.Second)
	if got, want := deviceMessage(t, err), "invalid user name or password (6)"; got != want {
		t.Errorf("wrong password: got %q, want %q", got, want)
	}
	_, err = routeros.DialTimeout(r.Addr(), "nobody", "s3cret", 5*time.Second)
	if got, want := deviceMessage(t, err), "invalid user name or password (6)"; got != want {
		t.Errorf("wrong user: got %q, want %q", got, want)
	}
}

func TestPrintProplistAndQueries(t *testing.T) {
	r := startRouter(t, sim.Config{})
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := r.AddHotspotUser(u, "pw", ""); err != nil {
			t.Fatal(err)
		}
	}
	c := dial(t, r, "admin", "")
	if _, err := c.Run("/ip/hotspot/user/set", "=numbers=bob", "=comment=vip", "=limit-bytes-total=500"); err != nil {
		t.Fatal(err)
	}
	names := func(rep *routeros.Reply) string {
		var out []string
		for _, re := range rep.Re {
			out = append(out, re.Map["name"])
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name  string
		words []string
		want  string
	}{
		{"all", nil, "alice,bob,carol"},
		{"equal", []string{"?name=carol"}, "carol"},
		{"present", []string{"?comment"}, "bob"},
		{"absent", []string{"?-comment"}, "alice,carol"},
		{"or", []string{"?name=alice", "?name=carol", "?#|"}, "alice,carol"},
		{"not or", []string{"?name=alice", "?name=carol", "?#|!"}, "bob"},
		{"and", []string{"?profile=default", "?name=bob", "?#&"}, "bob"},
		{"greater", []string{"?>name=b"}, "bob,carol"},
		{"less", []string{"?<name=b"}, "alice"},
		{"numeric", []string{"?>limit-bytes-total=99"}, "bob"},
		{"id", []string{"?.id=*2"}, "bob"},
		{"dup", []string{"?name=bob", "?#.|"}, "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := c.RunArgs(append([]string{"/ip/hotspot/user/print"}, tt.words...))
			if err != nil {
				t.Fatal(err)
			}
			if got := names(rep); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	rep, err := c.Run("/ip/hotspot/user/print", "=.proplist=name,.id", "?name=alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Re) != 1 {
		t.Fatalf("got %d rows, want 1", len(rep.Re))
	}
	got := rep.Re[0].List
	want := []proto.Pair{{Key: "name", Value: "alice"}, {Key: ".id", Value: "*1"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("proplist row: got %v, want %v", got, want)
	}
}

func TestEmptyReply(t *testing.T) {
	for _, noEmpty := range []bool{false, true} {
		r := startRouter(t, sim.Config{NoEmpty: noEmpty})
		c := dial(t, r, "admin", "")
		rep, err := c.Run("/ip/hotspot/active/print")
		if err != nil {
			t.Fatalf("noEmpty=%v: %v", noEmpty, err)
		}
		if len(rep.Re) != 0 || rep.Done == nil {
			t.Fatalf("noEmpty=%v: got %d rows, done %v", noEmpty, len(rep.Re), rep.Done)
		}
		// The client hides !empty, so check the wire directly.
		words := rawExchange(t, r.Addr(), []string{"/ip/hotspot/active/print"})
		want := "!empty|!done"
		if noEmpty {
			want = "!done"
		}
		if got := strings.Join(words, "|"); got != want {
			t.Errorf("noEmpty=%v: got replies %q, want %q", noEmpty, got, want)
		}
	}
}

// rawExchange logs in over a plain socket, sends one command and returns
// the first word of each reply sentence up to and including !done.
func rawExchange(t *testing.T, addr string, cmd []string) []string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	w := proto.NewWriter(nc)
	rd := proto.NewReader(nc)
	send := func(words ...string) {
		w.BeginSentence()
		for _, wd := range words {
			w.WriteWord(wd)
		}
		if err := w.EndSentence(); err != nil {
			t.Fatal(err)
		}
	}
	send("/login", "=name=admin", "=password=")
	if sen, err := rd.ReadSentence(); err != nil || sen.Word != "!done" {
		t.Fatalf("login: %v %v", sen, err)
	}
	send(cmd...)
	var out []string
	for {
		sen, err := rd.ReadSentence()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sen.Word)
		if sen.Word == "!done" {
			return out
		}
	}
}

func TestMenuErrors(t *testing.T) {
	r := startRouter(t, sim.Config{})
	if err := r.AddHotspotUser("dup", "x", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.AddPPPSecret("dup", "x", ""); err != nil {
		t.Fatal(err)
	}
	c := dial(t, r, "admin", "")
	tests := []struct {
		name    string
		words   []string
		wantMsg string
		wantCat string
	}{
		{"dup hotspot user", []string{"/ip/hotspot/user/add", "=name=dup"}, "failure: already have user with this name for this server", ""},
		{"dup ppp secret", []string{"/ppp/secret/add", "=name=dup"}, "failure: secret with the same name already exists", ""},
		{"unknown profile", []string{"/ip/hotspot/user/add", "=name=x", "=profile=gold"}, "input does not match any value of profile", "1"},
		{"unknown ppp profile", []string{"/ppp/secret/set", "=.id=dup", "=profile=gold"}, "input does not match any value of profile", "1"},
		{"no such item remove", []string{"/ip/hotspot/user/remove", "=.id=*99"}, "no such item", "0"},
		{"no such item set", []string{"/ppp/secret/set", "=numbers=ghost", "=comment=x"}, "no such item", "0"},
		{"no such session", []string{"/ppp/active/remove", "=.id=*1"}, "no such item", "0"},
		{"unknown parameter", []string{"/ip/hotspot/user/add", "=name=y", "=colour=red"}, "unknown parameter colour", ""},
		{"unknown command", []string{"/ip/hotspot/user/frobnicate"}, "no such command", ""},
		{"unknown menu", []string{"/ip/adress/print"}, "no such command prefix", ""},
		{"default profile", []string{"/ppp/profile/remove", "=numbers=default"}, "failure: default profile can not be removed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.RunArgs(tt.words)
			if got := deviceMessage(t, err); got != tt.wantMsg {
				t.Errorf("message: got %q, want %q", got, tt.wantMsg)
			}
			var de *routeros.DeviceError
			errors.As(err, &de)
			if got := de.Sentence.Map["category"]; got != tt.wantCat {
				t.Errorf("category: got %q, want %q", got, tt.wantCat)
			}
		})
	}
	// The unknown menu reply carries two traps like RouterOS; the first
	// names the unknown segment.
	words := rawExchange(t, r.Addr(), []string{"/ip/adress/print"})
	if got, want := strings.Join(words, "|"), "!trap|!trap|!done"; got != want {
		t.Errorf("unknown menu replies: got %q, want %q", got, want)
	}
}

func TestAddSetRemoveEnable(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")
	if _, err := c.Run("/ip/hotspot/user/profile/add", "=name=gold", "=rate-limit=2M/5M"); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Run("/ip/hotspot/user/add", "=name=+254712345678", "=password=p", "=profile=gold", "=comment=j@example.com")
	if err != nil {
		t.Fatal(err)
	}
	id := rep.Done.Map["ret"]
	if !strings.HasPrefix(id, "*") {
		t.Fatalf("add ret: got %q, want *ID", id)
	}
	if _, err := c.Run("/ip/hotspot/user/disable", "=.id="+id); err != nil {
		t.Fatal(err)
	}
	users := r.HotspotUsers()
	if len(users) != 1 || users[0]["disabled"] != "true" || users[0]["profile"] != "gold" || users[0][".id"] != id {
		t.Fatalf("after disable: %v", users)
	}
	if _, err := r.LoginHotspot("+254712345678", "AA:BB:CC:DD:EE:FF", "10.5.50.2"); err == nil {
		t.Error("login of a disabled user succeeded")
	}
	if _, err := c.Run("/ip/hotspot/user/enable", "=numbers=+254712345678"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run("/ip/hotspot/user/set", "=.id="+id, "=password=q", "=disabled=no"); err != nil {
		t.Fatal(err)
	}
	if got := r.HotspotUsers()[0]["password"]; got != "q" {
		t.Errorf("password after set: got %q", got)
	}
	if _, err := c.Run("/ip/hotspot/user/remove", "=.id="+id); err != nil {
		t.Fatal(err)
	}
	if got := len(r.HotspotUsers()); got != 0 {
		t.Errorf("users after remove: got %d, want 0", got)
	}

	// PPP secret, profile, identity, resource.
	if _, err := c.Run("/ppp/profile/add", "=name=home", "=rate-limit=10M/20M"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run("/ppp/secret/add", "=name=kamau", "=password=x", "=service=pppoe", "=profile=home"); err != nil {
		t.Fatal(err)
	}
	rep, err = c.Run("/ppp/profile/print", "=.proplist=.id,name")
	if err != nil {
		t.Fatal(err)
	}
	var profiles []string
	for _, re := range rep.Re {
		profiles = append(profiles, re.Map[".id"]+"="+re.Map["name"])
	}
	if got, want := strings.Join(profiles, " "), "*0=default *FFFFFFFE=default-encryption *1=home"; got != want {
		t.Errorf("ppp profiles: got %q, want %q", got, want)
	}
	if _, err := c.Run("/system/identity/set", "=name=site-7"); err != nil {
		t.Fatal(err)
	}
	rep, err = c.Run("/system/identity/print")
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["name"] != "site-7" {
		t.Fatalf("identity: %v %v", rep, err)
	}
	rep, err = c.Run("/system/resource/print")
	if err != nil || len(rep.Re) != 1 {
		t.Fatalf("resource: %v %v", rep, err)
	}
	for _, k := range []string{"uptime", "version", "build-time", "free-memory", "total-memory", "cpu", "cpu-count",
		"cpu-load", "free-hdd-space", "total-hdd-space", "architecture-name", "board-name", "platform"} {
		if _, ok := rep.Re[0].Map[k]; !ok {
			t.Errorf("resource lacks %s", k)
		}
	}
	if _, ok := rep.Re[0].Map[".id"]; ok {
		t.Error("resource row has an .id")
	}
}

// listenRows collects n rows from a listen, failing after a deadline.
func listenRows(t *testing.T, l *routeros.ListenReply, n int) []*proto.Sentence {
	t.Helper()
	var out []*proto.Sentence
	timeout := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case sen, ok := <-l.Chan():
			if !ok {
				t.Fatalf("listen ended after %d rows: %v", len(out), l.Err())
			}
			out = append(out, sen)
		case <-timeout:
			t.Fatalf("got %d listen rows, want %d", len(out), n)
		}
	}
	return out
}

func TestListenAndCancel(t *testing.T) {
	// A small reply delay, as on real hardware, keeps the client's cancel
	// race (reply before tag registration) rare; the test copes either way.
	r := startRouter(t, sim.Config{ReplyDelay: 2 * time.Millisecond})
	if err := r.AddPPPSecret("otieno", "pw", ""); err != nil {
		t.Fatal(err)
	}
	lc := dial(t, r, "admin", "")
	lc.Queue = 16 // one unbuffered listen would stall the client's shared reader
	active, err := lc.Listen("/ppp/active/listen")
	if err != nil {
		t.Fatal(err)
	}
	ifaces, err := lc.Listen("/interface/listen", "=.proplist=.id,name,type,dynamic")
	if err != nil {
		t.Fatal(err)
	}
	// The server handles one connection's sentences in order, so a reply
	// to a later command proves the listens are registered.
	if _, err := runTagged(lc, "/system/identity/print"); err != nil {
		t.Fatal(err)
	}

	id, err := r.LoginPPP("otieno", "02:11:22:33:44:55", "10.10.1.2")
	if err != nil {
		t.Fatal(err)
	}
	row := listenRows(t, active, 1)[0]
	if row.Map[".id"] != id || row.Map["name"] != "otieno" || row.Map["caller-id"] != "02:11:22:33:44:55" ||
		row.Map["service"] != "pppoe" || !strings.HasPrefix(row.Map["session-id"], "0x81A") {
		t.Errorf("login row: %v", row.Map)
	}
	irow := listenRows(t, ifaces, 1)[0]
	if irow.Map["name"] != "<pppoe-otieno>" || irow.Map["type"] != "pppoe-in" || irow.Map["dynamic"] != "true" {
		t.Errorf("interface row: %v", irow.Map)
	}
	if _, ok := irow.Map["rx-byte"]; ok {
		t.Errorf("proplist ignored: %v", irow.Map)
	}

	// Kick through the API from a second client: listen shows .dead.
	c := dial(t, r, "admin", "")
	if _, err := c.Run("/ppp/active/remove", "=.id="+id); err != nil {
		t.Fatal(err)
	}
	dead := listenRows(t, active, 1)[0]
	if dead.Map[".id"] != id || dead.Map[".dead"] != "true" {
		t.Errorf("removal row: %v", dead.Map)
	}
	idead := listenRows(t, ifaces, 1)[0]
	if idead.Map[".id"] != irow.Map[".id"] || idead.Map[".dead"] != "true" {
		t.Errorf("interface removal row: %v", idead.Map)
	}

	// Hidden removals: the row vanishes without a .dead.
	r.SetListenRemovals("/ppp/active", false)
	id, err = r.LoginPPP("otieno", "02:11:22:33:44:55", "10.10.1.3")
	if err != nil {
		t.Fatal(err)
	}
	listenRows(t, active, 1)
	if err := r.Logout(id); err != nil {
		t.Fatal(err)
	}
	if got := len(r.PPPActive()); got != 0 {
		t.Fatalf("active after logout: %d", got)
	}

	// Cancel through the client. The server answers the listen's own tag
	// with the interrupted trap and !done, which ends the listen, and then
	// the /cancel with !done. go-routeros registers /cancel's tag only after
	// sending it and can lose that last reply (a known client fault), so
	// Cancel's own return is not waited for; the listen's end is what the
	// server must get right, and it is asserted whatever the client does.
	go active.CancelContext(t.Context())
	ended := make(chan struct{})
	go func() {
		for range active.Chan() {
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(testkit.DefaultWait):
		t.Fatal("listen still running after /cancel")
	}
	if active.Done == nil || active.Done.Map["category"] != "2" || active.Done.Map["message"] != "interrupted" {
		t.Errorf("cancelled listen ended with %v, want the interrupted trap", active.Done)
	}
}

func TestIntervalPrint(t *testing.T) {
	r := startRouter(t, sim.Config{HotspotSessions: 3, Seed: 1})
	c := dial(t, r, "admin", "")
	l, err := c.Listen("/ip/hotspot/active/print", "=interval=0.1", "=.proplist=.id,user,bytes-in")
	if err != nil {
		t.Fatal(err)
	}
	rows := listenRows(t, l, 9)
	sections := map[string]int{}
	for _, row := range rows {
		sections[row.Map[".section"]]++
		if row.Map["user"] == "" || row.Map["bytes-in"] == "" {
			t.Errorf("row lacks fields: %v", row.Map)
		}
	}
	for _, s := range []string{"0", "1", "2"} {
		if sections[s] != 3 {
			t.Errorf("section %s: got %d rows, want 3 (%v)", s, sections[s], sections)
		}
	}
}

// runTagged runs one command on an async client through ListenArgs, which
// registers its tag before the reply can be read. The client's async Run
// registers the tag only after sending and can lose a fast reply (a known
// go-routeros fault), which would hang the test rather than test the server.
func runTagged(c *routeros.Client, words ...string) ([]*proto.Sentence, error) {
	l, err := c.ListenArgs(words)
	if err != nil {
		return nil, err
	}
	var rows []*proto.Sentence
	timeout := time.After(10 * time.Second)
	for {
		select {
		case sen, ok := <-l.Chan():
			if !ok {
				return rows, l.Err()
			}
			rows = append(rows, sen)
		case <-timeout:
			return rows, errors.New("no !done within 10s")
		}
	}
}

func TestConcurrentTaggedCommands(t *testing.T) {
	r := startRouter(t, sim.Config{HotspotSessions: 5, PPPSessions: 5, Seed: 2})
	c := dial(t, r, "admin", "")
	c.Async()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			menu := []string{"/ip/hotspot/active/print", "/ppp/active/print", "/interface/print", "/system/resource/print"}[i%4]
			want := []int{5, 5, 6 + 5, 1}[i%4]
			rows, err := runTagged(c, menu)
			if err != nil {
				errs <- fmt.Errorf("%s: %w", menu, err)
				return
			}
			if len(rows) != want {
				errs <- fmt.Errorf("%s: got %d rows, want %d", menu, len(rows), want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A trap on one tag does not disturb the others.
	if _, err := runTagged(c, "/ppp/secret/remove", "=.id=*77"); err == nil {
		t.Error("remove of a missing item succeeded")
	}
	if rows, err := runTagged(c, "/system/identity/print"); err != nil || len(rows) != 1 {
		t.Errorf("after trap: %v %v", rows, err)
	}
}

func TestDropConnections(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")
	r.DropConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.RunContext(ctx, "/system/identity/print"); err == nil {
		t.Fatal("command on a dropped connection succeeded")
	}
	dial(t, r, "admin", "") // the listener stays up
}

func TestReboot(t *testing.T) {
	clk := testkit.NewClock(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
	r := startRouter(t, sim.Config{HotspotSessions: 4, PPPSessions: 3, Seed: 3, Now: clk.Now})
	clk.Advance(time.Hour)
	changes, stop := r.Subscribe()
	defer stop()
	c := dial(t, r, "admin", "")
	rep, err := c.Run("/system/resource/print")
	if err != nil || rep.Re[0].Map["uptime"] != "1h" {
		t.Fatalf("uptime before reboot: %v %v", rep, err)
	}
	r.Reboot(300 * time.Millisecond)
	if _, err := c.Run("/system/identity/print"); err == nil {
		t.Error("command after reboot succeeded")
	}
	if n := len(r.HotspotActive()) + len(r.PPPActive()); n != 0 {
		t.Errorf("sessions after reboot: %d", n)
	}
	logouts := 0
	for logouts < 7 {
		select {
		case ch := <-changes:
			if ch.Op == "logout" && ch.Reason == "reboot" {
				logouts++
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d reboot logouts, want 7", logouts)
		}
	}
	if _, err := net.DialTimeout("tcp", r.Addr(), time.Second); err == nil {
		t.Error("connection accepted while down")
	}
	var back *routeros.Client
	testkit.Eventually(t, 0, "the router to accept logins again", func() bool {
		nc, err := routeros.DialTimeout(r.Addr(), "admin", "", time.Second)
		back = nc
		return err == nil
	})
	defer back.Close()
	rep, err = back.Run("/system/resource/print")
	if err != nil {
		t.Fatal(err)
	}
	if up := rep.Re[0].Map["uptime"]; up != "0s" {
		t.Errorf("uptime after reboot: got %s, want 0s", up)
	}
}

func TestReplyDelay(t *testing.T) {
	r := startRouter(t, sim.Config{ReplyDelay: 30 * time.Millisecond})
	c := dial(t, r, "admin", "")
	start := time.Now()
	if _, err := c.Run("/system/identity/print"); err != nil {
		t.Fatal(err)
	}
	if got := time.Since(start); got < 30*time.Millisecond {
		t.Errorf("reply after %v, want at least 30ms", got)
	}
}

func TestCallsCountsCommandsRun(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")
	if _, err := c.Run("/ip/hotspot/user/add", "=name=u1", "=password=p"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run("/ip/hotspot/user/add", "=name=u1", "=password=p"); err == nil {
		t.Fatal("duplicate add succeeded")
	}
	if got := r.Calls("/ip/hotspot/user/add"); got != 2 {
		t.Errorf("Calls(add) = %d, want 2 (failures count too)", got)
	}
	if got := r.Calls("/ip/hotspot/user/remove"); got != 0 {
		t.Errorf("Calls(remove) = %d, want 0", got)
	}
}
