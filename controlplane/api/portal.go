package api

import (
	"context"
	"net/http"

	"github.com/sitepulse/sitepulse/controlplane"
)

// PortalSettings keeps tenants' captive portal settings; *portal.Portal
// implements it. Both check the role (EFORBIDDEN below tenant admin);
// UpdateSettings answers EINVALID naming the field and ECONFLICT for a
// slug another tenant has.
type PortalSettings interface {
	Settings(ctx context.Context, p controlplane.Principal, tenantID int64) (controlplane.PortalSettings, error)
	UpdateSettings(ctx context.Context, p controlplane.Principal, patch controlplane.PortalSettingsPatch) (controlplane.PortalSettings, error)
}

func (s *Server) portal() (PortalSettings, error) {
	if s.opts.Portal == nil {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "the captive portal is not running on this server")
	}
	return s.opts.Portal, nil
}

func (s *Server) handleGetPortalSettings(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	ps, err := s.portal()
	if err != nil {
		return err
	}
	if !p.CanManage() {
		return controlplane.Errorf(controlplane.EFORBIDDEN, "only tenant admins manage the portal")
	}
	tenant, err := listScope(r, p)
	if err != nil {
		return err
	}
	set, err := ps.Settings(r.Context(), p, tenant)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, set)
	return nil
}

func (s *Server) handleUpdatePortalSettings(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	ps, err := s.portal()
	if err != nil {
		return err
	}
	if !p.CanManage() {
		return controlplane.Errorf(controlplane.EFORBIDDEN, "only tenant admins manage the portal")
	}
	var patch controlplane.PortalSettingsPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		return err
	}
	set, err := ps.UpdateSettings(r.Context(), p, patch)
	tenant := p.TenantID
	if patch.TenantID != 0 {
		tenant = patch.TenantID
	}
	s.audit(r, p, tenant, "portal.settings", "portal_settings", err, "")
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, set)
	return nil
}
