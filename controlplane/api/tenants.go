package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

func (s *Server) handleCreateTenant(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	if !p.IsSystemAdmin() {
		return forbidden("only system admins create tenants")
	}
	var req controlplane.CreateTenantRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := checkName("name", req.Name, true); err != nil {
		return err
	}
	if a := req.Admin; a != nil {
		a.Email = strings.ToLower(strings.TrimSpace(a.Email))
		a.Name = strings.TrimSpace(a.Name)
		if a.Role == "" {
			a.Role = controlplane.RoleTenantAdmin
		}
		if a.Role != controlplane.RoleTenantAdmin {
			return invalid("admin.role", "a tenant's first user is its tenant_admin")
		}
		for _, err := range []error{checkEmail(a.Email), checkName("admin.name", a.Name, true), checkPassword(a.Password)} {
			if err != nil {
				return err
			}
		}
	}
	if s.opts.Tenants == nil {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "tenant provisioning is not running")
	}
	t, err := s.opts.Tenants.CreateTenant(r.Context(), req.Name, req.Admin)
	s.audit(r, p, t.ID, "tenant.create", "tenant:"+strconv.FormatInt(t.ID, 10), err, "name "+req.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tenants/"+strconv.FormatInt(t.ID, 10))
	writeJSON(w, http.StatusAccepted, controlplane.Accepted{ID: t.ID, Status: t.Status})
	return nil
}

func (s *Server) handleListTenants(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	if !p.IsSystemAdmin() {
		// A tenant's users see exactly their own tenant.
		t, err := s.store.GetTenant(r.Context(), p.Scope(), p.TenantID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, controlplane.List[controlplane.Tenant]{Data: []controlplane.Tenant{t}})
		return nil
	}
	ts, err := s.store.ListTenants(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.List[controlplane.Tenant]{Data: nonNil(ts)})
	return nil
}

func (s *Server) handleGetTenant(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	t, err := s.store.GetTenant(r.Context(), p.Scope(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// nonNil makes an empty collection encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
