package radius

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/bench/harness"
	firmwarescripts "github.com/sitepulse/sitepulse/firmware-scripts"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// The binaries are built once per test binary: go build caches, but
// linking three commands still takes seconds.
var (
	buildOnce sync.Once
	bins      harness.Binaries
	buildErr  error
	buildDir  string
)

func binaries(t *testing.T) harness.Binaries {
	t.Helper()
	buildOnce.Do(func() {
		root, err := harness.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "sitepulse-radius-e2e-"); err != nil {
			buildErr = err
			return
		}
		bins, buildErr = harness.Build(context.Background(), root, buildDir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// cloud is `sitepulse serve` as a process, with a system admin's token.
type cloud struct {
	t      *testing.T
	srv    *harness.Server
	fx     harness.Fixture
	base   string
	dir    string
	client *http.Client
}

func startCloud(t *testing.T, routers int) *cloud {
	t.Helper()
	b := binaries(t)
	dir := t.TempDir()
	srv, err := harness.NewServer(b.Server, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	fx, err := harness.Setup(context.Background(), srv.DataDir, "", routers)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, tail(srv.LogPath))
	}
	c := &cloud{t: t, srv: srv, fx: fx, base: "http://" + srv.HTTPAddr, dir: dir, client: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("serve stop: %v", err)
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", tail(srv.LogPath))
		}
	})
	return c
}

// call sends a JSON request with the admin token and decodes the answer
// into out (when not nil); it returns the status code.
func (c *cloud) call(method, path string, body, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.fx.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil && res.StatusCode < 300 {
			c.t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, raw, err)
		}
	}
	if res.StatusCode >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(raw))
	}
	return res.StatusCode
}

// site is one simulated router (sitepulse-sim) with its agent
// (sitepulse-agent, RADIUS on), both processes.
type site struct {
	t        *testing.T
	c        *cloud
	n        int
	routerID string
	secret   string // the router's MQTT secret
	radius   string // the RADIUS shared secret between router and agent
	dir      string

	apiAddr, controlAddr string
	authAddr, acctAddr   string
	incoming             string // the router's /radius incoming (Disconnect/CoA)
	mqttURL              string // what the agent dials (the cloud, or a proxy)

	simProc, agentProc *harness.Proc
}

// startSite starts router n of the cloud's fixture: the simulator with no
// seeded sessions, the RADIUS firmware script run on it over the API, and
// its agent answering RADIUS. mqttAddr, when set, is where the agent dials
// instead of the cloud's broker (a proxy).
func (c *cloud) startSite(n int, mqttAddr string) *site {
	t := c.t
	t.Helper()
	b := binaries(t)
	s := &site{t: t, c: c, n: n, routerID: c.fx.Routers[n].ID, secret: c.fx.Routers[n].Secret,
		radius: fmt.Sprintf("site-%d-shared-radius-secret", n), dir: filepath.Join(c.dir, fmt.Sprintf("site-%d", n))}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.apiAddr, err = harness.FreeAddr(); err != nil {
		t.Fatal(err)
	}
	if s.controlAddr, err = harness.FreeAddr(); err != nil {
		t.Fatal(err)
	}
	if s.authAddr, err = harness.FreeUDPAddr(); err != nil {
		t.Fatal(err)
	}
	if s.acctAddr, err = harness.FreeUDPAddr(); err != nil {
		t.Fatal(err)
	}
	s.simProc, err = harness.StartProc("sitepulse-sim", b.Sim, []string{"--api-addr", s.apiAddr, "--control-addr", s.controlAddr,
		"--user", "sitepulse", "--password", "router-pw", "--identity", fmt.Sprintf("site-%d", n),
		"--hotspot-sessions", "0", "--ppp-sessions", "0", "--traffic-interval", "500ms", "--radius-incoming", "127.0.0.1:0",
		"--log-level", "warn"}, nil, filepath.Join(s.dir, "sim.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.simProc.Kill()
		if t.Failed() {
			t.Logf("site %d sim log:\n%s", n, tail(filepath.Join(s.dir, "sim.log")))
		}
	})
	testkit.Eventually(t, 30*time.Second, "simulator listening", func() bool { return harness.Dialable(s.apiAddr) && harness.Dialable(s.controlAddr) })
	s.runScript()
	var st struct {
		Incoming string `json:"incoming_addr"`
	}
	s.control("GET", "/radius", nil, &st)
	if st.Incoming == "" {
		t.Fatal("04-radius.rsc left /radius incoming off")
	}
	s.incoming = st.Incoming
	s.mqttURL = "tcp://" + c.srv.MQTTAddr
	if mqttAddr != "" {
		s.mqttURL = "tcp://" + mqttAddr
	}
	s.startAgent()
	testkit.Eventually(t, 60*time.Second, "router online", func() bool {
		var r struct {
			Status          string `json:"status"`
			RouterConnected bool   `json:"router_connected"`
		}
		c.call("GET", "/api/v1/routers/"+s.routerID, nil, &r)
		return r.Status == "online" && r.RouterConnected
	})
	return s
}

// runScript runs firmware-scripts/04-radius.rsc on the router over the
// RouterOS API, pointing it at the agent's ports with the shared secret.
func (s *site) runScript() {
	s.t.Helper()
	scripts, _, err := firmwarescripts.Scripts()
	if err != nil {
		s.t.Fatal(err)
	}
	cl, err := routeros.DialTimeout(s.apiAddr, "sitepulse", "router-pw", 10*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	defer cl.Close()
	_, authPort, _ := net.SplitHostPort(s.authAddr)
	_, acctPort, _ := net.SplitHostPort(s.acctAddr)
	in := &firmwarescripts.Interpreter{R: apiRunner{cl}, Vars: map[string]string{"spAgent": "127.0.0.1", "spSubnet": "127.0.0.0/8",
		"spAuthPort": authPort, "spAcctPort": acctPort, "spSecret": s.radius}}
	if err := in.Run(scripts["04-radius.rsc"]); err != nil {
		s.t.Fatalf("04-radius.rsc: %v", err)
	}
}

func (s *site) startAgent() {
	s.t.Helper()
	p, err := harness.StartProc("sitepulse-agent", binaries(s.t).Agent, []string{"run", "--log-level", "info",
		"--router-id", s.routerID, "--router-addr", s.apiAddr, "--router-user", "sitepulse", "--router-password", "router-pw",
		"--mqtt-url", s.mqttURL, "--mqtt-secret", s.secret, "--data-dir", filepath.Join(s.dir, "agent"), "--listen-addr", "",
		"--radius-listen", s.authAddr, "--radius-acct-listen", s.acctAddr, "--radius-coa-addr", s.incoming},
		[]string{"SITEPULSE_RADIUS_SECRET=" + s.radius}, filepath.Join(s.dir, "agent.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.agentProc = p
	s.t.Cleanup(func() {
		_ = p.Stop(10 * time.Second)
		if s.t.Failed() {
			s.t.Logf("site %d agent log:\n%s", s.n, tail(filepath.Join(s.dir, "agent.log")))
		}
	})
}

// control calls the simulator's control API.
func (s *site) control(method, path string, body, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.controlAddr+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.c.client.Do(req)
	if err != nil {
		s.t.Fatalf("sim %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("sim %s %s: %d %s: %v", method, path, res.StatusCode, raw, err)
		}
	}
	return res.StatusCode
}

// loginResult is the simulator's answer to a hotspot login or PPPoE dial.
type loginResult struct {
	OK    bool   `json:"ok"`
	ID    string `json:"id"`
	Error string `json:"error"`
}

// hotspotLogin logs a device in on the hotspot the way its login page
// does (CHAP unless by says pap); the router asks the agent.
func (s *site) hotspotLogin(user, password, mac, ip, by string) loginResult {
	s.t.Helper()
	var r loginResult
	if code := s.control("POST", "/hotspot/login", map[string]string{"user": user, "password": password, "mac": mac,
		"address": ip, "login_by": by}, &r); code != http.StatusOK {
		s.t.Fatalf("hotspot login: %d %+v", code, r)
	}
	return r
}

// logout ends a session as its user (by=user) or as the router's admin.
func (s *site) logout(id string, byUser bool) {
	s.t.Helper()
	q := "/logout?id=" + id
	if byUser {
		q += "&by=user"
	}
	if code := s.control("POST", q, nil, nil); code != http.StatusOK {
		s.t.Fatalf("logout %s: %d", id, code)
	}
}

// active reads a menu's rows from the router over the RouterOS API.
func (s *site) active(menu string) []map[string]string {
	s.t.Helper()
	cl, err := routeros.DialTimeout(s.apiAddr, "sitepulse", "router-pw", 10*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	defer cl.Close()
	rep, err := cl.Run(menu + "/print")
	if err != nil {
		s.t.Fatal(err)
	}
	out := make([]map[string]string, 0, len(rep.Re))
	for _, re := range rep.Re {
		out = append(out, re.Map)
	}
	return out
}

// radiusStats is the simulator's RADIUS client counters.
func (s *site) radiusStats() map[string]any {
	var st struct {
		Stats map[string]any `json:"stats"`
	}
	s.control("GET", "/radius", nil, &st)
	return st.Stats
}

// synced waits until the agent holds every entry the cloud has for it.
func (s *site) synced() {
	s.t.Helper()
	testkit.Eventually(s.t, 30*time.Second, fmt.Sprintf("site %d's agent holds the router's head version", s.n), func() bool {
		var st struct {
			Radius struct {
				Version      uint64 `json:"version"`
				AgentVersion uint64 `json:"agent_version"`
			} `json:"radius"`
		}
		s.c.call("GET", "/api/v1/routers/"+s.routerID+"/radius", nil, &st)
		return st.Radius.Version > 0 && st.Radius.AgentVersion == st.Radius.Version
	})
}

type apiRunner struct{ c *routeros.Client }

func (a apiRunner) Run(sentence ...string) ([]map[string]string, error) {
	rep, err := a.c.RunArgs(sentence)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(rep.Re))
	for _, re := range rep.Re {
		out = append(out, re.Map)
	}
	return out, nil
}

// tail returns the last lines of a log file, for a failed test's output.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}
