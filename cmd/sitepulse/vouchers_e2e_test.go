package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// TestVouchersEndToEnd runs serve's wiring on SQLite and PostgreSQL: a
// generated batch is on no router; its PDF downloads; a redeemed voucher
// (typed as printed, lower case and dashes) becomes a hotspot user named
// and keyed by its code with the plan's profile on the simulated router
// (read back over the RouterOS API), the customer logs in with it, its
// price shows in the revenue, and when its hour is over the account is
// disabled and the sweep marks the voucher used.
func TestVouchersEndToEnd(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		b := startBillEnv(t, c)
		hot := b.plan("1 hour", "hotspot", 5000, "1h")
		var batch controlplane.VoucherBatch
		if code := b.admin.call("POST", "/api/v1/vouchers/batches", map[string]any{"plan_id": hot.ID, "count": 3, "prefix": "KW",
			"valid_days": 7}, &batch); code != http.StatusCreated {
			t.Fatalf("generate: %d", code)
		}
		var page controlplane.Page[controlplane.Voucher]
		b.tech.call("GET", fmt.Sprintf("/api/v1/vouchers?batch_id=%d", batch.ID), nil, &page)
		if page.Total != 3 {
			t.Fatalf("vouchers %+v", page)
		}
		code := page.Data[0].Code
		if b.routerItem("/ip/hotspot/user", code) != nil {
			t.Fatal("an unredeemed voucher is on the router")
		}

		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/vouchers/batches/%d/pdf", b.admin.base, batch.ID), nil)
		req.Header.Set("Authorization", "Bearer "+b.admin.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		pdf, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatalf("pdf: %d %s %.60q", res.StatusCode, res.Header.Get("Content-Type"), pdf)
		}

		const mac = "AA:BB:CC:00:00:07"
		typed := strings.ToLower(code[:2] + "-" + code[2:6] + "-" + code[6:])
		var red controlplane.Redemption
		if st := b.tech.call("POST", "/api/v1/vouchers/redeem", map[string]any{"code": typed, "mac": mac, "router_id": b.site.id}, &red); st != http.StatusOK {
			t.Fatalf("redeem: %d", st)
		}
		if red.Credentials.Username != code || red.Voucher.Status != controlplane.VoucherActive {
			t.Fatalf("redemption %+v", red)
		}
		testkit.Eventually(t, 20*time.Second, "the voucher's hotspot user on the router", func() bool {
			row := b.routerItem("/ip/hotspot/user", code)
			return row != nil && row["profile"] == hot.Profile && row["password"] == code && row["disabled"] == "false"
		})
		if _, err := b.site.sim.LoginHotspotPassword(code, code, mac, "10.5.50.7"); err != nil {
			t.Fatalf("login with the voucher: %v", err)
		}
		var stats controlplane.BillingStats
		b.admin.call("GET", "/api/v1/billing/stats", nil, &stats)
		if stats.RevenueToday != 5000 {
			t.Fatalf("revenue after one voucher: %+v", stats)
		}

		b.offset.Add(int64(time.Hour + time.Minute))
		testkit.Eventually(t, 20*time.Second, "voucher used, its user disabled", func() bool {
			var v controlplane.Page[controlplane.Voucher]
			b.tech.call("GET", "/api/v1/vouchers?status=used", nil, &v)
			row := b.routerItem("/ip/hotspot/user", code)
			return v.Total == 1 && v.Data[0].ID == red.Voucher.ID && row != nil && row["disabled"] == "true"
		})
	})
}
