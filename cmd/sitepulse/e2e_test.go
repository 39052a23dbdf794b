package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim"
)

// testClient is the end-to-end tests' REST caller: it asserts status codes, which package client turns into errors.
type testClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *testClient) call(method, path string, body, out any) int {
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
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	if res.StatusCode >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return res.StatusCode
}

// site is a running control plane with one tenant, one enrolled router
// (a simulator) and the real agent connected to both.
type site struct {
	m        *Main
	c        *testClient
	router   *sim.Router
	routerID string
	tenantID int64
	dataDir  string

	secret    string // the agent's MQTT secret
	stopAgent func()
}

// startSite runs sitepulse serve's wiring, a simulated RouterOS router and
// the real agent with the credentials the REST API handed out, and waits
// until the API shows the router online.
func startSite(t *testing.T) *site {
	t.Helper()
	dir := t.TempDir()
	return startSiteOn(t, Config{DataDir: dir})
}

// startSiteOn is startSite on the store db selects (DataDir or
// DatabaseURL).
func startSiteOn(t *testing.T, db Config) *site {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	dir := db.DataDir
	m := startMain(t, Config{DataDir: db.DataDir, DatabaseURL: db.DatabaseURL, AdminEmail: "root@isp.test", AdminPassword: "a very long admin password", PublicMQTTURL: "tcp://mqtt.isp.test:1883"})
	c := &testClient{t: t, base: "http://" + m.HTTPAddr()}
	c.token = login(t, c.base, "root@isp.test", "a very long admin password")

	// Tenant (202, completes asynchronously) and router enrollment.
	var acc controlplane.Accepted
	if code := c.call("POST", "/api/v1/tenants", map[string]string{"name": "Kilimani WiFi"}, &acc); code != http.StatusAccepted {
		t.Fatalf("create tenant: %d", code)
	}
	testkit.Eventually(t, 5*time.Second, "tenant active", func() bool {
		var ten controlplane.Tenant
		c.call("GET", fmt.Sprintf("/api/v1/tenants/%d", acc.ID), nil, &ten)
		return ten.Status == controlplane.TenantActive
	})
	var enrolled controlplane.RouterSecret
	if code := c.call("POST", "/api/v1/routers", map[string]any{"name": "Kilimani core", "site": "Kilimani", "tenant_id": acc.ID}, &enrolled); code != http.StatusCreated {
		t.Fatalf("create router: %d", code)
	}
	rid := enrolled.Router.ID

	// The simulated router: two accounts, no background churn.
	rt := sim.New(sim.Config{User: "sitepulse", Password: "router-pw", Identity: "kilimani-core", TrafficInterval: -1})
	if err := rt.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	for _, err := range []error{rt.AddHotspotUser("alice", "pw", ""), rt.AddPPPSecret("bob", "pw", "")} {
		if err != nil {
			t.Fatal(err)
		}
	}

	st := &site{m: m, c: c, router: rt, routerID: rid, tenantID: acc.ID, dataDir: dir, secret: enrolled.Secret}
	st.startAgent(t, ctx, t.TempDir())
	testkit.Eventually(t, 10*time.Second, "router online with identity", func() bool {
		var r controlplane.Router
		c.call("GET", "/api/v1/routers/"+rid, nil, &r)
		return r.Status == controlplane.RouterOnline && r.RouterConnected && r.Identity == "kilimani-core"
	})
	return st
}

// startAgent runs the real agent for the site with its database in
// dataDir; stopAgent stops it.
func (s *site) startAgent(t *testing.T, ctx context.Context, dataDir string) {
	t.Helper()
	ag, err := agent.New(ctx, agent.Config{
		RouterID:          s.routerID,
		RouterAddr:        s.router.Addr(),
		RouterUser:        "sitepulse",
		RouterPassword:    "router-pw",
		MQTTURL:           "tcp://" + s.m.MQTTAddr(),
		MQTTSecret:        s.secret,
		DataDir:           dataDir,
		CountersInterval:  200 * time.Millisecond,
		ResourcesInterval: 500 * time.Millisecond,
		RouterMinBackoff:  50 * time.Millisecond,
		RouterMaxBackoff:  500 * time.Millisecond,
		MQTTMinBackoff:    50 * time.Millisecond,
		MQTTMaxBackoff:    500 * time.Millisecond,
		ShutdownTimeout:   2 * time.Second,
		Version:           "e2e",
	})
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- ag.Run(actx) }()
	var once sync.Once
	s.stopAgent = func() {
		once.Do(func() {
			stop()
			<-agentDone
			ag.Close()
		})
	}
	// Cleanups run last-in first-out: the agent stops before Main closes.
	t.Cleanup(s.stopAgent)
}

func (s *site) sessions(q url.Values) controlplane.Page[controlplane.Session] {
	var p controlplane.Page[controlplane.Session]
	s.c.call("GET", "/api/v1/sessions?"+q.Encode(), nil, &p)
	return p
}

func (s *site) routerStatus() string {
	var r controlplane.Router
	s.c.call("GET", "/api/v1/routers/"+s.routerID, nil, &r)
	return r.Status
}

// TestEndToEnd: a login on the router is a live session in the REST API
// within a second, a logout moves it to history, and the figures agree,
// on SQLite and on PostgreSQL.
func TestEndToEnd(t *testing.T) {
	eachDialect(t, func(t *testing.T, db Config) { testEndToEnd(t, startSiteOn(t, db)) })
}

func testEndToEnd(t *testing.T, s *site) {
	aliceID, err := s.router.LoginHotspot("alice", "AA:BB:CC:DD:EE:01", "10.5.50.10")
	if err != nil {
		t.Fatal(err)
	}
	took := testkit.Eventually(t, time.Second, "alice's hotspot session visible through the API", func() bool {
		return s.sessions(url.Values{"user": {"alice"}, "kind": {"hotspot"}}).Total == 1
	})
	t.Logf("hotspot login visible after %v", took)

	if _, err := s.router.LoginPPP("bob", "AA:BB:CC:DD:EE:02", "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	took = testkit.Eventually(t, time.Second, "bob's PPPoE session visible through the API", func() bool {
		p := s.sessions(url.Values{"router_id": {s.routerID}, "kind": {"pppoe"}})
		return p.Total == 1 && p.Data[0].User == "bob" && p.Data[0].TenantID == s.tenantID
	})
	t.Logf("pppoe login visible after %v", took)

	if err := s.router.Logout(aliceID); err != nil {
		t.Fatal(err)
	}
	took = testkit.Eventually(t, time.Second, "alice moved to history", func() bool {
		if s.sessions(url.Values{"user": {"alice"}}).Total != 0 {
			return false
		}
		var h controlplane.Page[controlplane.SessionRecord]
		s.c.call("GET", "/api/v1/sessions/history?user=alice", nil, &h)
		return h.Total == 1 && h.Data[0].EndReason != ""
	})
	t.Logf("logout moved to history after %v", took)

	var st controlplane.Stats
	s.c.call("GET", "/api/v1/stats", nil, &st)
	if st.OnlineHotspot != 0 || st.OnlinePPPoE != 1 || st.RoutersOnline != 1 || st.RoutersTotal != 1 {
		t.Fatalf("stats %+v, want 0 hotspot, 1 pppoe, 1 of 1 routers online", st)
	}

	// Rotating the secret disconnects the agent at once: the broker drops
	// its cached verification, and the old secret no longer works.
	var rotated controlplane.RouterSecret
	if code := s.c.call("POST", "/api/v1/routers/"+s.routerID+"/rotate-secret", nil, &rotated); code != http.StatusOK {
		t.Fatalf("rotate: %d", code)
	}
	testkit.Eventually(t, 5*time.Second, "agent offline after rotation", func() bool {
		return s.routerStatus() == controlplane.RouterOffline
	})
}

// TestAgentReinstall: an agent that lost its database counts seqs from 1
// again; the control plane sees the new epoch and applies its events
// instead of skipping them as already seen.
func TestAgentReinstall(t *testing.T) {
	s := startSite(t)
	if err := s.router.AddHotspotUser("carol", "pw", ""); err != nil {
		t.Fatal(err)
	}
	// Ten logins and logouts take the seq well past what the new agent
	// will send before carol's login.
	for i := range 10 {
		id, err := s.router.LoginHotspot("alice", fmt.Sprintf("AA:BB:CC:DD:EE:%02X", i), "10.5.50.10")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.router.Logout(id); err != nil {
			t.Fatal(err)
		}
	}
	aliceID, err := s.router.LoginHotspot("alice", "AA:BB:CC:DD:EE:01", "10.5.50.10")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "alice online after 10 earlier sessions", func() bool {
		var h controlplane.Page[controlplane.SessionRecord]
		s.c.call("GET", "/api/v1/sessions/history?user=alice", nil, &h)
		return h.Total == 10 && s.sessions(url.Values{"user": {"alice"}}).Total == 1
	})
	if r, _ := s.m.Store().GetRouter(context.Background(), 0, s.routerID); r.LastSeq < 20 {
		t.Fatalf("last_seq %d, want at least 20", r.LastSeq)
	}

	s.stopAgent()
	if err := s.router.Logout(aliceID); err != nil { // while no agent watches
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s.startAgent(t, ctx, t.TempDir()) // a new database: seqs start at 1
	if _, err := s.router.LoginHotspot("carol", "AA:BB:CC:DD:EE:03", "10.5.50.11"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "carol online and alice ended by the new agent's snapshot", func() bool {
		return s.sessions(url.Values{"user": {"carol"}}).Total == 1 && s.sessions(url.Values{"user": {"alice"}}).Total == 0
	})
	var audit struct{ Data []controlplane.AuditEntry }
	s.c.call("GET", "/api/v1/audit", nil, &audit)
	for _, e := range audit.Data {
		if e.Action == "router.epoch" && e.Target == "router:"+s.routerID {
			return
		}
	}
	t.Errorf("no router.epoch audit entry: %+v", audit)
}

// TestGracefulShutdown: Close stops the broker with agents connected; the
// store records them offline before it closes, within the timeout.
func TestGracefulShutdown(t *testing.T) {
	s := startSite(t)
	start := time.Now()
	if err := s.m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > s.m.Config.ShutdownTimeout {
		t.Fatalf("Close took %v, over the %v timeout", d, s.m.Config.ShutdownTimeout)
	}
	if _, err := http.Get("http://" + s.m.HTTPAddr() + "/healthz"); err == nil {
		t.Fatal("HTTP still served after Close")
	}
	st, err := store.Open(context.Background(), store.Options{DataDir: s.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.GetRouter(context.Background(), 0, s.routerID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != controlplane.RouterOffline {
		t.Fatalf("router %s after shutdown, want offline", r.Status)
	}
}
