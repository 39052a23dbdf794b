package main

import (
	"fmt"

	"github.com/sitepulse/sitepulse/controlplane/notify"
)

// NotifyConfig is serve's notification channels.
type NotifyConfig struct {
	// Workers is the notifications queue's concurrency; 0 means the
	// default.
	Workers int
}

// newNotify builds the notification outbox; provisioning runs its jobs.
func (m *Main) newNotify() error {
	c := m.Config.Notify
	var err error
	m.notify, err = notify.New(notify.Options{
		Store: m.store, Bus: m.bus, Sealer: m.ring, Logger: m.log, Registerer: m.registry, Now: m.Config.Now,
		PublicURL: m.Config.Billing.PublicURL, ReportKey: m.secretKey.Derive("sms delivery report tokens"),
		Workers: c.Workers,
	})
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	return nil
}
