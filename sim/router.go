package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"sync"
	"time"
)

// Config configures a simulated router. The zero value is a usable router
// with no sessions, user "admin" and an empty password.
type Config struct {
	User, Password string // API credentials; "" user means "admin"
	Identity       string // /system/identity name; "" means "MikroTik"
	Seed           int64  // scenario seed: same seed, same sequence of changes

	// HotspotSessions and PPPSessions are the active sessions created by New
	// (and the level the churn keeps around); enough hotspot users and PPP
	// secrets are created for them plus spares.
	HotspotSessions, PPPSessions int

	ChurnPerMinute  float64       // logins+logouts per minute; 0 = static
	TrafficInterval time.Duration // scenario tick: counters grow and churn is applied; 0 = 1s, <0 = never (drive with Tick)
	NoEmpty         bool          // true = behave like RouterOS < 7.18 (no !empty reply)
	// Version is what /system/resource reports, e.g. "7.21.2 (stable)";
	// "" means "7.18.2 (stable)". Menus whose syntax changed follow it:
	// before 7.21 /container/envs and /container/mounts name their list
	// with name= and /container takes mounts= instead of mountlists=.
	Version string
	TLS     *tls.Config // nil = plain TCP
	Now     func() time.Time
	Logger  *slog.Logger // nil = discard

	// ReplyDelay is waited before handling each command, like a real
	// router's processing time over a LAN. 0 answers at once, which makes
	// go-routeros's lost-reply race in async Run (tag registered after the
	// send) far more likely than against real hardware.
	ReplyDelay time.Duration

	// RebootDown is how long Reboot refuses connections when asked for a
	// zero duration (and what SIGUSR1 uses in the command); 0 means 2s.
	RebootDown time.Duration
}

// Change is one session change made by the simulator, for ground truth in
// tests and benchmarks.
type Change struct {
	Kind                  string    // "hotspot" or "pppoe"
	Op                    string    // "login", "logout" or "update" (traffic)
	Reason                string    // for logout: "logout", "kicked" (API remove or Logout), "reboot"
	ID                    string    // RouterOS .id of the active row
	User                  string    // hotspot user or PPP secret name
	MAC                   string    // hotspot mac-address or PPP caller-id
	Address               string    // client IP address
	SessionID             string    // PPP session-id ("" for hotspot)
	Interface             string    // PPP dynamic interface name, "<pppoe-NAME>"
	LoginTime             time.Time // when the session started
	Time                  time.Time // when the change happened
	BytesIn               uint64    // from the client (hotspot bytes-in, PPP interface rx-byte)
	BytesOut              uint64    // to the client
	PacketsIn, PacketsOut uint64
}

// session is one active hotspot or PPP session. Guarded by Router.mu.
type session struct {
	kind       string
	active     *item // row in /ip/hotspot/active or /ppp/active
	iface      *item // PPP only: dynamic <pppoe-NAME> interface
	user       string
	mac        string
	addr       string
	sessionID  string
	loginAt    time.Time
	lastActive time.Time
	bytesIn    uint64
	bytesOut   uint64
	pktsIn     uint64
	pktsOut    uint64
}

// Router is a simulated RouterOS device. All methods are safe for
// concurrent use.
type Router struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	callsMu sync.Mutex
	calls   map[string]int // command path ("/ip/hotspot/user/add") → times run

	mu        sync.Mutex
	tables    map[string]*table
	bootAt    time.Time
	scen      *scenario
	sessionNo uint32         // PPP session-id counter
	activeBy  map[string]int // kind+"/"+user → active sessions, for O(1) idle checks
	wanIn     uint64         // cumulative bytes across sessions, shown on ether1
	wanOut    uint64
	conns     map[*conn]struct{}
	subs      map[*subscriber]struct{}
	ln        net.Listener
	addr      string
	down      bool   // rebooting: refuse connections, no scenario
	downGen   uint64 // increments per Reboot so overlapping reboots resolve
	closed    bool
	stop      chan struct{}
	wg        sync.WaitGroup
}

// New creates a router with its menus, default profiles, the scenario's
// users and secrets and the initial active sessions. It does not listen
// until Start.
func New(cfg Config) *Router {
	if cfg.User == "" {
		cfg.User = "admin"
	}
	if cfg.Identity == "" {
		cfg.Identity = "MikroTik"
	}
	if cfg.Version == "" {
		cfg.Version = "7.18.2 (stable)"
	}
	if cfg.TrafficInterval == 0 {
		cfg.TrafficInterval = time.Second
	}
	if cfg.RebootDown == 0 {
		cfg.RebootDown = 2 * time.Second
	}
	r := &Router{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    cfg.Now,
		tables: make(map[string]*table),
		conns:  make(map[*conn]struct{}),
		subs:   make(map[*subscriber]struct{}),
		stop:   make(chan struct{}),

		activeBy: make(map[string]int),
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.now == nil {
		r.now = time.Now
	}
	for _, spec := range menuSpecs {
		t := newTable(spec)
		for _, seed := range spec.initial {
			t.insertWithID(seed.id, maps.Clone(seed.attrs))
		}
		r.tables[spec.path] = t
	}
	r.bootAt = r.now()
	r.seedDefaults()
	r.mu.Lock()
	r.scen = newScenario(r, cfg)
	r.mu.Unlock()
	return r
}

// seedDefaults creates the items of a fresh RouterOS that depend on the
// configuration or the boot time: the identity and the physical interfaces.
func (r *Router) seedDefaults() {
	r.tables["/system/identity"].insertWithID(0, map[string]string{"name": r.cfg.Identity})
	r.tables["/system/resource"].insertWithID(0, map[string]string{})
	ifs := r.tables["/interface"]
	for i, name := range []string{"ether1", "ether2", "ether3", "ether4", "ether5"} {
		ifs.insert(map[string]string{
			"name": name, "default-name": name, "type": "ether", "mtu": "1500", "actual-mtu": "1500",
			"l2mtu": "1514", "max-l2mtu": "9796", "mac-address": fmt.Sprintf("48:A9:8A:10:20:%02X", 0x31+i),
			"last-link-up-time": r.bootAt.Format("2006-01-02 15:04:05"), "link-downs": "0",
			"running": formatBool(i < 2), "slave": formatBool(i >= 2), "disabled": "false", "dynamic": "false",
		})
	}
	ifs.insert(map[string]string{
		"name": "bridge-hotspot", "type": "bridge", "mtu": "auto", "actual-mtu": "1500", "l2mtu": "1514",
		"mac-address": "48:A9:8A:10:20:33", "last-link-up-time": r.bootAt.Format("2006-01-02 15:04:05"),
		"link-downs": "0", "running": "true", "slave": "false", "disabled": "false", "dynamic": "false",
	})
}

// Start listens on addr (for example "127.0.0.1:0") and serves in the
// background until ctx is done or Close is called. It also starts the
// scenario ticker unless TrafficInterval is negative.
func (r *Router) Start(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sim: listen %s: %w", addr, err)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		ln.Close()
		return errors.New("sim: router closed")
	}
	r.ln = ln
	r.addr = ln.Addr().String()
	r.mu.Unlock()
	r.log.Info("routeros simulator listening", "addr", r.addr, "tls", r.cfg.TLS != nil)
	r.wg.Add(1)
	go r.acceptLoop(ln)
	if r.cfg.TrafficInterval > 0 {
		r.wg.Add(1)
		go r.tickLoop()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-ctx.Done():
			go r.Close()
		case <-r.stop:
		}
	}()
	return nil
}

// Addr returns the address Start listens on ("" before Start).
func (r *Router) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Close stops listening, drops every connection and stops the scenario.
// It waits for the background goroutines and is safe to call twice.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return nil
	}
	r.closed = true
	close(r.stop)
	var err error
	if r.ln != nil {
		err = r.ln.Close()
		r.ln = nil
	}
	conns := r.takeConnsLocked()
	subs := r.subs
	r.subs = map[*subscriber]struct{}{}
	r.mu.Unlock()
	for c := range conns {
		c.close()
	}
	for s := range subs {
		s.close()
	}
	r.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (r *Router) acceptLoop(ln net.Listener) {
	defer r.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			r.log.Warn("accept failed", "err", err)
			return
		}
		delay = 0
		if r.cfg.TLS != nil {
			nc = tls.Server(nc, r.cfg.TLS)
		}
		c := newConn(r, nc)
		r.mu.Lock()
		if r.closed || r.down {
			r.mu.Unlock()
			nc.Close()
			continue
		}
		r.conns[c] = struct{}{}
		r.wg.Add(1)
		r.mu.Unlock()
		go func() {
			defer r.wg.Done()
			c.serve()
		}()
	}
}

func (r *Router) takeConnsLocked() map[*conn]struct{} {
	conns := r.conns
	r.conns = make(map[*conn]struct{})
	for c := range conns {
		r.dropCommandsLocked(c)
	}
	return conns
}

// DropConnections closes every API connection now, as a network blip or a
// restarted api service would. The listener stays open.
func (r *Router) DropConnections() {
	r.mu.Lock()
	conns := r.takeConnsLocked()
	r.mu.Unlock()
	for c := range conns {
		c.close()
	}
	r.log.Info("dropped api connections", "count", len(conns))
}

// Reboot simulates a router reboot: every connection drops, active
// sessions end (reason "reboot"), the resource uptime restarts, and new
// connections are refused (the port is closed) for down. down <= 0 uses
// Config.RebootDown.
func (r *Router) Reboot(down time.Duration) {
	if down <= 0 {
		down = r.cfg.RebootDown
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.down = true
	r.downGen++
	gen := r.downGen
	ln := r.ln
	r.ln = nil
	conns := r.takeConnsLocked()
	r.clearSessionsLocked("reboot")
	r.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for c := range conns {
		c.close()
	}
	r.log.Info("rebooting", "down", down)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTimer(down)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.stop:
			return
		}
		r.comeUp(gen)
	}()
}

// comeUp reopens the port after a reboot, retrying briefly if the address
// is momentarily unavailable.
func (r *Router) comeUp(gen uint64) {
	for {
		r.mu.Lock()
		if r.closed || r.downGen != gen {
			r.mu.Unlock()
			return
		}
		addr := r.addr
		r.mu.Unlock()
		ln, err := net.Listen("tcp", addr)
		r.mu.Lock()
		if r.closed || r.downGen != gen {
			r.mu.Unlock()
			if ln != nil {
				ln.Close()
			}
			return
		}
		if err == nil {
			r.ln = ln
			r.down = false
			r.bootAt = r.now()
			r.wg.Add(1)
			r.mu.Unlock()
			r.log.Info("router up again", "addr", addr)
			go r.acceptLoop(ln)
			return
		}
		r.mu.Unlock()
		r.log.Warn("relisten after reboot failed; retrying", "err", err)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.stop:
			return
		}
	}
}

// SetListenRemovals makes listen on menu (e.g. "/ip/hotspot/active") report
// removals (on=true, the default) or silently miss them (on=false), as
// real RouterOS does on some menus.
func (r *Router) SetListenRemovals(menu string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.tables[menu]; t != nil {
		t.hideRemovals = !on
	}
}

// Tick runs one scenario step now (traffic growth and churn), exactly like
// the background ticker does. With TrafficInterval < 0 it is the only way
// the scenario advances, which makes tests deterministic.
func (r *Router) Tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down || r.closed {
		return
	}
	r.scen.step(r.now())
}

func (r *Router) tickLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.TrafficInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.Tick()
		case <-r.stop:
			return
		}
	}
}

// ---- sessions ----

var errDown = errors.New("sim: router is rebooting")

// Calls returns how many times API clients ran the command path (e.g.
// "/ip/hotspot/user/add"), whatever the outcome: tests use it to prove a
// command reached the router exactly once.
func (r *Router) Calls(path string) int {
	r.callsMu.Lock()
	defer r.callsMu.Unlock()
	return r.calls[path]
}

func (r *Router) countCall(path string) {
	r.callsMu.Lock()
	defer r.callsMu.Unlock()
	if r.calls == nil {
		r.calls = make(map[string]int)
	}
	r.calls[path]++
}

// LoginHotspot starts a hotspot session for an existing, enabled
// /ip/hotspot/user and returns its .id.
func (r *Router) LoginHotspot(user, mac, address string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return "", errDown
	}
	s, err := r.loginLocked("hotspot", user, mac, address, "http-chap")
	if err != nil {
		return "", err
	}
	return formatID(s.active.id), nil
}

// LoginPPP starts a PPPoE session for an existing, enabled /ppp/secret and
// returns its .id. It also adds the dynamic <pppoe-NAME> interface.
func (r *Router) LoginPPP(name, callerID, address string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return "", errDown
	}
	s, err := r.loginLocked("pppoe", name, callerID, address, "")
	if err != nil {
		return "", err
	}
	return formatID(s.active.id), nil
}

// Logout ends an active hotspot or PPP session by its .id (reason "kicked",
// as an administrator's remove would).
func (r *Router) Logout(id string) error {
	n, ok := parseID(id)
	if !ok {
		return fmt.Errorf("sim: logout: bad id %q", id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, path := range []string{"/ip/hotspot/active", "/ppp/active"} {
		if it := r.tables[path].byID(n); it != nil {
			r.endSessionLocked(it.sess, "kicked")
			return nil
		}
	}
	return fmt.Errorf("sim: logout %s: no such item", id)
}

// AddHotspotUser adds an /ip/hotspot/user ("" profile means default).
func (r *Router) AddHotspotUser(name, password, profile string) error {
	return r.addItem("/ip/hotspot/user", map[string]string{"name": name, "password": password, "profile": profile})
}

// AddPPPSecret adds a /ppp/secret with service pppoe ("" profile means default).
func (r *Router) AddPPPSecret(name, password, profile string) error {
	return r.addItem("/ppp/secret", map[string]string{"name": name, "password": password, "profile": profile, "service": "pppoe"})
}

func (r *Router) addItem(path string, attrs map[string]string) error {
	if attrs["profile"] == "" {
		delete(attrs, "profile")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.addLocked(r.tables[path], attrs); err != nil {
		return fmt.Errorf("sim: add %s %s: %w", path, attrs["name"], err)
	}
	return nil
}

// HotspotActive returns /ip/hotspot/active rows as the API would print them.
func (r *Router) HotspotActive() []map[string]string { return r.snapshot("/ip/hotspot/active") }

// PPPActive returns /ppp/active rows as the API would print them.
func (r *Router) PPPActive() []map[string]string { return r.snapshot("/ppp/active") }

// HotspotUsers returns /ip/hotspot/user rows as the API would print them.
func (r *Router) HotspotUsers() []map[string]string { return r.snapshot("/ip/hotspot/user") }

// PPPSecrets returns /ppp/secret rows as the API would print them.
func (r *Router) PPPSecrets() []map[string]string { return r.snapshot("/ppp/secret") }

// Interfaces returns /interface rows as the API would print them.
func (r *Router) Interfaces() []map[string]string { return r.snapshot("/interface") }

// Identity returns the current /system/identity name.
func (r *Router) Identity() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tables["/system/identity"].items[0].attrs["name"]
}

func (r *Router) snapshot(path string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tables[path]
	now := r.now()
	out := make([]map[string]string, 0, len(t.items))
	for _, it := range t.items {
		_, vals := r.row(t, it, now)
		out = append(out, vals)
	}
	return out
}

// loginLocked validates the account and creates the session rows.
func (r *Router) loginLocked(kind, user, mac, addr, loginBy string) (*session, error) {
	accounts := r.tables["/ip/hotspot/user"]
	if kind == "pppoe" {
		accounts = r.tables["/ppp/secret"]
	}
	acct := accounts.lookup(user)
	if acct == nil || acct.attrs["name"] != user {
		return nil, fmt.Errorf("sim: login %s %q: no such account", kind, user)
	}
	if acct.attrs["disabled"] == "true" {
		return nil, fmt.Errorf("sim: login %s %q: account disabled", kind, user)
	}
	now := r.now()
	s := &session{kind: kind, user: user, mac: mac, addr: addr, loginAt: now, lastActive: now}
	if kind == "hotspot" {
		s.active = r.tables["/ip/hotspot/active"].insert(map[string]string{
			"server": "hotspot1", "user": user, "domain": "", "address": addr, "mac-address": mac,
			"login-by": loginBy, "keepalive-timeout": "2m", "radius": "false", "blocked": "false",
		})
	} else {
		r.sessionNo++
		s.sessionID = fmt.Sprintf("0x%08X", 0x81A00000+r.sessionNo)
		s.active = r.tables["/ppp/active"].insert(map[string]string{
			"name": user, "service": "pppoe", "caller-id": mac, "address": addr, "encoding": "",
			"session-id": s.sessionID, "limit-bytes-in": acct.attrs["limit-bytes-in"],
			"limit-bytes-out": acct.attrs["limit-bytes-out"], "radius": "false",
		})
		ifs := r.tables["/interface"]
		ifName := "<pppoe-" + user + ">"
		for n := 1; ifs.lookup(ifName) != nil; n++ {
			ifName = "<pppoe-" + user + "-" + strconv.Itoa(n) + ">"
		}
		if ifs.next < 0xF00001 {
			ifs.next = 0xF00001
		}
		s.iface = ifs.insert(map[string]string{
			"name": ifName, "type": "pppoe-in", "mtu": "1480", "actual-mtu": "1480",
			"last-link-up-time": now.Format("2006-01-02 15:04:05"), "link-downs": "0",
			"running": "true", "slave": "false", "disabled": "false", "dynamic": "true",
		})
		s.iface.sess = s
		r.notifyLocked(ifs, s.iface, now)
	}
	s.active.sess = s
	r.activeBy[kind+"/"+user]++
	r.notifyLocked(r.tables[r.activePath(kind)], s.active, now)
	r.emitLocked(s, "login", "", now)
	return s, nil
}

func (r *Router) activePath(kind string) string {
	if kind == "hotspot" {
		return "/ip/hotspot/active"
	}
	return "/ppp/active"
}

// endSessionLocked removes the session's rows, folds its counters into the
// account (as RouterOS does for hotspot users) and reports the change.
func (r *Router) endSessionLocked(s *session, reason string) {
	if s == nil {
		return
	}
	now := r.now()
	t := r.tables[r.activePath(s.kind)]
	if t.byID(s.active.id) == nil {
		return
	}
	t.delete(s.active)
	if k := s.kind + "/" + s.user; r.activeBy[k] > 1 {
		r.activeBy[k]--
	} else {
		delete(r.activeBy, k)
	}
	r.notifyDeadLocked(t, s.active.id)
	if s.iface != nil {
		ifs := r.tables["/interface"]
		ifs.delete(s.iface)
		r.notifyDeadLocked(ifs, s.iface.id)
	}
	if s.kind == "hotspot" {
		users := r.tables["/ip/hotspot/user"]
		if u := users.lookup(s.user); u != nil {
			add := func(k string, n uint64) {
				old, _ := strconv.ParseUint(u.attrs[k], 10, 64)
				u.attrs[k] = strconv.FormatUint(old+n, 10)
			}
			add("bytes-in", s.bytesIn)
			add("bytes-out", s.bytesOut)
			add("packets-in", s.pktsIn)
			add("packets-out", s.pktsOut)
			up, _ := parseDuration(u.attrs["uptime"])
			u.attrs["uptime"] = formatDuration((up + now.Sub(s.loginAt)).Truncate(time.Second))
			r.notifyLocked(users, u, now)
		}
	} else {
		secrets := r.tables["/ppp/secret"]
		if sec := secrets.lookup(s.user); sec != nil {
			sec.attrs["last-logged-out"] = now.Format("2006-01-02 15:04:05")
			sec.attrs["last-caller-id"] = s.mac
			why := "peer-request"
			if reason != "logout" {
				why = "admin-request"
			}
			sec.attrs["last-disconnect-reason"] = why
			r.notifyLocked(secrets, sec, now)
		}
	}
	r.emitLocked(s, "logout", reason, now)
}

func (r *Router) clearSessionsLocked(reason string) {
	for _, path := range []string{"/ip/hotspot/active", "/ppp/active"} {
		t := r.tables[path]
		for _, it := range append([]*item(nil), t.items...) {
			r.endSessionLocked(it.sess, reason)
		}
	}
}

func renderSession(r *Router, it *item, now time.Time, row map[string]string) {
	s := it.sess
	if s == nil {
		return
	}
	row["uptime"] = formatDuration(now.Sub(s.loginAt).Truncate(time.Second))
	if s.kind == "hotspot" {
		row["idle-time"] = formatDuration(now.Sub(s.lastActive).Truncate(time.Second))
		row["bytes-in"] = strconv.FormatUint(s.bytesIn, 10)
		row["bytes-out"] = strconv.FormatUint(s.bytesOut, 10)
		row["packets-in"] = strconv.FormatUint(s.pktsIn, 10)
		row["packets-out"] = strconv.FormatUint(s.pktsOut, 10)
	}
}

func renderInterface(r *Router, it *item, now time.Time, row map[string]string) {
	var rx, tx, rxp, txp uint64
	switch {
	case it.sess != nil:
		rx, tx, rxp, txp = it.sess.bytesIn, it.sess.bytesOut, it.sess.pktsIn, it.sess.pktsOut
	case it.attrs["name"] == "ether1":
		rx, tx = 918273645+r.wanOut, 123456789+r.wanIn
		rxp, txp = rx/1200, tx/600
	case it.attrs["running"] == "true":
		rx, tx = 5123456+r.wanIn, 48123456+r.wanOut
		rxp, txp = rx/600, tx/1200
	}
	row["rx-byte"] = strconv.FormatUint(rx, 10)
	row["tx-byte"] = strconv.FormatUint(tx, 10)
	row["rx-packet"] = strconv.FormatUint(rxp, 10)
	row["tx-packet"] = strconv.FormatUint(txp, 10)
	for _, k := range []string{"rx-drop", "tx-drop", "tx-queue-drop", "rx-error", "tx-error"} {
		row[k] = "0"
	}
	if it.sess == nil {
		row["fp-rx-byte"], row["fp-tx-byte"] = row["rx-byte"], row["tx-byte"]
		row["fp-rx-packet"], row["fp-tx-packet"] = row["rx-packet"], row["tx-packet"]
	}
}

func renderResource(r *Router, it *item, now time.Time, row map[string]string) {
	up := now.Sub(r.bootAt)
	// cpu-load follows the session count plus a little per-second noise
	// derived from the time, so it varies without touching the scenario's
	// random stream (which must stay deterministic).
	h := fnv.New32a()
	fmt.Fprint(h, now.Unix())
	active := len(r.tables["/ip/hotspot/active"].items) + len(r.tables["/ppp/active"].items)
	load := min(3+active/20+int(h.Sum32()%9), 100)
	const total = 1073741824
	free := total - 180*1024*1024 - uint64(active)*64*1024 - uint64(h.Sum32()%(2<<20))
	row["uptime"] = formatDuration(up.Truncate(time.Second))
	row["version"] = r.cfg.Version
	row["build-time"] = "2025-03-11 11:59:04"
	row["factory-software"] = "7.4.1"
	row["free-memory"] = strconv.FormatUint(free, 10)
	row["total-memory"] = strconv.Itoa(total)
	row["cpu"] = "ARM64"
	row["cpu-count"] = "4"
	row["cpu-frequency"] = "1400"
	row["cpu-load"] = strconv.Itoa(load)
	row["free-hdd-space"] = "891203584"
	row["total-hdd-space"] = "1073741824"
	row["write-sect-since-reboot"] = strconv.FormatInt(int64(up/time.Minute)*3+1024, 10)
	row["write-sect-total"] = "18812345"
	row["bad-blocks"] = "0"
	row["architecture-name"] = "arm64"
	row["board-name"] = "RB5009UG+S+"
	row["platform"] = "MikroTik"
}

// ---- change subscriptions ----

// subscriber queues changes without bound so the simulator never blocks on
// a slow test; the caller must drain the channel or cancel.
type subscriber struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []Change
	closed bool
	ch     chan Change
	done   chan struct{}
}

// Subscribe returns every session change from now on (login, logout,
// update) in the order the simulator made them, and a cancel function.
// The channel is closed after cancel or Close.
func (r *Router) Subscribe() (<-chan Change, func()) {
	s := &subscriber{ch: make(chan Change, 64), done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		close(s.ch)
		return s.ch, func() {}
	}
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	go s.pump()
	return s.ch, func() {
		r.mu.Lock()
		delete(r.subs, s)
		r.mu.Unlock()
		s.close()
	}
}

func (s *subscriber) push(c Change) {
	s.mu.Lock()
	s.queue = append(s.queue, c)
	s.mu.Unlock()
	s.cond.Signal()
}

func (s *subscriber) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.cond.Signal()
}

func (s *subscriber) pump() {
	defer close(s.ch)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case s.ch <- c:
			case <-s.done:
				return
			}
		}
	}
}

func (r *Router) emitLocked(s *session, op, reason string, now time.Time) {
	if len(r.subs) == 0 {
		return
	}
	c := Change{
		Kind: s.kind, Op: op, Reason: reason, ID: formatID(s.active.id), User: s.user, MAC: s.mac,
		Address: s.addr, SessionID: s.sessionID, LoginTime: s.loginAt, Time: now,
		BytesIn: s.bytesIn, BytesOut: s.bytesOut, PacketsIn: s.pktsIn, PacketsOut: s.pktsOut,
	}
	if s.iface != nil {
		c.Interface = s.iface.attrs["name"]
	}
	for sub := range r.subs {
		sub.push(c)
	}
}
