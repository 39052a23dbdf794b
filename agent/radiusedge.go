package agent

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/agent/radius"
	"github.com/sitepulse/sitepulse/protocol"
)

// RADIUS at the edge: the router asks the agent's RADIUS server, which
// answers from the synced copy (radiusbook.go) through the Decider
// (radiusdecide.go), turns accounting into outbox events merged with the
// API view (radiusacct.go, radiussessions.go), and ends or changes
// sessions by Disconnect/CoA (radiusenforce.go).

// radiusConfig configures the RADIUS side of the agent.
type radiusConfig struct {
	Router             string
	AuthAddr, AcctAddr string
	Secret             []byte // never logged
	CoAAddr            string
	AskTimeout         time.Duration // 0 means 2 s
	RequireMessageAuth bool
	// EnforceInterval is how often live sessions are checked against
	// their end; 0 means 5 s.
	EnforceInterval time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	Metrics         *metrics
}

// publisher is the uplink as the RADIUS side uses it.
type publisher interface {
	// publish sends payload at QoS 1; it fails at once while the MQTT
	// connection is down.
	publish(topic string, payload []byte) error
}

// coaClient sends RFC 5176 requests to the router's /radius incoming.
type coaClient interface {
	disconnect(ctx context.Context, t radius.Target) error
	changeAuthorization(ctx context.Context, t radius.Target, d radius.Decision) error
}

// udpCoA is the real coaClient.
type udpCoA struct {
	addr   string
	secret []byte
}

func (c udpCoA) disconnect(ctx context.Context, t radius.Target) error {
	return radius.Disconnect(ctx, c.addr, c.secret, t)
}

func (c udpCoA) changeAuthorization(ctx context.Context, t radius.Target, d radius.Decision) error {
	return radius.ChangeAuthorization(ctx, c.addr, c.secret, t, d)
}

var errNotConnected = errors.New("mqtt not connected")

// radiusEdge is the agent's RADIUS side. It implements radius.Decider.
type radiusEdge struct {
	cfg    radiusConfig
	db     *sql.DB
	rdb    *sql.DB
	book   *radiusBook
	ledger *sessionLedger
	ob     *outbox
	log    *slog.Logger
	m      *metrics
	srv    *radius.Server

	pub publisher

	coaMu sync.Mutex
	coa   coaClient

	syncCh  chan []byte
	actions chan enforceAction

	// acctMu orders accounting's ledger decisions with their outbox
	// queueing.
	acctMu sync.Mutex

	asksMu sync.Mutex
	asks   map[string]chan protocol.RadiusAnswer

	// redeemed holds the vouchers let in offline: code → MAC → end.
	redeemMu sync.Mutex
	redeemed map[entryRef]map[string]time.Time

	addrMu   sync.Mutex
	authAddr net.Addr
	acctAddr net.Addr
}

var _ radius.Decider = (*radiusEdge)(nil)

func newRadiusEdge(ctx context.Context, db *sql.DB, rdb *sql.DB, ob *outbox, ledger *sessionLedger, cfg radiusConfig) (*radiusEdge, error) {
	if cfg.AskTimeout <= 0 {
		cfg.AskTimeout = 2 * time.Second
	}
	if cfg.EnforceInterval <= 0 {
		cfg.EnforceInterval = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = newMetrics()
	}
	book, err := openRadiusBook(ctx, db, rdb)
	if err != nil {
		return nil, err
	}
	x := &radiusEdge{
		cfg: cfg, db: db, rdb: rdb, book: book, ledger: ledger, ob: ob, log: orDiscard(cfg.Logger), m: cfg.Metrics,
		coa:    udpCoA{addr: cfg.CoAAddr, secret: cfg.Secret},
		syncCh: make(chan []byte, 64), actions: make(chan enforceAction, 1024),
		asks: map[string]chan protocol.RadiusAnswer{}, redeemed: map[entryRef]map[string]time.Time{},
	}
	rows, err := loadRadiusRows(ctx, db)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		ledger.restoreRadius(&rows[i])
	}
	if err := x.loadRedemptions(ctx); err != nil {
		return nil, err
	}
	v, n := book.state()
	x.m.radiusVersion.Set(float64(v))
	x.m.radiusEntries.Set(float64(n))
	if cfg.AuthAddr != "" || cfg.AcctAddr != "" {
		x.srv, err = radius.NewServer(radius.Config{
			AuthAddr: cfg.AuthAddr, AcctAddr: cfg.AcctAddr, Secret: cfg.Secret,
			RequireMessageAuthenticator: cfg.RequireMessageAuth, Decider: x,
			Logger: x.log, Registerer: x.m.reg,
		})
		if err != nil {
			return nil, fmt.Errorf("radius server: %w", err)
		}
	}
	return x, nil
}

func (x *radiusEdge) loadRedemptions(ctx context.Context) error {
	rows, err := x.db.QueryContext(ctx, `SELECT kind, code, mac, ends_at FROM radius_redemptions`)
	if err != nil {
		return fmt.Errorf("radius: load redemptions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, code, mac string
		var ends int64
		if err := rows.Scan(&kind, &code, &mac, &ends); err != nil {
			return fmt.Errorf("radius: load redemptions: %w", err)
		}
		ref := entryRef{protocol.SessionKind(kind), code}
		if x.redeemed[ref] == nil {
			x.redeemed[ref] = map[string]time.Time{}
		}
		x.redeemed[ref][mac] = unixNanoTime(ends)
	}
	return rows.Err()
}

func unixNanoTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (x *radiusEdge) coaClient() coaClient {
	x.coaMu.Lock()
	defer x.coaMu.Unlock()
	return x.coa
}

// listen binds the RADIUS sockets.
func (x *radiusEdge) listen(ctx context.Context) error {
	if x.srv == nil {
		return nil
	}
	if err := x.srv.Listen(ctx); err != nil {
		return fmt.Errorf("radius listen: %w", err)
	}
	x.addrMu.Lock()
	x.authAddr, x.acctAddr = x.srv.AuthAddr(), x.srv.AcctAddr()
	x.addrMu.Unlock()
	x.log.Info("radius listening", "auth", addrString(x.authAddr), "acct", addrString(x.acctAddr), "coa", x.cfg.CoAAddr)
	return nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// run serves RADIUS and applies sync pages until ctx ends. The server
// returns once its sockets are closed and its handlers done, so that
// every accounting it acknowledged is in the outbox before the agent
// flushes it.
func (x *radiusEdge) run(ctx context.Context) {
	var wg sync.WaitGroup
	if x.srv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.srv.Serve(ctx); err != nil && ctx.Err() == nil {
				x.log.Error("radius server stopped", "err", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		x.runActions(ctx)
	}()
	tick := time.NewTicker(x.cfg.EnforceInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case p := <-x.syncCh:
			x.handleSync(ctx, p)
		case <-tick.C:
			now := x.cfg.Now()
			x.enforceTimes(now)
			x.endStale(ctx, now)
			x.ledger.purge(now)
		}
	}
}

// submitSync queues a payload from the radius topic; it runs on paho's
// delivery goroutine and must return quickly. A page dropped on a full
// queue is re-sent after the next gap or connect.
func (x *radiusEdge) submitSync(payload []byte) {
	b := append([]byte(nil), payload...)
	select {
	case x.syncCh <- b:
	case <-time.After(5 * time.Second):
		x.m.radiusSync.WithLabelValues("dropped").Inc()
		x.log.Error("radius sync queue full; dropping a page")
	}
}

func (x *radiusEdge) handleSync(ctx context.Context, payload []byte) {
	p, err := protocol.DecodeRadiusSync(payload)
	if err != nil {
		x.m.radiusSync.WithLabelValues("invalid").Inc()
		x.log.Warn("invalid radius sync page ignored", "reason", protocol.Reason(err), "err", err)
		return
	}
	if p.Router != x.cfg.Router {
		x.m.radiusSync.WithLabelValues("wrong_router").Inc()
		x.log.Warn("radius sync page for another router ignored", "router", p.Router)
		return
	}
	for _, a := range p.Answers {
		x.answer(ctx, a)
	}
	out, changes, err := x.book.apply(ctx, p)
	if err != nil {
		x.m.radiusSync.WithLabelValues("error").Inc()
		x.log.Error("apply radius sync page", "from", p.From, "to", p.To, "err", err)
		x.publishState() // the control plane re-sends from what we hold
		return
	}
	x.m.radiusSync.WithLabelValues(out.String()).Inc()
	v, n := x.book.state()
	x.m.radiusVersion.Set(float64(v))
	x.m.radiusEntries.Set(float64(n))
	switch out {
	case syncGap:
		x.log.Info("radius sync gap; asking for a resend", "held", v, "from", p.From)
		x.publishState()
	case syncApplied:
		x.log.Debug("radius sync page applied", "from", p.From, "to", p.To, "head", p.Head, "entries", len(p.Entries))
		x.entriesChanged(ctx, changes)
		if p.To == p.Head {
			x.publishState()
		}
	}
}

// publishState reports the held version; called on every MQTT connect,
// after a gap and after the last page of a sync.
func (x *radiusEdge) publishState() {
	if x.pub == nil {
		return
	}
	v, n := x.book.state()
	b, err := protocol.Encode(&protocol.RadiusState{V: protocol.Version, Router: x.cfg.Router, Version: v, Count: n})
	if err != nil {
		x.log.Error("encode radius state", "err", err)
		return
	}
	if err := x.pub.publish(protocol.RadiusStateTopic(x.cfg.Router), b); err != nil {
		x.log.Debug("radius state not published", "err", err)
	}
}

// answer applies the control plane's decision on an ask: an accepted
// voucher's account entry is stored first, then the waiting login, if
// any, is told.
func (x *radiusEdge) answer(ctx context.Context, a protocol.RadiusAnswer) {
	if a.Accept && a.Entry != nil {
		if _, err := x.book.put(ctx, a.Entry); err != nil {
			x.log.Error("store answered entry", "err", err)
		}
	}
	x.asksMu.Lock()
	ch := x.asks[a.ID]
	delete(x.asks, a.ID)
	x.asksMu.Unlock()
	if ch == nil {
		x.m.radiusAsks.WithLabelValues("late").Inc()
		return
	}
	ch <- a
}

// ask publishes a voucher's first use and waits for the answer; false
// means MQTT is down or no answer came within AskTimeout.
func (x *radiusEdge) ask(ctx context.Context, code, mac, ip string) (protocol.RadiusAnswer, bool) {
	if x.pub == nil {
		return protocol.RadiusAnswer{}, false
	}
	var rb [8]byte
	_, _ = rand.Read(rb[:])
	id := hex.EncodeToString(rb[:])
	b, err := protocol.Encode(&protocol.RadiusAsk{V: protocol.Version, Router: x.cfg.Router, ID: id, Code: code, MAC: mac, IP: ip, TS: x.cfg.Now().UTC()})
	if err != nil {
		x.log.Error("encode radius ask", "err", err)
		return protocol.RadiusAnswer{}, false
	}
	ch := make(chan protocol.RadiusAnswer, 1)
	x.asksMu.Lock()
	x.asks[id] = ch
	x.asksMu.Unlock()
	defer func() {
		x.asksMu.Lock()
		delete(x.asks, id)
		x.asksMu.Unlock()
	}()
	if err := x.pub.publish(protocol.RadiusAskTopic(x.cfg.Router), b); err != nil {
		x.m.radiusAsks.WithLabelValues("offline").Inc()
		return protocol.RadiusAnswer{}, false
	}
	t := time.NewTimer(x.cfg.AskTimeout)
	defer t.Stop()
	select {
	case a := <-ch:
		x.m.radiusAsks.WithLabelValues("answered").Inc()
		return a, true
	case <-t.C:
	case <-ctx.Done():
	}
	x.m.radiusAsks.WithLabelValues("timed_out").Inc()
	return protocol.RadiusAnswer{}, false
}
