package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// Sealer encrypts endpoint secrets at rest (*seal.Keyring).
type Sealer interface {
	Seal(plaintext []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// Notifier is told when an endpoint is disabled for failing, so a person
// hears of it (the lead wires email). Errors are logged.
type Notifier interface {
	EndpointDisabled(ctx context.Context, tenantID int64, endpoint controlplane.WebhookEndpoint) error
}

// JobInserter enqueues River jobs in a store transaction
// (*provisioning.Service).
type JobInserter interface {
	InsertJobsTx(ctx context.Context, tx *store.Tx, args ...river.JobArgs) error
}

// RetryPolicy is when a failed delivery is tried again.
type RetryPolicy struct {
	// Base is the wait after the first failure, doubled after each next
	// one up to Max, with ±25 % jitter. Zero means 30 s and 1 h.
	Base, Max time.Duration
	// Window is how long after its creation a delivery is retried before it
	// is dead. Zero means 24 h.
	Window time.Duration
}

// Defaults applied by New.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultDisableAfterDead = 5
	MaxResponseLog          = 1024 // bytes of a response body logged per attempt
)

// Options configure a Service.
type Options struct {
	Store  *store.Store      // required
	Bus    *controlplane.Bus // read for events; receives WebhookEndpointChanged; required
	Sealer Sealer            // required: secrets are stored sealed
	Logger *slog.Logger      // nil discards
	Now    func() time.Time  // nil means time.Now
	// Registerer receives the metrics; nil means unregistered.
	Registerer prometheus.Registerer
	// Notifier hears of endpoints disabled for failing; nil means none.
	Notifier Notifier
	// AllowPrivate permits http and loopback/private targets: for tests
	// and labs only (--webhooks-allow-private).
	AllowPrivate bool
	// Timeout bounds one HTTP attempt; zero means 10 s.
	Timeout time.Duration
	// Retry is the backoff; zero fields take its defaults.
	Retry RetryPolicy
	// DisableAfterDead disables an endpoint after this many dead
	// deliveries in a row (or after failing for longer than Retry.Window);
	// zero means 5.
	DisableAfterDead int
	// Workers bounds concurrent deliveries; zero means 4.
	Workers int
	// Resolver resolves endpoint hosts at registration; nil means
	// net.DefaultResolver.
	Resolver *net.Resolver
}

// Service is the outgoing webhooks service: endpoints, the bus reader
// that writes deliveries, and the River jobs that send them. Build it with
// New, hand it to provisioning as a JobSet, call SetJobs, then Start.
type Service struct {
	o      Options
	st     *store.Store
	bus    *controlplane.Bus
	log    *slog.Logger
	now    func() time.Time
	m      *metrics
	client *http.Client
	jobs   JobInserter

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New builds the service.
func New(o Options) (*Service, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("webhooks: Options.Store is required")
	case o.Bus == nil:
		return nil, errors.New("webhooks: Options.Bus is required")
	case o.Sealer == nil:
		return nil, errors.New("webhooks: Options.Sealer is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retry.Base <= 0 {
		o.Retry.Base = 30 * time.Second
	}
	if o.Retry.Max <= 0 {
		o.Retry.Max = time.Hour
	}
	if o.Retry.Window <= 0 {
		o.Retry.Window = 24 * time.Hour
	}
	if o.DisableAfterDead <= 0 {
		o.DisableAfterDead = DefaultDisableAfterDead
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	s := &Service{o: o, st: o.Store, bus: o.Bus, log: o.Logger.With("component", "webhooks"), now: o.Now, m: m}
	s.client = newHTTPClient(o.Timeout, o.AllowPrivate)
	return s, nil
}

// newHTTPClient is the client deliveries go through: no proxy, no
// redirects, a dial-time address check unless allowPrivate.
func newHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = dialControl
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the address check
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// SetJobs hands the service what enqueues its jobs (provisioning); call
// it before Start.
func (s *Service) SetJobs(j JobInserter) { s.jobs = j }

// Start subscribes to the bus and writes deliveries for what it reads
// until Close.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	sub := s.bus.Subscribe(1024)
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		defer sub.Close()
		s.run(ctx, sub.C)
	}()
}

// Close stops the bus reader and waits for it. Deliveries already written
// are sent by River.
func (s *Service) Close() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// system is the actor of what the service does on its own.
var system = controlplane.Principal{Role: controlplane.RoleSystemAdmin, Email: "webhooks"}

// newSecret returns a fresh endpoint signing secret.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

func secretAAD(tenant int64) string { return "webhook-secret:" + strconv.FormatInt(tenant, 10) }

// backoff is the wait before attempt n+1 after n failed attempts.
func (s *Service) backoff(n int) time.Duration {
	d := s.o.Retry.Base
	for i := 1; i < n && d < s.o.Retry.Max; i++ {
		d *= 2
	}
	d = min(d, s.o.Retry.Max)
	// ±25 % jitter, so endpoints that failed together are not retried in step.
	j := time.Duration(mrand.Int64N(int64(d)/2+1)) - d/4
	return max(d+j, time.Millisecond)
}

// validTypes checks event type names against EventTypes.
func validTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, controlplane.Errorf(controlplane.EINVALID, "event_types: at least one is required")
	}
	out := []string{}
	for _, t := range types {
		if t != "*" && !slices.Contains(EventTypes(), t) {
			return nil, controlplane.Errorf(controlplane.EINVALID, "event_types: unknown event %q", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}
