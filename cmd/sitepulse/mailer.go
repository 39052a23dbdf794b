package main

import (
	"log/slog"

	"github.com/sitepulse/sitepulse/controlplane/mail"
	"github.com/sitepulse/sitepulse/controlplane/notify"
)

// newMailer is the email channel: the system's server from --smtp-url
// (none without it) and the tenants' own servers.
func newMailer(c NotifyConfig, log *slog.Logger) (notify.Mailer, error) {
	m := notify.SMTP{Logger: log.With("component", "mail")}
	if c.SMTPURL != "" {
		cfg, err := mail.ParseURL(c.SMTPURL)
		if err != nil {
			return nil, err
		}
		m.System = &cfg
	}
	return m, nil
}
