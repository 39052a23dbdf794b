package billing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/mpesa"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

// env is the billing service over a real store and provisioning (not
// started: tests run the jobs by hand, in order), the real M-Pesa client
// against the Daraja simulator over TCP, and a hook server on 127.0.0.1
// that hands what the simulator POSTs to the service as the API does.
type env struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	bus    *controlplane.Bus
	clock  *testkit.Clock
	prov   *provisioning.Service
	svc    *Service
	sim    *daraja.Server
	logs   *testkit.LogBuffer
	tenant controlplane.Tenant
	admin  controlplane.Principal
	tech   controlplane.Principal
	routes []controlplane.Router

	mu      sync.Mutex
	changes []controlplane.Change
	marks   int64
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
	e := &env{t: t, ctx: ctx, bus: &controlplane.Bus{}, logs: &testkit.LogBuffer{},
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

	// Hooks first: the callback URLs need its address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hooks := &http.Server{Handler: http.HandlerFunc(e.serveHook), ReadHeaderTimeout: 5 * time.Second}
	go hooks.Serve(ln)
	t.Cleanup(func() { hooks.Close() })

	e.sim = daraja.New(daraja.Options{Now: e.clock.Now, Seed: 1, Logger: log.With("part", "daraja")})
	if err := e.sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatalf("start daraja: %v", err)
	}
	t.Cleanup(func() { e.sim.Close() })

	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := seal.NewKeyring(key)
	e.svc, err = New(Options{Store: st, Bus: e.bus, Sealer: ring, Logger: log, Now: e.clock.Now,
		Daraja:    NewDaraja(mpesa.New(mpesa.Config{BaseURL: e.sim.URL(), Logger: log, Now: e.clock.Now})),
		PublicURL: "http://" + ln.Addr().String(), CallbackKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	e.prov, err = provisioning.New(provisioning.Options{Store: st, Bus: e.bus, Logger: log, Now: e.clock.Now,
		DisablePeriodic: true, Jobs: []provisioning.JobSet{e.svc}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetProvisioning(e.prov)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.prov.Close(ctx)
	})
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
	e.tech = controlplane.Principal{UserID: 2, TenantID: e.tenant.ID, Role: controlplane.RoleTechnician, Email: "tech@kahawa.test"}
	for _, name := range []string{"site-a", "site-b"} {
		r, _, err := st.CreateRouter(ctx, e.tenant.ID, name, name)
		if err != nil {
			t.Fatal(err)
		}
		e.routes = append(e.routes, r)
	}
	if _, err := e.svc.UpdateSettings(ctx, e.admin, controlplane.BillingSettingsPatch{
		MpesaShortCode: ptr(daraja.SandboxShortCode), MpesaPasskey: ptr(daraja.SandboxPasskey),
		MpesaConsumerKey: ptr(daraja.DefaultConsumerKey), MpesaConsumerSecret: ptr(daraja.DefaultConsumerSecret),
		// The simulator calls back from 127.0.0.1.
		AllowedSources: &[]string{"127.0.0.1"}}); err != nil {
		t.Fatalf("settings: %v", err)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

// flushMark is a change only the env's recorder sees.
type flushMark struct{ n int64 }

func (flushMark) ChangeTenant() int64 { return 0 }

// flush waits until every change published before it is recorded: the
// bus hands changes to the recorder in order, on its own goroutine, so a
// mark published now arrives after them.
func (e *env) flush() {
	e.t.Helper()
	e.mu.Lock()
	e.marks++
	mark := flushMark{e.marks}
	e.mu.Unlock()
	e.bus.Publish(mark)
	testkit.Eventually(e.t, 5*time.Second, "bus changes recorded", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for i := len(e.changes) - 1; i >= 0; i-- {
			if m, ok := e.changes[i].(flushMark); ok && m == mark {
				return true
			}
		}
		return false
	})
}

// serveHook routes the public hook paths as the API does.
func (e *env) serveHook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, controlplane.MaxHookBody+1))
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/hooks/"), "/")
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	h := controlplane.ProviderHook{RemoteAddr: host, Body: body, Timestamp: r.Header.Get("X-SitePulse-Timestamp"),
		Signature: r.Header.Get("X-SitePulse-Signature")}
	var reply controlplane.HookReply
	switch {
	case len(parts) == 4 && parts[0] == "stk":
		h.TenantID, _ = strconv.ParseInt(parts[1], 10, 64)
		h.PaymentID, _ = strconv.ParseInt(parts[2], 10, 64)
		h.Token = parts[3]
		reply, err = e.svc.STKCallback(r.Context(), h)
	case len(parts) == 4 && parts[0] == "c2b":
		h.TenantID, _ = strconv.ParseInt(parts[1], 10, 64)
		h.Token = parts[2]
		if parts[3] == "validation" {
			reply, err = e.svc.C2BValidation(r.Context(), h)
		} else {
			reply, err = e.svc.C2BConfirmation(r.Context(), h)
		}
	case len(parts) == 2 && parts[0] == "payments":
		h.TenantID, _ = strconv.ParseInt(parts[1], 10, 64)
		reply, err = e.svc.PaymentWebhook(r.Context(), h)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"error":{"code":%q}}`, controlplane.ErrorCode(err)), controlplane.HTTPStatus(controlplane.ErrorCode(err)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.Status)
	w.Write(reply.Body)
}

func (e *env) plan(name string, kind controlplane.PlanKind, price int64, dur string) controlplane.Plan {
	e.t.Helper()
	p, err := e.svc.CreatePlan(e.ctx, e.admin, controlplane.PlanRequest{Name: name, Kind: kind, Price: price, Duration: dur,
		RateLimit: "2M/5M", SharedUsers: 1})
	if err != nil {
		e.t.Fatalf("create plan: %v", err)
	}
	return p
}

func (e *env) payment(id int64) store.PaymentRow {
	e.t.Helper()
	p, err := e.st.GetPaymentRow(e.ctx, id)
	if err != nil {
		e.t.Fatalf("payment %d: %v", id, err)
	}
	return p
}

func (e *env) sub(id int64) controlplane.Subscription {
	e.t.Helper()
	s, err := e.st.GetSubscription(e.ctx, 0, id)
	if err != nil {
		e.t.Fatalf("subscription %d: %v", id, err)
	}
	return s
}

// buy purchases plan for phone and sends its STK push (the job's work).
func (e *env) buy(plan controlplane.Plan, phone string) controlplane.PurchaseResult {
	e.t.Helper()
	res, err := e.svc.Purchase(e.ctx, e.tech, controlplane.PurchaseRequest{PlanID: plan.ID, Phone: phone})
	if err != nil {
		e.t.Fatalf("purchase: %v", err)
	}
	if err := e.svc.pushSTK(e.ctx, res.PaymentID, false); err != nil {
		e.t.Fatalf("stk push: %v", err)
	}
	return res
}

// waitStatus waits until payment id is in status.
func (e *env) waitStatus(id int64, want controlplane.PaymentStatus) store.PaymentRow {
	e.t.Helper()
	var p store.PaymentRow
	testkit.Eventually(e.t, 0, fmt.Sprintf("payment %d %s", id, want), func() bool {
		p = e.payment(id)
		return p.Status == want
	})
	return p
}

// jobs counts the River jobs of kind.
func (e *env) jobs(kind string) int {
	e.t.Helper()
	var n int
	if err := e.st.DB().QueryRowContext(e.ctx, `SELECT count(*) FROM river_job WHERE kind = $1`, kind).Scan(&n); err != nil {
		e.t.Fatalf("count jobs: %v", err)
	}
	return n
}

// runReconnects runs the waiting reconnection jobs as River would.
func (e *env) runReconnects() {
	e.t.Helper()
	args := "args::text"
	if e.st.Dialect() == store.DialectSQLite {
		args = "json(args)" // riversqlite keeps JSONB
	}
	rows, err := e.st.DB().QueryContext(e.ctx, `SELECT `+args+` FROM river_job WHERE kind = $1 AND state = 'available'`, KindReconnect)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var raw []byte
		var a reconnectArgs
		if err := rows.Scan(&raw); err != nil || json.Unmarshal(raw, &a) != nil {
			e.t.Fatalf("reconnect job args %q: %v", raw, err)
		}
		ids = append(ids, a.SubscriptionID)
	}
	rows.Close()
	if _, err := e.st.DB().ExecContext(e.ctx, `UPDATE river_job SET state = 'completed', finalized_at = $2 WHERE kind = $1`, KindReconnect, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	for _, id := range ids {
		if err := e.svc.reconnect(e.ctx, reconnectArgs{SubscriptionID: id}); err != nil {
			e.t.Fatalf("reconnect %d: %v", id, err)
		}
	}
}

// commands returns the commands queued for router, by kind.
func (e *env) commands(router string) map[string]int {
	e.t.Helper()
	cs, _, err := e.st.ListCommands(e.ctx, 0, controlplane.CommandFilter{RouterID: router})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range cs {
		out[string(c.Kind)]++
	}
	return out
}
