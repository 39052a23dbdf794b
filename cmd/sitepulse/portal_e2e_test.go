package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

// portalBuy is POST /portal/{t}/{r}/buy's answer.
type portalBuy struct {
	PaymentID int64  `json:"payment_id"`
	Token     string `json:"token"`
	Channel   string `json:"channel"`
}

func (b *billEnv) portalBase() string {
	return fmt.Sprintf("http://%s/portal/%d/%s", b.m.HTTPAddr(), b.tenantA, b.site.id)
}

func (b *billEnv) portalBuy(plan int64, phone, mac string) portalBuy {
	b.t.Helper()
	body, _ := json.Marshal(map[string]any{"plan_id": plan, "phone": phone, "mac": mac, "ip": "10.5.50.20"})
	res, err := http.Post(b.portalBase()+"/buy", "application/json", bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var out portalBuy
	if res.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(res.Body)
		b.t.Fatalf("portal buy: %d %s", res.StatusCode, msg)
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		b.t.Fatal(err)
	}
	return out
}

// portalRealtime connects to the hub as a portal page does: channel
// authorization at POST /portal/auth with the purchase's token.
func (b *billEnv) portalRealtime(ctx context.Context, token string) *client.Realtime {
	b.t.Helper()
	rt, err := client.DialRealtime(ctx, "ws://"+b.m.HTTPAddr(), b.m.hub.Key(), client.RealtimeOptions{Authorize: func(ctx context.Context, s, c string) (string, error) {
		form := url.Values{"socket_id": {s}, "channel_name": {c}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+b.m.HTTPAddr()+"/portal/auth", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return "", fmt.Errorf("portal auth %s: %d", c, res.StatusCode)
		}
		var a struct{ Auth string }
		err = json.NewDecoder(res.Body).Decode(&a)
		return a.Auth, err
	}})
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { rt.Close() })
	return rt
}

// purchaseStatus reads GET …/purchase/{payment}?token=.
func (b *billEnv) purchaseStatus(buy portalBuy) (int, map[string]any) {
	b.t.Helper()
	res, err := http.Get(fmt.Sprintf("%s/purchase/%d?token=%s", b.portalBase(), buy.PaymentID, url.QueryEscape(buy.Token)))
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// waitEvent reads rt until event arrives on channel.
func waitEvent(t *testing.T, ctx context.Context, rt *client.Realtime, channel, event string) client.Frame {
	t.Helper()
	for {
		f, err := rt.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s on %s: %v", event, channel, err)
		}
		if f.Channel == channel && f.Event == event {
			return f
		}
	}
}

// TestPortalPurchaseEndToEnd: the portal's money path on the real wiring.
// A purchase at /portal/{tenant}/{router}/buy pushes STK at the Daraja
// simulator; the page's token joins private-purchase.{payment} (and
// nothing else) through POST /portal/auth; the payment's completion
// arrives there; GET …/purchase/{payment} then hands out the login, once
// the hotspot user is on the device's router. A cancelled push (1032)
// arrives as PaymentFailed and gives a reason to retry, no login and no
// account.
func TestPortalPurchaseEndToEnd(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		b := startBillEnv(t, c)
		hot := b.plan("1 hour", "hotspot", 5000, "1h")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		res, err := http.Get(b.portalBase() + "?mac=AA:BB:CC:00:11:22&link-login-only=http%3A%2F%2F10.5.50.1%2Flogin")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(page), "KES 50.00") || !strings.Contains(string(page), "1 hour") {
			t.Fatalf("portal page: %d, plan or price missing", res.StatusCode)
		}

		b.sim.Script("254712345678", daraja.Outcome{Hold: true})
		buy := b.portalBuy(hot.ID, "0712 345 678", "AA:BB:CC:00:11:22")
		if buy.Channel != fmt.Sprintf("private-purchase.%d", buy.PaymentID) {
			t.Fatalf("buy = %+v", buy)
		}
		rt := b.portalRealtime(ctx, buy.Token)
		if err := rt.SubscribeWait(ctx, buy.Channel); err != nil {
			t.Fatalf("subscribe with the portal token: %v", err)
		}
		for _, ch := range []string{fmt.Sprintf("private-tenant.%d.payments", b.tenantA), fmt.Sprintf("private-purchase.%d", buy.PaymentID+1)} {
			if err := rt.SubscribeWait(ctx, ch); err == nil {
				t.Errorf("the portal token joined %s", ch)
			}
		}
		if code, st := b.purchaseStatus(buy); code != http.StatusOK || st["status"] != "pending" || st["credentials"] != nil {
			t.Fatalf("pending purchase: %d %v", code, st)
		}
		var pay controlplane.Payment
		testkit.Eventually(t, 20*time.Second, "STK push at Daraja", func() bool {
			pay = controlplane.Payment{}
			b.tech.call("GET", fmt.Sprintf("/api/v1/payments/%d", buy.PaymentID), nil, &pay)
			return pay.CheckoutRequestID != ""
		})
		if err := b.sim.Release(pay.CheckoutRequestID); err != nil {
			t.Fatal(err)
		}
		f := waitEvent(t, ctx, rt, buy.Channel, "PaymentCompleted")
		if strings.Contains(string(f.Data), "712345678") {
			t.Errorf("purchase event leaks the phone: %s", f.Data)
		}
		code, st := b.purchaseStatus(buy)
		cred, _ := st["credentials"].(map[string]any)
		if code != http.StatusOK || st["status"] != "completed" || cred["username"] != "254712345678" || cred["password"] == "" {
			t.Fatalf("completed purchase: %d %v", code, st)
		}
		if row := b.routerItem("/ip/hotspot/user", "254712345678"); row == nil || row["password"] != cred["password"] {
			t.Errorf("hotspot user not on the router when the portal handed out the login: %v", row)
		}
		// Another payment's id with this token: refused.
		other := buy
		other.PaymentID++
		if code, _ := b.purchaseStatus(other); code != http.StatusUnauthorized {
			t.Errorf("another payment with this token: %d, want 401", code)
		}

		// A cancelled push: PaymentFailed on the channel, a reason, no login.
		b.sim.Script("254700000032", daraja.Outcome{ResultCode: 1032, Hold: true})
		buy2 := b.portalBuy(hot.ID, "0700000032", "AA:BB:CC:00:11:33")
		rt2 := b.portalRealtime(ctx, buy2.Token)
		if err := rt2.SubscribeWait(ctx, buy2.Channel); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 20*time.Second, "STK push at Daraja", func() bool {
			pay = controlplane.Payment{}
			b.tech.call("GET", fmt.Sprintf("/api/v1/payments/%d", buy2.PaymentID), nil, &pay)
			return pay.CheckoutRequestID != ""
		})
		if err := b.sim.Release(pay.CheckoutRequestID); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, ctx, rt2, buy2.Channel, "PaymentFailed")
		code, st = b.purchaseStatus(buy2)
		if code != http.StatusOK || st["status"] != "failed" || !strings.Contains(fmt.Sprint(st["reason"]), "cancelled") || st["credentials"] != nil {
			t.Fatalf("cancelled purchase: %d %v", code, st)
		}
		var accs controlplane.Page[controlplane.Account]
		b.tech.call("GET", "/api/v1/accounts?name=254700000032", nil, &accs)
		if accs.Total != 0 || b.routerItem("/ip/hotspot/user", "254700000032") != nil {
			t.Errorf("a cancelled purchase made an account: %+v", accs.Data)
		}
		// Retrying works: the failed push no longer blocks the phone.
		b.portalBuy(hot.ID, "0700000032", "AA:BB:CC:00:11:33")
	})
}

// TestPortalVoucherEndToEnd: vouchers at the portal on the real wiring.
// Two devices redeeming one voucher at once get exactly one login (the
// voucher row's lock); the winner's account reaches the router before the
// portal answers; wrong codes are counted and lock the device's MAC.
func TestPortalVoucherEndToEnd(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		b := startBillEnv(t, c)
		hot := b.plan("1 hour", "hotspot", 5000, "1h")
		var batch controlplane.VoucherBatch
		if code := b.admin.call("POST", "/api/v1/vouchers/batches", map[string]any{"plan_id": hot.ID, "count": 3}, &batch); code != http.StatusCreated {
			t.Fatalf("generate vouchers: %d", code)
		}
		var page controlplane.Page[controlplane.Voucher]
		b.admin.call("GET", fmt.Sprintf("/api/v1/vouchers?batch_id=%d", batch.ID), nil, &page)
		if len(page.Data) != 3 {
			t.Fatalf("vouchers: %+v", page)
		}
		redeem := func(code, mac string) (int, string) {
			form := url.Values{"code": {code}, "mac": {mac}, "ip": {"10.5.50.7"}, "link-login-only": {"http://10.5.50.1/login"}}
			res, err := http.PostForm(b.portalBase()+"/voucher", form)
			if err != nil {
				t.Error(err)
				return 0, ""
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(body)
		}
		for i, v := range page.Data {
			got := make(chan bool, 2)
			for d := range 2 {
				go func() {
					_, body := redeem(v.Code, fmt.Sprintf("AA:BB:CC:00:%02d:%02d", i, d))
					got <- strings.Contains(body, `data-auto="1"`)
				}()
			}
			if x, y := <-got, <-got; x == y {
				t.Errorf("voucher %d redeemed from two devices at once: logins %v and %v, want exactly one", i, x, y)
			}
			if row := b.routerItem("/ip/hotspot/user", v.Code); row == nil || row["profile"] != hot.Profile {
				t.Errorf("voucher %d's user not on the router when the portal answered: %v", i, row)
			}
		}
		mac := "AA:BB:CC:00:99:01"
		for i := range 5 {
			if _, body := redeem(fmt.Sprintf("WRONG%03d", i), mac); !strings.Contains(body, "not valid") && !strings.Contains(body, "Too many wrong codes") {
				t.Fatalf("wrong code %d: no plain error", i)
			}
		}
		if code, _ := redeem(page.Data[0].Code, mac); code != http.StatusTooManyRequests {
			t.Errorf("a locked device's code: %d, want 429", code)
		}
		mfs, err := b.m.registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var failures float64
		for _, mf := range mfs {
			if mf.GetName() == "sitepulse_portal_voucher_failures_total" {
				failures = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		// The 3 losing devices of the races count too: to them the code
		// was not valid.
		if failures != 3+5 {
			t.Errorf("sitepulse_portal_voucher_failures_total = %v, want 8", failures)
		}
	})
}
