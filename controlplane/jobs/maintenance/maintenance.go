package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/jobs"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// Queue is the River queue of the sweeps.
const Queue = "maintenance"

// Job kinds (River's kind strings).
const (
	KindStaleSessions = "stale_sessions"
	KindPruneHistory  = "history_prune"
	KindRollupStats   = "stats_rollup"
)

// EndStale is the end reason of sessions the stale-session sweep ends:
// their router has been offline for longer than Options.StaleAfter. If
// they were alive after all, the agent's next snapshot restores them.
const EndStale protocol.EndReason = "stale"

// Options configure the sweeps.
type Options struct {
	Store  *store.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Publish announces the session changes the stale sweep makes.
	Publish func(...controlplane.Change)
	// StaleAfter is how long a router may stay offline before its live
	// sessions are ended.
	StaleAfter time.Duration
	// HistoryRetention is how long ended sessions are kept; negative
	// keeps them forever.
	HistoryRetention time.Duration
	// StaleEnded and Pruned count ended sessions and deleted history rows.
	StaleEnded, Pruned prometheus.Counter
}

// Sweeps runs the maintenance sweeps.
type Sweeps struct{ o Options }

// New returns the sweeps configured by o.
func New(o Options) *Sweeps { return &Sweeps{o: o} }

// EndStaleSessions ends the live sessions of every router offline for
// longer than StaleAfter and returns how many it ended.
func (m *Sweeps) EndStaleSessions(ctx context.Context) (int, error) {
	now := m.o.Now()
	routers, err := m.o.Store.StaleRouters(ctx, now.Add(-m.o.StaleAfter))
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, r := range routers {
		changes, err := m.o.Store.EndRouterSessions(ctx, r, EndStale, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n += len(changes)
		m.o.Publish(changes...)
	}
	if n > 0 {
		m.o.Logger.Info("ended stale sessions", "sessions", n, "routers", len(routers))
	}
	m.o.StaleEnded.Add(float64(n))
	return n, errors.Join(errs...)
}

// PruneHistory deletes session history older than HistoryRetention and
// returns how many rows it deleted.
func (m *Sweeps) PruneHistory(ctx context.Context) (int, error) {
	if m.o.HistoryRetention < 0 {
		return 0, nil
	}
	n, err := m.o.Store.PruneHistory(ctx, m.o.Now().Add(-m.o.HistoryRetention))
	if err != nil {
		return 0, err
	}
	if n > 0 {
		m.o.Logger.Info("pruned session history", "rows", n, "retention", m.o.HistoryRetention)
	}
	m.o.Pruned.Add(float64(n))
	return n, nil
}

// RollupStats recomputes the hourly stats of the current and the two
// previous hours (sessions ending late, and a missed run, are covered).
func (m *Sweeps) RollupStats(ctx context.Context) (int, error) {
	now := m.o.Now().UTC()
	from := now.Truncate(time.Hour).Add(-2 * time.Hour)
	n, err := m.o.Store.RollupStats(ctx, from, now)
	if err != nil {
		return 0, fmt.Errorf("stats roll-up: %w", err)
	}
	return n, nil
}

// onQueue puts the jobs that embed it on Queue, with three attempts (the
// next run comes anyway).
type onQueue struct{}

func (onQueue) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue, MaxAttempts: 3} }

type (
	staleArgs  struct{ onQueue }
	pruneArgs  struct{ onQueue }
	rollupArgs struct{ onQueue }
)

func (staleArgs) Kind() string  { return KindStaleSessions }
func (pruneArgs) Kind() string  { return KindPruneHistory }
func (rollupArgs) Kind() string { return KindRollupStats }

// Register adds the sweeps' workers to ws.
func (m *Sweeps) Register(ws *river.Workers) {
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[staleArgs]) error {
		_, err := m.EndStaleSessions(ctx)
		return err
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[pruneArgs]) error {
		_, err := m.PruneHistory(ctx)
		return err
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[rollupArgs]) error {
		_, err := m.RollupStats(ctx)
		return err
	})
}

// Periodic returns the sweeps' schedules: the stale-session sweep every
// stale, the roll-up every rollup, and the history pruning every prune
// unless Options.HistoryRetention keeps history forever (negative).
func (m *Sweeps) Periodic(stale, prune, rollup time.Duration) []*river.PeriodicJob {
	ps := []*river.PeriodicJob{jobs.Every(stale, staleArgs{}), jobs.Every(rollup, rollupArgs{})}
	if m.o.HistoryRetention > 0 {
		ps = append(ps, jobs.Every(prune, pruneArgs{}))
	}
	return ps
}
