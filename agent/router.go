package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-routeros/routeros/v3"

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
	cfg routerConfig
	d   dialer
	ob  *outbox
	log *slog.Logger
	m   *metrics

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
		err := r.session(ctx)
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

// --- routerAPI for the executor ---

func (r *router) command(ctx context.Context, words ...string) (*routeros.Reply, error) {
	r.mu.Lock()
	cc := r.cmd
	r.mu.Unlock()
	if cc == nil {
		return nil, errRouterDown
	}
	return cc.run(ctx, words...)
}

func (r *router) waitConnected(ctx context.Context) error {
	r.mu.Lock()
	ch := r.upCh
	r.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *router) markKicked(kind protocol.SessionKind, ids []string) {
	r.kickMu.Lock()
	defer r.kickMu.Unlock()
	now := time.Now()
	for k, at := range r.kicked {
		if now.Sub(at) > 10*time.Minute {
			delete(r.kicked, k)
		}
	}
	for _, id := range ids {
		r.kicked[keyRef{kind, id}] = now
	}
}

func (r *router) unmarkKicked(kind protocol.SessionKind, ids []string) {
	r.kickMu.Lock()
	defer r.kickMu.Unlock()
	for _, id := range ids {
		delete(r.kicked, keyRef{kind, id})
	}
}

// endReason is kicked when the agent removed the session itself.
func (r *router) endReason(kind protocol.SessionKind, id string, otherwise protocol.EndReason) protocol.EndReason {
	r.kickMu.Lock()
	defer r.kickMu.Unlock()
	k := keyRef{kind, id}
	if _, ok := r.kicked[k]; ok {
		delete(r.kicked, k)
		return protocol.EndKicked
	}
	return otherwise
}

func (r *router) lookupKey(key string) (protocol.SessionKind, string, bool) {
	r.keyMu.RLock()
	defer r.keyMu.RUnlock()
	k, ok := r.keys[key]
	return k.kind, k.id, ok
}

func (r *router) resync(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case r.resyncReq <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
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

// --- one API session ---

// snapRound is one snapshot of both session menus, diffed against the
// known state when both prints are done.
type snapRound struct {
	n        int
	pending  int
	windows  map[protocol.SessionKind]*snapWindow
	waiters  []chan error
	snapshot bool // also emit a snapshot event (after connect and on request)
	started  time.Time
}

// snapWindow tracks one print and what listen reported while it ran: a
// row may predate a removal listen already reported (dead), and a session
// listen reported as added may be missing from a print that began before
// it (touched). Neither may produce an end or a start.
type snapWindow struct {
	rows    []map[string]string
	touched map[string]bool
	dead    map[string]bool
	done    bool
}

type session struct {
	r      *router
	ctx    context.Context
	fail   context.CancelCauseFunc
	stream net.Conn
	round  *snapRound
	next   *snapRound // requested while round was running
	batch  []change
}

const (
	tagHotspotListen   = "hl"
	tagPPPListen       = "pl"
	tagHotspotCounters = "hc"
	tagIfaceCounters   = "ic"
)

func (r *router) session(ctx context.Context) error {
	cmdNC, cmdC, err := r.d.dial(ctx)
	if err != nil {
		return err
	}
	defer cmdNC.Close()
	streamNC, _, err := r.d.dial(ctx)
	if err != nil {
		return err
	}
	defer streamNC.Close()

	sctx, fail := context.WithCancelCause(ctx)
	cc := &cmdConn{conn: cmdNC, c: cmdC, timeout: r.cfg.IOTimeout, onBreak: fail}
	s := &session{r: r, ctx: sctx, fail: fail, stream: streamNC}
	sentences := make(chan *sentence, 512)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.read(sentences)
	}()
	// Whatever ends the session, stop its goroutines before returning:
	// cancel (which also moves the command connection's deadline into the
	// past), close both connections, wait, and release resync waiters.
	defer func() {
		fail(errors.New("router session closed"))
		cc.close()
		_ = streamNC.Close()
		wg.Wait()
		s.abandonRounds()
	}()

	// Listen first, then snapshot, on the same connection: rows that
	// listen reports while the print runs are handled by the window.
	err = errors.Join(
		s.write(r.cfg.IOTimeout, "/ip/hotspot/active/listen", ".tag="+tagHotspotListen),
		s.write(r.cfg.IOTimeout, "/ppp/active/listen", ".tag="+tagPPPListen),
	)
	if err != nil {
		return err
	}
	if err := s.startRound(&snapRound{snapshot: true}); err != nil {
		return err
	}
	secs := formatInterval(r.cfg.CountersInterval)
	err = errors.Join(
		s.write(r.cfg.IOTimeout, "/ip/hotspot/active/print", "=interval="+secs,
			"=.proplist=.id,user,mac-address,uptime,bytes-in,bytes-out,packets-in,packets-out", ".tag="+tagHotspotCounters),
		s.write(r.cfg.IOTimeout, "/interface/print", "=interval="+secs, "?type=pppoe-in",
			"=.proplist=name,type,rx-byte,tx-byte,rx-packet,tx-packet", ".tag="+tagIfaceCounters),
	)
	if err != nil {
		return err
	}

	r.setUp(cc)
	defer r.setUp(nil)
	r.log.Info("router connected", "addr", r.cfg.Addr)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.pollResources(sctx, cc, fail)
	}()

	resync := time.NewTicker(r.cfg.ResyncInterval)
	defer resync.Stop()
	watchdog := time.NewTicker(r.cfg.IOTimeout)
	defer watchdog.Stop()
	for {
		select {
		case <-sctx.Done():
			s.flushBatch()
			return context.Cause(sctx)
		case sen := <-sentences:
			s.handle(sen)
			// Drain what is already buffered before committing, so that a
			// burst of rows becomes one outbox group.
			for drained := false; !drained && len(s.batch) < maxGroup; {
				select {
				case sen := <-sentences:
					s.handle(sen)
				default:
					drained = true
				}
			}
			s.flushBatch()
		case <-resync.C:
			if s.round == nil {
				if err := s.startRound(&snapRound{}); err != nil {
					return err
				}
			}
		case w := <-r.resyncReq:
			if s.round == nil {
				if err := s.startRound(&snapRound{snapshot: true, waiters: []chan error{w}}); err != nil {
					return err
				}
			} else {
				if s.next == nil {
					s.next = &snapRound{snapshot: true}
				}
				s.next.waiters = append(s.next.waiters, w)
			}
		case <-watchdog.C:
			// The read deadline catches a silent connection; this catches
			// a snapshot that never completes on a talkative one.
			if s.round != nil && time.Since(s.round.started) > 4*r.cfg.IOTimeout+r.cfg.ResyncInterval {
				return errors.New("snapshot print did not complete")
			}
		}
	}
}

// read delivers stream sentences in wire order until the connection ends.
// The read deadline is pushed forward on each sentence; the periodic
// snapshot guarantees traffic at least every resync interval, so a longer
// silence means the router or the path is gone.
func (s *session) read(out chan<- *sentence) {
	wr := newWireReader(s.stream)
	idle := s.r.cfg.ResyncInterval + 2*s.r.cfg.IOTimeout
	for {
		_ = s.stream.SetReadDeadline(time.Now().Add(idle))
		sen, err := wr.readSentence()
		if err != nil {
			s.fail(fmt.Errorf("stream connection: %w", err))
			return
		}
		select {
		case out <- sen:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *session) write(timeout time.Duration, words ...string) error {
	_ = s.stream.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := s.stream.Write(encodeSentence(words...)); err != nil {
		return fmt.Errorf("write %s: %w", words[0], err)
	}
	return nil
}

func (s *session) startRound(rd *snapRound) error {
	s.r.snapN++
	rd.n = s.r.snapN
	rd.pending = 2
	rd.started = time.Now()
	rd.windows = map[protocol.SessionKind]*snapWindow{
		protocol.KindHotspot: {touched: map[string]bool{}, dead: map[string]bool{}},
		protocol.KindPPPoE:   {touched: map[string]bool{}, dead: map[string]bool{}},
	}
	s.round = rd
	n := strconv.Itoa(rd.n)
	return errors.Join(
		s.write(s.r.cfg.IOTimeout, "/ip/hotspot/active/print", ".tag=hs"+n),
		s.write(s.r.cfg.IOTimeout, "/ppp/active/print", ".tag=ps"+n),
	)
}

// abandonRounds fails the resync requests of a session that ended.
func (s *session) abandonRounds() {
	for _, rd := range []*snapRound{s.round, s.next} {
		if rd == nil {
			continue
		}
		for _, ch := range rd.waiters {
			ch <- errRouterDown
		}
		rd.waiters = nil
	}
}

func (s *session) record(c change) { s.batch = append(s.batch, c) }

func (s *session) flushBatch() {
	if len(s.batch) == 0 {
		return
	}
	// Recording only blocks when the outbox queue is full; the router
	// then waits on TCP, which is the back-pressure we want.
	if err := s.r.ob.record(context.WithoutCancel(s.ctx), s.batch...); err != nil {
		s.r.log.Error("record events", "err", err)
	}
	s.batch = s.batch[:0]
}

func (s *session) handle(sen *sentence) {
	switch sen.word {
	case "!fatal":
		s.fail(fmt.Errorf("router sent !fatal: %s", sen.attrs["message"]))
		return
	case "!empty":
		return
	}
	switch tag := sen.tag; {
	case tag == tagHotspotListen || tag == tagPPPListen:
		kind := protocol.KindHotspot
		if tag == tagPPPListen {
			kind = protocol.KindPPPoE
		}
		switch sen.word {
		case "!re":
			s.onListen(kind, sen.attrs)
		default:
			s.fail(fmt.Errorf("listen %s ended: %s %s", kind, sen.word, sen.attrs["message"]))
		}
	case tag == tagHotspotCounters || tag == tagIfaceCounters:
		switch sen.word {
		case "!re":
			if tag == tagHotspotCounters {
				s.onHotspotCounters(sen.attrs)
			} else {
				s.onIfaceCounters(sen.attrs)
			}
		case "!trap":
			// Counters are an optimisation over the snapshot; keep going.
			s.r.log.Warn("counter print failed", "tag", tag, "message", sen.attrs["message"])
		}
	case strings.HasPrefix(tag, "hs") || strings.HasPrefix(tag, "ps"):
		s.onSnapshot(tag, sen)
	}
}

func (s *session) window(kind protocol.SessionKind) *snapWindow {
	if s.round == nil {
		return nil
	}
	if w := s.round.windows[kind]; !w.done {
		return w
	}
	return nil
}

func (s *session) onListen(kind protocol.SessionKind, m map[string]string) {
	id := m[".id"]
	if id == "" {
		return
	}
	tab := s.r.tabs[kind]
	w := s.window(kind)
	if d := m[".dead"]; d == "true" || d == "yes" {
		if w != nil {
			w.dead[id] = true
		}
		if t := tab[id]; t != nil {
			s.end(t, s.r.endReason(kind, id, protocol.EndLogout))
		}
		return
	}
	cand, ok := sessionFromRow(kind, m, s.r.cfg.Now())
	if !ok {
		return
	}
	if w != nil {
		w.touched[id] = true
	}
	if t := tab[id]; t != nil {
		if sameSession(t, &cand) {
			t.s.Address = cand.s.Address
			t.loginRef = cand.ref
			if kind == protocol.KindHotspot {
				setCounters(&t.s, counters(&cand.s))
			}
			return
		}
		// The .id now names another session: the old one is gone.
		s.end(t, protocol.EndVanished)
	}
	s.start(cand)
}

func (s *session) onHotspotCounters(m map[string]string) {
	t := s.r.tabs[protocol.KindHotspot][m[".id"]]
	if t == nil || m["user"] != t.s.User || m["mac-address"] != t.s.MAC {
		// Unknown: listen or the next snapshot will introduce it.
		return
	}
	s.updateCounters(t, [4]uint64{u64(m["bytes-in"]), u64(m["bytes-out"]), u64(m["packets-in"]), u64(m["packets-out"])})
}

// onIfaceCounters maps a dynamic <pppoe-NAME> interface to NAME's session.
// The interface counts from the router's side: rx is what the subscriber
// sent, which is bytes_in in the hotspot sense too.
func (s *session) onIfaceCounters(m map[string]string) {
	name, ok := strings.CutPrefix(m["name"], "<pppoe-")
	if !ok {
		return
	}
	name = strings.TrimSuffix(name, ">")
	t := s.r.tabs[protocol.KindPPPoE][s.r.pppIDs[name]]
	if t == nil {
		return
	}
	s.updateCounters(t, [4]uint64{u64(m["rx-byte"]), u64(m["tx-byte"]), u64(m["rx-packet"]), u64(m["tx-packet"])})
}

func (s *session) updateCounters(t *tracked, c [4]uint64) {
	s.r.countTraffic(counters(&t.s), c)
	setCounters(&t.s, c)
	if c == t.emitted {
		return
	}
	t.emitted = c
	sess := t.s
	// The state row is refreshed by the next diff, not here: at 10k
	// sessions the upsert would double the outbox's write load for
	// counters that only matter if the session vanishes while the agent is
	// down.
	s.record(change{event: &protocol.Event{TS: s.r.cfg.Now().UTC(), Type: protocol.EventSessionUpdated, Session: &sess}})
}

func setCounters(s *protocol.Session, c [4]uint64) {
	s.BytesIn, s.BytesOut, s.PacketsIn, s.PacketsOut = c[0], c[1], c[2], c[3]
}

func (s *session) start(cand sighting) {
	c := counters(&cand.s)
	s.r.track(&tracked{s: cand.s, emitted: c, persisted: c, loginRef: cand.ref})
	sess := cand.s
	s.record(change{
		event:  &protocol.Event{TS: s.r.cfg.Now().UTC(), Type: protocol.EventSessionStarted, Session: &sess},
		upsert: &sess,
	})
}

func (s *session) end(t *tracked, reason protocol.EndReason) {
	s.r.untrack(t)
	sess := t.s
	s.record(change{
		event:  &protocol.Event{TS: s.r.cfg.Now().UTC(), Type: protocol.EventSessionEnded, Session: &sess, Reason: reason},
		forget: sessionRef(&sess),
	})
}

func (s *session) onSnapshot(tag string, sen *sentence) {
	rd := s.round
	if rd == nil || tag[2:] != strconv.Itoa(rd.n) {
		return // a late reply to an abandoned round
	}
	kind := protocol.KindHotspot
	if tag[0] == 'p' {
		kind = protocol.KindPPPoE
	}
	w := rd.windows[kind]
	switch sen.word {
	case "!re":
		w.rows = append(w.rows, sen.attrs)
		return
	case "!trap":
		s.fail(fmt.Errorf("snapshot print %s: %s", kind, sen.attrs["message"]))
		return
	case "!done":
	default:
		return
	}
	s.diff(kind, w)
	w.done = true
	rd.pending--
	if rd.pending > 0 {
		return
	}
	if rd.snapshot {
		s.emitSnapshot()
	}
	for _, ch := range rd.waiters {
		ch <- nil
	}
	s.round = nil
	if nx := s.next; nx != nil {
		s.next = nil
		if err := s.startRound(nx); err != nil {
			s.fail(err)
		}
	}
}

// diff reconciles the known sessions of kind with a completed print.
func (s *session) diff(kind protocol.SessionKind, w *snapWindow) {
	now := s.r.cfg.Now()
	tab := s.r.tabs[kind]
	seen := make(map[string]bool, len(w.rows))
	started, ended := 0, 0
	for _, m := range w.rows {
		id := m[".id"]
		if id == "" || w.dead[id] {
			continue
		}
		cand, ok := sessionFromRow(kind, m, now)
		if !ok {
			continue
		}
		seen[id] = true
		if t := tab[id]; t != nil {
			if sameSession(t, &cand) {
				t.s.Address = cand.s.Address
				t.loginRef = cand.ref
				continue
			}
			if w.touched[id] {
				continue // listen already has a newer view of this .id
			}
			s.end(t, protocol.EndVanished)
			ended++
		}
		s.start(cand)
		started++
	}
	for id, t := range tab {
		if seen[id] || w.touched[id] {
			if c := counters(&t.s); c != t.persisted {
				t.persisted = c
				sess := t.s
				s.record(change{upsert: &sess})
			}
			continue
		}
		s.end(t, s.r.endReason(kind, id, protocol.EndVanished))
		ended++
	}
	if started+ended > 0 {
		s.r.log.Info("snapshot diff", "kind", kind, "rows", len(w.rows), "started", started, "ended", ended)
	}
}

// emitSnapshot records the full session list in parts that each fit a
// batch.
func (s *session) emitSnapshot() {
	var all []protocol.Session
	for _, kind := range []protocol.SessionKind{protocol.KindHotspot, protocol.KindPPPoE} {
		for _, t := range s.r.tabs[kind] {
			all = append(all, t.s)
		}
	}
	const partBytes = protocol.MaxPayloadSize / 2
	var parts [][]protocol.Session
	cur := []protocol.Session{}
	size := 0
	for _, ss := range all {
		b, _ := json.Marshal(ss)
		if len(cur) > 0 && (len(cur) >= protocol.MaxSnapshotSessions || size+len(b) > partBytes) {
			parts = append(parts, cur)
			cur, size = []protocol.Session{}, 0
		}
		cur = append(cur, ss)
		size += len(b) + 1
	}
	parts = append(parts, cur)
	now := s.r.cfg.Now().UTC()
	id := fmt.Sprintf("%s-%d", s.r.cfg.Router, now.UnixNano())
	for i, p := range parts {
		s.record(change{event: &protocol.Event{TS: now, Type: protocol.EventSnapshot,
			Snapshot: &protocol.Snapshot{ID: id, Part: i + 1, Parts: len(parts), Sessions: p}}})
	}
}

// countTraffic adds a session's counter growth to the aggregate; a counter
// that went backwards (a reset) adds nothing.
func (r *router) countTraffic(old, cur [4]uint64) {
	r.trafficMu.Lock()
	defer r.trafficMu.Unlock()
	if cur[0] > old[0] {
		r.trafficIn += cur[0] - old[0]
	}
	if cur[1] > old[1] {
		r.trafficOut += cur[1] - old[1]
	}
}

// takeRates returns the subscriber traffic rates in bits/s since the last
// call (rx: from subscribers, tx: to them) and restarts the count. The
// first call only starts it.
func (r *router) takeRates(now time.Time) (rx, tx float64) {
	r.trafficMu.Lock()
	defer r.trafficMu.Unlock()
	if !r.trafficSince.IsZero() {
		if secs := now.Sub(r.trafficSince).Seconds(); secs > 0 {
			rx, tx = float64(r.trafficIn)*8/secs, float64(r.trafficOut)*8/secs
		}
	}
	r.trafficIn, r.trafficOut, r.trafficSince = 0, 0, now
	return rx, tx
}

// pollResources records router.resources now and every ResourcesInterval.
func (r *router) pollResources(ctx context.Context, cc *cmdConn, fail context.CancelCauseFunc) {
	t := time.NewTicker(r.cfg.ResourcesInterval)
	defer t.Stop()
	for {
		res, err := r.readResources(ctx, cc)
		if err != nil {
			if ctx.Err() == nil {
				fail(err)
			}
			return
		}
		res.RxBps, res.TxBps = r.takeRates(r.cfg.Now())
		r.mu.Lock()
		r.resources = res
		r.mu.Unlock()
		r.statusChanged()
		if err := r.ob.record(ctx, change{event: &protocol.Event{TS: r.cfg.Now().UTC(), Type: protocol.EventRouterResources, Resources: res}}); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *router) readResources(ctx context.Context, cc *cmdConn) (*protocol.Resources, error) {
	rep, err := cc.run(ctx, "/system/resource/print")
	if err != nil {
		return nil, fmt.Errorf("read /system/resource: %w", err)
	}
	idr, err := cc.run(ctx, "/system/identity/print")
	if err != nil {
		return nil, fmt.Errorf("read /system/identity: %w", err)
	}
	res := &protocol.Resources{}
	if len(rep.Re) > 0 {
		m := rep.Re[0].Map
		res.Version = m["version"]
		res.Board = m["board-name"]
		res.Architecture = m["architecture-name"]
		res.UptimeSeconds = int64(parseDuration(m["uptime"]) / time.Second)
		res.CPULoad = min(100, max(0, int(u64(m["cpu-load"]))))
		res.CPUCount = int(u64(m["cpu-count"]))
		res.FreeMemory = u64(m["free-memory"])
		res.TotalMemory = u64(m["total-memory"])
		res.FreeHDD = u64(m["free-hdd-space"])
		res.TotalHDD = u64(m["total-hdd-space"])
		if res.TotalMemory > 0 && res.FreeMemory > res.TotalMemory {
			res.FreeMemory = res.TotalMemory
		}
	}
	if len(idr.Re) > 0 {
		res.Identity = idr.Re[0].Map["name"]
	}
	return res, nil
}

// sighting is a session as one row shows it, with the login reference
// (now - uptime) that still carries the monotonic clock reading.
type sighting struct {
	s   protocol.Session
	ref time.Time
}

// sessionFromRow builds a session from an /ip/hotspot/active or
// /ppp/active row. The login time is now - uptime; it is computed on every
// sighting but only the first one names the session (sameSession tolerates
// the rounding), so the key never changes.
func sessionFromRow(kind protocol.SessionKind, m map[string]string, now time.Time) (sighting, bool) {
	ref := now.Add(-parseDuration(m["uptime"]))
	loginAt := ref.UTC().Truncate(time.Second)
	s := protocol.Session{Kind: kind, RouterOSID: m[".id"], Address: m["address"], StartedAt: loginAt}
	switch kind {
	case protocol.KindHotspot:
		s.User = m["user"]
		s.MAC = m["mac-address"]
		s.Service = m["server"]
		s.LoginBy = m["login-by"]
		s.Key = protocol.HotspotKey(s.User, s.MAC, loginAt, s.RouterOSID)
		setCounters(&s, [4]uint64{u64(m["bytes-in"]), u64(m["bytes-out"]), u64(m["packets-in"]), u64(m["packets-out"])})
	case protocol.KindPPPoE:
		s.User = m["name"]
		s.MAC = m["caller-id"]
		s.Service = m["service"]
		s.SessionID = m["session-id"]
		sid := s.SessionID
		if sid == "" {
			sid = "t" + strconv.FormatInt(loginAt.Unix(), 10)
		}
		s.Key = protocol.PPPKey(s.User, sid)
	}
	if s.User == "" || len(s.User) > protocol.MaxFieldLen {
		return sighting{}, false
	}
	return sighting{s: s, ref: ref}, true
}

// sameSession reports whether a fresh row describes the known session:
// same user (and MAC for hotspot) and a login time within loginSlack,
// measured on the monotonic clock when both sightings are from this
// process, else on the wall clock.
func sameSession(known *tracked, cand *sighting) bool {
	k, c := &known.s, &cand.s
	if k.Kind != c.Kind || k.User != c.User {
		return false
	}
	var d time.Duration
	if !known.loginRef.IsZero() {
		d = known.loginRef.Sub(cand.ref)
	} else {
		d = k.StartedAt.Sub(c.StartedAt)
	}
	near := d <= loginSlack && d >= -loginSlack
	switch k.Kind {
	case protocol.KindHotspot:
		return k.MAC == c.MAC && near
	default:
		if k.SessionID != "" && c.SessionID != "" {
			return k.SessionID == c.SessionID
		}
		return near
	}
}

// formatInterval renders d for print =interval=: whole seconds when it is
// one, else milliseconds (tests use sub-second intervals).
func formatInterval(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(max(1, d.Milliseconds()), 10) + "ms"
}

func u64(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// parseDuration parses RouterOS durations: "1w2d3h4m5s", "150ms",
// "3d04:05:06" and "04:05:06". Unparseable input yields 0.
func parseDuration(s string) time.Duration {
	var total time.Duration
	if i := strings.IndexByte(s, ':'); i >= 0 {
		j := strings.LastIndexAny(s[:i], "dw")
		clock := s[j+1:]
		s = s[:j+1]
		var secs float64
		for _, p := range strings.Split(clock, ":") {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 {
				return 0
			}
			secs = secs*60 + f
		}
		total = time.Duration(secs * float64(time.Second))
	}
	num := 0
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			num = num*10 + int(c-'0')
			digits = true
			continue
		}
		if !digits {
			return 0
		}
		var unit time.Duration
		switch c {
		case 'w':
			unit = 7 * 24 * time.Hour
		case 'd':
			unit = 24 * time.Hour
		case 'h':
			unit = time.Hour
		case 'm':
			if i+1 < len(s) && s[i+1] == 's' {
				unit = time.Millisecond
				i++
			} else {
				unit = time.Minute
			}
		case 's':
			unit = time.Second
		default:
			return 0
		}
		total += time.Duration(num) * unit
		num, digits = 0, false
	}
	if digits {
		return 0
	}
	return total
}

var _ routerAPI = (*router)(nil)
