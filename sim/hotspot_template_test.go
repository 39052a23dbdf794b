package sim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestRenderPage(t *testing.T) {
	vars := map[string]string{"chap-id": `\001`, "error": "", "username": "bob", "login-by": "http-pap", "mac": "AA:BB"}
	tests := []struct{ page, want string }{
		{"$(username) at $(mac), $(unknown)!", "bob at AA:BB, !"},
		{"$(if chap-id)chap $(chap-id)$(else)pap$(endif)", `chap \001`},
		{"$(if error)E:$(error)$(endif)ok", "ok"},
		{"$(if error)e$(elif username)u$(else)x$(endif)", "u"},
		{"$(if login-by == 'http-pap')P$(elif login-by == \"http-chap\")C$(endif)", "P"},
		{"$(if login-by != 'http-pap')not$(else)is$(endif)", "is"},
		{"$(if error)$(if username)a$(else)b$(endif)$(else)$(if username)c$(else)d$(endif)$(endif)", "c"},
		{"$(if chap-id)$(if error)a$(elif mac)b$(endif)$(endif)", "b"},
		{"unterminated $(mac", "unterminated $(mac"},
		{"$(if chap-id)open", "open"},
		{"$(endif)$(else)stray", "stray"}, // stray directives are ignored
	}
	for _, tt := range tests {
		if got := renderPage(tt.page, vars); got != tt.want {
			t.Errorf("renderPage(%q): got %q, want %q", tt.page, got, tt.want)
		}
	}
}

func TestOctalEscape(t *testing.T) {
	if got, want := octalEscape([]byte{0, 7, 8, 0o123, 0o45, 255}), `\000\007\010\123\045\377`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// FuzzHotspotLogin sends arbitrary login forms and device headers: the
// handler must not panic, and only the right password logs in.
func FuzzHotspotLogin(f *testing.F) {
	f.Add("alice", "s3cret", "http://example.com/", "AA:BB:CC:00:00:01", "POST")
	f.Add("alice", "wrong", "", "", "GET")
	f.Add("*1", "", "javascript:alert(1)", "aa-bb-cc-dd-ee-ff", "POST")
	f.Add("alice", "0123456789abcdef0123456789abcdef", "$(mac)", "zz", "POST")
	r := New(Config{TrafficInterval: -1})
	defer r.Close()
	r.AddHotspotUser("alice", "s3cret", "")
	r.mu.Lock()
	r.tables["/ip/hotspot/profile"].lookup("hsprof1").attrs["login-by"] = "http-chap,http-pap"
	r.mu.Unlock()
	h := r.HotspotHandler()
	f.Fuzz(func(t *testing.T, user, password, dst, mac, method string) {
		if method != "POST" {
			method = "GET"
		}
		form := url.Values{"username": {user}, "password": {password}, "dst": {dst}}
		req := httptest.NewRequest(method, "http://hotspot.test/login", strings.NewReader(form.Encode()))
		if method == "GET" {
			req = httptest.NewRequest(method, "http://hotspot.test/login?"+form.Encode(), nil)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(HotspotMACHeader, mac)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		active := r.HotspotActive()
		for _, s := range active {
			if user != "alice" || password != "s3cret" {
				t.Fatalf("user %q password %q logged in: %v", user, password, s)
			}
			r.Logout(s[".id"])
		}
		if w.Code != http.StatusOK && w.Code != http.StatusFound && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d", w.Code)
		}
	})
}
