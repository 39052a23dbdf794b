package store

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func init() {
	addCases(
		storeCase{"routers/create-and-secret", testRoutersCreate},
		storeCase{"routers/verify-secret", testRoutersVerify},
		storeCase{"routers/status", testRouterStatus},
	)
}

func newRouter(t *testing.T, s *Store, tenant int64, name string) controlplane.Router {
	t.Helper()
	r, _, err := s.CreateRouter(context.Background(), tenant, name, "site of "+name)
	if err != nil {
		t.Fatalf("CreateRouter: %v", err)
	}
	return r
}

func testRoutersCreate(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r, secret, err := s.CreateRouter(ctx, ten.ID, " Kibera POP ", "Kibera")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^r[0-9a-f]{12}$`).MatchString(r.ID) || protocol.ValidRouterID(r.ID) != nil {
		t.Errorf("router id %q", r.ID)
	}
	want := controlplane.Router{ID: r.ID, TenantID: ten.ID, Name: "Kibera POP", Site: "Kibera",
		Status: controlplane.RouterPending, AuthMode: protocol.AuthLocal, Radius: controlplane.RadiusStatus{InSync: true},
		CreatedAt: e.clock.Now()}
	if r != want {
		t.Errorf("CreateRouter = %+v, want %+v", r, want)
	}
	if !strings.HasPrefix(secret, "sps_") || len(secret) != 4+43 {
		t.Errorf("secret %q: want sps_ + 43 base64url characters", secret)
	}
	// No column of the row holds the secret or its random part.
	var dump string
	if err := s.DB().QueryRowContext(ctx, `SELECT id || '|' || name || '|' || site || '|' || secret_hash || '|' || status
		FROM routers WHERE id = $1`, r.ID).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, secret[4:]) || !strings.Contains(dump, secretHash(secret)) {
		t.Errorf("router row %q holds the secret or lacks its hash", dump)
	}
	if got := must[controlplane.Router](t, "GetRouter")(s.GetRouter(ctx, ten.ID, r.ID)); got != r {
		t.Errorf("GetRouter = %+v, want %+v", got, r)
	}
	_, _, err = s.CreateRouter(ctx, 4242, "x", "")
	wantCode(t, "unknown tenant", err, controlplane.ENOTFOUND)
	_, _, err = s.CreateRouter(ctx, ten.ID, "  ", "")
	wantCode(t, "blank name", err, controlplane.EINVALID)
	_, err = s.GetRouter(ctx, 0, "rnope")
	wantCode(t, "GetRouter unknown", err, controlplane.ENOTFOUND)

	r2 := newRouter(t, s, ten.ID, "Alpha")
	rs := must[[]controlplane.Router](t, "ListRouters")(s.ListRouters(ctx, ten.ID))
	if len(rs) != 2 || rs[0].ID != r2.ID || rs[1].ID != r.ID {
		t.Errorf("ListRouters = %+v, want Alpha then Kibera POP", rs)
	}
}

func testRoutersVerify(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r, secret, err := s.CreateRouter(ctx, ten.ID, "R", "")
	if err != nil {
		t.Fatal(err)
	}
	got := must[controlplane.Router](t, "VerifyRouterSecret")(s.VerifyRouterSecret(ctx, r.ID, secret))
	if got.ID != r.ID || got.TenantID != ten.ID {
		t.Errorf("VerifyRouterSecret = %+v", got)
	}
	for _, tc := range []struct{ name, id, secret string }{
		{"wrong secret", r.ID, secret + "x"},
		{"empty secret", r.ID, ""},
		{"unknown router", "rdeadbeef0000", secret},
	} {
		_, err := s.VerifyRouterSecret(ctx, tc.id, tc.secret)
		wantCode(t, tc.name, err, controlplane.EUNAUTHORIZED)
	}

	rotated := must[string](t, "RotateRouterSecret")(s.RotateRouterSecret(ctx, ten.ID, r.ID))
	if rotated == secret {
		t.Fatal("rotation returned the old secret")
	}
	_, err = s.VerifyRouterSecret(ctx, r.ID, secret)
	wantCode(t, "old secret after rotation", err, controlplane.EUNAUTHORIZED)
	must[controlplane.Router](t, "new secret")(s.VerifyRouterSecret(ctx, r.ID, rotated))

	rev := must[controlplane.Router](t, "RevokeRouter")(s.RevokeRouter(ctx, 0, r.ID))
	if rev.Status != controlplane.RouterRevoked {
		t.Errorf("revoked router status %q", rev.Status)
	}
	_, err = s.VerifyRouterSecret(ctx, r.ID, rotated)
	wantCode(t, "revoked", err, controlplane.EUNAUTHORIZED)
	var hash string
	if err := s.DB().QueryRowContext(ctx, `SELECT secret_hash FROM routers WHERE id = $1`, r.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if hash != "" {
		t.Errorf("revoked router keeps secret hash %q", hash)
	}
	_, err = s.RotateRouterSecret(ctx, 0, r.ID)
	wantCode(t, "rotate revoked", err, controlplane.ECONFLICT)
	must[controlplane.Router](t, "revoke again")(s.RevokeRouter(ctx, 0, r.ID))
}

func testRouterStatus(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	t0 := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	res := &protocol.Resources{Identity: "kibera-gw", Version: "7.19.4", Board: "RB5009", CPULoad: 12, FreeMemory: 100, TotalMemory: 1000}
	online := &protocol.Status{V: 1, Router: r.ID, State: protocol.StateOnline, TS: t0, AgentVersion: "0.1.0",
		RouterConnected: true, Resources: res}

	got, changed, err := s.SetRouterStatus(ctx, online)
	if err != nil {
		t.Fatal(err)
	}
	if !changed || got.Status != controlplane.RouterOnline || !got.RouterConnected || got.AgentVersion != "0.1.0" ||
		got.Identity != "kibera-gw" || got.RouterOSVersion != "7.19.4" || got.Board != "RB5009" ||
		got.Resources == nil || *got.Resources != *res || got.LastSeenAt == nil || !got.LastSeenAt.Equal(e.clock.Now()) {
		t.Errorf("SetRouterStatus online = %+v, changed %v", got, changed)
	}
	if stored := must[controlplane.Router](t, "GetRouter")(s.GetRouter(ctx, 0, r.ID)); !reflect.DeepEqual(stored, got) {
		t.Errorf("GetRouter = %+v, want %+v", stored, got)
	}

	// The same message again changes nothing a dashboard shows.
	_, changed, err = s.SetRouterStatus(ctx, online)
	if err != nil || changed {
		t.Errorf("repeat: changed %v, err %v", changed, err)
	}

	// A newer offline message applies; identity stays.
	offline := &protocol.Status{V: 1, Router: r.ID, State: protocol.StateOffline, TS: t0.Add(time.Minute)}
	got, changed, err = s.SetRouterStatus(ctx, offline)
	if err != nil || !changed || got.Status != controlplane.RouterOffline || got.RouterConnected || got.Identity != "kibera-gw" {
		t.Errorf("offline = %+v, changed %v, err %v", got, changed, err)
	}

	// The older online message, redelivered late, is ignored.
	got, changed, err = s.SetRouterStatus(ctx, online)
	if err != nil || changed || got.Status != controlplane.RouterOffline {
		t.Errorf("older status: %+v, changed %v, err %v", got, changed, err)
	}
	if stored := must[controlplane.Router](t, "GetRouter")(s.GetRouter(ctx, 0, r.ID)); stored.Status != controlplane.RouterOffline {
		t.Errorf("stored status after older message = %q", stored.Status)
	}

	_, _, err = s.SetRouterStatus(ctx, &protocol.Status{V: 1, Router: "rnope", State: protocol.StateOnline, TS: t0})
	wantCode(t, "unknown router", err, controlplane.ENOTFOUND)
	_, _, err = s.SetRouterStatus(ctx, &protocol.Status{V: 1, Router: r.ID, State: "dancing", TS: t0})
	wantCode(t, "invalid status", err, controlplane.EINVALID)
	must[controlplane.Router](t, "RevokeRouter")(s.RevokeRouter(ctx, 0, r.ID))
	_, _, err = s.SetRouterStatus(ctx, &protocol.Status{V: 1, Router: r.ID, State: protocol.StateOnline, TS: t0.Add(time.Hour)})
	wantCode(t, "revoked router", err, controlplane.EUNAUTHORIZED)
}
