package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/internal/testmail"
	"github.com/sitepulse/sitepulse/sim/smsgw"
)

// TestNotificationsEndToEnd: serve's wiring with a real SMTP server
// (Mailpit) and the SMS/Telegram gateway simulator, on both dialects. A
// tenant created with its first admin → welcome email; a completed
// payment → one SMS receipt, one credentials SMS and one email receipt;
// a router offline past the tenant's threshold → one alert, back → one
// recovery, a short flap → nothing more.
func TestNotificationsEndToEnd(t *testing.T) {
	eachDialect(t, func(t *testing.T, c Config) {
		logs := &testkit.LogBuffer{}
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		mp := testmail.Start(t)
		gw := smsgw.New(smsgw.Options{AnyAccount: true, AnyBot: true, DeliveryReportDelay: 500 * time.Millisecond, ReportAttempts: 8,
			ReportBackoff: 100 * time.Millisecond})
		if err := gw.Start(t.Context(), "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw.Close() })
		c.Notify = NotifyConfig{SMTPURL: fmt.Sprintf("smtp://%s:%d?tls=none", mp.SMTPHost, mp.SMTPPort),
			MailFrom: "SitePulse <noreply@sitepulse.test>", SMSBaseURL: gw.URL(), TelegramBaseURL: gw.URL(),
			RouterSweep: 200 * time.Millisecond}
		b := startBillEnv(t, c)
		// Registered after the server's cleanups, so it runs before them.
		t.Cleanup(func() {
			if t.Failed() {
				var page controlplane.NotificationPage
				b.root.call("GET", "/api/v1/notifications", nil, &page)
				t.Logf("outbox: %+v", page.Data)
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, "notif") || strings.Contains(l, "mail") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
						t.Log(l)
					}
				}
			}
		})

		// A tenant with its first admin: the welcome email.
		var acc controlplane.Accepted
		if code := b.root.call("POST", "/api/v1/tenants", map[string]any{"name": "Welcome ISP",
			"admin": map[string]any{"email": "Owner@Welcome.test", "name": "Owner", "password": "a long enough password"}}, &acc); code != http.StatusAccepted {
			t.Fatalf("create tenant with admin: %d", code)
		}
		var outbox controlplane.NotificationPage
		testkit.Eventually(t, 10*time.Second, "the welcome email in the outbox", func() bool {
			b.root.call("GET", "/api/v1/notifications?kind=welcome", nil, &outbox)
			for _, n := range outbox.Data {
				if n.Recipient == "owner@welcome.test" {
					return n.Status == controlplane.NotificationSent
				}
			}
			return false
		})
		// mailsTo waits for n messages to addr at the SMTP server.
		mailsTo := func(addr string, n int) []testmail.Full {
			t.Helper()
			var out []testmail.Full
			testkit.Eventually(t, 20*time.Second, fmt.Sprintf("%d emails to %s", n, addr), func() bool {
				out = out[:0]
				for _, m := range mp.Messages(t) {
					for _, to := range m.To {
						if to.Address == addr {
							out = append(out, mp.Message(t, m.ID))
						}
					}
				}
				return len(out) >= n
			})
			if len(out) != n {
				t.Fatalf("%d emails to %s, want %d", len(out), addr, n)
			}
			return out
		}
		welcome := mailsTo("owner@welcome.test", 1)
		if got := welcome[0]; !strings.Contains(got.Subject, "Welcome") || len(got.To) != 1 ||
			got.To[0].Address != "owner@welcome.test" || !strings.Contains(got.Text, "Welcome ISP") || got.HTML == "" {
			t.Fatalf("welcome email %+v", got)
		}

		// Tenant A's SMS account and Telegram bot.
		if code := b.admin.call("PUT", "/api/v1/notifications/settings", map[string]any{
			"sms_username": "kilimani", "sms_api_key": "at-key-e2e", "telegram_token": "123456:AAbbCCddEEffGGhhIIjjKKllMMnn",
			"telegram_chats": []string{"777"}, "router_offline_after": 30, "router_recovered_after": 0}, nil); code != http.StatusOK {
			t.Fatalf("notification settings: %d", code)
		}
		var set controlplane.NotificationSettings
		b.admin.call("GET", "/api/v1/notifications/settings", nil, &set)
		if !set.SMSAPIKeySet || set.SMSReportURL == "" {
			t.Fatalf("settings %+v", set)
		}
		gw.AddAccount(smsgw.Account{Username: "kilimani", APIKey: "at-key-e2e", DeliveryReportURL: set.SMSReportURL})

		// A purchase by a customer with an email.
		const phone = "+254711000222"
		// The tenant's first admin got the welcome, the others an invitation.
		if got := mailsTo("admin@kilimani.test", 1)[0]; !strings.Contains(got.Subject, "Welcome") {
			t.Errorf("tenant A's first admin got %q", got.Subject)
		}
		if got := mailsTo("tech@kilimani.test", 1)[0]; !strings.Contains(got.Subject, "You were added to Kilimani WiFi") {
			t.Errorf("the technician got %q", got.Subject)
		}
		if code := b.tech.call("POST", "/api/v1/customers", map[string]any{"phone": phone, "name": "Wanjiru", "email": "wanjiru@example.com"}, nil); code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("customer: %d", code)
		}
		plan := b.plan("Daily", "hotspot", 5000, "24h")
		_, pay := b.buy(plan, phone)
		testkit.Eventually(t, 20*time.Second, "receipt and credentials SMS", func() bool { return len(gw.Messages(phone)) >= 2 })
		var receipts, creds int
		for _, m := range gw.Messages(phone) {
			switch {
			case strings.Contains(m.Text, "received KES 50.00"):
				receipts++
			case strings.Contains(m.Text, "password"):
				creds++
			}
		}
		if receipts != 1 || creds != 1 || len(gw.Messages(phone)) != 2 {
			t.Fatalf("SMS to the customer: %+v", gw.Messages(phone))
		}
		receipt := mailsTo("wanjiru@example.com", 1)[0]
		// The receipt number is M-Pesa's when the callback settled the
		// payment; an STK query that settled it first has none to give.
		if !strings.Contains(receipt.Subject, "Payment received") || !strings.Contains(receipt.Text, "KES 50.00") ||
			(!strings.Contains(receipt.Text, pay.Receipt) && !strings.Contains(receipt.Text, fmt.Sprintf("#%d", pay.ID))) {
			t.Fatalf("email receipt %+v", receipt)
		}
		// The outbox shows them, the SMS delivered by the gateway's report.
		testkit.Eventually(t, 20*time.Second, "SMS receipt delivered", func() bool {
			var page controlplane.NotificationPage
			b.admin.call("GET", "/api/v1/notifications?kind=payment_receipt&channel=sms", nil, &page)
			return len(page.Data) == 1 && page.Data[0].Status == controlplane.NotificationDelivered
		})

		// The router goes offline for longer than 30 s (the clock moves):
		// one alert by email to the admin and by Telegram; back: one
		// recovery.
		alerts := func(kind controlplane.NotificationKind) int {
			var page controlplane.NotificationPage
			b.admin.call("GET", "/api/v1/notifications?kind="+string(kind)+"&channel=telegram", nil, &page)
			return len(page.Data)
		}
		b.site.stop()
		b.site.waitOffline()
		b.offset.Add(int64(2 * time.Minute))
		testkit.Eventually(t, 20*time.Second, "the offline alert", func() bool { return alerts(controlplane.NotifyRouterOffline) == 1 })
		testkit.Eventually(t, 20*time.Second, "the alert at Telegram", func() bool { return len(gw.TelegramMessages(777)) == 1 })
		b.site.start()
		b.site.waitOnline(20 * time.Second)
		testkit.Eventually(t, 20*time.Second, "the recovery", func() bool { return alerts(controlplane.NotifyRouterRecovered) == 1 })
		// A flap shorter than the threshold sends nothing.
		b.site.stop()
		b.site.waitOffline()
		b.offset.Add(int64(10 * time.Second))
		b.site.start()
		b.site.waitOnline(20 * time.Second)
		testkit.Never(t, time.Second, "another alert", func() bool { return alerts(controlplane.NotifyRouterOffline) != 1 })
		if n := len(gw.TelegramMessages(777)); n != 2 {
			t.Errorf("telegram got %d messages, want the alert and the recovery", n)
		}
		// Nothing secret went into the log.
		if logs := logs.String(); strings.Contains(logs, "at-key-e2e") || strings.Contains(logs, "AAbbCCddEEffGGhhIIjjKKllMMnn") {
			t.Error("a notification credential is in the log")
		}
	})
}
