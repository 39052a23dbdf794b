package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/cluster/clustertest"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/internal/testpg"
	"github.com/sitepulse/sitepulse/protocol"
)

// TestRolesJobsNode splits the control plane the way issue 15 deploys it:
// an api,ingest,realtime node and a jobs node on one PostgreSQL behind one
// Mosquitto. A command created through the first node's API reaches the
// agent (a plain MQTT client standing in for one: this test is about the
// processes, not the agent); the agent ignores the first delivery, so the
// second can only be the jobs node's sweep (the other node runs no jobs
// and the router never comes online again). The agent's answer is ingested
// by the first node: its REST API and its dashboard show the command
// succeeded. The jobs node serves only its probes and metrics.
func TestRolesJobsNode(t *testing.T) {
	brokerURL := clustertest.StartMosquitto(t)
	db := testpg.NewDatabase(t)
	cfg := Config{DatabaseURL: db, AdminEmail: "root@isp.test", AdminPassword: "a very long admin password", PusherSecret: "shared-secret"}
	webCfg := cfg
	webCfg.Roles = Roles{RoleAPI, RoleIngest, RoleRealtime}
	webCfg.External = ExternalMQTT{URL: brokerURL, ClientID: "cp-web"}
	web := startMain(t, webCfg)
	jobsCfg := cfg
	jobsCfg.Roles = Roles{RoleJobs}
	jobsCfg.External = ExternalMQTT{URL: brokerURL, ClientID: "cp-jobs"}
	jobsCfg.QueueWorkers = map[string]int{"provisioning": 2}
	jobsCfg.Provisioning = provisioning.Options{JobPollInterval: 50 * time.Millisecond,
		SweepInterval: 300 * time.Millisecond, RedeliverAfter: 500 * time.Millisecond}
	jobs := startMain(t, jobsCfg)

	base := "http://" + web.HTTPAddr()
	root := &testClient{t: t, base: base, token: login(t, base, cfg.AdminEmail, cfg.AdminPassword)}
	ctx := context.Background()
	st := web.Store()
	ten, err := st.CreateTenant(ctx, "Kilimani WiFi")
	if err != nil {
		t.Fatal(err)
	}
	rt, _, err := st.CreateRouter(ctx, ten.ID, "core", "Kilimani")
	if err != nil {
		t.Fatal(err)
	}

	// The agent: retained online status, commands answered from the
	// second delivery on.
	agent := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(rt.ID))
	if tok := agent.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer agent.Disconnect(0)
	var mu sync.Mutex
	received := map[string]int{}
	answer := func(c mqtt.Client, m mqtt.Message) {
		cmd, err := protocol.DecodeCommand(m.Payload())
		if err != nil {
			t.Errorf("agent got %s: %v", m.Payload(), err)
			return
		}
		mu.Lock()
		received[cmd.ID]++
		n := received[cmd.ID]
		mu.Unlock()
		if n < 2 {
			return // lost on the router's side: only a redelivery answers it
		}
		res, _ := protocol.Encode(&protocol.CommandResult{V: protocol.Version, ID: cmd.ID, Router: rt.ID, Status: protocol.ResultSucceeded, TS: time.Now().UTC(), Ret: "*1"})
		c.Publish(protocol.CmdResultTopic(rt.ID), 1, false, res)
	}
	if tok := agent.Subscribe(protocol.CmdTopic(rt.ID), 1, answer); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	online, _ := protocol.Encode(&protocol.Status{V: protocol.Version, Router: rt.ID, State: protocol.StateOnline, TS: time.Now().UTC()})
	if tok := agent.Publish(protocol.StatusTopic(rt.ID), 1, true, online); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	testkit.Eventually(t, 10*time.Second, "router online on the api node", func() bool {
		var r controlplane.Router
		root.call("GET", "/api/v1/routers/"+rt.ID, nil, &r)
		return r.Status == controlplane.RouterOnline
	})
	testkit.Eventually(t, 10*time.Second, "the jobs node sees the agent connected", func() bool { return jobs.cluster.Connected(rt.ID) })

	dash := subscribePusher(t, web, root.token, channel("commands", ten.ID))
	cmd := root.command(rt.ID, hotspotAdd("alice", "secret-pass", ""))
	got := root.waitCommand(cmd.ID, 20*time.Second)
	if got.Status != controlplane.CommandSucceeded {
		t.Fatalf("command %s, want succeeded", got.Status)
	}
	mu.Lock()
	n := received[cmd.ID]
	mu.Unlock()
	if n < 2 {
		t.Errorf("agent got the command %d times, want the jobs node's redelivery too", n)
	}
	if r := deliveries(t, jobs, "redelivered"); r < 1 {
		t.Errorf("jobs node redelivered %v commands, want the redelivery counted there", r)
	}
	if r := deliveries(t, web, "redelivered"); r != 0 {
		t.Errorf("api node redelivered %v commands, want none (it runs no jobs)", r)
	}
	if s := dash.commandStatuses(cmd.ID); s[len(s)-1] != string(controlplane.CommandSucceeded) {
		t.Errorf("dashboard statuses %v, want succeeded last", s)
	}
	var deliverState string
	if err := st.DB().QueryRowContext(ctx, `SELECT state FROM river_job WHERE kind = $1 ORDER BY id DESC LIMIT 1`, provisioning.KindDeliver).Scan(&deliverState); err != nil {
		t.Logf("deliver job: %v", err)
	} else if deliverState != "completed" {
		t.Errorf("deliver job %s, want completed by the jobs node", deliverState)
	}

	// The jobs node serves its probes and metrics, not the API.
	jbase := "http://" + jobs.HTTPAddr()
	if code, body := httpGet(t, jbase+"/readyz", ""); code != http.StatusOK || !strings.Contains(string(body), `"jobs":"running"`) {
		t.Errorf("jobs node readyz = %d %s", code, body)
	}
	if code, _ := httpGet(t, jbase+"/healthz", ""); code != http.StatusOK {
		t.Errorf("jobs node healthz = %d", code)
	}
	if code, body := httpGet(t, jbase+"/metrics", ""); code != http.StatusOK || !strings.Contains(string(body), "sitepulse_") {
		t.Errorf("jobs node metrics = %d", code)
	}
	if code, _ := httpGet(t, jbase+"/api/v1/routers", root.token); code != http.StatusNotFound {
		t.Errorf("jobs node serves the API: %d", code)
	}
}

// deliveries reads m's sitepulse_command_deliveries_total{result}.
func deliveries(t *testing.T, m *Main, result string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sitepulse_command_deliveries_total" {
			continue
		}
		for _, x := range mf.GetMetric() {
			for _, l := range x.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return x.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A jobs node needs the external broker; other partial role sets are
// refused with the supported ones named.
func TestRolesJobsNodeRefused(t *testing.T) {
	for _, tc := range []struct {
		roles Roles
		want  string
	}{
		{Roles{RoleJobs}, "--roles=jobs needs --mqtt-url"},
		{Roles{RoleAPI, RoleJobs}, "api, ingest and realtime run together"},
		{Roles{RoleIngest}, "api, ingest and realtime run together"},
	} {
		m := NewMain(Config{HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Roles: tc.roles, Stdout: io.Discard})
		err := m.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--roles=%s: Run = %v, want %q", tc.roles, err, tc.want)
		}
	}
}
