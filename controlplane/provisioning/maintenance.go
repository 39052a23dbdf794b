package provisioning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// EndStale is the end reason of sessions the stale-session sweep ends:
// their router has been offline for longer than Options.StaleAfter. If
// they were alive after all, the agent's next snapshot restores them.
const EndStale protocol.EndReason = "stale"

// EndStaleSessions ends the live sessions of every router offline for
// longer than StaleAfter and returns how many it ended.
func (s *Service) EndStaleSessions(ctx context.Context) (int, error) {
	now := s.now()
	routers, err := s.st.StaleRouters(ctx, now.Add(-s.opts.StaleAfter))
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, r := range routers {
		changes, err := s.st.EndRouterSessions(ctx, r, EndStale, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n += len(changes)
		s.publish(changes...)
	}
	if n > 0 {
		s.log.Info("ended stale sessions", "sessions", n, "routers", len(routers))
	}
	s.m.staleSessions.Add(float64(n))
	return n, errors.Join(errs...)
}

// PruneHistory deletes session history older than HistoryRetention and
// returns how many rows it deleted.
func (s *Service) PruneHistory(ctx context.Context) (int, error) {
	if s.opts.HistoryRetention < 0 {
		return 0, nil
	}
	n, err := s.st.PruneHistory(ctx, s.now().Add(-s.opts.HistoryRetention))
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.log.Info("pruned session history", "rows", n, "retention", s.opts.HistoryRetention)
	}
	s.m.pruned.Add(float64(n))
	return n, nil
}

// RollupStats recomputes the hourly stats of the current and the two
// previous hours (sessions ending late, and a missed run, are covered).
func (s *Service) RollupStats(ctx context.Context) (int, error) {
	now := s.now().UTC()
	from := now.Truncate(time.Hour).Add(-2 * time.Hour)
	n, err := s.st.RollupStats(ctx, from, now)
	if err != nil {
		return 0, fmt.Errorf("stats roll-up: %w", err)
	}
	return n, nil
}
