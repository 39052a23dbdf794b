package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// Provisioning carries out commands and managed accounts and lists failed
// background jobs; *provisioning.Service implements it. It checks roles
// itself (EFORBIDDEN) and scopes by the principal (ENOTFOUND for another
// tenant's routers, commands and accounts); EINVALID names the field;
// ECONFLICT for a revoked router, a duplicate account or a command that
// can no longer be cancelled.
type Provisioning interface {
	CreateCommand(ctx context.Context, p controlplane.Principal, routerID string, req controlplane.CommandRequest) (controlplane.Command, error)
	BulkCommand(ctx context.Context, p controlplane.Principal, req controlplane.BulkRequest) (controlplane.BulkResult, error)
	GetCommand(ctx context.Context, scope int64, id string) (controlplane.Command, error)
	ListCommands(ctx context.Context, scope int64, f controlplane.CommandFilter) ([]controlplane.Command, int, error)
	CancelCommand(ctx context.Context, p controlplane.Principal, id string) (controlplane.Command, error)

	CreateAccount(ctx context.Context, p controlplane.Principal, req controlplane.AccountRequest) (controlplane.AccountResult, error)
	GetAccount(ctx context.Context, scope, id int64) (controlplane.Account, error)
	ListAccounts(ctx context.Context, scope int64, f controlplane.AccountFilter) ([]controlplane.Account, int, error)
	UpdateAccount(ctx context.Context, p controlplane.Principal, id int64, patch controlplane.AccountPatch) (controlplane.AccountResult, error)
	SetAccountRouters(ctx context.Context, p controlplane.Principal, id int64, routerIDs []string) (controlplane.AccountResult, error)
	DeleteAccount(ctx context.Context, p controlplane.Principal, id int64) (controlplane.AccountResult, error)

	FailedJobs(ctx context.Context, limit int) ([]controlplane.FailedJob, error)
}

// provisioner returns Options.Provisioning, or EUNAVAILABLE without one.
func (s *Server) provisioner() (Provisioning, error) {
	if s.opts.Provisioning == nil {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "provisioning is not running on this server")
	}
	return s.opts.Provisioning, nil
}

// redacted returns c as the API shows it: without passwords.
func redacted(c controlplane.Command) controlplane.Command {
	c.Params = c.Params.Redacted()
	return c
}

func redactedAll(cs []controlplane.Command) []controlplane.Command {
	out := make([]controlplane.Command, len(cs))
	for i, c := range cs {
		out[i] = redacted(c)
	}
	return out
}

// commandFilter reads router_id, status, kind, bulk_id and account_id.
func commandFilter(q url.Values, limit, offset int) (controlplane.CommandFilter, error) {
	f := controlplane.CommandFilter{Limit: limit, Offset: offset}
	f.RouterID, f.BulkID = q.Get("router_id"), q.Get("bulk_id")
	if st := controlplane.CommandStatus(q.Get("status")); st != "" {
		if !st.Valid() {
			return f, invalid("status", "must be one of %v", controlplane.CommandStatuses)
		}
		f.Status = st
	}
	if k := protocol.CommandKind(q.Get("kind")); k != "" {
		known := false
		for _, v := range protocol.CommandKinds {
			known = known || v == k
		}
		if !known {
			return f, invalid("kind", "unknown command kind %q", k)
		}
		f.Kind = k
	}
	if v := q.Get("account_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return f, invalid("account_id", "must be a positive integer")
		}
		f.AccountID = n
	}
	return f, nil
}

func (s *Server) handleCreateCommand(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, err := s.provisioner()
	if err != nil {
		return err
	}
	var req controlplane.CommandRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	router := r.PathValue("id")
	c, err := prov.CreateCommand(r.Context(), p, router, req)
	if err != nil {
		// A created command is audited with its transaction; a refused one
		// here, with the reason.
		s.audit(r, p, p.TenantID, "command.create", routerTarget(router), err, string(req.Kind))
		return err
	}
	w.Header().Set("Location", "/api/v1/commands/"+c.ID)
	writeJSON(w, http.StatusAccepted, redacted(c))
	return nil
}

func (s *Server) handleBulkCommand(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, err := s.provisioner()
	if err != nil {
		return err
	}
	var req controlplane.BulkRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := prov.BulkCommand(r.Context(), p, req)
	if err != nil {
		s.audit(r, p, p.TenantID, "command.bulk", "bulk", err, string(req.Command.Kind))
		return err
	}
	res.Commands = redactedAll(res.Commands)
	w.Header().Set("Location", "/api/v1/commands?bulk_id="+url.QueryEscape(res.BulkID))
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

func (s *Server) handleListCommands(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, err := s.provisioner()
	if err != nil {
		return err
	}
	return listPage(w, r, commandFilter, func() (int64, error) { return listScope(r, p) },
		func(ctx context.Context, scope int64, f controlplane.CommandFilter) ([]controlplane.Command, int, error) {
			cs, total, err := prov.ListCommands(ctx, scope, f)
			return redactedAll(cs), total, err
		})
}

func (s *Server) handleGetCommand(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, err := s.provisioner()
	if err != nil {
		return err
	}
	c, err := prov.GetCommand(r.Context(), p.Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, redacted(c))
	return nil
}

func (s *Server) handleCancelCommand(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	prov, err := s.provisioner()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	c, err := prov.CancelCommand(r.Context(), p, id)
	if err != nil {
		s.audit(r, p, p.TenantID, "command.cancel", "command:"+id, err, "")
		return err
	}
	writeJSON(w, http.StatusOK, redacted(c))
	return nil
}

func (s *Server) handleFailedJobs(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	if !p.IsSystemAdmin() {
		return forbidden("only system admins see background jobs")
	}
	prov, err := s.provisioner()
	if err != nil {
		return err
	}
	limit, _, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	jobs, err := prov.FailedJobs(r.Context(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.List[controlplane.FailedJob]{Data: nonNil(jobs)})
	return nil
}
