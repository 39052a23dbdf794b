package radiussync

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/billing"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// fakePub records the pages published, by router. Ready at its zero value.
type fakePub struct {
	mu    sync.Mutex
	pages []protocol.RadiusSync
}

func (p *fakePub) PublishRadius(_ context.Context, s *protocol.RadiusSync) error {
	if err := s.Validate(); err != nil {
		return controlplane.Errorf(controlplane.EINVALID, "invalid page: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages = append(p.pages, *s)
	return nil
}

// to returns the pages published to router.
func (p *fakePub) to(router string) []protocol.RadiusSync {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []protocol.RadiusSync
	for _, s := range p.pages {
		if s.Router == router {
			out = append(out, s)
		}
	}
	return out
}

// env is the sync over a real store, provisioning (not started) and
// billing, publishing to a fakePub (or, for the broker test, whatever
// start is given).
type env struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	bus   *controlplane.Bus
	clock *testkit.Clock
	prov  *provisioning.Service
	bill  *billing.Service
	svc   *Service
	pub   *fakePub
	reg   *prometheus.Registry
	logs  *testkit.LogBuffer

	tenant controlplane.Tenant
	admin  controlplane.Principal
	plan   controlplane.Plan

	mu      sync.Mutex
	changes []controlplane.Change
}

func eachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	testkit.EachDialect(t, func(t *testing.T, db testkit.Database) {
		fn(t, newEnv(t, store.Options{DataDir: db.Dir, DatabaseURL: db.URL}))
	})
}

func newEnv(t *testing.T, so store.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, bus: &controlplane.Bus{}, pub: &fakePub{}, reg: prometheus.NewRegistry(), logs: &testkit.LogBuffer{},
		clock: testkit.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", e.logs.String())
		}
	})
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	so.Now, so.PasswordIterations = e.clock.Now, 1000
	st, err := store.Open(ctx, so)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := seal.NewKeyring(key)
	if e.bill, err = billing.New(billing.Options{Store: st, Bus: e.bus, Sealer: ring, Logger: log, Now: e.clock.Now,
		CallbackKey: bytes.Repeat([]byte{7}, 32)}); err != nil {
		t.Fatal(err)
	}
	if e.prov, err = provisioning.New(provisioning.Options{Store: st, Bus: e.bus, Logger: log, Now: e.clock.Now,
		DisablePeriodic: true, Jobs: []provisioning.JobSet{e.bill}}); err != nil {
		t.Fatal(err)
	}
	e.bill.SetProvisioning(e.prov)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.prov.Close(ctx)
	})
	if e.svc, err = New(Options{Store: st, Bus: e.bus, Redeemer: e.bill, Logger: log, Registerer: e.reg, InterimSeconds: 300}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.svc.Close() })
	sub := e.bus.Subscribe(4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range sub.C {
			e.mu.Lock()
			e.changes = append(e.changes, c)
			e.mu.Unlock()
		}
	}()
	t.Cleanup(func() { sub.Close(); <-done })

	if e.tenant, err = st.CreateTenant(ctx, "Kahawa WiFi"); err != nil {
		t.Fatal(err)
	}
	e.admin = controlplane.Principal{UserID: 1, TenantID: e.tenant.ID, Role: controlplane.RoleTenantAdmin, Email: "admin@kahawa.test"}
	if e.plan, err = e.bill.CreatePlan(ctx, e.admin, controlplane.PlanRequest{Name: "1 hour", Kind: controlplane.PlanHotspot,
		Price: 5000, Duration: "1h", RateLimit: "2M/5M", SharedUsers: 1}); err != nil {
		t.Fatalf("plan: %v", err)
	}
	return e
}

// start publishes to pub (the env's fakePub when nil).
func (e *env) start(pub Publisher) {
	e.t.Helper()
	if pub == nil {
		pub = e.pub
	}
	if err := e.svc.Start(e.ctx, pub); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) radiusRouter(name string) controlplane.Router {
	e.t.Helper()
	r, _, err := e.st.CreateRouterMode(e.ctx, e.tenant.ID, name, "", protocol.AuthRadius)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func changesOf[T controlplane.Change](e *env) []T {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []T
	for _, c := range e.changes {
		if x, ok := c.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	testkit.Eventually(e.t, 0, what, cond)
}

func (e *env) router(id string) controlplane.Router {
	e.t.Helper()
	r, err := e.st.GetRouter(e.ctx, 0, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}
