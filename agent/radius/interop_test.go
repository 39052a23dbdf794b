package radius

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc3079"

	"github.com/sitepulse/sitepulse/protocol"
)

// Interop with FreeRADIUS's own clients (Debian's freeradius-utils):
// radtest for PAP, CHAP and MS-CHAP, radclient for MS-CHAPv2 (which
// radtest cannot send) and for accounting.

// freeradiusTool returns the path of name; without it the test skips,
// except in CI, where it fails.
func freeradiusTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (apt-get install freeradius-utils): %v", name, err)
		}
		t.Skipf("%s not found (apt-get install freeradius-utils)", name)
	}
	return p
}

// run runs a FreeRADIUS tool, with stdin if any, and returns its output
// (it exits non-zero on a reject, which the callers check from the output).
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v timed out:\n%s", name, args, out)
	}
	return string(out)
}

func hostPort(a net.Addr) string { return a.String() }

func TestInteropRadtest(t *testing.T) {
	radtest := freeradiusTool(t, "radtest")
	freeradiusTool(t, "radclient")
	s := startServer(t, func(c *Config) { c.RequireMessageAuthenticator = true })
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	s.dec.add(protocol.KindHotspot, "ntonly", Secret{NTHash: NTHash(testPassword), HasNT: true})
	s.dec.set(func(f *fakeDecider) {
		f.decide = func(Request) Decision {
			return Decision{Accept: true, RateLimit: "2M/5M", SessionTimeout: time.Hour, InterimInterval: time.Minute}
		}
	})
	cases := []struct {
		name, typ, user, password string
		method                    Method
		want                      string
	}{
		{"pap", "pap", "alice", testPassword, MethodPAP, "Access-Accept"},
		{"pap nt hash", "pap", "ntonly", testPassword, MethodPAP, "Access-Accept"},
		{"pap wrong", "pap", "alice", "wrong", "", "Access-Reject"},
		{"chap", "chap", "alice", testPassword, MethodCHAP, "Access-Accept"},
		{"chap wrong", "chap", "alice", "wrong", "", "Access-Reject"},
		{"chap unknown", "chap", "nobody", testPassword, "", "Access-Reject"},
		{"mschap", "mschap", "ntonly", testPassword, MethodMSCHAPv1, "Access-Accept"},
		{"mschap wrong", "mschap", "ntonly", "wrong", "", "Access-Reject"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			decided, _, _ := s.dec.counts()
			out := run(t, "", radtest, "-t", c.typ, c.user, c.password, hostPort(s.AuthAddr()), "7", string(testSecret))
			if !strings.Contains(out, "Received "+c.want) {
				t.Fatalf("want %s, radtest said:\n%s", c.want, out)
			}
			after, _, _ := s.dec.counts()
			if c.want == "Access-Reject" {
				if !strings.Contains(out, `Reply-Message = "invalid username or password"`) {
					t.Errorf("reject without the Reply-Message:\n%s", out)
				}
				if after != decided {
					t.Error("Decide called for a bad password")
				}
				return
			}
			for _, attr := range []string{`Mikrotik-Rate-Limit = "2M/5M"`, "Session-Timeout = 3600", "Acct-Interim-Interval = 60"} {
				if !strings.Contains(out, attr) {
					t.Errorf("Accept without %s:\n%s", attr, out)
				}
			}
			if r := s.dec.lastRequest(t); r.User != c.user || r.Method != c.method || r.Kind != protocol.KindHotspot {
				t.Errorf("Decider got %+v", r)
			}
		})
	}
}

func TestInteropRadclientMSCHAPv2(t *testing.T) {
	radclient := freeradiusTool(t, "radclient")
	s := startServer(t, func(c *Config) { c.RequireMessageAuthenticator = true })
	s.dec.add(protocol.KindPPPoE, "pppuser", Secret{NTHash: NTHash(testPassword), HasNT: true})
	s.dec.set(func(f *fakeDecider) {
		f.decide = func(Request) Decision { return Decision{Accept: true, RateLimit: "10M/10M", FramedPool: "ppp-pool"} }
	})
	authChallenge := []byte("0123456789ABCDEF")
	peer := []byte("fedcba9876543210")
	request := func(password string) (string, []byte) {
		nt, err := rfc2759.GenerateNTResponse(authChallenge, peer, []byte("pppuser"), []byte(password))
		if err != nil {
			t.Fatal(err)
		}
		resp := make([]byte, 50)
		resp[0] = 9
		copy(resp[2:18], peer)
		copy(resp[26:], nt)
		return fmt.Sprintf("User-Name = \"pppuser\"\nService-Type = Framed-User\nFramed-Protocol = PPP\nNAS-Port-Type = Ethernet\n"+
			"Calling-Station-Id = \"aa:bb:cc:00:00:09\"\nNAS-Port-Id = \"ether2\"\nAcct-Session-Id = \"0x81500001\"\n"+
			"MS-CHAP-Challenge = 0x%x\nMS-CHAP2-Response = 0x%x\nMessage-Authenticator = 0x00\n", authChallenge, resp), nt
	}

	in, nt := request(testPassword)
	out := run(t, in, radclient, "-x", "-r", "1", "-t", "5", hostPort(s.AuthAddr()), "auth", string(testSecret))
	if !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("radclient said:\n%s", out)
	}
	success, _ := rfc2759.GenerateAuthenticatorResponse(authChallenge, peer, nt, []byte("pppuser"), []byte(testPassword))
	send, _ := rfc3079.MakeKey(nt, []byte(testPassword), true)
	recv, _ := rfc3079.MakeKey(nt, []byte(testPassword), false)
	for _, attr := range []string{
		"MS-CHAP2-Success = 0x09" + hex.EncodeToString([]byte(success)),
		"MS-MPPE-Send-Key = 0x" + hex.EncodeToString(send),
		"MS-MPPE-Recv-Key = 0x" + hex.EncodeToString(recv),
		`Mikrotik-Rate-Limit = "10M/10M"`, `Framed-Pool = "ppp-pool"`,
	} {
		if !strings.Contains(out, attr) {
			t.Errorf("Accept without %s:\n%s", attr, out)
		}
	}
	want := Request{Kind: protocol.KindPPPoE, User: "pppuser", MAC: "AA:BB:CC:00:00:09",
		NASPortID: "ether2", AcctSessionID: "0x81500001", Method: MethodMSCHAPv2}
	if got := s.dec.lastRequest(t); got != want {
		t.Errorf("Decider got %+v, want %+v", got, want)
	}

	in, _ = request("wrong")
	out = run(t, in, radclient, "-x", "-r", "1", "-t", "5", hostPort(s.AuthAddr()), "auth", string(testSecret))
	if !strings.Contains(out, "Received Access-Reject") || !strings.Contains(out, "MS-CHAP-Error") {
		t.Fatalf("wrong password, radclient said:\n%s", out)
	}
}

func TestInteropRadclientAccounting(t *testing.T) {
	radclient := freeradiusTool(t, "radclient")
	s := startServer(t, nil)
	common := "User-Name = \"alice\"\nAcct-Session-Id = \"0000001A\"\nCalling-Station-Id = \"AA:BB:CC:DD:EE:0F\"\n" +
		"Framed-IP-Address = 10.5.0.7\nNAS-Identifier = \"site-a\"\nService-Type = Login-User\nEvent-Timestamp = 1796673600\n"
	steps := []struct {
		extra string
		want  Accounting
	}{
		{"Acct-Status-Type = Start\n", Accounting{Status: AcctStart}},
		{"Acct-Status-Type = Interim-Update\nAcct-Session-Time = 60\nAcct-Input-Octets = 100\nAcct-Input-Gigawords = 1\n" +
			"Acct-Output-Octets = 200\nAcct-Input-Packets = 3\nAcct-Output-Packets = 4\n",
			Accounting{Status: AcctInterim, SessionTime: time.Minute, InputOctets: 1<<32 + 100, OutputOctets: 200, InputPackets: 3, OutputPackets: 4}},
		{"Acct-Status-Type = Stop\nAcct-Session-Time = 120\nAcct-Input-Octets = 500\nAcct-Output-Octets = 900\nAcct-Terminate-Cause = Admin-Reset\n" +
			"Message-Authenticator = 0x00\n", // signed the FreeRADIUS way: checked, and the answer signed
			Accounting{Status: AcctStop, SessionTime: 2 * time.Minute, InputOctets: 500, OutputOctets: 900, TerminateCause: 6}},
	}
	for i, st := range steps {
		out := run(t, common+st.extra, radclient, "-x", "-r", "1", "-t", "5", hostPort(s.AcctAddr()), "acct", string(testSecret))
		if !strings.Contains(out, "Received Accounting-Response") {
			t.Fatalf("step %d, radclient said:\n%s", i, out)
		}
	}
	recs := s.dec.records()
	if len(recs) != len(steps) {
		t.Fatalf("records %d, want %d", len(recs), len(steps))
	}
	for i, st := range steps {
		want := st.want
		want.Kind, want.AcctSessionID, want.User, want.MAC, want.IP, want.NASID = protocol.KindHotspot, "0000001A", "alice", "AA:BB:CC:DD:EE:0F", "10.5.0.7", "site-a"
		want.EventTime = time.Unix(1796673600, 0).UTC()
		if recs[i] != want {
			t.Errorf("record %d: got %+v, want %+v", i, recs[i], want)
		}
	}

	// A wrong secret is dropped: radclient gets nothing.
	before := s.dropped(dropAuthenticator)
	out := run(t, common+"Acct-Status-Type = Start\n", radclient, "-r", "1", "-t", "1", hostPort(s.AcctAddr()), "acct", "wrong-secret")
	if strings.Contains(out, "Received") {
		t.Errorf("answered a wrong secret:\n%s", out)
	}
	if s.dropped(dropAuthenticator) < before+1 {
		t.Error("wrong secret not counted")
	}
}
