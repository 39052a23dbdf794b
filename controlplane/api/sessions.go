package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// sessionFilter reads router_id, kind and user.
func sessionFilter(q url.Values, limit, offset int) (controlplane.SessionFilter, error) {
	f := controlplane.SessionFilter{Limit: limit, Offset: offset}
	f.RouterID = q.Get("router_id")
	f.User = q.Get("user")
	switch k := protocol.SessionKind(q.Get("kind")); k {
	case "", protocol.KindHotspot, protocol.KindPPPoE:
		f.Kind = k
	default:
		return f, invalid("kind", "must be hotspot or pppoe")
	}
	if err := checkName("user", f.User, false); err != nil {
		return f, err
	}
	return f, nil
}

// listSessions lists live sessions with their public ids.
func (s *Server) listSessions(ctx context.Context, scope int64, f controlplane.SessionFilter) ([]controlplane.Session, int, error) {
	data, total, err := s.store.ListSessions(ctx, scope, f)
	for i := range data {
		data[i].ID = controlplane.SessionPublicID(data[i].RouterID, data[i].Key)
	}
	return data, total, err
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	return listPage(w, r, sessionFilter, func() (int64, error) { return listScope(r, p) }, s.listSessions)
}

func (s *Server) handleRouterSessions(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	if r.URL.Query().Has("router_id") {
		return invalid("router_id", "not allowed here; the router is in the path")
	}
	parse := func(q url.Values, limit, offset int) (controlplane.SessionFilter, error) {
		f, err := sessionFilter(q, limit, offset)
		if err != nil {
			return f, err
		}
		// 404 for a router outside the caller's tenant rather than an empty page.
		rt, err := s.store.GetRouter(r.Context(), p.Scope(), r.PathValue("id"))
		f.RouterID = rt.ID
		return f, err
	}
	return listPage(w, r, parse, func() (int64, error) { return p.Scope(), nil }, s.listSessions)
}

// parseTime reads an optional RFC 3339 query parameter.
func parseTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid(name, "must be an RFC 3339 time like 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// historyFilter reads from, to, router_id and user.
func historyFilter(q url.Values, limit, offset int) (controlplane.HistoryFilter, error) {
	f := controlplane.HistoryFilter{Limit: limit, Offset: offset}
	var err error
	if f.From, err = parseTime(q, "from"); err != nil {
		return f, err
	}
	if f.To, err = parseTime(q, "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, invalid("to", "must not be before from")
	}
	f.RouterID = q.Get("router_id")
	f.User = q.Get("user")
	if err := checkName("user", f.User, false); err != nil {
		return f, err
	}
	return f, nil
}

func (s *Server) handleListHistory(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	return listPage(w, r, historyFilter, func() (int64, error) { return listScope(r, p) },
		func(ctx context.Context, scope int64, f controlplane.HistoryFilter) ([]controlplane.SessionRecord, int, error) {
			data, total, err := s.store.ListHistory(ctx, scope, f)
			for i := range data {
				data[i].ID = controlplane.SessionPublicID(data[i].RouterID, data[i].Key)
			}
			return data, total, err
		})
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	if !p.CanManage() {
		return forbidden("role %s may not read the audit log", p.Role)
	}
	limit, offset, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	scope, err := listScope(r, p)
	if err != nil {
		return err
	}
	es, err := s.store.ListAudit(r.Context(), scope, limit, offset)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.AuditPage{Data: nonNil(es), Limit: limit, Offset: offset})
	return nil
}
