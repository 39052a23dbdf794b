package sim

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"
)

// rawClient speaks the wire protocol directly, to check exact reply
// sentences the go-routeros client hides.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func newRawClient(t *testing.T, r *Router, login bool) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", r.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	if login {
		c.send("/login", "=name=admin", "=password=")
		c.expect("!done")
	}
	return c
}

func (c *rawClient) send(words ...string) {
	c.t.Helper()
	if _, err := c.nc.Write(appendSentence(nil, words...)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) read() string {
	c.t.Helper()
	words, err := readSentence(c.br)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.Join(words, " ")
}

func (c *rawClient) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.read(); got != w {
			c.t.Fatalf("got %q, want %q", got, w)
		}
	}
}

func startTestRouter(t *testing.T, cfg Config) *Router {
	t.Helper()
	if cfg.TrafficInterval == 0 {
		cfg.TrafficInterval = -1
	}
	r := New(cfg)
	if err := r.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestCancelReplies(t *testing.T) {
	r := startTestRouter(t, Config{})
	c := newRawClient(t, r, true)
	c.send("/ip/hotspot/user/listen", ".tag=L1")
	c.send("/ppp/active/listen", ".tag=L2")
	c.send("/ppp/secret/print", "=interval=50ms", ".tag=P")
	c.send("/cancel", "=tag=L1", ".tag=C1")
	c.expect("!trap =category=2 =message=interrupted .tag=L1", "!done .tag=L1", "!done .tag=C1")
	// The interval print of an empty table streams nothing; cancel all.
	c.send("/cancel", ".tag=C2")
	got := []string{c.read(), c.read(), c.read(), c.read(), c.read()}
	want := "!trap =category=2 =message=interrupted .tag=L2|!done .tag=L2|" +
		"!trap =category=2 =message=interrupted .tag=P|!done .tag=P|!done .tag=C2"
	if strings.Join(got, "|") != want {
		t.Fatalf("cancel all:\ngot  %q\nwant %q", strings.Join(got, "|"), want)
	}
	// Nothing is left running: a change produces no rows, only the reply
	// to the next command.
	if err := r.AddHotspotUser("x", "y", ""); err != nil {
		t.Fatal(err)
	}
	c.send("/cancel", "=tag=L1")
	c.expect("!done")
}

func TestListenTagsAndDead(t *testing.T) {
	r := startTestRouter(t, Config{})
	c := newRawClient(t, r, true)
	c.send("/ip/hotspot/active/listen", "=.proplist=user,mac-address", ".tag=a")
	c.send("/system/identity/print", ".tag=sync")
	c.expect("!re =name=MikroTik .tag=sync", "!done .tag=sync")
	if err := r.AddHotspotUser("mary", "pw", ""); err != nil {
		t.Fatal(err)
	}
	id, err := r.LoginHotspot("mary", "02:AA:BB:CC:DD:EE", "10.5.50.9")
	if err != nil {
		t.Fatal(err)
	}
	c.expect("!re =user=mary =mac-address=02:AA:BB:CC:DD:EE .tag=a")
	c.send("/ip/hotspot/active/remove", "=.id="+id, ".tag=k")
	c.expect("!re =.id="+id+" =.dead=true .tag=a", "!done .tag=k")
}

func TestFatal(t *testing.T) {
	r := startTestRouter(t, Config{})
	t.Run("quit", func(t *testing.T) {
		c := newRawClient(t, r, true)
		c.send("/quit")
		c.expect("!fatal session terminated on request")
		if _, err := readSentence(c.br); err == nil {
			t.Fatal("connection still open after !fatal")
		}
	})
	t.Run("protocol violation", func(t *testing.T) {
		c := newRawClient(t, r, true)
		c.nc.Write([]byte{0xF9})
		c.expect("!fatal protocol error")
	})
	t.Run("not logged in", func(t *testing.T) {
		c := newRawClient(t, r, false)
		c.send("/system/identity/print")
		c.expect("!trap =message=not logged in", "!done")
		for range maxUnauthenticated - 1 {
			c.send("/system/identity/print")
			c.expect("!trap =message=not logged in", "!done")
		}
		c.send("/system/identity/print")
		c.expect("!fatal not logged in")
	})
}

func TestChallengeLogin(t *testing.T) {
	r := startTestRouter(t, Config{Password: "pw"})
	for _, tc := range []struct {
		password string
		want     string
	}{{"pw", "!done"}, {"nope", "!trap =message=invalid user name or password (6)"}} {
		c := newRawClient(t, r, false)
		c.send("/login")
		ret, ok := strings.CutPrefix(c.read(), "!done =ret=")
		if !ok {
			t.Fatal("no challenge")
		}
		chal, _ := hex.DecodeString(ret)
		h := md5.New()
		h.Write([]byte{0})
		h.Write([]byte(tc.password))
		h.Write(chal)
		c.send("/login", "=name=admin", "=response=00"+hex.EncodeToString(h.Sum(nil)))
		c.expect(tc.want)
	}
}

func TestCountOnlyAndFollow(t *testing.T) {
	r := startTestRouter(t, Config{})
	for _, n := range []string{"a", "b"} {
		if err := r.AddPPPSecret(n, "pw", ""); err != nil {
			t.Fatal(err)
		}
	}
	c := newRawClient(t, r, true)
	c.send("/ppp/secret/print", "=count-only=")
	c.expect("!done =ret=2")
	c.send("/ppp/secret/print", "=follow=", "=.proplist=name", ".tag=f")
	c.expect("!re =name=a .tag=f", "!re =name=b .tag=f")
	if err := r.AddPPPSecret("c", "pw", ""); err != nil {
		t.Fatal(err)
	}
	c.expect("!re =name=c .tag=f")
}

func TestDurationFormat(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {time.Second, "1s"}, {3723 * time.Second, "1h2m3s"},
		{9*24*time.Hour + 5*time.Minute, "1w2d5m"}, {1500 * time.Millisecond, "1s500ms"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("format %v: got %q, want %q", tt.d, got, tt.want)
		}
		if back, err := parseDuration(tt.want); err != nil || back != tt.d {
			t.Errorf("parse %q: got %v, %v", tt.want, back, err)
		}
	}
	for in, want := range map[string]time.Duration{"0.2": 200 * time.Millisecond, "200ms": 200 * time.Millisecond, "10": 10 * time.Second, "1s": time.Second} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parse %q: got %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestQueryParseErrors(t *testing.T) {
	for _, words := range [][]string{{"?#x"}, {"?"}, {"?<name"}, {"?-"}, {"name"}} {
		if _, err := parseQuery(words); err == nil {
			t.Errorf("parseQuery(%q) succeeded", words)
		}
	}
}

func FuzzQuery(f *testing.F) {
	f.Add("?name=x\n?-comment\n?#|!")
	f.Add("?>bytes-in=100\n?<uptime=1h\n?#&.")
	f.Add("?#0123|&!.")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseQuery(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		row := map[string]string{"name": "x", "bytes-in": "150", "uptime": "30m", ".id": "*A"}
		a := q.match(row)
		if b := q.match(row); a != b {
			t.Fatal("query evaluation is not deterministic")
		}
		q.match(nil)
	})
}
