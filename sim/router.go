package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
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

	ChurnPerMinute float64 // logins+logouts per minute; 0 = static
	// ActiveShare is the share of sessions moving traffic at any moment,
	// each alternating between bursts (10 s on average) and idle stretches
	// as phones on a hotspot do; 0 keeps the busy default, where every
	// session moves on 4 steps in 5.
	ActiveShare     float64
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

	// RadiusIncomingAddr is where /radius incoming listens once
	// accept=yes (RouterOS: every address, the menu's port 3799); "" means
	// 127.0.0.1:0, so many simulated routers can share loopback.
	// RadiusIncomingAddr reports the bound address.
	RadiusIncomingAddr string
}

// Router is a simulated RouterOS device. All methods are safe for
// concurrent use.
type Router struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	hs  hotspotHTTP // the hotspot's HTTP side; see HotspotHandler
	rad radiusState // the RADIUS client; see radius_client.go

	// bg is cancelled by Close: it bounds the accounting retries.
	bg       context.Context
	bgCancel context.CancelFunc

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
	r.bg, r.bgCancel = context.WithCancel(context.Background())
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
	r.seedHotspotFiles()
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
	r.bgCancel()
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
	r.closeHotspot()
	r.closeIncoming()
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
	now := r.now()
	r.expireLocked(now)
	r.scen.step(now)
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
