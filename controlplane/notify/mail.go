package notify

import (
	"context"
	"log/slog"

	"github.com/sitepulse/sitepulse/controlplane/mail"
)

// SMTP adapts the mail package to Mailer: the system's server, and each
// tenant's own from its (sealed) smtp:// URL.
type SMTP struct {
	// System is the system's server; nil means none (only tenants with
	// their own server send email).
	System *mail.Config
	Logger *slog.Logger
}

// SystemConfigured implements Mailer.
func (m SMTP) SystemConfigured() bool { return m.System != nil }

// SendMail implements Mailer.
func (m SMTP) SendMail(ctx context.Context, smtpURL string, e Email) error {
	var cfg mail.Config
	switch {
	case smtpURL != "":
		c, err := mail.ParseURL(smtpURL)
		if err != nil {
			return permanent(err)
		}
		cfg = c
	case m.System != nil:
		cfg = *m.System
	default:
		return permanent(errNoSMTP)
	}
	err := mail.Send(ctx, cfg, mail.Message{From: e.From, To: e.To, Subject: e.Subject, Text: e.Text, HTML: e.HTML,
		MessageID: e.MessageID, Headers: e.Headers}, m.Logger)
	switch {
	case err == nil:
		return nil
	case mail.MaybeSent(err):
		return &sendError{err: err, maybeSent: true}
	case mail.Permanent(err):
		return permanent(err)
	}
	return err
}
