package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/controlplane/sms"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/controlplane/telegram"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim/smsgw"
)

// env is the notification service over a real store and provisioning's
// River client (not started: tests run the send jobs by hand, so a retry
// is an explicit second call), the real SMS and Telegram clients against
// the gateway simulator over TCP, and a hook server on 127.0.0.1 that
// hands delivery reports to the service as the API does.
type env struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	clock  *testkit.Clock
	svc    *Service
	gw     *smsgw.Server
	logs   *testkit.LogBuffer
	tenant controlplane.Tenant
	admin  controlplane.Principal
}

const (
	testBot  = "123456:AAbbCCddEEffGGhhIIjjKKllMMnn"
	testChat = "4242"
)

func eachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	testkit.EachDialect(t, func(t *testing.T, db testkit.Database) {
		fn(t, newEnv(t, store.Options{DataDir: db.Dir, DatabaseURL: db.URL}))
	})
}

func newEnv(t *testing.T, so store.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, logs: &testkit.LogBuffer{}, clock: testkit.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))}
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

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hooks := &http.Server{Handler: http.HandlerFunc(e.serveHook), ReadHeaderTimeout: 5 * time.Second}
	go hooks.Serve(ln)
	t.Cleanup(func() { hooks.Close() })

	e.gw = smsgw.New(smsgw.Options{AnyAccount: true, AnyBot: true, DeliveryReportDelay: time.Millisecond,
		ReportBackoff: 10 * time.Millisecond, Logger: log.With("part", "smsgw")})
	if err := e.gw.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.gw.Close() })

	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := seal.NewKeyring(key)
	e.svc, err = New(Options{Store: st, Bus: &controlplane.Bus{}, Sealer: ring, Logger: log, Now: e.clock.Now,
		SMS:       SMSGateway{Client: sms.New(sms.Config{BaseURL: e.gw.URL(), Timeout: 2 * time.Second})},
		Telegram:  TelegramBot{Client: telegram.New(telegram.Config{BaseURL: e.gw.URL(), Timeout: 2 * time.Second})},
		PublicURL: "http://" + ln.Addr().String(), ReportKey: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := provisioning.New(provisioning.Options{Store: st, Bus: &controlplane.Bus{}, Logger: log, Now: e.clock.Now,
		DisablePeriodic: true, Jobs: []provisioning.JobSet{e.svc}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetJobs(prov)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		prov.Close(ctx)
	})
	if e.tenant, err = st.CreateTenant(ctx, "Kahawa WiFi"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, controlplane.User{TenantID: e.tenant.ID, Email: "boss@kahawa.test", Name: "Boss",
		Role: controlplane.RoleTenantAdmin}, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	e.admin = controlplane.Principal{UserID: 1, TenantID: e.tenant.ID, Role: controlplane.RoleTenantAdmin, Email: "boss@kahawa.test"}
	set, err := e.svc.UpdateSettings(ctx, e.admin, controlplane.NotificationSettingsPatch{
		SMSUsername: ptr("kahawa"), SMSAPIKey: ptr("at-secret-key-1"), TelegramToken: ptr(testBot),
		TelegramChats: &[]string{testChat}})
	if err != nil {
		t.Fatal(err)
	}
	// The gateway posts this account's delivery reports where the
	// settings say.
	e.gw.AddAccount(smsgw.Account{Username: "kahawa", APIKey: "at-secret-key-1", DeliveryReportURL: set.SMSReportURL})
	return e
}

// serveHook is the API's SMS report route.
func (e *env) serveHook(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/hooks/sms/"), "/")
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	tenant, _ := strconv.ParseInt(parts[0], 10, 64)
	body, _ := io.ReadAll(io.LimitReader(r.Body, controlplane.MaxHookBody))
	reply, err := e.svc.SMSReport(r.Context(), controlplane.ProviderHook{TenantID: tenant, Token: parts[1], Body: body})
	if err != nil {
		http.Error(w, err.Error(), controlplane.HTTPStatus(controlplane.ErrorCode(err)))
		return
	}
	w.WriteHeader(reply.Status)
}

func ptr[T any](v T) *T { return &v }

// notify queues events in a transaction of their own.
func (e *env) notify(events ...controlplane.NotificationEvent) int {
	e.t.Helper()
	n := 0
	err := e.st.Write(e.ctx, func(tx *store.Tx) (err error) {
		n, err = e.svc.NotifyTx(e.ctx, tx, events...)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// rows lists the tenant's notifications, oldest first.
func (e *env) rows() []controlplane.Notification {
	e.t.Helper()
	list, _, err := e.st.ListNotifications(e.ctx, e.tenant.ID, controlplane.NotificationFilter{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func (e *env) row(id int64) controlplane.Notification {
	e.t.Helper()
	for _, n := range e.rows() {
		if n.ID == id {
			return n
		}
	}
	e.t.Fatalf("no notification %d", id)
	return controlplane.Notification{}
}

// sent counts the messages the gateway accepted for a number.
func (e *env) sent(to string) int {
	n := 0
	for _, m := range e.gw.Messages(to) {
		if m.StatusCode == 101 {
			n++
		}
	}
	return n
}

// setRouter reports router id's agent as online or offline at the
// clock's time.
func (e *env) setRouter(id string, online bool) {
	e.t.Helper()
	st := &protocol.Status{V: protocol.Version, Router: id, State: protocol.StateOffline, TS: e.clock.Now()}
	if online {
		st.State, st.RouterConnected = protocol.StateOnline, true
	}
	if _, _, err := e.st.SetRouterStatus(e.ctx, st); err != nil {
		e.t.Fatal(err)
	}
}

func receipt(payment int) controlplane.NotificationEvent {
	return controlplane.NotificationEvent{Kind: controlplane.NotifyPaymentReceipt,
		Event: "payment:" + strconv.Itoa(payment) + ":receipt", To: controlplane.Audience{Phone: "+254712000001"},
		Data: map[string]string{"name": "Wanjiru", "amount": "KES 50.00", "receipt": "QKT1A2B3C4", "plan": "1 hour", "ends_at": "later"}}
}
