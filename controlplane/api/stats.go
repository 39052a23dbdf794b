package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	scope, err := listScope(r, p)
	if err != nil {
		return err
	}
	st, err := s.dashboardStats(r, scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// handleSystemStats is the system admin's overview: tenants, routers and
// sessions across tenants, and system-wide revenue when billing runs.
func (s *Server) handleSystemStats(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	if !p.IsSystemAdmin() {
		return controlplane.Errorf(controlplane.EFORBIDDEN, "system stats are for system admins")
	}
	ts, err := s.store.ListTenants(r.Context())
	if err != nil {
		return err
	}
	st, err := s.dashboardStats(r, 0)
	if err != nil {
		return err
	}
	out := controlplane.SystemStats{Tenants: len(ts), Stats: st}
	if b, err := s.biller(); err == nil {
		rev, err := b.Stats(r.Context(), 0)
		if err != nil {
			return err
		}
		out.Revenue = &rev
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// dashboardStats counts live sessions and routers within scope (0: every
// tenant).
func (s *Server) dashboardStats(r *http.Request, scope int64) (controlplane.Stats, error) {
	st := controlplane.Stats{At: s.now().UTC()}
	for _, k := range []struct {
		kind protocol.SessionKind
		dst  *int
	}{{protocol.KindHotspot, &st.OnlineHotspot}, {protocol.KindPPPoE, &st.OnlinePPPoE}} {
		// Only the total is wanted; one row is the smallest page.
		_, n, err := s.store.ListSessions(r.Context(), scope, controlplane.SessionFilter{Kind: k.kind, Limit: 1})
		if err != nil {
			return st, err
		}
		*k.dst = n
	}
	rs, err := s.store.ListRouters(r.Context(), scope)
	if err != nil {
		return st, err
	}
	var rx, tx float64
	known := false
	for _, rt := range rs {
		st.RoutersTotal++
		switch rt.Status {
		case controlplane.RouterOnline:
			st.RoutersOnline++
			if res := rt.Resources; res != nil && (res.RxBps != 0 || res.TxBps != 0) {
				rx += res.RxBps
				tx += res.TxBps
				known = true
			}
		case controlplane.RouterOffline, controlplane.RouterPending:
			st.RoutersOffline++
		}
	}
	if known {
		st.RxBps, st.TxBps = &rx, &tx
	}
	return st, nil
}

// maxLoginStatsHours bounds GET /api/v1/stats/logins to 90 days, the
// series' retention.
const maxLoginStatsHours = 90 * 24

func (s *Server) handleLoginStats(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	scope, err := listScope(r, p)
	if err != nil {
		return err
	}
	hours := 24
	if v := r.URL.Query().Get("hours"); v != "" {
		if hours, err = strconv.Atoi(v); err != nil || hours < 1 || hours > maxLoginStatsHours {
			return invalid("hours", "must be between 1 and %d", maxLoginStatsHours)
		}
	}
	router := r.URL.Query().Get("router_id")
	if router != "" {
		// A router outside scope is not found rather than an empty series.
		if _, err := s.store.GetRouter(r.Context(), scope, router); err != nil {
			return err
		}
	}
	now := s.now().UTC()
	data, err := s.store.LoginSeries(r.Context(), scope, router, now.Add(-time.Duration(hours-1)*time.Hour), now)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.LoginSeries{TenantID: scope, RouterID: router, Data: data})
	return nil
}
