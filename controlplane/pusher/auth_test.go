package pusher

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

// testUser is a hand-written User: it may join the channels starting with
// one of its prefixes (a tenant's, in SitePulse's policy) or every channel.
type testUser struct {
	id, name, email, role string
	prefixes              []string
	all                   bool
}

func (u testUser) CanSubscribe(channel string) bool {
	if u.all {
		return true
	}
	for _, p := range u.prefixes {
		if strings.HasPrefix(channel, p) && len(channel) > len(p) {
			return true
		}
	}
	return false
}

func (u testUser) PresenceMember() Member {
	return Member{UserID: u.id, UserInfo: struct {
		Name  string `json:"name,omitempty"`
		Email string `json:"email,omitempty"`
		Role  string `json:"role,omitempty"`
	}{u.name, u.email, u.role}}
}

// tokenTable is a hand-written Authenticator: token → user. The token
// "explode" fails without a code, "unavailable" with EUNAVAILABLE.
type tokenTable map[string]testUser

func (tt tokenTable) Authenticate(_ context.Context, bearer string) (User, error) {
	switch bearer {
	case "explode":
		return nil, errors.New("database on fire")
	case "unavailable":
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "token store is restarting")
	}
	u, ok := tt[bearer]
	if !ok {
		return nil, controlplane.Errorf(controlplane.EUNAUTHORIZED, "unknown token")
	}
	return u, nil
}

func tenantPrefixes(t string) []string {
	return []string{"private-tenant." + t + ".", "presence-tenant." + t + "."}
}

var testTokens = tokenTable{
	"t1-admin":  {id: "11", name: "Alice", email: "a***@isp.example", role: "tenant_admin", prefixes: tenantPrefixes("1")},
	"t1-viewer": {id: "12", name: "Bob", email: "b***@isp.example", role: "viewer", prefixes: tenantPrefixes("1")},
	"t2-admin":  {id: "21", email: "c***@other.example", role: "tenant_admin", prefixes: tenantPrefixes("2")},
	"sysadmin":  {id: "1", email: "r***@sitepulse.example", role: "system_admin", all: true},
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
		{"authenticator unavailable", "unavailable", "1.2", "private-tenant.1.sessions", 503, "unavailable"},
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
