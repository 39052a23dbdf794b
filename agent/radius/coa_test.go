package radius

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3576"
	"layeh.com/radius/vendors/mikrotik"
)

// fakeNAS is a router's /radius incoming: layeh's PacketServer (which
// checks the request authenticator) answering with answer.
type fakeNAS struct {
	addr   string
	mu     sync.Mutex
	got    []*radius.Packet
	answer func(w radius.ResponseWriter, r *radius.Request)
}

func startNAS(t *testing.T, secret []byte, answer func(w radius.ResponseWriter, r *radius.Request)) *fakeNAS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &fakeNAS{addr: pc.LocalAddr().String(), answer: answer}
	srv := &radius.PacketServer{
		SecretSource: radius.StaticSecretSource(secret),
		ErrorLog:     log.New(io.Discard, "", 0),
		Handler: radius.HandlerFunc(func(w radius.ResponseWriter, r *radius.Request) {
			n.mu.Lock()
			n.got = append(n.got, r.Packet)
			n.mu.Unlock()
			n.answer(w, r)
		}),
	}
	go srv.Serve(pc)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return n
}

func (n *fakeNAS) requests() []*radius.Packet {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*radius.Packet(nil), n.got...)
}

// reply answers r with code, signed the FreeRADIUS way (over zeros), plus
// what add puts in.
func reply(t *testing.T, code radius.Code, add func(*radius.Packet)) func(radius.ResponseWriter, *radius.Request) {
	return replySigned(t, code, false, add)
}

// replySigned signs over the request's authenticator when overRequest
// (RFC 5176 §3.3 read literally), else over zeros.
func replySigned(t *testing.T, code radius.Code, overRequest bool, add func(*radius.Packet)) func(radius.ResponseWriter, *radius.Request) {
	return func(w radius.ResponseWriter, r *radius.Request) {
		resp := r.Response(code)
		if add != nil {
			add(resp)
		}
		var auth [16]byte
		if overRequest {
			auth = r.Authenticator
		}
		if err := signMessageAuthenticator(resp, auth); err != nil {
			t.Error(err)
		}
		_ = w.Write(resp)
	}
}

func fastRetries(t *testing.T, timeout time.Duration) {
	old, oldTries := coaTimeout, coaTries
	coaTimeout, coaTries = timeout, 3
	t.Cleanup(func() { coaTimeout, coaTries = old, oldTries })
}

func TestDisconnectACK(t *testing.T) {
	nas := startNAS(t, testSecret, reply(t, radius.CodeDisconnectACK, nil))
	target := Target{User: "alice", AcctSessionID: "0000001A", IP: "10.5.0.7", MAC: "aa-bb-cc-dd-ee-0f"}
	before := time.Now().Add(-time.Second)
	if err := Disconnect(context.Background(), nas.addr, testSecret, target); err != nil {
		t.Fatal(err)
	}
	got := nas.requests()
	if len(got) != 1 {
		t.Fatalf("requests: %d", len(got))
	}
	p := got[0]
	if p.Code != radius.CodeDisconnectRequest {
		t.Errorf("code %v", p.Code)
	}
	if rfc2865.UserName_GetString(p) != "alice" || rfc2866.AcctSessionID_GetString(p) != "0000001A" ||
		rfc2865.FramedIPAddress_Get(p).String() != "10.5.0.7" || rfc2865.CallingStationID_GetString(p) != "AA:BB:CC:DD:EE:0F" {
		t.Errorf("attributes: %v", p.Attributes)
	}
	if ts := rfc2869.EventTimestamp_Get(p); ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("Event-Timestamp %v", ts)
	}
	if present, err := checkMessageAuthenticator(p, [16]byte{}); !present || err != nil {
		t.Errorf("Message-Authenticator present %v, err %v", present, err)
	}
}

func TestChangeAuthorizationACK(t *testing.T) {
	nas := startNAS(t, testSecret, replySigned(t, radius.CodeCoAACK, true, nil))
	d := Decision{Accept: true, Reason: "not sent", RateLimit: "1M/2M", SessionTimeout: time.Hour}
	if err := ChangeAuthorization(context.Background(), nas.addr, testSecret, Target{AcctSessionID: "0x81500001"}, d); err != nil {
		t.Fatal(err)
	}
	p := nas.requests()[0]
	if p.Code != radius.CodeCoARequest || mikrotik.MikrotikRateLimit_GetString(p) != "1M/2M" || rfc2865.SessionTimeout_Get(p) != 3600 {
		t.Errorf("CoA-Request %v: %v", p.Code, p.Attributes)
	}
	if _, ok := p.Lookup(rfc2865.ReplyMessage_Type); ok {
		t.Error("Reason sent")
	}
	if _, ok := p.Lookup(rfc2865.UserName_Type); ok {
		t.Error("empty User-Name sent")
	}
}

func TestDisconnectNAK(t *testing.T) {
	nas := startNAS(t, testSecret, reply(t, radius.CodeDisconnectNAK, func(p *radius.Packet) {
		_ = rfc3576.ErrorCause_Add(p, rfc3576.ErrorCause_Value_SessionContextNotFound)
	}))
	err := Disconnect(context.Background(), nas.addr, testSecret, Target{AcctSessionID: "00000099"})
	if !errors.Is(err, ErrNAK) {
		t.Fatalf("got %v, want ErrNAK", err)
	}
	var nak *NAKError
	if !errors.As(err, &nak) || nak.Cause != 503 || nak.Code != radius.CodeDisconnectNAK {
		t.Errorf("got %#v", err)
	}
	if want := "radius: Disconnect-NAK: 503 Session-Context-Not-Found"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if n := len(nas.requests()); n != 1 {
		t.Errorf("a NAK is final, yet %d requests", n)
	}
}

func TestCoATimeout(t *testing.T) {
	fastRetries(t, 50*time.Millisecond)
	t.Run("silent router", func(t *testing.T) {
		nas := startNAS(t, testSecret, func(radius.ResponseWriter, *radius.Request) {})
		err := Disconnect(context.Background(), nas.addr, testSecret, Target{User: "alice"})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
		got := nas.requests()
		if len(got) != 3 {
			t.Fatalf("tries: %d, want 3", len(got))
		}
		for _, p := range got[1:] {
			if p.Identifier != got[0].Identifier || p.Authenticator != got[0].Authenticator {
				t.Error("a retry is not the same packet")
			}
		}
	})
	t.Run("answer signed with another secret", func(t *testing.T) {
		nas := startNAS(t, testSecret, func(w radius.ResponseWriter, r *radius.Request) {
			resp := r.Response(radius.CodeDisconnectACK)
			resp.Secret = []byte("wrong")
			_ = w.Write(resp)
		})
		if err := Disconnect(context.Background(), nas.addr, testSecret, Target{User: "alice"}); !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
	})
	t.Run("answer with a wrong Message-Authenticator", func(t *testing.T) {
		nas := startNAS(t, testSecret, func(w radius.ResponseWriter, r *radius.Request) {
			resp := r.Response(radius.CodeDisconnectACK)
			_ = rfc2869.MessageAuthenticator_Set(resp, make([]byte, 16))
			_ = w.Write(resp)
		})
		if err := Disconnect(context.Background(), nas.addr, testSecret, Target{User: "alice"}); !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
	})
	t.Run("ctx ends first", func(t *testing.T) {
		coaTimeout = 10 * time.Second
		nas := startNAS(t, testSecret, func(radius.ResponseWriter, *radius.Request) {})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := Disconnect(ctx, nas.addr, testSecret, Target{User: "alice"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

func TestCoARequestChecks(t *testing.T) {
	if err := Disconnect(context.Background(), "127.0.0.1:1", testSecret, Target{}); err == nil {
		t.Error("empty target accepted")
	}
	if err := Disconnect(context.Background(), "127.0.0.1:1", nil, Target{User: "a"}); err == nil {
		t.Error("empty secret accepted")
	}
	if err := Disconnect(context.Background(), "127.0.0.1:1", testSecret, Target{IP: "fe80::1"}); err == nil {
		t.Error("IPv6 Framed-IP-Address accepted")
	}
}
