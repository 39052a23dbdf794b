package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/smsgw"
)

const phone = "+254712000001"

func TestOutbox(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		t.Run("sent once, delivered by report", func(t *testing.T) {
			ev := receipt(1)
			ev.TenantID = e.tenant.ID
			if n := e.notify(ev, ev); n != 1 {
				t.Fatalf("queued %d, want 1 for one occurrence given twice", n)
			}
			if n := e.notify(ev); n != 0 {
				t.Fatalf("the occurrence again queued %d", n)
			}
			rows := e.rows()
			id := rows[len(rows)-1].ID
			if err := e.svc.send(e.ctx, id, false); err != nil {
				t.Fatal(err)
			}
			// A retried job after the commit sends nothing.
			if err := e.svc.send(e.ctx, id, false); err != nil {
				t.Fatal(err)
			}
			if got := e.sent(phone); got != 1 {
				t.Fatalf("gateway got %d SMS, want 1", got)
			}
			msg := e.gw.Messages(phone)[0]
			if !strings.Contains(msg.Text, "QKT1A2B3C4") || !strings.Contains(msg.Text, "KES 50.00") {
				t.Errorf("sms %q lacks the receipt or amount", msg.Text)
			}
			n := e.row(id)
			if (n.Status != controlplane.NotificationSent && n.Status != controlplane.NotificationDelivered) ||
				n.ProviderID != msg.MessageID || n.Attempts != 1 || n.SentAt == nil {
				t.Fatalf("row %+v", n)
			}
			testkit.Eventually(t, 10*time.Second, "the delivery report", func() bool {
				return e.row(id).Status == controlplane.NotificationDelivered
			})
		})
		t.Run("crash between send and commit sends no second copy", func(t *testing.T) {
			ev := receipt(2)
			ev.TenantID = e.tenant.ID
			ev.To.Phone = "+254712000002"
			e.notify(ev)
			id := e.rows()[len(e.rows())-1].ID
			crash := errors.New("killed after the send")
			e.svc.afterSend = func(controlplane.Notification) error { return crash }
			if err := e.svc.send(e.ctx, id, false); !errors.Is(err, crash) {
				t.Fatalf("send = %v, want the crash", err)
			}
			e.svc.afterSend = nil
			if s := e.row(id).Status; s != controlplane.NotificationSending {
				t.Fatalf("after the crash the row is %s, want sending", s)
			}
			// River runs the job again.
			if err := e.svc.send(e.ctx, id, false); err != nil {
				t.Fatal(err)
			}
			if got := e.sent(ev.To.Phone); got != 1 {
				t.Fatalf("gateway got %d SMS, want 1", got)
			}
			if n := e.row(id); n.Status != controlplane.NotificationUnknown {
				t.Fatalf("row %+v, want unknown", n)
			}
			// The dashboard's resend sends it again, on purpose.
			if _, err := e.svc.Resend(e.ctx, e.admin, id); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.send(e.ctx, id, false); err != nil {
				t.Fatal(err)
			}
			if got, n := e.sent(ev.To.Phone), e.row(id); got != 2 || n.SentAt == nil || n.Resends != 1 {
				t.Fatalf("after resend: %d SMS, row %+v", got, n)
			}
		})
		t.Run("gateway 500 is retried, invalid number fails, a hang is unknown", func(t *testing.T) {
			ev := receipt(3)
			ev.TenantID, ev.To.Phone = e.tenant.ID, "+254712000003"
			e.notify(ev)
			id := e.rows()[len(e.rows())-1].ID
			e.gw.FailSMS(1, smsgw.SMSFault{HTTPStatus: 500})
			if err := e.svc.send(e.ctx, id, false); err == nil {
				t.Fatal("a 500 was not returned for a retry")
			}
			if n := e.row(id); n.Status != controlplane.NotificationQueued || n.LastError == "" {
				t.Fatalf("after a 500: %+v", n)
			}
			if err := e.svc.send(e.ctx, id, false); err != nil {
				t.Fatal(err)
			}
			if got := e.sent(ev.To.Phone); got != 1 || e.row(id).Attempts != 2 {
				t.Fatalf("%d SMS after the retry, row %+v", got, e.row(id))
			}

			bad := receipt(4)
			bad.TenantID, bad.To.Phone = e.tenant.ID, "+254712000004"
			e.notify(bad)
			id = e.rows()[len(e.rows())-1].ID
			e.gw.FailSMS(1, smsgw.SMSFault{StatusCode: 403})
			if err := e.svc.send(e.ctx, id, false); err != nil {
				t.Fatalf("a permanent failure asked for a retry: %v", err)
			}
			if n := e.row(id); n.Status != controlplane.NotificationFailed {
				t.Fatalf("invalid number: %+v", n)
			}

			hang := receipt(5)
			hang.TenantID, hang.To.Phone = e.tenant.ID, "+254712000005"
			e.notify(hang)
			id = e.rows()[len(e.rows())-1].ID
			e.gw.FailSMS(1, smsgw.SMSFault{Hang: true})
			if err := e.svc.send(e.ctx, id, false); err != nil {
				t.Fatalf("a maybe-sent failure asked for a retry: %v", err)
			}
			if n := e.row(id); n.Status != controlplane.NotificationUnknown {
				t.Fatalf("hang: %+v", n)
			}
			if strings.Contains(e.logs.String(), "at-secret-key-1") {
				t.Error("the SMS API key is in the log")
			}
		})
		t.Run("turned off and unconfigured", func(t *testing.T) {
			if _, err := e.svc.UpdateSettings(e.ctx, e.admin, controlplane.NotificationSettingsPatch{
				Disabled: &[]controlplane.NotificationKind{controlplane.NotifyPaymentReceipt}}); err != nil {
				t.Fatal(err)
			}
			ev := receipt(6)
			ev.TenantID = e.tenant.ID
			if n := e.notify(ev); n != 0 {
				t.Fatalf("a disabled kind queued %d", n)
			}
			if _, err := e.svc.UpdateSettings(e.ctx, e.admin, controlplane.NotificationSettingsPatch{
				Disabled: &[]controlplane.NotificationKind{}, SMSAPIKey: ptr("")}); err != nil {
				t.Fatal(err)
			}
			if n := e.notify(ev); n != 1 {
				t.Fatalf("queued %d", n)
			}
			n := e.rows()[len(e.rows())-1]
			if n.Status != controlplane.NotificationSkipped || !strings.Contains(n.LastError, "SMS") {
				t.Fatalf("without an SMS account: %+v", n)
			}
			if _, err := e.svc.Resend(e.ctx, e.admin, n.ID); controlplane.ErrorCode(err) != controlplane.ECONFLICT {
				t.Errorf("resend of an unsendable one: %v, want ECONFLICT", err)
			}
			viewer := e.admin
			viewer.Role = controlplane.RoleViewer
			if _, err := e.svc.Resend(e.ctx, viewer, n.ID); controlplane.ErrorCode(err) != controlplane.EFORBIDDEN {
				t.Errorf("viewer resend: %v, want EFORBIDDEN", err)
			}
		})
	})
}

func TestSettingsAreWriteOnly(t *testing.T) {
	e := newEnv(t, testkitSQLite(t))
	set, err := e.svc.Settings(e.ctx, e.admin, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !set.SMSAPIKeySet || !set.TelegramTokenSet || set.SMSReportURL == "" {
		t.Fatalf("settings %+v", set)
	}
	for _, bad := range []controlplane.NotificationSettingsPatch{
		{Language: ptr("fr")},
		{ReminderOffsets: &[]int64{10}},
		{RouterOfflineAfter: ptr(int64(5))},
		{SMTPURL: ptr("http://mail.example.com")},
		{TelegramToken: ptr("not-a-token")},
		{TelegramChats: &[]string{"bob smith"}},
		{Disabled: &[]controlplane.NotificationKind{"nope"}},
		{SMSSenderID: ptr("a sender id too long")},
	} {
		if _, err := e.svc.UpdateSettings(e.ctx, e.admin, bad); controlplane.ErrorCode(err) != controlplane.EINVALID {
			t.Errorf("patch %+v: %v, want EINVALID", bad, err)
		}
	}
	_, err = e.svc.UpdateSettings(e.ctx, e.admin, controlplane.NotificationSettingsPatch{SMTPURL: ptr("smtp://u:hunter2-secret@mail.example.com:587")})
	if err != nil {
		t.Fatal(err)
	}
	row, err := e.st.GetNotificationSettings(e.ctx, e.tenant.ID)
	if err != nil || row.SealedSMTP == "" || strings.Contains(row.SealedSMTP, "hunter2") || strings.Contains(row.SealedSMSKey, "at-secret") {
		t.Fatalf("stored %+v, %v: secrets not sealed", row, err)
	}
	if strings.Contains(e.logs.String(), "hunter2") {
		t.Error("the SMTP password is in the log")
	}
	other := controlplane.Principal{UserID: 9, TenantID: e.tenant.ID + 1, Role: controlplane.RoleTenantAdmin}
	if _, err := e.svc.Settings(e.ctx, other, e.tenant.ID); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		t.Errorf("another tenant's settings: %v", err)
	}
}

func TestDeliveryReportsAreAuthenticated(t *testing.T) {
	e := newEnv(t, testkitSQLite(t))
	h := controlplane.ProviderHook{TenantID: e.tenant.ID, Token: "guess", Body: []byte("id=ATXid_1&status=Success")}
	if _, err := e.svc.SMSReport(e.ctx, h); controlplane.ErrorCode(err) != controlplane.EUNAUTHORIZED {
		t.Fatalf("wrong token: %v", err)
	}
	h.Token = ReportToken(e.svc.o.ReportKey, e.tenant.ID)
	if _, err := e.svc.SMSReport(e.ctx, h); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		t.Fatalf("unknown message: %v, want ENOTFOUND (the gateway retries: the send may not have recorded its id yet)", err)
	}
	h.Body = []byte("%zz")
	if _, err := e.svc.SMSReport(e.ctx, h); controlplane.ErrorCode(err) != controlplane.EINVALID {
		t.Fatalf("malformed body: %v", err)
	}
}
