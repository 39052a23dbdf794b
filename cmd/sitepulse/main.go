package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // tenants' revenue days in their zone, also in a scratch image

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/authtrack"
	"github.com/sitepulse/sitepulse/controlplane/billing"
	"github.com/sitepulse/sitepulse/controlplane/broker"
	"github.com/sitepulse/sitepulse/controlplane/cluster"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/controlplane/ingest"
	"github.com/sitepulse/sitepulse/controlplane/notify"
	"github.com/sitepulse/sitepulse/controlplane/portal"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/controlplane/web"
	"github.com/sitepulse/sitepulse/controlplane/webhooks"
)

// Version is the build's version, set with -ldflags "-X main.Version=…".
var Version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newCLI(os.Stdout, os.Stderr).Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "sitepulse:", err)
		os.Exit(1)
	}
}

// Config is everything serve needs. The CLI fills it from flags and
// SITEPULSE_* variables; tests fill it directly.
type Config struct {
	// HTTPAddr serves the API, the realtime hub, /healthz, /readyz and
	// /metrics, e.g. "127.0.0.1:8080" or "127.0.0.1:0".
	HTTPAddr string
	// MQTTAddr is the broker's plain TCP listener; "" means none.
	MQTTAddr string
	// MQTTTLSAddr, MQTTTLSCert and MQTTTLSKey configure the broker's TLS
	// listener; an empty address means none.
	MQTTTLSAddr, MQTTTLSCert, MQTTTLSKey string
	// External, when its URL is set, replaces the embedded broker with an
	// external one shared by several replicas.
	External ExternalMQTT
	// PublicMQTTURL is the broker URL agents dial, shown in the agent
	// command when a router is enrolled. "" means tcp://HOST:1883.
	PublicMQTTURL string
	// DataDir holds the SQLite database when DatabaseURL is empty.
	DataDir string
	// DatabaseURL selects PostgreSQL.
	DatabaseURL string
	// PusherAppID, PusherKey and PusherSecret identify the Pusher app the
	// realtime hub serves. An empty secret means a random one per process
	// (dashboards work; other backends cannot publish).
	PusherAppID, PusherKey, PusherSecret string
	// MQTTMaxClients bounds the embedded broker's connected clients; 0
	// means no limit.
	MQTTMaxClients int
	// ClientEvents allows Pusher client-* events on private and presence
	// channels.
	ClientEvents bool
	// NoSubscriptionCount turns off pusher_internal:subscription_count
	// events (on by default; an app setting on Pusher).
	NoSubscriptionCount bool
	// PusherWebhooks configure Pusher webhooks from the realtime hub; no
	// URL means none.
	PusherWebhooks pusher.WebhookOptions
	// Roles are the parts this process runs (see roles.go); nil means all.
	// Without RoleJobs the process inserts River jobs but runs none.
	Roles Roles
	// QueueWorkers overrides the worker count of single River queues.
	QueueWorkers map[string]int
	// AdminEmail and AdminPassword create the first system admin when the
	// store has no user. An empty password means a generated one, printed
	// once to Stdout.
	AdminEmail, AdminPassword string
	// ShutdownTimeout bounds Close. 0 means 15 seconds.
	ShutdownTimeout time.Duration
	// PasswordIterations is the store's PBKDF2 work factor; 0 means the
	// store's default. Tests lower it.
	PasswordIterations int
	// Provisioning tunes command delivery, expiry and the background jobs
	// (zero fields mean provisioning's defaults); Main fills in the store,
	// bus, logger and registry.
	Provisioning provisioning.Options
	// Billing configures plans, subscriptions and payments.
	Billing BillingConfig
	// Notify configures notification channels.
	Notify NotifyConfig
	// Webhooks configures outgoing webhooks.
	Webhooks WebhooksConfig
	// Now is the clock of the store, provisioning and billing; nil means
	// time.Now. End-to-end tests move it forward to reach expiries.
	Now func() time.Time
	// Logger receives every component's logs. nil discards them.
	Logger *slog.Logger
	// Stdout receives the one-time generated admin password (never the
	// log). nil means os.Stdout.
	Stdout io.Writer
}

// Main is the running control plane. Run starts it and returns once every
// listener is bound; Close stops it.
type Main struct {
	Config Config

	log       *slog.Logger
	registry  *prometheus.Registry
	bus       *controlplane.Bus
	store     *store.Store
	ingest    *ingest.Ingest
	broker    *broker.Broker
	cluster   *cluster.Client
	hub       *pusher.Hub
	fanSub    *controlplane.BusSubscription
	fanStop   context.CancelFunc
	fanDone   chan struct{}
	prov      *provisioning.Service
	billing   *billing.Service
	notify    *notify.Service
	auth      *authtrack.Tracker
	webhooks  *webhooks.Service
	ring      *seal.Keyring // seals third-party credentials
	secretKey *seal.Key     // derives the HMAC keys of callback URLs
	portal    *portal.Portal
	portKey   []byte // signs the portal's purchase tokens
	api       *api.Server
	httpLn    net.Listener
	httpSrv   *http.Server
	httpDone  chan error

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main for c.
func NewMain(c Config) *Main {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	return &Main{Config: c, log: c.Logger}
}

// Registry is the one Prometheus registry every component registers on,
// served at /metrics.
func (m *Main) Registry() *prometheus.Registry { return m.registry }

// Store is the open store (for tests).
func (m *Main) Store() *store.Store { return m.store }

// HTTPAddr is the bound HTTP address, valid after Run returned nil.
func (m *Main) HTTPAddr() string {
	if m.httpLn == nil {
		return ""
	}
	return m.httpLn.Addr().String()
}

// MQTTAddr is the bound plain MQTT address ("" without that listener),
// valid after Run returned nil.
func (m *Main) MQTTAddr() string {
	if m.broker == nil || m.broker.Addr() == nil {
		return ""
	}
	return m.broker.Addr().String()
}

// MQTTTLSAddr is the bound MQTT TLS address ("" without that listener).
func (m *Main) MQTTTLSAddr() string {
	if m.broker == nil || m.broker.TLSAddr() == nil {
		return ""
	}
	return m.broker.TLSAddr().String()
}

// Bus is the in-process change bus (for tests).
func (m *Main) Bus() *controlplane.Bus { return m.bus }

// Run opens the store, creates the first admin if needed, starts every
// component and returns once they serve. On error everything already
// started is stopped again.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	c := m.Config
	if err := checkRoles(c.Roles, c.External.URL); err != nil {
		return err
	}
	m.registry = prometheus.NewRegistry()
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.bus = &controlplane.Bus{}

	m.store, err = store.Open(ctx, store.Options{
		DataDir:            c.DataDir,
		DatabaseURL:        c.DatabaseURL,
		Logger:             m.log.With("component", "store"),
		PasswordIterations: c.PasswordIterations,
		Now:                c.Now,
	})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	if !c.Roles.jobsOnly() { // the API nodes create the first admin
		if err := m.bootstrapAdmin(ctx); err != nil {
			return err
		}
	}

	if err := m.loadSecretKey(); err != nil {
		return err
	}
	if err := m.newNotify(); err != nil {
		return err
	}
	if err := m.newBilling(); err != nil {
		return err
	}
	if m.auth, err = authtrack.New(authtrack.Options{Store: m.store, Notifier: m.notify,
		Logger: m.log.With("component", "authtrack"), Registerer: m.registry}); err != nil {
		return fmt.Errorf("auth tracking: %w", err)
	}
	if err := m.newWebhooks(); err != nil {
		return err
	}
	if err := m.newProvisioning(); err != nil {
		return err
	}
	m.startWebhooks(ctx)
	if c.Roles.jobsOnly() {
		return m.runJobsOnly(ctx)
	}
	ingestOpts := ingest.Options{Store: m.store, Bus: m.bus, CommandResults: m.prov, Logger: m.log, Registerer: m.registry}
	if c.External.URL != "" {
		// A shared subscription spreads a router's batches over replicas.
		ingestOpts.PredecessorWait = predecessorWait
	}
	m.ingest, err = ingest.New(ingestOpts)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if c.External.URL != "" {
		err = m.startCluster(ctx)
	} else {
		err = m.startBroker(ctx)
	}
	if err != nil {
		return err
	}

	if err := m.startRealtime(ctx); err != nil {
		return err
	}
	// After the fan-out subscribed, so that no CommandUpdated is missed.
	if err := m.startProvisioning(ctx); err != nil {
		return err
	}

	if err := m.newPortal(); err != nil {
		return err
	}
	m.api, err = api.New(api.Options{
		Store:         m.store,
		Bus:           m.bus,
		Tenants:       m.prov,
		Notifications: m.notify,
		Logins:        m.auth,
		Provisioning:  m.prov,
		Billing:       m.billing,
		Webhooks:      m.webhooks,
		Portal:        m.portal,
		Invalidator:   m.invalidator(),
		PublicMQTTURL: c.PublicMQTTURL,
		Pusher:        controlplane.PusherConfig{Key: m.hub.Key(), AppID: m.hub.AppID()},
		Logger:        m.log.With("component", "api"),
		Registerer:    m.registry,
	})
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	dashboard, err := web.NewEmbedded()
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}

	// More specific patterns win: /api/broadcasting/auth (hub) over /api/
	// (REST), and everything unmatched is the dashboard's client routing.
	mux := http.NewServeMux()
	mux.Handle("/api/", m.api)
	if m.cluster != nil {
		m.hub.ForwardAPIEvents(m.cluster.RelayAPIEvent) // sockets on other replicas get them too
		m.cluster.ShareHub(m.hub)                       // channel queries and terminate_connections cluster-wide
	}
	m.hub.Mount(mux, fanout.ChannelAuth(m.store))
	m.mountPortal(mux)
	m.mountProbes(mux)
	mux.Handle("/", dashboard)

	if err := m.serveHTTP(mux); err != nil {
		return err
	}
	if c.Billing.PublicURL == "" {
		// Providers on this machine (the Daraja simulator) reach us here.
		m.billing.SetPublicURL("http://" + m.HTTPAddr())
		m.notify.SetPublicURL("http://" + m.HTTPAddr())
	}
	m.log.Info("serving", slog.String("http", m.HTTPAddr()), slog.String("mqtt", m.MQTTAddr()),
		slog.String("mqtt_tls", m.MQTTTLSAddr()), slog.String("store", m.store.Dialect()))
	return nil
}

// serveHTTP listens on Config.HTTPAddr and serves mux.
func (m *Main) serveHTTP(mux *http.ServeMux) error {
	var err error
	m.httpLn, err = net.Listen("tcp", m.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", m.Config.HTTPAddr, err)
	}
	m.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.httpDone = make(chan error, 1)
	go func() { m.httpDone <- m.httpSrv.Serve(m.httpLn) }()
	return nil
}

// mountProbes adds /healthz, /readyz and /metrics to mux.
func (m *Main) mountProbes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", m.handleHealthz)
	mux.HandleFunc("GET /readyz", m.handleReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry}))
}

// startBroker starts the embedded broker with ingest as its handler.
func (m *Main) startBroker(ctx context.Context) (err error) {
	c := m.Config
	if c.MQTTAddr == "" && c.MQTTTLSAddr == "" {
		return errors.New("no MQTT listener: set --mqtt-addr or --mqtt-tls-addr")
	}
	var tlsConf *tls.Config
	if c.MQTTTLSAddr != "" {
		if c.MQTTTLSCert == "" || c.MQTTTLSKey == "" {
			return errors.New("--mqtt-tls-addr needs --mqtt-tls-cert and --mqtt-tls-key")
		}
		cert, err := tls.LoadX509KeyPair(c.MQTTTLSCert, c.MQTTTLSKey)
		if err != nil {
			return fmt.Errorf("mqtt tls: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	m.broker, err = broker.New(broker.Options{
		MaxClients: c.MQTTMaxClients,
		Addr:       c.MQTTAddr,
		TLSAddr:    c.MQTTTLSAddr,
		TLSConfig:  tlsConf,
		Verifier:   m.store,
		Handler:    m.ingest,
		Logger:     m.log, // the broker names itself in its log lines
		Registerer: m.registry,
	})
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return m.broker.Start(ctx)
}

// startRealtime starts the Pusher hub and the fan-out from the bus to its
// channels, seeded with the live state so dashboard figures are right
// before the first change.
func (m *Main) startRealtime(ctx context.Context) error {
	c := m.Config
	secret := c.PusherSecret
	if secret == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("pusher secret: %w", err)
		}
		secret = base64.RawURLEncoding.EncodeToString(b[:])
		m.log.Warn("no Pusher secret configured: using a random one, so other backends cannot use the Pusher HTTP API; set SITEPULSE_PUSHER_SECRET")
	}
	appID, key := c.PusherAppID, c.PusherKey
	if appID == "" {
		appID = "sitepulse"
	}
	if key == "" {
		key = "sitepulse"
	}
	var err error
	m.hub, err = pusher.New(pusher.Options{AppID: appID, Key: key, Secret: secret, ClientEvents: m.Config.ClientEvents, SubscriptionCount: !m.Config.NoSubscriptionCount, Webhooks: m.Config.PusherWebhooks, Logger: m.log.With("component", "realtime"), Registerer: m.registry})
	if err != nil {
		return fmt.Errorf("realtime: %w", err)
	}
	// Subscribe before reading the seed so no change falls in between;
	// applying one twice is harmless (the fan-out keys sessions by key).
	m.fanSub = m.bus.Subscribe(1024)
	sessions, _, err := m.store.ListSessions(ctx, 0, controlplane.SessionFilter{})
	if err != nil {
		return fmt.Errorf("seed realtime: %w", err)
	}
	routers, err := m.store.ListRouters(ctx, 0)
	if err != nil {
		return fmt.Errorf("seed realtime: %w", err)
	}
	fan := fanout.New(m.hub, fanout.Options{Logger: m.log.With("component", "fanout")})
	fan.Seed(sessions, routers)
	tenants, err := m.store.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("seed realtime: %w", err)
	}
	fan.SeedTenants(len(tenants))
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.fanStop = cancel
	m.fanDone = make(chan struct{})
	go func() {
		defer close(m.fanDone)
		_ = fan.Run(fctx, m.fanInput(fctx, routers))
	}()
	return nil
}

// bootstrapAdmin creates the first system admin of an empty store.
func (m *Main) bootstrapAdmin(ctx context.Context) error {
	n, err := m.store.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	email, password := m.Config.AdminEmail, m.Config.AdminPassword
	if email == "" {
		email = "admin@localhost"
	}
	generated := password == ""
	if generated {
		var b [18]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("generate admin password: %w", err)
		}
		password = base64.RawURLEncoding.EncodeToString(b[:])
	}
	u, err := m.store.CreateUser(ctx, controlplane.User{Email: email, Name: "Administrator", Role: controlplane.RoleSystemAdmin}, password)
	if err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	if err := m.store.Audit(ctx, controlplane.AuditEntry{Actor: "system", Action: "user.create", Target: fmt.Sprintf("user:%d", u.ID), Result: "ok", Detail: "first system admin " + email}); err != nil {
		m.log.Error("audit first admin", slog.Any("err", err))
	}
	m.log.Info("created the first system admin", slog.String("email", email), slog.Bool("generated_password", generated))
	if generated {
		// Stdout, not the log: logs are shipped and kept, this is shown once.
		fmt.Fprintf(m.Config.Stdout, "\nFirst start: created system admin %s with password\n\n    %s\n\nLog in and change it; it is not shown again.\n\n", email, password)
	}
	return nil
}

func (m *Main) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// handleReadyz reports whether this replica should get traffic: the store
// answers and the broker runs.
func (m *Main) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	if err := m.store.Ping(ctx); err != nil {
		checks["store"] = "unavailable"
		ready = false
		m.log.Warn("readyz: store ping", slog.Any("err", err))
	} else {
		checks["store"] = "ok"
	}
	if m.closing.Load() || !m.mqttReady() {
		checks["broker"] = "not running"
		ready = false
	} else {
		checks["broker"] = "ok"
	}
	checks["jobs"] = m.jobsCheck()
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ready, "checks": checks})
}

// Close stops accepting HTTP requests and drains them, stops the broker
// (agents see a disconnect; their wills mark the routers offline), which
// waits for ingest to finish the messages in flight, publishes what the
// fan-out still holds, closes dashboard WebSockets and finally the store,
// all within ShutdownTimeout. It is safe to call more than once and after
// a failed Run.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		m.closing.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		var errs []error
		if m.httpSrv != nil {
			// Shutdown does not wait for hijacked connections: the hub's
			// WebSockets are closed below, after their last events.
			if err := m.httpSrv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
				_ = m.httpSrv.Close()
			}
			if err := <-m.httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, fmt.Errorf("http serve: %w", err))
			}
		} else if m.httpLn != nil {
			_ = m.httpLn.Close()
		}
		if m.webhooks != nil {
			// Before provisioning: the bus reader writes jobs River runs.
			m.webhooks.Close()
		}
		if m.prov != nil {
			// Before the broker: running jobs may still deliver commands.
			if err := m.prov.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if m.broker != nil {
			if err := m.broker.Close(); err != nil {
				errs = append(errs, fmt.Errorf("broker: %w", err))
			}
		}
		if m.cluster != nil {
			_ = m.cluster.Close()
		}
		if m.fanStop != nil {
			m.fanStop()
			select {
			case <-m.fanDone:
			case <-ctx.Done():
				errs = append(errs, errors.New("realtime fan-out did not stop in time"))
			}
		}
		if m.fanSub != nil {
			// After the fan-out stopped: an unread subscription would block
			// every publisher.
			m.fanSub.Close()
		}
		if m.hub != nil {
			if err := m.hub.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("realtime: %w", err))
			}
		}
		if m.store != nil {
			if err := m.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close store: %w", err))
			}
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}
