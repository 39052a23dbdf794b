package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

// billEnv is serve's wiring with the Daraja simulator over TCP, one
// enrolled router with its simulator and real agent, and a clock that
// runs with real time plus an offset the test moves to reach expiries.
type billEnv struct {
	*provEnv
	sim    *daraja.Server
	offset atomic.Int64
	admin  *testClient // tenant admin of tenant A
	site   *siteRouter
}

func startBillEnv(t *testing.T, c Config) *billEnv {
	t.Helper()
	b := &billEnv{sim: daraja.New(daraja.Options{Seed: 7})}
	if err := b.sim.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.sim.Close() })
	c.Now = func() time.Time { return time.Now().Add(time.Duration(b.offset.Load())) }
	c.Billing = BillingConfig{MpesaBaseURL: b.sim.URL(), QueryAfter: time.Second, QueryInterval: 300 * time.Millisecond,
		ExpiryInterval: 300 * time.Millisecond, SyncInterval: time.Second}
	b.provEnv = startProvEnv(t, c)
	b.admin = b.user(b.tenantA, controlplane.RoleTenantAdmin, "admin@kilimani.test")
	b.site = b.router("site-1")
	b.site.start()
	b.site.waitOnline(20 * time.Second)
	patch := map[string]any{"mpesa_shortcode": daraja.SandboxShortCode, "mpesa_passkey": daraja.SandboxPasskey,
		"mpesa_consumer_key": daraja.DefaultConsumerKey, "mpesa_consumer_secret": daraja.DefaultConsumerSecret,
		"allowed_sources": []string{"127.0.0.1"}}
	if code := b.admin.call("PUT", "/api/v1/billing/settings", patch, nil); code != http.StatusOK {
		t.Fatalf("billing settings: %d", code)
	}
	return b
}

// plan creates a plan and waits until its profile is on the router.
func (b *billEnv) plan(name, kind string, price int64, dur string) controlplane.Plan {
	b.t.Helper()
	var p controlplane.Plan
	body := map[string]any{"name": name, "kind": kind, "price": price, "duration": dur, "rate_limit": "2M/5M", "shared_users": 1}
	if code := b.admin.call("POST", "/api/v1/plans", body, &p); code != http.StatusCreated {
		b.t.Fatalf("create plan: %d", code)
	}
	testkit.Eventually(b.t, 20*time.Second, "plan profile synced", func() bool {
		b.admin.call("GET", fmt.Sprintf("/api/v1/plans/%d", p.ID), nil, &p)
		return len(p.Routers) == 1 && p.Routers[0].State == controlplane.SyncSynced
	})
	return p
}

// buy purchases plan for phone as the technician and waits for the
// payment to complete.
func (b *billEnv) buy(plan controlplane.Plan, phone string) (controlplane.PurchaseResult, controlplane.Payment) {
	b.t.Helper()
	var res controlplane.PurchaseResult
	if code := b.tech.call("POST", "/api/v1/subscriptions", map[string]any{"plan_id": plan.ID, "phone": phone}, &res); code != http.StatusAccepted {
		b.t.Fatalf("purchase: %d", code)
	}
	var pay controlplane.Payment
	testkit.Eventually(b.t, 20*time.Second, "payment completed", func() bool {
		b.tech.call("GET", fmt.Sprintf("/api/v1/payments/%d", res.PaymentID), nil, &pay)
		return pay.Status == controlplane.PaymentCompleted
	})
	return res, pay
}

func (b *billEnv) credentials(sub int64) controlplane.Credentials {
	b.t.Helper()
	var c controlplane.Credentials
	testkit.Eventually(b.t, 20*time.Second, "subscription has its account", func() bool {
		return b.tech.call("GET", fmt.Sprintf("/api/v1/subscriptions/%d/credentials", sub), nil, &c) == http.StatusOK
	})
	return c
}

// routerItem reads name's row of menu (/ip/hotspot/user, /ppp/secret)
// back from the simulated router over the RouterOS API, as a tech would
// check it: nil when it is not there.
func (b *billEnv) routerItem(menu, name string) map[string]string {
	b.t.Helper()
	c, err := routeros.DialTimeout(b.site.sim.Addr(), "sitepulse", "router-pw", 5*time.Second)
	if err != nil {
		b.t.Fatalf("dial router: %v", err)
	}
	defer c.Close()
	r, err := c.Run(menu+"/print", "?name="+name)
	if err != nil {
		b.t.Fatalf("%s/print: %v", menu, err)
	}
	if len(r.Re) == 0 {
		return nil
	}
	return r.Re[0].Map
}

// TestBillingEndToEnd: a purchase → STK push at the Daraja simulator →
// its callback → payment completed → a hotspot user with the plan's
// profile on the simulated router (read back over the RouterOS API) → the
// customer logs in with the credentials → Laravel Echo (real pusher-js in
// Node) sees the session on the tenant's channel. Then the PPPoE plan the
// same way through /ppp/secret; expiry disables and kicks; a renewal
// after expiry re-enables the account and the customer logs in again; a
// payment while the router's agent is offline is applied when it returns,
// once.
func TestBillingEndToEnd(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		b := startBillEnv(t, c)
		hot := b.plan("1 hour", "hotspot", 5000, "1h")
		if row := b.routerItem("/ip/hotspot/user/profile", hot.Profile); row == nil || row["rate-limit"] != "2M/5M" {
			t.Fatalf("hotspot profile on the router: %v", row)
		}
		const phone = "254712345678"
		res, pay := b.buy(hot, "0712345678")
		if pay.Receipt == "" || pay.Amount != controlplane.KES(5000) {
			t.Fatalf("payment = %+v", pay)
		}
		cred := b.credentials(res.SubscriptionID)
		testkit.Eventually(t, 20*time.Second, "hotspot user on the router", func() bool {
			row := b.routerItem("/ip/hotspot/user", cred.Username)
			return row != nil && row["profile"] == hot.Profile && row["disabled"] == "false"
		})
		b.echoSeesLogin(cred, "2547****678")

		// PPPoE: /ppp/secret with the plan's /ppp/profile.
		ppp := b.plan("Home 10M", "pppoe", 150000, "30d")
		res2, _ := b.buy(ppp, "+254722000111")
		cred2 := b.credentials(res2.SubscriptionID)
		testkit.Eventually(t, 20*time.Second, "ppp secret on the router", func() bool {
			row := b.routerItem("/ppp/secret", cred2.Username)
			return row != nil && row["profile"] == ppp.Profile
		})
		if _, err := b.site.sim.LoginPPPPassword(cred2.Username, cred2.Password, "AA:BB:CC:00:00:02", "10.0.0.2"); err != nil {
			t.Fatalf("ppp login: %v", err)
		}

		// Expiry: an hour and a bit later the hotspot user is disabled
		// and kicked.
		b.offset.Add(int64(time.Hour + time.Minute))
		testkit.Eventually(t, 20*time.Second, "hotspot user disabled, session kicked", func() bool {
			row := b.routerItem("/ip/hotspot/user", cred.Username)
			active := 0
			for _, s := range b.site.sim.HotspotActive() {
				if s["user"] == cred.Username {
					active++
				}
			}
			return row != nil && row["disabled"] == "true" && active == 0
		})
		var sub controlplane.Subscription
		testkit.Eventually(t, 10*time.Second, "subscription expired", func() bool {
			b.tech.call("GET", fmt.Sprintf("/api/v1/subscriptions/%d", res.SubscriptionID), nil, &sub)
			return sub.Status == controlplane.SubscriptionExpired
		})
		if sub.Reason != controlplane.ExpiredTime {
			t.Fatalf("subscription after expiry = %+v", sub)
		}
		if _, err := b.site.sim.LoginHotspotPassword(cred.Username, cred.Password, "AA:BB:CC:00:00:01", "10.5.50.9"); err == nil {
			t.Fatal("an expired customer logged in")
		}
		// Renewal after expiry: enabled again (the reconnection).
		b.buy(hot, phone)
		testkit.Eventually(t, 20*time.Second, "hotspot user enabled again", func() bool {
			row := b.routerItem("/ip/hotspot/user", cred.Username)
			return row != nil && row["disabled"] == "false"
		})
		if _, err := b.site.sim.LoginHotspotPassword(cred.Username, cred.Password, "AA:BB:CC:00:00:01", "10.5.50.9"); err != nil {
			t.Fatalf("login after renewal: %v", err)
		}

		// The agent is offline when a new customer pays: the account
		// reaches the router when it returns, added once.
		b.site.stop()
		b.site.waitOffline()
		res3, _ := b.buy(hot, "0733000333")
		cred3 := b.credentials(res3.SubscriptionID)
		if b.routerItem("/ip/hotspot/user", cred3.Username) != nil {
			t.Fatal("user on the router while its agent was offline")
		}
		adds := b.site.sim.Calls("/ip/hotspot/user/add")
		b.site.start()
		testkit.Eventually(t, 30*time.Second, "offline payment applied on return", func() bool {
			return b.routerItem("/ip/hotspot/user", cred3.Username) != nil
		})
		if got := b.site.sim.Calls("/ip/hotspot/user/add") - adds; got != 1 {
			t.Fatalf("%d user adds after the agent returned, want 1", got)
		}
	})
}

// echoSeesLogin runs the real laravel-echo in Node on the tenant's
// sessions channel and has the customer log in once it is subscribed.
func (b *billEnv) echoSeesLogin(cred controlplane.Credentials, masked string) {
	b.t.Helper()
	runEcho(b.t, echoRun{m: b.m, base: b.admin.base, token: b.admin.token, other: b.techB.token, tenant: b.tenantA, user: masked},
		func() error {
			_, err := b.site.sim.LoginHotspotPassword(cred.Username, cred.Password, "AA:BB:CC:00:00:01", "10.5.50.9")
			return err
		})
}
