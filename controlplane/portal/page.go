package portal

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

var (
	//go:embed assets/portal.css
	portalCSS string
	//go:embed assets/portal.js
	portalJS string
)

// pageState is what one rendering of the portal shows besides the site.
type pageState struct {
	vars       hotspotVars
	voucher    string // prefilled code
	tab        string
	voucherErr string
}

// jsConfig is what the page's script reads (a JSON script element).
type jsConfig struct {
	Key           string `json:"key"`
	Base          string `json:"base"`
	Login         string `json:"login,omitempty"`
	Orig          string `json:"orig,omitempty"`
	ChapID        string `json:"chapId,omitempty"`
	ChapChallenge string `json:"chapChallenge,omitempty"`
	MAC           string `json:"mac,omitempty"`
	IP            string `json:"ip,omitempty"`
}

type planItem struct {
	ID                    int64
	Name, Price, Duration string
	Checked               bool
}

type pageData struct {
	Title          string
	Logo           template.URL
	Primary        string
	Accent         string
	CSS            template.CSS
	JS             template.JS
	Config         jsConfig
	Base           string
	Vars           hotspotVars
	Plans          []planItem
	RouterError    string
	Voucher        string
	VoucherErr     string
	SupportPhone   string
	Terms          string
	HotspotMissing bool
	// Login is set on the page after a redeemed voucher.
	Login *controlplane.Credentials
	// Fatal is set on an error page.
	Fatal string
}

const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>:root{--p:{{.Primary}};--a:{{.Accent}}}{{.CSS}}</style>
</head><body>
<header>{{if .Logo}}<img src="{{.Logo}}" alt="">{{end}}<h1>{{.Title}}</h1></header>
<main>
{{if .Fatal}}<section><p class="msg err">{{.Fatal}}</p></section>{{else if .Login}}
<section><h2>Your voucher is ready</h2>
{{if .HotspotMissing}}<p class="msg ok">Your login: <b>{{.Login.Username}}</b> / <b>{{.Login.Password}}</b>. Open this page from the WiFi to connect.</p>{{else}}
<form id="login" method="post" action="{{.Vars.LinkLoginOnly}}" data-auto="1">
<input type="hidden" name="username" value="{{.Login.Username}}">
<input type="hidden" name="password" value="{{.Login.Password}}">
<input type="hidden" name="dst" value="{{.Vars.LinkOrig}}"><input type="hidden" name="popup" value="true">
<p class="msg ok">Connecting you… If nothing happens, press Connect.</p>
<button type="submit">Connect</button></form>{{end}}
</section>{{else}}
{{if .RouterError}}<p class="msg err" id="routererr">{{.RouterError}}</p>{{end}}
<section id="pay"><h2>Buy internet with M-Pesa</h2>
{{if .Plans}}<form id="buy" action="#" method="post">
<ul class="plans">{{range .Plans}}<li><label><span><input type="radio" name="plan_id" value="{{.ID}}"{{if .Checked}} checked{{end}}>{{.Name}} <small>{{.Duration}}</small></span><b>{{.Price}}</b></label></li>{{end}}</ul>
<label for="phone">M-Pesa number</label>
<input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" placeholder="0712 345 678" required maxlength="20">
<button id="paybtn" type="submit">Pay with M-Pesa</button>
<p id="paymsg" class="msg" hidden></p>
<noscript><p class="msg">Paying needs JavaScript. You can still use a voucher below.</p></noscript>
</form>{{else}}<p class="fine">No plans are on sale here right now.</p>{{end}}
</section>
<section id="voucher"><h2>Have a voucher?</h2>
<form method="post" action="{{.Base}}/voucher">
{{template "vars" .Vars}}
<label for="code">Voucher code</label>
<input id="code" name="code" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="40" value="{{.Voucher}}" required>
{{if .VoucherErr}}<p class="msg err" id="vouchererr">{{.VoucherErr}}</p>{{end}}
<button type="submit">Use voucher</button>
</form></section>
{{if not .HotspotMissing}}<section id="existing"><h2>Already have a login?</h2>
<form id="login" method="post" action="{{.Vars.LinkLoginOnly}}">
<label for="username">Code or username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" value="{{.Vars.Username}}" required maxlength="64">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" maxlength="64">
<input type="hidden" name="dst" value="{{.Vars.LinkOrig}}"><input type="hidden" name="popup" value="true">
<button type="submit">Log in</button>
</form></section>{{end}}
{{end}}
{{if or .SupportPhone .Terms}}<section>{{if .SupportPhone}}<p>Help: <a href="tel:{{.SupportPhone}}">{{.SupportPhone}}</a></p>{{end}}
{{if .Terms}}<details><summary>Terms</summary><p class="terms fine">{{.Terms}}</p></details>{{end}}</section>{{end}}
</main>
<script type="application/json" id="cfg">{{.Config}}</script>
<script>{{.JS}}</script>
</body></html>
{{define "vars"}}<input type="hidden" name="mac" value="{{.MAC}}"><input type="hidden" name="ip" value="{{.IP}}">
<input type="hidden" name="link-login-only" value="{{.LinkLoginOnly}}"><input type="hidden" name="link-orig" value="{{.LinkOrig}}">
<input type="hidden" name="chap-id" value="{{.ChapID}}"><input type="hidden" name="chap-challenge" value="{{.ChapChallenge}}">{{end}}`

type pageRenderer struct{ t *template.Template }

func newPageRenderer() (*pageRenderer, error) {
	t, err := template.New("portal").Parse(pageHTML)
	if err != nil {
		return nil, err
	}
	return &pageRenderer{t: t}, nil
}

// Default branding.
const (
	defaultPrimary = "#0b5cad"
	defaultAccent  = "#13804a"
)

func (p *Portal) data(s site, vars hotspotVars) pageData {
	set := s.settings
	d := pageData{Title: set.Name, Primary: set.PrimaryColor, Accent: set.AccentColor, CSS: template.CSS(portalCSS),
		JS: template.JS(portalJS), Vars: vars, SupportPhone: set.SupportPhone, Terms: set.Terms,
		HotspotMissing: vars.LinkLoginOnly == ""}
	if d.Title == "" {
		d.Title = s.tenant.Name
	}
	if d.Title == "" {
		d.Title = "WiFi"
	}
	if !colorRE.MatchString(d.Primary) {
		d.Primary = defaultPrimary
	}
	if !colorRE.MatchString(d.Accent) {
		d.Accent = defaultAccent
	}
	if set.LogoURL != "" && validLogo(set.LogoURL) {
		// Checked to be https or a base64 data:image URI: safe in img src.
		d.Logo = template.URL(set.LogoURL)
	}
	d.Base = "/portal/" + strconv.FormatInt(s.tenant.ID, 10) + "/" + s.routerPath()
	d.Config = jsConfig{Key: p.o.PusherKey, Base: d.Base, Login: vars.LinkLoginOnly, Orig: vars.LinkOrig,
		ChapID: vars.ChapID, ChapChallenge: vars.ChapChallenge, MAC: vars.MAC, IP: vars.IP}
	return d
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, s site, st pageState) {
	p.renderStatus(w, r, s, st, http.StatusOK)
}

func (p *Portal) renderStatus(w http.ResponseWriter, r *http.Request, s site, st pageState, status int) {
	d := p.data(s, st.vars)
	plans, err := p.plans(r.Context(), s)
	if err != nil {
		p.log.Error("portal plans", "tenant", s.tenant.ID, "err", err)
	}
	for i, pl := range plans {
		d.Plans = append(d.Plans, planItem{ID: pl.ID, Name: pl.Name, Price: pl.Price.String(), Duration: durationWords(pl.DurationSeconds),
			Checked: i == 0})
	}
	d.RouterError = routerErrorWords(st.vars.Error)
	d.Voucher, d.VoucherErr = normalizeCode(st.voucher), st.voucherErr
	p.write(w, status, d)
}

func (p *Portal) renderLogin(w http.ResponseWriter, _ *http.Request, s site, vars hotspotVars, c controlplane.Credentials) {
	d := p.data(s, vars)
	d.Login = &c
	p.write(w, http.StatusOK, d)
}

func (p *Portal) pageError(w http.ResponseWriter, _ *http.Request, err error) {
	code := controlplane.ErrorCode(err)
	msg := "Something went wrong. Try again in a minute."
	switch code {
	case controlplane.ENOTFOUND:
		msg = "This WiFi login page does not exist. Check the address, or reconnect to the WiFi."
	case controlplane.EINVALID:
		msg = controlplane.ErrorMessage(err)
	default:
		p.log.Error("portal page", "err", err)
	}
	p.write(w, controlplane.HTTPStatus(code), pageData{Title: "WiFi", Primary: defaultPrimary, Accent: defaultAccent,
		CSS: template.CSS(portalCSS), JS: template.JS(portalJS), Fatal: msg, HotspotMissing: true})
}

func (p *Portal) write(w http.ResponseWriter, status int, d pageData) {
	var b bytes.Buffer
	if err := p.page.t.Execute(&b, d); err != nil {
		p.log.Error("render portal", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self' ws: wss:; form-action *; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// durationWords says a plan's length for people: "1 hour", "7 days".
func durationWords(sec int64) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case sec <= 0:
		return ""
	case sec%(7*86400) == 0:
		return unit(sec/(7*86400), "week")
	case sec%86400 == 0:
		return unit(sec/86400, "day")
	case sec%3600 == 0:
		return unit(sec/3600, "hour")
	default:
		return unit((sec+59)/60, "minute")
	}
}

// routerErrorWords turns RouterOS's hotspot $(error) into plain words for
// the customer ("" stays "").
func routerErrorWords(e string) string {
	l := strings.ToLower(strings.TrimSpace(e))
	switch {
	case l == "":
		return ""
	case strings.Contains(l, "invalid username or password"), strings.Contains(l, "invalid password"),
		strings.Contains(l, "no such user"):
		return "Wrong code or password. Check it and try again."
	case strings.Contains(l, "no more sessions are allowed"), strings.Contains(l, "already logged in"):
		return "This login is already in use on another device. Log out there first, or buy another plan."
	case strings.Contains(l, "uptime limit"), strings.Contains(l, "expired"), strings.Contains(l, "disabled"):
		return "Your time on this login has run out. Buy a plan or use a new voucher."
	case strings.Contains(l, "traffic limit"):
		return "The data on this login is used up. Buy a plan or use a new voucher."
	case strings.Contains(l, "radius"), strings.Contains(l, "not responding"):
		return "The WiFi cannot check logins right now. Try again in a minute."
	}
	return "The WiFi refused the login (" + e + "). Try again, or call support."
}
