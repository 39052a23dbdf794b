package portal

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

type env struct {
	t        *testing.T
	p        *Portal
	srv      *httptest.Server
	store    *fakeStore
	billing  *fakeBilling
	vouchers *fakeVouchers
	accounts *fakeAccounts
	bus      *fakeBus
	clock    *testkit.Clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, store: &fakeStore{}, billing: &fakeBilling{}, vouchers: &fakeVouchers{}, accounts: &fakeAccounts{},
		bus: &fakeBus{}, clock: testkit.NewClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))}
	var err error
	e.p, err = New(Options{Store: e.store, Billing: e.billing, Vouchers: e.vouchers, Accounts: e.accounts, Bus: e.bus,
		TokenKey: []byte("0123456789abcdef0123456789abcdef"), PusherKey: "app-key", ReadyWait: 2 * time.Second,
		Registerer: prometheus.NewRegistry(), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.p)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	res, err := http.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (e *env) postJSON(path string, body any, out any) int {
	e.t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(e.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			e.t.Fatalf("POST %s: decode: %v", path, err)
		}
	}
	return res.StatusCode
}

func (e *env) postForm(path string, v url.Values) (int, string) {
	e.t.Helper()
	res, err := http.PostForm(e.srv.URL+path, v)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

const hotspotQuery = "?mac=AA:BB:CC:00:11:22&ip=10.5.50.23&username=&link-login-only=http%3A%2F%2F10.5.50.1%2Flogin" +
	"&link-orig=http%3A%2F%2Fexample.com%2F&chap-id=%5C011&chap-challenge=%5C123%5C045%5C377"

func TestPageShowsPlansBrandingAndEscapesInput(t *testing.T) {
	e := newEnv(t)
	e.store.PutPortalSettings(t.Context(), controlplane.PortalSettings{TenantID: 1, Name: `Mama's <script>alert(1)</script>`,
		PrimaryColor: "#112233", AccentColor: "#445566", SupportPhone: "0700 000 111", Terms: "No <b>abuse</b>",
		LogoURL: "data:image/png;base64,iVBORw0KGgo="})
	code, body := e.get("/portal/1/r1" + hotspotQuery + "&error=invalid+username+or+password&username=%22%3E%3Cscript%3Ex()%3C%2Fscript%3E")
	if code != http.StatusOK {
		t.Fatalf("GET portal = %d", code)
	}
	for _, want := range []string{
		"KES 50.00", "KES 500.00", "1 hour", "1 week", // active hotspot plans with prices
		"Wrong code or password", // RouterOS's error in plain words
		`action="http://10.5.50.1/login"`,
		"--p:#112233", "--a:#445566", `src="data:image/png;base64,iVBORw0KGgo="`, "tel:0700%20000%20111",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "1 Hour &lt;b&gt;Fast&lt;/b&gt;", "No &lt;b&gt;abuse&lt;/b&gt;",
		`"chapId":"\\011"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>alert(1)", "<script>x()", "KES 120.00", "KES 2000.00", "<b>Fast"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func TestPageUnknownTenantOrRouterIs404(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/portal/9/r1", "/portal/1/r2", "/portal/01/r1", "/portal/x/r1", "/portal/nobody", "/portal/3/r3"} {
		if code, _ := e.get(path); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, code)
		}
	}
}

func TestSlugPageAndPlanSelection(t *testing.T) {
	e := newEnv(t)
	e.store.PutPortalSettings(t.Context(), controlplane.PortalSettings{TenantID: 1, Slug: "kilimani", PlanIDs: []int64{9, 8}})
	code, body := e.get("/portal/kilimani?router=r1&voucher=abcd-efgh")
	if code != http.StatusOK {
		t.Fatalf("GET slug = %d", code)
	}
	if !strings.Contains(body, "KES 500.00") || strings.Contains(body, "KES 50.00") {
		t.Error("slug page does not show exactly the settings' active plans")
	}
	if !strings.Contains(body, `value="ABCDEFGH"`) {
		t.Error("voucher from the QR code's URL is not prefilled")
	}
	if !strings.Contains(body, `action="/portal/1/r1/voucher"`) {
		t.Error("the voucher form does not post to the tenant's router")
	}
	// The tenant's id works as its address too (voucher cards of a tenant
	// without a slug), without a router.
	code, body = e.get("/portal/1?voucher=ABCDEFGH")
	if code != http.StatusOK || !strings.Contains(body, `action="/portal/1/-/voucher"`) || !strings.Contains(body, `value="ABCDEFGH"`) {
		t.Errorf("GET /portal/1 = %d, not the tenant's portal", code)
	}
}

// TestFirstViewWeight: the first view (HTML with its inlined CSS and
// script, the whole page) stays under 100 KB compressed.
func TestFirstViewWeight(t *testing.T) {
	e := newEnv(t)
	_, body := e.get("/portal/1/r1" + hotspotQuery)
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write([]byte(body))
	w.Close()
	t.Logf("portal first view: %d bytes, %d bytes gzipped", len(body), z.Len())
	if z.Len() > 100<<10 {
		t.Errorf("first view is %d bytes compressed, over 100 KB", z.Len())
	}
}

func TestBuy(t *testing.T) {
	e := newEnv(t)
	var res buyResponse
	if code := e.postJSON("/portal/1/r1/buy", map[string]any{"plan_id": 7, "phone": "0712 345 678", "mac": "aa:bb:cc:00:11:22", "ip": "10.5.50.23"}, &res); code != http.StatusAccepted {
		t.Fatalf("buy = %d", code)
	}
	if res.PaymentID != 101 || res.Channel != "private-purchase.101" {
		t.Errorf("buy answered %+v", res)
	}
	if tn, pay, err := e.p.Tokens().Verify(res.Token); err != nil || tn != 1 || pay != 101 {
		t.Errorf("token verifies as %d, %d, %v", tn, pay, err)
	}
	if got := e.billing.purchases[0]; got.Phone != "+254712345678" || got.PlanID != 7 {
		t.Errorf("purchase = %+v, want the normalised phone and plan 7", got)
	}
	if a := e.billing.actors[0]; a.TenantID != 1 || a.Role != controlplane.RoleTechnician || a.Email != "portal" {
		t.Errorf("purchase principal = %+v", a)
	}
	if pp := e.bus.purchases(); len(pp) != 1 || pp[0].Status != "pending" || pp[0].MAC != "AA:BB:CC:00:11:22" || pp[0].RouterID != "r1" {
		t.Errorf("announced %+v", pp)
	}

	var er struct {
		Error struct{ Code, Message string }
	}
	for _, c := range []struct {
		body any
		want int
	}{
		{map[string]any{"plan_id": 7, "phone": "12"}, http.StatusBadRequest},
		{map[string]any{"plan_id": 8, "phone": "0712345679"}, http.StatusNotFound},  // inactive
		{map[string]any{"plan_id": 10, "phone": "0712345679"}, http.StatusNotFound}, // PPPoE
		{"not an object", http.StatusBadRequest},
	} {
		if code := e.postJSON("/portal/1/r1/buy", c.body, &er); code != c.want {
			t.Errorf("buy %v = %d (%s), want %d", c.body, code, er.Error.Message, c.want)
		}
	}
	if code := e.postJSON("/portal/2/r1/buy", map[string]any{"plan_id": 7, "phone": "0712345678"}, &er); code != http.StatusNotFound {
		t.Errorf("buy on another tenant's router = %d, want 404", code)
	}
}

func TestBuyRateLimits(t *testing.T) {
	e := newEnv(t)
	buy := func(phone, mac, ip string) int {
		return e.postJSON("/portal/1/r1/buy", map[string]any{"plan_id": 7, "phone": phone, "mac": mac, "ip": ip}, &map[string]any{})
	}
	for i := range 3 {
		if code := buy("0712345678", "", ""); code != http.StatusAccepted {
			t.Fatalf("push %d = %d", i+1, code)
		}
	}
	if code := buy("+254 712 345 678", "", ""); code != http.StatusTooManyRequests {
		t.Errorf("4th push to one phone (written another way) = %d, want 429", code)
	}
	for i, phone := range []string{"0711000001", "0711000002", "0711000003"} {
		if code := buy(phone, "AA:BB:CC:00:00:01", ""); code != http.StatusAccepted {
			t.Fatalf("mac push %d = %d", i+1, code)
		}
	}
	if code := buy("0711000004", "aa-bb-cc-00-00-01", ""); code != http.StatusTooManyRequests {
		t.Errorf("4th push from one MAC = %d, want 429", code)
	}
	for i, phone := range []string{"0722000001", "0722000002", "0722000003"} {
		if code := buy(phone, "", "10.5.50.9"); code != http.StatusAccepted {
			t.Fatalf("ip push %d = %d", i+1, code)
		}
	}
	if code := buy("0722000004", "", "10.5.50.9"); code != http.StatusTooManyRequests {
		t.Errorf("4th push from one IP = %d, want 429", code)
	}
	e.clock.Advance(10 * time.Minute)
	if code := buy("0712345678", "", ""); code != http.StatusAccepted {
		t.Errorf("push after the window = %d, want 202", code)
	}
}

func TestPurchaseStatus(t *testing.T) {
	e := newEnv(t)
	var res buyResponse
	e.postJSON("/portal/1/r1/buy", map[string]any{"plan_id": 7, "phone": "0712345678"}, &res)
	status := func(path string) (int, purchaseStatus) {
		code, body := e.get(path)
		var s purchaseStatus
		json.Unmarshal([]byte(body), &s)
		return code, s
	}
	base := "/portal/1/r1/purchase/101?token="
	if code, s := status(base + url.QueryEscape(res.Token)); code != http.StatusOK || s.Status != "pending" || s.Credentials != nil {
		t.Errorf("pending: %d %+v", code, s)
	}
	// The token is bound to tenant and payment.
	e.billing.setPayment(controlplane.Payment{ID: 102, TenantID: 1, Status: controlplane.PaymentCompleted})
	for _, path := range []string{base + "forged", base, "/portal/1/r1/purchase/102?token=" + url.QueryEscape(res.Token),
		"/portal/2/r2/purchase/101?token=" + url.QueryEscape(res.Token)} {
		if code, _ := status(path); code != http.StatusUnauthorized {
			t.Errorf("GET %s = %d, want 401", path, code)
		}
	}
	code1032 := 1032
	e.billing.setPayment(controlplane.Payment{ID: 101, TenantID: 1, Status: controlplane.PaymentFailed, ResultCode: &code1032, Phone: "+254712345678"})
	if _, s := status(base + url.QueryEscape(res.Token)); s.Status != "failed" || !strings.Contains(s.Reason, "cancelled") || s.Credentials != nil {
		t.Errorf("cancelled: %+v", s)
	}
	e.billing.setPayment(controlplane.Payment{ID: 101, TenantID: 1, Status: controlplane.PaymentCompleted})
	e.billing.credsAfter, e.accounts.syncedAfter = 2, 2
	if _, s := status(base + url.QueryEscape(res.Token)); s.Status != "completed" || s.Credentials == nil || s.Credentials.Password != "s3cret" {
		t.Errorf("completed: %+v", s)
	}
	if e.accounts.calls < 3 {
		t.Errorf("credentials handed out before the account was on the router (%d checks)", e.accounts.calls)
	}
	e.clock.Advance(31 * time.Minute)
	if code, _ := status(base + url.QueryEscape(res.Token)); code != http.StatusUnauthorized {
		t.Errorf("expired token: %d, want 401", code)
	}
	var statuses []string
	for _, pp := range e.bus.purchases() {
		statuses = append(statuses, pp.Status)
	}
	if strings.Join(statuses, ",") != "pending,failed,completed" {
		t.Errorf("announced %v, want each status once", statuses)
	}
}

func voucherForm(code, mac string) url.Values {
	return url.Values{"code": {code}, "mac": {mac}, "ip": {"10.5.50.23"}, "link-login-only": {"http://10.5.50.1/login"},
		"link-orig": {"http://example.com/"}, "chap-id": {`\011`}, "chap-challenge": {`\123\045`}}
}

func TestVoucherWithoutJavaScript(t *testing.T) {
	e := newEnv(t)
	code, body := e.postForm("/portal/1/r1/voucher", voucherForm("good-code-1", "AA:BB:CC:00:11:22"))
	if code != http.StatusOK {
		t.Fatalf("voucher = %d", code)
	}
	// A plain form the user submits: PAP to link-login-only.
	for _, want := range []string{`<form id="login" method="post" action="http://10.5.50.1/login" data-auto="1">`,
		`name="username" value="GOODCODE1"`, `name="password" value="GOODCODE1"`, `name="dst" value="http://example.com/"`} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	// The same device again gets its login again; another does not.
	if code, body := e.postForm("/portal/1/r1/voucher", voucherForm("GOODCODE1", "AA:BB:CC:00:11:22")); code != http.StatusOK || !strings.Contains(body, `value="GOODCODE1"`) {
		t.Errorf("re-login from the same MAC: %d", code)
	}
	if _, body := e.postForm("/portal/1/r1/voucher", voucherForm("GOODCODE1", "AA:BB:CC:00:11:33")); !strings.Contains(body, "not valid") {
		t.Error("another MAC got a redeemed voucher")
	}
}

func TestWrongVouchersLockTheDevice(t *testing.T) {
	e := newEnv(t)
	mac := "AA:BB:CC:00:11:44"
	for i := range 4 {
		_, body := e.postForm("/portal/1/r1/voucher", voucherForm("WRONG"+string(rune('A'+i)), mac))
		if !strings.Contains(body, "That voucher code is not valid") || strings.Contains(body, `data-auto="1"`) {
			t.Fatalf("wrong code %d: no plain error", i+1)
		}
	}
	code, body := e.postForm("/portal/1/r1/voucher", voucherForm("<script>x</script>", mac))
	if !strings.Contains(body, "Too many wrong codes") || strings.Contains(body, "<script>x") {
		t.Errorf("5th wrong code: %d, no lock message", code)
	}
	if got := testutil.ToFloat64(e.p.voucherFailures); got != 5 {
		t.Errorf("sitepulse_portal_voucher_failures_total = %v, want 5", got)
	}
	calls := e.vouchers.calls
	if code, _ := e.postForm("/portal/1/r1/voucher", voucherForm("GOODCODE1", mac)); code != http.StatusTooManyRequests {
		t.Errorf("right code from a locked MAC = %d, want 429", code)
	}
	if e.vouchers.calls != calls {
		t.Error("a locked MAC's code reached billing")
	}
	e.clock.Advance(15 * time.Minute)
	if code, body := e.postForm("/portal/1/r1/voucher", voucherForm("GOODCODE1", mac)); code != http.StatusOK || !strings.Contains(body, `data-auto="1"`) {
		t.Errorf("after the lock: %d", code)
	}
}

func TestRouterErrorWords(t *testing.T) {
	for in, want := range map[string]string{
		"invalid username or password":               "Wrong code or password",
		"no more sessions are allowed for user":      "already in use",
		"user 254712345678 has reached uptime limit": "run out",
		"user ABC has reached traffic limit":         "data on this login is used up",
		"your account is expired":                    "run out",
		"RADIUS server is not responding":            "cannot check logins",
		"something new":                              "(something new)",
		"":                                           "",
	} {
		if got := routerErrorWords(in); !strings.Contains(got, want) || (want == "" && got != "") {
			t.Errorf("routerErrorWords(%q) = %q, want it to say %q", in, got, want)
		}
	}
}

func TestTokens(t *testing.T) {
	c := testkit.NewClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	tk := NewTokens([]byte("0123456789abcdef"), time.Minute, c.Now)
	tok := tk.Sign(3, 41)
	if tn, p, err := tk.Verify(tok); err != nil || tn != 3 || p != 41 {
		t.Fatalf("Verify = %d %d %v", tn, p, err)
	}
	other := NewTokens([]byte("fedcba9876543210"), time.Minute, c.Now)
	parts := strings.Split(tok, ".")
	for _, bad := range []string{"", "x", other.Sign(3, 41), "3.42." + parts[2] + "." + parts[3], "4.41." + parts[2] + "." + parts[3],
		tok + "x", strings.Repeat("a", 300)} {
		if _, _, err := tk.Verify(bad); controlplane.ErrorCode(err) != controlplane.EUNAUTHORIZED {
			t.Errorf("Verify(%q) = %v, want EUNAUTHORIZED", bad, err)
		}
	}
	c.Advance(time.Minute)
	if _, _, err := tk.Verify(tok); err == nil {
		t.Error("expired token verifies")
	}
}

func TestSettingsValidation(t *testing.T) {
	e := newEnv(t)
	admin := controlplane.Principal{TenantID: 1, Role: controlplane.RoleTenantAdmin}
	str := func(s string) *string { return &s }
	ok, err := e.p.UpdateSettings(t.Context(), admin, controlplane.PortalSettingsPatch{Slug: str("Kilimani-WiFi"), PrimaryColor: str("#A0b1C2"),
		PlanIDs: &[]int64{9, 7}})
	if err != nil || ok.Slug != "kilimani-wifi" || ok.TenantID != 1 {
		t.Fatalf("update = %+v, %v", ok, err)
	}
	for name, patch := range map[string]controlplane.PortalSettingsPatch{
		"slug":        {Slug: str("-bad")},
		"reserved":    {Slug: str("auth")},
		"digits":      {Slug: str("2024")},
		"colour":      {PrimaryColor: str("red;}body{x")},
		"accent":      {AccentColor: str("#12345")},
		"logo scheme": {LogoURL: str("javascript:alert(1)")},
		"logo http":   {LogoURL: str("http://x.example/logo.png")},
		"logo data":   {LogoURL: str("data:text/html;base64,PHNjcmlwdD4=")},
		"plans":       {PlanIDs: &[]int64{10}}, // PPPoE
		"unknown":     {PlanIDs: &[]int64{99}},
		"terms":       {Terms: str(strings.Repeat("x", 5000))},
	} {
		if _, err := e.p.UpdateSettings(t.Context(), admin, patch); controlplane.ErrorCode(err) != controlplane.EINVALID {
			t.Errorf("%s: err %v, want EINVALID", name, err)
		}
	}
	tech := controlplane.Principal{TenantID: 1, Role: controlplane.RoleTechnician}
	if _, err := e.p.UpdateSettings(t.Context(), tech, controlplane.PortalSettingsPatch{}); controlplane.ErrorCode(err) != controlplane.EFORBIDDEN {
		t.Errorf("technician: %v, want EFORBIDDEN", err)
	}
	other := controlplane.Principal{TenantID: 2, Role: controlplane.RoleTenantAdmin}
	if _, err := e.p.UpdateSettings(t.Context(), other, controlplane.PortalSettingsPatch{Slug: str("kilimani-wifi")}); controlplane.ErrorCode(err) != controlplane.ECONFLICT {
		t.Errorf("taken slug: %v, want ECONFLICT", err)
	}
	if got, err := e.p.Settings(t.Context(), admin, 0); err != nil || got.PrimaryColor != "#A0b1C2" || len(got.PlanIDs) != 2 {
		t.Errorf("Settings = %+v, %v", got, err)
	}
}
