package notify

import (
	"errors"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/mail"
	"github.com/sitepulse/sitepulse/internal/testmail"
)

// What "once" can mean for SMTP, tested against a real SMTP server
// (Mailpit): a job retried after a crash between the send and its commit
// does not send a second copy (the row is unknown instead), and a
// deliberate resend carries a new Message-ID (copies stay tellable apart)
// while the row's own retries never run after a 250.
func TestEmailOnceAfterCrash(t *testing.T) {
	e := newEnv(t, testkitSQLite(t))
	mp := testmail.Start(t)
	e.svc.o.Mail = SMTP{System: &mail.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: mail.TLSNone}}
	e.svc.o.MailFrom = "SitePulse <noreply@sitepulse.test>"
	ev := receipt(7)
	ev.TenantID, ev.To = e.tenant.ID, controlplane.Audience{Email: "Wanjiru@Example.com"}
	if n := e.notify(ev); n != 1 {
		t.Fatalf("queued %d", n)
	}
	id := e.rows()[len(e.rows())-1].ID
	crash := errors.New("killed after the send")
	e.svc.afterSend = func(controlplane.Notification) error { return crash }
	if err := e.svc.send(e.ctx, id, false); !errors.Is(err, crash) {
		t.Fatalf("send = %v", err)
	}
	e.svc.afterSend = nil
	if err := e.svc.send(e.ctx, id, false); err != nil {
		t.Fatal(err)
	}
	got := mp.WaitCount(t, 1)
	if n := e.row(id); n.Status != controlplane.NotificationUnknown {
		t.Fatalf("row %+v, want unknown", n)
	}
	m := mp.Message(t, got[0].ID)
	if m.To[0].Address != "wanjiru@example.com" || !strings.Contains(m.Subject, "QKT1A2B3C4") || m.HTML == "" || m.Text == "" {
		t.Fatalf("email %+v", m)
	}
	if _, err := e.svc.Resend(e.ctx, e.admin, id); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.send(e.ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.send(e.ctx, id, false); err != nil { // the resend's job, retried after its commit
		t.Fatal(err)
	}
	all := mp.WaitCount(t, 2)
	if n := len(mp.Messages(t)); n != 2 {
		t.Fatalf("%d emails, want the first and the deliberate resend", n)
	}
	if e.row(id).Status != controlplane.NotificationSent {
		t.Fatalf("after resend: %+v", e.row(id))
	}
	if all[0].MessageID == all[1].MessageID || all[0].MessageID == "" {
		t.Errorf("Message-IDs %q and %q: a resend should be its own message", all[0].MessageID, all[1].MessageID)
	}
}
