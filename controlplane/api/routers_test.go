package api_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
)

func TestRouterLifecycle(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a := e.tenant("A")
		_, tokA := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")

		var created controlplane.RouterSecret
		r := e.do("POST", "/api/v1/routers", tokA, map[string]string{"name": "Main St", "site": "Nairobi"})
		r.want(t, http.StatusCreated, &created)
		id := created.Router.ID
		if created.Router.TenantID != a.ID || created.Router.Status != controlplane.RouterPending || !strings.HasPrefix(created.Secret, "sps_") {
			t.Fatalf("created %+v", created)
		}
		if r.header.Get("Location") != "/api/v1/routers/"+id {
			t.Fatalf("Location %q", r.header.Get("Location"))
		}
		checkAgentCommand(t, created.AgentCommand, id, publicMQTT, created.Secret)
		if _, err := e.store.VerifyRouterSecret(e.ctx(), id, created.Secret); err != nil {
			t.Fatalf("secret from the API does not verify: %v", err)
		}

		// The secret is shown once: never by GET or list.
		for _, path := range []string{"/api/v1/routers/" + id, "/api/v1/routers"} {
			r := e.do("GET", path, tokA, nil)
			r.want(t, http.StatusOK, nil)
			if strings.Contains(string(r.body), created.Secret) || strings.Contains(string(r.body), "secret") {
				t.Fatalf("GET %s shows the secret: %s", path, r.body)
			}
		}

		var rotated controlplane.RouterSecret
		e.do("POST", "/api/v1/routers/"+id+"/rotate-secret", tokA, nil).want(t, http.StatusOK, &rotated)
		if rotated.Secret == created.Secret || !strings.Contains(rotated.AgentCommand, rotated.Secret) {
			t.Fatalf("rotation answered %+v", rotated)
		}
		if _, err := e.store.VerifyRouterSecret(e.ctx(), id, created.Secret); controlplane.ErrorCode(err) != controlplane.EUNAUTHORIZED {
			t.Fatalf("old secret after rotation: err %v, want unauthorized", err)
		}
		if _, err := e.store.VerifyRouterSecret(e.ctx(), id, rotated.Secret); err != nil {
			t.Fatalf("new secret: %v", err)
		}
		if got := e.inval.list(); !slices.Equal(got, []string{id}) {
			t.Fatalf("invalidated %v after rotation, want [%s]", got, id)
		}

		var revoked controlplane.Router
		e.do("POST", "/api/v1/routers/"+id+"/revoke", tokA, nil).want(t, http.StatusOK, &revoked)
		if revoked.Status != controlplane.RouterRevoked {
			t.Fatalf("status %s after revoke", revoked.Status)
		}
		if _, err := e.store.VerifyRouterSecret(e.ctx(), id, rotated.Secret); controlplane.ErrorCode(err) != controlplane.EUNAUTHORIZED {
			t.Fatalf("secret after revoke: err %v, want unauthorized", err)
		}
		if got := e.inval.list(); !slices.Equal(got, []string{id, id}) {
			t.Fatalf("invalidated %v after revoke, want [%s %s]", got, id, id)
		}
		e.do("POST", "/api/v1/routers/"+id+"/rotate-secret", tokA, nil).wantError(t, http.StatusConflict, controlplane.ECONFLICT, "revoked")

		var audit controlplane.AuditPage
		e.do("GET", "/api/v1/audit", tokA, nil).want(t, http.StatusOK, &audit)
		var actions []string
		for _, a := range audit.Data {
			actions = append(actions, a.Action+" "+a.Target+" "+a.Result)
			if strings.Contains(a.Detail, "sps_") {
				t.Fatalf("audit detail holds a secret: %+v", a)
			}
		}
		for _, want := range []string{"router.create router:" + id + " ok", "router.rotate_secret router:" + id + " ok", "router.revoke router:" + id + " ok"} {
			if !slices.Contains(actions, want) {
				t.Fatalf("audit %v lacks %q", actions, want)
			}
		}
	})
}

func TestCreateRouterTenantChoice(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a, b := e.tenant("A"), e.tenant("B")
		pending, err := e.store.CreateTenant(e.ctx(), "Pending")
		if err != nil {
			t.Fatal(err)
		}
		_, root := e.user(0, controlplane.RoleSystemAdmin, "root@sitepulse.test")
		_, tokA := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")

		var rs controlplane.RouterSecret
		e.do("POST", "/api/v1/routers", root, map[string]any{"name": "B1", "tenant_id": b.ID}).want(t, http.StatusCreated, &rs)
		if rs.Router.TenantID != b.ID {
			t.Fatalf("system admin enrolled into tenant %d, want %d", rs.Router.TenantID, b.ID)
		}
		e.do("POST", "/api/v1/routers", root, map[string]any{"name": "X"}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "tenant_id: required")
		e.do("POST", "/api/v1/routers", root, map[string]any{"name": "X", "tenant_id": 999999}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "tenant_id:")
		e.do("POST", "/api/v1/routers", root, map[string]any{"name": "X", "tenant_id": pending.ID}).
			wantError(t, http.StatusConflict, controlplane.ECONFLICT, "pending")
		e.do("POST", "/api/v1/routers", tokA, map[string]any{"name": "X", "tenant_id": b.ID}).
			wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "tenant_id")
		e.do("POST", "/api/v1/routers", tokA, map[string]any{"name": "A1", "tenant_id": a.ID}).want(t, http.StatusCreated, &rs)
		if rs.Router.TenantID != a.ID {
			t.Fatalf("tenant admin enrolled into tenant %d, want %d", rs.Router.TenantID, a.ID)
		}
	})
}

// TestTenantIsolation: tenant A's admin gets 404 for every router, session
// and user of tenant B, and lists show nothing of B.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a, b := e.tenant("A"), e.tenant("B")
		_, tokA := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")
		userB, tokB := e.user(b.ID, controlplane.RoleTenantAdmin, "admin@b.test")
		ra, _ := e.router(a.ID, "ra")
		rb, _ := e.router(b.ID, "rb")
		now := e.clock.Now()
		e.apply(ra.ID, started(hotspot("alice", now)))
		sb := hotspot("bob", now)
		e.apply(rb.ID, started(sb), started(pppoe("carol", "0x81", now)))
		e.apply(rb.ID, ended(sb, now.Add(1)))
		// Something in B's audit log.
		e.do("POST", "/api/v1/routers/"+rb.ID+"/rotate-secret", tokB, nil).want(t, http.StatusOK, nil)

		bUsers := "/api/v1/tenants/" + itoa(b.ID) + "/users"
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/v1/routers/" + rb.ID},
			{"POST", "/api/v1/routers/" + rb.ID + "/rotate-secret"},
			{"POST", "/api/v1/routers/" + rb.ID + "/revoke"},
			{"GET", "/api/v1/routers/" + rb.ID + "/sessions"},
			{"GET", "/api/v1/tenants/" + itoa(b.ID)},
			{"GET", bUsers},
			{"POST", bUsers},
			{"GET", bUsers + "/" + itoa(userB.ID)},
			{"PATCH", bUsers + "/" + itoa(userB.ID)},
		} {
			var body any
			if c.method == "POST" || c.method == "PATCH" {
				body = map[string]any{"name": "x", "email": "x@a.test", "role": "viewer", "password": "a long enough password"}
			}
			e.do(c.method, c.path, tokA, body).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		}
		// Also a user of B addressed through A's tenant path.
		e.do("GET", "/api/v1/tenants/"+itoa(a.ID)+"/users/"+itoa(userB.ID), tokA, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")

		var routers controlplane.List[controlplane.Router]
		e.do("GET", "/api/v1/routers", tokA, nil).want(t, http.StatusOK, &routers)
		if len(routers.Data) != 1 || routers.Data[0].ID != ra.ID {
			t.Fatalf("A lists routers %+v", routers.Data)
		}
		var sessions controlplane.Page[controlplane.Session]
		e.do("GET", "/api/v1/sessions", tokA, nil).want(t, http.StatusOK, &sessions)
		if sessions.Total != 1 || sessions.Data[0].User != "alice" {
			t.Fatalf("A lists sessions %+v", sessions)
		}
		e.do("GET", "/api/v1/sessions?router_id="+rb.ID, tokA, nil).want(t, http.StatusOK, &sessions)
		if sessions.Total != 0 {
			t.Fatalf("A sees %d sessions of B's router", sessions.Total)
		}
		var history controlplane.Page[controlplane.SessionRecord]
		e.do("GET", "/api/v1/sessions/history", tokA, nil).want(t, http.StatusOK, &history)
		if history.Total != 0 {
			t.Fatalf("A sees B's history %+v", history.Data)
		}
		var audit controlplane.AuditPage
		e.do("GET", "/api/v1/audit", tokA, nil).want(t, http.StatusOK, &audit)
		for _, en := range audit.Data {
			if en.TenantID != a.ID {
				t.Fatalf("A's audit shows %+v", en)
			}
		}
		// tenant_id narrows a system admin's lists; for anyone else another
		// tenant's id is as unknown as its routers.
		for _, path := range []string{"/api/v1/sessions", "/api/v1/sessions/history", "/api/v1/routers", "/api/v1/stats", "/api/v1/audit"} {
			e.do("GET", path+"?tenant_id="+itoa(b.ID), tokA, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
			e.do("GET", path+"?tenant_id="+itoa(a.ID), tokA, nil).want(t, http.StatusOK, nil)
		}
		_, root := e.user(0, controlplane.RoleSystemAdmin, "root@sitepulse.test")
		e.do("GET", "/api/v1/sessions?tenant_id="+itoa(b.ID), root, nil).want(t, http.StatusOK, &sessions)
		if sessions.Total != 1 || sessions.Data[0].User != "carol" {
			t.Fatalf("root narrowed to B sees %+v", sessions)
		}
		e.do("GET", "/api/v1/sessions", root, nil).want(t, http.StatusOK, &sessions)
		if sessions.Total != 2 {
			t.Fatalf("root sees %d live sessions, want 2", sessions.Total)
		}
		e.do("GET", "/api/v1/sessions?tenant_id=x", root, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "tenant_id:")

		var stats controlplane.Stats
		e.do("GET", "/api/v1/stats", tokA, nil).want(t, http.StatusOK, &stats)
		if stats.OnlineHotspot != 1 || stats.OnlinePPPoE != 0 || stats.RoutersTotal != 1 {
			t.Fatalf("A's stats %+v", stats)
		}
	})
}

func TestRolesCannotMutate(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a := e.tenant("A")
		admin, _ := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")
		_, viewer := e.user(a.ID, controlplane.RoleViewer, "viewer@a.test")
		_, tech := e.user(a.ID, controlplane.RoleTechnician, "tech@a.test")
		ra, _ := e.router(a.ID, "ra")
		users := "/api/v1/tenants/" + itoa(a.ID) + "/users"
		body := map[string]any{"name": "x", "email": "x@a.test", "role": "viewer", "password": "a long enough password"}

		for _, c := range []struct {
			who, token, method, path string
		}{
			{"viewer", viewer, "POST", "/api/v1/routers"},
			{"viewer", viewer, "POST", "/api/v1/routers/" + ra.ID + "/rotate-secret"},
			{"viewer", viewer, "POST", "/api/v1/routers/" + ra.ID + "/revoke"},
			{"viewer", viewer, "POST", "/api/v1/tenants"},
			{"viewer", viewer, "GET", users},
			{"viewer", viewer, "POST", users},
			{"viewer", viewer, "PATCH", users + "/" + itoa(admin.ID)},
			{"viewer", viewer, "GET", "/api/v1/audit"},
			{"technician", tech, "POST", "/api/v1/routers"},
			{"technician", tech, "POST", "/api/v1/routers/" + ra.ID + "/revoke"},
			{"technician", tech, "POST", users},
		} {
			t.Run(c.who+" "+c.method+" "+c.path, func(t *testing.T) {
				var b any
				if c.method != "GET" {
					b = body
				}
				e.do(c.method, c.path, c.token, b).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
			})
		}
		// Reading is allowed.
		for _, path := range []string{"/api/v1/routers", "/api/v1/routers/" + ra.ID, "/api/v1/sessions", "/api/v1/stats", "/api/v1/me"} {
			e.do("GET", path, viewer, nil).want(t, http.StatusOK, nil)
		}
		if got, err := e.store.GetRouter(e.ctx(), 0, ra.ID); err != nil || got.Status == controlplane.RouterRevoked {
			t.Fatalf("router after refused revokes: %+v %v", got, err)
		}
	})
}

// checkAgentCommand runs the part of the agent command that stores the
// secret (in a temporary directory instead of /etc/sitepulse) and checks
// the agent is started with the secret file, never the secret itself.
func checkAgentCommand(t *testing.T, cmd, id, mqttURL, secret string) {
	t.Helper()
	store, run, ok := strings.Cut(cmd, " && sitepulse-agent run ")
	wantRun := "--router-id " + id + " --mqtt-url " + mqttURL + " --mqtt-secret-file " + api.AgentSecretFile +
		" --router-addr ROUTER_IP:8728 --router-user sitepulse --router-password-file /etc/sitepulse/router-password"
	if !ok || run != wantRun || strings.Contains(run, secret) {
		t.Fatalf("agent command %q: want it to store the secret, then run %q", cmd, wantRun)
	}
	dir := t.TempDir()
	out, err := exec.Command("sh", "-c", strings.ReplaceAll(store, "/etc/sitepulse", dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("storing the secret: %v %s", err, out)
	}
	fi, err := os.Stat(filepath.Join(dir, "mqtt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "mqtt-secret"))
	if string(b) != secret+"\n" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file %q mode %v, want the secret and 0600", b, fi.Mode().Perm())
	}
}
