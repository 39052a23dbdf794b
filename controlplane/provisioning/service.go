package provisioning

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/jobs/maintenance"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// Publisher delivers commands to agents. *broker.Broker implements it.
type Publisher interface {
	// PublishCommand publishes cmd on its router's cmd topic. EUNAVAILABLE
	// when the broker is not running.
	PublishCommand(ctx context.Context, cmd *protocol.Command) error
	// Connected reports whether the router's agent has a live connection
	// (and so can receive what is published now).
	Connected(routerID string) bool
}

// Defaults applied by New to zero Options fields.
const (
	DefaultTTL              = 24 * time.Hour
	MaxTTL                  = 7 * 24 * time.Hour
	DefaultRedeliverAfter   = time.Minute
	DefaultSweepInterval    = 15 * time.Second
	DefaultAccountInterval  = time.Minute
	DefaultStaleAfter       = 15 * time.Minute
	DefaultStaleInterval    = time.Minute
	DefaultHistoryRetention = 90 * 24 * time.Hour
	DefaultPruneInterval    = time.Hour
	DefaultRollupInterval   = 10 * time.Minute
	DefaultMaxBulk          = 1000
)

// Options configure a Service. Zero durations mean the defaults above.
type Options struct {
	// Store holds commands, accounts and River's jobs. Required.
	Store *store.Store
	// Bus receives CommandChanged, AccountChanged, TenantCreated and the
	// sweeps' SessionEnded, and tells the dispatcher when routers come
	// online. Required.
	Bus *controlplane.Bus
	// Logger receives the service's and River's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means unregistered.
	Registerer prometheus.Registerer
	// Now is the clock of TTLs, expiries and sweeps; nil means time.Now.
	// River schedules jobs on its own clock.
	Now func() time.Time

	// DefaultTTL is a command's lifetime when the request names none.
	DefaultTTL time.Duration
	// RedeliverAfter is how long a delivered command may stay
	// unacknowledged while its agent is connected before the sweep
	// delivers it again (the agent answers a duplicate from its record).
	RedeliverAfter time.Duration
	// SweepInterval is the period of the command sweep: expiry of commands
	// past their TTL and redelivery of unacknowledged ones.
	SweepInterval time.Duration
	// AccountInterval is the period of the account expiry job.
	AccountInterval time.Duration
	// StaleAfter is how long a router may stay offline before its live
	// sessions are ended as stale; StaleInterval is the sweep's period.
	StaleAfter, StaleInterval time.Duration
	// HistoryRetention is how long ended sessions are kept; negative
	// keeps them forever. PruneInterval is the pruning period.
	HistoryRetention, PruneInterval time.Duration
	// RollupInterval is the period of the hourly stats roll-up.
	RollupInterval time.Duration
	// MaxBulk bounds the routers of one bulk command; 0 means
	// DefaultMaxBulk.
	MaxBulk int

	// JobPollInterval is how often River polls for jobs besides its
	// notifications; 0 means River's default (1 s). Tests lower it.
	JobPollInterval time.Duration
	// Workers bounds concurrent jobs per queue; 0 means 10 on PostgreSQL
	// and 4 on SQLite (one connection).
	Workers int
	// QueueWorkers overrides Workers for single queues (by queue name,
	// including those of Jobs). An unknown queue is an error naming the
	// known ones.
	QueueWorkers map[string]int
	// InsertOnly builds a River client that inserts jobs (in the same
	// transactions as before) but runs none: no queues, no periodic jobs.
	// Another process with workers on the same database runs them. Command
	// delivery to routers that come online still happens here.
	InsertOnly bool
	// DisablePeriodic leaves out the periodic jobs (tests that drive the
	// sweeps by hand).
	DisablePeriodic bool
	// Jobs are other services' queues and jobs (billing's) that the
	// service's River client runs too.
	Jobs []JobSet
	// Users creates a new tenant's first admin in its transaction
	// (*notify.Service, which queues the welcome email with it); nil
	// creates the user alone.
	Users UserCreator
}

// UserCreator creates a user in a transaction with what it causes.
type UserCreator interface {
	CreateUserTx(ctx context.Context, tx *store.Tx, by controlplane.Principal, u controlplane.User, hash string) (controlplane.User, error)
}

// Service is SitePulse's provisioning: commands and their lifecycle,
// managed accounts, and the River jobs that deliver, expire and maintain.
// Create it with New, then Start it once the broker can publish.
type Service struct {
	opts  Options
	st    *store.Store
	bus   *controlplane.Bus
	log   *slog.Logger
	now   func() time.Time
	m     *metrics
	river *river.Client[*sql.Tx]
	disp  *dispatcher
	maint *maintenance.Sweeps

	mu      sync.Mutex
	pub     Publisher
	started bool
	closed  bool
	sub     *controlplane.BusSubscription
	subDone chan struct{}
	cancel  context.CancelFunc
}

// New builds the service and its River client (not yet running).
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("provisioning: Options.Store is required")
	}
	if o.Bus == nil {
		return nil, errors.New("provisioning: Options.Bus is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	setDefault(&o.DefaultTTL, DefaultTTL)
	setDefault(&o.RedeliverAfter, DefaultRedeliverAfter)
	setDefault(&o.SweepInterval, DefaultSweepInterval)
	setDefault(&o.AccountInterval, DefaultAccountInterval)
	setDefault(&o.StaleAfter, DefaultStaleAfter)
	setDefault(&o.StaleInterval, DefaultStaleInterval)
	if o.HistoryRetention == 0 {
		o.HistoryRetention = DefaultHistoryRetention
	}
	setDefault(&o.PruneInterval, DefaultPruneInterval)
	setDefault(&o.RollupInterval, DefaultRollupInterval)
	if o.MaxBulk <= 0 {
		o.MaxBulk = DefaultMaxBulk
	}
	if o.DefaultTTL > MaxTTL {
		return nil, fmt.Errorf("provisioning: DefaultTTL %v above the maximum %v", o.DefaultTTL, MaxTTL)
	}
	m, err := newMetrics(o.Registerer, o.Store)
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	s := &Service{
		opts: o,
		st:   o.Store,
		bus:  o.Bus,
		log:  o.Logger.With("component", "provisioning"),
		now:  o.Now,
		m:    m,
	}
	s.disp = newDispatcher(s)
	s.maint = s.newSweeps()
	if s.river, err = s.newRiver(); err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	return s, nil
}

func setDefault(p *time.Duration, v time.Duration) {
	if *p <= 0 {
		*p = v
	}
}

// Start delivers commands through pub from now on: it starts the River
// workers and periodic jobs and follows the bus, so that every router that
// comes online gets its queued commands and those it never acknowledged,
// in order.
func (s *Service) Start(ctx context.Context, pub Publisher) error {
	if pub == nil {
		return errors.New("provisioning: Start needs a Publisher")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("provisioning: Start called twice or after Close")
	}
	s.pub = pub
	// Subscribe before River starts, so no online change is missed.
	s.sub = s.bus.Subscribe(1024)
	s.subDone = make(chan struct{})
	go s.follow(s.sub, s.subDone)
	// River stops when its Start context ends; the service runs until
	// Close, so ctx bounds only the start.
	if s.opts.InsertOnly {
		s.cancel = func() {}
		s.started = true
		return nil
	}
	if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
		s.sub.Close()
		<-s.subDone
		return fmt.Errorf("provisioning: start jobs: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.countJobs(rctx)
	s.started = true
	return nil
}

// follow hands every router that comes online to the dispatcher. It never
// blocks on the dispatcher: it runs on the bus, which the dispatcher
// publishes on.
func (s *Service) follow(sub *controlplane.BusSubscription, done chan<- struct{}) {
	defer close(done)
	for c := range sub.C {
		rc, ok := c.(controlplane.RouterStatusChanged)
		if !ok || rc.Router.Status != controlplane.RouterOnline {
			continue
		}
		// The agent subscribes to its commands before it reports online:
		// what was sent after the store recorded that reached it.
		upTo := s.now()
		if rc.Router.LastSeenAt != nil {
			upTo = *rc.Router.LastSeenAt
		}
		s.disp.schedule(rc.Router.ID, upTo)
	}
}

// publisher returns the Publisher, nil before Start.
func (s *Service) publisher() Publisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// Close stops the River workers (letting running jobs finish until ctx
// ends), the bus subscription and the dispatcher's deliveries in flight.
// It is safe to call more than once and without Start.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	var errs []error
	if started && !s.opts.InsertOnly {
		if err := s.river.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop jobs: %w", err))
		}
	}
	if started {
		s.cancel()
		s.sub.Close()
		<-s.subDone
	}
	if err := s.disp.close(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// publish announces changes on the bus.
func (s *Service) publish(changes ...controlplane.Change) {
	s.bus.Publish(changes...)
}

// publishUpdate announces a store update: the command, and the account
// whose sync state changed with it.
func (s *Service) publishUpdate(u controlplane.CommandUpdate) {
	if !u.Changed {
		return
	}
	s.m.transitions.WithLabelValues(string(u.Command.Status)).Inc()
	changes := []controlplane.Change{controlplane.CommandChanged{Command: u.Command}}
	if u.Account != nil {
		changes = append(changes, controlplane.AccountChanged{Op: controlplane.AccountUpdated, Account: *u.Account})
	}
	if u.Plan != nil {
		changes = append(changes, controlplane.PlanChanged{Op: controlplane.AccountUpdated, Plan: *u.Plan})
	}
	s.publish(changes...)
}
