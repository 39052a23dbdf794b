package radius

import (
	"bytes"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3079"
	"layeh.com/radius/vendors/microsoft"
	"layeh.com/radius/vendors/mikrotik"

	"github.com/sitepulse/sitepulse/protocol"
)

func TestPAP(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	s.dec.add(protocol.KindHotspot, "ntonly", Secret{NTHash: NTHash(testPassword), HasNT: true})
	s.dec.add(protocol.KindHotspot, "expired", Secret{Password: testPassword})
	s.dec.set(func(f *fakeDecider) {
		f.decide = func(r Request) Decision {
			if r.User == "expired" {
				return Decision{Reason: "subscription expired"}
			}
			return Decision{Accept: true, RateLimit: "2M/5M"}
		}
	})
	cases := []struct {
		name, user, password string
		code                 radius.Code
		msg                  string
	}{
		{"clear text", "alice", testPassword, radius.CodeAccessAccept, ""},
		{"nt hash only", "ntonly", testPassword, radius.CodeAccessAccept, ""},
		{"wrong password", "alice", "nope", radius.CodeAccessReject, msgInvalid},
		{"wrong password nt", "ntonly", "nope", radius.CodeAccessReject, msgInvalid},
		{"unknown user", "mallory", testPassword, radius.CodeAccessReject, msgInvalid},
		{"decider rejects", "expired", testPassword, radius.CodeAccessReject, "subscription expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := exchange(t, papRequest(t, c.user, c.password), s.AuthAddr())
			if resp.Code != c.code {
				t.Fatalf("code: got %v, want %v", resp.Code, c.code)
			}
			if got := rfc2865.ReplyMessage_GetString(resp); got != c.msg {
				t.Errorf("Reply-Message: got %q, want %q", got, c.msg)
			}
			if len(rfc2869.MessageAuthenticator_Get(resp)) != 16 {
				t.Error("reply without Message-Authenticator")
			}
		})
	}
	req := s.dec.lastRequest(t)
	want := Request{Kind: protocol.KindHotspot, User: "expired", MAC: "AA:BB:CC:DD:EE:0F", IP: "10.5.0.7",
		NASID: "site-a", NASIP: "192.0.2.1", Method: MethodPAP}
	if req != want {
		t.Errorf("Decider got %+v, want %+v", req, want)
	}
	if d, _, _ := s.dec.counts(); d != 3 {
		t.Errorf("Decide calls: got %d, want 3 (only after a good password)", d)
	}
	if got := s.requests(typeAccess, resultAccept); got != 2 {
		t.Errorf("accept count: got %v, want 2", got)
	}
	if got := s.requests(typeAccess, resultReject); got != 4 {
		t.Errorf("reject count: got %v, want 4", got)
	}
}

func TestAcceptCarriesTheDecision(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	s.dec.set(func(f *fakeDecider) {
		f.decide = func(Request) Decision {
			return Decision{Accept: true, Profile: "gold", RateLimit: "2M/5M", SessionTimeout: 90*time.Second + 700*time.Millisecond,
				TotalLimit: 5<<30 + 123, InterimInterval: 5 * time.Minute, FramedPool: "hs-pool"}
		}
	})
	p := accessRequest("alice")
	_ = rfc2865.UserPassword_SetString(p, testPassword)
	_ = rfc2869.NASPortID_SetString(p, "bridge-hs")
	_ = rfc2866.AcctSessionID_SetString(p, "0000001A")
	resp := exchange(t, sign(t, p), s.AuthAddr())
	if resp.Code != radius.CodeAccessAccept {
		t.Fatalf("got %v", resp.Code)
	}
	if got := mikrotik.MikrotikGroup_GetString(resp); got != "gold" {
		t.Errorf("Mikrotik-Group %q", got)
	}
	if got := mikrotik.MikrotikRateLimit_GetString(resp); got != "2M/5M" {
		t.Errorf("Mikrotik-Rate-Limit %q", got)
	}
	if got := rfc2865.SessionTimeout_Get(resp); got != 90 {
		t.Errorf("Session-Timeout %d, want 90", got)
	}
	if got := rfc2869.AcctInterimInterval_Get(resp); got != 300 {
		t.Errorf("Acct-Interim-Interval %d, want 300", got)
	}
	lo, hi := mikrotik.MikrotikTotalLimit_Get(resp), mikrotik.MikrotikTotalLimitGigawords_Get(resp)
	if got := uint64(hi)<<32 | uint64(lo); got != 5<<30+123 {
		t.Errorf("total limit %d (gigawords %d, limit %d)", got, hi, lo)
	}
	if got := rfc2869.FramedPool_GetString(resp); got != "hs-pool" {
		t.Errorf("Framed-Pool %q", got)
	}
	req := s.dec.lastRequest(t)
	if req.NASPortID != "bridge-hs" || req.AcctSessionID != "0000001A" {
		t.Errorf("Decider got NASPortID %q AcctSessionID %q", req.NASPortID, req.AcctSessionID)
	}

	// A minimal decision sends no limit attributes; a sub-second timeout is 1 s.
	s.dec.set(func(f *fakeDecider) {
		f.decide = func(Request) Decision { return Decision{Accept: true, SessionTimeout: time.Millisecond} }
	})
	resp = exchange(t, papRequest(t, "alice", testPassword), s.AuthAddr())
	if got := rfc2865.SessionTimeout_Get(resp); got != 1 {
		t.Errorf("Session-Timeout %d, want 1", got)
	}
	for _, typ := range []radius.Type{rfc2869.AcctInterimInterval_Type, rfc2869.FramedPool_Type, rfc2865.ReplyMessage_Type} {
		if _, ok := resp.Lookup(typ); ok {
			t.Errorf("attribute %d sent for an unset field", typ)
		}
	}
	if _, ok := resp.Lookup(rfc2865.VendorSpecific_Type); ok {
		t.Error("vendor attributes sent for unset fields")
	}
}

func TestCHAP(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	s.dec.add(protocol.KindHotspot, "ntonly", Secret{NTHash: NTHash(testPassword), HasNT: true})
	challenge := []byte("0123456789abcdef")
	cases := []struct {
		name, user, password string
		challenge            []byte
		code                 radius.Code
		msg                  string
	}{
		{"with CHAP-Challenge", "alice", testPassword, challenge, radius.CodeAccessAccept, ""},
		{"over the request authenticator", "alice", testPassword, nil, radius.CodeAccessAccept, ""},
		{"wrong password", "alice", "nope", challenge, radius.CodeAccessReject, msgInvalid},
		{"unknown user", "bob", testPassword, challenge, radius.CodeAccessReject, msgInvalid},
		{"only an NT hash", "ntonly", testPassword, challenge, radius.CodeAccessReject, msgNeedsText},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := exchange(t, chapRequest(t, c.user, c.password, c.challenge), s.AuthAddr())
			if resp.Code != c.code {
				t.Fatalf("code: got %v, want %v", resp.Code, c.code)
			}
			if got := rfc2865.ReplyMessage_GetString(resp); got != c.msg {
				t.Errorf("Reply-Message: got %q, want %q", got, c.msg)
			}
		})
	}
	if got := s.dec.lastRequest(t).Method; got != MethodCHAP {
		t.Errorf("method %q", got)
	}
}

func TestMSCHAPv2(t *testing.T) {
	s := startServer(t, nil)
	// PPP entries are synced with the NT hash only.
	s.dec.add(protocol.KindPPPoE, "pppuser", Secret{NTHash: NTHash(testPassword), HasNT: true})
	s.dec.add(protocol.KindPPPoE, "clear", Secret{Password: testPassword})
	s.dec.set(func(f *fakeDecider) {
		f.decide = func(Request) Decision { return Decision{Accept: true, RateLimit: "10M/10M", FramedPool: "ppp-pool"} }
	})

	for _, user := range []string{"pppuser", "clear"} {
		t.Run(user, func(t *testing.T) {
			req, authChallenge, peer, nt := mschapv2Request(t, user, testPassword)
			resp := exchange(t, req, s.AuthAddr())
			if resp.Code != radius.CodeAccessAccept {
				t.Fatalf("got %v (%s)", resp.Code, rfc2865.ReplyMessage_GetString(resp))
			}
			want, err := rfc2759.GenerateAuthenticatorResponse(authChallenge, peer, nt, []byte(user), []byte(testPassword))
			if err != nil {
				t.Fatal(err)
			}
			if got := microsoft.MSCHAP2Success_Get(resp); !bytes.Equal(got, append([]byte{7}, want...)) {
				t.Errorf("MS-CHAP2-Success %q, want ident 7 and %q", got, want)
			}
			for _, k := range []struct {
				name string
				get  func(p, q *radius.Packet) []byte
				send bool
			}{{"send", microsoft.MSMPPESendKey_Get, true}, {"recv", microsoft.MSMPPERecvKey_Get, false}} {
				want, _ := rfc3079.MakeKey(nt, []byte(testPassword), k.send)
				if got := k.get(resp, req); !bytes.Equal(got, want) {
					t.Errorf("MS-MPPE-%s-Key %x, want %x", k.name, got, want)
				}
			}
			if got := mikrotik.MikrotikRateLimit_GetString(resp); got != "10M/10M" {
				t.Errorf("Mikrotik-Rate-Limit %q", got)
			}
		})
	}
	r := s.dec.lastRequest(t)
	if r.Kind != protocol.KindPPPoE || r.Method != MethodMSCHAPv2 || r.MAC != "AA:BB:CC:00:00:01" {
		t.Errorf("Decider got %+v", r)
	}

	req, _, _, _ := mschapv2Request(t, "pppuser", "wrong")
	resp := exchange(t, req, s.AuthAddr())
	if resp.Code != radius.CodeAccessReject || rfc2865.ReplyMessage_GetString(resp) != msgInvalid {
		t.Fatalf("wrong password: %v %q", resp.Code, rfc2865.ReplyMessage_GetString(resp))
	}
	if e := microsoft.MSCHAPError_Get(resp); len(e) < 2 || e[0] != 7 || !bytes.HasPrefix(e[1:], []byte("E=691 ")) {
		t.Errorf("MS-CHAP-Error %q", e)
	}
	if len(microsoft.MSCHAP2Success_Get(resp)) != 0 {
		t.Error("reject with MS-CHAP2-Success")
	}
	// A hotspot account of the same name does not answer for PPP.
	s.dec.add(protocol.KindHotspot, "hsonly", Secret{Password: testPassword})
	req, _, _, _ = mschapv2Request(t, "hsonly", testPassword)
	if resp := exchange(t, req, s.AuthAddr()); resp.Code != radius.CodeAccessReject {
		t.Errorf("hotspot account accepted over PPP: %v", resp.Code)
	}
}

func TestMSCHAPv1(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "alice", Secret{NTHash: NTHash(testPassword), HasNT: true})
	for _, c := range []struct {
		password string
		code     radius.Code
	}{{testPassword, radius.CodeAccessAccept}, {"nope", radius.CodeAccessReject}} {
		p := accessRequest("alice")
		challenge := []byte("8octets!")
		nt := NTHash(c.password)
		resp := make([]byte, 50)
		resp[0], resp[1] = 3, 1
		copy(resp[26:], rfc2759.ChallengeResponse(challenge, nt[:]))
		_ = microsoft.MSCHAPChallenge_Set(p, challenge)
		_ = microsoft.MSCHAPResponse_Set(p, resp)
		got := exchange(t, sign(t, p), s.AuthAddr())
		if got.Code != c.code {
			t.Errorf("password %q: got %v, want %v", c.password, got.Code, c.code)
		}
	}
}

func TestAccountWithoutPasswordMatchesNothing(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "empty", Secret{})
	if resp := exchange(t, papRequest(t, "empty", ""), s.AuthAddr()); resp.Code != radius.CodeAccessReject {
		t.Errorf("empty password accepted: %v", resp.Code)
	}
	// No password attribute at all (EAP, say): rejected, Decider not asked.
	resp := exchange(t, sign(t, accessRequest("empty")), s.AuthAddr())
	if resp.Code != radius.CodeAccessReject {
		t.Errorf("request without a password attribute: %v", resp.Code)
	}
	if d, _, _ := s.dec.counts(); d != 0 {
		t.Errorf("Decide called %d times", d)
	}
}

// RFC 2759 §9.2's worked example.
func TestMSCHAPv2Vectors(t *testing.T) {
	unhex := func(s string) []byte {
		b := make([]byte, len(s)/2)
		for i := range b {
			var v byte
			for _, c := range []byte(s[2*i : 2*i+2]) {
				switch {
				case c >= '0' && c <= '9':
					v = v<<4 | (c - '0')
				default:
					v = v<<4 | (c - 'A' + 10)
				}
			}
			b[i] = v
		}
		return b
	}
	nt := NTHash("clientPass")
	if !bytes.Equal(nt[:], unhex("44EBBA8D5312B8D611474411F56989AE")) {
		t.Fatalf("NTHash %X", nt)
	}
	ch := rfc2759.ChallengeHash(unhex("21402324255E262A28295F2B3A337C7E"), unhex("5B5D7C7D7B3F2F3E3C2C602132262628"), []byte("User"))
	got := authenticatorResponse(rfc2759.NTPasswordHash(nt[:]), unhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"), ch)
	if string(got) != "S=407A5589115FD0D6209F510FE9C04566932CDA56" {
		t.Errorf("authenticator response %s", got)
	}
}

func TestNormalizeMAC(t *testing.T) {
	for in, want := range map[string]string{
		"aa:bb:cc:dd:ee:ff":   "AA:BB:CC:DD:EE:FF",
		"AA-BB-CC-DD-EE-FF":   "AA:BB:CC:DD:EE:FF",
		"aabb.ccdd.eeff":      "AA:BB:CC:DD:EE:FF",
		"aabbccddeeff":        "AA:BB:CC:DD:EE:FF",
		" 00:11:22:33:44:55 ": "00:11:22:33:44:55",
		"":                    "",
		"aabbccddeeff00":      "aabbccddeeff00",
		"not-a-mac":           "not-a-mac",
		"gg:bb:cc:dd:ee:ff":   "gg:bb:cc:dd:ee:ff",
	} {
		if got := NormalizeMAC(in); got != want {
			t.Errorf("NormalizeMAC(%q) = %q, want %q", in, got, want)
		}
	}
}
