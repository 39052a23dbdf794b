package provisioning

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/jobs"
	"github.com/sitepulse/sitepulse/controlplane/jobs/maintenance"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// River queues.
const (
	QueueProvisioning     = "provisioning"      // command delivery, command sweep, account expiry
	QueueTenantManagement = "tenant-management" // tenant activation
)

// Job kinds (River's kind strings).
const (
	KindDeliver        = "command_deliver"
	KindCommandSweep   = "command_sweep"
	KindAccountExpiry  = "account_expiry"
	KindTenantActivate = "tenant_activate"
)

// deliverArgs asks for the queued commands of one router to be delivered.
// It is inserted in the transaction that queues a command, so a command
// committed just before a crash is still delivered after the restart.
// While one is waiting or running for a router, another is not inserted:
// a command committed while its router's deliver job runs is still
// delivered, by the in-process schedule after its commit, or by the next sweep
// after a crash.
type deliverArgs struct {
	RouterID string `json:"router_id"`
}

func (deliverArgs) Kind() string { return KindDeliver }

func (deliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProvisioning, MaxAttempts: 10,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: jobs.WaitingStates}}
}

// tenantActivateArgs completes a tenant created as pending.
type tenantActivateArgs struct {
	TenantID int64 `json:"tenant_id"`
}

func (tenantActivateArgs) Kind() string { return KindTenantActivate }

func (tenantActivateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueTenantManagement, MaxAttempts: 25,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// onProvisioning puts the periodic jobs that embed it on the
// provisioning queue, with three attempts (the next run comes anyway).
type onProvisioning struct{}

func (onProvisioning) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProvisioning, MaxAttempts: 3}
}

// The periodic jobs: the command sweep and account expiry.
type (
	sweepArgs         struct{ onProvisioning }
	accountExpiryArgs struct{ onProvisioning }
)

func (sweepArgs) Kind() string         { return KindCommandSweep }
func (accountExpiryArgs) Kind() string { return KindAccountExpiry }

// newRiver builds the River client with provisioning's queues, kinds and
// periodic jobs.
func (s *Service) newRiver() (*jobs.Client, error) {
	ws := river.NewWorkers()
	jobs.Add(ws, func(ctx context.Context, j *river.Job[deliverArgs]) error {
		return s.disp.flush(ctx, j.Args.RouterID, time.Time{})
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[sweepArgs]) error { return s.SweepCommands(ctx) })
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[accountExpiryArgs]) error {
		_, err := s.ExpireAccounts(ctx)
		return err
	})
	jobs.Add(ws, func(ctx context.Context, j *river.Job[tenantActivateArgs]) error {
		return s.activateTenant(ctx, j.Args.TenantID, j.Attempt)
	})
	s.maint.Register(ws)
	for _, set := range s.opts.Jobs {
		set.RegisterJobs(ws)
	}

	n := jobs.DefaultWorkers(s.st.Dialect(), s.opts.Workers)
	cfg := jobs.Config{
		Store:  s.st,
		Logger: s.log,
		Queues: map[string]int{
			QueueProvisioning:     n,
			QueueTenantManagement: n / 4,
			maintenance.Queue:     n / 4,
		},
		Workers:      ws,
		PollInterval: s.opts.JobPollInterval,
	}
	for _, set := range s.opts.Jobs {
		for q, n := range set.JobQueues() {
			cfg.Queues[q] = n
		}
	}
	for q, n := range s.opts.QueueWorkers {
		if _, ok := cfg.Queues[q]; !ok {
			return nil, fmt.Errorf("unknown job queue %q (known: %s)", q, strings.Join(slices.Sorted(maps.Keys(cfg.Queues)), ", "))
		}
		if n < 1 {
			return nil, fmt.Errorf("job queue %s: %d workers, want at least 1", q, n)
		}
		cfg.Queues[q] = n
	}
	if s.opts.InsertOnly {
		// River inserts without queues; it runs nothing and needs no
		// periodic jobs (the workers' process schedules them).
		cfg.Queues = nil
		return jobs.NewClient(cfg)
	}
	if !s.opts.DisablePeriodic {
		cfg.Periodic = s.periodicJobs()
		for _, set := range s.opts.Jobs {
			cfg.Periodic = append(cfg.Periodic, set.PeriodicJobs()...)
		}
	}
	return jobs.NewClient(cfg)
}

func (s *Service) periodicJobs() []*river.PeriodicJob {
	return append([]*river.PeriodicJob{
		jobs.Every(s.opts.SweepInterval, sweepArgs{}),
		jobs.Every(s.opts.AccountInterval, accountExpiryArgs{}),
	}, s.maint.Periodic(s.opts.StaleInterval, s.opts.PruneInterval, s.opts.RollupInterval)...)
}

// insertTx enqueues jobs in the store transaction tx.
func (s *Service) insertTx(ctx context.Context, tx *store.Tx, args ...river.JobArgs) error {
	return jobs.InsertTx(ctx, s.river, tx, args...)
}

// countJobs counts finished job attempts by outcome until ctx ends.
func (s *Service) countJobs(ctx context.Context) {
	jobs.Count(ctx, s.river, func(queue, kind, outcome string) {
		s.m.jobs.WithLabelValues(queue, kind, outcome).Inc()
	})
}

// FailedJobs returns up to limit failed jobs, most recent first.
func (s *Service) FailedJobs(ctx context.Context, limit int) ([]controlplane.FailedJob, error) {
	return jobs.Failed(ctx, s.river, limit)
}
