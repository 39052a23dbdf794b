package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// On serve's wiring: a router created in RADIUS mode gets its accounts as
// sync pages over the embedded broker once its agent (here a paho client
// with the router's credentials) reports its state, and the state marks
// the account synced.
func TestServeRadiusSync(t *testing.T) {
	m := startMain(t, Config{DataDir: t.TempDir(), AdminEmail: "root@isp.test", AdminPassword: "a very long admin password"})
	c := &testClient{t: t, base: "http://" + m.HTTPAddr()}
	c.token = login(t, c.base, "root@isp.test", "a very long admin password")
	var acc controlplane.Accepted
	if code := c.call("POST", "/api/v1/tenants", map[string]string{"name": "Edge WiFi"}, &acc); code != http.StatusAccepted {
		t.Fatalf("create tenant: %d", code)
	}
	testkit.Eventually(t, 5*time.Second, "tenant active", func() bool {
		var ten controlplane.Tenant
		c.call("GET", fmt.Sprintf("/api/v1/tenants/%d", acc.ID), nil, &ten)
		return ten.Status == controlplane.TenantActive
	})
	var enrolled controlplane.RouterSecret
	if code := c.call("POST", "/api/v1/routers", map[string]any{"name": "edge", "tenant_id": acc.ID, "auth_mode": "radius"}, &enrolled); code != http.StatusCreated {
		t.Fatalf("create router: %d", code)
	}
	rid := enrolled.Router.ID
	var res controlplane.AccountResult
	if code := c.call("POST", "/api/v1/accounts", map[string]any{"kind": "ppp", "name": "bob", "password": "password",
		"router_ids": []string{rid}}, &res); code != http.StatusAccepted {
		t.Fatalf("create account: %d", code)
	}
	if len(res.Commands) != 0 {
		t.Errorf("commands %+v, want none on a RADIUS router", res.Commands)
	}

	pages := make(chan *protocol.RadiusSync, 16)
	cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + m.MQTTAddr()).SetClientID(rid).SetUsername(rid).
		SetPassword(enrolled.Secret).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	if tok := cl.Subscribe(protocol.RadiusSyncTopic(rid), 1, func(_ paho.Client, msg paho.Message) {
		if p, err := protocol.DecodeRadiusSync(msg.Payload()); err == nil {
			pages <- p
		}
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	st, _ := protocol.Encode(&protocol.RadiusState{V: protocol.Version, Router: rid})
	cl.Publish(protocol.RadiusStateTopic(rid), 1, false, st).WaitTimeout(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		select {
		case p := <-pages:
			if p.From != 0 || len(p.Entries) != 1 {
				continue
			}
			e := p.Entries[0]
			if e.Kind != protocol.KindPPPoE || e.Name != "bob" || e.Password != "" || e.NTHash != "8846f7eaee8fb117ad06bdd830b7586c" {
				t.Fatalf("entry %+v: want bob's NT hash and no clear text", e)
			}
			st, _ := protocol.Encode(&protocol.RadiusState{V: protocol.Version, Router: rid, Version: p.To, Count: 1})
			cl.Publish(protocol.RadiusStateTopic(rid), 1, false, st).WaitTimeout(5 * time.Second)
			testkit.Eventually(t, 5*time.Second, "the account synced and the router in sync", func() bool {
				var a controlplane.Account
				var rr controlplane.RouterRadius
				c.call("GET", fmt.Sprintf("/api/v1/accounts/%d", res.Account.ID), nil, &a)
				c.call("GET", "/api/v1/routers/"+rid+"/radius", nil, &rr)
				return len(a.Routers) == 1 && a.Routers[0].State == controlplane.SyncSynced && rr.Radius.InSync && rr.Radius.AgentCount == 1
			})
			return
		case <-ctx.Done():
			t.Fatal("no page with bob")
		}
	}
}
