package radius

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

// plan is the part of a plan these tests read.
type plan struct {
	ID      int64  `json:"id"`
	Profile string `json:"profile"`
	Routers []struct {
		RouterID string `json:"router_id"`
		State    string `json:"state"`
	} `json:"routers"`
}

func (c *cloud) createPlan(name, dur, rate string) plan {
	c.t.Helper()
	var p plan
	if code := c.call("POST", "/api/v1/plans", map[string]any{"tenant_id": c.fx.TenantID, "name": name, "kind": "hotspot",
		"price": 5000, "duration": dur, "rate_limit": rate, "shared_users": 1}, &p); code != http.StatusCreated {
		c.t.Fatalf("create plan: %d", code)
	}
	return p
}

func (c *cloud) setAuthMode(s *site, mode string) {
	c.t.Helper()
	if code := c.call("PATCH", "/api/v1/routers/"+s.routerID, map[string]any{"auth_mode": mode}, nil); code >= 300 {
		c.t.Fatalf("auth_mode %s: %d", mode, code)
	}
}

func (c *cloud) vouchers(planID int64, n int) []string {
	c.t.Helper()
	var batch struct {
		ID int64 `json:"id"`
	}
	if code := c.call("POST", "/api/v1/vouchers/batches", map[string]any{"tenant_id": c.fx.TenantID, "plan_id": planID, "count": n}, &batch); code != http.StatusCreated {
		c.t.Fatalf("generate vouchers: %d", code)
	}
	var page struct {
		Data []struct {
			Code string `json:"code"`
		} `json:"data"`
	}
	c.call("GET", fmt.Sprintf("/api/v1/vouchers?batch_id=%d&limit=100", batch.ID), nil, &page)
	if len(page.Data) != n {
		c.t.Fatalf("batch has %d vouchers, want %d", len(page.Data), n)
	}
	codes := make([]string, n)
	for i, v := range page.Data {
		codes[i] = v.Code
	}
	return codes
}

func (c *cloud) voucherStatus(code string) string {
	c.t.Helper()
	var page struct {
		Data []struct {
			Status   string `json:"status"`
			RouterID string `json:"router_id"`
		} `json:"data"`
	}
	c.call("GET", "/api/v1/vouchers?code="+code, nil, &page)
	if len(page.Data) != 1 {
		return ""
	}
	return page.Data[0].Status
}

// liveSessions is the cloud's view of a router's live sessions.
func (c *cloud) liveSessions(router string) []map[string]any {
	c.t.Helper()
	var page struct {
		Data []map[string]any `json:"data"`
	}
	c.call("GET", "/api/v1/sessions?router_id="+router+"&limit=500", nil, &page)
	return page.Data
}

func findRow(rows []map[string]string, key, val string) map[string]string {
	for _, r := range rows {
		if r[key] == val {
			return r
		}
	}
	return nil
}

// seconds reads a RouterOS duration such as 59m58s or 1h.
func seconds(s string) int {
	total, n := 0, 0
	for _, ch := range s {
		switch {
		case ch >= '0' && ch <= '9':
			n = n*10 + int(ch-'0')
		case ch == 'w':
			total, n = total+n*7*86400, 0
		case ch == 'd':
			total, n = total+n*86400, 0
		case ch == 'h':
			total, n = total+n*3600, 0
		case ch == 'm':
			total, n = total+n*60, 0
		case ch == 's':
			total, n = total+n, 0
		}
	}
	return total + n
}

// TestVoucherAtTwoRouters runs the real binaries over UDP: `sitepulse
// serve`, two simulated routers set up by firmware-scripts/04-radius.rsc
// and their agents. A voucher never redeemed is typed on router A's login
// page: A's agent asks the cloud (its first use), which redeems it; the
// Access-Accept carries the plan's rate limit and the time left, which the
// router applies. The same code then logs in at router B, whose agent has
// the redeemed account from the sync. An account past its expiry is
// rejected with the reason on the login page, and a kick from the
// dashboard reaches the router as a Disconnect-Request that ends the
// session.
func TestVoucherAtTwoRouters(t *testing.T) {
	t.Parallel()
	c := startCloud(t, 2)
	a, b := c.startSite(0, ""), c.startSite(1, "")
	c.setAuthMode(a, "radius")
	c.setAuthMode(b, "radius")
	p := c.createPlan("1 hour", "1h", "2M/5M")
	codes := c.vouchers(p.ID, 2)
	a.synced()
	b.synced()

	if rows := a.active("/ip/hotspot/user"); findRow(rows, "name", codes[0]) != nil {
		t.Fatal("a RADIUS router got the voucher as a local hotspot user")
	}

	// First use at router A: decided by the cloud.
	const mac = "AA:BB:CC:00:01:01"
	res := a.hotspotLogin(codes[0], codes[0], mac, "10.5.50.11", "chap")
	if !res.OK {
		t.Fatalf("voucher login at A: %+v", res)
	}
	if st := c.voucherStatus(codes[0]); st != "active" {
		t.Fatalf("voucher after its first use: %q, want active", st)
	}
	row := findRow(a.active("/ip/hotspot/active"), "user", codes[0])
	if row == nil {
		t.Fatal("no active session at A")
	}
	if row["rate-limit"] != "2M/5M" {
		t.Fatalf("rate limit at A %q, want the plan's 2M/5M (row %v)", row["rate-limit"], row)
	}
	if left := seconds(row["session-time-left"]); left < 3500 || left > 3600 {
		t.Fatalf("session-time-left %q, want about the plan's hour", row["session-time-left"])
	}
	testkit.Eventually(t, 20*time.Second, "the session at A in the cloud", func() bool {
		for _, s := range c.liveSessions(a.routerID) {
			if s["user"] == codes[0] {
				return true
			}
		}
		return false
	})

	// At router B: the redeemed account came with the sync.
	a.logout(res.ID, true)
	b.synced()
	resB := b.hotspotLogin(codes[0], codes[0], mac, "10.6.50.11", "chap")
	if !resB.OK {
		t.Fatalf("the same voucher at B: %+v", resB)
	}
	rowB := findRow(b.active("/ip/hotspot/active"), "user", codes[0])
	if rowB == nil || rowB["rate-limit"] != "2M/5M" {
		t.Fatalf("session at B: %v", rowB)
	}
	if left := seconds(rowB["session-time-left"]); left > seconds(row["session-time-left"]) {
		t.Fatalf("time left at B %q is more than at A %q: the clock restarted", rowB["session-time-left"], row["session-time-left"])
	}

	// A wrong password and a code that is no voucher are refused.
	if r := b.hotspotLogin(codes[1], "not-the-code", "AA:BB:CC:00:01:02", "10.6.50.12", "pap"); r.OK {
		t.Fatal("a wrong password logged in")
	}
	if r := b.hotspotLogin("NOSUCHCODE", "NOSUCHCODE", "AA:BB:CC:00:01:03", "10.6.50.13", "chap"); r.OK {
		t.Fatal("an unknown code logged in")
	}

	// An expired account is rejected, with the reason on the login page.
	exp := time.Now().Add(4 * time.Second).UTC()
	var acct struct {
		ID int64 `json:"id"`
	}
	if code := c.call("POST", "/api/v1/accounts", map[string]any{"tenant_id": c.fx.TenantID, "kind": "hotspot", "name": "late-customer",
		"password": "late-pw", "profile": p.Profile, "expires_at": exp, "router_ids": []string{a.routerID}}, &acct); code >= 300 {
		t.Fatalf("create account: %d", code)
	}
	a.synced()
	if r := a.hotspotLogin("late-customer", "late-pw", "AA:BB:CC:00:02:01", "10.5.50.21", "chap"); !r.OK {
		t.Fatalf("login before the expiry: %+v", r)
	}
	lateRow := findRow(a.active("/ip/hotspot/active"), "user", "late-customer")
	if lateRow == nil || seconds(lateRow["session-time-left"]) > 4 {
		t.Fatalf("session-time-left of an account 4 s from its end: %v", lateRow)
	}
	testkit.Eventually(t, 30*time.Second, "the session ends at the account's end", func() bool {
		return findRow(a.active("/ip/hotspot/active"), "user", "late-customer") == nil
	})
	var rejected loginResult
	testkit.Eventually(t, 30*time.Second, "an expired account is rejected", func() bool {
		rejected = a.hotspotLogin("late-customer", "late-pw", "AA:BB:CC:00:02:01", "10.5.50.21", "chap")
		return !rejected.OK
	})
	if !strings.Contains(strings.ToLower(rejected.Error), "expired") {
		t.Fatalf("reject shown on the login page: %q, want it to say expired", rejected.Error)
	}

	// A kick from the dashboard becomes a Disconnect-Request to B.
	before := b.radiusStats()
	var cmd struct {
		ID string `json:"id"`
	}
	if code := c.call("POST", "/api/v1/routers/"+b.routerID+"/commands", map[string]any{"kind": "hotspot.active.kick",
		"kick": map[string]string{"user": codes[0]}}, &cmd); code != http.StatusAccepted {
		t.Fatalf("kick: %d", code)
	}
	testkit.Eventually(t, 30*time.Second, "the kicked session gone from B", func() bool {
		return findRow(b.active("/ip/hotspot/active"), "user", codes[0]) == nil
	})
	after := b.radiusStats()
	if num(after, "disconnect_acks") != num(before, "disconnect_acks")+1 {
		t.Fatalf("the session ended without a Disconnect-Request: stats before %v after %v", before, after)
	}
	testkit.Eventually(t, 30*time.Second, "the kick command succeeded and the cloud shows the session ended", func() bool {
		var got struct {
			Status string `json:"status"`
		}
		c.call("GET", "/api/v1/commands/"+cmd.ID, nil, &got)
		for _, s := range c.liveSessions(b.routerID) {
			if s["user"] == codes[0] {
				return false
			}
		}
		return got.Status == "succeeded"
	})
}

func num(m map[string]any, k string) float64 {
	v, _ := m[k].(float64)
	return v
}
