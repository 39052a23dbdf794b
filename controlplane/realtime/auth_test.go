package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/controlplane"
)

// tokenTable is a hand-written Authenticator: token → principal.
type tokenTable map[string]controlplane.Principal

func (tt tokenTable) Authenticate(_ context.Context, bearer string) (controlplane.Principal, error) {
	if bearer == "explode" {
		return controlplane.Principal{}, errors.New("database on fire")
	}
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
		{t2, "private-tenant.2.routers", true},
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

type authAnswer struct {
	Auth         string `json:"auth"`
	ChannelData  string `json:"channel_data"`
	SharedSecret string `json:"shared_secret"`
	Error        struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func postAuth(t *testing.T, srvURL, token string, form url.Values) (int, authAnswer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srvURL+"/api/broadcasting/auth", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a authAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("decode answer: %v", err)
	}
	return resp.StatusCode, a
}

func TestAuthHandler(t *testing.T) {
	h, srv := newTestHub(t, func(o *Options) { o.EncryptionMasterKey = []byte(strings.Repeat("m", 32)) })
	form := func(socket, channel string) url.Values {
		return url.Values{"socket_id": {socket}, "channel_name": {channel}}
	}
	tests := []struct {
		name, token, socket, channel string
		wantStatus                   int
		wantCode                     string
	}{
		{"no token", "", "1.2", "private-tenant.1.sessions", 401, "unauthorized"},
		{"unknown token", "nope", "1.2", "private-tenant.1.sessions", 401, "unauthorized"},
		{"authenticator failure", "explode", "1.2", "private-tenant.1.sessions", 500, "internal"},
		{"own tenant", "t1-viewer", "1.2", "private-tenant.1.sessions", 200, ""},
		{"other tenant", "t1-admin", "1.2", "private-tenant.2.sessions", 403, "forbidden"},
		{"system channel as tenant admin", "t1-admin", "1.2", "private-system-admin", 403, "forbidden"},
		{"system channel as system admin", "sysadmin", "1.2", "private-system-admin", 200, ""},
		{"system admin on a tenant", "sysadmin", "1.2", "private-tenant.2.routers", 200, ""},
		{"public channel", "t1-viewer", "1.2", "news", 400, "invalid"},
		{"bad socket id", "t1-viewer", "1.2;x", "private-tenant.1.sessions", 400, "invalid"},
		{"bad channel", "t1-viewer", "1.2", "private tenant", 400, "invalid"},
		{"missing fields", "t1-viewer", "", "", 400, "invalid"},
		{"encrypted as system admin", "sysadmin", "1.2", "private-encrypted-x", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, a := postAuth(t, srv.URL, tt.token, form(tt.socket, tt.channel))
			if status != tt.wantStatus || a.Error.Code != tt.wantCode {
				t.Fatalf("got %d %+v, want %d %q", status, a.Error, tt.wantStatus, tt.wantCode)
			}
			if status == 200 && !VerifyChannelAuth(testKey, testSecret, tt.socket, tt.channel, a.ChannelData, a.Auth) {
				t.Errorf("auth %q does not verify", a.Auth)
			}
		})
	}

	t.Run("presence channel_data masks the email", func(t *testing.T) {
		status, a := postAuth(t, srv.URL, "t1-admin", form("1.2", "presence-tenant.1.room"))
		if status != 200 {
			t.Fatalf("status %d: %+v", status, a.Error)
		}
		const want = `{"user_id":"11","user_info":{"name":"Alice","email":"a***@isp.example","role":"tenant_admin"}}`
		if a.ChannelData != want {
			t.Errorf("channel_data = %s, want %s", a.ChannelData, want)
		}
		if !VerifyChannelAuth(testKey, testSecret, "1.2", "presence-tenant.1.room", a.ChannelData, a.Auth) {
			t.Error("presence auth does not verify with its channel_data")
		}
	})
	t.Run("encrypted channel gets its shared secret", func(t *testing.T) {
		_, a := postAuth(t, srv.URL, "sysadmin", form("1.2", "private-encrypted-x"))
		if want := EncryptedChannelSecret("private-encrypted-x", h.opts.EncryptionMasterKey); a.SharedSecret != want {
			t.Errorf("shared_secret = %q, want %q", a.SharedSecret, want)
		}
	})
	t.Run("GET is refused", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/api/broadcasting/auth")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status = %d, want 405", resp.StatusCode)
		}
	})
	t.Run("JSON body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/broadcasting/auth",
			strings.NewReader(`{"socket_id":"1.2","channel_name":"private-tenant.1.x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "bearer t1-viewer")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status = %d, want 200", resp.StatusCode)
		}
	})
	if got := testutil.ToFloat64(h.metrics.authFailures.WithLabelValues("forbidden")); got != 2 {
		t.Errorf("forbidden auth failures = %v, want 2", got)
	}
}

func TestAuthEndpointDrivesSubscription(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	const ch = "presence-tenant.1.room"
	status, a := postAuth(t, srv.URL, "t1-viewer", url.Values{"socket_id": {c.socketID}, "channel_name": {ch}})
	if status != 200 {
		t.Fatalf("auth status %d", status)
	}
	c.subscribe(ch, a.Auth, a.ChannelData)
	f := c.expect("pusher_internal:subscription_succeeded")
	if !strings.Contains(string(f.Data), `"12":{"name":"Bob","email":"b***@isp.example","role":"viewer"}`) {
		t.Errorf("presence data %s lacks Bob's masked info", f.Data)
	}
	if got := h.PresenceUsers(ch); len(got) != 1 || got[0] != "12" {
		t.Errorf("PresenceUsers = %v, want [12]", got)
	}

	// An auth string obtained for another socket is useless here.
	other := dial(t, srv)
	other.subscribe(ch, a.Auth, a.ChannelData)
	other.expect("pusher:subscription_error")
}
