package provisioning

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// River queues.
const (
	QueueProvisioning     = "provisioning"      // command delivery, command sweep, account expiry
	QueueTenantManagement = "tenant-management" // tenant activation
	QueueMaintenance      = "maintenance"       // stale sessions, history retention, stats roll-up
)

// Job kinds (River's kind strings).
const (
	KindDeliver        = "command_deliver"
	KindCommandSweep   = "command_sweep"
	KindAccountExpiry  = "account_expiry"
	KindTenantActivate = "tenant_activate"
	KindStaleSessions  = "stale_sessions"
	KindPruneHistory   = "history_prune"
	KindRollupStats    = "stats_rollup"
)

// waitingStates are the states in which a unique job is not inserted
// again (River requires running among them). A command committed while
// its router's deliver job runs is still delivered: by the in-process schedule
// after its commit, or by the next sweep after a crash.
var waitingStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// deliverArgs asks for the queued commands of one router to be delivered.
// It is inserted in the transaction that queues a command, so a command
// committed just before a crash is still delivered after the restart.
type deliverArgs struct {
	RouterID string `json:"router_id"`
}

func (deliverArgs) Kind() string { return KindDeliver }

func (deliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProvisioning, MaxAttempts: 10,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: waitingStates}}
}

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	s *Service
}

func (w *deliverWorker) Work(ctx context.Context, j *river.Job[deliverArgs]) error {
	return w.s.disp.flush(ctx, j.Args.RouterID, time.Time{})
}

// sweepArgs is the periodic command sweep.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return KindCommandSweep }

func (sweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProvisioning, MaxAttempts: 3}
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	return w.s.SweepCommands(ctx)
}

// accountExpiryArgs is the periodic account expiry.
type accountExpiryArgs struct{}

func (accountExpiryArgs) Kind() string { return KindAccountExpiry }

func (accountExpiryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProvisioning, MaxAttempts: 3}
}

type accountExpiryWorker struct {
	river.WorkerDefaults[accountExpiryArgs]
	s *Service
}

func (w *accountExpiryWorker) Work(ctx context.Context, _ *river.Job[accountExpiryArgs]) error {
	_, err := w.s.ExpireAccounts(ctx)
	return err
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

type tenantActivateWorker struct {
	river.WorkerDefaults[tenantActivateArgs]
	s *Service
}

func (w *tenantActivateWorker) Work(ctx context.Context, j *river.Job[tenantActivateArgs]) error {
	return w.s.activateTenant(ctx, j.Args.TenantID, j.Attempt)
}

// staleArgs, pruneArgs and rollupArgs are the periodic maintenance jobs.
type staleArgs struct{}

func (staleArgs) Kind() string { return KindStaleSessions }

func (staleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 3}
}

type staleWorker struct {
	river.WorkerDefaults[staleArgs]
	s *Service
}

func (w *staleWorker) Work(ctx context.Context, _ *river.Job[staleArgs]) error {
	_, err := w.s.EndStaleSessions(ctx)
	return err
}

type pruneArgs struct{}

func (pruneArgs) Kind() string { return KindPruneHistory }

func (pruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 3}
}

type pruneWorker struct {
	river.WorkerDefaults[pruneArgs]
	s *Service
}

func (w *pruneWorker) Work(ctx context.Context, _ *river.Job[pruneArgs]) error {
	_, err := w.s.PruneHistory(ctx)
	return err
}

type rollupArgs struct{}

func (rollupArgs) Kind() string { return KindRollupStats }

func (rollupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 3}
}

type rollupWorker struct {
	river.WorkerDefaults[rollupArgs]
	s *Service
}

func (w *rollupWorker) Work(ctx context.Context, _ *river.Job[rollupArgs]) error {
	_, err := w.s.RollupStats(ctx)
	return err
}

// newRiver builds the River client. Both dialects use a client over
// *sql.Tx, the store's transaction type, so that InsertTx puts a job in
// the same transaction as the change that causes it: riversqlite on SQLite
// (the store's single connection), and on PostgreSQL riverdatabasesql over
// the store's database/sql handle with a pgx listener on the store's pgx
// pool for LISTEN/NOTIFY, so jobs start without waiting for a poll.
// riverpgxv5 alone would need a pgx.Tx, which the store's database/sql
// transactions cannot provide.
func (s *Service) newRiver() (*river.Client[*sql.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliverWorker{s: s})
	river.AddWorker(workers, &sweepWorker{s: s})
	river.AddWorker(workers, &accountExpiryWorker{s: s})
	river.AddWorker(workers, &tenantActivateWorker{s: s})
	river.AddWorker(workers, &staleWorker{s: s})
	river.AddWorker(workers, &pruneWorker{s: s})
	river.AddWorker(workers, &rollupWorker{s: s})

	var driver riverdriver.Driver[*sql.Tx]
	n := s.opts.Workers
	switch s.st.Dialect() {
	case store.DialectPostgres:
		driver = riverdatabasesql.NewWithPgxListener(s.st.DB(), s.st.PgxPool())
		if n <= 0 {
			n = 10
		}
	default:
		driver = riversqlite.New(s.st.DB())
		if n <= 0 {
			n = 4
		}
	}
	cfg := &river.Config{
		Logger: slog.New(minLevel{s.log.With("part", "river").Handler(), slog.LevelWarn}),
		Queues: map[string]river.QueueConfig{
			QueueProvisioning:     {MaxWorkers: n},
			QueueTenantManagement: {MaxWorkers: max(1, n/4)},
			QueueMaintenance:      {MaxWorkers: max(1, n/4)},
		},
		Workers:           workers,
		FetchPollInterval: s.opts.JobPollInterval,
		JobTimeout:        5 * time.Minute,
		ErrorHandler:      &jobErrors{s: s},
	}
	if s.opts.JobPollInterval > 0 {
		// River requires the cooldown not to exceed the poll interval.
		cfg.FetchCooldown = min(s.opts.JobPollInterval, 100*time.Millisecond)
	}
	if !s.opts.DisablePeriodic {
		cfg.PeriodicJobs = s.periodicJobs()
	}
	return river.NewClient(driver, cfg)
}

func (s *Service) periodicJobs() []*river.PeriodicJob {
	every := func(d time.Duration, id string, args river.JobArgs) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(d),
			func() (river.JobArgs, *river.InsertOpts) { return args, nil },
			&river.PeriodicJobOpts{ID: id, RunOnStart: true})
	}
	jobs := []*river.PeriodicJob{
		every(s.opts.SweepInterval, KindCommandSweep, sweepArgs{}),
		every(s.opts.AccountInterval, KindAccountExpiry, accountExpiryArgs{}),
		every(s.opts.StaleInterval, KindStaleSessions, staleArgs{}),
		every(s.opts.RollupInterval, KindRollupStats, rollupArgs{}),
	}
	if s.opts.HistoryRetention > 0 {
		jobs = append(jobs, every(s.opts.PruneInterval, KindPruneHistory, pruneArgs{}))
	}
	return jobs
}

// insertTx enqueues jobs in the store transaction tx.
func (s *Service) insertTx(ctx context.Context, tx *store.Tx, args ...river.JobArgs) error {
	if len(args) == 0 {
		return nil
	}
	ps := make([]river.InsertManyParams, len(args))
	for i, a := range args {
		ps[i] = river.InsertManyParams{Args: a}
	}
	if _, err := s.river.InsertManyTx(ctx, tx.SQL(), ps); err != nil {
		return fmt.Errorf("enqueue %s: %w", args[0].Kind(), err)
	}
	return nil
}

// jobErrors logs job failures (River retries them with backoff) and panics.
type jobErrors struct{ s *Service }

func (h *jobErrors) HandleError(ctx context.Context, j *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.s.log.Warn("job failed", "kind", j.Kind, "queue", j.Queue, "id", j.ID, "attempt", j.Attempt,
		"max_attempts", j.MaxAttempts, "err", err)
	return nil
}

func (h *jobErrors) HandlePanic(ctx context.Context, j *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.s.log.Error("job panicked", "kind", j.Kind, "queue", j.Queue, "id", j.ID, "attempt", j.Attempt,
		"panic", fmt.Sprint(v), "trace", trace)
	return nil
}

// countJobs counts finished job attempts by outcome until ctx ends.
func (s *Service) countJobs(ctx context.Context) {
	events, cancel := s.river.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			outcome := "completed"
			switch ev.Kind {
			case river.EventKindJobFailed:
				outcome = "failed"
				if ev.Job.State == rivertype.JobStateDiscarded {
					outcome = "discarded"
				}
			case river.EventKindJobCancelled:
				outcome = "cancelled"
			}
			s.m.jobs.WithLabelValues(ev.Job.Queue, ev.Job.Kind, outcome).Inc()
		}
	}
}

// FailedJobs returns up to limit failed jobs, most recent first.
func (s *Service) FailedJobs(ctx context.Context, limit int) ([]controlplane.FailedJob, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	res, err := s.river.JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateRetryable, rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit))
	if err != nil {
		return nil, fmt.Errorf("list failed jobs: %w", err)
	}
	out := make([]controlplane.FailedJob, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		f := controlplane.FailedJob{ID: j.ID, Kind: j.Kind, Queue: j.Queue, State: string(j.State), Attempt: j.Attempt,
			MaxAttempts: j.MaxAttempts, Args: string(j.EncodedArgs), CreatedAt: j.CreatedAt.UTC(),
			AttemptedAt: j.AttemptedAt, ScheduledAt: j.ScheduledAt.UTC(), FinalizedAt: j.FinalizedAt}
		if n := len(j.Errors); n > 0 {
			f.Error = j.Errors[n-1].Error
		}
		out = append(out, f)
	}
	return out, nil
}

// minLevel drops log records below level (River logs routine work at info).
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
