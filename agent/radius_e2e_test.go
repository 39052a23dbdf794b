package agent_test

// The agent's RADIUS over UDP with the real agent/radius server, driven
// by layeh's client as the router would be.

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"net"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/mikrotik"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// coaListener is a tiny UDP server standing in for the router's /radius
// incoming (port 3799): it ACKs every Disconnect-Request and records its
// Acct-Session-Id. The simulator's RADIUS client (helper simrad) replaces
// it in the end-to-end suites.
type coaListener struct {
	addr string
	mu   sync.Mutex
	got  []string
}

func startCoAListener(t *testing.T) *coaListener {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &coaListener{addr: pc.LocalAddr().String()}
	srv := &radius.PacketServer{
		SecretSource: radius.StaticSecretSource([]byte(testRadiusSecret)),
		Handler: radius.HandlerFunc(func(w radius.ResponseWriter, r *radius.Request) {
			if r.Code != radius.CodeDisconnectRequest {
				_ = w.Write(r.Response(radius.CodeCoANAK))
				return
			}
			l.mu.Lock()
			l.got = append(l.got, rfc2866.AcctSessionID_GetString(r.Packet))
			l.mu.Unlock()
			_ = w.Write(r.Response(radius.CodeDisconnectACK))
		}),
	}
	go func() { _ = srv.Serve(pc) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return l
}

func (l *coaListener) count(acct string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.got {
		if a == acct {
			n++
		}
	}
	return n
}

// withMessageAuthenticator signs an Access-Request (RFC 3579 3.2), as
// RouterOS 7.15+ does and --radius-require-message-authenticator wants.
func withMessageAuthenticator(t *testing.T, p *radius.Packet) {
	t.Helper()
	if err := rfc2869.MessageAuthenticator_Set(p, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	raw, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(md5.New, p.Secret)
	h.Write(raw)
	if err := rfc2869.MessageAuthenticator_Set(p, h.Sum(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestRadiusOverUDP(t *testing.T) {
	g := startRadiusRig(t)
	coa := startCoAListener(t)
	// Again without the recorder: the real Disconnect client talks to
	// coaListener.
	g.a.stop(t)
	g.cfg.RadiusCoAAddr = coa.addr
	a := startAgent(t, g.cfg)
	waitReady(t, a, g.rcv)
	var auth, acct net.Addr
	testkit.Eventually(t, 10*time.Second, "radius listening", func() bool {
		auth, acct = a.RadiusAddrs()
		return auth != nil && acct != nil
	})
	ctx := context.Background()
	secret := []byte(testRadiusSecret)
	head := g.cp.held
	g.cp.send(t, protocol.AuthRadius, head, head+1, head+1, protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "alice", Password: "alice-pw",
		Profile: "gold", RateLimit: "2M/5M", ExpiresAt: time.Now().Add(time.Hour)})
	testkit.Eventually(t, 10*time.Second, "entry synced", func() bool { v, _ := a.RadiusState(); return v == head+1 })

	login := func(pw, acctID string) *radius.Packet {
		t.Helper()
		p := radius.New(radius.CodeAccessRequest, secret)
		_ = rfc2865.UserName_SetString(p, "alice")
		_ = rfc2865.UserPassword_SetString(p, pw)
		_ = rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_LoginUser)
		_ = rfc2865.CallingStationID_SetString(p, mac(1))
		_ = rfc2865.NASIdentifier_SetString(p, "hq-core")
		_ = rfc2866.AcctSessionID_SetString(p, acctID)
		withMessageAuthenticator(t, p)
		resp, err := radius.Exchange(ctx, p, auth.String())
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := login("alice-pw", "00000042")
	if resp.Code != radius.CodeAccessAccept || mikrotik.MikrotikRateLimit_GetString(resp) != "2M/5M" {
		t.Fatalf("login: %v rate %q, want Access-Accept with the rate limit", resp.Code, mikrotik.MikrotikRateLimit_GetString(resp))
	}
	if st := rfc2865.SessionTimeout_Get(resp); st < 3500 || st > 3600 {
		t.Fatalf("Session-Timeout %d, want the hour left", st)
	}
	if resp := login("wrong", "00000043"); resp.Code != radius.CodeAccessReject {
		t.Fatalf("wrong password: %v", resp.Code)
	}

	account := func(st rfc2866.AcctStatusType, cause rfc2866.AcctTerminateCause) {
		t.Helper()
		p := radius.New(radius.CodeAccountingRequest, secret)
		_ = rfc2866.AcctStatusType_Set(p, st)
		_ = rfc2866.AcctSessionID_SetString(p, "00000042")
		_ = rfc2865.UserName_SetString(p, "alice")
		_ = rfc2865.CallingStationID_SetString(p, mac(1))
		_ = rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_LoginUser)
		_ = rfc2866.AcctInputOctets_Set(p, 1000)
		_ = rfc2866.AcctOutputOctets_Set(p, 4000)
		if cause != 0 {
			_ = rfc2866.AcctTerminateCause_Set(p, cause)
		}
		resp, err := radius.Exchange(ctx, p, acct.String())
		if err != nil || resp.Code != radius.CodeAccountingResponse {
			t.Fatalf("accounting: %v %v", resp, err)
		}
	}
	account(rfc2866.AcctStatusType_Value_Start, 0)

	// A kick from the dashboard arrives at the router as a
	// Disconnect-Request for that session.
	g.br.sendCommand(t, protocol.Command{ID: "udp-kick", Kind: protocol.CmdHotspotActiveKick, Kick: &protocol.Kick{User: "alice"}})
	if res := final(t, g.rcv, "udp-kick", false); res.Status != protocol.ResultSucceeded {
		t.Fatalf("kick: %+v", res)
	}
	if coa.count("00000042") != 1 {
		t.Fatal("no Disconnect-Request for the kicked session")
	}
	account(rfc2866.AcctStatusType_Value_Stop, rfc2866.AcctTerminateCause_Value_AdminReset)
	waitPublished(t, a, g.rcv)
	started, ended := 0, 0
	for _, e := range g.rcv.events() {
		if e.Session == nil || e.Session.AcctSessionID != "00000042" {
			continue
		}
		switch e.Type {
		case protocol.EventSessionStarted:
			started++
		case protocol.EventSessionEnded:
			ended++
			if e.Reason != protocol.EndKicked || e.Session.BytesOut != 4000 {
				t.Errorf("end %+v reason %s", e.Session, e.Reason)
			}
		}
	}
	if started != 1 || ended != 1 {
		t.Fatalf("%d started, %d ended, want one each", started, ended)
	}
}
