package notify

import (
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
)

// sampleData is what each kind's cause hands NotifyTx.
var sampleData = map[controlplane.NotificationKind]map[string]string{
	controlplane.NotifyWelcome:         {"name": "Amina", "email": "amina@example.com", "role": "tenant_admin", "invited_by": "ops@example.com"},
	controlplane.NotifyUserInvited:     {"name": "Otieno", "email": "otieno@example.com", "role": "technician", "invited_by": "amina@example.com"},
	controlplane.NotifyPaymentReceipt:  {"name": "Wanjiru", "amount": "KES 50.00", "receipt": "QKT1A2B3C4", "plan": "1 hour", "ends_at": "2026-12-07 18:30 EAT"},
	controlplane.NotifyCredentials:     {"plan": "1 hour", "username": "254712000001", "password": "kite-7-river"},
	controlplane.NotifyExpiryReminder:  {"name": "", "plan": "Monthly", "ends_at": "2026-12-08 09:00 EAT", "left": "1 hour"},
	controlplane.NotifyExpired:         {"plan": "Monthly", "reason": ""},
	controlplane.NotifyReconnected:     {"plan": "Monthly", "ends_at": "2027-01-07 09:00 EAT"},
	controlplane.NotifyRouterOffline:   {"routers": "core (Site A)", "count": "1", "since": "2026-12-07 10:00 EAT", "duration": "5 minutes"},
	controlplane.NotifyRouterRecovered: {"routers": "core (Site A), edge (Site B)", "count": "2", "since": "2026-12-07 10:00 EAT", "duration": "12 minutes"},
	controlplane.NotifyPaymentFlagged:  {"amount": "KES 20.00", "receipt": "QKT9", "phone": "+254•••••001", "reason": "less than the plan's price (amount_short)", "payment_id": "9"},
	controlplane.NotifyLockout:         {"until": "2026-12-07 10:15 EAT", "ip": "198.51.100.7"},
	controlplane.NotifyWebhookDisabled: {"url": "https://hooks.example.com/sp", "reason": "failing for 24 h"},
}

func TestTemplatesRenderEveryKindInEveryLanguage(t *testing.T) {
	tpl, err := loadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Languages {
		for _, kind := range controlplane.NotificationKinds {
			t.Run(lang+"/"+string(kind), func(t *testing.T) {
				data, ok := sampleData[kind]
				if !ok {
					t.Fatalf("no sample data for %s", kind)
				}
				m, err := tpl.render(kind, lang, view{Tenant: "Kilimani <WiFi>", URL: "https://cp.example.com", D: data})
				if err != nil {
					t.Fatal(err)
				}
				for name, v := range map[string]string{"subject": m.Subject, "text": m.Text, "sms": m.SMS, "html": m.HTML} {
					if strings.TrimSpace(v) == "" || strings.Contains(v, "<no value>") {
						t.Errorf("%s = %q", name, v)
					}
				}
				if strings.Contains(m.HTML, "Kilimani <WiFi>") || !strings.Contains(m.HTML, "Kilimani &lt;WiFi&gt;") {
					t.Errorf("html does not escape the tenant's name: %s", m.HTML)
				}
				if len(m.SMS) > 320 {
					t.Errorf("sms is %d bytes (more than two SMS parts): %q", len(m.SMS), m.SMS)
				}
			})
		}
	}
	// A kind's data without a key it needs is an error, not "<no value>".
	if _, err := tpl.render(controlplane.NotifyPaymentReceipt, "en", view{D: map[string]string{"amount": "KES 1.00"}}); err == nil {
		t.Error("rendering without the receipt succeeded")
	}
	// An unknown language falls back to English.
	m, err := tpl.render(controlplane.NotifyExpired, "fr", view{D: sampleData[controlplane.NotifyExpired]})
	if err != nil || !strings.Contains(m.Text, "has ended") {
		t.Errorf("fallback: %q, %v", m.Text, err)
	}
	sw, err := tpl.render(controlplane.NotifyExpired, "sw", view{D: sampleData[controlplane.NotifyExpired]})
	if err != nil || !strings.Contains(sw.Text, "imeisha") {
		t.Errorf("swahili: %q, %v", sw.Text, err)
	}
}
