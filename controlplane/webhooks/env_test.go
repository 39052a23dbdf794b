package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// env is the webhooks service over a real store, run by provisioning's
// real River client (started, polling every 10 ms), reading a real bus.
type env struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	bus    *controlplane.Bus
	svc    *Service
	logs   *testkit.LogBuffer
	tenant controlplane.Tenant
	admin  controlplane.Principal
	notes  *notes

	mu      sync.Mutex
	changes []controlplane.Change
}

// notes records EndpointDisabled calls (a hand-written Notifier: the
// email side is not this package's).
type notes struct {
	mu  sync.Mutex
	got []controlplane.WebhookEndpoint
}

func (n *notes) EndpointDisabled(_ context.Context, _ int64, ep controlplane.WebhookEndpoint) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, ep)
	return nil
}

func (n *notes) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.got)
}

// nopPublisher stands in for the MQTT broker, which these tests never
// need (no router commands are sent).
type nopPublisher struct{}

func (nopPublisher) PublishCommand(context.Context, *protocol.Command) error { return nil }
func (nopPublisher) Connected(string) bool                                   { return false }

func eachStore(t *testing.T, opts Options, fn func(t *testing.T, e *env)) {
	testkit.EachDialect(t, func(t *testing.T, db testkit.Database) {
		fn(t, newEnv(t, store.Options{DataDir: db.Dir, DatabaseURL: db.URL}, opts))
	})
}

// fastRetry retries within milliseconds so tests do not wait minutes.
var fastRetry = RetryPolicy{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond, Window: time.Minute}

func newEnv(t *testing.T, so store.Options, o Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, bus: &controlplane.Bus{}, logs: &testkit.LogBuffer{}, notes: &notes{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", e.logs.String())
		}
	})
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	so.PasswordIterations = 1000
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
	o.Store, o.Bus, o.Sealer, o.Logger, o.Notifier = st, e.bus, ring, log, e.notes
	if o.Retry == (RetryPolicy{}) {
		o.Retry = fastRetry
	}
	if e.svc, err = New(o); err != nil {
		t.Fatal(err)
	}
	prov, err := provisioning.New(provisioning.Options{Store: st, Bus: e.bus, Logger: log, DisablePeriodic: true,
		JobPollInterval: 10 * time.Millisecond, Jobs: []provisioning.JobSet{e.svc}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetJobs(prov)
	if err := prov.Start(ctx, nopPublisher{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		prov.Close(ctx)
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
	e.svc.Start(ctx)
	t.Cleanup(e.svc.Close)
	if e.tenant, err = st.CreateTenant(ctx, "Hooks WiFi"); err != nil {
		t.Fatal(err)
	}
	e.admin = controlplane.Principal{UserID: 1, TenantID: e.tenant.ID, Role: controlplane.RoleTenantAdmin, Email: "admin@hooks.test"}
	return e
}

// routerChange is a change the fan-out broadcasts as RouterStatusUpdated.
func (e *env) routerChange(id, status string) controlplane.Change {
	return controlplane.RouterStatusChanged{Router: controlplane.Router{TenantID: e.tenant.ID, ID: id, Name: id, Status: status}}
}

// received is one request a receiver got.
type received struct {
	event, delivery, signature string
	body                       []byte
}

// receiver is a real HTTP server on 127.0.0.1 answering with status(n)
// for its n-th request (from 1).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status func(n int) int
	delay  func(n int) time.Duration
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Get(HeaderEvent), req.Header.Get(HeaderDelivery), req.Header.Get(HeaderSignature), body})
		n := len(r.got)
		r.mu.Unlock()
		if r.delay != nil {
			select {
			case <-time.After(r.delay(n)):
			case <-req.Context().Done():
				return
			}
		}
		w.WriteHeader(r.status(n))
		io.WriteString(w, strings.Repeat("x", 3000)) // more than the attempt log keeps
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// checkSignature verifies a Stripe-style header independently of the
// package's Sign/Verify.
func checkSignature(t *testing.T, secret, header string, body []byte) {
	t.Helper()
	parts := strings.Split(header, ",")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "t=") || !strings.HasPrefix(parts[1], "v1=") {
		t.Fatalf("signature header %q", header)
	}
	ts := strings.TrimPrefix(parts[0], "t=")
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		t.Fatalf("timestamp %q", ts)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	if want := hex.EncodeToString(m.Sum(nil)); parts[1] != "v1="+want {
		t.Fatalf("signature %q, want v1=%s", parts[1], want)
	}
}

func (e *env) deliveries(ep int64) []controlplane.WebhookDelivery {
	e.t.Helper()
	list, _, err := e.svc.Deliveries(e.ctx, e.admin, ep, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}
