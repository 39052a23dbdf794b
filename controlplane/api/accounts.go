package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
)

// accountFilter reads kind, name, router_id, state, limit and offset.
func accountFilter(q url.Values) (controlplane.AccountFilter, error) {
	var f controlplane.AccountFilter
	var err error
	if f.Limit, f.Offset, err = pageParams(q); err != nil {
		return f, err
	}
	switch k := controlplane.AccountKind(q.Get("kind")); k {
	case "", controlplane.AccountHotspot, controlplane.AccountPPP:
		f.Kind = k
	default:
		return f, invalid("kind", "must be hotspot or ppp")
	}
	switch st := q.Get("state"); st {
	case "", controlplane.SyncPending, controlplane.SyncSynced, controlplane.SyncFailed:
		f.State = st
	default:
		return f, invalid("state", "must be pending, synced or failed")
	}
	f.Name, f.RouterID = q.Get("name"), q.Get("router_id")
	if err := checkName("name", f.Name, false); err != nil {
		return f, err
	}
	return f, nil
}

func (s *Server) writeAccountResult(w http.ResponseWriter, status int, res controlplane.AccountResult) {
	res.Commands = redactedAll(res.Commands)
	writeJSON(w, status, res)
}

func accountLocation(id int64) string { return "/api/v1/accounts/" + strconv.FormatInt(id, 10) }

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	prov, err := s.provisioner()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := accountFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := listScope(r, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, total, err := prov.ListAccounts(r.Context(), scope, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, controlplane.Page[controlplane.Account]{Data: nonNil(data), Total: total, Limit: f.Limit, Offset: f.Offset})
}

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	prov, err := s.provisioner()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req controlplane.AccountRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := prov.CreateAccount(r.Context(), p, req)
	if err != nil {
		s.audit(r, p, p.TenantID, "account.create", "account", err, string(req.Kind))
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", accountLocation(res.Account.ID))
	s.writeAccountResult(w, http.StatusAccepted, res)
}

func (s *Server) handleGetAccount(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	prov, err := s.provisioner()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathInt(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := prov.GetAccount(r.Context(), p.Scope(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleUpdateAccount(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	prov, err := s.provisioner()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathInt(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var patch controlplane.AccountPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := prov.UpdateAccount(r.Context(), p, id, patch)
	if err != nil {
		s.audit(r, p, p.TenantID, "account.update", "account:"+strconv.FormatInt(id, 10), err, "")
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", accountLocation(id))
	s.writeAccountResult(w, http.StatusAccepted, res)
}

func (s *Server) handleSetAccountRouters(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	prov, err := s.provisioner()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathInt(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req controlplane.AccountRoutersRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.RouterIDs == nil {
		s.writeError(w, r, invalid("router_ids", "required (an empty list removes the account from every router)"))
		return
	}
	res, err := prov.SetAccountRouters(r.Context(), p, id, req.RouterIDs)
	if err != nil {
		s.audit(r, p, p.TenantID, "account.routers", "account:"+strconv.FormatInt(id, 10), err, "")
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", accountLocation(id))
	s.writeAccountResult(w, http.StatusAccepted, res)
}

func (s *Server) handleDeleteAccount(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	prov, err := s.provisioner()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathInt(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := prov.DeleteAccount(r.Context(), p, id)
	if err != nil {
		s.audit(r, p, p.TenantID, "account.delete", "account:"+strconv.FormatInt(id, 10), err, "")
		s.writeError(w, r, err)
		return
	}
	s.writeAccountResult(w, http.StatusAccepted, res)
}
