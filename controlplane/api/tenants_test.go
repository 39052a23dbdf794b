package api_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestCreateTenantCompletesAsynchronously(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		e.runJobs()
		_, root := e.user(0, controlplane.RoleSystemAdmin, "root@sitepulse.test")
		sub := e.bus.Subscribe(16)
		defer sub.Close()

		var acc controlplane.Accepted
		r := e.do("POST", "/api/v1/tenants", root, map[string]string{"name": "Fibre Co"})
		r.want(t, http.StatusAccepted, &acc)
		if acc.Status != controlplane.TenantPending || acc.ID == 0 {
			t.Fatalf("accepted %+v, want a pending tenant id", acc)
		}
		loc := r.header.Get("Location")
		if loc != "/api/v1/tenants/"+itoa(acc.ID) {
			t.Fatalf("Location %q", loc)
		}

		testkit.Eventually(t, 0, "the tenant activated by its job", func() bool {
			var ten controlplane.Tenant
			e.do("GET", loc, root, nil).want(t, http.StatusOK, &ten)
			return ten.Status == controlplane.TenantActive
		})
		select {
		case c := <-sub.C:
			tc, ok := c.(controlplane.TenantCreated)
			if !ok || tc.Tenant.ID != acc.ID {
				t.Fatalf("bus got %#v, want TenantCreated for %d", c, acc.ID)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no TenantCreated on the bus")
		}

		var audit controlplane.AuditPage
		e.do("GET", "/api/v1/audit", root, nil).want(t, http.StatusOK, &audit)
		actions := map[string]string{}
		for _, a := range audit.Data {
			actions[a.Action] = a.Actor + "/" + a.Result
		}
		if actions["tenant.create"] != "root@sitepulse.test/ok" || actions["tenant.activate"] != "system/ok" {
			t.Fatalf("audit actions %v, want tenant.create by root and tenant.activate by system", actions)
		}

		var list controlplane.List[controlplane.Tenant]
		e.do("GET", "/api/v1/tenants", root, nil).want(t, http.StatusOK, &list)
		if len(list.Data) != 1 || list.Data[0].Name != "Fibre Co" {
			t.Fatalf("tenants %+v", list.Data)
		}
	})
}

func TestTenantsAccess(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a, b := e.tenant("A"), e.tenant("B")
		_, adminA := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")
		_, viewerA := e.user(a.ID, controlplane.RoleViewer, "viewer@a.test")

		e.do("POST", "/api/v1/tenants", adminA, map[string]string{"name": "Mine"}).
			wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "system admins")
		e.do("GET", "/api/v1/tenants/"+itoa(a.ID), viewerA, nil).want(t, http.StatusOK, nil)
		e.do("GET", "/api/v1/tenants/"+itoa(b.ID), viewerA, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("GET", "/api/v1/tenants/x", viewerA, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "id:")

		var list controlplane.List[controlplane.Tenant]
		e.do("GET", "/api/v1/tenants", adminA, nil).want(t, http.StatusOK, &list)
		if len(list.Data) != 1 || list.Data[0].ID != a.ID {
			t.Fatalf("tenant admin lists %+v, want only tenant %d", list.Data, a.ID)
		}
	})
}

func TestUsers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a := e.tenant("A")
		adminA, tokA := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")
		_, root := e.user(0, controlplane.RoleSystemAdmin, "root@sitepulse.test")
		base := "/api/v1/tenants/" + itoa(a.ID) + "/users"

		var tech controlplane.User
		r := e.do("POST", base, tokA, map[string]string{"email": "Tech@A.test", "name": "Tess", "role": "technician", "password": "a long enough password"})
		r.want(t, http.StatusCreated, &tech)
		if tech.Email != "tech@a.test" || tech.Role != controlplane.RoleTechnician || tech.TenantID != a.ID {
			t.Fatalf("created %+v", tech)
		}
		if r.header.Get("Location") != base+"/"+itoa(tech.ID) {
			t.Fatalf("Location %q", r.header.Get("Location"))
		}
		// The new user can log in.
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "tech@a.test", "password": "a long enough password"}).want(t, http.StatusOK, nil)

		e.do("POST", base, tokA, map[string]string{"email": "tech@a.test", "name": "Dup", "role": "viewer", "password": "a long enough password"}).
			wantError(t, http.StatusConflict, controlplane.ECONFLICT, "")
		e.do("POST", base, tokA, map[string]string{"email": "boss@a.test", "name": "Boss", "role": "system_admin", "password": "a long enough password"}).
			wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "system_admin")
		e.do("POST", base, root, map[string]string{"email": "boss@a.test", "name": "Boss", "role": "system_admin", "password": "a long enough password"}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "role:")

		var list controlplane.List[controlplane.User]
		e.do("GET", base, tokA, nil).want(t, http.StatusOK, &list)
		if len(list.Data) != 2 {
			t.Fatalf("listed %d users, want 2", len(list.Data))
		}
		e.do("GET", base, root, nil).want(t, http.StatusOK, nil)

		var got controlplane.User
		e.do("GET", base+"/"+itoa(tech.ID), tokA, nil).want(t, http.StatusOK, &got)
		if got.ID != tech.ID {
			t.Fatalf("got user %d, want %d", got.ID, tech.ID)
		}

		var upd controlplane.User
		e.do("PATCH", base+"/"+itoa(tech.ID), tokA, map[string]any{"role": "viewer", "name": "Tess V"}).want(t, http.StatusOK, &upd)
		if upd.Role != controlplane.RoleViewer || upd.Name != "Tess V" || upd.Disabled {
			t.Fatalf("updated %+v", upd)
		}
		e.do("PATCH", base+"/"+itoa(tech.ID), tokA, map[string]any{"disabled": true}).want(t, http.StatusOK, &upd)
		if !upd.Disabled {
			t.Fatal("not disabled")
		}
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "tech@a.test", "password": "a long enough password"}).want(t, http.StatusUnauthorized, nil)

		e.do("PATCH", base+"/"+itoa(tech.ID), tokA, map[string]any{"role": "system_admin"}).
			wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("PATCH", base+"/"+itoa(adminA.ID), tokA, map[string]any{"disabled": true}).
			wantError(t, http.StatusConflict, controlplane.ECONFLICT, "disabled:")
		e.do("PATCH", base+"/"+itoa(tech.ID), tokA, map[string]any{}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "nothing to update")

		var audit controlplane.AuditPage
		e.do("GET", "/api/v1/audit", tokA, nil).want(t, http.StatusOK, &audit)
		var creates, updates int
		for _, a := range audit.Data {
			switch a.Action {
			case "user.create":
				creates++
			case "user.update":
				updates++
			}
			if a.Actor != "admin@a.test" {
				t.Fatalf("audit entry by %q in tenant A's log", a.Actor)
			}
		}
		// One create succeeded and one conflicted: both are audited.
		if creates != 2 || updates != 2 {
			t.Fatalf("audit has %d user.create and %d user.update, want 2 and 2: %+v", creates, updates, audit.Data)
		}
	})
}
