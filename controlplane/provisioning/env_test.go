package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// fakeBroker records published commands; routers are disconnected until
// connect. Ready at its zero value.
type fakeBroker struct {
	mu        sync.Mutex
	connected map[string]bool
	published []protocol.Command
	fail      error
}

func (b *fakeBroker) PublishCommand(_ context.Context, c *protocol.Command) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := c.Validate(); err != nil {
		return fmt.Errorf("invalid command published: %w", err)
	}
	if b.fail != nil {
		return b.fail
	}
	b.published = append(b.published, *c)
	return nil
}

func (b *fakeBroker) Connected(router string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connected[router]
}

func (b *fakeBroker) connect(router string, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.connected == nil {
		b.connected = map[string]bool{}
	}
	b.connected[router] = on
}

func (b *fakeBroker) setFail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = err
}

func (b *fakeBroker) all() []protocol.Command {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]protocol.Command(nil), b.published...)
}

// to returns the ids published to router, in order.
func (b *fakeBroker) to(router string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []string
	for _, c := range b.published {
		if c.Router == router {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// env is a service over a real store, with a recording bus subscriber.
type env struct {
	t     *testing.T
	st    *store.Store
	bus   *controlplane.Bus
	clock *testkit.Clock
	br    *fakeBroker
	svc   *Service
	reg   *prometheus.Registry
	logs  *testkit.LogBuffer
	sub   *controlplane.BusSubscription

	mu      sync.Mutex
	changes []controlplane.Change
}

// eachStore runs fn on SQLite and on PostgreSQL, in parallel.
func eachStore(t *testing.T, fn func(t *testing.T, o store.Options)) {
	testkit.EachDialectParallel(t, func(t *testing.T, db testkit.Database) {
		fn(t, store.Options{DataDir: db.Dir, DatabaseURL: db.URL})
	})
}

// newClock is the clock shared by a test's store and service: it starts at
// a fixed instant and every reading moves it on by a microsecond (what the
// store keeps), so that events read in order get distinct, ordered times.
func newClock() *testkit.Clock {
	c := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c.SetStep(time.Microsecond)
	return c
}

// newEnv opens a store and a service; start runs it (River included) on
// the fake broker.
func newEnv(t *testing.T, so store.Options, o Options, start bool) *env {
	t.Helper()
	e := &env{t: t, bus: &controlplane.Bus{}, clock: newClock(), br: &fakeBroker{}, reg: prometheus.NewRegistry(), logs: &testkit.LogBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", e.logs.String())
		}
	})
	so.Now, so.PasswordIterations = e.clock.Now, 1000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, so)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	o.Store, o.Bus, o.Now, o.Registerer = st, e.bus, e.clock.Now, e.reg
	o.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.JobPollInterval == 0 {
		o.JobPollInterval = 50 * time.Millisecond
	}
	e.svc, err = New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.svc.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	e.sub = e.bus.Subscribe(4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range e.sub.C {
			e.mu.Lock()
			e.changes = append(e.changes, c)
			e.mu.Unlock()
		}
	}()
	t.Cleanup(func() { e.sub.Close(); <-done })
	if start {
		e.start()
	}
	return e
}

func (e *env) start() {
	e.t.Helper()
	if err := e.svc.Start(context.Background(), e.br); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
}

// waitFor waits until cond holds (testkit.Eventually); a failed test
// prints the service's logs (newEnv).
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	testkit.Eventually(e.t, 0, what, cond)
}

// commandEvents returns the statuses announced for command id, in order.
func (e *env) commandEvents(id string) []controlplane.CommandStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []controlplane.CommandStatus
	for _, c := range e.changes {
		if cc, ok := c.(controlplane.CommandChanged); ok && cc.Command.ID == id {
			out = append(out, cc.Command.Status)
		}
	}
	return out
}

// accountEvents returns the account changes announced, as "op:state,…".
func (e *env) accountEvents(id int64) []controlplane.AccountChanged {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []controlplane.AccountChanged
	for _, c := range e.changes {
		if ac, ok := c.(controlplane.AccountChanged); ok && ac.Account.ID == id {
			out = append(out, ac)
		}
	}
	return out
}

func (e *env) tenant(name string) controlplane.Tenant {
	e.t.Helper()
	t, err := e.st.CreateTenant(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

func (e *env) router(tenant int64, name string) controlplane.Router {
	e.t.Helper()
	r, _, err := e.st.CreateRouter(context.Background(), tenant, name, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// online records the router online in the store (as ingest would) and
// announces it, and connects it on the fake broker.
func (e *env) online(r controlplane.Router) {
	e.t.Helper()
	e.br.connect(r.ID, true)
	got, _, err := e.st.SetRouterStatus(context.Background(), &protocol.Status{V: 1, Router: r.ID, State: protocol.StateOnline, TS: time.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	e.bus.Publish(controlplane.RouterStatusChanged{Router: got})
}

func (e *env) command(id string) controlplane.Command {
	e.t.Helper()
	c, err := e.st.GetCommand(context.Background(), 0, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// report applies an agent report for c.
func (e *env) report(c controlplane.Command, st protocol.ResultStatus, code, msg string) {
	e.t.Helper()
	err := e.svc.ApplyCommandResult(context.Background(), &protocol.CommandResult{V: 1, ID: c.ID, Router: c.RouterID,
		Status: st, TS: time.Now(), Code: code, Message: msg})
	if err != nil {
		e.t.Fatalf("ApplyCommandResult: %v", err)
	}
}

func principal(role controlplane.Role, tenant int64) controlplane.Principal {
	if role == controlplane.RoleSystemAdmin {
		tenant = 0
	}
	return controlplane.Principal{UserID: 42, TenantID: tenant, Role: role, Email: string(role) + "@example.com"}
}

func addUser(name, password string) controlplane.CommandRequest {
	return controlplane.CommandRequest{Kind: protocol.CmdHotspotUserAdd,
		CommandParams: controlplane.CommandParams{HotspotUser: &protocol.HotspotUser{Name: name, Password: password}}}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := controlplane.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

func statuses(ss ...controlplane.CommandStatus) []controlplane.CommandStatus { return ss }

func equal[T comparable](a, b []T) bool { return slices.Equal(a, b) }

// activationJobs counts the tenant_activate jobs River holds for tenant,
// in any state.
func (e *env) activationJobs(tenant int64) int {
	e.t.Helper()
	// River keeps args as JSONB on SQLite too; json() turns it into text.
	args := "json(args)"
	if e.st.Dialect() == store.DialectPostgres {
		args = "args::text"
	}
	rows, err := e.st.DB().QueryContext(context.Background(), `SELECT `+args+` FROM river_job WHERE kind = '`+KindTenantActivate+`'`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			e.t.Fatal(err)
		}
		var a tenantActivateArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			e.t.Fatalf("activation job args %q: %v", raw, err)
		}
		if a.TenantID == tenant {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// idle waits until the dispatcher has no delivery scheduled or running.
func (e *env) idle() {
	e.t.Helper()
	e.waitFor("the dispatcher idle", func() bool {
		e.svc.disp.mu.Lock()
		defer e.svc.disp.mu.Unlock()
		return len(e.svc.disp.pending) == 0
	})
}
