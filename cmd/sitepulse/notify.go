package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane/notify"
	"github.com/sitepulse/sitepulse/controlplane/sms"
	"github.com/sitepulse/sitepulse/controlplane/telegram"
)

// NotifyConfig is serve's notification channels.
type NotifyConfig struct {
	// SMTPURL is the system's mail server (smtp://user:pass@host:587?tls=starttls,
	// smtps://…:465); "" means only tenants with their own server send email.
	SMTPURL string
	// MailFrom is the system server's sender.
	MailFrom string
	// SMSBaseURL is the SMS gateway's address (Africa's Talking's API);
	// "" means its production endpoint.
	SMSBaseURL string
	// TelegramBaseURL is the Bot API's address; "" means Telegram's.
	TelegramBaseURL string
	// Workers is the notifications queue's concurrency; 0 means the
	// default.
	Workers int
	// RouterSweep and ReminderSweep are the periods of the router alert
	// and reminder sweeps; zero means notify's defaults (tests shorten
	// them).
	RouterSweep, ReminderSweep time.Duration
}

// newNotify builds the notification outbox and its channels; provisioning
// runs its jobs.
func (m *Main) newNotify() error {
	c := m.Config.Notify
	smsURL := c.SMSBaseURL
	if smsURL == "" {
		smsURL = sms.ProductionBaseURL
	}
	mailer, err := newMailer(c, m.log)
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	m.notify, err = notify.New(notify.Options{
		Store: m.store, Bus: m.bus, Sealer: m.ring, Logger: m.log, Registerer: m.registry, Now: m.Config.Now,
		PublicURL: m.Config.Billing.PublicURL, ReportKey: m.secretKey.Derive("sms delivery report tokens"),
		Workers: c.Workers, MailFrom: c.MailFrom, Mail: mailer, RouterSweep: c.RouterSweep, ReminderSweep: c.ReminderSweep,
		SMS: notify.SMSGateway{Client: sms.New(sms.Config{BaseURL: smsURL, Logger: m.log.With("component", "sms")})},
		Telegram: notify.TelegramBot{Client: telegram.New(telegram.Config{BaseURL: c.TelegramBaseURL,
			Logger: m.log.With("component", "telegram")})},
	})
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	return nil
}

// notifyFlags configure serve's notification channels.
func notifyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "smtp-url", Category: "Notifications", Usage: "the system's mail server for welcome, invitation and alert emails: smtp://user:pass@host:587?tls=starttls or smtps://user:pass@host:465 (prefer the environment: it holds a password); tenants may set their own", Sources: cli.EnvVars("SITEPULSE_SMTP_URL")},
		&cli.StringFlag{Name: "mail-from", Category: "Notifications", Value: "SitePulse <noreply@localhost>", Usage: "sender of the system's emails", Sources: cli.EnvVars("SITEPULSE_MAIL_FROM")},
		&cli.StringFlag{Name: "sms-base-url", Category: "Notifications", Value: sms.ProductionBaseURL, Usage: "SMS gateway (Africa's Talking's API): " + sms.SandboxBaseURL + " for its sandbox, a simulator in tests; each tenant sets its own account", Sources: cli.EnvVars("SITEPULSE_SMS_BASE_URL")},
		&cli.StringFlag{Name: "telegram-base-url", Category: "Notifications", Value: telegram.DefaultBaseURL, Usage: "Telegram Bot API address (a simulator in tests)", Sources: cli.EnvVars("SITEPULSE_TELEGRAM_BASE_URL")},
		&cli.IntFlag{Name: "notification-workers", Category: "Notifications", Value: notify.DefaultWorkers, Usage: "concurrent notification sends", Sources: cli.EnvVars("SITEPULSE_NOTIFICATION_WORKERS")},
	}
}

// notifyConfig reads notifyFlags.
func notifyConfig(cmd *cli.Command) NotifyConfig {
	return NotifyConfig{SMTPURL: cmd.String("smtp-url"), MailFrom: cmd.String("mail-from"), SMSBaseURL: cmd.String("sms-base-url"),
		TelegramBaseURL: cmd.String("telegram-base-url"), Workers: int(cmd.Int("notification-workers"))}
}
