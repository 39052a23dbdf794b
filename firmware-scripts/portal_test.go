package firmwarescripts

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/sim"
)

// portalMenus are the menus hotspot-portal.rsc changes (or must not).
var portalMenus = []string{"/file", "/ip/hotspot", "/ip/hotspot/profile", "/ip/hotspot/walled-garden",
	"/ip/hotspot/walled-garden/ip", "/ip/hotspot/user", "/ip/firewall/filter", "/ip/firewall/nat"}

func (g *rig) menus(paths []string) state {
	g.t.Helper()
	s := state{}
	for _, m := range paths {
		s[m] = g.print(m)
	}
	return s
}

const testPortalURL = "https://cp.example.com/portal/7/r123"

// TestHotspotPortalScript runs hotspot-portal.rsc on the simulator: the
// pages, the profile's login-by and the walled garden for the portal's
// host only; a second run changes nothing.
func TestHotspotPortalScript(t *testing.T) {
	src := loadScripts(t)["hotspot-portal.rsc"]
	g := startRig(t, "7.21.2 (stable)")
	// A router where alogin.html was deleted: the script adds it back.
	if _, err := (apiRunner{g.c}).Run("/file/remove", "=.id=hotspot/alogin.html"); err != nil {
		t.Fatal(err)
	}
	before := g.menus(portalMenus)
	in, err := g.script("hotspot-portal.rsc", src)
	if err != nil {
		t.Fatal(err)
	}
	if bad := g.unknownFindKeys(in.Sent); len(bad) > 0 {
		t.Errorf("[find] on attributes the menus do not have: %v", bad)
	}
	after := g.menus(portalMenus)
	changed := map[string]bool{}
	for _, m := range portalMenus {
		if !reflect.DeepEqual(before[m], after[m]) {
			changed[m] = true
		}
	}
	if want := map[string]bool{"/file": true, "/ip/hotspot/profile": true, "/ip/hotspot/walled-garden": true,
		"/ip/hotspot/walled-garden/ip": true}; !reflect.DeepEqual(changed, want) {
		t.Errorf("menus changed: got %v, want %v", changed, want)
	}

	if p := g.one("/ip/hotspot/profile", "?name=hsprof1"); p["login-by"] != "cookie,http-chap,http-pap" || p["html-directory"] != "hotspot" {
		t.Errorf("hsprof1: %v", p)
	}
	if p := g.one("/ip/hotspot/profile", "?name=default"); p["login-by"] != "cookie,http-chap" {
		t.Errorf("default profile changed: %v", p)
	}
	wg := g.one("/ip/hotspot/walled-garden")
	if wg["dst-host"] != "cp.example.com" || wg["action"] != "allow" || wg["comment"] != "SitePulse portal" {
		t.Errorf("walled garden: %v", wg)
	}
	wip := g.one("/ip/hotspot/walled-garden/ip")
	if wip["dst-host"] != "cp.example.com" || wip["action"] != "accept" || wip["dst-port"] != "" || wip["protocol"] != "" {
		t.Errorf("walled garden ip: %v", wip)
	}
	for _, name := range []string{"login.html", "alogin.html", "status.html", "logout.html"} {
		f := g.one("/file", "?name=hotspot/"+name)
		if n, _ := strconv.Atoi(f["size"]); n == 0 || n > 4000 {
			t.Errorf("%s: size %s, want a page under 4000 bytes", name, f["size"])
		}
		if strings.Contains(f["contents"], `\$`) || !strings.Contains(f["contents"], "$(") {
			t.Errorf("%s: RouterOS variables not written as $(var):\n%s", name, f["contents"])
		}
	}
	login := g.one("/file", "?name=hotspot/login.html")["contents"]
	if !strings.Contains(login, `<form action="`+testPortalURL+`" method="get">`) {
		t.Errorf("login.html does not post to the portal:\n%s", login)
	}
	for _, v := range []string{"mac", "ip", "username", "link-login-only", "link-orig", "chap-id", "chap-challenge", "error"} {
		if !strings.Contains(login, `name="`+v+`" value="$(`+v+`)"`) {
			t.Errorf("login.html does not forward %s", v)
		}
	}

	// Idempotent: the second run sends no add or set to /file and adds no
	// walled-garden entry.
	in, err = g.script("hotspot-portal.rsc", src)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffMenus(after, g.menus(portalMenus)); len(d) > 0 {
		t.Errorf("second run changed the router:\n%s", strings.Join(d, "\n"))
	}
	for _, w := range in.Sent {
		if strings.HasPrefix(w[0], "/file/") && !strings.HasSuffix(w[0], "/print") || strings.HasSuffix(w[0], "/add") {
			t.Errorf("second run sent %s", w[0])
		}
	}

	// A new portal host moves the entries instead of adding more.
	g2 := *g
	in2 := &Interpreter{R: apiRunner{g.c}, Vars: map[string]string{"spPortalURL": "https://portal.isp.example/portal/x",
		"spPortalHost": "portal.isp.example"}}
	if err := in2.Run(src); err != nil {
		t.Fatal(err)
	}
	if wg := g2.one("/ip/hotspot/walled-garden"); wg["dst-host"] != "portal.isp.example" {
		t.Errorf("walled garden after host change: %v", wg)
	}
	if wip := g2.one("/ip/hotspot/walled-garden/ip"); wip["dst-host"] != "portal.isp.example" {
		t.Errorf("walled garden ip after host change: %v", wip)
	}
}

func diffMenus(a, b state) []string {
	var out []string
	for m := range a {
		if !reflect.DeepEqual(a[m], b[m]) {
			out = append(out, m+":\n  before "+stateString(a[m])+"\n  after  "+stateString(b[m]))
		}
	}
	return out
}

func stateString(rows []map[string]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(strings.Join(mapPairs(r), " "), "\n", `\n`), "\t", " ")))
		b.WriteString("; ")
	}
	return b.String()
}

func mapPairs(r map[string]string) []string {
	var out []string
	for k, v := range r {
		out = append(out, k+"="+v)
	}
	return out
}

var (
	formActionRE = regexp.MustCompile(`<form action="([^"]*)" method="(get|post)">`)
	hiddenInRE   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// submitForm does what the browser does with the page's first form: the
// action URL with the hidden inputs as its query (method get), or the
// inputs as a form body (post).
func submitForm(t *testing.T, page string) (method, action string, values url.Values) {
	t.Helper()
	m := formActionRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in:\n%s", page)
	}
	values = url.Values{}
	for _, in := range hiddenInRE.FindAllStringSubmatch(page, -1) {
		values.Set(in[1], in[2])
	}
	return strings.ToUpper(m[2]), m[1], values
}

// octal decodes RouterOS's \ooo escapes (what a JavaScript string literal
// of $(chap-id) holds).
func octal(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for ; len(s) >= 4 && s[0] == '\\'; s = s[4:] {
		n, err := strconv.ParseUint(s[1:4], 8, 8)
		if err != nil {
			t.Fatalf("bad escape %q", s[:4])
		}
		out = append(out, byte(n))
	}
	if s != "" {
		t.Fatalf("trailing %q after octal escapes", s)
	}
	return out
}

// TestHotspotPortalJourney drives a phone through the pages the script
// installs on the simulated hotspot: any URL → redirect → login.html →
// the portal gets every variable → the portal's CHAP (or, without
// JavaScript, PAP) post to link-login-only → alogin.html → online, with
// the session the agent sees; then status and logout.
func TestHotspotPortalJourney(t *testing.T) {
	src := loadScripts(t)["hotspot-portal.rsc"]
	g := startRig(t, "7.21.2 (stable)")
	if _, err := g.script("hotspot-portal.rsc", src); err != nil {
		t.Fatal(err)
	}
	if err := g.r.AddHotspotUser("K7P2QX", "K7P2QX", ""); err != nil {
		t.Fatal(err)
	}
	if err := g.r.AddHotspotUser("nojs", "pw", ""); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(g.r.HotspotHandler())
	t.Cleanup(hs.Close)

	for _, tc := range []struct{ name, mac, user, password, loginBy string }{
		{"chap", "AA:BB:CC:00:01:01", "K7P2QX", "K7P2QX", "http-chap"},
		{"pap without javascript", "AA:BB:CC:00:01:02", "nojs", "pw", "http-pap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			do := func(method, target string, form url.Values) (*http.Response, string) {
				t.Helper()
				var body io.Reader
				if form != nil {
					body = strings.NewReader(form.Encode())
				}
				req, _ := http.NewRequestWithContext(t.Context(), method, target, body)
				if form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				req.Header.Set(sim.HotspotMACHeader, tc.mac)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, string(b)
			}
			orig := hs.URL + "/news?id=3"
			resp, _ := do("GET", orig, nil)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, hs.URL+"/login?dst=") {
				t.Fatalf("logged-out request: %d %q", resp.StatusCode, loc)
			}
			_, page := do("GET", loc, nil)
			method, action, q := submitForm(t, page)
			if method != "GET" || action != testPortalURL {
				t.Fatalf("login.html submits %s %s, want GET %s", method, action, testPortalURL)
			}
			// What the portal receives.
			want := map[string]string{"mac": tc.mac, "ip": "127.0.0.1", "username": "", "error": "",
				"link-login-only": hs.URL + "/login", "link-orig": orig}
			for k, v := range want {
				if q.Get(k) != v {
					t.Errorf("portal gets %s=%q, want %q", k, q.Get(k), v)
				}
			}
			portalURL := action + "?" + q.Encode()
			parsed, err := url.Parse(portalURL)
			if err != nil {
				t.Fatal(err)
			}
			pq := parsed.Query()
			id, ch := octal(t, pq.Get("chap-id")), octal(t, pq.Get("chap-challenge"))
			if len(id) != 1 || len(ch) != 16 {
				t.Fatalf("chap-id %q chap-challenge %q", pq.Get("chap-id"), pq.Get("chap-challenge"))
			}

			// The portal logs the phone in at link-login-only.
			password := tc.password
			if tc.loginBy == "http-chap" {
				h := md5.New()
				h.Write(id)
				h.Write([]byte(tc.password))
				h.Write(ch)
				password = hex.EncodeToString(h.Sum(nil))
			}
			resp, page = do("POST", pq.Get("link-login-only"), url.Values{"username": {tc.user}, "password": {password},
				"dst": {pq.Get("link-orig")}, "popup": {"false"}})
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `content="1; url=`+orig+`"`) ||
				!strings.Contains(page, "You are online as "+tc.user) {
				t.Fatalf("login: %d, want alogin.html going on to %s:\n%s", resp.StatusCode, orig, page)
			}
			var row map[string]string
			for _, a := range g.r.HotspotActive() {
				if a["mac-address"] == tc.mac {
					row = a
				}
			}
			if row == nil || row["user"] != tc.user || row["login-by"] != tc.loginBy {
				t.Fatalf("active session: got %v, want %s by %s", g.r.HotspotActive(), tc.user, tc.loginBy)
			}
			if resp, _ := do("GET", orig, nil); resp.StatusCode == http.StatusFound && strings.Contains(resp.Header.Get("Location"), "/login") {
				t.Error("still redirected to the login page after logging in")
			}
			_, page = do("GET", hs.URL+"/status", nil)
			if !strings.Contains(page, "Online as "+tc.user+" (127.0.0.1)") {
				t.Errorf("status.html:\n%s", page)
			}
			_, page = do("POST", hs.URL+"/logout", url.Values{"erase-cookie": {"on"}})
			if !strings.Contains(page, "You have logged out, "+tc.user) || !strings.Contains(page, `href="`+hs.URL+`/login"`) {
				t.Errorf("logout.html:\n%s", page)
			}
		})
	}

	// A wrong password comes back to login.html, which forwards RouterOS's
	// error to the portal.
	client := &http.Client{}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", hs.URL+"/login", strings.NewReader("username=K7P2QX&password=nope"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(sim.HotspotMACHeader, "AA:BB:CC:00:01:03")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, _, q := submitForm(t, string(b)); q.Get("error") != "invalid username or password" || q.Get("username") != "K7P2QX" {
		t.Errorf("after a wrong password the portal gets error=%q username=%q", q.Get("error"), q.Get("username"))
	}
}
