package firmwarescripts

import (
	"crypto/hmac"
	"crypto/md5"
	"io"
	"log"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/sitepulse/sitepulse/sim"
)

// agentStub is a stand-in for the agent's RADIUS server (agent/radius,
// built by another helper): it accepts one hotspot user by PAP or CHAP
// and counts what reaches it, which is all the script test needs.
type agentStub struct {
	auth, acct string
	mu         sync.Mutex
	requests   int
}

func startAgentStub(t *testing.T, secret, user, password string) *agentStub {
	t.Helper()
	a := &agentStub{}
	serve := func(h radius.HandlerFunc) string {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &radius.PacketServer{Handler: h, SecretSource: radius.StaticSecretSource([]byte(secret)), ErrorLog: log.New(io.Discard, "", 0)}
		go srv.Serve(pc)
		t.Cleanup(func() { pc.Close() })
		_, port, _ := net.SplitHostPort(pc.LocalAddr().String())
		return port
	}
	a.auth = serve(func(w radius.ResponseWriter, r *radius.Request) {
		a.mu.Lock()
		a.requests++
		a.mu.Unlock()
		ok := rfc2865.UserName_GetString(r.Packet) == user
		if cp := rfc2865.CHAPPassword_Get(r.Packet); len(cp) == 17 {
			h := md5.New()
			h.Write(cp[:1])
			h.Write([]byte(password))
			h.Write(rfc2865.CHAPChallenge_Get(r.Packet))
			ok = ok && hmac.Equal(h.Sum(nil), cp[1:])
		} else {
			ok = ok && rfc2865.UserPassword_GetString(r.Packet) == password
		}
		out := r.Response(radius.CodeAccessReject)
		if ok {
			out = r.Response(radius.CodeAccessAccept)
		}
		// Message-Authenticator: RouterOS 7.15+ requires it in answers.
		rfc2869.MessageAuthenticator_Set(out, make([]byte, 16))
		q := *out
		b, _ := q.MarshalBinary()
		h := hmac.New(md5.New, []byte(secret))
		h.Write(b)
		rfc2869.MessageAuthenticator_Set(out, h.Sum(nil))
		w.Write(out)
	})
	a.acct = serve(func(w radius.ResponseWriter, r *radius.Request) {
		w.Write(r.Response(radius.CodeAccountingResponse))
	})
	return a
}

// TestRadiusScriptIdempotent runs 04-radius.rsc twice: the same state
// after both runs, one /radius entry (a hand-made one for the agent's
// address adopted, not duplicated), and a hotspot login without a local
// user then goes to the agent.
func TestRadiusScriptIdempotent(t *testing.T) {
	scripts := loadScripts(t)
	g := startRig(t, "7.21.2 (stable)")
	stub := startAgentStub(t, "long-random-secret", "voucher-1", "pw")
	// What an ISP may have made by hand before: an entry for the agent.
	if _, err := g.script("by hand", "/radius\nadd service=login address=127.0.0.1 secret=old"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"spAgent": "127.0.0.1", "spSecret": "long-random-secret",
		"spAuthPort": stub.auth, "spAcctPort": stub.acct}
	run := func() state {
		t.Helper()
		in := &Interpreter{R: apiRunner{g.c}, Sleep: g.clk.Sleep, Vars: vars}
		if err := in.Run(scripts["04-radius.rsc"]); err != nil {
			t.Fatal(err)
		}
		if bad := g.unknownFindKeys(in.Sent); len(bad) > 0 {
			t.Errorf("[find] on attributes the menus do not have: %v", bad)
		}
		return g.state()
	}
	first := run()
	second := run()
	if d := diffState(first, second); len(d) > 0 {
		t.Errorf("second run changed the router:\n%s", strings.Join(d, "\n"))
	}
	rads := g.print("/radius")
	if len(rads) != 1 {
		t.Fatalf("/radius entries: %d, want 1: %v", len(rads), rads)
	}
	want := map[string]string{"service": "ppp,hotspot", "address": "127.0.0.1", "comment": "SitePulse agent",
		"timeout": "3s", "authentication-port": stub.auth, "accounting-port": stub.acct}
	got := map[string]string{}
	for k := range want {
		got[k] = rads[0][k]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("/radius entry: got %v, want %v", got, want)
	}

	// The router now asks the agent for users it does not have.
	if _, err := g.r.HotspotLogin(t.Context(), sim.HotspotLoginRequest{User: "voucher-1", Password: "pw", MAC: "AA:BB:CC:00:00:01", IP: "10.5.50.2"}); err != nil {
		t.Fatalf("hotspot login through the agent: %v", err)
	}
	if _, err := g.r.HotspotLogin(t.Context(), sim.HotspotLoginRequest{User: "voucher-2", Password: "pw", MAC: "AA:BB:CC:00:00:02", IP: "10.5.50.3", LoginBy: "pap"}); err == nil {
		t.Error("a user the agent does not know got in")
	}
	stub.mu.Lock()
	n := stub.requests
	stub.mu.Unlock()
	if n != 2 {
		t.Errorf("Access-Requests at the agent: %d, want 2", n)
	}
	if addr := g.r.RadiusIncomingAddr(); addr == "" {
		t.Error("/radius incoming not listening after accept=yes")
	}

	// The uninstall script removes it all again.
	if _, err := g.script("99-uninstall.rsc", scripts["99-uninstall.rsc"]); err != nil {
		t.Fatal(err)
	}
	if rads := g.print("/radius"); len(rads) != 0 {
		t.Errorf("/radius after uninstall: %v", rads)
	}
	if got := g.one("/ppp/aaa"); got["use-radius"] != "false" {
		t.Errorf("/ppp aaa after uninstall: %v", got)
	}
}
