package radius

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3576"

	"github.com/sitepulse/sitepulse/protocol"
)

// fuzzDecider knows alice (clear text) on the hotspot and pppuser (NT hash)
// on PPP, accepts with every limit set, and records nothing.
type fuzzDecider struct{}

func (fuzzDecider) Credentials(kind protocol.SessionKind, user string) (Secret, bool) {
	switch {
	case kind == protocol.KindHotspot && user == "alice":
		return Secret{Password: testPassword}, true
	case kind == protocol.KindPPPoE && user == "pppuser":
		return Secret{NTHash: NTHash(testPassword), HasNT: true}, true
	}
	return Secret{}, false
}

func (fuzzDecider) Decide(context.Context, Request) Decision {
	return Decision{Accept: true, Profile: "p", RateLimit: "1M/1M", SessionTimeout: time.Hour, TotalLimit: 5 << 30,
		InterimInterval: time.Minute, FramedPool: "pool"}
}

func (fuzzDecider) Account(context.Context, Accounting) error { return nil }

// FuzzHandle runs the whole path of a datagram — parse, authenticator and
// Message-Authenticator checks, duplicate cache, password check, decision,
// accounting parse, reply — on both ports. Whatever comes in, it must not
// panic, and any reply must be a well-formed, authentic answer to it.
func FuzzHandle(f *testing.F) {
	pap := papRequest(f, "alice", testPassword)
	chap := chapRequest(f, "alice", testPassword, []byte("0123456789abcdef"))
	chapNoChallenge := chapRequest(f, "alice", testPassword, nil)
	ms2, _, _, _ := mschapv2Request(f, "pppuser", testPassword)
	ms2Wrong, _, _, _ := mschapv2Request(f, "pppuser", "wrong")
	unsigned := accessRequest("alice")
	_ = rfc2865.UserPassword_SetString(unsigned, testPassword)
	acct := acctRequest(f, rfc2866.AcctStatusType_Value_InterimUpdate, "0000001A")
	_ = rfc2869.AcctInputGigawords_Set(acct, 3)
	_ = rfc2869.EventTimestamp_Set(acct, time.Unix(1796673600, 0))
	acctSigned := sign(f, acctRequest(f, rfc2866.AcctStatusType_Value_Stop, "0000001A"))
	for _, p := range []*radius.Packet{pap, chap, chapNoChallenge, ms2, ms2Wrong, unsigned, acct, acctSigned} {
		f.Add(encode(f, p))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 2})

	s, err := NewServer(Config{AuthAddr: ":0", Secret: testSecret, Decider: fuzzDecider{}})
	if err != nil {
		f.Fatal(err)
	}
	src := netip.MustParseAddrPort("192.0.2.1:1812")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, acct := range []bool{false, true} {
			l := &listener{acct: acct, dups: newDupCache(16, dupWindow)}
			out := s.handle(context.Background(), l, src, b, time.Unix(1796673600, 0))
			if out.reply == nil {
				continue
			}
			resp, err := radius.Parse(out.reply, testSecret)
			if err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			n := binary.BigEndian.Uint16(b[2:4])
			if !radius.IsAuthenticResponse(out.reply, b[:n], testSecret) || resp.Identifier != b[1] {
				t.Fatal("reply not authentic for its request")
			}
			if has, err := checkMessageAuthenticator(resp, replyHMACAuthenticator(resp.Code, [16]byte(b[4:20]))); err != nil || (!has && !acct) {
				t.Fatalf("reply Message-Authenticator present %v, err %v", has, err)
			}
			switch {
			case acct && resp.Code == radius.CodeAccountingResponse:
			case !acct && (resp.Code == radius.CodeAccessAccept || resp.Code == radius.CodeAccessReject):
			default:
				t.Fatalf("%v on the %v port", resp.Code, map[bool]string{false: "auth", true: "accounting"}[acct])
			}
			// The same bytes again are a retransmission: the same reply.
			again := s.handle(context.Background(), l, src, b, time.Unix(1796673601, 0))
			if string(again.reply) != string(out.reply) {
				t.Fatal("retransmission answered differently")
			}
		}
	})
}

// FuzzSignedRequest reaches past the signature checks that stop most of
// FuzzHandle's mutations: it takes arbitrary attributes (and request
// authenticator), signs them as the router would, and runs the whole path,
// so that the password checks, the accounting parse and the replies see
// every kind of attribute content.
func FuzzSignedRequest(f *testing.F) {
	seed := func(acct bool, p *radius.Packet) {
		b := encode(f, p)
		f.Add(acct, b[4:20], b[20:])
	}
	ms2, _, _, _ := mschapv2Request(f, "pppuser", testPassword)
	seed(false, papRequest(f, "alice", testPassword))
	seed(false, chapRequest(f, "alice", testPassword, []byte("0123456789abcdef")))
	seed(false, ms2)
	acct := acctRequest(f, rfc2866.AcctStatusType_Value_Stop, "0000001A")
	_ = rfc2866.AcctTerminateCause_Set(acct, rfc2866.AcctTerminateCause_Value_AdminReset)
	_ = rfc2869.AcctOutputGigawords_Set(acct, 1)
	seed(true, acct)

	s, err := NewServer(Config{AuthAddr: ":0", Secret: testSecret, Decider: fuzzDecider{}, RequireMessageAuthenticator: true})
	if err != nil {
		f.Fatal(err)
	}
	src := netip.MustParseAddrPort("192.0.2.1:1812")
	f.Fuzz(func(t *testing.T, acct bool, auth, attrs []byte) {
		as, err := radius.ParseAttributes(attrs)
		if err != nil {
			return
		}
		p := &radius.Packet{Code: radius.CodeAccessRequest, Identifier: 7, Secret: testSecret, Attributes: as}
		if acct {
			p.Code = radius.CodeAccountingRequest
		}
		copy(p.Authenticator[:], auth)
		if err := signMessageAuthenticator(p, hmacAuthenticator(p)); err != nil {
			return
		}
		b, err := p.Encode()
		if err != nil {
			return
		}
		l := &listener{acct: acct, dups: newDupCache(16, dupWindow)}
		out := s.handle(context.Background(), l, src, b, time.Unix(1796673600, 0))
		if out.reply == nil {
			if !acct {
				t.Fatal("a signed Access-Request got no answer")
			}
			return
		}
		if !radius.IsAuthenticResponse(out.reply, b, testSecret) {
			t.Fatal("reply not authentic for its request")
		}
		resp, err := radius.Parse(out.reply, testSecret)
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if has, err := checkMessageAuthenticator(resp, replyHMACAuthenticator(resp.Code, [16]byte(b[4:20]))); !has || err != nil {
			t.Fatalf("reply Message-Authenticator present %v, err %v", has, err)
		}
	})
}

// FuzzCoAResponse feeds arbitrary bytes as the answer to a
// Disconnect-Request: only an authentic ACK or NAK to that request may be
// taken.
func FuzzCoAResponse(f *testing.F) {
	req, err := newCoARequest(radius.CodeDisconnectRequest, testSecret, Target{User: "alice", AcctSessionID: "0000001A"}, nil, time.Unix(1796673600, 0))
	if err != nil {
		f.Fatal(err)
	}
	p, err := radius.Parse(req, testSecret)
	if err != nil {
		f.Fatal(err)
	}
	for _, code := range []radius.Code{radius.CodeDisconnectACK, radius.CodeDisconnectNAK, radius.CodeCoAACK} {
		r := p.Response(code)
		if code == radius.CodeDisconnectNAK {
			_ = rfc3576.ErrorCause_Add(r, rfc3576.ErrorCause_Value_SessionContextNotFound)
		}
		_ = signMessageAuthenticator(r, p.Authenticator)
		f.Add(encode(f, r))
	}
	f.Add([]byte{41, req[1], 0, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := parseCoAResponse(req, b, testSecret)
		if err != nil {
			return
		}
		if resp.Code != radius.CodeDisconnectACK && resp.Code != radius.CodeDisconnectNAK {
			t.Fatalf("took %v as an answer to a Disconnect-Request", resp.Code)
		}
		if resp.Identifier != req[1] || !radius.IsAuthenticResponse(b, req, testSecret) {
			t.Fatal("took an answer that is not authentic")
		}
	})
}
