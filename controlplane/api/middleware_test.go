package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

func TestInvalidBodiesNameTheField(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a := e.tenant("A")
		_, tok := e.user(a.ID, controlplane.RoleTenantAdmin, "admin@a.test")
		users := "/api/v1/tenants/" + itoa(a.ID) + "/users"
		for _, c := range []struct {
			name, path, body string
			status           int
			code, substr     string
		}{
			{"unknown field", "/api/v1/routers", `{"name":"x","colour":"red"}`, 400, controlplane.EINVALID, "colour: unknown field"},
			{"wrong type", "/api/v1/routers", `{"name":42}`, 400, controlplane.EINVALID, "name: must be a string"},
			{"wrong type nested int", "/api/v1/routers", `{"name":"x","tenant_id":"seven"}`, 400, controlplane.EINVALID, "tenant_id: must be an integer"},
			{"missing required", "/api/v1/routers", `{"site":"x"}`, 400, controlplane.EINVALID, "name: required"},
			{"too long", "/api/v1/routers", `{"name":"` + strings.Repeat("n", 201) + `"}`, 400, controlplane.EINVALID, "name: must be at most"},
			{"control chars", "/api/v1/routers", `{"name":"a\u0007b"}`, 400, controlplane.EINVALID, "name: must not contain control"},
			{"not json", "/api/v1/routers", `name=x`, 400, controlplane.EINVALID, "not valid JSON"},
			{"empty", "/api/v1/routers", ``, 400, controlplane.EINVALID, "empty"},
			{"truncated", "/api/v1/routers", `{"name":"x"`, 400, controlplane.EINVALID, "truncated"},
			{"two objects", "/api/v1/routers", `{"name":"x"}{"name":"y"}`, 400, controlplane.EINVALID, "exactly one JSON object"},
			{"array", "/api/v1/routers", `["x"]`, 400, controlplane.EINVALID, "must be a JSON object"},
			{"too large", "/api/v1/routers", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, 413, controlplane.ETOOLARGE, "larger than 1048576 bytes"},
			{"bad email", users, `{"email":"not-an-email","name":"N","role":"viewer","password":"a long enough password"}`, 400, controlplane.EINVALID, "email:"},
			{"bad role", users, `{"email":"n@a.test","name":"N","role":"owner","password":"a long enough password"}`, 400, controlplane.EINVALID, "role:"},
			{"short password", users, `{"email":"n@a.test","name":"N","role":"viewer","password":"short"}`, 400, controlplane.EINVALID, "password: must be at least 12"},
			{"missing name", users, `{"email":"n@a.test","role":"viewer","password":"a long enough password"}`, 400, controlplane.EINVALID, "name: required"},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.do("POST", c.path, tok, c.body).wantError(t, c.status, c.code, c.substr)
			})
		}
		t.Run("wrong content type", func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/routers", strings.NewReader(`{"name":"x"}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "text/plain")
			res, err := e.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", res.StatusCode)
			}
		})
	})
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	e.do("GET", "/api/v1/nope", "", nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "no such endpoint")
	r := e.do("PUT", "/api/v1/routers", "", nil)
	r.wantError(t, http.StatusMethodNotAllowed, "method_not_allowed", "Allow")
	if r.header.Get("Allow") == "" {
		t.Fatal("405 without Allow header")
	}
}

// panicky wraps the real store and panics in one method, to exercise
// recovery end to end.
type panicky struct{ *store.Store }

func (panicky) ListRouters(context.Context, int64) ([]controlplane.Router, error) {
	panic("boom")
}

func TestPanicRecoveryLoggingAndMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	reg := prometheus.NewRegistry()
	logs := &testkit.LogBuffer{}
	srv, err := api.New(api.Options{Store: panicky{e.store}, Registerer: reg, Logger: slogJSON(logs)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	e.http = hs

	ten := e.tenant("A")
	e.user(ten.ID, controlplane.RoleViewer, "v@a.test")
	const password = "correct horse battery"
	var lr controlplane.LoginResponse
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "v@a.test", "password": password}).want(t, http.StatusOK, &lr)

	r := e.do("GET", "/api/v1/routers", lr.Token, nil)
	r.wantError(t, http.StatusInternalServerError, controlplane.EINTERNAL, "internal error")
	if r.header.Get("X-Request-Id") == "" {
		t.Fatal("no X-Request-Id")
	}
	// The server still serves.
	e.do("GET", "/api/v1/me", lr.Token, nil).want(t, http.StatusOK, nil)

	req, _ := http.NewRequest("GET", hs.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+lr.Token)
	req.Header.Set("X-Request-Id", "trace-me-42")
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-Id"); got != "trace-me-42" {
		t.Fatalf("X-Request-Id %q, want the caller's", got)
	}

	for _, c := range []struct {
		route, code string
		want        float64
	}{
		{"GET /api/v1/routers", "500", 1},
		{"GET /api/v1/me", "200", 2},
		{"POST /api/v1/auth/login", "200", 1},
	} {
		got := requestCount(t, reg, c.route, c.code)
		if got != c.want {
			t.Fatalf("requests{route=%q,code=%s} = %v, want %v", c.route, c.code, got, c.want)
		}
	}

	out := logs.String()
	for _, secret := range []string{password, lr.Token, "Bearer"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`"msg":"handler panic"`, `"route":"GET /api/v1/routers"`, `"request_id":"trace-me-42"`, `"status":500`} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %s:\n%s", want, out)
		}
	}
}
