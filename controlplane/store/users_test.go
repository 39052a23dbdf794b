package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

func init() {
	addCases(
		storeCase{"tenants", testTenants},
		storeCase{"users/create-and-roles", testUsersCreate},
		storeCase{"users/duplicate-email", testUsersDuplicateEmail},
		storeCase{"users/password", testUsersPassword},
		storeCase{"tokens", testTokens},
		storeCase{"scope/tenant-isolation", testTenantScope},
		storeCase{"audit", testAudit},
	)
}

// wantCode fails t unless err carries code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := controlplane.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func newTenant(t *testing.T, s *Store, name string) controlplane.Tenant {
	t.Helper()
	return must[controlplane.Tenant](t, "CreateTenant")(s.CreateTenant(context.Background(), name))
}

func newUser(t *testing.T, s *Store, tenant int64, email string, role controlplane.Role, password string) controlplane.User {
	t.Helper()
	return must[controlplane.User](t, "CreateUser")(s.CreateUser(context.Background(),
		controlplane.User{TenantID: tenant, Email: email, Name: "N " + email, Role: role}, password))
}

func testTenants(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a := newTenant(t, s, "  Acme ISP ")
	if a.Name != "Acme ISP" || a.Status != controlplane.TenantPending || a.ID == 0 || !a.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("CreateTenant = %+v", a)
	}
	_, err := s.CreateTenant(ctx, " ")
	wantCode(t, "CreateTenant blank", err, controlplane.EINVALID)
	_, err = s.CreateTenant(ctx, "ACME isp")
	wantCode(t, "CreateTenant duplicate name", err, controlplane.ECONFLICT)

	act := must[controlplane.Tenant](t, "ActivateTenant")(s.ActivateTenant(ctx, a.ID))
	if act.Status != controlplane.TenantActive {
		t.Errorf("after ActivateTenant status = %q", act.Status)
	}
	again := must[controlplane.Tenant](t, "ActivateTenant again")(s.ActivateTenant(ctx, a.ID))
	if again != act {
		t.Errorf("ActivateTenant again = %+v, want %+v", again, act)
	}
	_, err = s.ActivateTenant(ctx, 9999)
	wantCode(t, "ActivateTenant unknown", err, controlplane.ENOTFOUND)

	b := newTenant(t, s, "Beta")
	got := must[controlplane.Tenant](t, "GetTenant")(s.GetTenant(ctx, 0, b.ID))
	if got != b {
		t.Errorf("GetTenant = %+v, want %+v", got, b)
	}
	list := must[[]controlplane.Tenant](t, "ListTenants")(s.ListTenants(ctx))
	if len(list) != 2 || list[0] != act || list[1] != b {
		t.Errorf("ListTenants = %+v", list)
	}
	if n := must[int](t, "CountUsers")(s.CountUsers(ctx)); n != 0 {
		t.Errorf("CountUsers = %d, want 0", n)
	}
}

func testUsersCreate(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "Acme")
	admin := newUser(t, s, 0, "Root@Example.COM ", controlplane.RoleSystemAdmin, "pw")
	if admin.Email != "root@example.com" || admin.TenantID != 0 || admin.Role != controlplane.RoleSystemAdmin {
		t.Errorf("system admin = %+v", admin)
	}
	for _, role := range []controlplane.Role{controlplane.RoleTenantAdmin, controlplane.RoleTechnician, controlplane.RoleViewer} {
		u := newUser(t, s, ten.ID, string(role)+"@acme.test", role, "pw")
		if u.TenantID != ten.ID || u.Role != role {
			t.Errorf("user = %+v", u)
		}
	}
	for _, tc := range []struct {
		name string
		u    controlplane.User
		code string
	}{
		{"unknown role", controlplane.User{TenantID: ten.ID, Email: "x@a.test", Role: "root"}, controlplane.EINVALID},
		{"admin with tenant", controlplane.User{TenantID: ten.ID, Email: "x@a.test", Role: controlplane.RoleSystemAdmin}, controlplane.EINVALID},
		{"viewer without tenant", controlplane.User{Email: "x@a.test", Role: controlplane.RoleViewer}, controlplane.EINVALID},
		{"bad email", controlplane.User{TenantID: ten.ID, Email: "nobody", Role: controlplane.RoleViewer}, controlplane.EINVALID},
		{"unknown tenant", controlplane.User{TenantID: 4242, Email: "x@a.test", Role: controlplane.RoleViewer}, controlplane.ENOTFOUND},
	} {
		_, err := s.CreateUser(ctx, tc.u, "pw")
		wantCode(t, tc.name, err, tc.code)
	}
	if n := must[int](t, "CountUsers")(s.CountUsers(ctx)); n != 4 {
		t.Errorf("CountUsers = %d, want 4", n)
	}
	all := must[[]controlplane.User](t, "ListUsers")(s.ListUsers(ctx, 0))
	if len(all) != 4 || all[0] != admin {
		t.Errorf("ListUsers(0) = %+v", all)
	}
	own := must[[]controlplane.User](t, "ListUsers")(s.ListUsers(ctx, ten.ID))
	if len(own) != 3 {
		t.Errorf("ListUsers(tenant) has %d users, want 3", len(own))
	}

	v := own[2]
	v.Name, v.Role, v.Disabled, v.Email, v.TenantID = "Vera", controlplane.RoleTechnician, true, "changed@x.test", 999
	upd := must[controlplane.User](t, "UpdateUser")(s.UpdateUser(ctx, ten.ID, v))
	if upd.Name != "Vera" || upd.Role != controlplane.RoleTechnician || !upd.Disabled || upd.Email != own[2].Email || upd.TenantID != ten.ID {
		t.Errorf("UpdateUser = %+v", upd)
	}
	if got := must[controlplane.User](t, "GetUser")(s.GetUser(ctx, ten.ID, v.ID)); got != upd {
		t.Errorf("GetUser = %+v, want %+v", got, upd)
	}
	v.Role = controlplane.RoleSystemAdmin
	_, err := s.UpdateUser(ctx, 0, v)
	wantCode(t, "UpdateUser to system admin", err, controlplane.EINVALID)
	_, err = s.UpdateUser(ctx, 0, controlplane.User{ID: 777, Role: controlplane.RoleViewer})
	wantCode(t, "UpdateUser unknown", err, controlplane.ENOTFOUND)
}

func testUsersDuplicateEmail(t *testing.T, e *env) {
	ctx := context.Background()
	a, b := newTenant(t, e.s, "A"), newTenant(t, e.s, "B")
	newUser(t, e.s, a.ID, "jo@example.com", controlplane.RoleViewer, "pw")
	for _, email := range []string{"jo@example.com", "JO@Example.com", " jo@example.com"} {
		_, err := e.s.CreateUser(ctx, controlplane.User{TenantID: b.ID, Email: email, Role: controlplane.RoleViewer}, "pw")
		wantCode(t, "duplicate "+email, err, controlplane.ECONFLICT)
	}
}

func testUsersPassword(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	u := newUser(t, s, ten.ID, "ann@a.test", controlplane.RoleTenantAdmin, "correct horse")

	var stored string
	if err := s.DB().QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "pbkdf2-sha256$1000$") || strings.Contains(stored, "correct horse") {
		t.Errorf("stored hash %q", stored)
	}

	got := must[controlplane.User](t, "CheckPassword")(s.CheckPassword(ctx, " ANN@a.test", "correct horse"))
	if got != u {
		t.Errorf("CheckPassword = %+v, want %+v", got, u)
	}
	_, err := s.CheckPassword(ctx, "ann@a.test", "wrong")
	wantCode(t, "wrong password", err, controlplane.EUNAUTHORIZED)
	_, err = s.CheckPassword(ctx, "nobody@a.test", "correct horse")
	wantCode(t, "unknown email", err, controlplane.EUNAUTHORIZED)

	if err := s.SetPassword(ctx, u.ID, "battery staple"); err != nil {
		t.Fatal(err)
	}
	_, err = s.CheckPassword(ctx, "ann@a.test", "correct horse")
	wantCode(t, "old password", err, controlplane.EUNAUTHORIZED)
	must[controlplane.User](t, "new password")(s.CheckPassword(ctx, "ann@a.test", "battery staple"))
	wantCode(t, "SetPassword unknown", s.SetPassword(ctx, 999, "x"), controlplane.ENOTFOUND)
	wantCode(t, "SetPassword empty", s.SetPassword(ctx, u.ID, ""), controlplane.EINVALID)

	u.Disabled = true
	must[controlplane.User](t, "disable")(s.UpdateUser(ctx, 0, u))
	_, err = s.CheckPassword(ctx, "ann@a.test", "battery staple")
	wantCode(t, "disabled user", err, controlplane.EUNAUTHORIZED)

	// A store opened with another work factor still checks old hashes.
	e.opts.PasswordIterations = 2000
	s2 := e.open()
	u.Disabled = false
	must[controlplane.User](t, "enable")(s2.UpdateUser(ctx, 0, u))
	must[controlplane.User](t, "old work factor")(s2.CheckPassword(ctx, "ann@a.test", "battery staple"))
}

func testTokens(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	u := newUser(t, s, ten.ID, "tech@a.test", controlplane.RoleTechnician, "pw")

	plain, tok, err := s.CreateToken(ctx, u.ID, "cli", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "spt_") || len(plain) != 4+43 {
		t.Errorf("plaintext %q: want spt_ + 43 base64url characters", plain)
	}
	if tok.UserID != u.ID || tok.Name != "cli" || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) ||
		tok.RevokedAt != nil || tok.LastUsedAt != nil {
		t.Errorf("token = %+v", tok)
	}
	var hash string
	if err := s.DB().QueryRowContext(ctx, `SELECT token_hash FROM api_tokens WHERE id = $1`, tok.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(hash, plain[4:]) || hash != secretHash(plain) {
		t.Errorf("token stored as %q", hash)
	}

	p, err := s.Authenticate(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	want := controlplane.Principal{UserID: u.ID, TenantID: ten.ID, Role: controlplane.RoleTechnician, Email: u.Email, Name: u.Name}
	if p != want {
		t.Errorf("Authenticate = %+v, want %+v", p, want)
	}
	lastUsed := func() time.Time {
		t.Helper()
		ts := must[[]controlplane.Token](t, "ListTokens")(s.ListTokens(ctx, u.ID))
		if len(ts) != 1 || ts[0].LastUsedAt == nil {
			t.Fatalf("ListTokens = %+v", ts)
		}
		return *ts[0].LastUsedAt
	}
	first := lastUsed()
	if !first.Equal(e.clock.Now()) {
		t.Errorf("last_used_at = %v, want %v", first, e.clock.Now())
	}
	e.clock.Advance(30 * time.Second)
	must[controlplane.Principal](t, "Authenticate")(s.Authenticate(ctx, plain))
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("last_used_at moved within a minute: %v", got)
	}
	e.clock.Advance(31 * time.Second)
	must[controlplane.Principal](t, "Authenticate")(s.Authenticate(ctx, plain))
	if got := lastUsed(); !got.Equal(e.clock.Now()) {
		t.Errorf("last_used_at = %v after a minute, want %v", got, e.clock.Now())
	}

	for _, bad := range []string{"", "spt_", "spt_nope", plain + "x", "Bearer " + plain} {
		_, err := s.Authenticate(ctx, bad)
		wantCode(t, "Authenticate "+bad, err, controlplane.EUNAUTHORIZED)
	}

	// Expiry with the injected clock.
	e.clock.Advance(time.Hour)
	_, err = s.Authenticate(ctx, plain)
	wantCode(t, "expired", err, controlplane.EUNAUTHORIZED)

	// No expiry, then revocation.
	forever, tok2, err := s.CreateToken(ctx, u.ID, "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if tok2.ExpiresAt != nil {
		t.Errorf("ttl 0 token expires at %v", tok2.ExpiresAt)
	}
	e.clock.Advance(1000 * 24 * time.Hour)
	must[controlplane.Principal](t, "never expires")(s.Authenticate(ctx, forever))
	other := newUser(t, s, ten.ID, "other@a.test", controlplane.RoleViewer, "pw")
	wantCode(t, "RevokeToken of another user", s.RevokeToken(ctx, other.ID, tok2.ID), controlplane.ENOTFOUND)
	if err := s.RevokeToken(ctx, u.ID, tok2.ID); err != nil {
		t.Fatal(err)
	}
	revokedAt := e.clock.Now()
	e.clock.Advance(time.Minute)
	if err := s.RevokeToken(ctx, u.ID, tok2.ID); err != nil {
		t.Fatalf("revoke again: %v", err)
	}
	_, err = s.Authenticate(ctx, forever)
	wantCode(t, "revoked", err, controlplane.EUNAUTHORIZED)
	ts := must[[]controlplane.Token](t, "ListTokens")(s.ListTokens(ctx, u.ID))
	if len(ts) != 2 || ts[1].RevokedAt == nil || !ts[1].RevokedAt.Equal(revokedAt) {
		t.Errorf("ListTokens = %+v, want the second revoked at %v", ts, revokedAt)
	}

	// A disabled user's tokens stop working.
	third, _, err := s.CreateToken(ctx, u.ID, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	u.Disabled = true
	must[controlplane.User](t, "disable")(s.UpdateUser(ctx, 0, u))
	_, err = s.Authenticate(ctx, third)
	wantCode(t, "disabled user", err, controlplane.EUNAUTHORIZED)

	_, _, err = s.CreateToken(ctx, 999, "x", 0)
	wantCode(t, "CreateToken unknown user", err, controlplane.ENOTFOUND)
}

// testTenantScope checks that a tenant scope answers ENOTFOUND for another
// tenant's tenant, user and router, and for system admins.
func testTenantScope(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	ub := newUser(t, s, b.ID, "b@b.test", controlplane.RoleTenantAdmin, "pw")
	root := newUser(t, s, 0, "root@x.test", controlplane.RoleSystemAdmin, "pw")
	rb := newRouter(t, s, b.ID, "b-router")

	_, err := s.GetTenant(ctx, a.ID, b.ID)
	wantCode(t, "GetTenant", err, controlplane.ENOTFOUND)
	_, err = s.GetUser(ctx, a.ID, ub.ID)
	wantCode(t, "GetUser", err, controlplane.ENOTFOUND)
	_, err = s.GetUser(ctx, a.ID, root.ID)
	wantCode(t, "GetUser system admin", err, controlplane.ENOTFOUND)
	_, err = s.UpdateUser(ctx, a.ID, ub)
	wantCode(t, "UpdateUser", err, controlplane.ENOTFOUND)
	_, err = s.GetRouter(ctx, a.ID, rb.ID)
	wantCode(t, "GetRouter", err, controlplane.ENOTFOUND)
	_, err = s.RotateRouterSecret(ctx, a.ID, rb.ID)
	wantCode(t, "RotateRouterSecret", err, controlplane.ENOTFOUND)
	_, err = s.RevokeRouter(ctx, a.ID, rb.ID)
	wantCode(t, "RevokeRouter", err, controlplane.ENOTFOUND)
	if us := must[[]controlplane.User](t, "ListUsers")(s.ListUsers(ctx, a.ID)); len(us) != 0 {
		t.Errorf("ListUsers(A) = %+v", us)
	}
	if rs := must[[]controlplane.Router](t, "ListRouters")(s.ListRouters(ctx, a.ID)); len(rs) != 0 {
		t.Errorf("ListRouters(A) = %+v", rs)
	}

	// The owning scope and the system scope see them.
	must[controlplane.Tenant](t, "own tenant")(s.GetTenant(ctx, b.ID, b.ID))
	must[controlplane.User](t, "own user")(s.GetUser(ctx, b.ID, ub.ID))
	must[controlplane.Router](t, "own router")(s.GetRouter(ctx, b.ID, rb.ID))
	must[controlplane.Router](t, "system scope")(s.GetRouter(ctx, 0, rb.ID))
	if rs := must[[]controlplane.Router](t, "ListRouters")(s.ListRouters(ctx, 0)); len(rs) != 1 {
		t.Errorf("ListRouters(0) = %+v", rs)
	}
}

func testAudit(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	entries := []controlplane.AuditEntry{
		{TenantID: a.ID, ActorID: 7, Actor: "ann@a.test", Action: "router.create", Target: "router:r1", Result: "ok"},
		{TenantID: b.ID, ActorID: 8, Actor: "bob@b.test", Action: "user.update", Target: "user:3", Result: "forbidden"},
		{Actor: "system", Action: "tenant.create", Target: "tenant:2", Result: "ok", Detail: "provisioned",
			At: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{TenantID: a.ID, ActorID: 7, Actor: "ann@a.test", Action: "command.create", Target: "router:r1", Result: "ok"},
	}
	for _, en := range entries {
		if err := s.Audit(ctx, en); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, "Audit without action", s.Audit(ctx, controlplane.AuditEntry{}), controlplane.EINVALID)

	all := must[[]controlplane.AuditEntry](t, "ListAudit")(s.ListAudit(ctx, 0, 0, 0))
	if len(all) != 4 {
		t.Fatalf("ListAudit(0) has %d entries, want 4", len(all))
	}
	for i, got := range all { // newest first
		want := entries[len(entries)-1-i]
		if want.At.IsZero() {
			want.At = e.clock.Now()
		}
		want.ID = got.ID
		if got != want {
			t.Errorf("entry %d = %+v, want %+v", i, got, want)
		}
	}
	own := must[[]controlplane.AuditEntry](t, "ListAudit")(s.ListAudit(ctx, a.ID, 0, 0))
	if len(own) != 2 || own[0].Action != "command.create" || own[1].Action != "router.create" {
		t.Errorf("ListAudit(A) = %+v", own)
	}
	page := must[[]controlplane.AuditEntry](t, "ListAudit")(s.ListAudit(ctx, 0, 2, 1))
	if len(page) != 2 || page[0].ID != all[1].ID || page[1].ID != all[2].ID {
		t.Errorf("ListAudit(limit 2, offset 1) = %+v", page)
	}
}
