package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// AgentSecretFile is where the agent command stores the secret.
const AgentSecretFile = "/etc/sitepulse/mqtt-secret"

// agentCommand is the line a field tech pastes on the agent host. The
// RouterOS address and password file are placeholders the tech fills in.
// The secret goes to a 0600 file through the shell's printf (a builtin),
// so it never shows in the process list, and the agent reads it from
// there; the leading space keeps it out of bash history where
// HISTCONTROL=ignorespace.
func (s *Server) agentCommand(routerID, secret string) string {
	return fmt.Sprintf(" (umask 077 && mkdir -p /etc/sitepulse && printf '%%s\\n' '%s' > %s)"+
		" && sitepulse-agent run --router-id %s --mqtt-url %s --mqtt-secret-file %s"+
		" --router-addr ROUTER_IP:8728 --router-user sitepulse --router-password-file /etc/sitepulse/router-password",
		secret, AgentSecretFile, routerID, s.opts.PublicMQTTURL, AgentSecretFile)
}

func routerTarget(id string) string { return "router:" + id }

func (s *Server) handleCreateRouter(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	if err := requireManage(p); err != nil {
		return err
	}
	var req controlplane.CreateRouterRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	req.Site = strings.TrimSpace(req.Site)
	if err := checkName("name", req.Name, true); err != nil {
		return err
	}
	if err := checkName("site", req.Site, false); err != nil {
		return err
	}
	switch req.AuthMode {
	case "":
		req.AuthMode = protocol.AuthLocal
	case protocol.AuthLocal, protocol.AuthRadius:
	default:
		return invalid("auth_mode", "want %q or %q", protocol.AuthLocal, protocol.AuthRadius)
	}
	tid := p.TenantID
	switch {
	case p.IsSystemAdmin() && req.TenantID == nil:
		return invalid("tenant_id", "required for system admins")
	case p.IsSystemAdmin():
		tid = *req.TenantID
	case req.TenantID != nil && *req.TenantID != p.TenantID:
		return forbidden("tenant_id: only system admins may enroll routers for another tenant")
	}
	t, err := s.store.GetTenant(r.Context(), p.Scope(), tid)
	switch {
	case controlplane.ErrorCode(err) == controlplane.ENOTFOUND:
		return invalid("tenant_id", "no tenant %d", tid)
	case err != nil:
		return err
	case t.Status != controlplane.TenantActive:
		return controlplane.Errorf(controlplane.ECONFLICT, "tenant_id: tenant %d is %s, not active yet", tid, t.Status)
	}
	rt, secret, err := s.store.CreateRouterMode(r.Context(), tid, req.Name, req.Site, req.AuthMode)
	s.audit(r, p, tid, "router.create", routerTarget(rt.ID), err, "name "+req.Name+", auth "+req.AuthMode)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/api/v1/routers/"+rt.ID)
	writeJSON(w, http.StatusCreated, controlplane.RouterSecret{Router: rt, Secret: secret, AgentCommand: s.agentCommand(rt.ID, secret)})
	return nil
}

func (s *Server) handleListRouters(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	scope, err := listScope(r, p)
	if err != nil {
		return err
	}
	rs, err := s.store.ListRouters(r.Context(), scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.List[controlplane.Router]{Data: nonNil(rs)})
	return nil
}

func (s *Server) handleGetRouter(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	rt, err := s.store.GetRouter(r.Context(), p.Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rt)
	return nil
}

// manageRouter finds a router the caller may see (404 otherwise) and then
// requires the manage role (403), in that order so existence never leaks.
func (s *Server) manageRouter(r *http.Request, p controlplane.Principal) (controlplane.Router, error) {
	rt, err := s.store.GetRouter(r.Context(), p.Scope(), r.PathValue("id"))
	if err != nil {
		return rt, err
	}
	return rt, requireManage(p)
}

func (s *Server) handleRotateSecret(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	rt, err := s.manageRouter(r, p)
	if err != nil {
		return err
	}
	if rt.Status == controlplane.RouterRevoked {
		return controlplane.Errorf(controlplane.ECONFLICT, "router %s is revoked; enroll a new router instead", rt.ID)
	}
	secret, err := s.store.RotateRouterSecret(r.Context(), p.Scope(), rt.ID)
	s.audit(r, p, rt.TenantID, "router.rotate_secret", routerTarget(rt.ID), err, "")
	if err != nil {
		return err
	}
	if s.opts.Invalidator != nil {
		s.opts.Invalidator.Invalidate(rt.ID)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, controlplane.RouterSecret{Router: rt, Secret: secret, AgentCommand: s.agentCommand(rt.ID, secret)})
	return nil
}

func (s *Server) handleRevokeRouter(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	rt, err := s.manageRouter(r, p)
	if err != nil {
		return err
	}
	revoked, err := s.store.RevokeRouter(r.Context(), p.Scope(), rt.ID)
	s.audit(r, p, rt.TenantID, "router.revoke", routerTarget(rt.ID), err, "")
	if err != nil {
		return err
	}
	if s.opts.Invalidator != nil {
		s.opts.Invalidator.Invalidate(rt.ID)
	}
	if s.opts.Bus != nil {
		s.opts.Bus.Publish(controlplane.RouterStatusChanged{Router: revoked})
	}
	writeJSON(w, http.StatusOK, revoked)
	return nil
}
