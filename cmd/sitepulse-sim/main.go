package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-routeros/routeros/v3"

	firmwarescripts "github.com/sitepulse/sitepulse/firmware-scripts"
	"github.com/sitepulse/sitepulse/internal/cliflag"
	"github.com/sitepulse/sitepulse/sim"
)

func main() {
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Catch SIGHUP/SIGUSR1 before announcing the address: their default
	// action would kill the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
loop:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				m.Logger.Info("SIGHUP: dropping api connections")
				m.Router().DropConnections()
			} else {
				m.Logger.Info("SIGUSR1: rebooting", "down", m.RebootDown)
				m.Router().Reboot(m.RebootDown)
			}
		case <-ctx.Done():
			break loop
		}
	}
	m.Logger.Info("stopping")
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// envPrefix is prepended to a flag's upper-cased name (dashes become
// underscores) to form its environment fallback.
const envPrefix = "SITEPULSE_SIM_"

// Main is the simulator process: flags, the router and the control API.
// Tests create one, set fields or call ParseFlags, and Run it on port 0.
type Main struct {
	APIAddr         string        // RouterOS API listen address
	ControlAddr     string        // HTTP control API address; "" = off
	HotspotAddr     string        // hotspot HTTP side (login page, /login, /status, /logout); "" = off
	PortalURL       string        // run firmware-scripts/hotspot-portal.rsc with this portal URL at start; "" = RouterOS's default pages
	User            string        // API user
	Password        string        // API password
	PasswordFile    string        // file holding the API password (wins over Password)
	HotspotSessions int           // initial hotspot sessions
	PPPSessions     int           // initial PPP sessions
	Churn           float64       // logins+logouts per minute
	ActiveShare     float64       // share of sessions moving traffic at a time; 0 = busy default
	Seed            int64         // scenario seed
	Identity        string        // /system/identity name
	TrafficInterval time.Duration // scenario tick
	ReplyDelay      time.Duration // wait before handling each API command
	RebootDown      time.Duration // how long SIGUSR1 and /reboot refuse connections by default
	TLSCert, TLSKey string        // PEM files; both set = serve the API over TLS
	NoEmpty         bool          // behave like RouterOS < 7.18
	LogLevel        string        // debug, info, warn, error
	// RadiusIncomingAddr is where /radius incoming listens once a script
	// sets accept=yes (RouterOS: port 3799 on every address).
	RadiusIncomingAddr string

	Logger *slog.Logger // nil = text to Stderr at LogLevel
	Stderr io.Writer    // usage and logs; nil = os.Stderr

	router  *sim.Router
	control *http.Server
	ctlLn   net.Listener
	done    chan struct{}
}

// NewMain returns a Main with the defaults the flags document.
func NewMain() *Main {
	return &Main{
		APIAddr: "127.0.0.1:8728", User: "admin", HotspotSessions: 20, PPPSessions: 10, Churn: 6,
		Seed: 1, Identity: "MikroTik", TrafficInterval: time.Second, RebootDown: 5 * time.Second,
		LogLevel: "info", Stderr: os.Stderr, RadiusIncomingAddr: "127.0.0.1:0",
	}
}

// ParseFlags reads args, with SITEPULSE_SIM_* environment variables as
// fallbacks for flags not given. It returns flag.ErrHelp after printing
// usage for -h/--help.
func (m *Main) ParseFlags(args []string) error {
	fs := cliflag.New("sitepulse-sim", "a MikroTik RouterOS API simulator (hotspot, PPP, interfaces, system) with seeded session churn", envName, m.stderr())
	fs.Description = "Every flag also comes from the environment variable shown.\n" +
		"Signals: SIGHUP drops all API connections, SIGUSR1 reboots, SIGINT/SIGTERM stop.\n" +
		"Control API (--control-addr): POST /drop, POST /reboot?down=5s,\n" +
		"  POST /login/hotspot?user=&mac=&address=, POST /login/ppp?name=&caller-id=&address=,\n" +
		"  POST /logout?id=, POST /hotspot-user?name=&password=&profile=, POST /ppp-secret?name=&password=&profile=,\n" +
		"  GET /state (JSON of active sessions),\n" +
		"  POST /login {kind: hotspot|ppp, user, password, mac, address} (checks the password, the user's state and\n" +
		"  its profile's limits like RouterOS; 401/403 carry RouterOS's message), GET /profiles (hotspot and PPP profiles).\n" +
		"RADIUS (the router as RouterOS's RADIUS client, configured with /radius, /radius incoming, /ppp aaa and\n" +
		"  use-radius on /ip/hotspot/profile): POST /hotspot/login {user, password, mac, address, login_by: chap|pap} and\n" +
		"  POST /pppoe/dial {user, password, mac, address} answer {ok, id} or {ok: false, error} (the login page's text),\n" +
		"  POST /logout?id=&by=user (User-Request; default an admin kick), GET /radius (client counters, incoming_addr),\n" +
		"  POST /radius/faults {drop_access, delay, deaf_accounting}.\n" +
		"Hotspot HTTP (--hotspot-addr): what a device on the hotspot sees. A logged-out device's request is redirected\n" +
		"  to /login?dst=…; /login serves hotspot/login.html from /file with RouterOS's $(var) substitution and takes\n" +
		"  username + password (PAP) or the CHAP response; /status, /logout. A device is its MAC: a stable fake MAC of\n" +
		"  the client IP, or the " + sim.HotspotMACHeader + " header / " + sim.HotspotMACCookie + " cookie; the address the router\n" +
		"  records is the client IP or the " + sim.HotspotIPHeader + " header / " + sim.HotspotIPCookie + " cookie. It also works as an\n" +
		"  HTTP proxy (browser --proxy-server) for the whole redirect → login → browse journey."
	fs.Group("RouterOS API")
	fs.StringVar(&m.APIAddr, "api-addr", m.APIAddr, "RouterOS API listen address (8728 plain, 8729 is the TLS convention)")
	fs.StringVar(&m.User, "user", m.User, "API user name")
	fs.StringVar(&m.Password, "password", m.Password, "API password (prefer --password-file)")
	fs.StringVar(&m.PasswordFile, "password-file", m.PasswordFile, "file whose first line is the API password; overrides --password")
	fs.StringVar(&m.Identity, "identity", m.Identity, "/system/identity name")
	fs.StringVar(&m.TLSCert, "tls-cert", m.TLSCert, "PEM certificate file; with --tls-key serves the API over TLS (api-ssl)")
	fs.StringVar(&m.TLSKey, "tls-key", m.TLSKey, "PEM private key file for --tls-cert")
	fs.BoolVar(&m.NoEmpty, "no-empty", m.NoEmpty, "behave like RouterOS before 7.18: no !empty reply when print matches nothing")
	fs.DurationVar(&m.ReplyDelay, "reply-delay", m.ReplyDelay, "wait before answering each API command, like a real router's latency (e.g. 2ms); 0 = answer at once")
	fs.Group("Scenario")
	fs.IntVar(&m.HotspotSessions, "hotspot-sessions", m.HotspotSessions, "initial active hotspot sessions (users are created for them plus spares)")
	fs.IntVar(&m.PPPSessions, "ppp-sessions", m.PPPSessions, "initial active PPPoE sessions (secrets are created for them plus spares)")
	fs.Float64Var(&m.Churn, "churn", m.Churn, "logins plus logouts per minute; 0 = static sessions")
	fs.Float64Var(&m.ActiveShare, "active-share", m.ActiveShare, "share of sessions moving traffic at a time, in ~10 s bursts (e.g. 0.2 for a hotspot); 0 = the busy default, 4 in 5 every step")
	fs.Int64Var(&m.Seed, "seed", m.Seed, "scenario seed: the same seed gives the same users and changes")
	fs.DurationVar(&m.TrafficInterval, "traffic-interval", m.TrafficInterval, "how often traffic counters grow and churn is applied")
	fs.DurationVar(&m.RebootDown, "reboot-down", m.RebootDown, "how long a reboot (SIGUSR1, POST /reboot without down=) refuses connections")
	fs.Group("HTTP")
	fs.StringVar(&m.ControlAddr, "control-addr", m.ControlAddr, `HTTP control API listen address, e.g. 127.0.0.1:8080; "" = off. No auth: keep it on loopback`)
	fs.StringVar(&m.HotspotAddr, "hotspot-addr", m.HotspotAddr, `hotspot HTTP listen address (the login page devices are sent to), e.g. 127.0.0.1:8081; "" = off`)
	fs.StringVar(&m.RadiusIncomingAddr, "radius-incoming", m.RadiusIncomingAddr, `where /radius incoming listens for Disconnect/CoA once accept=yes (RouterOS: port 3799); GET /radius shows the bound address`)
	fs.StringVar(&m.PortalURL, "portal-url", m.PortalURL, `at start, run firmware-scripts/hotspot-portal.rsc with this portal URL (e.g. http://127.0.0.1:8080/portal/1/r1), as an ISP would on a router; "" = RouterOS's default pages`)
	fs.Group("Logging")
	fs.StringVar(&m.LogLevel, "log-level", m.LogLevel, "log level: debug, info, warn or error")
	if err := fs.Parse(args, os.LookupEnv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (m *Main) stderr() io.Writer {
	if m.Stderr == nil {
		return os.Stderr
	}
	return m.Stderr
}

// Run starts the simulator and the control API and returns once they
// listen. ctx bounds their lifetime; Close stops them.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		var level slog.Level
		if err := level.UnmarshalText([]byte(m.LogLevel)); err != nil {
			return fmt.Errorf("log level %q: %w", m.LogLevel, err)
		}
		m.Logger = slog.New(slog.NewTextHandler(m.stderr(), &slog.HandlerOptions{Level: level}))
	}
	password := m.Password
	if m.PasswordFile != "" {
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return fmt.Errorf("read password file: %w", err)
		}
		password, _, _ = strings.Cut(string(b), "\n")
		password = strings.TrimSuffix(password, "\r")
	}
	var tlsCfg *tls.Config
	if m.TLSCert != "" || m.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(m.TLSCert, m.TLSKey)
		if err != nil {
			return fmt.Errorf("load tls certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	m.router = sim.New(sim.Config{
		User: m.User, Password: password, Identity: m.Identity, Seed: m.Seed,
		HotspotSessions: m.HotspotSessions, PPPSessions: m.PPPSessions, ChurnPerMinute: m.Churn, ActiveShare: m.ActiveShare,
		TrafficInterval: m.TrafficInterval, NoEmpty: m.NoEmpty, TLS: tlsCfg, Logger: m.Logger,
		RebootDown: m.RebootDown, ReplyDelay: m.ReplyDelay, RadiusIncomingAddr: m.RadiusIncomingAddr,
	})
	if err := m.router.Start(ctx, m.APIAddr); err != nil {
		return err
	}
	if m.PortalURL != "" {
		if err := m.installPortal(password, tlsCfg != nil); err != nil {
			m.router.Close()
			return err
		}
	}
	if m.HotspotAddr != "" {
		if err := m.router.StartHotspot(m.HotspotAddr); err != nil {
			m.router.Close()
			return err
		}
	}
	m.done = make(chan struct{})
	if m.ControlAddr != "" {
		ln, err := net.Listen("tcp", m.ControlAddr)
		if err != nil {
			m.router.Close()
			return fmt.Errorf("control api listen %s: %w", m.ControlAddr, err)
		}
		if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
			m.Logger.Warn("control API is not on loopback and has no authentication", "addr", ln.Addr().String())
		}
		m.ctlLn = ln
		m.control = &http.Server{Handler: m.controlHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
		go func() {
			defer close(m.done)
			if err := m.control.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.Logger.Error("control api stopped", "err", err)
			}
		}()
		m.Logger.Info("control api listening", "addr", ln.Addr().String())
	} else {
		close(m.done)
	}
	m.Logger.Info("sitepulse-sim running", "api", m.router.Addr(), "hotspot_sessions", m.HotspotSessions,
		"ppp_sessions", m.PPPSessions, "churn_per_min", m.Churn, "seed", m.Seed, "tls", tlsCfg != nil)
	return nil
}

// Router returns the running simulator (nil before Run).
func (m *Main) Router() *sim.Router { return m.router }

// installPortal runs hotspot-portal.rsc against the router's own API, with
// spPortalURL and spPortalHost from PortalURL.
func (m *Main) installPortal(password string, useTLS bool) error {
	u, err := url.Parse(m.PortalURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("portal url %q: want http(s)://host/path", m.PortalURL)
	}
	scripts, _, err := firmwarescripts.Scripts()
	if err != nil {
		return err
	}
	var c *routeros.Client
	if useTLS {
		// The simulator's own certificate, over loopback.
		c, err = routeros.DialTLSTimeout(m.router.Addr(), m.User, password, &tls.Config{InsecureSkipVerify: true}, 5*time.Second)
	} else {
		c, err = routeros.DialTimeout(m.router.Addr(), m.User, password, 5*time.Second)
	}
	if err != nil {
		return fmt.Errorf("portal script: dial own api: %w", err)
	}
	defer c.Close()
	c.SetLogHandler(slog.NewTextHandler(io.Discard, nil))
	in := &firmwarescripts.Interpreter{R: apiRunner{c}, Vars: map[string]string{
		"spPortalURL": m.PortalURL, "spPortalHost": u.Hostname()}}
	if err := in.Run(scripts["hotspot-portal.rsc"]); err != nil {
		return fmt.Errorf("portal script: %w", err)
	}
	m.Logger.Info("hotspot pages send devices to the portal", "portal", m.PortalURL)
	return nil
}

// apiRunner runs the firmware scripts' sentences with go-routeros.
type apiRunner struct{ c *routeros.Client }

func (a apiRunner) Run(sentence ...string) ([]map[string]string, error) {
	rep, err := a.c.RunArgs(sentence)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(rep.Re))
	for _, re := range rep.Re {
		out = append(out, re.Map)
	}
	return out, nil
}

// HotspotURL returns the hotspot HTTP base URL ("" when off or not
// running).
func (m *Main) HotspotURL() string {
	if m.router == nil || m.router.HotspotAddr() == "" {
		return ""
	}
	return "http://" + m.router.HotspotAddr()
}

// ControlURL returns the control API base URL ("" when off or not running).
func (m *Main) ControlURL() string {
	if m.ctlLn == nil {
		return ""
	}
	return "http://" + m.ctlLn.Addr().String()
}

// Close stops the control API and the simulator.
func (m *Main) Close() error {
	var errs []error
	if m.control != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.control.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("control api shutdown: %w", err))
		}
		<-m.done
	}
	if m.router != nil {
		if err := m.router.Close(); err != nil {
			errs = append(errs, fmt.Errorf("simulator close: %w", err))
		}
	}
	return errors.Join(errs...)
}

// controlHandler serves the control API. Everything is JSON; errors are
// {"error":{"code","message"}}.
func (m *Main) controlHandler() http.Handler {
	mux := http.NewServeMux()
	r := func() *sim.Router { return m.router }
	ok := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	mux.HandleFunc("POST /drop", func(w http.ResponseWriter, req *http.Request) {
		r().DropConnections()
		ok(w, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /reboot", func(w http.ResponseWriter, req *http.Request) {
		down := m.RebootDown
		if s := req.URL.Query().Get("down"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 || d > time.Hour {
				fail(w, http.StatusBadRequest, "EINVALID", "down must be a duration like 5s")
				return
			}
			down = d
		}
		r().Reboot(down)
		ok(w, map[string]any{"ok": true, "down": down.String()})
	})
	login := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			q := req.URL.Query()
			name, mac := q.Get("user"), q.Get("mac")
			if kind == "pppoe" {
				name, mac = q.Get("name"), q.Get("caller-id")
			}
			if name == "" {
				fail(w, http.StatusBadRequest, "EINVALID", "user (hotspot) or name (ppp) is required")
				return
			}
			if mac == "" {
				mac = macFor(name)
			}
			addr := q.Get("address")
			if addr == "" {
				addr = addrFor(kind, name)
			}
			var id string
			var err error
			if kind == "hotspot" {
				id, err = r().LoginHotspot(name, mac, addr)
			} else {
				id, err = r().LoginPPP(name, mac, addr)
			}
			if err != nil {
				fail(w, http.StatusNotFound, "ENOTFOUND", err.Error())
				return
			}
			ok(w, map[string]string{"id": id, "mac": mac, "address": addr})
		}
	}
	mux.HandleFunc("POST /login/hotspot", login("hotspot"))
	mux.HandleFunc("POST /login/ppp", login("pppoe"))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, req *http.Request) {
		var in struct {
			Kind     string `json:"kind"`
			User     string `json:"user"`
			Password string `json:"password"`
			MAC      string `json:"mac"`
			Address  string `json:"address"`
		}
		dec := json.NewDecoder(io.LimitReader(req.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			fail(w, http.StatusBadRequest, "EINVALID", "body must be JSON {kind, user, password, mac, address}: "+err.Error())
			return
		}
		kind := in.Kind
		switch kind {
		case "hotspot":
		case "ppp", "pppoe":
			kind = "pppoe"
		default:
			fail(w, http.StatusBadRequest, "EINVALID", "kind must be hotspot or ppp")
			return
		}
		if in.User == "" {
			fail(w, http.StatusBadRequest, "EINVALID", "user is required")
			return
		}
		if in.MAC == "" {
			in.MAC = macFor(in.User)
		}
		if in.Address == "" {
			in.Address = addrFor(kind, in.User)
		}
		var id string
		var err error
		if kind == "hotspot" {
			id, err = r().LoginHotspotPassword(in.User, in.Password, in.MAC, in.Address)
		} else {
			id, err = r().LoginPPPPassword(in.User, in.Password, in.MAC, in.Address)
		}
		var le *sim.LoginError
		switch {
		case errors.As(err, &le) && le.Message == sim.LoginInvalid:
			fail(w, http.StatusUnauthorized, "EUNAUTHORIZED", le.Message)
			return
		case errors.As(err, &le):
			fail(w, http.StatusForbidden, "EFORBIDDEN", le.Message)
			return
		case err != nil:
			fail(w, http.StatusServiceUnavailable, "EUNAVAILABLE", err.Error())
			return
		}
		ok(w, map[string]string{"id": id, "mac": in.MAC, "address": in.Address})
	})
	// RADIUS logins: the result of a processed login is 200 either way,
	// {ok: true, id} or {ok: false, error: the text the login page shows}.
	type radiusLogin struct {
		User     string `json:"user"`
		Password string `json:"password"`
		MAC      string `json:"mac"`
		Address  string `json:"address"`
		LoginBy  string `json:"login_by"`
	}
	radiusLoginHandler := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			var in radiusLogin
			dec := json.NewDecoder(io.LimitReader(req.Body, 64<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				fail(w, http.StatusBadRequest, "EINVALID", "body must be JSON {user, password, mac, address, login_by}: "+err.Error())
				return
			}
			if in.User == "" {
				fail(w, http.StatusBadRequest, "EINVALID", "user is required")
				return
			}
			if in.MAC == "" {
				in.MAC = macFor(in.User)
			}
			if in.Address == "" {
				in.Address = addrFor(kind, in.User)
			}
			var id string
			var err error
			switch {
			case kind == "pppoe" && in.LoginBy != "":
				fail(w, http.StatusBadRequest, "EINVALID", "login_by is for hotspot logins")
				return
			case kind == "pppoe":
				id, err = r().DialPPPoE(req.Context(), in.User, in.Password, in.MAC, in.Address)
			case in.LoginBy != "" && in.LoginBy != "chap" && in.LoginBy != "pap":
				fail(w, http.StatusBadRequest, "EINVALID", "login_by must be chap or pap")
				return
			default:
				id, err = r().HotspotLogin(req.Context(), sim.HotspotLoginRequest{User: in.User, Password: in.Password,
					MAC: in.MAC, IP: in.Address, LoginBy: in.LoginBy})
			}
			var le *sim.LoginError
			switch {
			case errors.As(err, &le):
				ok(w, map[string]any{"ok": false, "error": le.Message})
			case err != nil:
				fail(w, http.StatusServiceUnavailable, "EUNAVAILABLE", err.Error())
			default:
				ok(w, map[string]any{"ok": true, "id": id, "mac": in.MAC, "address": in.Address})
			}
		}
	}
	mux.HandleFunc("POST /hotspot/login", radiusLoginHandler("hotspot"))
	mux.HandleFunc("POST /pppoe/dial", radiusLoginHandler("pppoe"))
	mux.HandleFunc("GET /radius", func(w http.ResponseWriter, req *http.Request) {
		ok(w, map[string]any{"stats": r().RadiusStats(), "incoming_addr": r().RadiusIncomingAddr()})
	})
	mux.HandleFunc("POST /radius/faults", func(w http.ResponseWriter, req *http.Request) {
		var in struct {
			DropAccess     int    `json:"drop_access"`
			Delay          string `json:"delay"`
			DeafAccounting bool   `json:"deaf_accounting"`
		}
		dec := json.NewDecoder(io.LimitReader(req.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			fail(w, http.StatusBadRequest, "EINVALID", "body must be JSON {drop_access, delay, deaf_accounting}: "+err.Error())
			return
		}
		f := sim.RadiusFaults{DropAccess: in.DropAccess, DeafAccounting: in.DeafAccounting}
		if in.Delay != "" {
			d, err := time.ParseDuration(in.Delay)
			if err != nil || d < 0 || d > time.Minute {
				fail(w, http.StatusBadRequest, "EINVALID", "delay must be a duration like 500ms, at most 1m")
				return
			}
			f.Delay = d
		}
		if f.DropAccess < 0 {
			fail(w, http.StatusBadRequest, "EINVALID", "drop_access must not be negative")
			return
		}
		r().SetRadiusFaults(f)
		ok(w, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /profiles", func(w http.ResponseWriter, req *http.Request) {
		ok(w, map[string]any{"hotspot": r().HotspotProfiles(), "ppp": r().PPPProfiles()})
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, req *http.Request) {
		logout := r().Logout
		switch req.URL.Query().Get("by") {
		case "", "admin":
		case "user":
			logout = r().LogoutUser
		default:
			fail(w, http.StatusBadRequest, "EINVALID", "by must be user or admin")
			return
		}
		if err := logout(req.URL.Query().Get("id")); err != nil {
			fail(w, http.StatusNotFound, "ENOTFOUND", err.Error())
			return
		}
		ok(w, map[string]bool{"ok": true})
	})
	addAccount := func(add func(name, password, profile string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			q := req.URL.Query()
			if q.Get("name") == "" {
				fail(w, http.StatusBadRequest, "EINVALID", "name is required")
				return
			}
			if err := add(q.Get("name"), q.Get("password"), q.Get("profile")); err != nil {
				fail(w, http.StatusConflict, "ECONFLICT", err.Error())
				return
			}
			ok(w, map[string]bool{"ok": true})
		}
	}
	mux.HandleFunc("POST /hotspot-user", addAccount(func(n, p, pr string) error { return r().AddHotspotUser(n, p, pr) }))
	mux.HandleFunc("POST /ppp-secret", addAccount(func(n, p, pr string) error { return r().AddPPPSecret(n, p, pr) }))
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, req *http.Request) {
		ok(w, map[string]any{
			"identity":             r().Identity(),
			"api_addr":             r().Addr(),
			"hotspot_addr":         r().HotspotAddr(),
			"radius_incoming_addr": r().RadiusIncomingAddr(),
			"hotspot":              r().HotspotActive(),
			"ppp":                  r().PPPActive(),
		})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		fail(w, http.StatusNotFound, "ENOTFOUND", "unknown endpoint "+req.Method+" "+req.URL.Path)
	})
	return mux
}

// macFor derives a stable locally administered MAC from a name, so manual
// logins without mac= look the same every time.
func macFor(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	s := h.Sum64()
	return fmt.Sprintf("02:%02X:%02X:%02X:%02X:%02X", byte(s>>32), byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}

func addrFor(kind, name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	s := h.Sum32()
	if kind == "hotspot" {
		return fmt.Sprintf("10.5.%d.%d", 100+s%50, 2+(s>>8)%250)
	}
	return fmt.Sprintf("10.20.%d.%d", 1+s%200, 2+(s>>8)%250)
}
