package fanout

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
)

// tokenTable is a hand-written Authenticator: token → principal.
type tokenTable map[string]controlplane.Principal

func (tt tokenTable) Authenticate(_ context.Context, bearer string) (controlplane.Principal, error) {
	p, ok := tt[bearer]
	if !ok {
		return controlplane.Principal{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "unknown token")
	}
	return p, nil
}

var testTokens = tokenTable{
	"t1-admin":  {UserID: 11, TenantID: 1, Role: controlplane.RoleTenantAdmin, Email: "alice@isp.example", Name: "Alice"},
	"t1-viewer": {UserID: 12, TenantID: 1, Role: controlplane.RoleViewer, Email: "bob@isp.example", Name: "Bob"},
	"t2-admin":  {UserID: 21, TenantID: 2, Role: controlplane.RoleTenantAdmin, Email: "carol@other.example"},
	"sysadmin":  {UserID: 1, Role: controlplane.RoleSystemAdmin, Email: "root@sitepulse.example"},
	"no-role":   {UserID: 99, TenantID: 1},
}

func TestCanSubscribe(t *testing.T) {
	t1, t2, sys := testTokens["t1-viewer"], testTokens["t2-admin"], testTokens["sysadmin"]
	tests := []struct {
		p       controlplane.Principal
		channel string
		want    bool
	}{
		{t1, "private-tenant.1.sessions", true},
		{t1, "presence-tenant.1.dashboard", true},
		{t1, "private-tenant.2.sessions", false},
		{t1, "private-tenant.1", false},
		{t1, "private-tenant.1.", false},
		{t1, "private-tenant.11.sessions", false},
		{t1, "private-tenant.01.sessions", false},
		{t1, "private-encrypted-tenant.1.sessions", false},
		{t1, "private-system-admin", false},
		{t1, "tenant.1.sessions", false},
		{t1, "private-cache-tenant.1.stats", true},
		{t1, "presence-cache-tenant.1.room", true},
		{t1, "private-cache-tenant.2.stats", false},
		{t1, "private-cache-cache-tenant.1.stats", false},
		{t1, "cache-tenant.1.stats", false},
		{t2, "private-tenant.2.routers", true},
		// Billing's channels: the tenant's own users and system admins only.
		{t1, "private-tenant.1.payments", true},
		{t1, "private-tenant.1.subscriptions", true},
		{t1, "private-tenant.1.plans", true},
		{t1, "private-tenant.1.customers", true},
		{t1, "private-tenant.1.dashboard-stats", true},
		{t2, "private-tenant.1.payments", false},
		{t2, "private-tenant.1.customers", false},
		{t2, "private-tenant.1.subscriptions", false},
		{t2, "private-tenant.1.plans", false},
		{t2, "private-tenant.1.dashboard-stats", false},
		{t1, "private-tenant.10.payments", false},
		{t1, "presence-tenant.2.payments", false},
		{t1, "payments", false},
		{sys, "private-tenant.1.payments", true},
		{sys, "private-tenant.2.customers", true},
		{sys, "private-system-admin", true},
		{sys, "private-tenant.2.sessions", true},
		{sys, "presence-tenant.7.x", true},
		{testTokens["no-role"], "private-tenant.1.sessions", false},
		{controlplane.Principal{Role: controlplane.RoleViewer}, "private-tenant.0.x", false},
	}
	for _, tt := range tests {
		if got := CanSubscribe(tt.p, tt.channel); got != tt.want {
			t.Errorf("CanSubscribe(user %d tenant %d %s, %q) = %v, want %v", tt.p.UserID, tt.p.TenantID, tt.p.Role, tt.channel, got, tt.want)
		}
	}
}

func TestChannelAuth(t *testing.T) {
	auth := ChannelAuth(testTokens)
	if _, err := auth.Authenticate(context.Background(), "nope"); controlplane.ErrorCode(err) != controlplane.EUNAUTHORIZED {
		t.Fatalf("unknown token: err %v, want code %s", err, controlplane.EUNAUTHORIZED)
	}
	u, err := auth.Authenticate(context.Background(), "t1-admin")
	if err != nil {
		t.Fatal(err)
	}
	if !u.CanSubscribe("private-tenant.1.sessions") || u.CanSubscribe("private-tenant.2.sessions") {
		t.Error("tenant 1's admin: policy is not CanSubscribe's")
	}
	b, err := json.Marshal(u.PresenceMember())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"user_id":"11","user_info":{"name":"Alice","email":"a***@isp.example","role":"tenant_admin"}}`
	if string(b) != want {
		t.Errorf("presence member = %s, want %s", b, want)
	}
}
