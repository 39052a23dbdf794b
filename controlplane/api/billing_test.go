package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/billing"
	"github.com/sitepulse/sitepulse/controlplane/mpesa"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// pushRecorder is billing's Daraja in the API tests: the real decoders,
// and STK pushes that are recorded and accepted without a network (its
// other calls go to an address that refuses them). The callback URL the
// service builds is then posted to as Daraja would.
type pushRecorder struct {
	billing.Daraja
	mu     sync.Mutex
	pushes []billing.STKRequest
	c2b    []string // confirmation and validation URLs, per registration
}

func (d *pushRecorder) STKPush(_ context.Context, _ billing.MpesaCredentials, r billing.STKRequest) (billing.STKAccepted, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pushes = append(d.pushes, r)
	n := strconv.Itoa(len(d.pushes))
	return billing.STKAccepted{MerchantRequestID: "m-" + n, CheckoutRequestID: "ws_CO_" + n, CustomerMessage: "Success"}, nil
}

func (d *pushRecorder) RegisterC2B(_ context.Context, _ billing.MpesaCredentials, confirmationURL, validationURL string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.c2b = append(d.c2b, confirmationURL, validationURL)
	return nil
}

// c2bPaths returns the paths of the registered C2B confirmation and
// validation URLs, "" before a registration.
func (d *pushRecorder) c2bPaths(t *testing.T) (confirmation, validation string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.c2b) < 2 {
		return "", ""
	}
	c, err1 := url.Parse(d.c2b[len(d.c2b)-2])
	v, err2 := url.Parse(d.c2b[len(d.c2b)-1])
	if err1 != nil || err2 != nil {
		t.Fatalf("C2B URLs %q", d.c2b)
	}
	return c.Path, v.Path
}

// callbackPath returns the path of the latest push's callback URL, "" if
// none was made yet.
func (d *pushRecorder) callbackPath(t *testing.T) string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pushes) == 0 {
		return ""
	}
	u, err := url.Parse(d.pushes[len(d.pushes)-1].CallbackURL)
	if err != nil {
		t.Fatalf("callback URL: %v", err)
	}
	return u.Path
}

// realBilling is the billing service of an API test with what runs it.
type realBilling struct {
	svc    *billing.Service
	prov   *provisioning.Service // carries billing's jobs; started by runJobs
	daraja *pushRecorder
}

// runJobs starts River, so that billing's jobs (the STK push, the
// reconnection) run; agents are never connected.
func (b realBilling) runJobs(t *testing.T) {
	t.Helper()
	if err := b.prov.Start(context.Background(), offlineAgents{}); err != nil {
		t.Fatal(err)
	}
}

// withRealBilling replaces e's server by one with the real billing
// service on e's store and bus, with provisioning carrying its jobs (not
// started until a test calls runJobs).
func withRealBilling(t *testing.T, e *env) realBilling {
	t.Helper()
	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	daraja := &pushRecorder{Daraja: billing.NewDaraja(mpesa.New(mpesa.Config{BaseURL: "http://127.0.0.1:1"}))}
	svc, err := billing.New(billing.Options{Store: e.store, Bus: e.bus, Sealer: ring, Now: e.clock.Now, Daraja: daraja,
		PublicURL: "https://cp.example.test", CallbackKey: bytes.Repeat([]byte{7}, 32), Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := provisioning.New(provisioning.Options{Store: e.store, Bus: e.bus, DisablePeriodic: true, Jobs: []provisioning.JobSet{svc}})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetProvisioning(prov)
	t.Cleanup(func() { prov.Close(context.Background()) })
	withBilling(t, e, svc)
	return realBilling{svc: svc, prov: prov, daraja: daraja}
}

// billPeople is two tenants' staff: A's admin, technician and viewer, B's
// admin, and a system admin.
type billPeople struct {
	a, b                                 controlplane.Tenant
	adminA, techA, viewerA, adminB, root string
}

func newBillPeople(e *env) billPeople {
	var p billPeople
	p.a, p.b = e.tenant("A"), e.tenant("B")
	e.router(p.a.ID, "ra")
	e.router(p.a.ID, "ra2")
	e.router(p.b.ID, "rb")
	_, p.adminA = e.user(p.a.ID, controlplane.RoleTenantAdmin, "admin@a.example")
	_, p.techA = e.user(p.a.ID, controlplane.RoleTechnician, "tech@a.example")
	_, p.viewerA = e.user(p.a.ID, controlplane.RoleViewer, "viewer@a.example")
	_, p.adminB = e.user(p.b.ID, controlplane.RoleTenantAdmin, "admin@b.example")
	_, p.root = e.user(0, controlplane.RoleSystemAdmin, "root@example.com")
	return p
}

// The tenant's Daraja secrets: none may ever show in an answer.
var billingSecrets = map[string]string{
	"mpesa_consumer_key":    "ck-SECRET-consumer-key-1",
	"mpesa_consumer_secret": "cs-SECRET-consumer-secret-2",
	"mpesa_passkey":         "pk-SECRET-passkey-3",
	"webhook_secret":        "wh-SECRET-webhook-4",
}

// noSecrets fails if any billing secret appears in b.
func noSecrets(t *testing.T, what string, b []byte) {
	t.Helper()
	for field, s := range billingSecrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s shows the %s: %s", what, field, b)
		}
	}
}

// TestBillingAPI drives the billing routes over the real billing service
// and store: who may do what, tenant isolation, strict bodies, secrets
// that never come back, and the purchase's 202 and Location.
func TestBillingAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		bill := withRealBilling(t, e)
		p := newBillPeople(e)

		// Settings: tenant admins only; secrets go in and never come out.
		patch := map[string]any{"mpesa_shortcode": "174379", "allowed_sources": []string{"127.0.0.1"}}
		for k, v := range billingSecrets {
			patch[k] = v
		}
		e.do("PUT", "/api/v1/billing/settings", p.techA, patch).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("PUT", "/api/v1/billing/settings", p.viewerA, patch).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		r := e.do("PUT", "/api/v1/billing/settings", p.adminA, patch)
		var set controlplane.BillingSettings
		r.want(t, http.StatusOK, &set)
		noSecrets(t, "PUT settings", r.body)
		if !set.MpesaConsumerKeySet || !set.MpesaSecretSet || !set.MpesaPasskeySet || !set.WebhookSecretSet || set.MpesaShortCode != "174379" || set.TenantID != p.a.ID {
			t.Fatalf("settings %+v", set)
		}
		r = e.do("GET", "/api/v1/billing/settings", p.adminA, nil)
		r.want(t, http.StatusOK, &set)
		noSecrets(t, "GET settings", r.body)
		if !set.MpesaPasskeySet || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET settings %+v, Cache-Control %q", set, r.header.Get("Cache-Control"))
		}
		r = e.do("GET", "/api/v1/billing/settings?tenant_id="+itoa(p.a.ID), p.root, nil)
		r.want(t, http.StatusOK, &set)
		noSecrets(t, "system admin's GET settings", r.body)
		e.do("GET", "/api/v1/billing/settings?tenant_id="+itoa(p.a.ID), p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("PUT", "/api/v1/billing/settings", p.adminA, map[string]any{"mpesa_passkey_set": false}).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "mpesa_passkey_set")

		// Plans: tenant admins create and change them, everyone reads.
		plan := map[string]any{"name": "Daily", "kind": "hotspot", "price": 5000, "duration": "24h", "rate_limit": "2M/5M"}
		e.do("POST", "/api/v1/plans", p.viewerA, plan).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", "/api/v1/plans", p.techA, plan).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", "/api/v1/plans", p.adminA, map[string]any{"name": "Daily", "kind": "hotspot", "price": 50.5, "duration": "24h"}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "price")
		e.do("POST", "/api/v1/plans", p.adminA, map[string]any{"kind": "hotspot", "price": 5000, "duration": "24h"}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "name")
		e.do("POST", "/api/v1/plans", p.adminA, map[string]any{"name": "Daily", "kind": "hotspot", "price": 5000}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "duration")
		e.do("POST", "/api/v1/plans", p.adminA, map[string]any{"name": "Daily", "kind": "hotspot", "price": 5000, "duration": "24h", "colour": "red"}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "colour")
		r = e.do("POST", "/api/v1/plans", p.adminA, plan)
		var pl controlplane.Plan
		r.want(t, http.StatusCreated, &pl)
		if pl.ID == 0 || pl.Price != controlplane.KES(5000) || pl.TenantID != p.a.ID || r.header.Get("Location") != "/api/v1/plans/"+itoa(pl.ID) {
			t.Fatalf("created plan %+v, Location %q", pl, r.header.Get("Location"))
		}
		if len(pl.Routers) != 2 {
			t.Errorf("plan on routers %+v, want A's two", pl.Routers)
		}
		var plans controlplane.Page[controlplane.Plan]
		e.do("GET", "/api/v1/plans?active=true", p.viewerA, nil).want(t, http.StatusOK, &plans)
		if plans.Total != 1 || plans.Data[0].ID != pl.ID {
			t.Fatalf("viewer's plans %+v", plans)
		}
		e.do("GET", "/api/v1/plans", p.adminB, nil).want(t, http.StatusOK, &plans)
		if plans.Total != 0 {
			t.Errorf("B sees A's plans: %+v", plans)
		}
		planPath := "/api/v1/plans/" + itoa(pl.ID)
		e.do("GET", planPath, p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("PATCH", planPath, p.adminB, map[string]any{"price": 1}).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("DELETE", planPath, p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("PATCH", planPath, p.techA, map[string]any{"price": 1}).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("PATCH", planPath, p.adminA, map[string]any{"price": 45.5}).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "price")
		r = e.do("PATCH", planPath, p.adminA, map[string]any{"price": 4500})
		r.want(t, http.StatusOK, &pl)
		if pl.Price != controlplane.KES(4500) {
			t.Errorf("patched price %v", pl.Price)
		}

		// A purchase: technicians sell; 202 with the pending payment to
		// follow at Location.
		buy := map[string]any{"plan_id": pl.ID, "phone": "0712345678", "name": "Wanjiru"}
		e.do("POST", "/api/v1/subscriptions", p.viewerA, buy).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", "/api/v1/subscriptions", p.techA, map[string]any{"plan_id": pl.ID}).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "phone")
		e.do("POST", "/api/v1/subscriptions", p.techA, map[string]any{"plan_id": pl.ID, "phone": "0712345678", "price": 1}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "price: unknown field")
		e.do("POST", "/api/v1/subscriptions", p.adminB, buy).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		r = e.do("POST", "/api/v1/subscriptions", p.techA, buy)
		var res controlplane.PurchaseResult
		r.want(t, http.StatusAccepted, &res)
		loc := r.header.Get("Location")
		if res.PaymentID == 0 || res.SubscriptionID == 0 || res.Status != string(controlplane.PaymentPending) || loc != "/api/v1/payments/"+itoa(res.PaymentID) {
			t.Fatalf("purchase %+v, Location %q", res, loc)
		}
		var pay controlplane.Payment
		e.do("GET", loc, p.viewerA, nil).want(t, http.StatusOK, &pay)
		if pay.Status != controlplane.PaymentPending || pay.Amount != controlplane.KES(4500) || pay.Phone != "+254712345678" || pay.Provider != controlplane.ProviderMpesaSTK {
			t.Errorf("purchased payment %+v", pay)
		}
		e.do("GET", loc, p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		// A second push while the first waits is refused.
		e.do("POST", "/api/v1/subscriptions", p.techA, buy).wantError(t, http.StatusConflict, controlplane.ECONFLICT, "")

		// The customer and the subscription: read by everyone of A, by no
		// one of B.
		var custs controlplane.Page[controlplane.Customer]
		e.do("GET", "/api/v1/customers?q=Wanj", p.viewerA, nil).want(t, http.StatusOK, &custs)
		if custs.Total != 1 || custs.Data[0].ID != res.CustomerID || custs.Data[0].Phone != "+254712345678" {
			t.Fatalf("customers %+v", custs)
		}
		e.do("GET", "/api/v1/customers/"+itoa(res.CustomerID), p.viewerA, nil).want(t, http.StatusOK, nil)
		e.do("GET", "/api/v1/customers/"+itoa(res.CustomerID), p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("POST", "/api/v1/customers", p.viewerA, map[string]any{"phone": "0722000000"}).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		var cust controlplane.Customer
		e.do("POST", "/api/v1/customers", p.techA, map[string]any{"phone": "0722000000", "name": "Otieno"}).want(t, http.StatusOK, &cust)
		if cust.Phone != "+254722000000" || cust.TenantID != p.a.ID {
			t.Errorf("upserted customer %+v", cust)
		}
		subPath := "/api/v1/subscriptions/" + itoa(res.SubscriptionID)
		var sub controlplane.Subscription
		e.do("GET", subPath, p.viewerA, nil).want(t, http.StatusOK, &sub)
		if sub.Status != controlplane.SubscriptionPending || sub.PlanID != pl.ID {
			t.Errorf("subscription %+v", sub)
		}
		e.do("GET", subPath, p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		var subs controlplane.Page[controlplane.Subscription]
		e.do("GET", "/api/v1/subscriptions?status=pending_payment&plan_id="+itoa(pl.ID), p.viewerA, nil).want(t, http.StatusOK, &subs)
		if subs.Total != 1 {
			t.Errorf("pending subscriptions %+v", subs)
		}

		// A manual payment: technicians record it, whole; viewers and other
		// tenants may not.
		cash := map[string]any{"subscription_id": res.SubscriptionID, "amount": 4500, "reference": "CASH-0001"}
		e.do("POST", "/api/v1/payments", p.viewerA, cash).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", "/api/v1/payments", p.adminB, cash).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("POST", "/api/v1/payments", p.techA, map[string]any{"subscription_id": res.SubscriptionID, "amount": 45.00}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "amount")
		e.do("POST", "/api/v1/payments", p.techA, map[string]any{"subscription_id": res.SubscriptionID}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "amount")
		e.do("POST", "/api/v1/payments", p.techA, map[string]any{"amount": 4500}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "subscription_id")
		r = e.do("POST", "/api/v1/payments", p.techA, cash)
		var manual controlplane.Payment
		r.want(t, http.StatusCreated, &manual)
		if manual.Status != controlplane.PaymentCompleted || manual.Amount != controlplane.KES(4500) || manual.Receipt != "CASH-0001" ||
			manual.Provider != controlplane.ProviderManual || r.header.Get("Location") != "/api/v1/payments/"+itoa(manual.ID) {
			t.Fatalf("manual payment %+v, Location %q", manual, r.header.Get("Location"))
		}
		e.do("POST", "/api/v1/payments", p.techA, cash).wantError(t, http.StatusConflict, controlplane.ECONFLICT, "")
		var pays controlplane.Page[controlplane.Payment]
		e.do("GET", "/api/v1/payments?status=completed&provider=manual", p.viewerA, nil).want(t, http.StatusOK, &pays)
		if pays.Total != 1 || pays.Data[0].ID != manual.ID {
			t.Errorf("completed manual payments %+v", pays)
		}
		e.do("GET", "/api/v1/payments", p.adminB, nil).want(t, http.StatusOK, &pays)
		if pays.Total != 0 {
			t.Errorf("B sees A's payments: %+v", pays)
		}
		var stats controlplane.BillingStats
		e.do("GET", "/api/v1/billing/stats", p.viewerA, nil).want(t, http.StatusOK, &stats)
		if stats.TenantID != p.a.ID || stats.RevenueToday != 4500 || stats.Currency != "KES" {
			t.Errorf("stats %+v", stats)
		}

		// Credentials: technicians and up, once the reconnection job made
		// the account; the subscription's status and refunds: tenant admins.
		e.do("GET", subPath+"/credentials", p.viewerA, nil).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("GET", subPath+"/credentials", p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("GET", subPath+"/credentials", p.techA, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "no account yet")
		bill.runJobs(t)
		testkit.Eventually(t, 10*time.Second, "the reconnection job creating the account", func() bool {
			return e.do("GET", subPath+"/credentials", p.techA, nil).status == http.StatusOK
		})
		r = e.do("GET", subPath+"/credentials", p.techA, nil)
		var creds controlplane.Credentials
		r.want(t, http.StatusOK, &creds)
		if creds.Username == "" || creds.Password == "" || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("credentials %+v, Cache-Control %q", creds, r.header.Get("Cache-Control"))
		}
		e.do("POST", subPath+"/suspend", p.techA, nil).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", subPath+"/suspend", p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("POST", subPath+"/suspend", p.adminA, nil).want(t, http.StatusOK, &sub)
		if sub.Status != controlplane.SubscriptionSuspended {
			t.Errorf("suspended: %+v", sub)
		}
		e.do("POST", subPath+"/resume", p.adminA, nil).want(t, http.StatusOK, &sub)
		if sub.Status != controlplane.SubscriptionActive {
			t.Errorf("resumed: %+v", sub)
		}
		refund := "/api/v1/payments/" + itoa(manual.ID) + "/refund"
		e.do("POST", refund, p.techA, nil).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", refund, p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("POST", refund, p.adminA, nil).want(t, http.StatusOK, &manual)
		if manual.Status != controlplane.PaymentRefunded {
			t.Errorf("refunded: %+v", manual)
		}
		e.do("POST", refund, p.adminA, nil).wantError(t, http.StatusConflict, controlplane.ECONFLICT, "")
		e.do("DELETE", planPath, p.adminA, nil).wantError(t, http.StatusConflict, controlplane.ECONFLICT, "")

		// No answer, audit entry or log line ever held a secret.
		r = e.do("GET", "/api/v1/audit", p.adminA, nil)
		r.want(t, http.StatusOK, nil)
		noSecrets(t, "the audit log", r.body)
		noSecrets(t, "the server's log", []byte(e.logs.String()))
	})
}

// TestBillingHooksReal: the public hooks over the real service: no
// bearer needed; a wrong token touches nothing; the callback is logged
// with the TCP peer's address, not X-Forwarded-For's; a duplicate is
// answered as Daraja expects and changes nothing; a body over 64 KiB is
// refused before billing sees it.
func TestBillingHooksReal(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		bill := withRealBilling(t, e)
		p := newBillPeople(e)
		patch := map[string]any{"mpesa_shortcode": "174379", "allowed_sources": []string{"127.0.0.1"}}
		for k, v := range billingSecrets {
			patch[k] = v
		}
		e.do("PUT", "/api/v1/billing/settings", p.adminA, patch).want(t, http.StatusOK, nil)
		var pl controlplane.Plan
		e.do("POST", "/api/v1/plans", p.adminA, map[string]any{"name": "Hour", "kind": "hotspot", "price": 1000, "duration": "1h"}).want(t, http.StatusCreated, &pl)
		var res controlplane.PurchaseResult
		e.do("POST", "/api/v1/subscriptions", p.techA, map[string]any{"plan_id": pl.ID, "phone": "0712345678"}).want(t, http.StatusAccepted, &res)
		payment := func() controlplane.Payment {
			t.Helper()
			var pay controlplane.Payment
			e.do("GET", "/api/v1/payments/"+itoa(res.PaymentID), p.adminA, nil).want(t, http.StatusOK, &pay)
			return pay
		}
		callbacks := func() controlplane.Page[controlplane.Callback] {
			t.Helper()
			var page controlplane.Page[controlplane.Callback]
			e.do("GET", "/api/v1/payments/callbacks", p.adminA, nil).want(t, http.StatusOK, &page)
			return page
		}
		// The STK push job runs, and Daraja (here) gets the callback URL.
		bill.runJobs(t)
		var hook string
		testkit.Eventually(t, 10*time.Second, "the STK push", func() bool { hook = bill.daraja.callbackPath(t); return hook != "" })
		testkit.Eventually(t, 10*time.Second, "the push's CheckoutRequestID stored", func() bool { return payment().CheckoutRequestID == "ws_CO_1" })
		want := "/api/v1/hooks/stk/" + itoa(p.a.ID) + "/" + itoa(res.PaymentID) + "/"
		if !strings.HasPrefix(hook, want) || len(hook) < len(want)+32 {
			t.Fatalf("callback URL path %q, want %s and a token", hook, want)
		}
		const body = `{"Body":{"stkCallback":{"MerchantRequestID":"m-1","CheckoutRequestID":"ws_CO_1","ResultCode":0,"ResultDesc":"ok",` +
			`"CallbackMetadata":{"Item":[{"Name":"Amount","Value":10},{"Name":"MpesaReceiptNumber","Value":"QAB1CDE2FG"},` +
			`{"Name":"TransactionDate","Value":20260301150000},{"Name":"PhoneNumber","Value":254712345678}]}}}}`
		forged := want + strings.Repeat("0", 48)
		spoof := map[string]string{"Content-Type": "application/json", "X-Forwarded-For": "196.201.214.200"}

		e.post(forged, strings.NewReader(body), spoof).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		big := bytes.Repeat([]byte{' '}, controlplane.MaxHookBody+1)
		e.post(hook, bytes.NewReader(big), nil).wantError(t, http.StatusRequestEntityTooLarge, controlplane.ETOOLARGE, "")
		e.post("/api/v1/hooks/payments/"+itoa(p.a.ID), bytes.NewReader(big), nil).wantError(t, http.StatusRequestEntityTooLarge, controlplane.ETOOLARGE, "")
		if pay := payment(); pay.Status != controlplane.PaymentPending {
			t.Fatalf("a forged or oversized callback changed the payment: %+v", pay)
		}
		if n := callbacks().Total; n != 0 {
			t.Fatalf("callback log has %d entries after refused callbacks", n)
		}

		// The real one, twice: Daraja's answer both times, applied once.
		for i := range 2 {
			r := e.post(hook, strings.NewReader(body), spoof)
			if r.status != http.StatusOK || string(r.body) != `{"ResultCode":0,"ResultDesc":"Accepted"}` || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("callback %d: %d %s", i, r.status, r.body)
			}
		}
		if pay := payment(); pay.Status != controlplane.PaymentCompleted || pay.Receipt != "QAB1CDE2FG" {
			t.Fatalf("after the callback: %+v", pay)
		}
		cbs := callbacks()
		if cbs.Total != 2 {
			t.Fatalf("callback log %+v", cbs)
		}
		outcomes := map[string]int{}
		for _, c := range cbs.Data {
			outcomes[c.Outcome]++
			if c.RemoteAddr != "127.0.0.1" || c.PaymentID != res.PaymentID {
				t.Errorf("logged %+v, want from 127.0.0.1 (the TCP peer) for payment %d", c, res.PaymentID)
			}
		}
		if outcomes[controlplane.CallbackApplied] != 1 || outcomes[controlplane.CallbackDuplicate] != 1 {
			t.Errorf("outcomes %v, want one applied and one duplicate", outcomes)
		}
		var dup controlplane.Page[controlplane.Callback]
		e.do("GET", "/api/v1/payments/callbacks?outcome=duplicate", p.viewerA, nil).want(t, http.StatusOK, &dup)
		if dup.Total != 1 {
			t.Errorf("duplicate callbacks %+v", dup)
		}
		e.do("GET", "/api/v1/payments/callbacks", p.adminB, nil).want(t, http.StatusOK, &dup)
		if dup.Total != 0 {
			t.Errorf("B sees A's callbacks: %+v", dup)
		}

		// The signed webhook: its signature and timestamp headers reach
		// billing (here the timestamp only in its own header).
		wh := []byte(`{"reference":"GW-1","amount":1000,"currency":"KES","phone":"+254712345678"}`)
		sig := billing.WebhookSignature([]byte(billingSecrets["webhook_secret"]), e.clock.Now(), wh)
		ts, v1, _ := strings.Cut(sig, ",")
		headers := map[string]string{"X-SitePulse-Timestamp": strings.TrimPrefix(ts, "t="), "X-SitePulse-Signature": v1}
		webhook := "/api/v1/hooks/payments/" + itoa(p.a.ID)
		r := e.post(webhook, bytes.NewReader(wh), map[string]string{"X-SitePulse-Signature": v1})
		r.wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "timestamp")
		r = e.post(webhook, bytes.NewReader(wh), headers)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), controlplane.CallbackApplied) {
			t.Fatalf("signed webhook: %d %s", r.status, r.body)
		}
		var pays controlplane.Page[controlplane.Payment]
		e.do("GET", "/api/v1/payments?provider=webhook", p.adminA, nil).want(t, http.StatusOK, &pays)
		if pays.Total != 1 || pays.Data[0].Receipt != "GW-1" || pays.Data[0].Amount != controlplane.KES(1000) {
			t.Errorf("webhook payments %+v", pays)
		}

		// C2B: the URLs billing registers with Daraja are routed; an
		// unknown account is refused in Daraja's words and logged from
		// the TCP peer.
		e.do("PUT", "/api/v1/billing/settings", p.adminA, map[string]any{"register_c2b": true}).want(t, http.StatusOK, nil)
		var confirmation, validation string
		testkit.Eventually(t, 10*time.Second, "the C2B registration", func() bool {
			confirmation, validation = bill.daraja.c2bPaths(t)
			return validation != ""
		})
		prefix := "/api/v1/hooks/c2b/" + itoa(p.a.ID) + "/"
		if !strings.HasPrefix(validation, prefix) || !strings.HasSuffix(validation, "/validation") || !strings.HasSuffix(confirmation, "/confirmation") {
			t.Fatalf("C2B URLs %q %q", confirmation, validation)
		}
		c2b := `{"TransactionType":"Pay Bill","TransID":"RKTQDM7W6S","TransTime":"20260301150000","TransAmount":"10.00",` +
			`"BusinessShortCode":"174379","BillRefNumber":"nobody","MSISDN":"254700000000"}`
		r = e.post(validation, strings.NewReader(c2b), spoof)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), "C2B00012") {
			t.Fatalf("C2B validation of an unknown account: %d %s", r.status, r.body)
		}
		e.post(strings.Replace(validation, prefix, prefix+"0", 1), strings.NewReader(c2b), spoof).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		var c2bLog controlplane.Page[controlplane.Callback]
		e.do("GET", "/api/v1/payments/callbacks?outcome=rejected", p.adminA, nil).want(t, http.StatusOK, &c2bLog)
		if c2bLog.Total != 1 || c2bLog.Data[0].Kind != "c2b_validation" || c2bLog.Data[0].RemoteAddr != "127.0.0.1" {
			t.Errorf("rejected callbacks %+v", c2bLog)
		}
		noSecrets(t, "the server's log", []byte(e.logs.String()))
	})
}
