package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/portal"
)

// planLister is the billing the portal's settings need: no plans.
type planLister struct{ portal.Billing }

func (planLister) ListPlans(context.Context, int64, controlplane.PlanFilter) ([]controlplane.Plan, int, error) {
	return nil, 0, nil
}

// withPortal replaces e's server by one with the real portal's settings
// on e's store.
func withPortal(t *testing.T, e *env) {
	t.Helper()
	p, err := portal.New(portal.Options{Store: e.store, Billing: planLister{}, TokenKey: []byte("0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	e.reg = prometheus.NewRegistry()
	e.server, err = api.New(api.Options{Store: e.store, Bus: e.bus, Tenants: e.tenants, Portal: p,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Registerer: e.reg, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.http.Close()
	e.http = httptest.NewServer(e.server)
	t.Cleanup(e.http.Close)
}

func TestPortalSettingsAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.do("GET", "/api/v1/portal/settings", "", nil).want(t, http.StatusUnauthorized, nil)
		a, b := e.tenant("Kilimani"), e.tenant("Westlands")
		_, admin := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")
		_, tech := e.user(a.ID, controlplane.RoleTechnician, "tech@a.test")
		_, adminB := e.user(b.ID, controlplane.RoleTenantAdmin, "admin@b.test")
		e.do("GET", "/api/v1/portal/settings", admin, nil).want(t, http.StatusServiceUnavailable, nil)
		withPortal(t, e)

		var got controlplane.PortalSettings
		e.do("GET", "/api/v1/portal/settings", admin, nil).want(t, http.StatusOK, &got)
		if got.TenantID != a.ID || got.Slug != "" || got.PlanIDs == nil {
			t.Errorf("defaults = %+v", got)
		}
		e.do("PUT", "/api/v1/portal/settings", admin, map[string]any{"slug": "kilimani", "name": "Kilimani WiFi",
			"primary_color": "#0b3d91", "plan_ids": []int64{}}).want(t, http.StatusOK, &got)
		if got.Slug != "kilimani" || got.Name != "Kilimani WiFi" || got.PrimaryColor != "#0b3d91" {
			t.Errorf("updated = %+v", got)
		}
		e.do("PUT", "/api/v1/portal/settings", admin, map[string]any{"accent_color": "blue"}).want(t, http.StatusBadRequest, nil)
		e.do("PUT", "/api/v1/portal/settings", admin, map[string]any{"nope": 1}).want(t, http.StatusBadRequest, nil)
		e.do("PUT", "/api/v1/portal/settings", adminB, map[string]any{"slug": "kilimani"}).want(t, http.StatusConflict, nil)
		e.do("PUT", "/api/v1/portal/settings", tech, map[string]any{"name": "x"}).want(t, http.StatusForbidden, nil)
		e.do("GET", "/api/v1/portal/settings", tech, nil).want(t, http.StatusForbidden, nil)
		e.do("GET", "/api/v1/portal/settings?tenant_id="+itoa(b.ID), admin, nil).want(t, http.StatusNotFound, nil)
		got = controlplane.PortalSettings{}
		e.do("GET", "/api/v1/portal/settings", adminB, nil).want(t, http.StatusOK, &got)
		if got.TenantID != b.ID || got.Slug != "" {
			t.Errorf("tenant B sees %+v", got)
		}
	})
}
