package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// withBilling replaces e's server by one with billing b on e's store.
func withBilling(t *testing.T, e *env, b api.Billing) {
	t.Helper()
	var err error
	e.reg = prometheus.NewRegistry()
	e.server, err = api.New(api.Options{Store: e.store, Bus: e.bus, Tenants: e.tenants, Billing: b,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Registerer: e.reg, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.http.Close()
	e.http = httptest.NewServer(e.server)
	t.Cleanup(e.http.Close)
}

// hookRecorder is a Billing that records what the HTTP layer hands it:
// the hooks, and the requests of the few methods the decoding tests
// reach. Other methods are not implemented (the nil embedded interface
// panics), since these tests must not reach them. Ready at its zero
// value: hooks answer 200 {}.
type hookRecorder struct {
	api.Billing
	mu    sync.Mutex
	hooks []string // the method of each hook call
	got   []controlplane.ProviderHook
	calls []any // the requests of CreatePlan, Purchase, RecordPayment, UpdateSettings
	reply controlplane.HookReply
	err   error
}

func (h *hookRecorder) hook(method string, ph controlplane.ProviderHook) (controlplane.HookReply, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks = append(h.hooks, method)
	h.got = append(h.got, ph)
	if h.reply.Body == nil && h.err == nil {
		return controlplane.HookReply{Status: http.StatusOK, Body: []byte(`{}`)}, nil
	}
	return h.reply, h.err
}

func (h *hookRecorder) STKCallback(_ context.Context, ph controlplane.ProviderHook) (controlplane.HookReply, error) {
	return h.hook("stk", ph)
}

func (h *hookRecorder) C2BValidation(_ context.Context, ph controlplane.ProviderHook) (controlplane.HookReply, error) {
	return h.hook("c2b_validation", ph)
}

func (h *hookRecorder) C2BConfirmation(_ context.Context, ph controlplane.ProviderHook) (controlplane.HookReply, error) {
	return h.hook("c2b_confirmation", ph)
}

func (h *hookRecorder) PaymentWebhook(_ context.Context, ph controlplane.ProviderHook) (controlplane.HookReply, error) {
	return h.hook("webhook", ph)
}

func (h *hookRecorder) record(req any) {
	h.mu.Lock()
	h.calls = append(h.calls, req)
	h.mu.Unlock()
}

func (h *hookRecorder) CreatePlan(_ context.Context, _ controlplane.Principal, req controlplane.PlanRequest) (controlplane.Plan, error) {
	h.record(req)
	return controlplane.Plan{ID: 1, Name: req.Name}, nil
}

func (h *hookRecorder) Purchase(_ context.Context, _ controlplane.Principal, req controlplane.PurchaseRequest) (controlplane.PurchaseResult, error) {
	h.record(req)
	return controlplane.PurchaseResult{PaymentID: 5, Status: string(controlplane.PaymentPending)}, nil
}

func (h *hookRecorder) RecordPayment(_ context.Context, _ controlplane.Principal, req controlplane.ManualPaymentRequest) (controlplane.Payment, error) {
	h.record(req)
	return controlplane.Payment{ID: 6}, nil
}

func (h *hookRecorder) UpdateSettings(_ context.Context, _ controlplane.Principal, patch controlplane.BillingSettingsPatch) (controlplane.BillingSettings, error) {
	h.record(patch)
	return controlplane.BillingSettings{}, nil
}

// The lists answer empty pages: the query tests only need the filter
// to get through.

func (h *hookRecorder) ListPlans(context.Context, int64, controlplane.PlanFilter) ([]controlplane.Plan, int, error) {
	return nil, 0, nil
}

func (h *hookRecorder) ListCustomers(context.Context, int64, controlplane.CustomerFilter) ([]controlplane.Customer, int, error) {
	return nil, 0, nil
}

func (h *hookRecorder) ListSubscriptions(context.Context, int64, controlplane.SubscriptionFilter) ([]controlplane.Subscription, int, error) {
	return nil, 0, nil
}

func (h *hookRecorder) ListPayments(context.Context, int64, controlplane.PaymentFilter) ([]controlplane.Payment, int, error) {
	return nil, 0, nil
}

func (h *hookRecorder) ListCallbacks(context.Context, int64, string, int, int) ([]controlplane.Callback, int, error) {
	return nil, 0, nil
}

func (h *hookRecorder) seen() ([]string, []controlplane.ProviderHook, []any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hooks...), append([]controlplane.ProviderHook(nil), h.got...), append([]any(nil), h.calls...)
}

// post sends a raw body to path with extra headers, without a token.
func (e *env) post(path string, body io.Reader, header map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.http.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestBillingHooks: the public hooks need no token, hand billing the
// path's tenant, payment and token, the TCP peer's address (never
// X-Forwarded-For), the webhook's headers and the raw body, and write
// billing's reply as is; an error is the usual envelope; a body over
// MaxHookBody is refused before billing sees anything.
func TestBillingHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	rec := &hookRecorder{}
	withBilling(t, e, rec)
	const daraja = `{"Body":{"stkCallback":{"MerchantRequestID":"m1","CheckoutRequestID":"ws_CO_1","ResultCode":0,"ResultDesc":"ok"}}}`
	forged := map[string]string{"Content-Type": "application/json", "X-Forwarded-For": "196.201.214.200", "X-Real-Ip": "196.201.214.200"}

	rec.reply = controlplane.HookReply{Status: http.StatusOK, Body: []byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`)}
	r := e.post("/api/v1/hooks/stk/7/42/tok-abc", strings.NewReader(daraja), forged)
	if r.status != http.StatusOK || string(r.body) != `{"ResultCode":0,"ResultDesc":"Accepted"}` || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("stk: %d %s %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	rec.reply = controlplane.HookReply{Status: http.StatusAccepted, Body: []byte(`{"ResultCode":"C2B00012","ResultDesc":"Rejected"}`)}
	r = e.post("/api/v1/hooks/c2b/7/c2b-tok/validation", strings.NewReader(`{"TransID":"T1"}`), nil)
	if r.status != http.StatusAccepted || !strings.Contains(string(r.body), "C2B00012") {
		t.Fatalf("c2b validation: %d %s", r.status, r.body)
	}
	rec.reply = controlplane.HookReply{}
	e.post("/api/v1/hooks/c2b/7/c2b-tok/confirmation", strings.NewReader(`{"TransID":"T1"}`), nil).want(t, http.StatusOK, nil)
	e.post("/api/v1/hooks/payments/7", strings.NewReader(`{"receipt":"R1"}`),
		map[string]string{"X-SitePulse-Timestamp": "1767225600", "X-SitePulse-Signature": "t=1767225600,v1=abcd"}).want(t, http.StatusOK, nil)

	methods, got, _ := rec.seen()
	if strings.Join(methods, " ") != "stk c2b_validation c2b_confirmation webhook" {
		t.Fatalf("billing called %v", methods)
	}
	want := []controlplane.ProviderHook{
		{TenantID: 7, PaymentID: 42, Token: "tok-abc", RemoteAddr: "127.0.0.1", Body: []byte(daraja)},
		{TenantID: 7, Token: "c2b-tok", RemoteAddr: "127.0.0.1", Body: []byte(`{"TransID":"T1"}`)},
		{TenantID: 7, Token: "c2b-tok", RemoteAddr: "127.0.0.1", Body: []byte(`{"TransID":"T1"}`)},
		{TenantID: 7, RemoteAddr: "127.0.0.1", Timestamp: "1767225600", Signature: "t=1767225600,v1=abcd", Body: []byte(`{"receipt":"R1"}`)},
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.TenantID != w.TenantID || g.PaymentID != w.PaymentID || g.Token != w.Token || g.RemoteAddr != w.RemoteAddr ||
			g.Timestamp != w.Timestamp || g.Signature != w.Signature || !bytes.Equal(g.Body, w.Body) {
			t.Errorf("hook %d: got %+v (body %s), want %+v (body %s)", i, g, g.Body, w, w.Body)
		}
	}

	// An error from billing is the usual envelope with its status.
	rec.err = controlplane.Errorf(controlplane.EUNAUTHORIZED, "wrong callback token")
	e.post("/api/v1/hooks/stk/7/42/wrong", strings.NewReader(daraja), nil).wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "wrong callback token")
	rec.err = nil

	// Exactly MaxHookBody passes; one byte more is 413 and billing never
	// hears of it, with a Content-Length or streamed without one.
	before, _, _ := rec.seen()
	e.post("/api/v1/hooks/stk/7/42/tok", bytes.NewReader(bytes.Repeat([]byte{' '}, controlplane.MaxHookBody)), nil).want(t, http.StatusOK, nil)
	e.post("/api/v1/hooks/stk/7/42/tok", bytes.NewReader(bytes.Repeat([]byte{' '}, controlplane.MaxHookBody+1)), nil).
		wantError(t, http.StatusRequestEntityTooLarge, controlplane.ETOOLARGE, "65536")
	// io.MultiReader hides the length, so the body goes chunked.
	e.post("/api/v1/hooks/payments/7", io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{'x'}, controlplane.MaxHookBody+1))), nil).
		wantError(t, http.StatusRequestEntityTooLarge, controlplane.ETOOLARGE, "larger than")
	if after, _, _ := rec.seen(); len(after) != len(before)+1 {
		t.Errorf("billing saw %d hooks for one body within the limit and two over it", len(after)-len(before))
	}

	// A path that is not ours is refused before billing.
	e.post("/api/v1/hooks/stk/x/42/tok", strings.NewReader(daraja), nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "tenant")
	e.post("/api/v1/hooks/stk/7/0/tok", strings.NewReader(daraja), nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "payment")
}

// TestBillingDecoding: bodies are decoded strictly before billing is
// called: a float amount names its field, as do unknown fields and
// wrong types; nothing reaches billing.
func TestBillingDecoding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	rec := &hookRecorder{}
	withBilling(t, e, rec)
	a := e.tenant("A")
	_, admin := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.example")
	for _, tc := range []struct {
		name, method, path, body, substr string
	}{
		{"float price", "POST", "/api/v1/plans", `{"name":"Day","kind":"hotspot","price":50.5,"duration":"24h"}`, "price: must be an integer"},
		{"price as a string", "POST", "/api/v1/plans", `{"name":"Day","kind":"hotspot","price":"50","duration":"24h"}`, "price: must be an integer"},
		{"exponent price", "POST", "/api/v1/plans", `{"name":"Day","kind":"hotspot","price":5e3,"duration":"24h"}`, "price: must be an integer"},
		{"unknown plan field", "POST", "/api/v1/plans", `{"name":"Day","kind":"hotspot","price":5000,"duration":"24h","price_kes":50}`, "price_kes: unknown field"},
		{"float patch price", "PATCH", "/api/v1/plans/1", `{"price":99.99}`, "price: must be an integer"},
		{"float manual amount", "POST", "/api/v1/payments", `{"subscription_id":1,"amount":50.00}`, "amount: must be an integer"},
		{"unknown payment field", "POST", "/api/v1/payments", `{"subscription_id":1,"amount":5000,"currency":"KES"}`, "currency: unknown field"},
		{"purchase plan id as a float", "POST", "/api/v1/subscriptions", `{"plan_id":1.5,"phone":"0712345678"}`, "plan_id: must be an integer"},
		{"unknown purchase field", "POST", "/api/v1/subscriptions", `{"plan_id":1,"phone":"0712345678","amount":5000}`, "amount: unknown field"},
		{"settings read-only field", "PUT", "/api/v1/billing/settings", `{"mpesa_passkey_set":true}`, "mpesa_passkey_set: unknown field"},
		{"two objects", "POST", "/api/v1/plans", `{} {}`, "exactly one JSON object"},
		{"not JSON", "POST", "/api/v1/payments", `amount=50`, "not valid JSON"},
		{"empty body", "POST", "/api/v1/subscriptions", ``, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do(tc.method, tc.path, admin, tc.body).wantError(t, http.StatusBadRequest, controlplane.EINVALID, tc.substr)
		})
	}
	e.do("POST", "/api/v1/plans", admin, `{"name":"`+strings.Repeat("x", 1<<20)+`"}`).wantError(t, http.StatusRequestEntityTooLarge, controlplane.ETOOLARGE, "larger than")
	if _, _, calls := rec.seen(); len(calls) != 0 {
		t.Fatalf("billing was called with %v", calls)
	}

	// A good body reaches billing whole; the purchase answers 202 with
	// the payment to follow.
	r := e.do("POST", "/api/v1/subscriptions", admin, `{"plan_id":3,"phone":"0712345678","name":"Wanjiru"}`)
	var res controlplane.PurchaseResult
	r.want(t, http.StatusAccepted, &res)
	if loc := r.header.Get("Location"); loc != "/api/v1/payments/5" || res.PaymentID != 5 {
		t.Errorf("purchase: Location %q, answer %+v", loc, res)
	}
	if _, _, calls := rec.seen(); len(calls) != 1 || calls[0] != (controlplane.PurchaseRequest{PlanID: 3, Phone: "0712345678", Name: "Wanjiru"}) {
		t.Errorf("billing got %+v", calls)
	}

	// Query parameters are checked too.
	for _, tc := range []struct{ path, substr string }{
		{"/api/v1/payments?status=paid", "status"},
		{"/api/v1/payments?provider=paypal", "provider"},
		{"/api/v1/payments?from=yesterday", "from"},
		{"/api/v1/payments?customer_id=-1", "customer_id"},
		{"/api/v1/plans?kind=ppp", "kind"},
		{"/api/v1/plans?active=yes", "active"},
		{"/api/v1/subscriptions?status=paid", "status"},
		{"/api/v1/payments/callbacks?outcome=ok", "outcome"},
		{"/api/v1/customers?limit=501", "limit"},
		{"/api/v1/plans/abc", "id"},
	} {
		e.do("GET", tc.path, admin, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, tc.substr)
	}
}

// TestBillingUnavailable: without a billing service the billing routes,
// hooks included, answer 503 (as provisioning's do), and the rest of the
// API works.
func TestBillingUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	a := e.tenant("A")
	_, admin := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.example")
	e.do("GET", "/api/v1/plans", admin, nil).wantError(t, http.StatusServiceUnavailable, controlplane.EUNAVAILABLE, "billing")
	e.do("POST", "/api/v1/payments", admin, map[string]any{"subscription_id": 1, "amount": 5000}).wantError(t, http.StatusServiceUnavailable, controlplane.EUNAVAILABLE, "billing")
	e.post("/api/v1/hooks/stk/1/1/tok", strings.NewReader(`{}`), nil).wantError(t, http.StatusServiceUnavailable, controlplane.EUNAVAILABLE, "billing")
	e.do("GET", "/api/v1/routers", admin, nil).want(t, http.StatusOK, nil)
}

// FuzzBillingQuery: whatever query string a client sends to a billing
// list, the answer is a page or a 400 naming a parameter, never a 500.
func FuzzBillingQuery(f *testing.F) {
	for _, seed := range []string{
		"", "status=flagged&provider=mpesa_stk&customer_id=4&subscription_id=6&phone=%2B254712345678&from=2026-03-01T12:00:00Z&to=2026-03-02T00:00:00Z&limit=3&offset=9",
		"kind=hotspot&active=true", "q=0712", "customer_id=1&plan_id=2&status=active", "outcome=rejected",
		"tenant_id=1", "limit=0", "offset=-1", "from=%ff", "phone=%00", "q=" + strings.Repeat("x", 300), "status=paid&status=active",
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: f.TempDir(), PasswordIterations: 1000})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	srv, err := api.New(api.Options{Store: st, Billing: &hookRecorder{}})
	if err != nil {
		f.Fatal(err)
	}
	a, err := st.CreateTenant(ctx, "A")
	if err != nil {
		f.Fatal(err)
	}
	u, err := st.CreateUser(ctx, controlplane.User{TenantID: a.ID, Email: "viewer@a.example", Role: controlplane.RoleViewer}, "correct horse battery")
	if err != nil {
		f.Fatal(err)
	}
	tok, _, err := st.CreateToken(ctx, u.ID, "fuzz", 0)
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{"/api/v1/plans", "/api/v1/customers", "/api/v1/subscriptions", "/api/v1/payments", "/api/v1/payments/callbacks"}
	get := func(path, q string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path, req.URL.RawQuery = path, q
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w
	}
	for _, p := range paths {
		if w := get(p, "limit=2"); w.Code != http.StatusOK {
			f.Fatalf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, p := range paths {
			w := get(p, q)
			switch w.Code {
			case http.StatusOK:
			case http.StatusBadRequest, http.StatusNotFound:
				if !strings.Contains(w.Body.String(), `"code":"`) {
					t.Fatalf("%s?%s: %d without an error body: %s", p, q, w.Code, w.Body)
				}
			default:
				t.Fatalf("%s?%s: %d %s", p, q, w.Code, w.Body)
			}
		}
	})
}
