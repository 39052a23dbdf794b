package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
)

// accountFilter reads kind, name, router_id and state.
func accountFilter(q url.Values, limit, offset int) (controlplane.AccountFilter, error) {
	f := controlplane.AccountFilter{Limit: limit, Offset: offset}
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

func accountTarget(id int64) string { return "account:" + strconv.FormatInt(id, 10) }

// accountPath returns the provisioner and the {id} of an
// /accounts/{id} path.
func (s *Server) accountPath(r *http.Request) (Provisioning, int64, error) {
	prov, err := s.provisioner()
	if err != nil {
		return nil, 0, err
	}
	id, err := pathInt(r, "id")
	return prov, id, err
}

// answerAccountChange answers the change action made to account id: 202
// with res and the account's Location, or err after auditing the refusal
// (an accepted change is audited with its transaction).
func (s *Server) answerAccountChange(w http.ResponseWriter, r *http.Request, p controlplane.Principal, action string, id int64, res controlplane.AccountResult, err error) error {
	if err != nil {
		s.audit(r, p, p.TenantID, action, accountTarget(id), err, "")
		return err
	}
	w.Header().Set("Location", accountLocation(id))
	s.writeAccountResult(w, http.StatusAccepted, res)
	return nil
}

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, err := s.provisioner()
	if err != nil {
		return err
	}
	return listPage(w, r, accountFilter, func() (int64, error) { return listScope(r, p) }, prov.ListAccounts)
}

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, err := s.provisioner()
	if err != nil {
		return err
	}
	var req controlplane.AccountRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := prov.CreateAccount(r.Context(), p, req)
	if err != nil {
		s.audit(r, p, p.TenantID, "account.create", "account", err, string(req.Kind))
		return err
	}
	w.Header().Set("Location", accountLocation(res.Account.ID))
	s.writeAccountResult(w, http.StatusAccepted, res)
	return nil
}

func (s *Server) handleGetAccount(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, id, err := s.accountPath(r)
	if err != nil {
		return err
	}
	a, err := prov.GetAccount(r.Context(), p.Scope(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) handleUpdateAccount(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, id, err := s.accountPath(r)
	if err != nil {
		return err
	}
	var patch controlplane.AccountPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		return err
	}
	res, err := prov.UpdateAccount(r.Context(), p, id, patch)
	return s.answerAccountChange(w, r, p, "account.update", id, res, err)
}

func (s *Server) handleSetAccountRouters(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, id, err := s.accountPath(r)
	if err != nil {
		return err
	}
	var req controlplane.AccountRoutersRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.RouterIDs == nil {
		return invalid("router_ids", "required (an empty list removes the account from every router)")
	}
	res, err := prov.SetAccountRouters(r.Context(), p, id, req.RouterIDs)
	return s.answerAccountChange(w, r, p, "account.routers", id, res, err)
}

func (s *Server) handleDeleteAccount(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, id, err := s.accountPath(r)
	if err != nil {
		return err
	}
	res, err := prov.DeleteAccount(r.Context(), p, id)
	if err != nil {
		s.audit(r, p, p.TenantID, "account.delete", accountTarget(id), err, "")
		return err
	}
	s.writeAccountResult(w, http.StatusAccepted, res)
	return nil
}
