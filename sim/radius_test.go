package sim_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3576"
	"layeh.com/radius/vendors/mikrotik"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim"
)

const radSecret = "testing123"

// radRig is a simulated router whose hotspot and PPP use the test's
// RADIUS server, on a fake clock the test advances.
type radRig struct {
	t   *testing.T
	r   *sim.Router
	c   *routeros.Client
	srv *radServer
	clk *testkit.Clock
}

func startRadRig(t *testing.T) *radRig {
	t.Helper()
	clk := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	r := startRouter(t, sim.Config{Identity: "site-7", Now: clk.Now})
	g := &radRig{t: t, r: r, c: dial(t, r, "admin", ""), srv: startRadServer(t, radSecret), clk: clk}
	g.run("/radius/add", "=service=hotspot,ppp", "=address=127.0.0.1", "=secret="+radSecret,
		"=authentication-port="+g.srv.port(g.srv.authAddr), "=accounting-port="+g.srv.port(g.srv.acctAddr),
		"=timeout=100ms")
	g.run("/ip/hotspot/profile/set", "=numbers=hsprof1", "=use-radius=yes")
	g.run("/ppp/aaa/set", "=use-radius=yes", "=accounting=yes")
	return g
}

func (g *radRig) run(words ...string) []map[string]string {
	g.t.Helper()
	return rows(g.t, g.c, words...)
}

func (g *radRig) active(id string) map[string]string {
	for _, row := range append(g.r.HotspotActive(), g.r.PPPActive()...) {
		if row[".id"] == id {
			return row
		}
	}
	return nil
}

// acctOf returns the accounting requests with status st for session id.
func (g *radRig) acctOf(sessionID string, st rfc2866.AcctStatusType) []*radius.Packet {
	var out []*radius.Packet
	for _, p := range g.srv.acctRequests() {
		if rfc2866.AcctSessionID_GetString(p) == sessionID && rfc2866.AcctStatusType_Get(p) == st {
			out = append(out, p)
		}
	}
	return out
}

func (g *radRig) waitAcct(sessionID string, st rfc2866.AcctStatusType, n int) []*radius.Packet {
	g.t.Helper()
	var got []*radius.Packet
	testkit.Eventually(g.t, 5*time.Second, fmt.Sprintf("%d accounting %v for %s", n, st, sessionID), func() bool {
		got = g.acctOf(sessionID, st)
		return len(got) >= n
	})
	return got
}

func hotspotAcctID(id string) string {
	n, _ := strconv.ParseUint(strings.TrimPrefix(id, "*"), 16, 32)
	return fmt.Sprintf("%08X", n)
}

func TestRadiusMenus(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")
	rows(t, c, "/radius/add", "=service=hotspot,ppp", "=address=10.0.0.9", "=secret=s3", "=timeout=3s", "=comment=SitePulse agent")
	got := one(t, c, "/radius/print")
	want := map[string]string{"service": "ppp,hotspot", "address": "10.0.0.9", "authentication-port": "1812",
		"accounting-port": "1813", "timeout": "3s", "src-address": "0.0.0.0", "disabled": "false",
		"accounting-backup": "false", "protocol": "udp", "require-message-auth": "yes-for-request-resp"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("/radius %s: got %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["secret"]; ok {
		t.Errorf("/radius print shows the secret: %v", got)
	}
	rows(t, c, "/radius/set", "=numbers="+got[".id"], "=timeout=0.5")
	if got := one(t, c, "/radius/print")["timeout"]; got != "500ms" {
		t.Errorf("timeout=0.5: got %q, want 500ms", got)
	}
	if got := one(t, c, "/radius/incoming/print"); got["accept"] != "false" || got["port"] != "3799" {
		t.Errorf("/radius incoming defaults: %v", got)
	}
	if got := one(t, c, "/ppp/aaa/print"); got["use-radius"] != "false" || got["accounting"] != "true" || got["interim-update"] != "0s" {
		t.Errorf("/ppp aaa defaults: %v", got)
	}
	rows(t, c, "/ppp/aaa/set", "=use-radius=yes", "=interim-update=1m")
	if got := one(t, c, "/ppp/aaa/print"); got["use-radius"] != "true" || got["interim-update"] != "1m" {
		t.Errorf("/ppp aaa after set: %v", got)
	}
	p := one(t, c, "/ip/hotspot/profile/print", "?name=hsprof1")
	if p["use-radius"] != "false" || p["radius-accounting"] != "true" || p["radius-interim-update"] != "received" {
		t.Errorf("hotspot profile radius defaults: %v", p)
	}
	rows(t, c, "/ip/hotspot/profile/set", "=numbers=hsprof1", "=use-radius=yes", "=radius-interim-update=5m")
	if p := one(t, c, "/ip/hotspot/profile/print", "?name=hsprof1"); p["use-radius"] != "true" || p["radius-interim-update"] != "5m" {
		t.Errorf("hotspot profile after set: %v", p)
	}

	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{
		{"/radius/add service", []string{"/radius/add", "=service=hotspot,radius"}, "input does not match any value of service"},
		{"/radius/add address", []string{"/radius/add", "=address=10.0.0.300"}, "invalid value for argument address"},
		{"/radius/add authentication-port", []string{"/radius/add", "=authentication-port=70000"}, "invalid value for argument authentication-port"},
		{"/radius/add timeout", []string{"/radius/add", "=timeout=soon"}, "invalid value for argument timeout"},
		{"/radius/add secret", []string{"/radius/add", "=secret=x", "=scret=y"}, "unknown parameter scret"},
		{"/radius/incoming/set accept", []string{"/radius/incoming/set", "=accept=maybe"}, "value of accept must be yes or no"},
		{"/radius/incoming/set port", []string{"/radius/incoming/set", "=port=0"}, "invalid value for argument port"},
		{"/ppp/aaa/set interim-update", []string{"/ppp/aaa/set", "=interim-update=often"}, "invalid value for argument interim-update"},
		{"/ip/hotspot/profile/set numbers", []string{"/ip/hotspot/profile/set", "=numbers=hsprof1", "=radius-interim-update=never"}, "invalid value for argument radius-interim-update"},
	})
}

func TestRadiusHotspotCHAPLoginOnPage(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("bob", "pw-bob", func(p *radius.Packet) {
		mikrotik.MikrotikRateLimit_SetString(p, "2M/4M")
		rfc2865.SessionTimeout_Set(p, 3600)
		mikrotik.MikrotikTotalLimit_Set(p, 5)
		mikrotik.MikrotikTotalLimitGigawords_Set(p, 1)
	})
	srv := httptest.NewServer(g.r.HotspotHandler())
	t.Cleanup(srv.Close)
	d := newDevice(t, srv.URL, "AA:BB:CC:00:00:07")

	// The challenge sent to RADIUS is the one the page showed.
	chapID, chapChallenge, _ := d.loginPage("http://example.com/")
	status, _, body := d.do("POST", srv.URL+"/login", url.Values{"username": {"bob"}, "dst": {"http://example.com/"},
		"password": {chapResponse(unOctal(t, chapID), []byte("pw-bob"), unOctal(t, chapChallenge))}})
	if status != http.StatusOK || !strings.Contains(body, "url=http://example.com/") {
		t.Fatalf("login: %d\n%s", status, body)
	}
	row := activeByMAC(g.r, "AA:BB:CC:00:00:07")
	if row == nil {
		t.Fatal("no active session after an Access-Accept")
	}
	for k, v := range map[string]string{"user": "bob", "login-by": "http-chap", "radius": "true", "rate-limit": "2M/4M",
		"session-time-left": "1h", "limit-bytes-total": strconv.FormatUint(1<<32+5, 10)} {
		if row[k] != v {
			t.Errorf("active %s: got %q, want %q (%v)", k, row[k], v, row)
		}
	}
	// The same row over the API, as the agent sees it.
	if got := one(t, g.c, "/ip/hotspot/active/print", "?user=bob"); got["rate-limit"] != "2M/4M" || got["session-time-left"] != "1h" {
		t.Errorf("/ip/hotspot/active print: %v", got)
	}

	reqs := g.srv.accessRequests()
	if len(reqs) != 1 {
		t.Fatalf("access requests: got %d, want 1", len(reqs))
	}
	p := reqs[len(reqs)-1]
	if got, want := rfc2865.CHAPChallenge_Get(p), unOctal(t, chapChallenge); string(got) != string(want) {
		t.Errorf("CHAP-Challenge %x, want the page's %x", got, want)
	}
	if got := rfc2865.CHAPPassword_Get(p); len(got) != 17 || got[0] != unOctal(t, chapID)[0] {
		t.Errorf("CHAP-Password %x: want the page's chap-id then the response", got)
	}
	ip := rfc2865.FramedIPAddress_Get(p)
	checks := map[string][2]string{
		"User-Name":          {rfc2865.UserName_GetString(p), "bob"},
		"Service-Type":       {rfc2865.ServiceType_Get(p).String(), "Login-User"},
		"NAS-Port-Type":      {rfc2865.NASPortType_Get(p).String(), "Wireless-802.11"},
		"Calling-Station-Id": {rfc2865.CallingStationID_GetString(p), "AA:BB:CC:00:00:07"},
		"Framed-IP-Address":  {ip.String(), "127.0.0.1"},
		"Mikrotik-Host-IP":   {mikrotik.MikrotikHostIP_Get(p).String(), "127.0.0.1"},
		"NAS-Identifier":     {rfc2865.NASIdentifier_GetString(p), "site-7"},
		"Called-Station-Id":  {rfc2865.CalledStationID_GetString(p), "hotspot1"},
		"NAS-Port-Id":        {rfc2869.NASPortID_GetString(p), "bridge-hotspot"},
		"Acct-Session-Id":    {rfc2866.AcctSessionID_GetString(p), hotspotAcctID(row[".id"])},
	}
	for k, v := range checks {
		if v[0] != v[1] {
			t.Errorf("Access-Request %s: got %q, want %q", k, v[0], v[1])
		}
	}
	if len(rfc2865.CHAPChallenge_Get(p)) != 16 || len(rfc2865.CHAPPassword_Get(p)) != 17 {
		t.Errorf("CHAP-Challenge %x CHAP-Password %x: want 16 and 17 bytes", rfc2865.CHAPChallenge_Get(p), rfc2865.CHAPPassword_Get(p))
	}
	var badMA int
	if g.srv.set(func(s *radServer) { badMA = s.badMA }); badMA != 0 {
		t.Errorf("%d Access-Requests without a valid Message-Authenticator", badMA)
	}
	st := g.r.RadiusStats()
	if st.AccessRequests != 1 || st.Accepts != 1 || st.Rejects != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestRadiusHotspotRejectShowsReplyMessage(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("bob", "pw-bob", nil)
	g.srv.set(func(s *radServer) { s.rejectMsg = "voucher expired" })
	srv := httptest.NewServer(g.r.HotspotHandler())
	t.Cleanup(srv.Close)
	d := newDevice(t, srv.URL, "AA:BB:CC:00:00:08")
	status, _, body := d.chapLogin("bob", "wrong", "http://example.com/")
	m := errorRE.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil || m[1] != "voucher expired" {
		t.Errorf("rejected login page: %d, error %v\n%s", status, m, body)
	}
	if activeByMAC(g.r, "AA:BB:CC:00:00:08") != nil {
		t.Error("a rejected login started a session")
	}
	// Through the Go API, PAP: the same message.
	_, err := g.r.HotspotLogin(t.Context(), sim.HotspotLoginRequest{User: "bob", Password: "nope", MAC: "AA:BB:CC:00:00:09", IP: "10.5.50.9", LoginBy: "pap"})
	var le *sim.LoginError
	if !errors.As(err, &le) || le.Message != "voucher expired" {
		t.Errorf("HotspotLogin reject: %v", err)
	}
	if st := g.r.RadiusStats(); st.Rejects != 2 || st.Accepts != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestRadiusHotspotPAPAndLocalFirst(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("carol", "pw-carol", func(p *radius.Packet) { mikrotik.MikrotikRateLimit_SetString(p, "1M/1M") })
	id, err := g.r.HotspotLogin(t.Context(), sim.HotspotLoginRequest{User: "carol", Password: "pw-carol", MAC: "AA:BB:CC:00:00:0A", IP: "10.5.50.10", LoginBy: "pap"})
	if err != nil {
		t.Fatal(err)
	}
	if row := g.active(id); row["login-by"] != "http-pap" || row["rate-limit"] != "1M/1M" || row["address"] != "10.5.50.10" {
		t.Errorf("active: %v", row)
	}
	if p := g.srv.accessRequests()[0]; rfc2865.UserPassword_GetString(p) != "pw-carol" || rfc2865.CHAPPassword_Get(p) != nil {
		t.Errorf("PAP request: User-Password %q CHAP %x", rfc2865.UserPassword_GetString(p), rfc2865.CHAPPassword_Get(p))
	}

	// A local user is checked locally: RADIUS is not asked.
	if err := g.r.AddHotspotUser("alice", "s3cret", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := g.r.LoginHotspotPassword("alice", "s3cret", "AA:BB:CC:00:00:0B", "10.5.50.11"); err != nil {
		t.Fatal(err)
	}
	if n := len(g.srv.accessRequests()); n != 1 {
		t.Errorf("access requests after a local login: %d, want 1", n)
	}
}

func TestRadiusFailoverAndTimeout(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("dave", "pw", nil)
	// A first server that never answers: the router tries it, then the next.
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	_, port, _ := net.SplitHostPort(dead.LocalAddr().String())
	g.run("/radius/add", "=service=hotspot", "=address=127.0.0.1", "=secret=other", "=authentication-port="+port, "=timeout=50ms")
	// Put the dead one first: remove and re-add the good one after it.
	g.run("/radius/remove", "=numbers=*1")
	g.run("/radius/add", "=service=hotspot,ppp", "=address=127.0.0.1", "=secret="+radSecret,
		"=authentication-port="+g.srv.port(g.srv.authAddr), "=accounting-port="+g.srv.port(g.srv.acctAddr), "=timeout=100ms")
	if _, err := g.r.LoginHotspotPassword("dave", "pw", "AA:BB:CC:00:00:0C", "10.5.50.12"); err != nil {
		t.Fatalf("login with the second server: %v", err)
	}
	if st := g.r.RadiusStats(); st.Timeouts != 1 || st.Accepts != 1 || st.AccessRequests != 2 {
		t.Errorf("stats after failover: %+v", st)
	}

	// Both unreachable (the good one's request dropped): RouterOS's text.
	g.r.SetRadiusFaults(sim.RadiusFaults{DropAccess: 1})
	g.run("/radius/disable", "=numbers=*2")
	_, err = g.r.LoginHotspotPassword("dave", "pw", "AA:BB:CC:00:00:0D", "10.5.50.13")
	var le *sim.LoginError
	if !errors.As(err, &le) || le.Message != sim.LoginRadiusTimeout {
		t.Errorf("all servers silent: %v", err)
	}
}

func TestRadiusRequiresMessageAuthenticatorInAnswers(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("erin", "pw", nil)
	g.srv.set(func(s *radServer) { s.noMA = true })
	_, err := g.r.LoginHotspotPassword("erin", "pw", "AA:BB:CC:00:00:0E", "10.5.50.14")
	var le *sim.LoginError
	if !errors.As(err, &le) || le.Message != sim.LoginRadiusTimeout {
		t.Errorf("answer without Message-Authenticator: %v, want it dropped (require-message-auth)", err)
	}
	if st := g.r.RadiusStats(); st.BadResponses != 1 {
		t.Errorf("stats: %+v", st)
	}
	g.run("/radius/set", "=numbers=*1", "=require-message-auth=no")
	if _, err := g.r.LoginHotspotPassword("erin", "pw", "AA:BB:CC:00:00:0E", "10.5.50.14"); err != nil {
		t.Errorf("require-message-auth=no: %v", err)
	}
}

func TestRadiusPPPoEMSCHAPv2(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("home-1", "pppw", func(p *radius.Packet) {
		mikrotik.MikrotikRateLimit_SetString(p, "10M/20M")
		rfc2865.FramedIPAddress_Set(p, net.IPv4(10, 20, 0, 5))
	})
	id, err := g.r.DialPPPoE(t.Context(), "home-1", "pppw", "AA:BB:CC:00:01:01", "10.20.0.99")
	if err != nil {
		t.Fatal(err)
	}
	row := g.active(id)
	if row["name"] != "home-1" || row["rate-limit"] != "10M/20M" || row["address"] != "10.20.0.5" || row["radius"] != "true" {
		t.Errorf("/ppp/active: %v", row)
	}
	p := g.srv.accessRequests()[0]
	if rfc2865.ServiceType_Get(p) != rfc2865.ServiceType_Value_FramedUser || rfc2865.FramedProtocol_Get(p) != rfc2865.FramedProtocol_Value_PPP ||
		rfc2865.NASPortType_Get(p) != rfc2865.NASPortType_Value_Ethernet || rfc2866.AcctSessionID_GetString(p) != row["session-id"] ||
		rfc2865.CallingStationID_GetString(p) != "AA:BB:CC:00:01:01" {
		t.Errorf("PPPoE Access-Request attributes: %v", p.Attributes)
	}
	if _, err := g.r.DialPPPoE(t.Context(), "home-1", "wrong", "AA:BB:CC:00:01:02", "10.20.0.98"); err == nil {
		t.Error("wrong password dialled in")
	}
	// A server that cannot prove it knew the password is refused.
	g.srv.set(func(s *radServer) { s.badMSCHAP = true })
	if _, err := g.r.DialPPPoE(t.Context(), "home-1", "pppw", "AA:BB:CC:00:01:03", "10.20.0.97"); err == nil {
		t.Error("accepted an MS-CHAP2-Success that does not match")
	}
	if n := len(g.r.PPPActive()); n != 1 {
		t.Errorf("ppp sessions: %d, want 1", n)
	}
}

func TestRadiusAccounting(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("frank", "pw", func(p *radius.Packet) { rfc2869.AcctInterimInterval_Set(p, 60) })
	id, err := g.r.LoginHotspotPassword("frank", "pw", "AA:BB:CC:00:02:01", "10.5.50.21")
	if err != nil {
		t.Fatal(err)
	}
	sid := hotspotAcctID(id)
	start := g.waitAcct(sid, rfc2866.AcctStatusType_Value_Start, 1)[0]
	if rfc2865.UserName_GetString(start) != "frank" || rfc2865.NASIdentifier_GetString(start) != "site-7" ||
		rfc2865.CallingStationID_GetString(start) != "AA:BB:CC:00:02:01" {
		t.Errorf("Start identity: %v", start.Attributes)
	}

	// Traffic, then the interval passes: one Interim-Update with the row's counters.
	g.r.Tick()
	g.r.Tick()
	g.clk.Advance(61 * time.Second)
	row := g.active(id)
	g.r.Tick() // expires first (sends the interim), then grows traffic
	interim := g.waitAcct(sid, rfc2866.AcctStatusType_Value_InterimUpdate, 1)[0]
	checkCounters(t, "Interim", interim, row)
	if got := rfc2866.AcctSessionTime_Get(interim); got != 61 {
		t.Errorf("Interim Acct-Session-Time: %d, want 61", got)
	}

	g.clk.Advance(5 * time.Second)
	row = g.active(id)
	if err := g.r.Logout(id); err != nil {
		t.Fatal(err)
	}
	stop := g.waitAcct(sid, rfc2866.AcctStatusType_Value_Stop, 1)[0]
	checkCounters(t, "Stop", stop, row)
	if c := rfc2866.AcctTerminateCause_Get(stop); c != rfc2866.AcctTerminateCause_Value_AdminReset {
		t.Errorf("Stop cause: %v, want Admin-Reset", c)
	}
	if got := rfc2866.AcctSessionTime_Get(stop); got != 66 {
		t.Errorf("Stop Acct-Session-Time: %d, want 66", got)
	}
	testkit.Eventually(t, 5*time.Second, "accounting answered", func() bool {
		st := g.r.RadiusStats()
		return st.AcctAnswered == 3 && st.AcctPending == 0
	})

	// A device logging out on the hotspot's page: User-Request.
	id, err = g.r.LoginHotspotPassword("frank", "pw", "AA:BB:CC:00:02:01", "10.5.50.21")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.r.LogoutUser(id); err != nil {
		t.Fatal(err)
	}
	stop = g.waitAcct(hotspotAcctID(id), rfc2866.AcctStatusType_Value_Stop, 1)[0]
	if c := rfc2866.AcctTerminateCause_Get(stop); c != rfc2866.AcctTerminateCause_Value_UserRequest {
		t.Errorf("Stop cause after the user's logout: %v, want User-Request", c)
	}
}

func checkCounters(t *testing.T, what string, p *radius.Packet, row map[string]string) {
	t.Helper()
	u := func(k string) uint64 { n, _ := strconv.ParseUint(row[k], 10, 64); return n }
	got := [4]uint64{
		uint64(rfc2869.AcctInputGigawords_Get(p))<<32 | uint64(rfc2866.AcctInputOctets_Get(p)),
		uint64(rfc2869.AcctOutputGigawords_Get(p))<<32 | uint64(rfc2866.AcctOutputOctets_Get(p)),
		uint64(rfc2866.AcctInputPackets_Get(p)), uint64(rfc2866.AcctOutputPackets_Get(p)),
	}
	want := [4]uint64{u("bytes-in"), u("bytes-out"), u("packets-in"), u("packets-out")}
	if got != want || want[0] == 0 {
		t.Errorf("%s counters (in, out, packets in, out): got %v, want %v (non-zero)", what, got, want)
	}
}

func TestRadiusAccountingRetransmits(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("gina", "pw", nil)
	g.srv.set(func(s *radServer) { s.dropAcct = 2 })
	id, err := g.r.LoginHotspotPassword("gina", "pw", "AA:BB:CC:00:03:01", "10.5.50.31")
	if err != nil {
		t.Fatal(err)
	}
	sid := hotspotAcctID(id)
	starts := g.waitAcct(sid, rfc2866.AcctStatusType_Value_Start, 3)
	for _, p := range starts[1:] {
		if p.Identifier != starts[0].Identifier || p.Authenticator != starts[0].Authenticator {
			t.Errorf("retransmit changed the packet: id %d→%d", starts[0].Identifier, p.Identifier)
		}
	}
	testkit.Eventually(t, 5*time.Second, "Start answered", func() bool { return g.r.RadiusStats().AcctAnswered == 1 })

	// Answers lost: the Stop stays pending and is sent again until answered.
	g.r.SetRadiusFaults(sim.RadiusFaults{DeafAccounting: true})
	if err := g.r.Logout(id); err != nil {
		t.Fatal(err)
	}
	g.waitAcct(sid, rfc2866.AcctStatusType_Value_Stop, radiusTriesInTest+1) // a second attempt, later
	if st := g.r.RadiusStats(); st.AcctPending != 1 {
		t.Errorf("pending while unanswered: %+v", st)
	}
	g.r.SetRadiusFaults(sim.RadiusFaults{})
	testkit.Eventually(t, 10*time.Second, "Stop answered after the server came back", func() bool {
		st := g.r.RadiusStats()
		return st.AcctPending == 0 && st.AcctAnswered == 2
	})
	stops := g.acctOf(sid, rfc2866.AcctStatusType_Value_Stop)
	for _, p := range stops[1:] {
		if p.Identifier != stops[0].Identifier {
			t.Errorf("Stop resent with a new identifier %d, first %d", p.Identifier, stops[0].Identifier)
		}
	}
}

// radiusTriesInTest is the sends of one attempt (first + retransmits).
const radiusTriesInTest = 3

func TestRadiusTotalLimitEndsSession(t *testing.T) {
	g := startRadRig(t)
	g.srv.setUser("hank", "pw", func(p *radius.Packet) { mikrotik.MikrotikTotalLimit_Set(p, 1000) })
	id, err := g.r.LoginHotspotPassword("hank", "pw", "AA:BB:CC:00:04:01", "10.5.50.41")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "session ended at its total limit", func() bool {
		g.r.Tick()
		return g.active(id) == nil
	})
	stop := g.waitAcct(hotspotAcctID(id), rfc2866.AcctStatusType_Value_Stop, 1)[0]
	if c := rfc2866.AcctTerminateCause_Get(stop); c != rfc2866.AcctTerminateCause_Value_NASRequest {
		t.Errorf("cause: %v", c)
	}
}

// incoming sends a CoA/Disconnect request to the router's /radius incoming.
func (g *radRig) incoming(code radius.Code, secret string, set func(*radius.Packet)) (*radius.Packet, error) {
	g.t.Helper()
	addr := g.r.RadiusIncomingAddr()
	if addr == "" {
		g.t.Fatal("/radius incoming is not listening")
	}
	p := radius.New(code, []byte(secret))
	set(p)
	ctx, cancel := context.WithTimeout(g.t.Context(), 500*time.Millisecond)
	defer cancel()
	return radius.Exchange(ctx, p, addr)
}

func TestRadiusIncomingDisconnectAndCoA(t *testing.T) {
	g := startRadRig(t)
	if g.r.RadiusIncomingAddr() != "" {
		t.Fatal("listening with accept=no")
	}
	g.run("/radius/incoming/set", "=accept=yes")
	g.srv.setUser("ivy", "pw", nil)
	id, err := g.r.LoginHotspotPassword("ivy", "pw", "AA:BB:CC:00:05:01", "10.5.50.51")
	if err != nil {
		t.Fatal(err)
	}
	sid := hotspotAcctID(id)

	// CoA: new rate limit and session timeout on the live session.
	resp, err := g.incoming(radius.CodeCoARequest, radSecret, func(p *radius.Packet) {
		rfc2866.AcctSessionID_SetString(p, sid)
		mikrotik.MikrotikRateLimit_SetString(p, "5M/10M")
		rfc2865.SessionTimeout_Set(p, 600)
	})
	if err != nil || resp.Code != radius.CodeCoAACK {
		t.Fatalf("CoA: %v %v", resp, err)
	}
	if row := g.active(id); row["rate-limit"] != "5M/10M" || row["session-time-left"] != "10m" {
		t.Errorf("after CoA: %v", row)
	}

	// Unknown session: NAK 503.
	resp, err = g.incoming(radius.CodeDisconnectRequest, radSecret, func(p *radius.Packet) {
		rfc2866.AcctSessionID_SetString(p, "0000FFFF")
	})
	if err != nil || resp.Code != radius.CodeDisconnectNAK || rfc3576.ErrorCause_Get(resp) != rfc3576.ErrorCause_Value_SessionContextNotFound {
		t.Errorf("unknown session: %v %v", resp, err)
	}

	// Wrong secret: dropped, no answer.
	if _, err := g.incoming(radius.CodeDisconnectRequest, "not-the-secret", func(p *radius.Packet) {
		rfc2866.AcctSessionID_SetString(p, sid)
	}); err == nil {
		t.Error("a request with the wrong secret was answered")
	}
	if g.active(id) == nil {
		t.Fatal("the wrong secret ended the session")
	}

	// Disconnect with a Message-Authenticator, by user name: ACK, session
	// ends with a Stop (Admin-Reset).
	resp, err = g.incoming(radius.CodeDisconnectRequest, radSecret, func(p *radius.Packet) {
		rfc2865.UserName_SetString(p, "ivy")
		rfc2865.FramedIPAddress_Set(p, net.IPv4(10, 5, 50, 51))
		signMA(p, [16]byte{})
	})
	if err != nil || resp.Code != radius.CodeDisconnectACK {
		t.Fatalf("Disconnect: %v %v", resp, err)
	}
	if !hmacOK(resp) {
		t.Error("Disconnect-ACK without a valid Message-Authenticator")
	}
	if g.active(id) != nil {
		t.Error("session still active after Disconnect-ACK")
	}
	stop := g.waitAcct(sid, rfc2866.AcctStatusType_Value_Stop, 1)[0]
	if c := rfc2866.AcctTerminateCause_Get(stop); c != rfc2866.AcctTerminateCause_Value_AdminReset {
		t.Errorf("Stop cause: %v, want Admin-Reset", c)
	}
	st := g.r.RadiusStats()
	if st.CoAACKs != 1 || st.DisconnectACKs != 1 || st.DisconnectNAKs != 1 || st.IncomingDropped != 1 {
		t.Errorf("stats: %+v", st)
	}

	// PPPoE by its session-id.
	g.srv.setUser("home-2", "pw2", nil)
	pid, err := g.r.DialPPPoE(t.Context(), "home-2", "pw2", "AA:BB:CC:00:05:02", "10.20.0.52")
	if err != nil {
		t.Fatal(err)
	}
	resp, err = g.incoming(radius.CodeDisconnectRequest, radSecret, func(p *radius.Packet) {
		rfc2866.AcctSessionID_SetString(p, g.active(pid)["session-id"])
	})
	if err != nil || resp.Code != radius.CodeDisconnectACK || g.active(pid) != nil {
		t.Errorf("PPPoE disconnect: %v %v, row %v", resp, err, g.active(pid))
	}

	g.run("/radius/incoming/set", "=accept=no")
	if g.r.RadiusIncomingAddr() != "" {
		t.Error("still listening after accept=no")
	}
}

// hmacOK checks a response's Message-Authenticator. The request
// authenticator is not known here, so it only checks presence and length;
// the router's own check (TestRadiusRequiresMessageAuthenticatorInAnswers)
// covers the computation, which is shared.
func hmacOK(p *radius.Packet) bool { return len(rfc2869.MessageAuthenticator_Get(p)) == 16 }

func TestRadiusIncomingAddrConfigurable(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	r := startRouter(t, sim.Config{RadiusIncomingAddr: addr})
	c := dial(t, r, "admin", "")
	rows(t, c, "/radius/incoming/set", "=accept=yes")
	if got := r.RadiusIncomingAddr(); got != addr {
		t.Errorf("incoming addr: got %q, want %q", got, addr)
	}
}

func FuzzRadiusIncoming(f *testing.F) {
	r := sim.New(sim.Config{TrafficInterval: -1, HotspotSessions: 2, PPPSessions: 1, Seed: 3})
	f.Cleanup(func() { r.Close() })
	c := startFuzzConfig(f, r)
	_ = c
	for _, code := range []radius.Code{radius.CodeDisconnectRequest, radius.CodeCoARequest} {
		for _, set := range []func(*radius.Packet){
			func(p *radius.Packet) { rfc2866.AcctSessionID_SetString(p, "00000001") },
			func(p *radius.Packet) { rfc2866.AcctSessionID_SetString(p, "0x81A00001") },
			func(p *radius.Packet) {
				rfc2865.UserName_SetString(p, "x")
				mikrotik.MikrotikRateLimit_SetString(p, "1M/1M")
				signMA(p, [16]byte{})
			},
			func(p *radius.Packet) { rfc2865.FramedIPAddress_Set(p, net.IPv4(10, 5, 50, 3)) },
		} {
			p := radius.New(code, []byte(radSecret))
			set(p)
			b, err := p.Encode()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{40, 1, 0, 20})
	f.Add(make([]byte, 20))
	src := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, b []byte) {
		resp := r.HandleRadiusIncoming(b, src)
		if resp == nil {
			return
		}
		if _, err := radius.Parse(resp, []byte(radSecret)); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if !radius.IsAuthenticResponse(resp, b, []byte(radSecret)) {
			t.Fatal("answer is not authentic")
		}
	})
}

// startFuzzConfig gives the fuzz router a /radius entry for 127.0.0.1.
func startFuzzConfig(f *testing.F, r *sim.Router) *routeros.Client {
	if err := r.Start(context.Background(), "127.0.0.1:0"); err != nil {
		f.Fatal(err)
	}
	c, err := routeros.DialTimeout(r.Addr(), "admin", "", 5*time.Second)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	if _, err := c.RunArgs([]string{"/radius/add", "=service=hotspot,ppp", "=address=127.0.0.1", "=secret=" + radSecret}); err != nil {
		f.Fatal(err)
	}
	return c
}
