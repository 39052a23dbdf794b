package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

func TestSystemStats(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a, b := e.tenant("A"), e.tenant("B")
		_, root := e.user(0, controlplane.RoleSystemAdmin, "root@sitepulse.test")
		_, admin := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")
		ra, _ := e.router(a.ID, "ra")
		e.router(b.ID, "rb")
		e.apply(ra.ID, started(hotspot("h1", time.Now().UTC())))

		e.do("GET", "/api/v1/system/stats", admin, nil).want(t, http.StatusForbidden, nil)
		var st controlplane.SystemStats
		e.do("GET", "/api/v1/system/stats", root, nil).want(t, http.StatusOK, &st)
		if st.Tenants != 2 || st.Stats.RoutersTotal != 2 || st.Stats.OnlineHotspot != 1 || st.Revenue != nil {
			t.Errorf("system stats %+v, want 2 tenants, 2 routers, 1 session, no revenue without billing", st)
		}
	})
}
