package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/protocol"
)

func TestRouterAuthModeAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		withProvisioning(t, e)
		p := newPeople(e)
		// An account on ra, so the switch has a local user to remove.
		var acct controlplane.AccountResult
		e.do("POST", "/api/v1/accounts", p.techA, map[string]any{"kind": "hotspot", "name": "amy", "password": "pw-secret-9",
			"router_ids": []string{p.ra.ID}}).want(t, http.StatusAccepted, &acct)

		var rt controlplane.Router
		e.do("GET", "/api/v1/routers/"+p.ra.ID, p.viewerA, nil).want(t, http.StatusOK, &rt)
		if rt.AuthMode != protocol.AuthLocal || !rt.Radius.InSync {
			t.Errorf("new router: %s %+v", rt.AuthMode, rt.Radius)
		}
		radius := map[string]any{"auth_mode": "radius"}
		e.do("PATCH", "/api/v1/routers/"+p.ra.ID, p.techA, radius).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("PATCH", "/api/v1/routers/"+p.rb.ID, p.adminA, radius).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("PATCH", "/api/v1/routers/"+p.ra.ID, p.adminA, map[string]any{"auth_mode": "ldap"}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "auth_mode")
		e.do("PATCH", "/api/v1/routers/"+p.ra.ID, p.adminA, map[string]any{}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "auth_mode")

		res := e.do("PATCH", "/api/v1/routers/"+p.ra.ID, p.adminA, radius)
		var ch controlplane.RouterChange
		res.want(t, http.StatusAccepted, &ch)
		if ch.Router.AuthMode != protocol.AuthRadius || ch.Router.Radius.Version != 1 || ch.Router.Radius.InSync {
			t.Errorf("switched router %s %+v", ch.Router.AuthMode, ch.Router.Radius)
		}
		if len(ch.Commands) != 1 || ch.Commands[0].Kind != protocol.CmdHotspotUserRemove {
			t.Errorf("commands %+v, want the remove of amy", ch.Commands)
		}
		if strings.Contains(string(res.body), "pw-secret-9") {
			t.Errorf("the answer shows the password: %s", res.body)
		}
		var st controlplane.RouterRadius
		rr := e.do("GET", "/api/v1/routers/"+p.ra.ID+"/radius", p.viewerA, nil)
		rr.want(t, http.StatusOK, &st)
		if st.RouterID != p.ra.ID || st.AuthMode != protocol.AuthRadius || st.Radius.Version != 1 || st.Radius.AgentAt != nil {
			t.Errorf("radius status %+v", st)
		}
		if strings.Contains(string(rr.body), "pw-secret-9") {
			t.Errorf("radius status shows the password")
		}
		e.do("GET", "/api/v1/routers/"+p.rb.ID+"/radius", p.viewerA, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")

		// Created in RADIUS mode.
		var sec controlplane.RouterSecret
		e.do("POST", "/api/v1/routers", p.adminA, map[string]any{"name": "edge", "auth_mode": "radius"}).want(t, http.StatusCreated, &sec)
		if sec.Router.AuthMode != protocol.AuthRadius {
			t.Errorf("created %+v", sec.Router)
		}
		e.do("POST", "/api/v1/routers", p.adminA, map[string]any{"name": "edge2", "auth_mode": "tacacs"}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "auth_mode")
	})
}

func TestOpenAPIRadiusSchemas(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPI)
	for name, v := range map[string]any{
		"RadiusStatus":        controlplane.RadiusStatus{},
		"RouterRadius":        controlplane.RouterRadius{},
		"RouterPatch":         controlplane.RouterPatch{},
		"RouterChange":        controlplane.RouterChange{},
		"Router":              controlplane.Router{},
		"CreateRouterRequest": controlplane.CreateRouterRequest{},
	} {
		checkSchema(t, doc, name, v)
	}
}
