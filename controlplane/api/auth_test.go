package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ten := e.tenant("Acme")
		u, _ := e.user(ten.ID, controlplane.RoleTenantAdmin, "admin@acme.test")

		var lr controlplane.LoginResponse
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": " Admin@Acme.test ", "password": "correct horse battery"}).
			want(t, http.StatusOK, &lr)
		if lr.User.ID != u.ID || !strings.HasPrefix(lr.Token, "spt_") {
			t.Fatalf("login answered user %d token %q, want user %d and an spt_ token", lr.User.ID, lr.Token, u.ID)
		}
		if lr.ExpiresAt == nil {
			t.Fatal("login token has no expiry")
		}

		var me controlplane.MeResponse
		e.do("GET", "/api/v1/me", lr.Token, nil).want(t, http.StatusOK, &me)
		if me.User.Email != "admin@acme.test" || me.Tenant == nil || me.Tenant.ID != ten.ID {
			t.Fatalf("me = %+v, want admin@acme.test of tenant %d", me, ten.ID)
		}

		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@acme.test", "password": "wrong password!"}).
			wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "invalid email or password")
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@acme.test", "password": "wrong password!"}).
			wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "invalid email or password")
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@acme.test"}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "password: required")

		// Logout revokes exactly the token used, not the user's others.
		_, other := e.user(ten.ID, controlplane.RoleViewer, "other@acme.test")
		e.do("POST", "/api/v1/auth/logout", lr.Token, nil).want(t, http.StatusNoContent, nil)
		e.do("GET", "/api/v1/me", lr.Token, nil).wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "token")
		e.do("GET", "/api/v1/me", other, nil).want(t, http.StatusOK, nil)
		e.do("POST", "/api/v1/auth/logout", lr.Token, nil).wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "")

		e.do("GET", "/api/v1/me", "", nil).wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "missing bearer token")
		e.do("GET", "/api/v1/me", "spt_forged", nil).wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "invalid")
	})
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ten := e.tenant("Acme")
		e.user(ten.ID, controlplane.RoleViewer, "v@acme.test")
		bad := map[string]string{"email": "v@acme.test", "password": "guess guess guess"}
		for i := range 5 {
			if got := e.do("POST", "/api/v1/auth/login", "", bad).status; got != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status %d, want 401", i+1, got)
			}
		}
		// Even the right password is refused while the bucket is empty.
		good := map[string]string{"email": "v@acme.test", "password": "correct horse battery"}
		r := e.do("POST", "/api/v1/auth/login", "", good)
		r.wantError(t, http.StatusTooManyRequests, controlplane.ERATELIMIT, "too many login attempts")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// Another email from the same address has its own bucket.
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "other@acme.test", "password": "x"}).
			wantError(t, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "")

		// 5 per minute: one attempt comes back after 12 s, not before.
		e.clock.Advance(11 * time.Second)
		e.do("POST", "/api/v1/auth/login", "", good).wantError(t, http.StatusTooManyRequests, controlplane.ERATELIMIT, "")
		e.clock.Advance(2 * time.Second)
		e.do("POST", "/api/v1/auth/login", "", good).want(t, http.StatusOK, nil)
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ten := e.tenant("Acme")
		_, tok := e.user(ten.ID, controlplane.RoleViewer, "v@acme.test")

		var created controlplane.CreateTokenResponse
		r := e.do("POST", "/api/v1/tokens", tok, map[string]any{"name": "backup script", "ttl_days": 30})
		r.want(t, http.StatusCreated, &created)
		if !strings.HasPrefix(created.Token, "spt_") || created.ExpiresAt == nil || created.Name != "backup script" {
			t.Fatalf("created token %+v", created)
		}
		if loc := r.header.Get("Location"); loc == "" {
			t.Fatal("no Location")
		}
		e.do("GET", "/api/v1/me", created.Token, nil).want(t, http.StatusOK, nil)

		var list controlplane.List[controlplane.TokenInfo]
		r = e.do("GET", "/api/v1/tokens", tok, nil)
		r.want(t, http.StatusOK, &list)
		if len(list.Data) != 2 {
			t.Fatalf("listed %d tokens, want 2", len(list.Data))
		}
		if strings.Contains(string(r.body), created.Token) {
			t.Fatal("token list shows a plaintext token")
		}

		e.do("DELETE", "/api/v1/tokens/"+itoa(created.ID), tok, nil).want(t, http.StatusNoContent, nil)
		e.do("GET", "/api/v1/me", created.Token, nil).want(t, http.StatusUnauthorized, nil)

		// Another user's token id is not ours to revoke.
		_, other := e.user(ten.ID, controlplane.RoleViewer, "w@acme.test")
		var otherList controlplane.List[controlplane.TokenInfo]
		e.do("GET", "/api/v1/tokens", other, nil).want(t, http.StatusOK, &otherList)
		e.do("DELETE", "/api/v1/tokens/"+itoa(otherList.Data[0].ID), tok, nil).want(t, http.StatusNotFound, nil)
		e.do("GET", "/api/v1/me", other, nil).want(t, http.StatusOK, nil)

		e.do("POST", "/api/v1/tokens", tok, map[string]any{"name": "x", "ttl_days": -1}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "ttl_days")
	})
}

func TestClientConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	_, tok := e.user(0, controlplane.RoleSystemAdmin, "root@sitepulse.test")
	var c controlplane.ClientConfig
	e.do("GET", "/api/v1/config", tok, nil).want(t, http.StatusOK, &c)
	if c.Pusher != nil {
		t.Fatalf("pusher %+v without a configured hub, want null", c.Pusher)
	}
	srv, err := api.New(api.Options{Store: e.store, Pusher: controlplane.PusherConfig{Key: "app-key", AppID: "42"}})
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(srv)
	defer e.http.Close()
	r := e.do("GET", "/api/v1/config", tok, nil)
	r.want(t, http.StatusOK, &c)
	if c.Pusher == nil || c.Pusher.Key != "app-key" || c.Pusher.AppID != "42" {
		t.Fatalf("config %s", r.body)
	}
	if strings.Contains(string(r.body), "secret") {
		t.Fatalf("config shows a secret: %s", r.body)
	}
}
