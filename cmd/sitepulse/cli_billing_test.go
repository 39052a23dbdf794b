package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// billingAPI is a stand-in control plane for the billing commands: it
// records each request and answers with canned billing objects.
type billingAPI struct {
	mu   sync.Mutex
	reqs []string // "METHOD URI BODY"
}

func (a *billingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.reqs = append(a.reqs, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(b)))
	a.mu.Unlock()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var v any
	switch {
	case r.URL.Path == "/api/v1/plans" && r.Method == http.MethodPost:
		var req controlplane.PlanRequest
		_ = json.Unmarshal(b, &req)
		v = controlplane.Plan{ID: 3, Name: req.Name, Kind: req.Kind, Price: controlplane.KES(req.Price), Duration: req.Duration, Profile: "sp-plan-3",
			Routers: []controlplane.PlanRouter{{RouterID: "r1", State: controlplane.SyncPending}}}
	case r.URL.Path == "/api/v1/plans":
		v = controlplane.Page[controlplane.Plan]{Data: []controlplane.Plan{{ID: 3, Name: "Daily", Kind: controlplane.PlanHotspot,
			Price: controlplane.KES(5000), Duration: "24h", RateLimit: "2M/5M", Active: true, Profile: "sp-plan-3",
			Routers: []controlplane.PlanRouter{{State: controlplane.SyncSynced}, {State: controlplane.SyncSynced}, {State: controlplane.SyncFailed}}}}, Total: 1}
	case r.URL.Path == "/api/v1/customers":
		v = controlplane.Page[controlplane.Customer]{Data: []controlplane.Customer{{ID: 5, Phone: "+254712345678", Name: "Wanjiru", ActiveSubscriptions: 1, CreatedAt: at}}, Total: 1}
	case r.URL.Path == "/api/v1/subscriptions":
		v = controlplane.Page[controlplane.Subscription]{Data: []controlplane.Subscription{{ID: 7, CustomerID: 5, PlanName: "Daily",
			Status: controlplane.SubscriptionActive, Username: "wanjiru", StartsAt: &at}}, Total: 4}
	case r.URL.Path == "/api/v1/payments" && r.Method == http.MethodPost:
		var req controlplane.ManualPaymentRequest
		_ = json.Unmarshal(b, &req)
		w.WriteHeader(http.StatusCreated)
		v = controlplane.Payment{ID: 11, Provider: controlplane.ProviderManual, Amount: controlplane.KES(req.Amount), Receipt: req.Reference,
			Status: controlplane.PaymentCompleted, SubscriptionID: 7}
	case r.URL.Path == "/api/v1/payments":
		v = controlplane.Page[controlplane.Payment]{Data: []controlplane.Payment{{ID: 11, Provider: controlplane.ProviderMpesaSTK, Amount: controlplane.KES(4950),
			Phone: "+254712345678", Status: controlplane.PaymentFlagged, Reason: controlplane.FlagShort, CreatedAt: at}}, Total: 1}
	default:
		w.WriteHeader(http.StatusNotFound)
		v = controlplane.ErrorBody{Error: controlplane.ErrorDetail{Code: controlplane.ENOTFOUND, Message: "no such endpoint"}}
	}
	_ = json.NewEncoder(w).Encode(v)
}

func (a *billingAPI) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.reqs
	a.reqs = nil
	return r
}

// TestBillingCLI drives plans, customers, subscriptions and payments
// against a stand-in API: what each sends (amounts in exact minor units)
// and what it prints (money as Money.String).
func TestBillingCLI(t *testing.T) {
	api := &billingAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := saveCredentials(creds, credentials{Server: srv.URL, Email: "tech@isp.test", Token: "tok"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		reqs    []string // "" entries: no request at all
		out     []string // substrings of the output
		errText string   // substring of the error; "" for success
	}{
		{"plans list", []string{"plans", "list", "--active", "--kind", "hotspot"},
			[]string{"GET /api/v1/plans?active=true&kind=hotspot&limit=100"},
			[]string{"Daily", "KES 50.00", "2M/5M", "2 synced, 1 failed", "1 of 1 plans"}, ""},
		{"plans create", []string{"plans", "create", "--name", "Weekly", "--price", "349.99", "--duration", "7d", "--rate-limit", "3M/6M", "--grace", "10m"},
			[]string{`POST /api/v1/plans {"name":"Weekly","kind":"hotspot","price":34999,"duration":"7d","rate_limit":"3M/6M","grace_seconds":600}`},
			[]string{`plan 3 "Weekly": KES 349.99 for 7d, profile sp-plan-3 (1 pending)`}, ""},
		{"plans create refuses a float price", []string{"plans", "create", "--name", "X", "--price", "1.005", "--duration", "1h"},
			nil, nil, "--price"},
		{"customers list", []string{"customers", "list", "--query", "0712"},
			[]string{"GET /api/v1/customers?limit=100&q=0712"},
			[]string{"+254712345678", "Wanjiru", "1 of 1 customers"}, ""},
		{"subscriptions list", []string{"subscriptions", "list", "--status", "active", "--customer", "5"},
			[]string{"GET /api/v1/subscriptions?customer_id=5&limit=100&status=active"},
			[]string{"Daily", "active", "wanjiru", "1 of 4 subscriptions"}, ""},
		{"payments list", []string{"payments", "list", "--status", "flagged"},
			[]string{"GET /api/v1/payments?limit=100&status=flagged"},
			[]string{"KES 49.50", "mpesa_stk", "flagged", "amount_short"}, ""},
		{"payments record for a subscription", []string{"payments", "record", "--subscription", "7", "--amount", "50", "--reference", "CASH-9"},
			[]string{`POST /api/v1/payments {"subscription_id":7,"amount":5000,"reference":"CASH-9"}`},
			[]string{"payment 11: KES 50.00 completed, receipt CASH-9, subscription 7"}, ""},
		{"payments record for a plan and a phone", []string{"payments", "record", "--plan", "3", "--phone", "0712345678", "--amount", "0.5"},
			[]string{`POST /api/v1/payments {"plan_id":3,"phone":"0712345678","amount":50}`},
			[]string{"KES 0.50"}, ""},
		{"payments record --amount with three decimals", []string{"payments", "record", "--subscription", "7", "--amount", "50.001"},
			nil, nil, "at most two places"},
		{"payments record --amount negative", []string{"payments", "record", "--subscription", "7", "--amount", "-5"},
			nil, nil, "--amount"},
		{"payments record needs a target", []string{"payments", "record", "--amount", "50"},
			nil, nil, "--subscription, or the --plan"},
		{"payments record with both targets", []string{"payments", "record", "--subscription", "7", "--plan", "3", "--amount", "50"},
			nil, nil, "excludes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := cliRun(t, "", append(tc.args, "--credentials", creds)...)
			switch {
			case tc.errText == "" && err != nil:
				t.Fatalf("%v: %v\n%s", tc.args, err, out)
			case tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)):
				t.Fatalf("%v: err %v, want one containing %q", tc.args, err, tc.errText)
			}
			if got := api.take(); strings.Join(got, "\n") != strings.Join(tc.reqs, "\n") {
				t.Errorf("requests\n%q\nwant\n%q", got, tc.reqs)
			}
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}

	// --json prints the API's answer as is.
	out, _, err := cliRun(t, "", "payments", "list", "--json", "--credentials", creds)
	var p controlplane.Page[controlplane.Payment]
	if err != nil || json.Unmarshal([]byte(out), &p) != nil || len(p.Data) != 1 || p.Data[0].Amount != controlplane.KES(4950) {
		t.Fatalf("payments list --json: %v\n%s", err, out)
	}
}
