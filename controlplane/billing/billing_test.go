package billing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

func TestPurchaseActivatesOnCallback(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("1 hour", controlplane.PlanHotspot, 5000, "1h")
		for _, r := range e.routes {
			if got := e.commands(r.ID)[string(protocol.CmdHotspotProfileAdd)]; got != 1 {
				t.Fatalf("router %s: %d profile adds, want 1", r.ID, got)
			}
		}
		res := e.buy(plan, "0712345678")
		pay := e.waitStatus(res.PaymentID, controlplane.PaymentCompleted)
		if pay.Receipt == "" || pay.Amount != controlplane.KES(5000) || pay.Phone != "+254712345678" {
			t.Fatalf("payment = %+v", pay.Payment)
		}
		sub := e.sub(res.SubscriptionID)
		if sub.Status != controlplane.SubscriptionActive || sub.EndsAt == nil || !sub.EndsAt.Equal(sub.StartsAt.Add(time.Hour)) {
			t.Fatalf("subscription = %+v", sub)
		}
		if n := e.jobs(KindReconnect); n != 1 {
			t.Fatalf("%d reconnection jobs, want 1", n)
		}
		e.runReconnects()
		sub = e.sub(res.SubscriptionID)
		if sub.AccountID == 0 || sub.Username != "254712345678" {
			t.Fatalf("after reconnection: %+v", sub)
		}
		a, err := e.st.GetAccount(e.ctx, 0, sub.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Profile != plan.Profile || a.Disabled || a.ExpiresAt == nil || !a.ExpiresAt.Equal(*sub.EndsAt) || len(a.Routers) != 2 {
			t.Fatalf("account = %+v", a)
		}
		for _, r := range e.routes {
			if got := e.commands(r.ID)[string(protocol.CmdHotspotUserAdd)]; got != 1 {
				t.Fatalf("router %s: %d user adds, want 1", r.ID, got)
			}
		}
		st, err := e.svc.Stats(e.ctx, e.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.RevenueToday != 5000 || st.Revenue30d != 5000 || st.PaymentsToday != 1 || st.ActiveSubscriptions != 1 || st.ARPU != 5000 {
			t.Fatalf("stats = %+v", st)
		}
		// A second run of the job (River retries) queues nothing more.
		if err := e.svc.reconnect(e.ctx, reconnectArgs{SubscriptionID: sub.ID}); err != nil {
			t.Fatal(err)
		}
		if got := e.commands(e.routes[0].ID); got[string(protocol.CmdHotspotUserAdd)] != 1 || got[string(protocol.CmdHotspotUserSet)] != 0 {
			t.Fatalf("after a second reconnection run: %v", got)
		}
	})
}

func TestDuplicateCallbacksApplyOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("day", controlplane.PlanHotspot, 8000, "24h")
		e.sim.Script("254700000001", daraja.Outcome{ResultCode: 0, Duplicate: 10})
		res := e.buy(plan, "+254700000001")
		e.waitStatus(res.PaymentID, controlplane.PaymentCompleted)
		testkit.Eventually(t, 0, "ten callbacks logged", func() bool {
			cbs, _, _ := e.st.ListCallbacks(e.ctx, e.tenant.ID, "", 100, 0)
			return len(cbs) == 10
		})
		cbs, _, _ := e.st.ListCallbacks(e.ctx, e.tenant.ID, controlplane.CallbackDuplicate, 100, 0)
		if len(cbs) != 9 {
			t.Fatalf("%d duplicates logged, want 9", len(cbs))
		}
		if n := e.jobs(KindReconnect); n != 1 {
			t.Fatalf("%d reconnection jobs, want 1", n)
		}
		pays, _, _ := e.st.ListPayments(e.ctx, e.tenant.ID, controlplane.PaymentFilter{})
		if len(pays) != 1 {
			t.Fatalf("%d payments, want 1", len(pays))
		}
		st, _ := e.svc.Stats(e.ctx, e.tenant.ID)
		if st.RevenueToday != 8000 || st.PaymentsToday != 1 {
			t.Fatalf("stats after duplicates = %+v", st)
		}
		sub := e.sub(res.SubscriptionID)
		if !sub.EndsAt.Equal(sub.StartsAt.Add(24 * time.Hour)) {
			t.Fatalf("duplicates extended the subscription: %+v", sub)
		}
	})
}

// post sends body to the service's hook server.
func (e *env) post(url string, body []byte, header map[string]string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, url, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestForgedTamperedAndUnknownCallbacks(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("week", controlplane.PlanHotspot, 30000, "7d")
		// Held: the customer has not answered yet.
		e.sim.Script("254700000002", daraja.Outcome{Hold: true})
		res := e.buy(plan, "254700000002")
		pay := e.payment(res.PaymentID)
		good := e.svc.stkCallbackURL(e.tenant.ID, pay.ID)
		success := func(checkout string, amount float64) []byte {
			return []byte(fmt.Sprintf(`{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":%q,"ResultCode":0,
				"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[{"Name":"Amount","Value":%v},
				{"Name":"MpesaReceiptNumber","Value":"FORGED0001"},{"Name":"TransactionDate","Value":20260301120000},
				{"Name":"PhoneNumber","Value":254700000002}]}}}}`, checkout, amount))
		}
		// Wrong token: refused, nothing recorded.
		forged := good[:len(good)-4] + "AAAA"
		if code, _ := e.post(forged, success(pay.CheckoutRequestID, 300), nil); code != http.StatusNotFound {
			t.Fatalf("forged token: %d, want 404", code)
		}
		if code, _ := e.post(good, []byte(`{"Body":`), nil); code != http.StatusBadRequest {
			t.Fatalf("malformed body: %d, want 400", code)
		}
		if code, _ := e.post(good, bytes.Repeat([]byte(" "), controlplane.MaxHookBody+1), nil); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized body: %d, want 413", code)
		}
		if p := e.payment(pay.ID); p.Status != controlplane.PaymentPending {
			t.Fatalf("after rejected callbacks payment is %s", p.Status)
		}
		// Right token, someone else's CheckoutRequestID: a flagged row.
		if code, body := e.post(good, success("ws_CO_other", 300), nil); code != 200 || !strings.Contains(body, `"ResultCode":0`) {
			t.Fatalf("unknown checkout: %d %s", code, body)
		}
		flagged, _, _ := e.st.ListPayments(e.ctx, e.tenant.ID, controlplane.PaymentFilter{Status: controlplane.PaymentFlagged})
		if len(flagged) != 1 || flagged[0].Reason != controlplane.FlagUnknownCheckout {
			t.Fatalf("flagged = %+v", flagged)
		}
		// Tampered amount (below the price): flagged, never activated.
		if code, _ := e.post(good, success(pay.CheckoutRequestID, 1), nil); code != 200 {
			t.Fatalf("tampered: %d", code)
		}
		p := e.payment(pay.ID)
		if p.Status != controlplane.PaymentFlagged || p.Reason != controlplane.FlagShort || p.Applied {
			t.Fatalf("tampered payment = %+v", p)
		}
		if s := e.sub(res.SubscriptionID); s.Status != controlplane.SubscriptionPending {
			t.Fatalf("subscription after tampered callback: %s", s.Status)
		}
		if n := e.jobs(KindReconnect); n != 0 {
			t.Fatalf("%d reconnection jobs after forged callbacks", n)
		}
		rejected := testutil.ToFloat64(e.svc.m.callbacks.WithLabelValues(controlplane.ProviderMpesaSTK, "stk", controlplane.CallbackRejected))
		if rejected != 3 {
			t.Fatalf("rejected callbacks counted %v, want 3", rejected)
		}
	})
}

func TestSecondPushWhilePendingIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("hour", controlplane.PlanHotspot, 2000, "1h")
		e.sim.Script("254700000003", daraja.Outcome{Hold: true})
		e.buy(plan, "254700000003")
		_, err := e.svc.Purchase(e.ctx, e.tech, controlplane.PurchaseRequest{PlanID: plan.ID, Phone: "0700000003"})
		if controlplane.ErrorCode(err) != controlplane.ECONFLICT {
			t.Fatalf("second purchase while pending: %v, want conflict", err)
		}
	})
}

func TestCallbackNeverSentIsResolvedByQuery(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("hour", controlplane.PlanHotspot, 2000, "1h")
		e.sim.Script("254700000004", daraja.Outcome{Never: true})
		res := e.buy(plan, "254700000004")
		if err := e.svc.QueryPending(e.ctx); err != nil {
			t.Fatal(err)
		}
		if p := e.payment(res.PaymentID); p.Status != controlplane.PaymentPending {
			t.Fatalf("queried before QueryAfter: %s", p.Status)
		}
		e.clock.Advance(DefaultQueryAfter + time.Second)
		testkit.Eventually(t, 0, "STK query completes the payment", func() bool {
			if err := e.svc.QueryPending(e.ctx); err != nil {
				t.Fatal(err)
			}
			return e.payment(res.PaymentID).Status == controlplane.PaymentCompleted
		})
		if n := e.jobs(KindReconnect); n != 1 {
			t.Fatalf("%d reconnection jobs, want 1", n)
		}
	})
}

func TestFailedPushAndLateCallback(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("hour", controlplane.PlanHotspot, 2000, "1h")
		e.sim.Script("254700000005", daraja.Outcome{ResultCode: 1032})
		res := e.buy(plan, "254700000005")
		p := e.waitStatus(res.PaymentID, controlplane.PaymentFailed)
		if p.ResultCode == nil || *p.ResultCode != 1032 {
			t.Fatalf("failed payment = %+v", p.Payment)
		}
		// A customer who answers after SitePulse gave up still gets what
		// they paid for.
		e.sim.Script("254700000006", daraja.Outcome{Hold: true})
		res = e.buy(plan, "254700000006")
		e.clock.Advance(DefaultGiveUpAfter + time.Minute)
		if err := e.svc.QueryPending(e.ctx); err != nil {
			t.Fatal(err)
		}
		p = e.payment(res.PaymentID)
		if p.Status != controlplane.PaymentFailed {
			t.Fatalf("given up payment is %s", p.Status)
		}
		if err := e.sim.Release(p.CheckoutRequestID); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(res.PaymentID, controlplane.PaymentCompleted)
	})
}

func TestExpiryAndReconnection(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("hour", controlplane.PlanHotspot, 2000, "1h")
		res := e.buy(plan, "254700000007")
		e.waitStatus(res.PaymentID, controlplane.PaymentCompleted)
		e.runReconnects()
		// Renewal while active extends from the current end.
		res2 := e.buy(plan, "254700000007")
		e.waitStatus(res2.PaymentID, controlplane.PaymentCompleted)
		sub := e.sub(res.SubscriptionID)
		if !sub.EndsAt.Equal(sub.StartsAt.Add(2 * time.Hour)) {
			t.Fatalf("renewal while active: %v → %v", sub.StartsAt, sub.EndsAt)
		}
		e.runReconnects()
		e.clock.Advance(2*time.Hour + time.Second)
		n, err := e.svc.ExpireDue(e.ctx)
		if err != nil || n != 1 {
			t.Fatalf("ExpireDue = %d, %v", n, err)
		}
		sub = e.sub(res.SubscriptionID)
		if sub.Status != controlplane.SubscriptionExpired || sub.Reason != controlplane.ExpiredTime {
			t.Fatalf("expired subscription = %+v", sub)
		}
		a, _ := e.st.GetAccount(e.ctx, 0, sub.AccountID)
		if !a.Expired || !a.Disabled {
			t.Fatalf("account after expiry = %+v", a)
		}
		for _, r := range e.routes {
			c := e.commands(r.ID)
			if c[string(protocol.CmdHotspotUserDisable)] != 1 || c[string(protocol.CmdHotspotActiveKick)] != 1 {
				t.Fatalf("router %s commands after expiry: %v", r.ID, c)
			}
		}
		// Renewal after expiry starts now and enables the account again.
		res3 := e.buy(plan, "254700000007")
		e.waitStatus(res3.PaymentID, controlplane.PaymentCompleted)
		sub = e.sub(res.SubscriptionID)
		if sub.Status != controlplane.SubscriptionActive || !sub.StartsAt.Equal(e.clock.Now().Truncate(time.Microsecond)) && sub.StartsAt.Before(e.clock.Now().Add(-time.Minute)) {
			t.Fatalf("renewed after expiry: %+v", sub)
		}
		e.runReconnects()
		a, _ = e.st.GetAccount(e.ctx, 0, sub.AccountID)
		if a.Expired || a.Disabled {
			t.Fatalf("account after reconnection = %+v", a)
		}
		for _, r := range e.routes {
			if c := e.commands(r.ID); c[string(protocol.CmdHotspotUserSet)] < 1 {
				t.Fatalf("router %s: no set after reconnection: %v", r.ID, c)
			}
		}
	})
}

func TestC2BAndWebhookAndManual(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("month", controlplane.PlanPPPoE, 150000, "30d")
		res := e.buy(plan, "254711000001")
		e.waitStatus(res.PaymentID, controlplane.PaymentCompleted)
		e.runReconnects()
		if _, err := e.svc.UpdateSettings(e.ctx, e.admin, controlplane.BillingSettingsPatch{RegisterC2B: true,
			WebhookSecret: ptr("whsec-test")}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.registerC2B(e.ctx, e.tenant.ID); err != nil {
			t.Fatalf("register c2b: %v", err)
		}
		// Paybill by hand with the username as account number.
		tx, err := e.sim.PayC2B(e.ctx, daraja.C2BPayment{ShortCode: daraja.SandboxShortCode, MSISDN: "254711000001",
			Amount: 1500, BillRef: "254711000001"})
		if err != nil {
			t.Fatalf("pay c2b: %v", err)
		}
		testkit.Eventually(t, 0, "c2b payment applied", func() bool {
			ps, _, _ := e.st.ListPayments(e.ctx, e.tenant.ID, controlplane.PaymentFilter{Provider: controlplane.ProviderMpesaC2B})
			return len(ps) == 1 && ps[0].Status == controlplane.PaymentCompleted && ps[0].Receipt == tx.TransID
		})
		// Unknown account: refused at validation, nothing recorded.
		tx2, err := e.sim.PayC2B(e.ctx, daraja.C2BPayment{ShortCode: daraja.SandboxShortCode, MSISDN: "254799999999",
			Amount: 1500, BillRef: "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if tx2.C2BResultCode != "C2B00012" {
			t.Fatalf("unknown account: %+v", tx2)
		}
		// Signed webhook, then its replay.
		body := []byte(`{"reference":"GW-1","amount":150000,"currency":"KES","phone":"+254711000001"}`)
		sig := WebhookSignature([]byte("whsec-test"), e.clock.Now(), body)
		url := e.svc.o.PublicURL + fmt.Sprintf("/api/v1/hooks/payments/%d", e.tenant.ID)
		for i := 0; i < 2; i++ {
			if code, b := e.post(url, body, map[string]string{"X-SitePulse-Signature": sig}); code != 200 {
				t.Fatalf("webhook %d: %d %s", i, code, b)
			}
		}
		if code, _ := e.post(url, body, map[string]string{"X-SitePulse-Signature": strings.Replace(sig, "v1=", "v1=00", 1)}); code != 401 {
			t.Fatalf("bad signature: %d, want 401", code)
		}
		old := WebhookSignature([]byte("whsec-test"), e.clock.Now().Add(-10*time.Minute), body)
		if code, _ := e.post(url, body, map[string]string{"X-SitePulse-Signature": old}); code != 401 {
			t.Fatalf("stale signature: %d, want 401", code)
		}
		if code, _ := e.post(url, []byte(`{"reference":"GW-2","amount":1500.5,"currency":"KES","phone":"+254711000001"}`),
			map[string]string{"X-SitePulse-Signature": WebhookSignature([]byte("whsec-test"), e.clock.Now(),
				[]byte(`{"reference":"GW-2","amount":1500.5,"currency":"KES","phone":"+254711000001"}`))}); code != 400 {
			t.Fatalf("fractional amount: %d, want 400", code)
		}
		ps, _, _ := e.st.ListPayments(e.ctx, e.tenant.ID, controlplane.PaymentFilter{Provider: controlplane.ProviderWebhook})
		if len(ps) != 1 {
			t.Fatalf("%d webhook payments, want 1", len(ps))
		}
		// Cash, recorded by a technician.
		cash, err := e.svc.RecordPayment(e.ctx, e.tech, controlplane.ManualPaymentRequest{SubscriptionID: res.SubscriptionID,
			Amount: 150000, Reference: "BOOK-17"})
		if err != nil || cash.Status != controlplane.PaymentCompleted {
			t.Fatalf("cash = %+v, %v", cash, err)
		}
		if _, err := e.svc.RecordPayment(e.ctx, e.tech, controlplane.ManualPaymentRequest{SubscriptionID: res.SubscriptionID,
			Amount: 150000, Reference: "BOOK-17"}); controlplane.ErrorCode(err) != controlplane.ECONFLICT {
			t.Fatalf("reused reference: %v, want conflict", err)
		}
		viewer := controlplane.Principal{TenantID: e.tenant.ID, Role: controlplane.RoleViewer}
		if _, err := e.svc.RecordPayment(e.ctx, viewer, controlplane.ManualPaymentRequest{SubscriptionID: res.SubscriptionID,
			Amount: 150000}); controlplane.ErrorCode(err) != controlplane.EFORBIDDEN {
			t.Fatalf("viewer records payment: %v", err)
		}
		sub := e.sub(res.SubscriptionID)
		if want := sub.StartsAt.Add(4 * 30 * 24 * time.Hour); !sub.EndsAt.Equal(want) {
			t.Fatalf("four payments: ends %v, want %v", sub.EndsAt, want)
		}
		st, _ := e.svc.Stats(e.ctx, e.tenant.ID)
		if st.Revenue30d != 4*150000 {
			t.Fatalf("revenue = %d", st.Revenue30d)
		}
		if _, err := e.svc.RefundPayment(e.ctx, e.admin, cash.ID); err != nil {
			t.Fatal(err)
		}
		if st, _ = e.svc.Stats(e.ctx, e.tenant.ID); st.Revenue30d != 3*150000 {
			t.Fatalf("revenue after refund = %d", st.Revenue30d)
		}
	})
}

func TestSettingsNeverShowSecrets(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		secret := "super-secret-consumer-" + strings.Repeat("x", 8)
		set, err := e.svc.UpdateSettings(e.ctx, e.admin, controlplane.BillingSettingsPatch{MpesaConsumerSecret: &secret})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(set)
		if bytes.Contains(b, []byte(secret)) || !set.MpesaSecretSet {
			t.Fatalf("settings answer: %s", b)
		}
		var stored string
		if err := e.st.DB().QueryRowContext(e.ctx, `SELECT mpesa_secret FROM billing_settings WHERE tenant_id = $1`, e.tenant.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, secret) || !strings.HasPrefix(stored, "v1:") {
			t.Fatalf("stored in plain text: %q", stored)
		}
		if e.logs.Contains(secret) {
			t.Fatal("secret in the logs")
		}
		if _, err := e.svc.Settings(e.ctx, e.tech, 0); controlplane.ErrorCode(err) != controlplane.EFORBIDDEN {
			t.Fatalf("technician reads settings: %v", err)
		}
	})
}

func TestNewRouterGetsPlansAndAccounts(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("hour", controlplane.PlanHotspot, 2000, "1h")
		res := e.buy(plan, "254700000010")
		e.waitStatus(res.PaymentID, controlplane.PaymentCompleted)
		e.runReconnects()
		r, _, err := e.st.CreateRouter(e.ctx, e.tenant.ID, "site-c", "site-c")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SyncPlans(e.ctx); err != nil {
			t.Fatal(err)
		}
		cmds, _, _ := e.st.ListCommands(e.ctx, 0, controlplane.CommandFilter{RouterID: r.ID})
		var kinds []string
		for i := len(cmds) - 1; i >= 0; i-- { // oldest first
			kinds = append(kinds, string(cmds[i].Kind))
		}
		if strings.Join(kinds, ",") != "hotspot.profile.add,hotspot.user.add" {
			t.Fatalf("new router's commands: %v", kinds)
		}
		if err := e.svc.SyncPlans(e.ctx); err != nil {
			t.Fatal(err)
		}
		if c := e.commands(r.ID); len(c) != 2 {
			t.Fatalf("second sync queued more: %v", c)
		}
	})
}
