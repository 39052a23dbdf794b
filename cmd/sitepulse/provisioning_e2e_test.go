package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// The provisioning end-to-end tests run sitepulse serve's wiring on SQLite
// and on PostgreSQL, with simulated routers and real agents in-process,
// and drive everything through the REST API as a field tech would.

// provEnv is a running control plane with two tenants and their people.
type provEnv struct {
	t        *testing.T
	m        *Main
	root     *testClient // system admin
	tech     *testClient // technician of tenant A
	viewer   *testClient // viewer of tenant A
	techB    *testClient // technician of tenant B
	tenantA  int64
	tenantB  int64
	password string
}

// eachDialect runs fn on SQLite and on PostgreSQL.
func eachDialect(t *testing.T, fn func(t *testing.T, c Config)) {
	testkit.EachDialect(t, func(t *testing.T, db testkit.Database) {
		fn(t, Config{DataDir: db.Dir, DatabaseURL: db.URL})
	})
}

func startProvEnv(t *testing.T, c Config) *provEnv {
	t.Helper()
	c.AdminEmail, c.AdminPassword = "root@isp.test", "a very long admin password"
	// Fast jobs: sweeps twice a second, redelivery after two seconds.
	c.Provisioning = provisioning.Options{JobPollInterval: 50 * time.Millisecond, SweepInterval: 500 * time.Millisecond,
		AccountInterval: 500 * time.Millisecond, RedeliverAfter: 2 * time.Second}
	m := startMain(t, c)
	e := &provEnv{t: t, m: m, password: "correct horse battery staple"}
	base := "http://" + m.HTTPAddr()
	e.root = &testClient{t: t, base: base, token: login(t, base, c.AdminEmail, c.AdminPassword)}
	e.tenantA, e.tenantB = e.tenant("Kilimani WiFi"), e.tenant("Other ISP")
	e.tech = e.user(e.tenantA, controlplane.RoleTechnician, "tech@kilimani.test")
	e.viewer = e.user(e.tenantA, controlplane.RoleViewer, "viewer@kilimani.test")
	e.techB = e.user(e.tenantB, controlplane.RoleTechnician, "tech@other.test")
	return e
}

// tenant creates an active tenant through the API (202, then the River
// job on tenant-management activates it).
func (e *provEnv) tenant(name string) int64 {
	e.t.Helper()
	var acc controlplane.Accepted
	if code := e.root.call("POST", "/api/v1/tenants", map[string]string{"name": name}, &acc); code != http.StatusAccepted {
		e.t.Fatalf("create tenant: %d", code)
	}
	testkit.Eventually(e.t, 10*time.Second, "tenant "+name+" active", func() bool {
		var ten controlplane.Tenant
		e.root.call("GET", fmt.Sprintf("/api/v1/tenants/%d", acc.ID), nil, &ten)
		return ten.Status == controlplane.TenantActive
	})
	return acc.ID
}

func (e *provEnv) user(tenant int64, role controlplane.Role, email string) *testClient {
	e.t.Helper()
	body := map[string]any{"email": email, "name": email, "role": role, "password": e.password}
	if code := e.root.call("POST", fmt.Sprintf("/api/v1/tenants/%d/users", tenant), body, nil); code != http.StatusCreated {
		e.t.Fatalf("create user %s: %d", email, code)
	}
	return &testClient{t: e.t, base: e.root.base, token: login(e.t, e.root.base, email, e.password)}
}

// siteRouter is an enrolled router: a simulator and (when running) the
// real agent beside it. The agent's data dir survives restarts, so it
// remembers the commands it ran.
type siteRouter struct {
	e        *provEnv
	id       string
	secret   string
	sim      *sim.Router
	dataDir  string
	rawAllow []string

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
	ag     *agent.Agent
}

// router enrolls a router of tenant A and starts its simulator (not its
// agent).
func (e *provEnv) router(name string) *siteRouter {
	e.t.Helper()
	var enrolled controlplane.RouterSecret
	body := map[string]any{"name": name, "site": name, "tenant_id": e.tenantA}
	if code := e.root.call("POST", "/api/v1/routers", body, &enrolled); code != http.StatusCreated {
		e.t.Fatalf("create router: %d", code)
	}
	rt := sim.New(sim.Config{User: "sitepulse", Password: "router-pw", Identity: name, TrafficInterval: -1})
	if err := rt.Start(context.Background(), "127.0.0.1:0"); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { rt.Close() })
	sr := &siteRouter{e: e, id: enrolled.Router.ID, secret: enrolled.Secret, sim: rt, dataDir: e.t.TempDir()}
	// Cleanups run last-in first-out: the agent stops before Main closes.
	e.t.Cleanup(sr.stop)
	return sr
}

// start runs the agent until stop.
func (sr *siteRouter) start() {
	t := sr.e.t
	t.Helper()
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.ag != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ag, err := agent.New(ctx, agent.Config{
		RouterID:          sr.id,
		RouterAddr:        sr.sim.Addr(),
		RouterUser:        "sitepulse",
		RouterPassword:    "router-pw",
		MQTTURL:           "tcp://" + sr.e.m.MQTTAddr(),
		MQTTSecret:        sr.secret,
		DataDir:           sr.dataDir,
		RawAllow:          sr.rawAllow,
		CountersInterval:  500 * time.Millisecond,
		ResourcesInterval: 5 * time.Second,
		RouterMinBackoff:  50 * time.Millisecond,
		RouterMaxBackoff:  500 * time.Millisecond,
		MQTTMinBackoff:    50 * time.Millisecond,
		MQTTMaxBackoff:    500 * time.Millisecond,
		ShutdownTimeout:   2 * time.Second,
		Version:           "e2e",
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	sr.ag, sr.cancel, sr.done = ag, cancel, make(chan error, 1)
	go func(done chan<- error) { done <- ag.Run(ctx) }(sr.done)
}

// stop stops the agent gracefully (it reports offline) and closes it.
func (sr *siteRouter) stop() {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.ag == nil {
		return
	}
	sr.cancel()
	<-sr.done
	sr.ag.Close()
	sr.ag = nil
}

func (sr *siteRouter) status(c *testClient) controlplane.Router {
	var r controlplane.Router
	c.call("GET", "/api/v1/routers/"+sr.id, nil, &r)
	return r
}

func (sr *siteRouter) waitOnline(d time.Duration) {
	sr.e.t.Helper()
	testkit.Eventually(sr.e.t, d, "router "+sr.id+" online", func() bool {
		r := sr.status(sr.e.root)
		return r.Status == controlplane.RouterOnline && r.RouterConnected
	})
}

func (sr *siteRouter) waitOffline() {
	sr.e.t.Helper()
	testkit.Eventually(sr.e.t, 10*time.Second, "router "+sr.id+" offline", func() bool {
		return sr.status(sr.e.root).Status == controlplane.RouterOffline
	})
}

// hotspotUsers returns how many /ip/hotspot/user entries the simulator
// has named name.
func (sr *siteRouter) hotspotUsers(name string) int {
	n := 0
	for _, u := range sr.sim.HotspotUsers() {
		if u["name"] == name {
			n++
		}
	}
	return n
}

// command posts a command to router and returns it as queued.
func (c *testClient) command(router string, body map[string]any) controlplane.Command {
	c.t.Helper()
	var cmd controlplane.Command
	if code := c.call("POST", "/api/v1/routers/"+router+"/commands", body, &cmd); code != http.StatusAccepted {
		c.t.Fatalf("command %v: %d", body["kind"], code)
	}
	return cmd
}

func (c *testClient) getCommand(id string) controlplane.Command {
	c.t.Helper()
	var cmd controlplane.Command
	if code := c.call("GET", "/api/v1/commands/"+id, nil, &cmd); code != http.StatusOK {
		c.t.Fatalf("get command %s: %d", id, code)
	}
	return cmd
}

// waitCommand waits until command id is final and returns it.
func (c *testClient) waitCommand(id string, d time.Duration) controlplane.Command {
	c.t.Helper()
	var cmd controlplane.Command
	testkit.Eventually(c.t, d, "command "+id+" final", func() bool {
		cmd = c.getCommand(id)
		return cmd.Status.Final()
	})
	return cmd
}

func hotspotAdd(name, password, profile string) map[string]any {
	u := map[string]any{"name": name, "password": password}
	if profile != "" {
		u["profile"] = profile
	}
	return map[string]any{"kind": "hotspot.user.add", "hotspot_user": u}
}

// commandEvents reads CommandUpdated events of command id from c until it
// reaches a final status, and returns the statuses in order.
func (c *pusherClient) commandStatuses(id string) []string {
	c.t.Helper()
	var out []string
	for {
		f := c.next()
		if f.Event != "CommandUpdated" {
			continue
		}
		var d struct {
			Command struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"command"`
		}
		if err := json.Unmarshal([]byte(f.Data), &d); err != nil {
			c.t.Fatal(err)
		}
		if d.Command.ID != id {
			continue
		}
		out = append(out, d.Command.Status)
		if controlplane.CommandStatus(d.Command.Status).Final() {
			return out
		}
	}
}

// TestProvisioningHotspotUserAndKick: a hotspot user created through the
// API appears in the router's /ip/hotspot/user; the dashboard sees the
// command's transitions; kicking the user's live session removes it on
// the router and a SessionEnded follows.
func TestProvisioningHotspotUserAndKick(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		e := startProvEnv(t, c)
		sr := e.router("kilimani-core")
		sr.start()
		sr.waitOnline(10 * time.Second)
		commands := subscribePusher(t, e.m, e.tech.token, channel("commands", e.tenantA))
		sessions := subscribePusher(t, e.m, e.tech.token, channel("sessions", e.tenantA))
		users := subscribePusher(t, e.m, e.viewer.token, channel("users", e.tenantA))

		// A managed account, provisioned to the router.
		var created controlplane.AccountResult
		if code := e.tech.call("POST", "/api/v1/accounts", map[string]any{"kind": "hotspot", "name": "+254712345678",
			"password": "guest-pw", "profile": "default", "phone": "+254712345678", "router_ids": []string{sr.id}}, &created); code != http.StatusAccepted {
			t.Fatalf("create account: %d", code)
		}
		if got := commands.commandStatuses(created.Commands[0].ID); !slices.Equal(got, []string{"queued", "sent", "running", "succeeded"}) {
			t.Errorf("CommandUpdated statuses %v, want queued, sent, running, succeeded", got)
		}
		if n := sr.hotspotUsers("+254712345678"); n != 1 {
			t.Fatalf("%d hotspot users +254712345678 on the router, want 1", n)
		}
		// The users channel announced it, phone masked, password absent.
		if f := users.next(); f.Event != "UserCreated" || strings.Contains(f.Data, "712345") || strings.Contains(f.Data, "guest-pw") ||
			!strings.Contains(f.Data, `+2547****678`) {
			t.Errorf("users channel: %s %s", f.Event, f.Data)
		}
		var acct controlplane.Account
		testkit.Eventually(t, 5*time.Second, "account synced", func() bool {
			e.tech.call("GET", fmt.Sprintf("/api/v1/accounts/%d", created.Account.ID), nil, &acct)
			return len(acct.Routers) == 1 && acct.Routers[0].State == controlplane.SyncSynced
		})

		// A typed command straight to the router does the same.
		add := e.tech.command(sr.id, hotspotAdd("walkin-7", "pw-7", ""))
		if got := e.tech.waitCommand(add.ID, 10*time.Second); got.Status != controlplane.CommandSucceeded || got.Ret == "" {
			t.Fatalf("add = %+v", got)
		}
		if sr.hotspotUsers("walkin-7") != 1 {
			t.Fatal("walkin-7 not on the router")
		}

		// The new user logs in; the tech kicks the session.
		if _, err := sr.sim.LoginHotspot("walkin-7", "AA:BB:CC:00:07:01", "10.5.50.77"); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, "walkin-7's session visible", func() bool {
			var p controlplane.Page[controlplane.Session]
			e.tech.call("GET", "/api/v1/sessions?user=walkin-7", nil, &p)
			return p.Total == 1
		})
		kick := e.tech.command(sr.id, map[string]any{"kind": "hotspot.active.kick", "kick": map[string]any{"user": "walkin-7"}})
		if got := e.tech.waitCommand(kick.ID, 10*time.Second); got.Status != controlplane.CommandSucceeded {
			t.Fatalf("kick = %+v", got)
		}
		if n := len(sr.sim.HotspotActive()); n != 0 {
			t.Fatalf("%d active hotspot sessions after the kick", n)
		}
		for {
			ev, _, _ := sessions.nextSessionEvent()
			if ev == "SessionEnded" {
				break
			}
		}
		var h controlplane.Page[controlplane.SessionRecord]
		testkit.Eventually(t, 5*time.Second, "kicked session in history", func() bool {
			e.tech.call("GET", "/api/v1/sessions/history?user=walkin-7", nil, &h)
			return h.Total == 1
		})
		if h.Data[0].EndReason != protocol.EndKicked {
			t.Errorf("end reason %q, want kicked", h.Data[0].EndReason)
		}
	})
}

func channel(topic string, tenant int64) string {
	return fmt.Sprintf("private-tenant.%d.%s", tenant, topic)
}

// TestProvisioningOfflineAgent: a command sent while the agent is stopped
// runs exactly once after it starts; a duplicate delivery runs once; an
// expired command never reaches the router.
func TestProvisioningOfflineAgent(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		e := startProvEnv(t, c)
		sr := e.router("mathare-gw")
		sr.start()
		sr.waitOnline(10 * time.Second)
		sr.stop()
		sr.waitOffline()

		late := e.tech.command(sr.id, hotspotAdd("late-user", "pw", ""))
		req := hotspotAdd("never-user", "pw", "")
		req["ttl_seconds"] = 1
		expired := e.tech.command(sr.id, req)
		second := e.tech.command(sr.id, map[string]any{"kind": "hotspot.user.disable", "hotspot_user": map[string]any{"name": "late-user"}})
		if got := e.tech.waitCommand(expired.ID, 10*time.Second); got.Status != controlplane.CommandExpired {
			t.Fatalf("short-lived command = %+v, want expired", got)
		}
		if got := e.tech.getCommand(late.ID); got.Status != controlplane.CommandQueued || got.Attempts != 0 {
			t.Fatalf("command for the stopped agent = %+v, want queued and never delivered", got)
		}

		sr.start()
		if got := e.tech.waitCommand(late.ID, 15*time.Second); got.Status != controlplane.CommandSucceeded {
			t.Fatalf("late command = %+v", got)
		}
		// In order: the disable queued after the add ran after it.
		if got := e.tech.waitCommand(second.ID, 10*time.Second); got.Status != controlplane.CommandSucceeded {
			t.Fatalf("second command = %+v", got)
		}
		if n := sr.sim.Calls("/ip/hotspot/user/add"); n != 1 {
			t.Errorf("the router ran /ip/hotspot/user/add %d times, want once", n)
		}
		if sr.hotspotUsers("late-user") != 1 || sr.hotspotUsers("never-user") != 0 {
			t.Fatalf("router users %v: want late-user once and never-user absent", sr.sim.HotspotUsers())
		}

		// The broker delivers the add again (a redelivery): the agent
		// answers from its record and the router is untouched.
		dupBefore := commandResults(t, e.m, "duplicate")
		cmd := e.tech.getCommand(late.ID)
		wire := cmd.Wire()
		wire.HotspotUser.Password = "pw" // the stored copy lost it when it finished
		if err := e.m.broker.PublishCommand(context.Background(), wire); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "the duplicate answered", func() bool {
			return commandResults(t, e.m, "duplicate") > dupBefore
		})
		if got := e.tech.getCommand(late.ID); got.Status != controlplane.CommandSucceeded {
			t.Errorf("after the duplicate: %+v", got)
		}
		if n := sr.sim.Calls("/ip/hotspot/user/add"); n != 1 || sr.hotspotUsers("late-user") != 1 {
			t.Errorf("the duplicate ran again: /ip/hotspot/user/add run %d times, users %v", n, sr.sim.HotspotUsers())
		}
		// The expired command was never delivered, even after the agent
		// came back.
		if got := e.tech.getCommand(expired.ID); got.Status != controlplane.CommandExpired || got.Attempts != 0 {
			t.Errorf("expired command = %+v", got)
		}
	})
}

// commandResults reads sitepulse_command_results_total{status}.
func commandResults(t *testing.T, m *Main, status string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sitepulse_command_results_total" {
			continue
		}
		for _, x := range mf.GetMetric() {
			for _, l := range x.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == status {
					return x.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestProvisioningRouterErrors: RouterOS refusing a command (duplicate
// name, unknown profile) ends it failed with the router's message, and the
// account shows failed for that router.
func TestProvisioningRouterErrors(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		e := startProvEnv(t, c)
		sr := e.router("eastleigh")
		if err := sr.sim.AddHotspotUser("alice", "pw", ""); err != nil {
			t.Fatal(err)
		}
		sr.start()
		sr.waitOnline(10 * time.Second)
		for _, tc := range []struct {
			name, profile, message string
		}{
			{"alice", "", "failure: already have user with this name for this server"},
			{"bob", "no-such-profile", "input does not match any value of profile"},
		} {
			var res controlplane.AccountResult
			if code := e.tech.call("POST", "/api/v1/accounts", map[string]any{"kind": "hotspot", "name": tc.name, "password": "pw",
				"profile": tc.profile, "router_ids": []string{sr.id}}, &res); code != http.StatusAccepted {
				t.Fatalf("create account %s: %d", tc.name, code)
			}
			got := e.tech.waitCommand(res.Commands[0].ID, 10*time.Second)
			if got.Status != controlplane.CommandFailed || got.Code != protocol.CodeRouterError || !strings.Contains(got.Message, tc.message) {
				t.Errorf("%s: command %+v, want failed with %q", tc.name, got, tc.message)
			}
			var acct controlplane.Account
			e.tech.call("GET", fmt.Sprintf("/api/v1/accounts/%d", res.Account.ID), nil, &acct)
			if len(acct.Routers) != 1 || acct.Routers[0].State != controlplane.SyncFailed || !strings.Contains(acct.Routers[0].Message, tc.message) {
				t.Errorf("%s: account routers %+v, want failed with the router's message", tc.name, acct.Routers)
			}
		}
		var p controlplane.Page[controlplane.Account]
		e.viewer.call("GET", "/api/v1/accounts?state=failed", nil, &p)
		if p.Total != 2 {
			t.Fatalf("%d accounts failed, want 2", p.Total)
		}
		// Fixing the cause retries the add.
		var bob controlplane.Account
		for _, a := range p.Data {
			if a.Name == "bob" {
				bob = a
			}
		}
		var up controlplane.AccountResult
		if code := e.tech.call("PATCH", fmt.Sprintf("/api/v1/accounts/%d", bob.ID), map[string]any{"profile": "default"}, &up); code != http.StatusAccepted {
			t.Fatalf("fix bob's profile: %d", code)
		}
		if got := e.tech.waitCommand(up.Commands[0].ID, 10*time.Second); got.Kind != protocol.CmdHotspotUserAdd || got.Status != controlplane.CommandSucceeded {
			t.Errorf("retried add = %+v", got)
		}
		e.tech.call("GET", fmt.Sprintf("/api/v1/accounts/%d", bob.ID), nil, &bob)
		if bob.Routers[0].State != controlplane.SyncSynced || sr.hotspotUsers("bob") != 1 {
			t.Errorf("bob after the fix: %+v, on the router %d times", bob.Routers, sr.hotspotUsers("bob"))
		}
	})
}

// TestProvisioningAuthorization: a technician of another tenant gets 404,
// a viewer 403; raw commands are refused for non-admins by the API and,
// outside its allow-list, by the agent.
func TestProvisioningAuthorization(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		e := startProvEnv(t, c)
		sr := e.router("westlands")
		sr.rawAllow = []string{"/system/identity"}
		sr.start()
		sr.waitOnline(10 * time.Second)
		add := hotspotAdd("x", "pw", "")
		if code := e.techB.call("POST", "/api/v1/routers/"+sr.id+"/commands", add, nil); code != http.StatusNotFound {
			t.Errorf("technician of tenant B: %d, want 404", code)
		}
		if code := e.viewer.call("POST", "/api/v1/routers/"+sr.id+"/commands", add, nil); code != http.StatusForbidden {
			t.Errorf("viewer: %d, want 403", code)
		}
		outside := map[string]any{"kind": "raw", "raw": map[string]any{"path": "/ip/hotspot/user/remove", "args": []string{"=.id=*1"}}}
		if code := e.tech.call("POST", "/api/v1/routers/"+sr.id+"/commands", outside, nil); code != http.StatusForbidden {
			t.Errorf("raw by a technician: %d, want 403", code)
		}
		refused := e.root.waitCommand(e.root.command(sr.id, outside).ID, 10*time.Second)
		if refused.Status != controlplane.CommandFailed || refused.Code != protocol.CodeRefused {
			t.Errorf("raw outside the allow-list = %+v, want failed/refused by the agent", refused)
		}
		inside := e.root.waitCommand(e.root.command(sr.id, map[string]any{"kind": "raw", "raw": map[string]any{"path": "/system/identity/print"}}).ID, 10*time.Second)
		if inside.Status != controlplane.CommandSucceeded || len(inside.Rows) != 1 || inside.Rows[0]["name"] != "westlands" {
			t.Errorf("raw inside the allow-list = %+v", inside)
		}
		var page controlplane.Page[controlplane.Command]
		e.techB.call("GET", "/api/v1/commands", nil, &page)
		if page.Total != 0 {
			t.Errorf("tenant B sees %d of tenant A's commands", page.Total)
		}
	})
}

// TestProvisioningBulk50: a bulk command to 50 routers reports 50
// individual results; the offline ones complete when they come back.
func TestProvisioningBulk50(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		e := startProvEnv(t, c)
		const total, offline = 50, 10
		routers := make([]*siteRouter, total)
		for i := range routers {
			routers[i] = e.router(fmt.Sprintf("site-%02d", i))
		}
		var wg sync.WaitGroup
		for _, sr := range routers[offline:] {
			wg.Add(1)
			go func() { defer wg.Done(); sr.start() }()
		}
		wg.Wait()
		for _, sr := range routers[offline:] {
			sr.waitOnline(30 * time.Second)
		}

		var res controlplane.BulkResult
		body := map[string]any{"all_routers": true, "command": hotspotAdd("bulk-user", "pw", "")}
		if code := e.tech.call("POST", "/api/v1/commands/bulk", body, &res); code != http.StatusAccepted {
			t.Fatalf("bulk: %d", code)
		}
		if len(res.Commands) != total {
			t.Fatalf("bulk queued %d commands, want %d", len(res.Commands), total)
		}
		byStatus := func() map[controlplane.CommandStatus]int {
			var p controlplane.Page[controlplane.Command]
			e.tech.call("GET", "/api/v1/commands?limit=500&bulk_id="+url.QueryEscape(res.BulkID), nil, &p)
			n := map[controlplane.CommandStatus]int{}
			for _, c := range p.Data {
				n[c.Status]++
			}
			return n
		}
		testkit.Eventually(t, 60*time.Second, "the online routers' results", func() bool {
			return byStatus()[controlplane.CommandSucceeded] == total-offline
		})
		if got := byStatus()[controlplane.CommandQueued]; got != offline {
			t.Fatalf("%d commands queued, want the %d of the offline routers", got, offline)
		}
		for _, sr := range routers[:offline] {
			sr.start()
		}
		testkit.Eventually(t, 60*time.Second, "every router's result", func() bool {
			return byStatus()[controlplane.CommandSucceeded] == total
		})
		for _, sr := range routers {
			if sr.hotspotUsers("bulk-user") != 1 {
				t.Errorf("router %s has %d bulk-user", sr.id, sr.hotspotUsers("bulk-user"))
			}
		}
	})
}

// TestProvisioningAccountExpiry: when an account's expiry passes, it is
// disabled on its router and its live session is kicked.
func TestProvisioningAccountExpiry(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		e := startProvEnv(t, c)
		sr := e.router("ruaka")
		sr.start()
		sr.waitOnline(10 * time.Second)
		exp := time.Now().Add(2 * time.Second).UTC()
		var res controlplane.AccountResult
		if code := e.tech.call("POST", "/api/v1/accounts", map[string]any{"kind": "hotspot", "name": "day-pass", "password": "pw",
			"expires_at": exp, "router_ids": []string{sr.id}}, &res); code != http.StatusAccepted {
			t.Fatalf("create account: %d", code)
		}
		if got := e.tech.waitCommand(res.Commands[0].ID, 10*time.Second); got.Status != controlplane.CommandSucceeded {
			t.Fatalf("add = %+v", got)
		}
		if _, err := sr.sim.LoginHotspot("day-pass", "AA:BB:CC:00:0D:01", "10.5.50.44"); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "the account expired, disabled on the router and its session kicked", func() bool {
			var a controlplane.Account
			e.tech.call("GET", fmt.Sprintf("/api/v1/accounts/%d", res.Account.ID), nil, &a)
			disabled := false
			for _, u := range sr.sim.HotspotUsers() {
				disabled = disabled || (u["name"] == "day-pass" && u["disabled"] == "true")
			}
			return a.Expired && a.Disabled && len(a.Routers) == 1 && a.Routers[0].State == controlplane.SyncSynced &&
				disabled && len(sr.sim.HotspotActive()) == 0
		})
		var h controlplane.Page[controlplane.SessionRecord]
		testkit.Eventually(t, 5*time.Second, "the kicked session in history", func() bool {
			e.tech.call("GET", "/api/v1/sessions/history?user=day-pass", nil, &h)
			return h.Total == 1 && h.Data[0].EndReason == protocol.EndKicked
		})
	})
}
