package api

import (
	"context"
	"net/http"

	"github.com/sitepulse/sitepulse/controlplane"
)

// RouterModes switches routers between local users and RADIUS;
// *provisioning.Service implements it (the API finds it on Provisioning).
// EFORBIDDEN below tenant admin, EINVALID for an unknown mode, ENOTFOUND
// outside the caller's scope, ECONFLICT for a revoked router.
type RouterModes interface {
	SetRouterAuthMode(ctx context.Context, p controlplane.Principal, id, mode string) (controlplane.RouterChange, error)
}

func (s *Server) handleUpdateRouter(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	rt, err := s.store.GetRouter(r.Context(), p.Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var patch controlplane.RouterPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		return err
	}
	if patch.AuthMode == nil {
		return invalid("auth_mode", "required (the only field that can change)")
	}
	modes, ok := s.opts.Provisioning.(RouterModes)
	if !ok {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "provisioning is not running on this server")
	}
	ch, err := modes.SetRouterAuthMode(r.Context(), p, rt.ID, *patch.AuthMode)
	if err != nil {
		return err
	}
	ch.Commands = redactedAll(ch.Commands)
	w.Header().Set("Location", "/api/v1/routers/"+rt.ID)
	writeJSON(w, http.StatusAccepted, ch)
	return nil
}

func (s *Server) handleRouterRadius(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	rt, err := s.store.GetRouter(r.Context(), p.Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.RouterRadius{RouterID: rt.ID, AuthMode: rt.AuthMode, Radius: rt.Radius})
	return nil
}
