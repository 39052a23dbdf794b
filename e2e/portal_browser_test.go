package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

// Phones the Node test pays with: one that pays (after a few seconds,
// so the page waits on its channel) and one that cancels (1032).
const (
	portalPayPhone    = "254712345678"
	portalCancelPhone = "254700000032"
)

// TestPortalInChromium is issue 14's acceptance test: a phone-sized
// Chromium on the simulated hotspot (real control plane, simulator and
// agent processes; the Daraja simulator in this process). See
// browser/portal.test.mjs for the journeys: the hotspot redirects to the
// portal; a plan paid with M-Pesa logs the device in through the router's
// link-login-only with CHAP; a voucher from a generated batch does too
// (and without JavaScript with PAP); a wrong voucher shows a plain error
// and logs nothing in; a cancelled STK push offers a retry. This side
// checks what the tenant's dashboard receives live (its realtime channel,
// as the dashboard subscribes), the counters, that a cancelled push made no
// account, and that two devices redeeming one voucher at once get exactly
// one login.
func TestPortalInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser test runs processes and Chromium")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	chromium := envOr("SITEPULSE_E2E_CHROMIUM", "/usr/bin/chromium")
	for _, tool := range []string{"node", "npm", chromium} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: the browser test needs Node.js, npm and Debian's chromium", tool)
		}
	}
	artifacts := filepath.Join(root, "e2e", "browser", "artifacts", "portal")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(artifacts, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := goBuild(t, root, tmp)
	ctx := context.Background()

	// --- Daraja simulator ----------------------------------------------------
	dar := daraja.New(daraja.Options{Seed: 14})
	if err := dar.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dar.Close() })
	dar.Script(portalPayPhone, daraja.Outcome{Delay: 3 * time.Second})
	dar.Script(portalCancelPhone, daraja.Outcome{ResultCode: 1032, Delay: 2 * time.Second})

	// --- control plane -------------------------------------------------------
	const adminEmail, adminPassword = "root@e2e.test", "an e2e admin password"
	cp := startProc(t, logs, "sitepulse", filepath.Join(bin, "sitepulse"),
		[]string{"--log-format", "json", "serve", "--data-dir", filepath.Join(tmp, "cp"),
			"--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--shutdown-timeout", "5s",
			"--mpesa-base-url", dar.URL()},
		"SITEPULSE_ADMIN_EMAIL="+adminEmail, "SITEPULSE_ADMIN_PASSWORD="+adminPassword)
	serving := cp.waitLine(t, 30*time.Second, regexp.MustCompile(`"msg":"serving"`))
	var addrs struct{ HTTP, MQTT string }
	if err := json.Unmarshal([]byte(serving), &addrs); err != nil || addrs.HTTP == "" {
		t.Fatalf("control plane serving line %q: %v", serving, err)
	}
	base := "http://" + addrs.HTTP

	// --- tenant, admin, router ----------------------------------------------
	api := client.New(base, client.Options{Timeout: 30 * time.Second})
	login, err := api.Login(ctx, adminEmail, adminPassword)
	check(t, "login", err)
	api = api.WithToken(login.Token)
	const userEmail, userPassword = "owner@e2e.test", "an e2e tenant admin password"
	tenant := tenantWithAdmin(t, ctx, api, "Kilimani WiFi",
		controlplane.CreateUserRequest{Email: userEmail, Name: "Owner", Role: controlplane.RoleTenantAdmin, Password: userPassword})
	owner := client.New(base, client.Options{Timeout: 30 * time.Second})
	ol, err := owner.Login(ctx, userEmail, userPassword)
	check(t, "owner login", err)
	owner = owner.WithToken(ol.Token)
	enrolled, err := api.CreateRouter(ctx, controlplane.CreateRouterRequest{Name: "Kilimani AP", Site: "Kilimani", TenantID: &tenant.ID})
	check(t, "enroll router", err)
	routerID := enrolled.Router.ID
	portalURL := fmt.Sprintf("%s/portal/%d/%s", base, tenant.ID, routerID)

	// --- the simulated router with its hotspot sending devices to the portal -
	const routerUser, routerPassword = "sitepulse", "e2e-router-password"
	sim := startProc(t, logs, "sitepulse-sim", filepath.Join(bin, "sitepulse-sim"),
		[]string{"--api-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--hotspot-addr", "127.0.0.1:0",
			"--portal-url", portalURL, "--user", routerUser, "--identity", "kilimani-ap", "--seed", "14",
			"--hotspot-sessions", "0", "--ppp-sessions", "0", "--churn", "0"},
		"SITEPULSE_SIM_PASSWORD="+routerPassword)
	simCtl := "http://" + submatch(t, sim.waitLine(t, 10*time.Second, regexp.MustCompile(`msg="control api listening"`)), `addr=(\S+)`)
	hotspot := "http://" + submatch(t, sim.waitLine(t, 10*time.Second, regexp.MustCompile(`msg="hotspot http listening"`)), `addr=(\S+)`)
	simAPI := submatch(t, sim.waitLine(t, 10*time.Second, regexp.MustCompile(`msg="sitepulse-sim running"`)), `api=(\S+)`)
	sim.waitLine(t, 10*time.Second, regexp.MustCompile(`hotspot pages send devices to the portal`))

	startProc(t, logs, "sitepulse-agent", filepath.Join(bin, "sitepulse-agent"),
		[]string{"run", "--router-id", routerID, "--router-addr", simAPI, "--router-user", routerUser,
			"--mqtt-url", "tcp://" + addrs.MQTT, "--data-dir", filepath.Join(tmp, "agent"), "--listen-addr", "",
			"--counters-interval", "1s", "--resources-interval", "2s", "--shutdown-timeout", "3s"},
		"SITEPULSE_ROUTER_PASSWORD="+routerPassword, "SITEPULSE_MQTT_SECRET="+enrolled.Secret)
	testkit.Eventually(t, 30*time.Second, "router online", func() bool {
		r, err := api.Router(ctx, routerID)
		check(t, "router", err)
		return r.Status == controlplane.RouterOnline
	})

	// --- billing: M-Pesa (the simulator's sandbox app), a plan, branding ----
	check(t, "billing settings", owner.Do(ctx, http.MethodPut, "/api/v1/billing/settings", map[string]any{
		"mpesa_shortcode": daraja.SandboxShortCode, "mpesa_passkey": daraja.SandboxPasskey,
		"mpesa_consumer_key": daraja.DefaultConsumerKey, "mpesa_consumer_secret": daraja.DefaultConsumerSecret,
		"allowed_sources": []string{"127.0.0.1"}}, nil))
	var plan controlplane.Plan
	check(t, "plan", owner.Do(ctx, http.MethodPost, "/api/v1/plans", map[string]any{"name": "1 Hour", "kind": "hotspot",
		"price": 5000, "duration": "1h", "rate_limit": "2M/5M", "shared_users": 1}, &plan))
	testkit.Eventually(t, 30*time.Second, "plan profile on the router", func() bool {
		check(t, "get plan", owner.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/plans/%d", plan.ID), nil, &plan))
		return len(plan.Routers) == 1 && plan.Routers[0].State == controlplane.SyncSynced
	})
	name, primary := "Kilimani WiFi", "#0b3d91"
	_, err = owner.UpdatePortalSettings(ctx, controlplane.PortalSettingsPatch{Name: &name, PrimaryColor: &primary,
		SupportPhone: ptr("0700 111 222"), Terms: ptr("Fair use: no more than one device per code.")})
	check(t, "portal settings", err)

	// --- vouchers (when this build has them) ---------------------------------
	codes := generateVouchers(t, ctx, owner, plan.ID, 4)

	// --- the first view's weight ---------------------------------------------
	weighPortal(t, portalURL+"?mac=AA:BB:CC:00:00:01&ip=10.5.50.2&link-login-only="+url.QueryEscape(hotspot+"/login"))

	// --- the tenant's dashboard, live: its realtime channels ----------------
	rt, err := owner.DialRealtime(ctx, client.RealtimeOptions{})
	check(t, "dashboard realtime", err)
	defer rt.Close()
	sessions := fmt.Sprintf("private-tenant.%d.sessions", tenant.ID)
	check(t, "subscribe sessions", rt.SubscribeWait(ctx, sessions))
	live := &liveSessions{}
	go live.read(rt, sessions)

	// --- the Node test in Chromium -------------------------------------------
	dir := filepath.Join(root, "e2e", "browser")
	ensureNodeModules(t, dir)
	cmd := exec.Command("node", "--test", "--test-reporter=spec", "--test-concurrency=1", "portal.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(),
		"SITEPULSE_E2E_URL="+base,
		"SITEPULSE_E2E_PORTAL_URL="+portalURL,
		"SITEPULSE_E2E_HOTSPOT="+hotspot,
		"SITEPULSE_E2E_SIM_CONTROL="+simCtl,
		"SITEPULSE_E2E_PAY_PHONE=0"+portalPayPhone[3:],
		"SITEPULSE_E2E_CANCEL_PHONE=0"+portalCancelPhone[3:],
		"SITEPULSE_E2E_VOUCHERS="+strings.Join(codes, ","),
		"SITEPULSE_E2E_ARTIFACTS="+artifacts,
		"SITEPULSE_E2E_CHROMIUM="+chromium,
	)
	out := &lineLogger{t: t, prefix: "node: "}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	out.Flush()
	t.Logf("node test took %v; screenshots and logs in %s", time.Since(start).Round(time.Millisecond), artifacts)
	if err != nil {
		t.Fatalf("browser test failed: %v (process logs in %s)", err, logs)
	}

	// The dashboard saw the paid device's session start, live (the user
	// is the customer's number, masked), and the voucher's.
	want := []string{"2547****678"}
	if len(codes) > 0 {
		want = append(want, codes[0], codes[1])
	}
	for _, user := range want {
		testkit.Eventually(t, 20*time.Second, "SessionStarted of "+user+" on the dashboard's channel", func() bool { return live.has(user) })
	}
	t.Logf("dashboard channel: SessionStarted for %v", want)

	// A cancelled push made no account.
	var accs controlplane.Page[controlplane.Account]
	check(t, "accounts", owner.Do(ctx, http.MethodGet, "/api/v1/accounts?name="+portalCancelPhone, nil, &accs))
	if accs.Total != 0 {
		t.Errorf("the cancelled STK push made accounts: %+v", accs.Data)
	}

	if len(codes) == 0 {
		t.Log("this build has no vouchers (POST /api/v1/vouchers/batches): voucher journeys skipped")
		return
	}
	// The wrong voucher was counted.
	if n := metricValue(t, base, "sitepulse_portal_voucher_failures_total"); n < 1 {
		t.Errorf("sitepulse_portal_voucher_failures_total = %v, want at least 1", n)
	}
	// Two devices redeem one voucher at once: exactly one gets a login.
	concurrentRedeem(t, portalURL, hotspot, codes[3])
}

func ptr[T any](v T) *T { return &v }

// generateVouchers makes a batch of n vouchers for plan and returns their
// codes; none when the control plane has no voucher API.
func generateVouchers(t *testing.T, ctx context.Context, c *client.Client, plan int64, n int) []string {
	t.Helper()
	var batch controlplane.VoucherBatch
	err := c.Do(ctx, http.MethodPost, "/api/v1/vouchers/batches", map[string]any{"plan_id": plan, "count": n, "length": 8}, &batch)
	if controlplane.ErrorCode(err) == controlplane.ENOTFOUND || controlplane.ErrorCode(err) == controlplane.EUNAVAILABLE {
		return nil
	}
	check(t, "generate vouchers", err)
	var page controlplane.Page[controlplane.Voucher]
	check(t, "list vouchers", c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/vouchers?batch_id=%d", batch.ID), nil, &page))
	var codes []string
	for _, v := range page.Data {
		codes = append(codes, v.Code)
	}
	if len(codes) != n {
		t.Fatalf("batch %d: %d codes, want %d", batch.ID, len(codes), n)
	}
	return codes
}

// weighPortal fetches the portal's first view and prints its size, as
// served and gzip-compressed (what a slow phone pays for). It must stay
// within 100 KB compressed; the page makes no other request to render.
func weighPortal(t *testing.T, u string) {
	t.Helper()
	res, err := http.Get(u)
	check(t, "portal page", err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	check(t, "portal page", err)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("portal page: %d", res.StatusCode)
	}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.DefaultCompression)
	w.Write(body)
	w.Close()
	t.Logf("portal first view: %d bytes, %d bytes gzip-compressed (limit 102400)", len(body), z.Len())
	fmt.Printf("portal first view weight: %d bytes raw, %d bytes compressed\n", len(body), z.Len())
	if z.Len() > 100<<10 {
		t.Errorf("portal first view is %d bytes compressed, over 100 KB", z.Len())
	}
	if regexp.MustCompile(`<(script|link|img)[^>]+(src|href)="/`).Match(body) {
		t.Error("the first view loads more files from the control plane")
	}
}

// liveSessions collects the users of SessionStarted events on a channel.
type liveSessions struct {
	mu    sync.Mutex
	users []string
}

func (l *liveSessions) read(rt *client.Realtime, channel string) {
	for {
		f, err := rt.Next(context.Background())
		if err != nil {
			return
		}
		if f.Channel != channel || f.Event != "SessionStarted" {
			continue
		}
		var ev struct {
			Session struct{ User, MAC string } `json:"session"`
		}
		if json.Unmarshal(f.Data, &ev) == nil {
			l.mu.Lock()
			l.users = append(l.users, ev.Session.User)
			l.mu.Unlock()
		}
	}
}

func (l *liveSessions) has(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.users {
		if u == user {
			return true
		}
	}
	return false
}

// metricValue reads one counter from /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	check(t, "metrics", err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	check(t, "metric value", err)
	return v
}

// concurrentRedeem posts one voucher from two devices at once: exactly
// one answer is the page that logs its device in.
func concurrentRedeem(t *testing.T, portalURL, hotspot, code string) {
	t.Helper()
	var wg sync.WaitGroup
	logins := make([]bool, 2)
	for i, mac := range []string{"AA:BB:CC:00:00:51", "AA:BB:CC:00:00:52"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"code": {code}, "mac": {mac}, "ip": {fmt.Sprintf("10.5.50.%d", 51+i)},
				"link-login-only": {hotspot + "/login"}, "link-orig": {"http://example.com/"}}
			res, err := http.PostForm(portalURL+"/voucher", form)
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			logins[i] = strings.Contains(string(b), `data-auto="1"`)
		}()
	}
	wg.Wait()
	if logins[0] == logins[1] {
		t.Errorf("two devices redeeming %s at once: logins %v, want exactly one", code, logins)
	} else {
		t.Logf("two devices redeeming one voucher at once: exactly one login (%v)", logins)
	}
}
