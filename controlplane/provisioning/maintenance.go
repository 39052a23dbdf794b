package provisioning

import (
	"context"

	"github.com/sitepulse/sitepulse/controlplane/jobs/maintenance"
)

// newSweeps returns the maintenance sweeps with the service's store, clock,
// bus, options and counters.
func (s *Service) newSweeps() *maintenance.Sweeps {
	return maintenance.New(maintenance.Options{
		Store: s.st, Logger: s.log, Now: s.now, Publish: s.publish,
		StaleAfter: s.opts.StaleAfter, HistoryRetention: s.opts.HistoryRetention,
		StaleEnded: s.m.staleSessions, Pruned: s.m.pruned,
	})
}

// EndStaleSessions ends the live sessions of every router offline for
// longer than Options.StaleAfter and returns how many it ended
// (maintenance.Sweeps.EndStaleSessions).
func (s *Service) EndStaleSessions(ctx context.Context) (int, error) {
	return s.maint.EndStaleSessions(ctx)
}

// PruneHistory deletes session history older than
// Options.HistoryRetention and returns how many rows it deleted
// (maintenance.Sweeps.PruneHistory).
func (s *Service) PruneHistory(ctx context.Context) (int, error) {
	return s.maint.PruneHistory(ctx)
}

// RollupStats recomputes the hourly stats of the current and the two
// previous hours (maintenance.Sweeps.RollupStats).
func (s *Service) RollupStats(ctx context.Context) (int, error) {
	return s.maint.RollupStats(ctx)
}
