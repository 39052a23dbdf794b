package main

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/mikrotik"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

// signMA adds RFC 3579's Message-Authenticator to an answer to a request
// with authenticator auth (the router requires one in answers).
func signMA(p *radius.Packet, auth [16]byte) {
	rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	q := *p
	q.Authenticator = auth
	b, _ := q.MarshalBinary()
	h := hmac.New(md5.New, p.Secret)
	h.Write(b)
	rfc2869.MessageAuthenticator_Set(p, h.Sum(nil))
}

// A tiny RADIUS server (layeh.com/radius) for the control API test: PAP
// and CHAP for "v1"/"pw" with a rate limit, a Reply-Message otherwise, and
// accounting answered. The agent's server is built by another helper; the
// sim package's tests check the packets in detail.
func startTestRadius(t *testing.T, secret string) (auth, acct string, stops chan *radius.Packet) {
	stops = make(chan *radius.Packet, 16)
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
	auth = serve(func(w radius.ResponseWriter, r *radius.Request) {
		ok := rfc2865.UserName_GetString(r.Packet) == "v1"
		if cp := rfc2865.CHAPPassword_Get(r.Packet); len(cp) == 17 {
			h := md5.New()
			h.Write(cp[:1])
			h.Write([]byte("pw"))
			h.Write(rfc2865.CHAPChallenge_Get(r.Packet))
			ok = ok && hmac.Equal(h.Sum(nil), cp[1:])
		} else {
			ok = ok && rfc2865.UserPassword_GetString(r.Packet) == "pw"
		}
		out := r.Response(radius.CodeAccessReject)
		if ok {
			out = r.Response(radius.CodeAccessAccept)
			mikrotik.MikrotikRateLimit_SetString(out, "3M/6M")
		} else {
			rfc2865.ReplyMessage_SetString(out, "no such voucher")
		}
		signMA(out, r.Authenticator)
		w.Write(out)
	})
	acct = serve(func(w radius.ResponseWriter, r *radius.Request) {
		if rfc2866.AcctStatusType_Get(r.Packet) == rfc2866.AcctStatusType_Value_Stop {
			stops <- r.Packet
		}
		w.Write(r.Response(radius.CodeAccountingResponse))
	})
	return auth, acct, stops
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func TestControlRadius(t *testing.T) {
	authPort, acctPort, stops := startTestRadius(t, "s3")
	m := NewMain()
	m.Stderr = io.Discard
	if err := m.ParseFlags([]string{"--api-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0",
		"--hotspot-sessions", "0", "--ppp-sessions", "0", "--churn", "0", "--traffic-interval", "1h"}); err != nil {
		t.Fatal(err)
	}
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := m.ControlURL()
	c, err := routeros.DialTimeout(m.Router().Addr(), "admin", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, words := range [][]string{
		{"/radius/add", "=service=hotspot", "=address=127.0.0.1", "=secret=s3", "=authentication-port=" + authPort,
			"=accounting-port=" + acctPort, "=timeout=100ms"},
		{"/radius/incoming/set", "=accept=yes"},
		{"/ip/hotspot/profile/set", "=numbers=hsprof1", "=use-radius=yes"},
	} {
		if _, err := c.RunArgs(words); err != nil {
			t.Fatalf("%v: %v", words, err)
		}
	}

	for _, by := range []string{"chap", "pap"} {
		body := postJSON(t, base+"/hotspot/login", `{"user":"v1","password":"pw","mac":"02:00:00:00:01:01","address":"10.5.50.7","login_by":"`+by+`"}`, http.StatusOK)
		id, _ := body["id"].(string)
		if body["ok"] != true || id == "" {
			t.Fatalf("%s login: %v", by, body)
		}
		rep, err := c.Run("/ip/hotspot/active/print", "?.id="+id)
		if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["rate-limit"] != "3M/6M" || rep.Re[0].Map["login-by"] != "http-"+by {
			t.Fatalf("%s session over the API: %v %v", by, rep, err)
		}
		post(t, base+"/logout?by=user&id="+id, http.StatusOK)
		select {
		case p := <-stops:
			if rfc2866.AcctTerminateCause_Get(p) != rfc2866.AcctTerminateCause_Value_UserRequest {
				t.Errorf("Stop cause: %v", rfc2866.AcctTerminateCause_Get(p))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no accounting Stop")
		}
	}
	body := postJSON(t, base+"/hotspot/login", `{"user":"v2","password":"pw"}`, http.StatusOK)
	if body["ok"] != false || body["error"] != "no such voucher" {
		t.Errorf("rejected login: %v", body)
	}
	postJSON(t, base+"/hotspot/login", `{"user":"v1","login_by":"mschap"}`, http.StatusBadRequest)
	postJSON(t, base+"/pppoe/dial", `{"user":"v1","login_by":"pap"}`, http.StatusBadRequest)
	post(t, base+"/logout?by=nobody&id=*1", http.StatusBadRequest)
	// PPP does not use RADIUS here (/ppp aaa use-radius=no) and has no such secret.
	if body := postJSON(t, base+"/pppoe/dial", `{"user":"v1","password":"pw"}`, http.StatusOK); body["ok"] != false || body["error"] != "invalid username or password" {
		t.Errorf("pppoe without radius: %v", body)
	}

	// Faults: the next Access-Request is lost, so the only server times out.
	postJSON(t, base+"/radius/faults", `{"drop_access":1}`, http.StatusOK)
	if body := postJSON(t, base+"/hotspot/login", `{"user":"v1","password":"pw"}`, http.StatusOK); body["error"] != "RADIUS server is not responding" {
		t.Errorf("dropped request: %v", body)
	}
	postJSON(t, base+"/radius/faults", `{"delay":"forever"}`, http.StatusBadRequest)

	var st struct {
		Stats struct {
			AccessRequests int `json:"access_requests"`
			Accepts        int `json:"accepts"`
			Rejects        int `json:"rejects"`
			Timeouts       int `json:"timeouts"`
			AcctAnswered   int `json:"acct_answered"`
			AcctPending    int `json:"acct_pending"`
		} `json:"stats"`
		IncomingAddr string `json:"incoming_addr"`
	}
	testkit.Eventually(t, 5*time.Second, "accounting answered", func() bool {
		getJSON(t, base+"/radius", &st)
		return st.Stats.AcctAnswered == 4 && st.Stats.AcctPending == 0
	})
	if st.Stats.AccessRequests != 4 || st.Stats.Accepts != 2 || st.Stats.Rejects != 1 || st.Stats.Timeouts != 1 {
		t.Errorf("GET /radius stats: %+v", st.Stats)
	}
	if !strings.HasPrefix(st.IncomingAddr, "127.0.0.1:") {
		t.Errorf("incoming_addr %q", st.IncomingAddr)
	}
	// The listener answers a Disconnect for an unknown session.
	p := radius.New(radius.CodeDisconnectRequest, []byte("s3"))
	rfc2866.AcctSessionID_SetString(p, "000000FF")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	resp, err := radius.Exchange(ctx, p, st.IncomingAddr)
	if err != nil || resp.Code != radius.CodeDisconnectNAK {
		t.Errorf("Disconnect of an unknown session: %v %v", resp, err)
	}
}
