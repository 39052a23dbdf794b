package mail_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane/mail"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/internal/testmail"
)

const secret = "s3cret-pa55word"

func message() mail.Message {
	return mail.Message{
		From:      "SitePulse <alerts@sitepulse.test>",
		To:        "owner@example.test",
		Subject:   "Site down: Kilimani",
		Text:      "Kilimani is down since 10:02.",
		HTML:      "<p><b>Kilimani</b> is down since 10:02.</p>",
		MessageID: "<n-42@sitepulse.test>",
		Headers:   map[string]string{"X-SitePulse-Notification": "n-42"},
	}
}

func TestSendPlain(t *testing.T) {
	t.Parallel()
	mp := testmail.Start(t)
	var logs testkit.LogBuffer
	cfg := mail.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: mail.TLSNone}
	if err := mail.Send(context.Background(), cfg, message(), logs.Logger()); err != nil {
		t.Fatal(err)
	}
	got := mp.WaitCount(t, 1)[0]
	full := mp.Message(t, got.ID)
	if full.Text != "Kilimani is down since 10:02." {
		t.Errorf("text = %q", full.Text)
	}
	if !strings.Contains(full.HTML, "<b>Kilimani</b>") {
		t.Errorf("html = %q", full.HTML)
	}
	if full.MessageID != "n-42@sitepulse.test" {
		t.Errorf("message id = %q", full.MessageID)
	}
	if full.Subject != "Site down: Kilimani" || full.From.Address != "alerts@sitepulse.test" || full.From.Name != "SitePulse" {
		t.Errorf("subject/from = %q %+v", full.Subject, full.From)
	}
	if len(full.To) != 1 || full.To[0].Address != "owner@example.test" {
		t.Errorf("to = %+v", full.To)
	}
	h := mp.Headers(t, got.ID)
	if v := h["X-Sitepulse-Notification"]; len(v) != 1 || v[0] != "n-42" {
		if v = h["X-SitePulse-Notification"]; len(v) != 1 || v[0] != "n-42" {
			t.Errorf("notification header missing: %v", h)
		}
	}
	if v := h["Message-Id"]; len(v) != 1 || v[0] != "<n-42@sitepulse.test>" {
		t.Errorf("Message-Id header = %v", v)
	}
	if ct := strings.Join(h["Content-Type"], ""); !strings.Contains(ct, "multipart/alternative") {
		t.Errorf("content type = %q", ct)
	}
}

func TestSendStartTLSWithAuth(t *testing.T) {
	t.Parallel()
	mp := testmail.Start(t, testmail.WithStartTLS())
	var logs testkit.LogBuffer
	cfg := mail.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: mail.TLSStartTLS,
		Username: "sitepulse", Password: secret, InsecureSkipVerify: true}
	if err := mail.Send(context.Background(), cfg, message(), logs.Logger()); err != nil {
		t.Fatal(err)
	}
	mp.WaitCount(t, 1)
	if logs.Contains(secret) {
		t.Errorf("password in the log: %s", logs.String())
	}
}

func TestSendStartTLSRejectsUnknownCertificate(t *testing.T) {
	t.Parallel()
	mp := testmail.Start(t, testmail.WithStartTLS())
	cfg := mail.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: mail.TLSStartTLS, Username: "u", Password: secret}
	err := mail.Send(context.Background(), cfg, message(), nil)
	if err == nil {
		t.Fatal("self-signed certificate accepted without InsecureSkipVerify")
	}
	noSecret(t, err)
}

func TestSendImplicitTLS(t *testing.T) {
	t.Parallel()
	mp := testmail.Start(t, testmail.WithImplicitTLS(), testmail.WithAuth())
	cfg := mail.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: mail.TLSImplicit,
		Username: "sitepulse", Password: secret, InsecureSkipVerify: true}
	if err := mail.Send(context.Background(), cfg, message(), nil); err != nil {
		t.Fatal(err)
	}
	mp.WaitCount(t, 1)
}

func TestSendRefusedRecipientIsPermanent(t *testing.T) {
	t.Parallel()
	mp := testmail.Start(t, testmail.WithAllowedRecipients(`@allowed\.test$`))
	cfg := mail.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: mail.TLSNone}
	err := mail.Send(context.Background(), cfg, message(), nil)
	if err == nil {
		t.Fatal("refused recipient: no error")
	}
	if !mail.Permanent(err) || mail.MaybeSent(err) {
		t.Errorf("Permanent=%v MaybeSent=%v for %v", mail.Permanent(err), mail.MaybeSent(err), err)
	}
	noSecret(t, err)

	m := message()
	m.To = "owner@allowed.test"
	if err := mail.Send(context.Background(), cfg, m, nil); err != nil {
		t.Fatal(err)
	}
	mp.WaitCount(t, 1)
}

func TestSendNoTLSKeepsThePassword(t *testing.T) {
	t.Parallel()
	// The server offers only PLAIN and LOGIN, which would show the
	// password to anyone on the path: Send fails before sending it.
	mp := testmail.Start(t, testmail.WithAuth())
	cfg := mail.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: mail.TLSNone, Username: "u", Password: secret}
	err := mail.Send(context.Background(), cfg, message(), nil)
	if err == nil {
		t.Fatal("password sent over a plain connection")
	}
	noSecret(t, err)
	if n := len(mp.Messages(t)); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestSendConnectionRefusedIsTemporary(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := mail.Config{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, Username: "u", Password: secret, Timeout: 2 * time.Second}
	err = mail.Send(context.Background(), cfg, message(), nil)
	if err == nil {
		t.Fatal("closed port: no error")
	}
	if mail.Permanent(err) || mail.MaybeSent(err) {
		t.Errorf("Permanent=%v MaybeSent=%v for %v", mail.Permanent(err), mail.MaybeSent(err), err)
	}
	noSecret(t, err)
}

func TestSendCancelled(t *testing.T) {
	t.Parallel()
	// A listener that accepts and never greets: only the context ends the send.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	cfg := mail.Config{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: mail.TLSNone, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mail.Send(ctx, cfg, message(), nil) }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("cancelled send: no error")
		}
		if mail.Permanent(err) {
			t.Errorf("cancelled send is Permanent: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not return after its context was cancelled")
	}
}

func TestSendInvalidAddressIsPermanent(t *testing.T) {
	t.Parallel()
	m := message()
	m.To = "not an address"
	err := mail.Send(context.Background(), mail.Config{Host: "127.0.0.1", Port: 1, TLS: mail.TLSNone}, m, nil)
	if !mail.Permanent(err) {
		t.Errorf("bad address: Permanent=false for %v", err)
	}
}

func noSecret(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), secret) {
		t.Errorf("password in error: %v", err)
	}
}
