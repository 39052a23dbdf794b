package radius

// The tests are package tests (package radius, not radius_test): they
// drive the real server over UDP on 127.0.0.1 with layeh.com/radius's
// client, FreeRADIUS's radtest/radclient or raw datagrams, against an
// in-memory Decider (fakeDecider below), and read the metrics and the
// duplicate cache from inside.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"layeh.com/radius"
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/microsoft"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

var testSecret = []byte("t3st-s3cret")

// testPassword is every test account's password; startServer fails a test
// whose logs contain it, its NT hash or the shared secret.
const testPassword = "s3cret-pw"

// fakeDecider is an in-memory Decider, ready at its zero value: accounts
// in creds, a decision from decide (nil: accept with no limits), records
// in acct, and Account failing while acctErr is set. It counts its calls.
type fakeDecider struct {
	mu       sync.Mutex
	creds    map[string]Secret // key: kind + "/" + user
	decide   func(Request) Decision
	acctErr  error
	acctGate chan struct{} // when set, Account waits for it to close

	reqs        []Request
	acct        []Accounting
	acctCalls   int
	decideCalls int
}

func (f *fakeDecider) add(kind protocol.SessionKind, user string, sec Secret) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.creds == nil {
		f.creds = make(map[string]Secret)
	}
	f.creds[string(kind)+"/"+user] = sec
}

// set changes the fake under its lock (the server reads it from other
// goroutines).
func (f *fakeDecider) set(edit func(f *fakeDecider)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(f)
}

func (f *fakeDecider) Credentials(kind protocol.SessionKind, user string) (Secret, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.creds[string(kind)+"/"+user]
	return s, ok
}

func (f *fakeDecider) Decide(_ context.Context, req Request) Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decideCalls++
	f.reqs = append(f.reqs, req)
	if f.decide != nil {
		return f.decide(req)
	}
	return Decision{Accept: true}
}

func (f *fakeDecider) Account(ctx context.Context, rec Accounting) error {
	f.mu.Lock()
	gate := f.acctGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acctCalls++
	if f.acctErr != nil {
		return f.acctErr
	}
	f.acct = append(f.acct, rec)
	return nil
}

func (f *fakeDecider) counts() (decide, acctCalls, records int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.decideCalls, f.acctCalls, len(f.acct)
}

func (f *fakeDecider) lastRequest(t *testing.T) Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("Decide was not called")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeDecider) records() []Accounting {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Accounting(nil), f.acct...)
}

// testServer is a running Server on 127.0.0.1 random ports.
type testServer struct {
	*Server
	dec  *fakeDecider
	reg  *prometheus.Registry
	logs *testkit.LogBuffer
}

func startServer(t testing.TB, edit func(*Config)) *testServer {
	t.Helper()
	dec := &fakeDecider{}
	reg := prometheus.NewRegistry()
	logs := &testkit.LogBuffer{}
	cfg := Config{
		AuthAddr: "127.0.0.1:0", AcctAddr: "127.0.0.1:0",
		Secret: testSecret, Decider: dec, Registerer: reg, Logger: logs.Logger(),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
		nt := NTHash(testPassword)
		for _, secret := range []string{string(testSecret), testPassword, hex.EncodeToString(nt[:]), fmt.Sprintf("%X", nt[:])} {
			if logs.Contains(secret) {
				t.Errorf("a secret or password is in the log:\n%s", logs)
			}
		}
	})
	return &testServer{Server: s, dec: dec, reg: reg, logs: logs}
}

func (s *testServer) dropped(reason string) float64 {
	return testutil.ToFloat64(s.metrics.dropped.WithLabelValues(reason))
}

func (s *testServer) requests(typ, result string) float64 {
	return testutil.ToFloat64(s.metrics.requests.WithLabelValues(typ, result))
}

// exchange sends p with layeh's client (no retries) and verifies the
// reply's Message-Authenticator when it has one.
func exchange(t testing.TB, p *radius.Packet, addr net.Addr) *radius.Packet {
	t.Helper()
	resp, err := exchangeErr(p, addr)
	if err != nil {
		t.Fatalf("exchange %v: %v", p.Code, err)
	}
	return resp
}

func exchangeErr(p *radius.Packet, addr net.Addr) (*radius.Packet, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := radius.Client{Retry: 0, MaxPacketErrors: 1}
	resp, err := c.Exchange(ctx, p, addr.String())
	if err != nil {
		return nil, err
	}
	// The reply is signed over the request authenticator on the wire,
	// which Encode computes for an Accounting-Request.
	wire, err := p.Encode()
	if err != nil {
		return nil, err
	}
	var auth [16]byte
	copy(auth[:], wire[4:20])
	if _, err := checkMessageAuthenticator(resp, replyHMACAuthenticator(resp.Code, auth)); err != nil {
		return nil, err
	}
	return resp, nil
}

// accessRequest is an Access-Request as RouterOS's hotspot sends it,
// without the password attributes, signed last by sign.
func accessRequest(user string) *radius.Packet {
	p := radius.New(radius.CodeAccessRequest, testSecret)
	_ = rfc2865.UserName_SetString(p, user)
	_ = rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_LoginUser)
	_ = rfc2865.NASPortType_Set(p, rfc2865.NASPortType_Value_Wireless80211)
	_ = rfc2865.CallingStationID_SetString(p, "aa-bb-cc-dd-ee-0f")
	_ = rfc2865.FramedIPAddress_Set(p, net.IPv4(10, 5, 0, 7))
	_ = rfc2865.NASIdentifier_SetString(p, "site-a")
	_ = rfc2865.NASIPAddress_Set(p, net.IPv4(192, 0, 2, 1))
	return p
}

// sign adds the Message-Authenticator a BlastRADIUS-aware NAS sends.
func sign(t testing.TB, p *radius.Packet) *radius.Packet {
	t.Helper()
	if err := signMessageAuthenticator(p, hmacAuthenticator(p)); err != nil {
		t.Fatal(err)
	}
	return p
}

func papRequest(t testing.TB, user, password string) *radius.Packet {
	t.Helper()
	p := accessRequest(user)
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		t.Fatal(err)
	}
	return sign(t, p)
}

// chapRequest builds CHAP-Password with a CHAP-Challenge, or over the
// request authenticator when challenge is nil.
func chapRequest(t testing.TB, user, password string, challenge []byte) *radius.Packet {
	t.Helper()
	p := accessRequest(user)
	c := challenge
	if c == nil {
		c = p.Authenticator[:]
	} else {
		_ = rfc2865.CHAPChallenge_Set(p, challenge)
	}
	h := md5.Sum(append(append([]byte{0x2a}, password...), c...))
	_ = rfc2865.CHAPPassword_Set(p, append([]byte{0x2a}, h[:]...))
	return sign(t, p)
}

// mschapv2Request is a PPPoE Access-Request with MS-CHAPv2 as RouterOS
// sends it; it returns the NT response too.
func mschapv2Request(t testing.TB, user, password string) (*radius.Packet, []byte, []byte, []byte) {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, testSecret)
	_ = rfc2865.UserName_SetString(p, user)
	_ = rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_FramedUser)
	_ = rfc2865.FramedProtocol_Set(p, rfc2865.FramedProtocol_Value_PPP)
	_ = rfc2865.NASPortType_Set(p, rfc2865.NASPortType_Value_Ethernet)
	_ = rfc2865.CallingStationID_SetString(p, "AA:BB:CC:00:00:01")
	authChallenge := []byte("0123456789ABCDEF")
	peer := []byte("fedcba9876543210")
	nt, err := rfc2759.GenerateNTResponse(authChallenge, peer, []byte(user), []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, 50)
	resp[0] = 7
	copy(resp[2:18], peer)
	copy(resp[26:], nt)
	_ = microsoft.MSCHAPChallenge_Set(p, authChallenge)
	_ = microsoft.MSCHAP2Response_Set(p, resp)
	return sign(t, p), authChallenge, peer, nt
}

// rawConn sends raw datagrams to addr and reads what comes back.
type rawConn struct {
	t testing.TB
	c *net.UDPConn
}

func dialRaw(t testing.TB, addr net.Addr) *rawConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

func (r *rawConn) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next datagram, or nil when none comes within wait.
func (r *rawConn) read(wait time.Duration) []byte {
	r.t.Helper()
	buf := make([]byte, radius.MaxPacketLength)
	_ = r.c.SetReadDeadline(time.Now().Add(wait))
	n, err := r.c.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return buf[:n]
}

func encode(t testing.TB, p *radius.Packet) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
