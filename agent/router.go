package agent

import (
	"context"
	"crypto/tls"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// routerConfig configures the RouterOS side.
type routerConfig struct {
	Router   string // SitePulse router id, for snapshot ids
	Addr     string
	User     string
	Password string
	// TLS enables api-ssl; nil means the plain API.
	TLS               *tls.Config
	DialTimeout       time.Duration // 0 means 10 s
	IOTimeout         time.Duration // one command or login; 0 means 15 s
	CountersInterval  time.Duration // print =interval=; 0 means 10 s
	ResourcesInterval time.Duration // 0 means 30 s
	ResyncInterval    time.Duration // periodic snapshot diff; 0 means 60 s
	MinBackoff        time.Duration // 0 means 1 s
	MaxBackoff        time.Duration // 0 means 60 s
	Now               func() time.Time
	Logger            *slog.Logger
	Metrics           *metrics
	// OnStatus is called (and must not block) when the connection state or
	// the router's resources change.
	OnStatus func()
	// Ledger, when RADIUS is on, is shared with accounting so that both
	// views of a session agree on its key, start and end; nil means off.
	Ledger *sessionLedger
}

// loginSlack is how far apart two computations of a session's login time
// (now - uptime, both rounded to the second) may be and still name the
// same session.
const loginSlack = 2 * time.Second

type keyRef struct {
	kind protocol.SessionKind
	id   string
}

// router watches one RouterOS device and records what changes in the
// outbox. It owns two connections per API session: a synchronous
// go-routeros client for commands and /system prints, and a stream
// connection read by wire.go for listens, interval prints and snapshots.
type router struct {
	cfg    routerConfig
	d      dialer
	ob     *outbox
	log    *slog.Logger
	m      *metrics
	ledger *sessionLedger // nil without RADIUS

	connected atomic.Bool
	mu        sync.Mutex
	cmd       *cmdConn
	upCh      chan struct{} // closed while connected
	resources *protocol.Resources
	lastErr   string
	since     time.Time

	resyncReq chan chan error

	// Subscriber traffic counted since the last router.resources, for its
	// aggregate rates: bytes received from and sent to subscribers.
	trafficMu             sync.Mutex
	trafficIn, trafficOut uint64
	trafficSince          time.Time

	kickMu sync.Mutex
	kicked map[keyRef]time.Time

	keyMu sync.RWMutex
	keys  map[string]keyRef

	// Owned by the run goroutine.
	tabs   map[protocol.SessionKind]map[string]*tracked
	pppIDs map[string]string // PPP name → .id, for interface counters
	loaded bool
	snapN  int
}

// tracked is a live session, the counters last sent for it and the
// counters last persisted with its state.
type tracked struct {
	s         protocol.Session
	emitted   [4]uint64
	persisted [4]uint64
	// loginRef is now-uptime as computed in this process, with Go's
	// monotonic clock reading, so that later sightings compare against it
	// immune to wall-clock steps (an RTC-less router's NTP sync). Sessions
	// restored from the database have only the wall-clock StartedAt until
	// they are seen again.
	loginRef time.Time
}

func newRouter(cfg routerConfig, ob *outbox) *router {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.IOTimeout <= 0 {
		cfg.IOTimeout = 15 * time.Second
	}
	if cfg.CountersInterval <= 0 {
		cfg.CountersInterval = 10 * time.Second
	}
	if cfg.ResourcesInterval <= 0 {
		cfg.ResourcesInterval = 30 * time.Second
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 60 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = newMetrics()
	}
	return &router{
		cfg: cfg,
		d: dialer{addr: cfg.Addr, user: cfg.User, password: cfg.Password, tls: cfg.TLS,
			dialTimeout: cfg.DialTimeout, ioTimeout: cfg.IOTimeout},
		ob:        ob,
		ledger:    cfg.Ledger,
		log:       orDiscard(cfg.Logger),
		m:         cfg.Metrics,
		upCh:      make(chan struct{}),
		resyncReq: make(chan chan error),
		kicked:    map[keyRef]time.Time{},
		keys:      map[string]keyRef{},
		tabs: map[protocol.SessionKind]map[string]*tracked{
			protocol.KindHotspot: {}, protocol.KindPPPoE: {},
		},
		pppIDs: map[string]string{},
	}
}

// run keeps an API session up until ctx ends: on any error it closes every
// connection, waits (exponential backoff with jitter) and redials.
func (r *router) run(ctx context.Context) error {
	if !r.loaded {
		if err := r.load(ctx); err != nil {
			return err
		}
	}
	bo := backoff{min: r.cfg.MinBackoff, max: r.cfg.MaxBackoff}
	for {
		start := time.Now()
		err := r.runAPISession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		r.m.routerReconnects.Inc()
		r.mu.Lock()
		r.lastErr = err.Error()
		r.mu.Unlock()
		if time.Since(start) > 4*r.cfg.MaxBackoff {
			bo.reset()
		}
		d := bo.next()
		r.log.Warn("router session ended; redialling", "err", err, "in", d)
		if !sleepCtx(ctx, d) {
			return nil
		}
	}
}

// load restores the last known state, so that the first snapshot after a
// restart is diffed against what the control plane was last told.
func (r *router) load(ctx context.Context) error {
	ss, err := r.ob.sessions(ctx)
	if err != nil {
		return err
	}
	for _, s := range ss {
		if s.RouterOSID == "" {
			continue
		}
		r.ledger.restore(&s)
		c := counters(&s)
		r.track(&tracked{s: s, emitted: c, persisted: c})
	}
	r.loaded = true
	r.log.Info("restored last known sessions", "count", len(ss))
	return nil
}

func (r *router) track(t *tracked) {
	r.tabs[t.s.Kind][t.s.RouterOSID] = t
	if t.s.Kind == protocol.KindPPPoE {
		r.pppIDs[t.s.User] = t.s.RouterOSID
	}
	r.keyMu.Lock()
	r.keys[t.s.Key] = keyRef{t.s.Kind, t.s.RouterOSID}
	r.keyMu.Unlock()
}

func (r *router) untrack(t *tracked) {
	delete(r.tabs[t.s.Kind], t.s.RouterOSID)
	if t.s.Kind == protocol.KindPPPoE && r.pppIDs[t.s.User] == t.s.RouterOSID {
		delete(r.pppIDs, t.s.User)
		// Rare: the same name has another live session; counters follow it.
		for id, o := range r.tabs[protocol.KindPPPoE] {
			if o.s.User == t.s.User {
				r.pppIDs[t.s.User] = id
				break
			}
		}
	}
	r.keyMu.Lock()
	if r.keys[t.s.Key] == (keyRef{t.s.Kind, t.s.RouterOSID}) {
		delete(r.keys, t.s.Key)
	}
	r.keyMu.Unlock()
}

func counters(s *protocol.Session) [4]uint64 {
	return [4]uint64{s.BytesIn, s.BytesOut, s.PacketsIn, s.PacketsOut}
}

func (r *router) setUp(cc *cmdConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmd = cc
	if cc != nil {
		r.connected.Store(true)
		r.since = r.cfg.Now()
		close(r.upCh)
		r.m.routerConnected.Set(1)
	} else if r.connected.Load() {
		r.connected.Store(false)
		r.since = r.cfg.Now()
		r.upCh = make(chan struct{})
		r.m.routerConnected.Set(0)
	}
	r.statusChanged()
}

func (r *router) statusChanged() {
	if r.cfg.OnStatus != nil {
		r.cfg.OnStatus()
	}
}

// routerStatus is the router half of /status.
type routerStatus struct {
	Connected bool                `json:"connected"`
	Since     time.Time           `json:"since,omitzero"`
	LastError string              `json:"last_error,omitempty"`
	Resources *protocol.Resources `json:"resources,omitempty"`
	Sessions  int                 `json:"sessions"`
}

func (r *router) status() routerStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keyMu.RLock()
	n := len(r.keys)
	r.keyMu.RUnlock()
	return routerStatus{Connected: r.connected.Load(), Since: r.since, LastError: r.lastErr, Resources: r.resources, Sessions: n}
}
