package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane/provisioning"
)

// newProvisioning builds the provisioning service (commands, managed
// accounts, River jobs) on the open store. From here on, every new tenant's
// activation job commits with the tenant.
func (m *Main) newProvisioning() error {
	o := m.Config.Provisioning
	o.Store, o.Bus = m.store, m.bus
	o.Logger, o.Registerer = m.log, m.registry
	o.Jobs = append(o.Jobs, m.billing, m.notify, m.auth, m.webhooks)
	o.Users = m.notify
	// Without the jobs role: insert in the same transactions, run nothing.
	o.InsertOnly = !m.Config.Roles.Has(RoleJobs)
	if m.Config.QueueWorkers != nil {
		o.QueueWorkers = m.Config.QueueWorkers
	}
	if o.Now == nil {
		o.Now = m.Config.Now
	}
	var err error
	if m.prov, err = provisioning.New(o); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	m.billing.SetProvisioning(m.prov)
	m.notify.SetJobs(m.prov)
	m.auth.SetInserter(m.prov)
	return nil
}

// startProvisioning starts River and command delivery through the broker
// that agents reach: the embedded one, or the external one in scale-out
// mode.
func (m *Main) startProvisioning(ctx context.Context) error {
	var pub provisioning.Publisher = m.broker
	if m.cluster != nil {
		pub = m.cluster
	}
	if err := m.prov.Start(ctx, pub); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	return nil
}

// provisioningFlags tune commands and the background jobs of serve.
func provisioningFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "command-ttl", Category: "Jobs", Value: provisioning.DefaultTTL, Usage: "how long a command may wait for an offline router before it expires, unless its request says (at most 7 days)", Sources: cli.EnvVars("SITEPULSE_COMMAND_TTL")},
		&cli.DurationFlag{Name: "redeliver-after", Category: "Jobs", Value: provisioning.DefaultRedeliverAfter, Usage: "resend a delivered command its connected agent has not acknowledged after this long", Sources: cli.EnvVars("SITEPULSE_REDELIVER_AFTER")},
		&cli.DurationFlag{Name: "stale-after", Category: "Jobs", Value: provisioning.DefaultStaleAfter, Usage: "end the live sessions of a router offline for this long", Sources: cli.EnvVars("SITEPULSE_STALE_AFTER")},
		&cli.DurationFlag{Name: "history-retention", Category: "Jobs", Value: provisioning.DefaultHistoryRetention, Usage: "keep ended sessions this long; negative keeps them forever", Sources: cli.EnvVars("SITEPULSE_HISTORY_RETENTION")},
		&cli.IntFlag{Name: "job-workers", Category: "Jobs", Usage: "concurrent background jobs per queue (default 10 on PostgreSQL, 4 on SQLite)", Sources: cli.EnvVars("SITEPULSE_JOB_WORKERS")},
	}
}

// provisioningOptions reads provisioningFlags.
func provisioningOptions(cmd *cli.Command) provisioning.Options {
	return provisioning.Options{
		DefaultTTL:       cmd.Duration("command-ttl"),
		RedeliverAfter:   cmd.Duration("redeliver-after"),
		StaleAfter:       cmd.Duration("stale-after"),
		HistoryRetention: cmd.Duration("history-retention"),
		Workers:          cmd.Int("job-workers"),
	}
}
