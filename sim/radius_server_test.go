package sim_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"io"
	"log"
	"net"
	"sync"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/microsoft"
)

// radServer is a small RADIUS server for these tests, built with
// layeh.com/radius. The agent's real server (agent/radius) is being built
// by another helper against the same conventions (RADIUS.md); this one
// only checks what the simulated router sends and answers as told.
type radServer struct {
	t                  *testing.T
	secret             []byte
	authAddr, acctAddr string

	mu        sync.Mutex
	passwords map[string]string               // user → clear-text password
	reply     map[string]func(*radius.Packet) // user → attributes added to its Access-Accept
	rejectMsg string                          // Reply-Message of every Access-Reject
	badMSCHAP bool                            // answer MS-CHAPv2 with a wrong MS-CHAP2-Success
	noMA      bool                            // answer without Message-Authenticator
	dropAcct  int                             // leave the next N Accounting-Requests unanswered
	access    []*radius.Packet
	acct      []*radius.Packet
	badMA     int // requests whose Message-Authenticator was missing or wrong
}

func startRadServer(t *testing.T, secret string) *radServer {
	t.Helper()
	s := &radServer{t: t, secret: []byte(secret), passwords: map[string]string{}, reply: map[string]func(*radius.Packet){}}
	serve := func(h radius.HandlerFunc) string {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &radius.PacketServer{Handler: h, SecretSource: radius.StaticSecretSource(s.secret),
			ErrorLog: log.New(io.Discard, "", 0)}
		go srv.Serve(pc)
		t.Cleanup(func() { pc.Close() })
		return pc.LocalAddr().String()
	}
	s.authAddr = serve(s.serveAuth)
	s.acctAddr = serve(s.serveAcct)
	return s
}

func (s *radServer) port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func (s *radServer) setUser(name, password string, reply func(*radius.Packet)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passwords[name] = password
	if reply != nil {
		s.reply[name] = reply
	}
}

// set changes the server's behaviour under its lock.
func (s *radServer) set(f func(s *radServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *radServer) accessRequests() []*radius.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*radius.Packet(nil), s.access...)
}

func (s *radServer) acctRequests() []*radius.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*radius.Packet(nil), s.acct...)
}

// testMA is RFC 3579's Message-Authenticator of p with auth in the
// authenticator field.
func testMA(p *radius.Packet, auth [16]byte) []byte {
	q := *p
	q.Attributes = nil
	for _, a := range p.Attributes {
		if a.Type == rfc2869.MessageAuthenticator_Type {
			a = &radius.AVP{Type: a.Type, Attribute: make([]byte, 16)}
		}
		q.Attributes = append(q.Attributes, a)
	}
	q.Authenticator = auth
	b, err := q.MarshalBinary()
	if err != nil {
		panic(err)
	}
	h := hmac.New(md5.New, p.Secret)
	h.Write(b)
	return h.Sum(nil)
}

func signMA(p *radius.Packet, auth [16]byte) {
	rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	rfc2869.MessageAuthenticator_Set(p, testMA(p, auth))
}

func (s *radServer) serveAuth(w radius.ResponseWriter, r *radius.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = append(s.access, r.Packet)
	if ma := rfc2869.MessageAuthenticator_Get(r.Packet); !bytes.Equal(ma, testMA(r.Packet, r.Authenticator)) {
		s.badMA++
	}
	user := rfc2865.UserName_GetString(r.Packet)
	pw, known := s.passwords[user]
	ok := false
	var success []byte
	switch {
	case !known:
	case rfc2865.CHAPPassword_Get(r.Packet) != nil:
		cp := rfc2865.CHAPPassword_Get(r.Packet)
		ch := rfc2865.CHAPChallenge_Get(r.Packet)
		if len(cp) == 17 {
			h := md5.New()
			h.Write(cp[:1])
			h.Write([]byte(pw))
			h.Write(ch)
			ok = bytes.Equal(h.Sum(nil), cp[1:])
		}
	case microsoft.MSCHAP2Response_Get(r.Packet) != nil:
		ch := microsoft.MSCHAPChallenge_Get(r.Packet)
		resp := microsoft.MSCHAP2Response_Get(r.Packet)
		if len(ch) == 16 && len(resp) == 50 {
			nt, err := rfc2759.GenerateNTResponse(ch, resp[2:18], []byte(user), []byte(pw))
			ok = err == nil && bytes.Equal(nt, resp[26:])
			if ok {
				ar, _ := rfc2759.GenerateAuthenticatorResponse(ch, resp[2:18], resp[26:], []byte(user), []byte(pw))
				if s.badMSCHAP {
					ar = "S=0000000000000000000000000000000000000000"
				}
				success = append([]byte{resp[0]}, ar...)
			}
		}
	default:
		ok = rfc2865.UserPassword_GetString(r.Packet) == pw
	}
	var out *radius.Packet
	if ok {
		out = r.Response(radius.CodeAccessAccept)
		if success != nil {
			microsoft.MSCHAP2Success_Set(out, success)
		}
		if f := s.reply[user]; f != nil {
			f(out)
		}
	} else {
		out = r.Response(radius.CodeAccessReject)
		if s.rejectMsg != "" {
			rfc2865.ReplyMessage_SetString(out, s.rejectMsg)
		}
	}
	if !s.noMA {
		signMA(out, r.Authenticator)
	}
	w.Write(out)
}

func (s *radServer) serveAcct(w radius.ResponseWriter, r *radius.Request) {
	s.mu.Lock()
	s.acct = append(s.acct, r.Packet)
	drop := s.dropAcct > 0
	if drop {
		s.dropAcct--
	}
	s.mu.Unlock()
	if !drop {
		w.Write(r.Response(radius.CodeAccountingResponse))
	}
}
