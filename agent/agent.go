package agent

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sitepulse/sitepulse/agent/radius"
	"github.com/sitepulse/sitepulse/protocol"
)

// Config configures an Agent. Zero durations and sizes mean the documented
// defaults.
type Config struct {
	// RouterID is this router's SitePulse id: MQTT client id and username.
	RouterID string

	// RouterAddr is the RouterOS API address, host:port (8728, or 8729
	// with RouterTLS).
	RouterAddr     string
	RouterUser     string
	RouterPassword string
	// RouterTLS enables api-ssl; nil means the plain API.
	RouterTLS *tls.Config

	// MQTTURL is tcp://host:port or ssl://host:port.
	MQTTURL    string
	MQTTSecret string
	// MQTTTLS is used for ssl:// URLs; nil means the system roots.
	MQTTTLS *tls.Config

	// DataDir holds the SQLite database (outbox, last known sessions,
	// command records).
	DataDir string

	CountersInterval  time.Duration // session counters; default 10 s
	ResourcesInterval time.Duration // router.resources; default 30 s
	ResyncInterval    time.Duration // periodic snapshot diff; default 60 s

	// OutboxMaxEvents and OutboxMaxBytes bound the pending events before
	// superseded updates are coalesced; defaults 100000 and 64 MiB.
	OutboxMaxEvents int
	OutboxMaxBytes  int64

	// RawAllow lists RouterOS path prefixes raw commands may use; empty
	// refuses every raw command.
	RawAllow []string

	// Version is reported in the status topic.
	Version string
	// ShutdownTimeout bounds the flush on graceful stop; default 10 s.
	ShutdownTimeout time.Duration

	// Timing knobs, mostly for tests. IOTimeout bounds one RouterOS
	// exchange (default 15 s); the backoffs bound redials (defaults
	// 1 s..60 s for the router, 500 ms..60 s for MQTT).
	IOTimeout        time.Duration
	RouterMinBackoff time.Duration
	RouterMaxBackoff time.Duration
	MQTTMinBackoff   time.Duration
	MQTTMaxBackoff   time.Duration
	// MQTTAckTimeout is how long a PUBACK may take before the connection
	// is considered dead; default 30 s.
	MQTTAckTimeout time.Duration

	// RADIUS at the edge (see doc.go). RadiusAuthAddr and RadiusAcctAddr
	// are the UDP listen addresses (e.g. ":1812", ":1813"); both empty
	// turn RADIUS off (no server, no sync subscription). RadiusSecret is
	// the router's shared secret, required when either is set and never
	// logged. RadiusCoAAddr is the router's /radius incoming; "" means
	// the RouterAddr host at port 3799. RadiusAskTimeout bounds waiting
	// for the control plane's answer on a voucher's first use (default
	// 2 s). RadiusRequireMessageAuth drops Access-Requests without a
	// Message-Authenticator (BlastRADIUS).
	RadiusAuthAddr           string
	RadiusAcctAddr           string
	RadiusSecret             []byte
	RadiusCoAAddr            string
	RadiusAskTimeout         time.Duration
	RadiusRequireMessageAuth bool
	// RadiusEnforceInterval is how often live RADIUS sessions are checked
	// against their end; default 5 s.
	RadiusEnforceInterval time.Duration

	// Logger receives the agent's logs; nil discards them. Secrets are
	// never logged.
	Logger *slog.Logger
	// OnCoalesce, if set, is called with the seqs the outbox removed by
	// coalescing (for tests and audits).
	OnCoalesce func(seqs []uint64)
}

func (c *Config) validate() error {
	var errs []error
	if err := protocol.ValidRouterID(c.RouterID); err != nil {
		errs = append(errs, fmt.Errorf("router id: %w", err))
	}
	if c.RouterAddr == "" {
		errs = append(errs, errors.New("router address is required"))
	}
	if c.RouterUser == "" {
		errs = append(errs, errors.New("router user is required"))
	}
	if c.MQTTURL == "" {
		errs = append(errs, errors.New("mqtt url is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is required"))
	}
	if c.radiusOn() && len(c.RadiusSecret) == 0 {
		errs = append(errs, errors.New("radius: a shared secret is required to serve RADIUS"))
	}
	return errors.Join(errs...)
}

func (c *Config) radiusOn() bool { return c.RadiusAuthAddr != "" || c.RadiusAcctAddr != "" }

// coaAddr is RadiusCoAAddr, or the router's host at port 3799.
func (c *Config) coaAddr() string {
	if c.RadiusCoAAddr != "" {
		return c.RadiusCoAAddr
	}
	host, _, err := net.SplitHostPort(c.RouterAddr)
	if err != nil {
		host = c.RouterAddr
	}
	return net.JoinHostPort(host, "3799")
}

// Agent watches one RouterOS router and forwards what happens there to the
// control plane over MQTT, and runs the control plane's commands on it.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	db      *sql.DB
	ob      *outbox
	results *resultLog
	router  *router
	up      *uplink
	exec    *executor
	rdb     *sql.DB     // read-only pool for RADIUS lookups; nil without RADIUS
	radius  *radiusEdge // nil without RADIUS

	statusCh  chan struct{}
	closeOnce sync.Once
}

// New opens the agent's database in cfg.DataDir and wires the agent. It
// does not connect anywhere until Run.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	a := &Agent{cfg: cfg, log: orDiscard(cfg.Logger), m: newMetrics(), statusCh: make(chan struct{}, 1)}
	db, err := openDB(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.db = db
	a.ob, err = newOutbox(ctx, db, outboxConfig{
		Router: cfg.RouterID, MaxEvents: cfg.OutboxMaxEvents, MaxBytes: cfg.OutboxMaxBytes,
		Logger: a.log, Metrics: a.m, OnCoalesce: cfg.OnCoalesce,
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	a.results = newResultLog(db)
	var ledger *sessionLedger
	var kicker radiusKicker
	if cfg.radiusOn() {
		ledger = newSessionLedger()
		if a.rdb, err = openReadDB(cfg.DataDir, 2); err == nil {
			a.radius, err = newRadiusEdge(ctx, db, a.rdb, a.ob, ledger, radiusConfig{
				Router: cfg.RouterID, AuthAddr: cfg.RadiusAuthAddr, AcctAddr: cfg.RadiusAcctAddr, Secret: cfg.RadiusSecret,
				CoAAddr: cfg.coaAddr(), AskTimeout: cfg.RadiusAskTimeout, RequireMessageAuth: cfg.RadiusRequireMessageAuth,
				EnforceInterval: cfg.RadiusEnforceInterval, Logger: a.log.With("part", "radius"), Metrics: a.m,
			})
		}
		if err != nil {
			a.closeEarly(ctx)
			return nil, err
		}
		kicker = a.radius
	}
	a.router = newRouter(routerConfig{
		Router: cfg.RouterID, Addr: cfg.RouterAddr, User: cfg.RouterUser, Password: cfg.RouterPassword, TLS: cfg.RouterTLS,
		IOTimeout: cfg.IOTimeout, CountersInterval: cfg.CountersInterval, ResourcesInterval: cfg.ResourcesInterval,
		ResyncInterval: cfg.ResyncInterval, MinBackoff: cfg.RouterMinBackoff, MaxBackoff: cfg.RouterMaxBackoff,
		Logger: a.log.With("part", "router"), Metrics: a.m, OnStatus: a.statusChanged, Ledger: ledger,
	}, a.ob)
	a.exec, err = newExecutor(ctx, db, a.results, a.router, executorConfig{
		Router: cfg.RouterID, RawAllow: cfg.RawAllow, Logger: a.log.With("part", "executor"), Metrics: a.m, Radius: kicker,
	})
	if err != nil {
		a.closeEarly(ctx)
		return nil, err
	}
	a.up = newUplink(uplinkConfig{
		URL: cfg.MQTTURL, Router: cfg.RouterID, Secret: cfg.MQTTSecret, TLS: cfg.MQTTTLS,
		MinBackoff: cfg.MQTTMinBackoff, MaxBackoff: cfg.MQTTMaxBackoff, AckTimeout: cfg.MQTTAckTimeout,
		Logger: a.log.With("part", "uplink"), Metrics: a.m,
		Status: a.mqttStatus, StatusChanged: a.statusCh, OnCommand: a.exec.submit,
	}, a.ob, a.results)
	if a.radius != nil {
		a.up.cfg.OnRadiusSync = a.radius.submitSync
		a.up.cfg.OnConnected = a.radius.publishState
		a.radius.pub = a.up
	}
	return a, nil
}

// closeEarly releases what New opened before it failed.
func (a *Agent) closeEarly(ctx context.Context) {
	_ = a.ob.close(context.WithoutCancel(ctx))
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
	_ = a.db.Close()
}

func (a *Agent) statusChanged() {
	select {
	case a.statusCh <- struct{}{}:
	default:
	}
}

func (a *Agent) mqttStatus() protocol.Status {
	rs := a.router.status()
	a.ob.mu.Lock()
	last := a.ob.lastSeq
	a.ob.mu.Unlock()
	return protocol.Status{AgentVersion: a.cfg.Version, RouterConnected: rs.Connected, Resources: rs.Resources, LastSeq: last}
}

// Run runs the agent until ctx ends, then stops gracefully: it stops
// reading the router, lets the uplink flush the outbox for at most
// ShutdownTimeout, publishes the offline status and disconnects. Events
// not acknowledged by then stay in the outbox for the next start.
func (a *Agent) Run(ctx context.Context) error {
	rctx, stopRouter := context.WithCancel(context.WithoutCancel(ctx))
	uctx, stopUplink := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRouter()
	defer stopUplink()
	var rwg, uwg sync.WaitGroup
	rerr := make(chan error, 1)
	if a.radius != nil {
		if err := a.radius.listen(ctx); err != nil {
			return err
		}
		// Stopped with the router side: accounting it acknowledged is in
		// the outbox before the flush below.
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			a.radius.run(rctx)
		}()
	}
	rwg.Add(2)
	go func() {
		defer rwg.Done()
		if err := a.router.run(rctx); err != nil {
			rerr <- err
		}
	}()
	go func() {
		defer rwg.Done()
		a.exec.run(rctx)
	}()
	uwg.Add(1)
	go func() {
		defer uwg.Done()
		a.up.run(uctx)
	}()
	a.log.Info("agent started", "router_id", a.cfg.RouterID, "router", a.cfg.RouterAddr, "mqtt", redactURL(a.cfg.MQTTURL), "version", a.cfg.Version)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-rerr:
	}
	a.log.Info("agent stopping")
	stopRouter()
	fctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	// An outbox that cannot commit (a full disk) must not hold the stop
	// past its timeout, not even through a router blocked recording into
	// a full queue: from then on the outbox gives up.
	giveUp := context.AfterFunc(fctx, a.ob.giveUp)
	defer giveUp()
	rwg.Wait()
	if err := a.ob.flush(fctx); err != nil {
		a.log.Warn("flush outbox", "err", err)
	}
	if a.up.connected.Load() {
		if err := a.ob.waitEmpty(fctx); err != nil {
			a.log.Warn("events left unpublished; they are sent on the next start", "pending", a.ob.stats(context.Background()).Depth)
		}
		for a.results.depth(fctx) > 0 && fctx.Err() == nil && a.up.connected.Load() {
			sleepCtx(fctx, 20*time.Millisecond)
		}
	}
	stopUplink()
	uwg.Wait()
	a.log.Info("agent stopped")
	return runErr
}

// redactURL drops any user info from a URL before it is logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable url)"
	}
	u.User = nil
	return u.String()
}

// Close commits what is still queued and releases the database. Call it
// after Run has returned. It returns within ShutdownTimeout even when
// commits keep failing (a full disk); the error then names the events that
// were never committed, which are lost.
func (a *Agent) Close() error {
	var err error
	a.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		if oerr := a.ob.close(ctx); oerr != nil {
			var u *unflushedError
			if errors.As(oerr, &u) {
				a.log.Error("agent closed with events left unflushed", "not_committed", u.lost, "committed_unpublished", u.pending, "err", oerr)
			}
			err = fmt.Errorf("close agent: %w", oerr)
		}
		if a.rdb != nil {
			err = errors.Join(err, a.rdb.Close())
		}
		err = errors.Join(err, a.db.Close())
	})
	return err
}

// RadiusDecider is the agent's RADIUS decider (nil without RADIUS): what
// its RADIUS server asks, exposed so that tests and tools can drive it
// directly.
func (a *Agent) RadiusDecider() radius.Decider {
	if a.radius == nil {
		return nil
	}
	return a.radius
}

// RadiusAddrs are the RADIUS server's auth and accounting addresses once
// Run is listening (nil before, or without RADIUS).
func (a *Agent) RadiusAddrs() (auth, acct net.Addr) {
	if a.radius == nil {
		return nil, nil
	}
	a.radius.addrMu.Lock()
	defer a.radius.addrMu.Unlock()
	return a.radius.authAddr, a.radius.acctAddr
}

// RadiusState is the sync version and entry count the agent holds.
func (a *Agent) RadiusState() (version uint64, count int) {
	if a.radius == nil {
		return 0, 0
	}
	return a.radius.book.state()
}

// RouterStatus is the RouterOS half of Status.
type RouterStatus = routerStatus

// Status is what /status reports.
type Status struct {
	RouterID       string          `json:"router_id"`
	Version        string          `json:"version,omitempty"`
	Router         RouterStatus    `json:"router"`
	MQTTConnected  bool            `json:"mqtt_connected"`
	MQTTLastError  string          `json:"mqtt_last_error,omitempty"`
	Outbox         OutboxStatus    `json:"outbox"`
	PendingResults int             `json:"pending_results"`
	RecentCommands []CommandRecord `json:"recent_commands"`
	// Radius is set when the agent serves RADIUS.
	Radius *RadiusStatus `json:"radius,omitempty"`
}

// RadiusStatus is the RADIUS half of Status.
type RadiusStatus struct {
	Mode     string `json:"mode"`
	Version  uint64 `json:"version"`
	Entries  int    `json:"entries"`
	AuthAddr string `json:"auth_addr,omitempty"`
	AcctAddr string `json:"acct_addr,omitempty"`
	CoAAddr  string `json:"coa_addr"`
}

// OutboxStatus describes the pending events.
type OutboxStatus struct {
	outboxStats
	// OldestAge is how long the oldest pending event has waited.
	OldestAge string `json:"oldest_age,omitempty"`
}

// CommandRecord summarises a recently handled command.
type CommandRecord = commandRecord

// Status reports the agent's state.
func (a *Agent) Status(ctx context.Context) Status {
	s := Status{RouterID: a.cfg.RouterID, Version: a.cfg.Version, Router: a.router.status(), MQTTConnected: a.up.connected.Load()}
	a.up.mu.Lock()
	s.MQTTLastError = a.up.lastErr
	a.up.mu.Unlock()
	s.Outbox.outboxStats = a.ob.stats(ctx)
	if !s.Outbox.Oldest.IsZero() {
		s.Outbox.OldestAge = time.Since(s.Outbox.Oldest).Round(time.Millisecond).String()
	}
	s.PendingResults = a.results.depth(ctx)
	s.RecentCommands = a.exec.recent(ctx, 10)
	if s.RecentCommands == nil {
		s.RecentCommands = []CommandRecord{}
	}
	if a.radius != nil {
		mode, _ := a.radius.book.settings()
		v, n := a.radius.book.state()
		auth, acct := a.RadiusAddrs()
		s.Radius = &RadiusStatus{Mode: mode, Version: v, Entries: n, AuthAddr: addrString(auth), AcctAddr: addrString(acct), CoAAddr: a.radius.cfg.CoAAddr}
	}
	return s
}

// Handler serves /healthz, /metrics (Prometheus) and /status (JSON) for the
// local listen address.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(a.Status(r.Context()))
	})
	return mux
}
