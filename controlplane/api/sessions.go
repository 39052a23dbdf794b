package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// sessionFilter reads router_id, kind, user, limit and offset.
func sessionFilter(q url.Values) (controlplane.SessionFilter, error) {
	var f controlplane.SessionFilter
	var err error
	if f.Limit, f.Offset, err = pageParams(q); err != nil {
		return f, err
	}
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

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, scope int64, f controlplane.SessionFilter) {
	data, total, err := s.store.ListSessions(r.Context(), scope, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for i := range data {
		data[i].ID = controlplane.SessionPublicID(data[i].RouterID, data[i].Key)
	}
	writeJSON(w, http.StatusOK, controlplane.Page[controlplane.Session]{Data: nonNil(data), Total: total, Limit: f.Limit, Offset: f.Offset})
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	f, err := sessionFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := listScope(r, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.listSessions(w, r, scope, f)
}

func (s *Server) handleRouterSessions(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	q := r.URL.Query()
	if q.Has("router_id") {
		s.writeError(w, r, invalid("router_id", "not allowed here; the router is in the path"))
		return
	}
	f, err := sessionFilter(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// 404 for a router outside the caller's tenant rather than an empty page.
	rt, err := s.store.GetRouter(r.Context(), p.Scope(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.RouterID = rt.ID
	s.listSessions(w, r, p.Scope(), f)
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

func (s *Server) handleListHistory(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	q := r.URL.Query()
	var f controlplane.HistoryFilter
	var err error
	if f.Limit, f.Offset, err = pageParams(q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.From, err = parseTime(q, "from"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.To, err = parseTime(q, "to"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		s.writeError(w, r, invalid("to", "must not be before from"))
		return
	}
	f.RouterID = q.Get("router_id")
	f.User = q.Get("user")
	if err := checkName("user", f.User, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := listScope(r, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, total, err := s.store.ListHistory(r.Context(), scope, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for i := range data {
		data[i].ID = controlplane.SessionPublicID(data[i].RouterID, data[i].Key)
	}
	writeJSON(w, http.StatusOK, controlplane.Page[controlplane.SessionRecord]{Data: nonNil(data), Total: total, Limit: f.Limit, Offset: f.Offset})
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	if !p.CanManage() {
		s.writeError(w, r, forbidden("role %s may not read the audit log", p.Role))
		return
	}
	limit, offset, err := pageParams(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := listScope(r, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	es, err := s.store.ListAudit(r.Context(), scope, limit, offset)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, controlplane.AuditPage{Data: nonNil(es), Limit: limit, Offset: offset})
}
