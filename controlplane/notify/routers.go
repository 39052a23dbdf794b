package notify

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// down reports whether r is out of reach for its customers: its agent is
// gone, or the agent is up but cannot reach the router. Routers that
// never connected or are revoked are not watched.
func down(r controlplane.Router) bool {
	return r.Status == controlplane.RouterOffline || (r.Status == controlplane.RouterOnline && !r.RouterConnected)
}

// alertGroup is one tenant's routers that went down or came back in a
// sweep: one message lists them all, so a tenant whose upstream dies gets
// one alert, not one per router.
type alertGroup struct {
	names []string
	since time.Time // earliest down_since
	took  time.Duration
}

// SweepRouters advances the outage of every router and queues the alerts
// that are due: a router down for the tenant's RouterOfflineAfter gets one
// alert per outage; an alerted router back up for RouterRecoveredAfter
// gets one recovery message and its outage ends. A router that comes back
// before its alert ends its outage silently, and one that goes down again
// during the recovery hold stays in the same outage, so a flapping site
// sends at most one alert. It returns how many messages it queued.
func (s *Service) SweepRouters(ctx context.Context) (int, error) {
	n := 0
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		// Routers and outages are read inside the sweep's lock: a router
		// list read before another sweep ended an outage would still say
		// "down" and open a second one, alerting again.
		if err := tx.LockRouterOutages(ctx); err != nil {
			return err
		}
		routers, err := tx.Routers(ctx, 0)
		if err != nil {
			return err
		}
		now := tx.Now().UTC()
		outages, err := tx.RouterOutages(ctx)
		if err != nil {
			return err
		}
		open := make(map[string]store.RouterOutage, len(outages))
		for _, o := range outages {
			open[o.RouterID] = o
		}
		sets := map[int64]store.NotificationSettingsRow{}
		settings := func(t int64) (store.NotificationSettingsRow, error) {
			if v, ok := sets[t]; ok {
				return v, nil
			}
			v, err := tx.NotificationSettings(ctx, t)
			sets[t] = v
			return v, err
		}
		offline, recovered := map[int64]*alertGroup{}, map[int64]*alertGroup{}
		add := func(m map[int64]*alertGroup, t int64, r controlplane.Router, since time.Time, took time.Duration) {
			g := m[t]
			if g == nil {
				g = &alertGroup{since: since}
				m[t] = g
			}
			name := r.Name
			if r.Site != "" {
				name += " (" + r.Site + ")"
			}
			g.names = append(g.names, name)
			if since.Before(g.since) {
				g.since = since
			}
			g.took = max(g.took, took)
		}
		for _, r := range routers {
			if r.Status == controlplane.RouterRevoked {
				continue
			}
			o, tracked := open[r.ID]
			set, err := settings(r.TenantID)
			if err != nil {
				return err
			}
			hold := time.Duration(set.RouterRecoveredAfter) * time.Second
			switch {
			case down(r):
				changed := !tracked || o.UpSince != nil
				if !tracked {
					since := now
					if r.Status == controlplane.RouterOffline && r.LastSeenAt != nil && r.LastSeenAt.Before(now) {
						since = r.LastSeenAt.UTC()
					}
					o = store.RouterOutage{RouterID: r.ID, TenantID: r.TenantID, DownSince: since}
				}
				o.UpSince = nil
				if o.AlertedAt == nil && now.Sub(o.DownSince) >= time.Duration(set.RouterOfflineAfter)*time.Second {
					o.AlertedAt, changed = &now, true
					add(offline, r.TenantID, r, o.DownSince, now.Sub(o.DownSince))
				}
				if changed {
					if err := tx.PutRouterOutage(ctx, o); err != nil {
						return err
					}
				}
			case !tracked:
			case o.AlertedAt == nil:
				// Back before its alert: nobody was told, nobody is.
				if err := tx.EndRouterOutage(ctx, r.ID); err != nil {
					return err
				}
			case o.UpSince == nil && hold > 0:
				o.UpSince = &now
				if err := tx.PutRouterOutage(ctx, o); err != nil {
					return err
				}
			case o.UpSince == nil || now.Sub(*o.UpSince) >= hold:
				up := now
				if o.UpSince != nil {
					up = *o.UpSince
				}
				add(recovered, r.TenantID, r, o.DownSince, up.Sub(o.DownSince))
				if err := tx.EndRouterOutage(ctx, r.ID); err != nil {
					return err
				}
			}
		}
		for kind, groups := range map[controlplane.NotificationKind]map[int64]*alertGroup{
			controlplane.NotifyRouterOffline: offline, controlplane.NotifyRouterRecovered: recovered} {
			for t, g := range groups {
				tz := "UTC"
				if b, err := tx.BillingSettings(ctx, t); err == nil {
					tz = b.Timezone
				}
				sort.Strings(g.names)
				list := g.names
				more := ""
				if len(list) > 10 {
					more = fmt.Sprintf(" and %d more", len(list)-10)
					list = list[:10]
				}
				q, err := s.NotifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: t, Kind: kind,
					Event: fmt.Sprintf("%s:%d:%d", kind, t, now.UnixNano()), To: controlplane.Audience{Admins: true},
					Data: map[string]string{"routers": strings.Join(list, ", ") + more, "count": strconv.Itoa(len(g.names)),
						"since": controlplane.LocalTime(g.since, tz), "duration": controlplane.HumanDuration(g.took)}})
				if err != nil {
					return err
				}
				s.m.alerts.WithLabelValues(string(kind)).Inc()
				n += q
			}
		}
		return nil
	})
	return n, err
}
