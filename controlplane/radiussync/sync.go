package radiussync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// Publisher sends sync pages to agents: *broker.Broker (inline, like
// commands) or *cluster.Client with --mqtt-url.
type Publisher interface {
	// PublishRadius publishes page on its router's radius topic at QoS 1.
	// EINVALID for an invalid page, EUNAVAILABLE when the broker cannot be
	// reached.
	PublishRadius(ctx context.Context, page *protocol.RadiusSync) error
}

// Redeemer redeems vouchers in a composed transaction: *billing.Service.
type Redeemer interface {
	// RedeemVoucherTx redeems req as of at in tx; announce publishes what
	// it did after the commit. ENOTFOUND (controlplane.VoucherNotValid)
	// or EINVALID for a code that cannot be redeemed.
	RedeemVoucherTx(ctx context.Context, tx *store.Tx, req controlplane.RedeemRequest, at time.Time) (controlplane.Redemption, func(), error)
}

// DefaultSweepInterval is how often the service looks for agents behind
// their head and voucher uses not reconciled yet, besides the changes it
// is told about.
const DefaultSweepInterval = time.Minute

// Options configure a Service.
type Options struct {
	// Store holds the entries, the agents' states and the voucher uses.
	// Required.
	Store *store.Store
	// Bus tells the service of committed entry changes (RadiusChanged)
	// and recorded voucher uses (VoucherUseRecorded), and receives the
	// account states the agents' reports change and the double uses.
	// Required.
	Bus *controlplane.Bus
	// Redeemer decides asks and reconciles voucher uses; nil rejects
	// every ask and leaves voucher uses recorded, not reconciled.
	Redeemer Redeemer
	// InterimSeconds is the Acct-Interim-Interval pages hand out; 0 means
	// the agent's default.
	InterimSeconds int
	// SweepInterval is the period of the sweep; 0 means
	// DefaultSweepInterval.
	SweepInterval time.Duration
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means unregistered.
	Registerer prometheus.Registerer
}

// Service publishes sync pages and answers asks. Create it with New; it
// handles agents' messages (HandleRadiusState, HandleRadiusAsk) at once
// and publishes from Start on.
type Service struct {
	opts Options
	st   *store.Store
	bus  *controlplane.Bus
	log  *slog.Logger
	m    *metrics

	mu      sync.Mutex
	pub     Publisher
	sent    map[string]uint64 // router → the To of the last page sent to it
	dirty   map[string]bool   // routers to send to; true: send even an empty page
	uses    bool              // voucher uses to reconcile
	wake    chan struct{}
	started bool
	closed  bool
	sub     *controlplane.BusSubscription
	cancel  context.CancelFunc
	done    chan struct{}
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Bus == nil {
		return nil, errors.New("radiussync: Options.Store and Options.Bus are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.InterimSeconds < 0 {
		return nil, errors.New("radiussync: negative InterimSeconds")
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("radiussync: %w", err)
	}
	return &Service{opts: o, st: o.Store, bus: o.Bus, log: o.Logger.With("component", "radiussync"), m: m,
		sent: map[string]uint64{}, dirty: map[string]bool{}, wake: make(chan struct{}, 1)}, nil
}

// Start publishes through pub from now on: it follows the bus and runs
// the sweep until Close. Voucher uses recorded while the service was down
// are reconciled first.
func (s *Service) Start(ctx context.Context, pub Publisher) error {
	if pub == nil {
		return errors.New("radiussync: Start needs a Publisher")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("radiussync: Start called twice or after Close")
	}
	s.started, s.pub, s.uses = true, pub, true
	s.sub = s.bus.Subscribe(4096)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan struct{})
	go s.follow(s.sub)
	go s.run(rctx)
	s.poke()
	return nil
}

// Close stops following the bus and waits for a page or reconciliation in
// flight. Safe to call more than once and without Start.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if started {
		s.sub.Close()
		s.cancel()
		<-s.done
	}
	return nil
}

// follow turns bus changes into work for run; it never blocks the bus.
func (s *Service) follow(sub *controlplane.BusSubscription) {
	for c := range sub.C {
		switch c := c.(type) {
		case controlplane.RadiusChanged:
			s.mark(c.RouterID, true)
		case controlplane.VoucherUseRecorded:
			s.mu.Lock()
			s.uses = true
			s.mu.Unlock()
			s.poke()
		}
	}
}

// mark schedules pages for router; announce sends an empty page when
// nothing is new (the agent learns a changed mode).
func (s *Service) mark(router string, announce bool) {
	s.mu.Lock()
	s.dirty[router] = s.dirty[router] || announce
	s.mu.Unlock()
	s.poke()
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run sends the pages marked and reconciles voucher uses, one at a time.
func (s *Service) run(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.opts.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
			s.sweep(ctx)
		}
		s.mu.Lock()
		dirty, uses := s.dirty, s.uses
		s.dirty, s.uses = map[string]bool{}, false
		s.mu.Unlock()
		for r, announce := range dirty {
			if err := s.send(ctx, r, announce); err != nil && ctx.Err() == nil {
				s.log.Warn("radius sync pages not sent; the sweep or the agent's next state retries", "router", r, "err", err)
			}
		}
		if uses {
			if err := s.reconcileUses(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("voucher uses not reconciled; the sweep retries", "err", err)
			}
		}
	}
}

// sweep marks the online agents whose reported version is below their
// head (a page lost, or a change whose announcement was lost in a crash)
// and the voucher uses left over.
func (s *Service) sweep(ctx context.Context) {
	rs, err := s.st.RadiusBehind(ctx, 1000)
	if err != nil {
		s.log.Warn("radius sweep", "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		// From what the agent said it holds, not from what was sent.
		s.sent[r.ID] = r.Radius.AgentVersion
		if _, ok := s.dirty[r.ID]; !ok {
			s.dirty[r.ID] = false
		}
	}
	s.uses = true
}

func (s *Service) publisher() Publisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// send publishes router's entries above the version last sent (or, when
// none was, the agent's reported one) up to its head, in pages.
func (s *Service) send(ctx context.Context, router string, announce bool) error {
	pub := s.publisher()
	if pub == nil {
		return nil
	}
	s.mu.Lock()
	from, known := s.sent[router]
	s.mu.Unlock()
	if !known {
		r, err := s.st.GetRouter(ctx, 0, router)
		if err != nil {
			return err
		}
		from = r.Radius.AgentVersion
	}
	limit := protocol.MaxRadiusEntries
	for first := true; ; first = false {
		page, err := s.st.RadiusRows(ctx, router, from, limit)
		if err != nil {
			return err
		}
		r := page.Router
		head := r.Radius.Version
		if from > head {
			s.m.agentAhead.Inc()
			s.log.Warn("agent holds a version above the router's head (the control plane's database was restored?); its copy cannot be brought up to date",
				"router", router, "agent_version", from, "head", head)
			return nil
		}
		if len(page.Rows) == 0 {
			if first && announce {
				return s.publish(ctx, pub, &protocol.RadiusSync{V: protocol.Version, Router: router, Mode: r.AuthMode,
					From: from, To: from, Head: head, InterimSeconds: s.opts.InterimSeconds})
			}
			return nil
		}
		msg := &protocol.RadiusSync{V: protocol.Version, Router: router, Mode: r.AuthMode, From: from, Head: head,
			InterimSeconds: s.opts.InterimSeconds}
		for _, row := range page.Rows {
			msg.Entries = append(msg.Entries, entryOf(row))
		}
		msg.To = msg.Entries[len(msg.Entries)-1].Version
		if len(page.Rows) < limit {
			msg.To = head // every entry up to the head is in the page
		}
		s.sanitize(msg)
		if b, err := protocol.Encode(msg); err == nil && len(b) > protocol.MaxPayloadSize && limit > 1 {
			limit /= 2 // long names and passwords: smaller pages
			continue
		}
		if err := s.publish(ctx, pub, msg); err != nil {
			return err
		}
		from = msg.To
		if from >= head {
			return nil
		}
	}
}

// sanitize replaces entries the contract would refuse (a password with a
// control character, say) by deletions, so that one bad account does not
// stop its router's sync.
func (s *Service) sanitize(msg *protocol.RadiusSync) {
	if msg.Validate() == nil {
		return
	}
	for i, e := range msg.Entries {
		one := protocol.RadiusSync{V: msg.V, Router: msg.Router, Mode: msg.Mode, From: e.Version - 1, To: e.Version, Head: e.Version,
			Entries: []protocol.RadiusEntry{e}}
		if err := one.Validate(); err != nil {
			s.m.invalidEntries.Inc()
			// The name may be a phone number and the error may quote a
			// secret: neither is logged.
			s.log.Warn("radius entry left out of the sync: the contract refuses it", "router", msg.Router, "kind", e.Kind, "version", e.Version)
			msg.Entries[i] = protocol.RadiusEntry{Kind: e.Kind, Name: e.Name, Version: e.Version, Deleted: true}
		}
	}
}

func (s *Service) publish(ctx context.Context, pub Publisher, msg *protocol.RadiusSync) error {
	if err := pub.PublishRadius(ctx, msg); err != nil {
		s.m.publishFailures.Inc()
		return fmt.Errorf("publish radius page %d..%d to %s: %w", msg.From, msg.To, msg.Router, err)
	}
	s.m.pages.Inc()
	s.m.entries.Add(float64(len(msg.Entries)))
	s.mu.Lock()
	s.sent[msg.Router] = msg.To // pages go out in order
	s.mu.Unlock()
	return nil
}

// HandleRadiusState records what the agent holds, marks the accounts it
// now holds synced, and (from Start on) sends it what it misses. Errors as
// store.RecordRadiusState.
func (s *Service) HandleRadiusState(ctx context.Context, st *protocol.RadiusState) error {
	r, accounts, err := s.st.RecordRadiusState(ctx, st)
	if err != nil {
		return err
	}
	s.m.states.Inc()
	changes := make([]controlplane.Change, len(accounts))
	for i, a := range accounts {
		changes[i] = controlplane.AccountChanged{Op: controlplane.AccountUpdated, Account: a}
	}
	s.bus.Publish(changes...)
	s.mu.Lock()
	// The agent's word replaces what was sent: a page it missed is sent
	// again from its version.
	s.sent[st.Router] = st.Version
	s.mu.Unlock()
	if st.Version < r.Radius.Version {
		s.mark(st.Router, false)
	}
	return nil
}
