package store

import (
	"context"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// StaleRouters returns the routers that still have live sessions although
// they went offline (or were revoked) and have not been seen since before
// before: their sessions are stale and the sweep ends them
// (EndRouterSessions). By router id.
func (s *Store) StaleRouters(ctx context.Context, before time.Time) ([]string, error) {
	ids, err := read(ctx, s, func(t *dbtx) ([]string, error) {
		return queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (string, error) {
			var id string
			return id, sc.Scan(&id)
		}, `SELECT id FROM routers r WHERE status IN ($1, $2) AND (last_seen_at IS NULL OR last_seen_at < $3)
			AND EXISTS (SELECT 1 FROM sessions s WHERE s.router_id = r.id) ORDER BY id`,
			controlplane.RouterOffline, controlplane.RouterRevoked, dbTime(before))
	})
	if err != nil {
		return nil, fmt.Errorf("stale routers: %w", err)
	}
	return ids, nil
}

// HourlyStats is one tenant's ended sessions in one hour.
type HourlyStats struct {
	TenantID        int64     `json:"tenant_id"`
	Hour            time.Time `json:"hour"`
	Sessions        int64     `json:"sessions"`
	HotspotSessions int64     `json:"hotspot_sessions"`
	PPPoESessions   int64     `json:"pppoe_sessions"`
	Users           int64     `json:"users"` // distinct user names
	BytesIn         uint64    `json:"bytes_in"`
	BytesOut        uint64    `json:"bytes_out"`
	Seconds         int64     `json:"seconds"` // summed session durations
}

// RollupStats recomputes the hourly roll-up of session history for every
// hour that overlaps [from, to), from what the history holds now, and
// returns how many tenant-hours it wrote. Recomputing makes it idempotent,
// so a retried or overlapping run is harmless; run it before retention
// prunes the hours it covers.
func (s *Store) RollupStats(ctx context.Context, from, to time.Time) (int, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC()
	// Durations in seconds: SQLite holds Unix microseconds, PostgreSQL
	// timestamps.
	secs := `sum((ended_at - started_at) / 1000000)`
	if s.dialect == DialectPostgres {
		secs = `sum(extract(epoch FROM (ended_at - started_at)))::bigint`
	}
	n, err := write(ctx, s, func(t *dbtx) (int, error) {
		n := 0
		for h := from; h.Before(to); h = h.Add(time.Hour) {
			if _, err := t.exec(ctx, `DELETE FROM stats_hourly WHERE hour = $1`, h); err != nil {
				return 0, err
			}
			res, err := t.exec(ctx, `INSERT INTO stats_hourly (tenant_id, hour, sessions, hotspot_sessions, pppoe_sessions,
				users, bytes_in, bytes_out, seconds)
				SELECT tenant_id, $1, count(*), sum(CASE WHEN kind = 'hotspot' THEN 1 ELSE 0 END),
					sum(CASE WHEN kind = 'pppoe' THEN 1 ELSE 0 END), count(DISTINCT username),
					sum(bytes_in), sum(bytes_out), `+secs+`
				FROM session_history WHERE ended_at >= $1 AND ended_at < $2 GROUP BY tenant_id`,
				h, h.Add(time.Hour))
			if err != nil {
				return 0, err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return 0, err
			}
			n += int(k)
		}
		return n, nil
	})
	if err != nil {
		return 0, fmt.Errorf("roll up stats: %w", err)
	}
	return n, nil
}

// ListHourlyStats returns the roll-ups within scope for hours in [from,
// to), by tenant and hour.
func (s *Store) ListHourlyStats(ctx context.Context, scope int64, from, to time.Time) ([]HourlyStats, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	w.add("hour >= ?", dbTime(from))
	w.add("hour < ?", dbTime(to))
	hs, err := read(ctx, s, func(t *dbtx) ([]HourlyStats, error) {
		return queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (HourlyStats, error) {
			var h HourlyStats
			var in, out int64
			err := sc.Scan(&h.TenantID, &h.Hour, &h.Sessions, &h.HotspotSessions, &h.PPPoESessions, &h.Users, &in, &out, &h.Seconds)
			h.Hour, h.BytesIn, h.BytesOut = h.Hour.UTC(), uint64(in), uint64(out)
			return h, err
		}, `SELECT tenant_id, hour, sessions, hotspot_sessions, pppoe_sessions, users, bytes_in, bytes_out, seconds
			FROM stats_hourly`+w.sql()+` ORDER BY tenant_id, hour`, w.args...)
	})
	if err != nil {
		return nil, fmt.Errorf("list hourly stats: %w", err)
	}
	return hs, nil
}
