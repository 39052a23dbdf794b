package radius

import (
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// Forged, tampered and malformed packets get no answer and are counted by
// reason; the Decider never sees them.
func TestDroppedAndCounted(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RequireMessageAuthenticator = true })
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})

	wrongSecret := func(p *radius.Packet) *radius.Packet { p.Secret = []byte("not-the-secret"); return p }
	tamper := func(b []byte) []byte { b[len(b)-1] ^= 1; return b }
	badMA := func() []byte {
		p := papRequest(t, "alice", testPassword)
		rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
		return encode(t, p)
	}
	twoMA := func() []byte {
		p := papRequest(t, "alice", testPassword)
		p.Add(rfc2869.MessageAuthenticator_Type, rfc2869.MessageAuthenticator_Get(p))
		return encode(t, p)
	}
	unsigned := func() []byte {
		p := accessRequest("alice")
		_ = rfc2865.UserPassword_SetString(p, testPassword)
		return encode(t, p)
	}
	acctBadMA := func() []byte {
		p := acctRequest(t, rfc2866.AcctStatusType_Value_Start, "1")
		_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
		return encode(t, p)
	}
	noStatus := func() []byte {
		p := radius.New(radius.CodeAccountingRequest, testSecret)
		_ = rfc2865.UserName_SetString(p, "alice")
		return encode(t, p)
	}
	cases := []struct {
		name   string
		acct   bool
		wire   []byte
		reason string
	}{
		{"garbage", false, []byte("GET / HTTP/1.1\r\n\r\n"), dropMalformed},
		{"short", false, []byte{1, 2, 0}, dropMalformed},
		{"length past the datagram", false, append([]byte{1, 9, 0x10, 0}, make([]byte, 40)...), dropMalformed},
		{"bad attribute length", false, append(append([]byte{1, 9, 0, 24}, make([]byte, 16)...), 1, 9, 0, 0), dropMalformed},
		{"access bad Message-Authenticator", false, badMA(), dropMsgAuth},
		{"access Message-Authenticator with a wrong secret", false, encode(t, sign(t, wrongSecret(papRequest(t, "alice", testPassword)))), dropMsgAuth},
		{"access tampered after signing", false, tamper(encode(t, papRequest(t, "alice", testPassword))), dropMsgAuth},
		{"two Message-Authenticators", false, twoMA(), dropMsgAuth},
		{"access without Message-Authenticator", false, unsigned(), dropNoMsgAuth},
		{"accounting on the auth port", false, encode(t, acctRequest(t, rfc2866.AcctStatusType_Value_Start, "1")), dropCode},
		{"accounting wrong secret", true, encode(t, wrongSecret(acctRequest(t, rfc2866.AcctStatusType_Value_Start, "1"))), dropAuthenticator},
		{"accounting tampered", true, tamper(encode(t, acctRequest(t, rfc2866.AcctStatusType_Value_Start, "1"))), dropAuthenticator},
		{"accounting bad Message-Authenticator", true, acctBadMA(), dropMsgAuth},
		{"accounting without Acct-Status-Type", true, noStatus(), dropMalformed},
		{"access on the accounting port", true, encode(t, papRequest(t, "alice", testPassword)), dropCode},
		{"accounting garbage", true, []byte{0xff}, dropMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := s.AuthAddr()
			if c.acct {
				addr = s.AcctAddr()
			}
			before := s.dropped(c.reason)
			conn := dialRaw(t, addr)
			conn.send(c.wire)
			testkit.Eventually(t, 0, "the drop counted as "+c.reason, func() bool { return s.dropped(c.reason) == before+1 })
			if got := conn.read(50 * time.Millisecond); got != nil {
				t.Errorf("answered: % x", got)
			}
		})
	}
	if d, calls, _ := s.dec.counts(); d != 0 || calls != 0 {
		t.Errorf("Decider saw dropped packets: %d Decide, %d Account", d, calls)
	}
	if got, want := s.requests(typeAccess, resultDropped)+s.requests(typeAccounting, resultDropped), float64(len(cases)); got != want {
		t.Errorf("dropped requests %v, want %v", got, want)
	}
	// A good request still gets its answer.
	if resp := exchange(t, papRequest(t, "alice", testPassword), s.AuthAddr()); resp.Code != radius.CodeAccessAccept {
		t.Errorf("good request after drops: %v", resp.Code)
	}
	if !s.logs.Contains("reason=bad_message_authenticator") {
		t.Errorf("drop not logged:\n%s", s.logs)
	}
}

// Without RequireMessageAuthenticator an unsigned Access-Request is
// answered (older RouterOS), and the answer is signed all the same.
func TestUnsignedAccessRequestAllowedWhenNotRequired(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	p := accessRequest("alice")
	_ = rfc2865.UserPassword_SetString(p, testPassword)
	resp := exchange(t, p, s.AuthAddr())
	if resp.Code != radius.CodeAccessAccept || len(rfc2869.MessageAuthenticator_Get(resp)) != 16 {
		t.Errorf("got %v, Message-Authenticator %x", resp.Code, rfc2869.MessageAuthenticator_Get(resp))
	}
	// A present one is checked all the same.
	bad := papRequest(t, "alice", testPassword)
	rfc2869.MessageAuthenticator_Set(bad, make([]byte, 16))
	c := dialRaw(t, s.AuthAddr())
	c.send(encode(t, bad))
	testkit.Eventually(t, 0, "the drop", func() bool { return s.dropped(dropMsgAuth) == 1 })
}

func TestNewServerChecksConfig(t *testing.T) {
	dec := &fakeDecider{}
	for name, cfg := range map[string]Config{
		"no secret":    {AuthAddr: ":0", Decider: dec},
		"no decider":   {AuthAddr: ":0", Secret: testSecret},
		"no listeners": {Secret: testSecret, Decider: dec},
	} {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// One Server per registry: a second one is refused, not a panic.
	s := startServer(t, nil)
	if _, err := NewServer(Config{AuthAddr: ":0", Secret: testSecret, Decider: dec, Registerer: s.reg}); err == nil {
		t.Error("second Server on one Registerer accepted")
	}
}
