package fanout

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Raw contacts that must never appear in a broadcast frame.
var billingLeaks = []string{"712345678", "254712345678", "jane@", "tech@", "799000111"}

func noLeaks(t *testing.T, what string, raw []byte) {
	t.Helper()
	for _, leak := range billingLeaks {
		if strings.Contains(string(raw), leak) {
			t.Errorf("%s leaks %q: %s", what, leak, raw)
		}
	}
}

func testPayment(tenant, id int64, st controlplane.PaymentStatus) controlplane.Payment {
	done := fanoutEpoch.Add(time.Minute)
	code := 0
	return controlplane.Payment{
		ID: id, TenantID: tenant, CustomerID: 5, SubscriptionID: 6, PlanID: 7, Provider: controlplane.ProviderMpesaSTK,
		Amount: controlplane.KES(5000), Phone: "+254712345678", Receipt: "QKJ7ABC123", Status: st, ResultCode: &code,
		CheckoutRequestID: "ws_CO_071220261230001234", MerchantRequestID: "29115-34620561-1",
		CreatedAt: fanoutEpoch, UpdatedAt: done, CompletedAt: &done,
	}
}

func TestPaymentAndSubscriptionEventNames(t *testing.T) {
	for st, want := range map[controlplane.PaymentStatus]string{
		controlplane.PaymentCompleted: EventPaymentCompleted,
		controlplane.PaymentFailed:    EventPaymentFailed,
		controlplane.PaymentFlagged:   EventPaymentFailed,
		controlplane.PaymentPending:   EventPaymentUpdated,
		controlplane.PaymentRefunded:  EventPaymentUpdated,
	} {
		if got := PaymentEvent(st); got != want {
			t.Errorf("PaymentEvent(%s) = %s, want %s", st, got, want)
		}
	}
	for st, want := range map[controlplane.SubscriptionStatus]string{
		controlplane.SubscriptionActive:    EventSubscriptionActivated,
		controlplane.SubscriptionExpired:   EventSubscriptionExpired,
		controlplane.SubscriptionSuspended: EventSubscriptionUpdated,
		controlplane.SubscriptionCancelled: EventSubscriptionUpdated,
		controlplane.SubscriptionPending:   EventSubscriptionUpdated,
	} {
		if got := SubscriptionEvent(st); got != want {
			t.Errorf("SubscriptionEvent(%s) = %s, want %s", st, got, want)
		}
	}
}

func TestFanoutPaymentEvents(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "payments"), "")
	other := dial(t, srv)
	other.subscribeOK(TenantChannel(4, "payments"), "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})

	completed := testPayment(3, 41, controlplane.PaymentCompleted)
	flagged := testPayment(3, 42, controlplane.PaymentFlagged)
	flagged.Reason, flagged.Receipt = controlplane.FlagShort, "QKJ7ABC124"
	failed := testPayment(3, 43, controlplane.PaymentFailed)
	failed.Reason = "Request cancelled by user +254799000111"
	manual := testPayment(3, 44, controlplane.PaymentRefunded)
	manual.Provider, manual.Actor = controlplane.ProviderManual, "tech@example.com"
	pending := testPayment(3, 45, controlplane.PaymentPending)
	for _, p := range []controlplane.Payment{completed, flagged, failed, manual, pending} {
		f.Apply(controlplane.PaymentChanged{Payment: p})
	}

	want := []struct {
		event, status, reason string
	}{
		{EventPaymentCompleted, "completed", ""},
		{EventPaymentFailed, "flagged", controlplane.FlagShort},
		{EventPaymentFailed, "failed", "Request cancelled by user +2547****111"},
		{EventPaymentUpdated, "refunded", ""},
		{EventPaymentUpdated, "pending", ""},
	}
	for i, w := range want {
		fr := c.expect(w.event)
		noLeaks(t, w.event, fr.Raw)
		for _, hidden := range []string{"ws_CO_", "29115-", `"tenant_id"`} {
			if strings.Contains(string(fr.Raw), hidden) {
				t.Errorf("%s carries %q: %s", w.event, hidden, fr.Raw)
			}
		}
		var d struct {
			Seq     uint64      `json:"seq"`
			Payment paymentView `json:"payment"`
		}
		fr.decode(t, &d)
		p := d.Payment
		if d.Seq != uint64(i+1) || p.Status != controlplane.PaymentStatus(w.status) || p.Reason != w.reason ||
			p.Phone != "+2547****678" || p.Amount.Currency != "KES" || p.ID != int64(41+i) {
			t.Errorf("event %d %s = seq %d %+v", i, w.event, d.Seq, p)
		}
	}
	other.alive() // tenant 4 hears nothing of tenant 3
}

func TestFanoutPaymentAmountIsExact(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "payments"), "")
	f := New(h, Options{})
	p := testPayment(3, 1, controlplane.PaymentCompleted)
	p.Amount = controlplane.KES(9007199254740993) // 2^53 + 1: not a float64
	f.Apply(controlplane.PaymentChanged{Payment: p})
	fr := c.expect(EventPaymentCompleted)
	if !strings.Contains(string(fr.Data), `"amount":{"amount":9007199254740993,"currency":"KES"}`) {
		t.Errorf("amount not exact in %s", fr.Data)
	}
}

func TestFanoutManualPaymentMasksActor(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "payments"), "")
	f := New(h, Options{})
	p := testPayment(3, 1, controlplane.PaymentCompleted)
	p.Provider, p.Actor = controlplane.ProviderManual, "tech@example.com"
	f.Apply(controlplane.PaymentChanged{Payment: p})
	var d struct {
		Payment paymentView `json:"payment"`
	}
	fr := c.expect(EventPaymentCompleted)
	noLeaks(t, "manual payment", fr.Raw)
	fr.decode(t, &d)
	if d.Payment.Actor != "t***@example.com" || d.Payment.Provider != "manual" {
		t.Errorf("manual payment = %+v", d.Payment)
	}
}

func TestFanoutSubscriptionEvents(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "subscriptions"), "")
	f := New(h, Options{})
	start, end := fanoutEpoch, fanoutEpoch.Add(24*time.Hour)
	s := controlplane.Subscription{ID: 6, TenantID: 3, CustomerID: 5, PlanID: 7, PlanName: "Daily", Status: controlplane.SubscriptionActive,
		AccountID: 11, Username: "+254712345678", StartsAt: &start, EndsAt: &end, CreatedAt: fanoutEpoch, UpdatedAt: fanoutEpoch}
	f.Apply(controlplane.SubscriptionChanged{Subscription: s})
	f.Apply(controlplane.SubscriptionChanged{Subscription: s, Renewed: true})
	s.Status, s.Reason = controlplane.SubscriptionExpired, controlplane.ExpiredDataCap
	f.Apply(controlplane.SubscriptionChanged{Subscription: s})
	s.Status, s.Reason = controlplane.SubscriptionSuspended, ""
	f.Apply(controlplane.SubscriptionChanged{Subscription: s})

	for i, w := range []struct {
		event   string
		renewed bool
		status  controlplane.SubscriptionStatus
	}{
		{EventSubscriptionActivated, false, controlplane.SubscriptionActive},
		{EventSubscriptionActivated, true, controlplane.SubscriptionActive},
		{EventSubscriptionExpired, false, controlplane.SubscriptionExpired},
		{EventSubscriptionUpdated, false, controlplane.SubscriptionSuspended},
	} {
		fr := c.expect(w.event)
		noLeaks(t, w.event, fr.Raw)
		var d struct {
			Seq          uint64           `json:"seq"`
			Renewed      *bool            `json:"renewed"`
			Subscription subscriptionView `json:"subscription"`
		}
		fr.decode(t, &d)
		v := d.Subscription
		if d.Seq != uint64(i+1) || d.Renewed == nil || *d.Renewed != w.renewed || v.Status != w.status ||
			v.Username != "+2547****678" || v.PlanName != "Daily" || v.EndsAt == nil || !v.EndsAt.Equal(end) {
			t.Errorf("event %d %s = seq %d renewed %v %+v", i, w.event, d.Seq, d.Renewed, v)
		}
		if w.status == controlplane.SubscriptionExpired && v.Reason != controlplane.ExpiredDataCap {
			t.Errorf("expired reason %q", v.Reason)
		}
	}
}

func TestFanoutPlanEvents(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "plans"), "")
	f := New(h, Options{})
	p := controlplane.Plan{ID: 7, TenantID: 3, Name: "Daily 5M", Kind: controlplane.PlanHotspot, Price: controlplane.KES(5000),
		Duration: "24h", DurationSeconds: 86400, RateLimit: "2M/5M", SharedUsers: 1, Active: true, Profile: controlplane.PlanProfile(7),
		Routers: []controlplane.PlanRouter{{RouterID: "r1", State: controlplane.SyncFailed, Message: "failure: bad rate-limit"},
			{RouterID: "r2", State: controlplane.SyncSynced}}}
	for _, op := range []string{controlplane.AccountCreated, controlplane.AccountUpdated, controlplane.AccountDeleted, ""} {
		f.Apply(controlplane.PlanChanged{Op: op, Plan: p})
	}
	for i, event := range []string{EventPlanCreated, EventPlanUpdated, EventPlanDeleted, EventPlanUpdated} {
		var d struct {
			Seq  uint64   `json:"seq"`
			Plan planView `json:"plan"`
		}
		c.expect(event).decode(t, &d)
		v := d.Plan
		if d.Seq != uint64(i+1) || v.ID != 7 || v.Price != controlplane.KES(5000) || v.Profile != "sp-plan-7" || len(v.Routers) != 2 ||
			v.Routers[0].State != "failed" || v.Routers[0].Message != "failure: bad rate-limit" || v.Routers[1].State != "synced" || !v.Active {
			t.Errorf("%s = seq %d %+v", event, d.Seq, v)
		}
	}
}

func TestFanoutCustomerUpdated(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "customers"), "")
	f := New(h, Options{})
	cu := controlplane.Customer{ID: 5, TenantID: 3, Phone: "+254712345678", Name: "Jane Wanjiru", Email: "jane@example.com", ActiveSubscriptions: 1}
	f.Apply(controlplane.CustomerChanged{Customer: cu})
	cu.Name = "0799000111" // a name typed as a phone number
	f.Apply(controlplane.CustomerChanged{Customer: cu})
	for i, wantName := range []string{"Jane Wanjiru", "0799****111"} {
		fr := c.expect(EventCustomerUpdated)
		noLeaks(t, "CustomerUpdated", fr.Raw)
		var d struct {
			Seq      uint64       `json:"seq"`
			Customer customerView `json:"customer"`
		}
		fr.decode(t, &d)
		v := d.Customer
		if d.Seq != uint64(i+1) || v.ID != 5 || v.Phone != "+2547****678" || v.Email != "j***@example.com" || v.Name != wantName || v.ActiveSubscriptions != 1 {
			t.Errorf("CustomerUpdated %d = seq %d %+v", i, d.Seq, v)
		}
	}
}

func TestFanoutBillingStats(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "dashboard-stats"), "")
	admin := dial(t, srv)
	admin.subscribeOK(SystemAdminChannel, "")
	other := dial(t, srv)
	other.subscribeOK(TenantChannel(4, "dashboard-stats"), "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})

	tenant := controlplane.BillingStats{TenantID: 3, Currency: "KES", RevenueToday: 15000, Revenue7d: 70000, Revenue30d: 300000,
		PaymentsToday: 3, ActiveSubscriptions: 12, ARPU: 25000, At: fanoutEpoch}
	f.Apply(controlplane.BillingStatsChanged{Stats: tenant})
	// The session stats on the same channel continue its seq.
	f.Apply(controlplane.SessionStarted{Session: hotspotSession(3, "guest", "AA:BB:CC:00:00:01", 1)})
	f.Flush()
	system := controlplane.BillingStats{Revenue30d: 900000, ByCurrency: map[string]int64{"KES": 800000, "UGX": 100000}, At: fanoutEpoch}
	f.Apply(controlplane.BillingStatsChanged{Stats: system})

	var d struct {
		Seq   uint64           `json:"seq"`
		Stats billingStatsView `json:"stats"`
	}
	c.expect(EventBillingStatsUpdated).decode(t, &d)
	if d.Seq != 1 || d.Stats.TenantID != 3 || d.Stats.RevenueToday != 15000 || d.Stats.Revenue7d != 70000 || d.Stats.Revenue30d != 300000 ||
		d.Stats.PaymentsToday != 3 || d.Stats.ActiveSubscriptions != 12 || d.Stats.ARPU != 25000 || d.Stats.Currency != "KES" {
		t.Errorf("tenant BillingStatsUpdated = %+v", d)
	}
	if got := seqOf(t, c.expect(EventDashboardStatsUpdated)); got != 2 {
		t.Errorf("DashboardStatsUpdated seq %d, want 2 (after BillingStatsUpdated's 1)", got)
	}
	admin.expect(EventSystemStatsUpdated)
	var sys struct {
		Seq   uint64           `json:"seq"`
		Stats billingStatsView `json:"stats"`
	}
	admin.expect(EventBillingStatsUpdated).decode(t, &sys)
	if sys.Seq != 2 || sys.Stats.TenantID != 0 || sys.Stats.Revenue30d != 900000 || sys.Stats.ByCurrency["UGX"] != 100000 {
		t.Errorf("system BillingStatsUpdated = %+v", sys)
	}
	c.alive()
	other.alive()
}

// --- over the real hub ------------------------------------------------------

// wsSubscriber is a Pusher client over a real WebSocket that authorizes
// private channels at the hub's auth endpoint with a bearer token.
type wsSubscriber struct {
	t        *testing.T
	srv      *httptest.Server
	ws       *websocket.Conn
	socketID string
	token    string
}

func dialWS(t *testing.T, srv *httptest.Server, token string) *wsSubscriber {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/app/" + testKey + "?protocol=7&client=go-test&version=8.4.0"
	ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	s := &wsSubscriber{t: t, srv: srv, ws: ws, token: token}
	event, _, data := s.next()
	if event != "pusher:connection_established" {
		t.Fatalf("first frame %s", event)
	}
	var d struct {
		SocketID string `json:"socket_id"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	s.socketID = d.SocketID
	return s
}

// next reads one frame: its event, the raw frame and its data (the inner
// JSON of a string data member).
func (s *wsSubscriber) next() (event string, raw, data []byte) {
	s.t.Helper()
	_ = s.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := s.ws.ReadMessage()
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	var f struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		s.t.Fatalf("frame %s: %v", b, err)
	}
	var inner string
	if json.Unmarshal(f.Data, &inner) == nil {
		return f.Event, b, []byte(inner)
	}
	return f.Event, b, f.Data
}

// authorize asks the auth endpoint for channel and returns its status and
// the auth signature.
func (s *wsSubscriber) authorize(channel string) (int, string) {
	s.t.Helper()
	form := url.Values{"socket_id": {s.socketID}, "channel_name": {channel}}
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+"/api/broadcasting/auth", strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var d struct {
		Auth string `json:"auth"`
	}
	_ = json.Unmarshal(b, &d)
	return resp.StatusCode, d.Auth
}

func (s *wsSubscriber) subscribe(channel string) {
	s.t.Helper()
	status, auth := s.authorize(channel)
	if status != http.StatusOK {
		s.t.Fatalf("authorize %s: HTTP %d", channel, status)
	}
	if err := s.ws.WriteJSON(map[string]any{"event": "pusher:subscribe", "data": map[string]string{"channel": channel, "auth": auth}}); err != nil {
		s.t.Fatal(err)
	}
	if event, raw, _ := s.next(); event != "pusher_internal:subscription_succeeded" {
		s.t.Fatalf("subscribe %s: %s", channel, raw)
	}
}

// TestFanoutBillingOverRealHub sends billing changes through the real
// Pusher server to a WebSocket subscriber of tenant 1 and checks every
// frame's bytes: the customer's phone and email never travel, masked
// forms do; tenant 2's admin is refused tenant 1's billing channels.
func TestFanoutBillingOverRealHub(t *testing.T) {
	h, srv := newRealHub(t)
	viewer := dialWS(t, srv, "t1-viewer")
	channels := []string{"payments", "subscriptions", "plans", "customers", "dashboard-stats"}
	for _, topic := range channels {
		viewer.subscribe(TenantChannel(1, topic))
	}
	intruder := dialWS(t, srv, "t2-admin")
	for _, topic := range channels {
		if status, _ := intruder.authorize(TenantChannel(1, topic)); status != http.StatusForbidden {
			t.Errorf("tenant 2's admin authorizing %s: HTTP %d, want 403", TenantChannel(1, topic), status)
		}
	}

	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})
	start := fanoutEpoch
	f.Apply(controlplane.CustomerChanged{Customer: controlplane.Customer{ID: 5, TenantID: 1, Phone: "+254712345678", Name: "Jane", Email: "jane@example.com"}})
	f.Apply(controlplane.PaymentChanged{Payment: testPayment(1, 41, controlplane.PaymentCompleted)})
	f.Apply(controlplane.SubscriptionChanged{Subscription: controlplane.Subscription{ID: 6, TenantID: 1, CustomerID: 5, PlanID: 7,
		Status: controlplane.SubscriptionActive, Username: "+254712345678", StartsAt: &start, EndsAt: &start}})
	f.Apply(controlplane.PlanChanged{Op: controlplane.AccountCreated, Plan: controlplane.Plan{ID: 7, TenantID: 1, Name: "Daily", Price: controlplane.KES(5000)}})
	f.Apply(controlplane.BillingStatsChanged{Stats: controlplane.BillingStats{TenantID: 1, Currency: "KES", RevenueToday: 5000, PaymentsToday: 1}})

	wants := []struct{ event, masked string }{
		{EventCustomerUpdated, `"phone":"+2547****678"`},
		{EventPaymentCompleted, `"phone":"+2547****678"`},
		{EventSubscriptionActivated, `"username":"+2547****678"`},
		{EventPlanCreated, `"price":{"amount":5000,"currency":"KES"}`},
		{EventBillingStatsUpdated, `"revenue_today":5000`},
	}
	// Order is kept per channel, not across channels (each channel's
	// shard delivers on its own): match the frames by event.
	got := map[string][]byte{}
	for range wants {
		event, raw, data := viewer.next()
		noLeaks(t, event, raw)
		got[event] = data
	}
	for _, want := range wants {
		data, ok := got[want.event]
		if !ok {
			t.Errorf("no %s among %d frames", want.event, len(got))
			continue
		}
		if !strings.Contains(string(data), want.masked) || !strings.Contains(string(data), `"seq":1`) {
			t.Errorf("%s data %s: want %s and seq 1", want.event, data, want.masked)
		}
	}
}
