package sim

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The hotspot's HTTP side: what RouterOS serves to devices on a hotspot
// interface. A device is known by its MAC address (RouterOS reads it from
// ARP); the simulator derives a stable fake MAC from the client's IP
// address, and a test can play several devices from one address by
// naming the MAC (and the IP address the router should record) per
// request with these headers or cookies. A header wins over a cookie.
const (
	HotspotMACHeader = "X-Sim-Client-MAC"
	HotspotMACCookie = "sim-client-mac"
	HotspotIPHeader  = "X-Sim-Client-IP"
	HotspotIPCookie  = "sim-client-ip"
)

// Hotspot login errors RouterOS's errors.txt has that the checks of
// LoginHotspotPassword do not produce.
const (
	LoginChapMissing = "web browser did not send challenge response (try refreshing login page)"
)

// chapKeep is how many CHAP challenges of one device stay valid: RouterOS
// issues a new one per view of the login page; keeping the last few lets
// a page that was shown twice (a reload, a portal prefetch) still log in.
const chapKeep = 4

type chapChallenge struct {
	id        byte
	challenge [16]byte
}

// hotspotHTTP is the state of the HTTP side. Its zero value is ready;
// mu is taken after Router.mu, never before.
type hotspotHTTP struct {
	mu    sync.Mutex
	chaps map[string][]chapChallenge // MAC → newest first
	srv   *http.Server
	addr  string
	done  chan struct{}
}

// HotspotHandler returns the hotspot's HTTP side as a handler, for
// in-process tests (httptest.NewServer). StartHotspot serves the same.
//
// A request from a device without an active session is redirected (302)
// to http://HOST/login?dst=<the URL it asked for>, whatever the path,
// except for files of the hotspot's html directory (md5.js, images).
// GET /login serves html-directory/login.html from /file with RouterOS's
// $(var) substitution (a built-in default if the file is missing), with a
// new CHAP challenge per view when login-by has http-chap. POST /login (or
// GET with username=) checks username and password — the plain password
// when login-by has http-pap, the CHAP response hexMD5(chap-id + password +
// chap-challenge) when it has http-chap — through the same checks as
// LoginHotspotPassword; success starts the active session (login-by
// http-chap or http-pap) and serves alogin.html (whose $(link-redirect) is
// dst), or redirects to dst when there is no alogin.html; failure serves
// login.html again with $(error) set to RouterOS's text. /status and
// /logout serve status.html and logout.html; /logout ends the session.
//
// It also works as an HTTP proxy (a browser started with
// --proxy-server=http://HOTSPOT): a request for another host is
// redirected to the login page the same way while the device is logged
// out, and answered with a small "simulated internet" page once it is
// logged in. CONNECT (https) is refused.
func (r *Router) HotspotHandler() http.Handler {
	return http.HandlerFunc(r.serveHotspot)
}

// StartHotspot serves HotspotHandler on addr (e.g. "127.0.0.1:0") in the
// background until Close.
func (r *Router) StartHotspot(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sim: hotspot listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: r.HotspotHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	r.hs.mu.Lock()
	if r.hs.srv != nil {
		r.hs.mu.Unlock()
		ln.Close()
		return errors.New("sim: hotspot already started")
	}
	r.hs.srv, r.hs.addr, r.hs.done = srv, ln.Addr().String(), done
	r.hs.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Warn("hotspot http stopped", "err", err)
		}
	}()
	r.log.Info("hotspot http listening", "addr", ln.Addr().String())
	return nil
}

// HotspotAddr returns the address StartHotspot listens on ("" before).
func (r *Router) HotspotAddr() string {
	r.hs.mu.Lock()
	defer r.hs.mu.Unlock()
	return r.hs.addr
}

// closeHotspot stops the HTTP side started by StartHotspot.
func (r *Router) closeHotspot() {
	r.hs.mu.Lock()
	srv, done := r.hs.srv, r.hs.done
	r.hs.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	<-done
}

// hotspotDevice identifies the requesting device: its IP address and MAC.
func hotspotDevice(req *http.Request) (mac, ip string, err error) {
	pick := func(header, cookie string) string {
		if v := req.Header.Get(header); v != "" {
			return v
		}
		if c, err := req.Cookie(cookie); err == nil {
			return c.Value
		}
		return ""
	}
	ip = pick(HotspotIPHeader, HotspotIPCookie)
	if ip == "" {
		ip, _, _ = net.SplitHostPort(req.RemoteAddr)
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", "", fmt.Errorf("client ip %q: not an address", ip)
	}
	ip = a.Unmap().String()
	mac = pick(HotspotMACHeader, HotspotMACCookie)
	if mac == "" {
		return clientMAC(ip), ip, nil
	}
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return "", "", fmt.Errorf("client mac %q: not a MAC address", mac)
	}
	return strings.ToUpper(hw.String()), ip, nil
}

// clientMAC is the stable fake MAC of a client IP address (locally
// administered, upper case like RouterOS prints MACs).
func clientMAC(ip string) string {
	h := fnv.New64a()
	h.Write([]byte(ip))
	s := h.Sum64()
	return fmt.Sprintf("02:%02X:%02X:%02X:%02X:%02X", byte(s>>32), byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}

// hotspotView is what one request needs to know about the router.
type hotspotView struct {
	host, mac, ip string
	htmlDir       string
	chap, pap     bool
	vars          map[string]string
	session       *item // the device's active session, nil if none
}

func (r *Router) serveHotspot(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodConnect {
		http.Error(w, "the simulated hotspot does not tunnel https", http.StatusMethodNotAllowed)
		return
	}
	mac, ip, err := hotspotDevice(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// A proxy request names its target in absolute form; a direct one is
	// for the hotspot itself.
	own := !req.URL.IsAbs()
	host := req.Host
	if !own {
		host = r.HotspotAddr()
		if host == "" || strings.EqualFold(req.URL.Host, host) {
			own, host = true, req.URL.Host
		}
	}
	orig := "http://" + req.Host + req.URL.RequestURI()
	if !own {
		orig = req.URL.String()
	}
	v, ok := r.hotspotView(host, mac, ip)
	if !ok {
		http.Error(w, "no hotspot server is enabled", http.StatusServiceUnavailable)
		return
	}
	if !own {
		if v.session == nil {
			redirect(w, v.vars["link-login-only"]+"?dst="+url.QueryEscape(orig))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "simulated internet: %s\n", orig)
		return
	}
	switch req.URL.Path {
	case "/login":
		r.hotspotLogin(w, req, v)
		return
	case "/status":
		if v.session == nil {
			redirect(w, v.vars["link-login-only"]+"?dst="+url.QueryEscape(v.vars["link-status"]))
			return
		}
		r.servePage(w, v, "status.html", nil)
		return
	case "/logout":
		if v.session == nil {
			redirect(w, v.vars["link-login-only"])
			return
		}
		r.mu.Lock()
		if v.session.sess != nil {
			r.endSessionLocked(v.session.sess, "logout")
		}
		r.mu.Unlock()
		r.servePage(w, v, "logout.html", map[string]string{"logged-in": "no"})
		return
	}
	name := strings.TrimPrefix(path.Clean(req.URL.Path), "/")
	r.mu.Lock()
	body, isFile := r.fileLocked(path.Join(v.htmlDir, name))
	r.mu.Unlock()
	if !isFile && name == "md5.js" {
		body, isFile = defaultPage(name), true
	}
	switch {
	case isFile && name != "":
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Write([]byte(body))
	case v.session != nil && name == "":
		redirect(w, v.vars["link-status"])
	case v.session != nil:
		http.NotFound(w, req)
	default:
		redirect(w, v.vars["link-login-only"]+"?dst="+url.QueryEscape(orig))
	}
}

func redirect(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusFound)
}

// hotspotView reads the server, its profile and the device's session and
// fills the page variables they give. ok is false when no hotspot server
// is enabled.
func (r *Router) hotspotView(host, mac, ip string) (hotspotView, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked(r.now())
	server, prof := r.hotspotServerLocked()
	if server == nil {
		return hotspotView{}, false
	}
	v := hotspotView{host: host, mac: mac, ip: ip, htmlDir: prof["html-directory"]}
	if o := prof["html-directory-override"]; o != "" {
		v.htmlDir = o
	}
	for _, w := range strings.Split(prof["login-by"], ",") {
		v.chap = v.chap || w == "http-chap"
		v.pap = v.pap || w == "http-pap"
	}
	base := "http://" + host
	v.vars = map[string]string{
		"hostname": host, "server-address": host, "server-name": server["name"],
		"interface-name": server["interface"], "identity": r.tables["/system/identity"].items[0].attrs["name"],
		"mac": mac, "mac-esc": url.QueryEscape(mac), "ip": ip,
		"link-login": base + "/login", "link-login-only": base + "/login", "link-status": base + "/status",
		"link-logout": base + "/logout", "logged-in": "no", "trial": "no",
	}
	for _, it := range r.tables["/ip/hotspot/active"].items {
		if it.attrs["mac-address"] != mac {
			continue
		}
		v.session = it
		_, row := r.row(r.tables["/ip/hotspot/active"], it, r.now())
		v.vars["logged-in"] = "yes"
		v.vars["username"] = row["user"]
		v.vars["ip"] = row["address"]
		v.vars["login-by"] = row["login-by"]
		v.vars["uptime"] = row["uptime"]
		v.vars["session-time-left"] = row["session-time-left"]
		for _, k := range []string{"bytes-in", "bytes-out", "packets-in", "packets-out"} {
			v.vars[k] = row[k]
		}
		in, _ := strconv.ParseUint(row["bytes-in"], 10, 64)
		out, _ := strconv.ParseUint(row["bytes-out"], 10, 64)
		v.vars["bytes-in-nice"], v.vars["bytes-out-nice"] = niceBytes(in), niceBytes(out)
		refresh := "1m"
		if u := r.tables["/ip/hotspot/user"].lookup(row["user"]); u != nil {
			if p := r.tables["/ip/hotspot/user/profile"].lookup(u.attrs["profile"]); p != nil && p.attrs["status-autorefresh"] != "" {
				refresh = p.attrs["status-autorefresh"]
			}
		}
		d, _ := profileDuration(refresh)
		v.vars["refresh-timeout"] = refresh
		v.vars["refresh-timeout-secs"] = strconv.Itoa(int(d / time.Second))
		break
	}
	return v, true
}

// niceBytes formats a byte count the way RouterOS's $(bytes-in-nice) does.
func niceBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
	}
	return strconv.FormatFloat(f/unit, 'f', 1, 64) + " PiB"
}

// setOrig fills the variables that follow from the page the device
// originally asked for (dst).
func (v *hotspotView) setOrig(dst string) {
	if dst == "" {
		return
	}
	v.vars["link-orig"] = dst
	v.vars["link-orig-esc"] = url.QueryEscape(dst)
	v.vars["link-login"] = v.vars["link-login-only"] + "?dst=" + url.QueryEscape(dst)
}

func (r *Router) hotspotLogin(w http.ResponseWriter, req *http.Request, v hotspotView) {
	req.Body = http.MaxBytesReader(w, req.Body, 64<<10)
	if err := req.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	dst := req.Form.Get("dst")
	v.setOrig(dst)
	redirectTo := dst
	if redirectTo == "" {
		redirectTo = v.vars["link-status"]
	}
	v.vars["link-redirect"] = redirectTo
	v.vars["link-redirect-esc"] = url.QueryEscape(redirectTo)
	v.vars["popup"] = req.Form.Get("popup")
	_, attempt := req.Form["username"]
	attempt = attempt || req.Method == http.MethodPost
	if v.session != nil {
		// Already logged in: RouterOS sends the device on.
		redirect(w, redirectTo)
		return
	}
	if !attempt {
		r.serveLoginPage(w, v, "", "")
		return
	}
	user, password := req.Form.Get("username"), req.Form.Get("password")
	_, err := r.hotspotCheck(req.Context(), v, user, password)
	var le *LoginError
	switch {
	case errors.As(err, &le):
		v.vars["username"] = user
		r.serveLoginPage(w, v, le.Message, le.Message)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	v2, _ := r.hotspotView(v.host, v.mac, v.ip)
	for _, k := range []string{"link-orig", "link-orig-esc", "link-login", "link-redirect", "link-redirect-esc", "popup"} {
		if val, ok := v.vars[k]; ok {
			v2.vars[k] = val
		}
	}
	r.mu.Lock()
	_, ok := r.fileLocked(path.Join(v.htmlDir, "alogin.html"))
	r.mu.Unlock()
	if !ok {
		redirect(w, redirectTo)
		return
	}
	r.servePage(w, v2, "alogin.html", nil)
}

// hotspotCheck logs the device in if password proves the account's
// password: as CHAP against one of the device's recent challenges (then
// used up) when login-by has http-chap, or in plain text when it has
// http-pap. Without a local user and with use-radius=yes the RADIUS
// servers decide (see HotspotLogin): with CHAP they get the device's
// newest challenge and its response, with PAP the password.
func (r *Router) hotspotCheck(ctx context.Context, v hotspotView, user, password string) (string, error) {
	r.hs.mu.Lock()
	chaps := append([]chapChallenge(nil), r.hs.chaps[v.mac]...)
	r.hs.mu.Unlock()
	if v.chap && !v.pap && len(chaps) == 0 {
		return "", &LoginError{LoginChapMissing}
	}
	resp, _ := hex.DecodeString(strings.ToLower(password))
	used := -1
	verify := func(stored string) (string, bool) {
		if v.chap && len(resp) == md5.Size {
			for i, c := range chaps {
				h := md5.New()
				h.Write([]byte{c.id})
				h.Write([]byte(stored))
				h.Write(c.challenge[:])
				if subtle.ConstantTimeCompare(h.Sum(nil), resp) == 1 {
					used = i
					return "http-chap", true
				}
			}
		}
		if v.pap && subtle.ConstantTimeCompare([]byte(stored), []byte(password)) == 1 {
			return "http-pap", true
		}
		return "", false
	}
	id, err := r.loginVerified("hotspot", user, verify, v.mac, v.ip)
	if errors.Is(err, errNeedRadius) {
		var auth radiusAuth
		switch {
		case v.chap && len(resp) == md5.Size && len(chaps) > 0:
			used = 0
			auth = radiusAuth{method: "chap", chapID: chaps[0].id, chapChallenge: chaps[0].challenge}
			copy(auth.chapResp[:], resp)
		case v.pap:
			auth = radiusAuth{method: "pap", password: password}
		default:
			return "", &LoginError{LoginInvalid}
		}
		id, err = r.radiusLogin(ctx, "hotspot", user, auth, v.mac, v.ip)
	}
	if err == nil && used >= 0 {
		r.hs.mu.Lock()
		cur := r.hs.chaps[v.mac]
		for i, c := range cur {
			if c == chaps[used] {
				r.hs.chaps[v.mac] = append(cur[:i:i], cur[i+1:]...)
				break
			}
		}
		r.hs.mu.Unlock()
	}
	return id, err
}

// newChallenge issues a CHAP challenge for mac and returns it.
func (r *Router) newChallenge(mac string) chapChallenge {
	var c chapChallenge
	var b [17]byte
	rand.Read(b[:])
	c.id = b[0]
	copy(c.challenge[:], b[1:])
	r.hs.mu.Lock()
	defer r.hs.mu.Unlock()
	if r.hs.chaps == nil {
		r.hs.chaps = make(map[string][]chapChallenge)
	}
	list := append([]chapChallenge{c}, r.hs.chaps[mac]...)
	if len(list) > chapKeep {
		list = list[:chapKeep]
	}
	r.hs.chaps[mac] = list
	return c
}

// serveLoginPage renders login.html with a fresh challenge and the error.
func (r *Router) serveLoginPage(w http.ResponseWriter, v hotspotView, errText, errOrig string) {
	extra := map[string]string{"error": errText, "error-orig": errOrig}
	if v.chap {
		c := r.newChallenge(v.mac)
		extra["chap-id"] = octalEscape([]byte{c.id})
		extra["chap-challenge"] = octalEscape(c.challenge[:])
	}
	r.servePage(w, v, "login.html", extra)
}

// servePage renders html-directory/name (the built-in page if missing).
func (r *Router) servePage(w http.ResponseWriter, v hotspotView, name string, extra map[string]string) {
	r.mu.Lock()
	page, ok := r.fileLocked(path.Join(v.htmlDir, name))
	r.mu.Unlock()
	if !ok {
		page = defaultPage(name)
	}
	vars := v.vars
	if len(extra) > 0 {
		vars = make(map[string]string, len(v.vars)+len(extra))
		for k, val := range v.vars {
			vars[k] = val
		}
		for k, val := range extra {
			vars[k] = val
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Expires", "0")
	w.Write([]byte(renderPage(page, vars)))
}

// HotspotCHAPResponse is what a login page's md5.js posts as the password
// with CHAP: hexMD5(chap-id + password + chap-challenge), lower-case hex,
// where chapID and chapChallenge are written as RouterOS fills $(chap-id)
// and $(chap-challenge) (octal escapes, \344 per byte). For tests that
// play a portal.
func HotspotCHAPResponse(chapID, chapChallenge, password string) (string, error) {
	id, err := unescapeOctal(chapID)
	if err != nil {
		return "", fmt.Errorf("chap-id: %w", err)
	}
	ch, err := unescapeOctal(chapChallenge)
	if err != nil {
		return "", fmt.Errorf("chap-challenge: %w", err)
	}
	h := md5.New()
	h.Write(id)
	h.Write([]byte(password))
	h.Write(ch)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// unescapeOctal reverses octalEscape.
func unescapeOctal(s string) ([]byte, error) {
	out := make([]byte, 0, len(s)/4)
	for len(s) > 0 {
		if len(s) < 4 || s[0] != '\\' {
			return nil, fmt.Errorf("%q is not \\ooo escapes", s)
		}
		n, err := strconv.ParseUint(s[1:4], 8, 8)
		if err != nil {
			return nil, fmt.Errorf("bad escape %q", s[:4])
		}
		out = append(out, byte(n))
		s = s[4:]
	}
	return out, nil
}
