package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// invalidations records RouterInvalidator calls.
type invalidations struct {
	mu  sync.Mutex
	ids []string
}

func (v *invalidations) Invalidate(id string) {
	v.mu.Lock()
	v.ids = append(v.ids, id)
	v.mu.Unlock()
}

func (v *invalidations) list() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.ids...)
}

// env is one API server over one real store.
type env struct {
	t       *testing.T
	store   *store.Store
	server  *api.Server
	http    *httptest.Server
	bus     *controlplane.Bus
	clock   *testkit.Clock
	inval   *invalidations
	reg     *prometheus.Registry
	logs    *testkit.LogBuffer
	tenants *provisioning.Service // creates and activates tenants
	seq     map[string]uint64     // next event seq per router
}

// runJobs starts the provisioning service's River workers, with a
// publisher that never reaches an agent: API tests deliver no commands.
func (e *env) runJobs() {
	e.t.Helper()
	if err := e.tenants.Start(context.Background(), offlineAgents{}); err != nil {
		e.t.Fatalf("provisioning start: %v", err)
	}
}

// offlineAgents is a provisioning publisher whose agents are never
// connected, so nothing is ever published.
type offlineAgents struct{}

func (offlineAgents) PublishCommand(context.Context, *protocol.Command) error {
	return controlplane.Errorf(controlplane.EUNAVAILABLE, "no agent in API tests")
}

func (offlineAgents) Connected(string) bool { return false }

const publicMQTT = "tcp://mqtt.example.test:1883"

// t0 is where every test's clock starts.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// eachStore runs fn against a fresh SQLite store and a fresh PostgreSQL
// database, in parallel.
func eachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	testkit.EachDialectParallel(t, func(t *testing.T, db testkit.Database) {
		fn(t, newEnv(t, store.Options{DataDir: db.Dir, DatabaseURL: db.URL}))
	})
}

func newEnv(t *testing.T, o store.Options) *env {
	t.Helper()
	o.PasswordIterations = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, o)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, store: st, bus: &controlplane.Bus{}, clock: testkit.NewClock(t0), inval: &invalidations{}, reg: prometheus.NewRegistry(), logs: &testkit.LogBuffer{}, seq: map[string]uint64{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Tenants are created by the real provisioning service (tenant and
	// activation job in one transaction). Its River workers start only in
	// the tests that watch the activation (runJobs): starting River in
	// every case would cost more than the API calls under test.
	e.tenants, err = provisioning.New(provisioning.Options{Store: st, Bus: e.bus, Logger: logger, DisablePeriodic: true, JobPollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("provisioning.New: %v", err)
	}
	t.Cleanup(func() { e.tenants.Close(context.Background()) })
	e.server, err = api.New(api.Options{
		Store:         st,
		Bus:           e.bus,
		Tenants:       e.tenants,
		Invalidator:   e.inval,
		PublicMQTTURL: publicMQTT,
		Logger:        logger,
		Registerer:    e.reg,
		Now:           e.clock.Now,
	})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	e.http = httptest.NewServer(e.server)
	t.Cleanup(e.http.Close)
	return e
}

func (e *env) ctx() context.Context { return context.Background() }

// tenant creates an active tenant directly in the store.
func (e *env) tenant(name string) controlplane.Tenant {
	e.t.Helper()
	t, err := e.store.CreateTenant(e.ctx(), name)
	if err != nil {
		e.t.Fatalf("create tenant %s: %v", name, err)
	}
	if t, err = e.store.ActivateTenant(e.ctx(), t.ID); err != nil {
		e.t.Fatalf("activate tenant %s: %v", name, err)
	}
	return t
}

// user creates a user directly in the store and returns it with a bearer
// token.
func (e *env) user(tenantID int64, role controlplane.Role, email string) (controlplane.User, string) {
	e.t.Helper()
	u, err := e.store.CreateUser(e.ctx(), controlplane.User{TenantID: tenantID, Email: email, Name: "User " + email, Role: role}, "correct horse battery")
	if err != nil {
		e.t.Fatalf("create user %s: %v", email, err)
	}
	tok, _, err := e.store.CreateToken(e.ctx(), u.ID, "test", time.Hour)
	if err != nil {
		e.t.Fatalf("create token %s: %v", email, err)
	}
	return u, tok
}

// router enrolls a router directly in the store.
func (e *env) router(tenantID int64, name string) (controlplane.Router, string) {
	e.t.Helper()
	r, secret, err := e.store.CreateRouter(e.ctx(), tenantID, name, "site "+name)
	if err != nil {
		e.t.Fatalf("create router %s: %v", name, err)
	}
	return r, secret
}

// apply sends events for router through the store's ingest path.
func (e *env) apply(router string, events ...protocol.Event) controlplane.Applied {
	e.t.Helper()
	for i := range events {
		e.seq[router]++
		events[i].Seq = e.seq[router]
		if events[i].TS.IsZero() {
			events[i].TS = time.Now().UTC()
		}
	}
	b := &protocol.EventBatch{V: protocol.Version, Router: router, Events: events}
	if err := b.Validate(); err != nil {
		e.t.Fatalf("test batch invalid: %v", err)
	}
	a, err := e.store.ApplyBatch(e.ctx(), b)
	if err != nil {
		e.t.Fatalf("apply batch %s: %v", router, err)
	}
	return a
}

func hotspot(user string, started time.Time) *protocol.Session {
	mac := "AA:BB:CC:00:00:" + strconv.Itoa(10+len(user)%80)
	return &protocol.Session{Kind: protocol.KindHotspot, Key: protocol.HotspotKey(user, mac, started, ""), User: user, MAC: mac, Address: "10.5.50.2", StartedAt: started, BytesIn: 100, BytesOut: 200}
}

func pppoe(user, id string, started time.Time) *protocol.Session {
	return &protocol.Session{Kind: protocol.KindPPPoE, Key: protocol.PPPKey(user, id), User: user, SessionID: id, Service: "pppoe-in", Address: "10.0.0.9", StartedAt: started}
}

func started(s *protocol.Session) protocol.Event {
	return protocol.Event{Type: protocol.EventSessionStarted, Session: s}
}

func ended(s *protocol.Session, at time.Time) protocol.Event {
	return protocol.Event{Type: protocol.EventSessionEnded, Session: s, Reason: protocol.EndLogout, TS: at}
}

// response is one API answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; body may be nil, a string (sent raw) or a value
// encoded as JSON.
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// want asserts the status and decodes the body into v (if not nil).
func (r response) want(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// wantError asserts an error answer with status and code whose message
// contains substr.
func (r response) wantError(t *testing.T, status int, code, substr string) {
	t.Helper()
	var b controlplane.ErrorBody
	r.want(t, status, &b)
	if b.Error.Code != code {
		t.Fatalf("code %q, want %q; body %s", b.Error.Code, code, r.body)
	}
	if !strings.Contains(b.Error.Message, substr) {
		t.Fatalf("message %q does not contain %q", b.Error.Message, substr)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
}

func slogJSON(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// requestCount reads sitepulse_http_requests_total for route and code,
// summed over methods.
func requestCount(t *testing.T, reg *prometheus.Registry, route, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "sitepulse_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}
