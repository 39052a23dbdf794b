package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// withProvisioning replaces e's server by one with a provisioning service
// on e's store and bus (not started: commands stay queued, which is all
// the API shows).
func withProvisioning(t *testing.T, e *env) *provisioning.Service {
	t.Helper()
	svc, err := provisioning.New(provisioning.Options{Store: e.store, Bus: e.bus, DisablePeriodic: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	e.reg = prometheus.NewRegistry()
	e.server, err = api.New(api.Options{Store: e.store, Bus: e.bus, Tenants: e.tenants, Provisioning: svc,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Registerer: e.reg, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.http.Close()
	e.http = httptest.NewServer(e.server)
	t.Cleanup(e.http.Close)
	return svc
}

// people is one tenant's users and routers plus a foreign tenant's.
type people struct {
	a, b                                controlplane.Tenant
	ra, ra2, rb                         controlplane.Router
	techA, viewerA, adminA, techB, root string
}

func newPeople(e *env) people {
	var p people
	p.a, p.b = e.tenant("A"), e.tenant("B")
	p.ra, _ = e.router(p.a.ID, "ra")
	p.ra2, _ = e.router(p.a.ID, "ra2")
	p.rb, _ = e.router(p.b.ID, "rb")
	_, p.techA = e.user(p.a.ID, controlplane.RoleTechnician, "tech@a.example")
	_, p.viewerA = e.user(p.a.ID, controlplane.RoleViewer, "viewer@a.example")
	_, p.adminA = e.user(p.a.ID, controlplane.RoleTenantAdmin, "admin@a.example")
	_, p.techB = e.user(p.b.ID, controlplane.RoleTechnician, "tech@b.example")
	_, p.root = e.user(0, controlplane.RoleSystemAdmin, "root@example.com")
	return p
}

func TestCommandsAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		withProvisioning(t, e)
		p := newPeople(e)
		add := map[string]any{"kind": "hotspot.user.add", "hotspot_user": map[string]any{"name": "+254712345678", "password": "pw-secret-1", "profile": "1h"}}

		res := e.do("POST", "/api/v1/routers/"+p.ra.ID+"/commands", p.techA, add)
		var c controlplane.Command
		res.want(t, http.StatusAccepted, &c)
		if c.ID == "" || c.Status != controlplane.CommandQueued || c.RouterID != p.ra.ID || c.Kind != protocol.CmdHotspotUserAdd ||
			c.Params.HotspotUser == nil || c.Params.HotspotUser.Name != "+254712345678" || c.Actor != "tech@a.example" {
			t.Fatalf("created %+v", c)
		}
		if loc := res.header.Get("Location"); loc != "/api/v1/commands/"+c.ID {
			t.Errorf("Location %q", loc)
		}
		if strings.Contains(string(res.body), "pw-secret-1") {
			t.Errorf("answer holds the password: %s", res.body)
		}
		var got controlplane.Command
		e.do("GET", "/api/v1/commands/"+c.ID, p.viewerA, nil).want(t, http.StatusOK, &got)
		if got.ID != c.ID || got.Params.HotspotUser.Password != "" {
			t.Errorf("GET = %+v", got)
		}
		e.do("GET", "/api/v1/commands/"+c.ID, p.techB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")

		raw := map[string]any{"kind": "raw", "raw": map[string]any{"path": "/system/identity/print"}}
		for _, tc := range []struct {
			name, token, router string
			body                any
			status              int
			code, msg           string
		}{
			{"technician of another tenant", p.techB, p.ra.ID, add, http.StatusNotFound, controlplane.ENOTFOUND, "router"},
			{"viewer", p.viewerA, p.ra.ID, add, http.StatusForbidden, controlplane.EFORBIDDEN, "viewer"},
			{"raw by a tenant admin", p.adminA, p.ra.ID, raw, http.StatusForbidden, controlplane.EFORBIDDEN, "raw"},
			{"unknown field", p.techA, p.ra.ID, map[string]any{"kind": "resync", "force": true}, http.StatusBadRequest, controlplane.EINVALID, "force"},
			{"missing params", p.techA, p.ra.ID, map[string]any{"kind": "hotspot.user.add"}, http.StatusBadRequest, controlplane.EINVALID, "hotspot_user"},
			{"unknown kind", p.techA, p.ra.ID, map[string]any{"kind": "reboot"}, http.StatusBadRequest, controlplane.EINVALID, "kind"},
			{"ttl too long", p.techA, p.ra.ID, map[string]any{"kind": "resync", "ttl_seconds": 10000000}, http.StatusBadRequest, controlplane.EINVALID, "ttl_seconds"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.do("POST", "/api/v1/routers/"+tc.router+"/commands", tc.token, tc.body).wantError(t, tc.status, tc.code, tc.msg)
			})
		}
		e.do("POST", "/api/v1/routers/"+p.rb.ID+"/commands", p.root, raw).want(t, http.StatusAccepted, nil)

		// Refusals are audited with the actor.
		var audit controlplane.AuditPage
		e.do("GET", "/api/v1/audit?limit=100", p.adminA, nil).want(t, http.StatusOK, &audit)
		found := false
		for _, a := range audit.Data {
			found = found || (a.Action == "command.create" && a.Actor == "viewer@a.example" && a.Result == controlplane.EFORBIDDEN)
		}
		if !found {
			t.Errorf("the viewer's refused command is not audited: %+v", audit.Data)
		}

		var page controlplane.Page[controlplane.Command]
		e.do("GET", "/api/v1/commands?status=queued&router_id="+p.ra.ID, p.viewerA, nil).want(t, http.StatusOK, &page)
		if page.Total != 1 || page.Data[0].ID != c.ID {
			t.Errorf("filtered list = %+v", page)
		}
		e.do("GET", "/api/v1/commands?status=done", p.techA, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "status")
		e.do("GET", "/api/v1/commands?tenant_id="+itoa(p.b.ID), p.techA, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("GET", "/api/v1/commands", p.root, nil).want(t, http.StatusOK, &page)
		if page.Total != 2 {
			t.Errorf("system admin sees %d commands, want 2", page.Total)
		}

		e.do("POST", "/api/v1/commands/"+c.ID+"/cancel", p.viewerA, nil).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", "/api/v1/commands/"+c.ID+"/cancel", p.techA, nil).want(t, http.StatusOK, &got)
		if got.Status != controlplane.CommandCancelled {
			t.Errorf("cancelled = %+v", got)
		}
		e.do("POST", "/api/v1/commands/"+c.ID+"/cancel", p.techA, nil).wantError(t, http.StatusConflict, controlplane.ECONFLICT, "cancelled")

		var bulk controlplane.BulkResult
		res = e.do("POST", "/api/v1/commands/bulk", p.techA, map[string]any{"all_routers": true, "command": map[string]any{"kind": "resync"}})
		res.want(t, http.StatusAccepted, &bulk)
		if len(bulk.Commands) != 2 || bulk.BulkID == "" || res.header.Get("Location") != "/api/v1/commands?bulk_id="+bulk.BulkID {
			t.Errorf("bulk = %+v, Location %q", bulk, res.header.Get("Location"))
		}
		e.do("GET", "/api/v1/commands?bulk_id="+bulk.BulkID, p.techA, nil).want(t, http.StatusOK, &page)
		if page.Total != 2 {
			t.Errorf("bulk list total %d", page.Total)
		}
		e.do("POST", "/api/v1/commands/bulk", p.techA, map[string]any{"router_ids": []string{p.ra.ID, p.rb.ID}, "command": map[string]any{"kind": "resync"}}).
			wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")

		var jobs controlplane.List[controlplane.FailedJob]
		e.do("GET", "/api/v1/jobs/failed", p.root, nil).want(t, http.StatusOK, &jobs)
		if jobs.Data == nil {
			t.Error("failed jobs must be a list")
		}
		e.do("GET", "/api/v1/jobs/failed", p.adminA, nil).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
	})
}

func TestAccountsAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		withProvisioning(t, e)
		p := newPeople(e)
		body := map[string]any{"kind": "hotspot", "name": "+254712345678", "password": "pw-secret-2", "profile": "1h",
			"phone": "+254712345678", "router_ids": []string{p.ra.ID, p.ra2.ID}}
		e.do("POST", "/api/v1/accounts", p.viewerA, body).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		res := e.do("POST", "/api/v1/accounts", p.techA, body)
		var created controlplane.AccountResult
		res.want(t, http.StatusAccepted, &created)
		a := created.Account
		if a.ID == 0 || a.TenantID != p.a.ID || len(a.Routers) != 2 || len(created.Commands) != 2 || res.header.Get("Location") != "/api/v1/accounts/"+itoa(a.ID) {
			t.Fatalf("created %+v", created)
		}
		if strings.Contains(string(res.body), "pw-secret-2") {
			t.Errorf("answer holds the password: %s", res.body)
		}
		for _, r := range a.Routers {
			if r.State != controlplane.SyncPending {
				t.Errorf("router state %+v", r)
			}
		}
		e.do("POST", "/api/v1/accounts", p.techA, body).wantError(t, http.StatusConflict, controlplane.ECONFLICT, "exists")
		e.do("POST", "/api/v1/accounts", p.techA, map[string]any{"kind": "radius", "name": "x"}).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "kind")

		var got controlplane.Account
		res = e.do("GET", "/api/v1/accounts/"+itoa(a.ID), p.viewerA, nil)
		res.want(t, http.StatusOK, &got)
		if got.Name != "+254712345678" || strings.Contains(string(res.body), "pw-secret-2") {
			t.Errorf("GET = %s", res.body)
		}
		e.do("GET", "/api/v1/accounts/"+itoa(a.ID), p.techB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		var page controlplane.Page[controlplane.Account]
		e.do("GET", "/api/v1/accounts?kind=hotspot&state=pending&router_id="+p.ra2.ID, p.viewerA, nil).want(t, http.StatusOK, &page)
		if page.Total != 1 {
			t.Errorf("filtered accounts: %d", page.Total)
		}
		e.do("GET", "/api/v1/accounts?kind=pppoe", p.viewerA, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "kind")

		var up controlplane.AccountResult
		e.do("PATCH", "/api/v1/accounts/"+itoa(a.ID), p.techA, map[string]any{"profile": "2h"}).want(t, http.StatusAccepted, &up)
		if up.Account.Profile != "2h" || len(up.Commands) != 2 || up.Commands[0].Kind != protocol.CmdHotspotUserSet {
			t.Errorf("patched %+v", up)
		}
		e.do("PATCH", "/api/v1/accounts/"+itoa(a.ID), p.techB, map[string]any{"profile": "x"}).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("PUT", "/api/v1/accounts/"+itoa(a.ID)+"/routers", p.techA, map[string]any{}).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "router_ids")
		e.do("PUT", "/api/v1/accounts/"+itoa(a.ID)+"/routers", p.techA, map[string]any{"router_ids": []string{p.ra.ID}}).want(t, http.StatusAccepted, &up)
		if len(up.Account.Routers) != 1 || len(up.Commands) != 1 || up.Commands[0].Kind != protocol.CmdHotspotUserRemove {
			t.Errorf("set routers %+v", up)
		}
		e.do("DELETE", "/api/v1/accounts/"+itoa(a.ID), p.techA, nil).want(t, http.StatusAccepted, &up)
		e.do("GET", "/api/v1/accounts/"+itoa(a.ID), p.techA, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
	})
}

func TestProvisioningUnavailableWithoutService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	ten := e.tenant("A")
	r, _ := e.router(ten.ID, "r")
	_, tok := e.user(ten.ID, controlplane.RoleTechnician, "t@a.example")
	e.do("POST", "/api/v1/routers/"+r.ID+"/commands", tok, map[string]any{"kind": "resync"}).
		wantError(t, http.StatusServiceUnavailable, controlplane.EUNAVAILABLE, "provisioning")
	e.do("GET", "/api/v1/accounts", tok, nil).wantError(t, http.StatusServiceUnavailable, controlplane.EUNAVAILABLE, "provisioning")
}

// TestOpenAPIProvisioningSchemas: the provisioning schemas list exactly
// the JSON fields of the Go types.
func TestOpenAPIProvisioningSchemas(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPI)
	for name, v := range map[string]any{
		"Command":               controlplane.Command{},
		"CommandParams":         controlplane.CommandParams{},
		"HotspotUser":           protocol.HotspotUser{},
		"PPPSecret":             protocol.PPPSecret{},
		"Kick":                  protocol.Kick{},
		"ProfileRate":           protocol.ProfileRate{},
		"ProfileSpec":           protocol.ProfileSpec{},
		"RawCommand":            protocol.RawCommand{},
		"CommandRequest":        controlplane.CommandRequest{},
		"BulkRequest":           controlplane.BulkRequest{},
		"BulkResult":            controlplane.BulkResult{},
		"CommandPage":           controlplane.Page[controlplane.Command]{},
		"Account":               controlplane.Account{},
		"AccountRouter":         controlplane.AccountRouter{},
		"AccountRequest":        controlplane.AccountRequest{},
		"AccountPatch":          controlplane.AccountPatch{},
		"AccountRoutersRequest": controlplane.AccountRoutersRequest{},
		"AccountResult":         controlplane.AccountResult{},
		"AccountPage":           controlplane.Page[controlplane.Account]{},
		"FailedJob":             controlplane.FailedJob{},
		"FailedJobList":         controlplane.List[controlplane.FailedJob]{},
	} {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var got []string
		for p := range s.Properties {
			got = append(got, p)
		}
		want := jsonFields(reflect.TypeOf(v))
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s properties %v, Go type has %v", name, got, want)
		}
	}
}
