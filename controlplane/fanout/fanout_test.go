package fanout

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

var fanoutEpoch = time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)

func hotspotSession(tenant int64, user, mac string, bytesIn uint64) controlplane.Session {
	return controlplane.Session{
		TenantID: tenant, RouterID: "r-1", Kind: protocol.KindHotspot,
		Key:  "hotspot|" + user + "|" + mac + "|2025-05-01T10:00:00Z",
		User: user, Address: "10.5.50.2", MAC: mac,
		StartedAt: fanoutEpoch, UpdatedAt: fanoutEpoch.Add(time.Duration(bytesIn) * time.Millisecond),
		BytesIn: bytesIn, BytesOut: bytesIn / 2,
	}
}

// seqOf decodes a fan-out payload's seq.
func seqOf(t *testing.T, f wsFrame) uint64 {
	t.Helper()
	var d struct {
		Seq uint64 `json:"seq"`
	}
	f.decode(t, &d)
	return d.Seq
}

func TestFanoutSessionsBatchingAndSeq(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(1, "sessions"), "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})

	a := hotspotSession(1, "+254712345678", "AA:BB:CC:00:00:01", 100)
	b := hotspotSession(1, "guest42", "AA:BB:CC:00:00:02", 5)
	f.Apply(controlplane.SessionStarted{Session: a})
	started := c.expect(EventSessionStarted)
	var sv struct {
		Seq     uint64      `json:"seq"`
		Session sessionView `json:"session"`
	}
	started.decode(t, &sv)
	if sv.Seq != 1 || sv.Session.User != "+2547****678" || sv.Session.BytesIn != 100 {
		t.Errorf("SessionStarted = %+v, want seq 1, masked user, 100 bytes", sv)
	}
	if strings.Contains(string(started.Raw), "712345678") {
		t.Errorf("phone number leaked: %s", started.Raw)
	}

	// Three updates of a and one of b become one SessionUpdated with the
	// latest counters.
	for _, n := range []uint64{200, 300, 400} {
		a.BytesIn = n
		f.Apply(controlplane.SessionUpdated{Session: a})
	}
	f.Apply(controlplane.SessionUpdated{Session: b})
	c.alive() // nothing before Flush
	f.Flush()
	upd := c.expect(EventSessionUpdated)
	var uv struct {
		Seq      uint64        `json:"seq"`
		Sessions []sessionView `json:"sessions"`
	}
	upd.decode(t, &uv)
	if uv.Seq != 2 || len(uv.Sessions) != 2 {
		t.Fatalf("SessionUpdated seq %d with %d sessions, want seq 2 with 2", uv.Seq, len(uv.Sessions))
	}
	for _, s := range uv.Sessions {
		if s.User == "+2547****678" && s.BytesIn != 400 {
			t.Errorf("a's bytes_in = %d, want the latest 400", s.BytesIn)
		}
	}
	f.Flush()
	c.alive() // nothing pending: no event

	// An update overtaken by the end is dropped; the end carries its reason.
	a.BytesIn = 500
	f.Apply(controlplane.SessionUpdated{Session: a})
	f.Apply(controlplane.SessionEnded{Record: controlplane.SessionRecord{Session: a, EndedAt: fanoutEpoch.Add(time.Hour), EndReason: "logout"}})
	f.Flush()
	ended := c.expect(EventSessionEnded)
	var ev struct {
		Seq     uint64      `json:"seq"`
		Session sessionView `json:"session"`
	}
	ended.decode(t, &ev)
	if ev.Seq != 3 || ev.Session.EndReason != "logout" || ev.Session.EndedAt == nil || ev.Session.Key != sv.Session.Key {
		t.Errorf("SessionEnded = %+v, want seq 3, logout, same masked key as started", ev)
	}
	c.alive()

	t.Run("split into bounded events", func(t *testing.T) {
		c.t = t
		f2 := New(h, Options{MaxSessionsPerEvent: 2})
		for i := 0; i < 5; i++ {
			f2.Apply(controlplane.SessionUpdated{Session: hotspotSession(1, "u", "AA:BB:CC:00:00:0"+string(rune('0'+i)), 1)})
		}
		f2.Flush()
		sizes := []int{}
		for i := 0; i < 3; i++ {
			var d struct {
				Sessions []sessionView `json:"sessions"`
			}
			c.expect(EventSessionUpdated).decode(t, &d)
			sizes = append(sizes, len(d.Sessions))
		}
		if got := sizes; got[0] != 2 || got[1] != 2 || got[2] != 1 {
			t.Errorf("batch sizes = %v, want [2 2 1]", got)
		}
	})
}

func TestFanoutRoutersAndDashboardStats(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(1, "routers"), "")
	c.subscribeOK(TenantChannel(1, "dashboard-stats"), "")
	admin := dial(t, srv)
	admin.subscribeOK(SystemAdminChannel, "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})

	pppoe := hotspotSession(1, "pppuser", "AA:BB:CC:00:00:09", 1)
	pppoe.Kind, pppoe.Key = protocol.KindPPPoE, "pppoe|pppuser|81"
	f.Seed([]controlplane.Session{hotspotSession(1, "a", "AA:BB:CC:00:00:01", 1)}, []controlplane.Router{{ID: "r-2", TenantID: 1, Status: controlplane.RouterOffline}})
	f.Apply(controlplane.SessionStarted{Session: pppoe})
	f.Apply(controlplane.RouterStatusChanged{Router: controlplane.Router{ID: "r-1", TenantID: 1, Name: "core", Status: controlplane.RouterPending}})
	f.Apply(controlplane.RouterStatusChanged{Router: controlplane.Router{ID: "r-1", TenantID: 1, Name: "core", Status: controlplane.RouterOnline}})
	f.Apply(controlplane.RouterResourcesUpdated{TenantID: 1, RouterID: "r-1", At: fanoutEpoch,
		Resources: protocol.Resources{CPULoad: 7, RxBps: 1000, TxBps: 250}})
	f.Apply(controlplane.TenantCreated{Tenant: controlplane.Tenant{ID: 9, Name: "NewISP", Status: controlplane.TenantActive}})

	var rs struct {
		Seq    uint64     `json:"seq"`
		Router routerView `json:"router"`
	}
	c.expect(EventRouterStatusUpdated).decode(t, &rs)
	if rs.Seq != 1 || rs.Router.Status != controlplane.RouterPending {
		t.Errorf("first RouterStatusUpdated = %+v", rs)
	}
	c.expect(EventRouterStatusUpdated).decode(t, &rs)
	if rs.Seq != 2 || rs.Router.Status != controlplane.RouterOnline || rs.Router.Name != "core" {
		t.Errorf("second RouterStatusUpdated = %+v", rs)
	}
	var live struct {
		Seq       uint64             `json:"seq"`
		RouterID  string             `json:"router_id"`
		Resources protocol.Resources `json:"resources"`
	}
	c.expect(EventRouterLiveDataUpdated).decode(t, &live)
	if live.Seq != 3 || live.RouterID != "r-1" || live.Resources.CPULoad != 7 {
		t.Errorf("RouterLiveDataUpdated = %+v", live)
	}

	enrolled := admin.expect(EventRouterEnrolled)
	if seqOf(t, enrolled) != 1 {
		t.Errorf("RouterEnrolled seq = %d, want 1", seqOf(t, enrolled))
	}
	var tc struct {
		Seq    uint64 `json:"seq"`
		Tenant struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"tenant"`
	}
	admin.expect(EventTenantCreated).decode(t, &tc)
	if tc.Seq != 2 || tc.Tenant.ID != 9 || tc.Tenant.Name != "NewISP" {
		t.Errorf("TenantCreated = %+v", tc)
	}

	f.Flush()
	var st struct {
		Seq uint64 `json:"seq"`
		dashboardStats
	}
	c.expect(EventDashboardStatsUpdated).decode(t, &st)
	want := dashboardStats{OnlineHotspot: 1, OnlinePPPoE: 1, RoutersOnline: 1, RoutersOffline: 1, RxBps: 1000, TxBps: 250, At: fanoutEpoch}
	if st.Seq != 1 || st.dashboardStats != want {
		t.Errorf("DashboardStatsUpdated = %+v, want seq 1 %+v", st, want)
	}
	var sys struct {
		Stats       dashboardStats `json:"stats"`
		Connections int            `json:"connections"`
	}
	admin.expect(EventSystemStatsUpdated).decode(t, &sys)
	if sys.Stats.OnlineHotspot != 1 || sys.Stats.RoutersOnline != 1 || sys.Connections != 2 {
		t.Errorf("SystemStatsUpdated = %+v", sys)
	}

	// The router going offline drops its throughput; unchanged stats are
	// not republished.
	f.Flush()
	c.alive()
	f.Apply(controlplane.RouterStatusChanged{Router: controlplane.Router{ID: "r-1", TenantID: 1, Status: controlplane.RouterOffline}})
	c.expect(EventRouterStatusUpdated)
	f.Flush()
	c.expect(EventDashboardStatsUpdated).decode(t, &st)
	if st.RoutersOnline != 0 || st.RoutersOffline != 2 || st.RxBps != 0 || st.Seq != 2 {
		t.Errorf("stats after offline = %+v", st)
	}
}

func TestFanoutTenantIsolation(t *testing.T) {
	h, srv := newTestHub(t, nil)
	t1, t2 := dial(t, srv), dial(t, srv)
	t1.subscribeOK(TenantChannel(1, "sessions"), "")
	t2.subscribeOK(TenantChannel(2, "sessions"), "")
	f := New(h, Options{})
	f.Apply(controlplane.SessionStarted{Session: hotspotSession(2, "t2user", "AA:BB:CC:00:00:01", 1)})
	f.Apply(controlplane.SessionStarted{Session: hotspotSession(1, "t1user", "AA:BB:CC:00:00:01", 1)})
	if f := t1.expect(EventSessionStarted); !strings.Contains(string(f.Data), "t1user") {
		t.Errorf("tenant 1 got %s", f.Data)
	}
	if f := t2.expect(EventSessionStarted); !strings.Contains(string(f.Data), "t2user") || seqOf(t, f) != 1 {
		t.Errorf("tenant 2 got %s", f.Data)
	}
	t1.alive()
}

func TestFanoutNeverBroadcastsSecrets(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(1, "sessions"), "")
	f := New(h, Options{})

	// A payload someone assembled carelessly: every secret-looking key
	// must be dropped, contacts masked, the rest kept.
	f.publish(TenantChannel(1, "sessions"), "Careless", map[string]any{
		"user":          "alice",
		"password":      "hunter2-pw",
		"router_secret": "s3cr3t-value",
		"api_token":     "tok-123456",
		"nested":        map[string]any{"PrivateKey": "-----BEGIN", "owner_email": "john@example.com", "phone": "+254712345678"},
	})
	frame := c.expect("Careless")
	for _, leak := range []string{"hunter2-pw", "s3cr3t-value", "tok-123456", "BEGIN", "john@", "712345678"} {
		if strings.Contains(string(frame.Raw), leak) {
			t.Errorf("frame %s contains %q", frame.Raw, leak)
		}
	}
	var d map[string]any
	frame.decode(t, &d)
	if d["user"] != "alice" || d["seq"] != float64(1) {
		t.Errorf("payload lost its plain fields: %v", d)
	}

	// The typed path masks contacts inside usernames and session keys.
	s := hotspotSession(1, "john@example.com", "AA:BB:CC:00:00:01", 1)
	f.Apply(controlplane.SessionStarted{Session: s})
	started := c.expect(EventSessionStarted)
	if strings.Contains(string(started.Raw), "john@") || !strings.Contains(string(started.Raw), "j***@example.com") {
		t.Errorf("email not masked in %s", started.Raw)
	}
}

func TestMaskIdentity(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+254712345678", "+2547****678"},
		{"0712 345 678", "0712****678"},
		{"guest42", "guest42"},
		{"12345", "12345"},
		{"hotspot|0712345678|AA:BB:CC:00:00:01|2025-05-01T10:00:00Z", "hotspot|0712****678|AA:BB:CC:00:00:01|2025-05-01T10:00:00Z"},
		{"pppoe|john@example.com|81", "pppoe|j***@example.com|81"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := maskIdentity(tt.in); got != tt.want {
			t.Errorf("maskIdentity(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Run applies what the bus delivers at once and flushes on its ticker: in
// a synctest bubble the ticker fires when every goroutine waits.
func TestFanoutRunOverBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, srv := newTestHub(t, nil)
		c := dial(t, srv)
		c.subscribeOK(TenantChannel(3, "sessions"), "")
		var bus controlplane.Bus
		f := New(h, Options{Interval: 20 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		sub := bus.Subscribe(16)
		defer sub.Close()
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, sub.C) }()
		s := hotspotSession(3, "bususer", "AA:BB:CC:00:00:01", 1)
		bus.Publish(controlplane.SessionStarted{Session: s})
		synctest.Wait()
		c.expect(EventSessionStarted)
		s.BytesIn = 42
		bus.Publish(controlplane.SessionUpdated{Session: s})
		synctest.Wait()
		c.alive() // batched until the tick
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		var d struct {
			Sessions []sessionView `json:"sessions"`
		}
		c.expect(EventSessionUpdated).decode(t, &d)
		if len(d.Sessions) != 1 || d.Sessions[0].BytesIn != 42 {
			t.Errorf("SessionUpdated = %+v", d)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}
