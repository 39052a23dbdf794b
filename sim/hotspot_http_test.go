package sim_test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/sim"
)

// device is one phone on the hotspot: an HTTP client that does not follow
// redirects and names its MAC to the simulator.
type device struct {
	t    *testing.T
	base string // http://HOTSPOT
	mac  string
	c    *http.Client
}

func newDevice(t *testing.T, base, mac string) *device {
	return &device{t: t, base: base, mac: mac, c: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request and returns the status, Location and body.
func (d *device) do(method, target string, form url.Values) (int, string, string) {
	d.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(d.t.Context(), method, target, body)
	if err != nil {
		d.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if d.mac != "" {
		req.Header.Set(sim.HotspotMACHeader, d.mac)
	}
	resp, err := d.c.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

var (
	chapRE   = regexp.MustCompile(`hexMD5\('([^']*)' \+ document\.login\.password\.value \+ '([^']*)'\)`)
	formRE   = regexp.MustCompile(`<form name="sendin" action="([^"]*)" method="post">`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)"(?: value="([^"]*)")?>`)
	errorRE  = regexp.MustCompile(`<p class="error">([^<]*)</p>`)
)

// unOctal decodes RouterOS's \ooo escapes, as a JavaScript string literal
// would.
func unOctal(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for len(s) > 0 {
		if len(s) < 4 || s[0] != '\\' {
			t.Fatalf("not octal escapes: %q", s)
		}
		n, err := strconv.ParseUint(s[1:4], 8, 8)
		if err != nil {
			t.Fatalf("bad escape %q: %v", s[:4], err)
		}
		out = append(out, byte(n))
		s = s[4:]
	}
	return out
}

// chapResponse is hexMD5(chap-id + password + chap-challenge).
func chapResponse(id, password, challenge []byte) string {
	h := md5.New()
	h.Write(id)
	h.Write(password)
	h.Write(challenge)
	return hex.EncodeToString(h.Sum(nil))
}

// loginPage fetches the login page and returns its CHAP values (escaped,
// as on the page) and the body.
func (d *device) loginPage(dst string) (chapID, chapChallenge, body string) {
	d.t.Helper()
	status, _, body := d.do("GET", d.base+"/login?dst="+url.QueryEscape(dst), nil)
	if status != http.StatusOK {
		d.t.Fatalf("login page: status %d: %s", status, body)
	}
	m := chapRE.FindStringSubmatch(body)
	if m == nil {
		return "", "", body
	}
	return m[1], m[2], body
}

// chapLogin posts the login page's sendin form the way its JavaScript does.
func (d *device) chapLogin(user, password, dst string) (int, string, string) {
	d.t.Helper()
	id, ch, page := d.loginPage(dst)
	if id == "" {
		d.t.Fatalf("login page offers no CHAP:\n%s", page)
	}
	m := formRE.FindStringSubmatch(page)
	if m == nil {
		d.t.Fatalf("no sendin form:\n%s", page)
	}
	form := url.Values{}
	for _, in := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(in[1], in[2])
	}
	form.Set("username", user)
	form.Set("password", chapResponse(unOctal(d.t, id), []byte(password), unOctal(d.t, ch)))
	if form.Get("dst") != dst {
		d.t.Errorf("form dst: got %q, want %q", form.Get("dst"), dst)
	}
	return d.do("POST", m[1], form)
}

func startHotspot(t *testing.T) (*sim.Router, string) {
	t.Helper()
	r := startRouter(t, sim.Config{TrafficInterval: -1})
	srv := httptest.NewServer(r.HotspotHandler())
	t.Cleanup(srv.Close)
	if err := r.AddHotspotUser("alice", "s3cret", ""); err != nil {
		t.Fatal(err)
	}
	return r, srv.URL
}

func activeByMAC(r *sim.Router, mac string) map[string]string {
	for _, row := range r.HotspotActive() {
		if row["mac-address"] == mac {
			return row
		}
	}
	return nil
}

func TestHotspotRedirectsUnauthenticated(t *testing.T) {
	_, base := startHotspot(t)
	d := newDevice(t, base, "")
	for _, p := range []string{"/", "/news/today?x=1&y=2", "/login.html.bak"} {
		status, loc, _ := d.do("GET", base+p, nil)
		want := base + "/login?dst=" + url.QueryEscape(base+p)
		if status != http.StatusFound || loc != want {
			t.Errorf("GET %s: got %d %q, want 302 %q", p, status, loc, want)
		}
	}
	// The page's scripts are served to a device that is not logged in.
	status, _, body := d.do("GET", base+"/md5.js", nil)
	if status != http.StatusOK || !strings.Contains(body, "function hexMD5") {
		t.Errorf("md5.js: %d %.60q", status, body)
	}
}

func TestHotspotCHAPLogin(t *testing.T) {
	r, base := startHotspot(t)
	d := newDevice(t, base, "AA:BB:CC:00:00:01")
	dst := "http://example.com/start?a=1"

	id, ch, page := d.loginPage(dst)
	if !regexp.MustCompile(`^(\\[0-3][0-7]{2})$`).MatchString(id) || !regexp.MustCompile(`^(\\[0-3][0-7]{2}){16}$`).MatchString(ch) {
		t.Fatalf("chap-id %q chap-challenge %q: want RouterOS's octal escapes", id, ch)
	}
	if !strings.Contains(page, `action="`+base+`/login"`) {
		t.Errorf("login page does not post to link-login-only %s/login", base)
	}
	if id2, ch2, _ := d.loginPage(dst); id2+ch2 == id+ch {
		t.Errorf("second view reused the challenge %s%s", id, ch)
	}

	if got, err := sim.HotspotCHAPResponse(id, ch, "s3cret"); err != nil || got != chapResponse(unOctal(t, id), []byte("s3cret"), unOctal(t, ch)) {
		t.Errorf("HotspotCHAPResponse: %q, %v", got, err)
	}
	if _, err := sim.HotspotCHAPResponse(`\9`, ch, "x"); err == nil {
		t.Error("HotspotCHAPResponse accepted a bad chap-id")
	}
	status, _, body := d.chapLogin("alice", "s3cret", dst)
	if status != http.StatusOK || !strings.Contains(body, `url=`+dst) {
		t.Fatalf("login: got %d, want alogin.html redirecting to %s:\n%s", status, dst, body)
	}
	row := activeByMAC(r, "AA:BB:CC:00:00:01")
	if row == nil || row["user"] != "alice" || row["login-by"] != "http-chap" || row["address"] != "127.0.0.1" {
		t.Fatalf("active session: %v", r.HotspotActive())
	}

	// Logged in: the status page shows the session; any page is no
	// longer redirected to the login page.
	status, _, body = d.do("GET", base+"/status", nil)
	if status != http.StatusOK || !strings.Contains(body, "Welcome alice!") {
		t.Errorf("status: %d\n%s", status, body)
	}
	if status, loc, _ := d.do("GET", base+"/", nil); status != http.StatusFound || loc != base+"/status" {
		t.Errorf("GET / logged in: %d %q, want 302 to status", status, loc)
	}
	if status, loc, _ := d.do("GET", base+"/login?dst="+url.QueryEscape(dst), nil); status != http.StatusFound || loc != dst {
		t.Errorf("login page while logged in: %d %q, want 302 to dst", status, loc)
	}

	// Logout ends the session.
	status, _, body = d.do("GET", base+"/logout", nil)
	if status != http.StatusOK || !strings.Contains(body, "You have just logged off") || !strings.Contains(body, "alice") {
		t.Errorf("logout: %d\n%s", status, body)
	}
	if row := activeByMAC(r, "AA:BB:CC:00:00:01"); row != nil {
		t.Errorf("session after logout: %v", row)
	}
	if status, loc, _ := d.do("GET", base+"/status", nil); status != http.StatusFound || !strings.HasPrefix(loc, base+"/login") {
		t.Errorf("status after logout: %d %q", status, loc)
	}
}

// TestHotspotCHAPWithMD5JS hashes with the md5.js the router serves, in
// Node, from the login page's own string literals: what a browser does.
func TestHotspotCHAPWithMD5JS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	r, base := startHotspot(t)
	d := newDevice(t, base, "AA:BB:CC:00:00:02")
	_, _, js := d.do("GET", base+"/md5.js", nil)
	id, ch, _ := d.loginPage("http://example.com/")
	script := filepath.Join(t.TempDir(), "md5.js")
	if err := os.WriteFile(script, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("const hexMD5 = require(%q); process.stdout.write(hexMD5('%s' + 's3cret' + '%s'));", script, id, ch)
	out, err := exec.CommandContext(t.Context(), node, "-e", src).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	if want := chapResponse(unOctal(t, id), []byte("s3cret"), unOctal(t, ch)); string(out) != want {
		t.Fatalf("md5.js: got %s, want %s", out, want)
	}
	status, _, body := d.do("POST", base+"/login", url.Values{"username": {"alice"}, "password": {string(out)}, "dst": {"http://example.com/"}})
	if status != http.StatusOK || activeByMAC(r, d.mac) == nil {
		t.Fatalf("login with md5.js response: %d\n%s", status, body)
	}
}

func TestHotspotLoginRefusals(t *testing.T) {
	r, base := startHotspot(t)
	c := dial(t, r, "admin", "")
	rows(t, c, "/ip/hotspot/user/add", "=name=off", "=password=pw", "=disabled=yes")
	rows(t, c, "/ip/hotspot/user/add", "=name=capped", "=password=pw", "=limit-uptime=1h")
	errText := func(body string) string {
		m := errorRE.FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}

	d := newDevice(t, base, "AA:BB:CC:00:00:10")
	tests := []struct{ user, password, want string }{
		{"alice", "wrong", "invalid username or password"},
		{"nobody", "s3cret", "invalid username or password"},
		{"off", "pw", "user off is disabled"},
	}
	for _, tt := range tests {
		status, _, body := d.chapLogin(tt.user, tt.password, "http://example.com/")
		if status != http.StatusOK || errText(body) != tt.want {
			t.Errorf("%s/%s: got %d error %q, want login page with %q", tt.user, tt.password, status, errText(body), tt.want)
		}
		if !strings.Contains(body, `value="`+tt.user+`"`) {
			t.Errorf("%s: login page after failure does not keep $(username)", tt.user)
		}
		if !chapRE.MatchString(body) {
			t.Errorf("%s: login page after failure has no new challenge", tt.user)
		}
	}
	if len(r.HotspotActive()) != 0 {
		t.Fatalf("refused logins created sessions: %v", r.HotspotActive())
	}

	// shared-users=1 (default profile): a second device is refused.
	if status, _, _ := d.chapLogin("alice", "s3cret", "http://example.com/"); status != http.StatusOK || activeByMAC(r, d.mac) == nil {
		t.Fatal("first device could not log in")
	}
	d2 := newDevice(t, base, "AA:BB:CC:00:00:11")
	_, _, body := d2.chapLogin("alice", "s3cret", "http://example.com/")
	if got := errText(body); got != "no more sessions are allowed for user alice" {
		t.Errorf("second device: error %q", got)
	}

	// A plain password is not accepted while login-by lacks http-pap, and
	// without a challenge RouterOS says the browser sent none.
	d3 := newDevice(t, base, "AA:BB:CC:00:00:12")
	_, _, body = d3.do("POST", base+"/login", url.Values{"username": {"capped"}, "password": {"pw"}})
	if got := errText(body); got != sim.LoginChapMissing {
		t.Errorf("no challenge: error %q, want %q", got, sim.LoginChapMissing)
	}
	d3.loginPage("")
	_, _, body = d3.do("POST", base+"/login", url.Values{"username": {"capped"}, "password": {"pw"}})
	if got := errText(body); got != "invalid username or password" {
		t.Errorf("PAP while only http-chap: error %q", got)
	}
	// A used challenge cannot be replayed.
	id, ch, _ := d3.loginPage("")
	resp := chapResponse(unOctal(t, id), []byte("pw"), unOctal(t, ch))
	if status, _, _ := d3.do("POST", base+"/login", url.Values{"username": {"capped"}, "password": {resp}}); status != http.StatusOK || activeByMAC(r, d3.mac) == nil {
		t.Fatalf("capped login: %d", status)
	}
	d3.do("GET", base+"/logout", nil)
	_, _, body = d3.do("POST", base+"/login", url.Values{"username": {"capped"}, "password": {resp}})
	if got := errText(body); got != "invalid username or password" {
		t.Errorf("replayed CHAP response: error %q", got)
	}
}

func TestHotspotPAPAndUploadedPage(t *testing.T) {
	r, base := startHotspot(t)
	c := dial(t, r, "admin", "")
	rows(t, c, "/ip/hotspot/profile/set", "=.id=hsprof1", "=login-by=http-pap")
	page := `<html>$(if chap-id)CHAP$(else)PAP$(endif) mac=$(mac) ip=$(ip) orig=$(link-orig-esc) only=$(link-login-only)` +
		` srv=$(server-name) id=$(identity) $(if error)err=$(error)$(endif)</html>`
	rows(t, c, "/file/set", "=.id=hotspot/login.html", "=contents="+page)
	rows(t, c, "/file/remove", "=.id=hotspot/alogin.html")

	d := newDevice(t, base, "aa-bb-cc-00-00-20")
	_, _, body := d.do("GET", base+"/login?dst=http%3A%2F%2Fexample.com%2F", nil)
	want := "<html>PAP mac=AA:BB:CC:00:00:20 ip=127.0.0.1 orig=http%3A%2F%2Fexample.com%2F only=" + base + "/login srv=hotspot1 id=MikroTik </html>"
	if body != want {
		t.Errorf("uploaded login.html:\n got %s\nwant %s", body, want)
	}
	_, _, body = d.do("POST", base+"/login", url.Values{"username": {"alice"}, "password": {"nope"}})
	if !strings.Contains(body, "err=invalid username or password") {
		t.Errorf("failed PAP: %s", body)
	}
	// Without alogin.html the login redirects to dst.
	status, loc, _ := d.do("GET", base+"/login?username=alice&password=s3cret&dst=http%3A%2F%2Fexample.com%2F", nil)
	if status != http.StatusFound || loc != "http://example.com/" {
		t.Errorf("PAP GET login: %d %q", status, loc)
	}
	if row := activeByMAC(r, "AA:BB:CC:00:00:20"); row == nil || row["login-by"] != "http-pap" {
		t.Errorf("PAP session: %v", r.HotspotActive())
	}
}

// TestHotspotDevices plays several devices from one address, by header
// and by cookie, and checks the default MAC is stable per address.
func TestHotspotDevices(t *testing.T) {
	r, base := startHotspot(t)
	if err := r.AddHotspotUser("bob", "pw", ""); err != nil {
		t.Fatal(err)
	}
	plain := newDevice(t, base, "")
	plain.chapLogin("alice", "s3cret", "http://example.com/")
	if rows := r.HotspotActive(); len(rows) != 1 || !strings.HasPrefix(rows[0]["mac-address"], "02:") {
		t.Fatalf("default device: %v", rows)
	}
	defaultMAC := r.HotspotActive()[0]["mac-address"]

	jar := &cookieDevice{device: newDevice(t, base, ""), cookie: &http.Cookie{Name: sim.HotspotMACCookie, Value: "AA:BB:CC:00:00:30"}}
	jar.c.Jar = jar
	jar.chapLogin("bob", "pw", "http://example.com/")
	if row := activeByMAC(r, "AA:BB:CC:00:00:30"); row == nil || row["user"] != "bob" {
		t.Fatalf("cookie device: %v", r.HotspotActive())
	}
	// The plain device is still logged in; a fresh one from the same
	// address is the same MAC, so it is too.
	if status, loc, _ := newDevice(t, base, "").do("GET", base+"/", nil); status != http.StatusFound || loc != base+"/status" {
		t.Errorf("same address, same MAC %s: %d %q", defaultMAC, status, loc)
	}
	if status, _, _ := newDevice(t, base, "not-a-mac").do("GET", base+"/", nil); status != http.StatusBadRequest {
		t.Errorf("bad MAC header: %d", status)
	}
}

// cookieDevice sends its MAC as a cookie instead of the header.
type cookieDevice struct {
	*device
	cookie *http.Cookie
}

func (c *cookieDevice) SetCookies(*url.URL, []*http.Cookie) {}
func (c *cookieDevice) Cookies(*url.URL) []*http.Cookie     { return []*http.Cookie{c.cookie} }

// TestHotspotAsProxy browses other hosts through the hotspot, as a
// browser started with --proxy-server would.
func TestHotspotAsProxy(t *testing.T) {
	r := startRouter(t, sim.Config{TrafficInterval: -1})
	if err := r.AddHotspotUser("alice", "s3cret", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.StartHotspot("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	base := "http://" + r.HotspotAddr()
	proxy, _ := url.Parse(base)
	d := newDevice(t, base, "AA:BB:CC:00:00:40")
	d.c.Transport = &http.Transport{Proxy: http.ProxyURL(proxy)}

	status, loc, _ := d.do("GET", "http://example.com/page?q=1", nil)
	if want := base + "/login?dst=" + url.QueryEscape("http://example.com/page?q=1"); status != http.StatusFound || loc != want {
		t.Fatalf("proxied request: %d %q, want 302 %q", status, loc, want)
	}
	if status, _, _ := d.chapLogin("alice", "s3cret", "http://example.com/page?q=1"); status != http.StatusOK {
		t.Fatalf("login through proxy: %d", status)
	}
	status, _, body := d.do("GET", "http://example.com/page?q=1", nil)
	if status != http.StatusOK || !strings.Contains(body, "simulated internet: http://example.com/page?q=1") {
		t.Errorf("logged in, proxied: %d %q", status, body)
	}
}

func TestHotspotMenusAndFiles(t *testing.T) {
	r := startRouter(t, sim.Config{TrafficInterval: -1})
	c := dial(t, r, "admin", "")
	srv := one(t, c, "/ip/hotspot/print")
	if srv["name"] != "hotspot1" || srv["profile"] != "hsprof1" || srv["interface"] != "bridge-hotspot" {
		t.Errorf("hotspot server: %v", srv)
	}
	prof := one(t, c, "/ip/hotspot/profile/print", "?name=hsprof1")
	if prof["login-by"] != "cookie,http-chap" || prof["html-directory"] != "hotspot" {
		t.Errorf("hsprof1: %v", prof)
	}
	rows(t, c, "/ip/hotspot/profile/set", "=.id=hsprof1", "=login-by=http-pap,cookie,http-chap")
	if got := one(t, c, "/ip/hotspot/profile/print", "?name=hsprof1")["login-by"]; got != "cookie,http-chap,http-pap" {
		t.Errorf("login-by normalised: got %q", got)
	}
	for _, f := range []string{"hotspot", "hotspot/login.html", "hotspot/alogin.html", "hotspot/status.html", "hotspot/logout.html", "hotspot/md5.js"} {
		one(t, c, "/file/print", "?name="+f)
	}
	rows(t, c, "/file/add", "=name=portal/x/a.html", "=contents=<p>hi</p>")
	if f := one(t, c, "/file/print", "?name=portal/x/a.html"); f["type"] != ".html file" || f["size"] != "9" || f["contents"] != "<p>hi</p>" {
		t.Errorf("added file: %v", f)
	}
	if d := one(t, c, "/file/print", "?name=portal/x"); d["type"] != "directory" {
		t.Errorf("parent dir: %v", d)
	}
	rows(t, c, "/file/set", "=.id=portal/x/a.html", "=contents=<p>hello</p>")
	if f := one(t, c, "/file/print", "?name=portal/x/a.html"); f["size"] != "12" {
		t.Errorf("set contents: %v", f)
	}
	rows(t, c, "/file/remove", "=.id=portal")
	if got := rows(t, c, "/file/print", "?name=portal/x/a.html"); len(got) != 0 {
		t.Errorf("file left after removing its directory: %v", got)
	}
	rows(t, c, "/ip/hotspot/walled-garden/add", "=dst-host=cp.example.com", "=comment=x")
	rows(t, c, "/ip/hotspot/walled-garden/ip/add", "=dst-host=cp.example.com", "=action=accept")
	if w := one(t, c, "/ip/hotspot/walled-garden/print"); w["action"] != "allow" || w["dst-host"] != "cp.example.com" {
		t.Errorf("walled garden: %v", w)
	}
	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{
		{"bad login-by", []string{"/ip/hotspot/profile/set", "=.id=hsprof1", "=login-by=http-chap,magic"}, "input does not match any value of login-by"},
		{"duplicate file", []string{"/file/add", "=name=hotspot/login.html"}, "failure: file already exists"},
		{"walled garden action", []string{"/ip/hotspot/walled-garden/add", "=dst-host=x", "=action=accept"}, "input does not match any value of action"},
	})
}
