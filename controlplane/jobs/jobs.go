package jobs

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
	"github.com/sitepulse/sitepulse/internal/logfilter"
)

// Client is the River client over the store's transactions.
type Client = river.Client[*sql.Tx]

// Func is what a job of argument type A does.
type Func[A river.JobArgs] func(ctx context.Context, j *river.Job[A]) error

// Work returns a River worker that runs fn, with River's default timeout
// and retry policy.
func Work[A river.JobArgs](fn Func[A]) river.Worker[A] { return &worker[A]{fn: fn} }

type worker[A river.JobArgs] struct {
	river.WorkerDefaults[A]
	fn Func[A]
}

func (w *worker[A]) Work(ctx context.Context, j *river.Job[A]) error { return w.fn(ctx, j) }

// Add registers fn as the worker of A's kind.
func Add[A river.JobArgs](ws *river.Workers, fn Func[A]) { river.AddWorker(ws, Work(fn)) }

// Every returns a periodic job that inserts args every d, and once when
// the client starts; its ID is args' kind.
func Every(d time.Duration, args river.JobArgs) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(d),
		func() (river.JobArgs, *river.InsertOpts) { return args, nil },
		&river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: true})
}

// WaitingStates are the states in which a unique job is not inserted
// again (River requires running among them), for River's
// UniqueOpts.ByState.
var WaitingStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// DefaultWorkers returns n, or if n is not positive the default worker
// count of the busiest queue on dialect d: 10 on PostgreSQL, 4 on
// SQLite's single connection.
func DefaultWorkers(d string, n int) int {
	switch {
	case n > 0:
		return n
	case d == store.DialectPostgres:
		return 10
	default:
		return 4
	}
}

// Config is what NewClient builds a client from.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger // job failures at warn, panics at error; River's own records at warn and above
	// Queues maps each queue to its number of workers.
	Queues  map[string]int
	Workers *river.Workers
	// Periodic jobs, none if nil.
	Periodic []*river.PeriodicJob
	// PollInterval is how often workers look for jobs without a
	// notification (SQLite has none); River's default if zero.
	PollInterval time.Duration
}

// NewClient builds the River client. Both dialects use a client over
// *sql.Tx, the store's transaction type, so that InsertTx puts a job in
// the same transaction as the change that causes it: riversqlite on SQLite
// (the store's single connection), and on PostgreSQL riverdatabasesql over
// the store's database/sql handle with a pgx listener on the store's pgx
// pool for LISTEN/NOTIFY, so jobs start without waiting for a poll.
// riverpgxv5 alone would need a pgx.Tx, which the store's database/sql
// transactions cannot provide.
func NewClient(c Config) (*Client, error) {
	var driver riverdriver.Driver[*sql.Tx]
	switch c.Store.Dialect() {
	case store.DialectPostgres:
		driver = riverdatabasesql.NewWithPgxListener(c.Store.DB(), c.Store.PgxPool())
	default:
		driver = riversqlite.New(c.Store.DB())
	}
	queues := make(map[string]river.QueueConfig, len(c.Queues))
	for q, n := range c.Queues {
		queues[q] = river.QueueConfig{MaxWorkers: max(1, n)}
	}
	cfg := &river.Config{
		Logger:            slog.New(logfilter.MinLevel(c.Logger.With("part", "river").Handler(), slog.LevelWarn)),
		Queues:            queues,
		Workers:           c.Workers,
		FetchPollInterval: c.PollInterval,
		JobTimeout:        5 * time.Minute,
		ErrorHandler:      &errorLog{log: c.Logger},
		PeriodicJobs:      c.Periodic,
	}
	if c.PollInterval > 0 {
		// River requires the cooldown not to exceed the poll interval.
		cfg.FetchCooldown = min(c.PollInterval, 100*time.Millisecond)
	}
	return river.NewClient(driver, cfg)
}

// InsertTx enqueues jobs in the store transaction tx.
func InsertTx(ctx context.Context, c *Client, tx *store.Tx, args ...river.JobArgs) error {
	if len(args) == 0 {
		return nil
	}
	ps := make([]river.InsertManyParams, len(args))
	for i, a := range args {
		ps[i] = river.InsertManyParams{Args: a}
	}
	if _, err := c.InsertManyTx(ctx, tx.SQL(), ps); err != nil {
		return fmt.Errorf("enqueue %s: %w", args[0].Kind(), err)
	}
	return nil
}

// errorLog logs job failures (River retries them with backoff) and panics.
type errorLog struct{ log *slog.Logger }

func (h *errorLog) HandleError(ctx context.Context, j *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.Warn("job failed", "kind", j.Kind, "queue", j.Queue, "id", j.ID, "attempt", j.Attempt,
		"max_attempts", j.MaxAttempts, "err", err)
	return nil
}

func (h *errorLog) HandlePanic(ctx context.Context, j *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.log.Error("job panicked", "kind", j.Kind, "queue", j.Queue, "id", j.ID, "attempt", j.Attempt,
		"panic", fmt.Sprint(v), "trace", trace)
	return nil
}

// Count calls count with the queue, kind and outcome (completed, failed,
// discarded or cancelled) of every finished job attempt until ctx ends.
func Count(ctx context.Context, c *Client, count func(queue, kind, outcome string)) {
	events, cancel := c.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
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
			count(ev.Job.Queue, ev.Job.Kind, outcome)
		}
	}
}

// Failed returns up to limit failed jobs (retryable or discarded), most
// recent first; limit defaults to 100 and is at most 1000.
func Failed(ctx context.Context, c *Client, limit int) ([]controlplane.FailedJob, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	res, err := c.JobList(ctx, river.NewJobListParams().
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
