package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane/webhooks"
)

// WebhooksConfig is serve's outgoing webhooks.
type WebhooksConfig struct {
	// AllowPrivate lets endpoints be http and on loopback or private
	// addresses: for tests and labs only, never on a shared control plane
	// (it opens the SSRF the checks close).
	AllowPrivate bool
	// Retry is the delivery backoff; zero fields mean the defaults (30 s
	// doubling to 1 h, for 24 h). End-to-end tests shorten it.
	Retry webhooks.RetryPolicy
	// Notifier hears of endpoints disabled for failing; nil means only
	// the log, the bus change and the audit entry.
	Notifier webhooks.Notifier
}

// newWebhooks builds the webhooks service; provisioning runs its jobs.
// It needs the sealer newBilling made.
func (m *Main) newWebhooks() error {
	c := m.Config.Webhooks
	if c.Notifier == nil {
		c.Notifier = m.notify // email and Telegram the tenant's admins
	}
	var err error
	m.webhooks, err = webhooks.New(webhooks.Options{
		Store: m.store, Bus: m.bus, Sealer: m.ring, Logger: m.log, Registerer: m.registry, Now: m.Config.Now,
		AllowPrivate: c.AllowPrivate, Retry: c.Retry, Notifier: c.Notifier,
	})
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	if c.AllowPrivate {
		m.log.Warn("--webhooks-allow-private: webhook endpoints may be http and on private addresses (tests and labs only)")
	}
	return nil
}

// startWebhooks subscribes the webhooks service to the bus: before ingest
// and the API run, so no change is missed.
func (m *Main) startWebhooks(ctx context.Context) {
	m.webhooks.SetJobs(m.prov)
	m.webhooks.Start(context.WithoutCancel(ctx))
}

// webhooksFlags configure serve's outgoing webhooks.
func webhooksFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "webhooks-allow-private", Category: "Webhooks", Usage: "allow webhook endpoints over http and on loopback, private and link-local addresses — for tests and labs only: it disables the SSRF protection", Sources: cli.EnvVars("SITEPULSE_WEBHOOKS_ALLOW_PRIVATE")},
	}
}

// webhooksConfig reads webhooksFlags.
func webhooksConfig(cmd *cli.Command) WebhooksConfig {
	return WebhooksConfig{AllowPrivate: cmd.Bool("webhooks-allow-private")}
}
