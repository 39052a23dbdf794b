package fanout

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
	"github.com/sitepulse/sitepulse/protocol"
)

// Events the fan-out publishes (Pusher event names; Echo listens with a
// leading dot, e.g. .listen('.SessionStarted')).
const (
	EventSessionStarted        = "SessionStarted"
	EventSessionUpdated        = "SessionUpdated"
	EventSessionEnded          = "SessionEnded"
	EventRouterStatusUpdated   = "RouterStatusUpdated"
	EventRouterLiveDataUpdated = "RouterLiveDataUpdated"
	EventDashboardStatsUpdated = "DashboardStatsUpdated"
	EventTenantCreated         = "TenantCreated"
	EventRouterEnrolled        = "RouterEnrolled"
	EventSystemStatsUpdated    = "SystemStatsUpdated"
)

// TenantChannel returns the private channel of a tenant's topic, e.g.
// TenantChannel(7, "sessions") = "private-tenant.7.sessions".
func TenantChannel(tenant int64, topic string) string {
	return "private-tenant." + strconv.FormatInt(tenant, 10) + "." + topic
}

// RelayedAPIEvent is an event another replica's Pusher HTTP API published
// (pusher.Hub.ForwardAPIEvents), as it arrives with the changes that
// replica relayed (controlplane/cluster): the fan-out publishes it on its
// hub as that replica's API handler did on its own.
type RelayedAPIEvent struct{ pusher.APIEvent }

// ChangeTenant implements controlplane.Change.
func (RelayedAPIEvent) ChangeTenant() int64 { return 0 }

// Hub is where a Fanout publishes: a *pusher.Hub.
type Hub interface {
	// Publish encodes data as JSON and sends it to channel's subscribers.
	Publish(channel, event string, data any, exceptSocketID string) error
	// PublishRaw sends data, already a string, to channel's subscribers.
	PublishRaw(channel, event, data, exceptSocketID string) error
	// ConnectionCount is the number of open connections.
	ConnectionCount() int
}

// Options configure a Fanout. Zero values select the defaults.
type Options struct {
	// Interval bounds how often SessionUpdated batches, dashboard stats
	// and system stats are published (per tenant). Zero means 1 s.
	Interval time.Duration
	// MaxInterval is how far the flush tick backs off while nothing
	// changes (it doubles from Interval after each flush that published
	// nothing). A change arriving then re-arms it, so it is still
	// published within Interval of the last flush. Zero means 10 ×
	// Interval.
	MaxInterval time.Duration
	// Epoch names this process's seq space in every event's data ("epoch"
	// beside "seq"). Empty means a random one; tests fix it.
	Epoch string
	// MaxSessionsPerEvent bounds the list in one SessionUpdated event;
	// more pending sessions are split over several events. Zero means 100.
	MaxSessionsPerEvent int
	// Logger receives diagnostics. Nil discards.
	Logger *slog.Logger
	// Now stamps stats. Nil means time.Now.
	Now func() time.Time
}

// Fanout turns control-plane changes into channel broadcasts:
//
//	private-tenant.{t}.sessions         SessionStarted, SessionUpdated (batched list), SessionEnded
//	private-tenant.{t}.routers          RouterStatusUpdated, RouterLiveDataUpdated
//	private-tenant.{t}.dashboard-stats  DashboardStatsUpdated (maintained from the events)
//	private-tenant.{t}.commands         CommandUpdated (every command transition)
//	private-tenant.{t}.users            UserCreated, UserUpdated, UserDeleted (managed accounts)
//	private-tenant.{t}.payments         PaymentCompleted, PaymentFailed (failed or flagged), PaymentUpdated
//	private-tenant.{t}.subscriptions    SubscriptionActivated, SubscriptionExpired, SubscriptionUpdated
//	private-tenant.{t}.plans            PlanCreated, PlanUpdated, PlanDeleted
//	private-tenant.{t}.customers        CustomerUpdated
//	private-tenant.{t}.dashboard-stats  BillingStatsUpdated (as billing announces them)
//	private-tenant.{t}.vouchers         VoucherBatchCreated (no codes), VoucherUpdated (code and MAC masked)
//	private-tenant.{t}.portal           PortalPurchase (phone and MAC masked)
//	private-purchase.{payment}          PaymentCompleted, PaymentFailed (the portal's purchase; no seq)
//	private-system-admin                TenantCreated, RouterEnrolled, SystemStatsUpdated
//	                                    (stats, connections, tenants, routers_total, revenue),
//	                                    BillingStatsUpdated (across tenants)
//
// Every event's data carries a per-channel "seq" (1, 2, …) so a dashboard
// can detect a gap and refetch. Payloads are built field by field from the
// domain types (phone numbers and emails masked) and then scrubbed of any
// secret-looking key, so credentials never leave.
//
// A Fanout's state is owned by one goroutine: call Seed before Run, and
// Apply/Flush only when Run is not running.
type Fanout struct {
	hub   Hub
	opts  Options
	log   *slog.Logger
	epoch string

	seq     map[string]uint64
	tenants map[int64]*tenantState
	// systemDirty marks system stats as changed since the last flush.
	systemDirty bool
	// tenantCount is the number of tenants (SeedTenants, then one per
	// TenantCreated); revenue the latest system-wide billing figures, nil
	// until billing announces them.
	tenantCount int
	revenue     *billingStatsView
}

type tenantState struct {
	sessions map[string]protocol.SessionKind // live session key → kind
	routers  map[string]*routerState
	pending  map[string]sessionView // SessionUpdated not yet published
	// sent is each live session as last broadcast (SessionStarted or
	// SessionUpdated): SessionUpdated carries only what differs from it.
	sent       map[string]sessionView
	statsDirty bool
}

type routerState struct {
	status string
	rx, tx float64
}

// New returns a fan-out publishing on hub.
func New(hub Hub, opts Options) *Fanout {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.MaxInterval < opts.Interval {
		opts.MaxInterval = 10 * opts.Interval
	}
	if opts.MaxSessionsPerEvent <= 0 {
		opts.MaxSessionsPerEvent = 100
	}
	if opts.Epoch == "" {
		opts.Epoch = newEpoch()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Fanout{
		hub:     hub,
		opts:    opts,
		log:     opts.Logger,
		epoch:   opts.Epoch,
		seq:     make(map[string]uint64),
		tenants: make(map[int64]*tenantState),
	}
}

func (f *Fanout) tenant(id int64) *tenantState {
	t := f.tenants[id]
	if t == nil {
		t = &tenantState{
			sessions: make(map[string]protocol.SessionKind),
			routers:  make(map[string]*routerState),
			pending:  make(map[string]sessionView),
			sent:     make(map[string]sessionView),
		}
		f.tenants[id] = t
	}
	return t
}

// Seed loads the live state the stats start from (the store's live sessions
// and routers at startup), so counts are right before the first event.
func (f *Fanout) Seed(sessions []controlplane.Session, routers []controlplane.Router) {
	for _, s := range sessions {
		f.tenant(s.TenantID).sessions[s.Key] = s.Kind
	}
	for _, r := range routers {
		f.tenant(r.TenantID).routers[r.ID] = &routerState{status: r.Status}
	}
	for _, t := range f.tenants {
		t.statsDirty = true
	}
	f.systemDirty = true
}

// SeedTenants sets the number of tenants the system stats start from (the
// store's at startup); each TenantCreated adds one. Call it before Run.
func (f *Fanout) SeedTenants(n int) {
	f.tenantCount = n
	f.systemDirty = true
}

// Run publishes the changes read from changes until ctx is done or changes
// is closed, then flushes what is pending. The caller subscribes before
// starting Run, so no change is missed:
//
//	sub := bus.Subscribe(1024)
//	defer sub.Close()
//	go fanout.Run(ctx, sub.C)
//
// The flush tick adapts: every Interval while something changes, backing
// off to MaxInterval while nothing does, and re-armed by the next change so
// that it is published within Interval of the previous flush.
func (f *Fanout) Run(ctx context.Context, changes <-chan controlplane.Change) error {
	interval := f.opts.Interval
	tick := time.NewTimer(interval)
	defer tick.Stop()
	lastFlush := time.Now()
	for {
		select {
		case <-ctx.Done():
			f.Flush()
			return nil
		case c, ok := <-changes:
			if !ok {
				f.Flush()
				return nil
			}
			f.Apply(c)
			if interval > f.opts.Interval && f.pendingFlush() {
				interval = f.opts.Interval
				tick.Reset(max(time.Until(lastFlush.Add(interval)), 0))
			}
		case <-tick.C:
			if f.flush() == 0 {
				interval = min(2*interval, f.opts.MaxInterval)
			} else {
				interval = f.opts.Interval
			}
			lastFlush = time.Now()
			tick.Reset(interval)
		}
	}
}

// pendingFlush reports whether the next Flush has something to publish.
func (f *Fanout) pendingFlush() bool {
	if f.systemDirty {
		return true
	}
	for _, t := range f.tenants {
		if len(t.pending) > 0 || t.statsDirty {
			return true
		}
	}
	return false
}

// Apply handles one change: immediate events are published now, batched
// ones (SessionUpdated, stats) wait for Flush.
func (f *Fanout) Apply(c controlplane.Change) {
	switch c := c.(type) {
	case controlplane.SessionStarted:
		s := c.Session
		t := f.tenant(s.TenantID)
		delete(t.pending, s.Key)
		f.markSession(t, s.Key, s.Kind)
		v := newSessionView(s)
		t.sent[s.Key] = v
		f.publish(TenantChannel(s.TenantID, "sessions"), EventSessionStarted, map[string]any{"session": v})
	case controlplane.SessionUpdated:
		s := c.Session
		t := f.tenant(s.TenantID)
		f.markSession(t, s.Key, s.Kind)
		// Counters are absolute: the latest update supersedes earlier ones.
		t.pending[s.Key] = newSessionView(s)
	case controlplane.SessionEnded:
		r := c.Record
		t := f.tenant(r.TenantID)
		delete(t.pending, r.Key)
		delete(t.sent, r.Key)
		if _, ok := t.sessions[r.Key]; ok {
			delete(t.sessions, r.Key)
			t.statsDirty = true
			f.systemDirty = true
		}
		v := newSessionView(r.Session)
		v.EndedAt = &r.EndedAt
		v.EndReason = r.EndReason
		f.publish(TenantChannel(r.TenantID, "sessions"), EventSessionEnded, map[string]any{"session": v})
	case controlplane.RouterStatusChanged:
		r := c.Router
		t := f.tenant(r.TenantID)
		st, known := t.routers[r.ID]
		if !known {
			st = &routerState{}
			t.routers[r.ID] = st
		}
		if st.status != r.Status {
			st.status = r.Status
			if r.Status != controlplane.RouterOnline {
				st.rx, st.tx = 0, 0
			}
			t.statsDirty = true
			f.systemDirty = true
		}
		view := newRouterView(r)
		f.publish(TenantChannel(r.TenantID, "routers"), EventRouterStatusUpdated, map[string]any{"router": view})
		if !known && r.Status == controlplane.RouterPending {
			// A router that never connected, seen for the first time:
			// it was just enrolled.
			f.publish(SystemAdminChannel, EventRouterEnrolled, map[string]any{"router": view, "tenant_id": r.TenantID})
		}
	case controlplane.RouterResourcesUpdated:
		t := f.tenant(c.TenantID)
		st := t.routers[c.RouterID]
		if st == nil {
			st = &routerState{status: controlplane.RouterOnline}
			t.routers[c.RouterID] = st
			f.systemDirty = true
		}
		if st.rx != c.Resources.RxBps || st.tx != c.Resources.TxBps {
			st.rx, st.tx = c.Resources.RxBps, c.Resources.TxBps
			t.statsDirty = true
		}
		f.publish(TenantChannel(c.TenantID, "routers"), EventRouterLiveDataUpdated, map[string]any{
			"router_id": c.RouterID,
			"resources": c.Resources,
			"at":        c.At,
		})
	case controlplane.ReplicaGap:
		prefix := TenantChannel(c.Tenant, "")
		for ch := range f.seq {
			if ch == SystemAdminChannel || (c.Tenant != 0 && strings.HasPrefix(ch, prefix)) {
				f.seq[ch]++
			}
		}
	case controlplane.BatchApplied:
		// Only the changes after it matter here.
	case RelayedAPIEvent:
		// Published through another replica's HTTP API.
		for _, ch := range c.Channels {
			if err := f.hub.PublishRaw(ch, c.Name, c.Data, c.SocketID); err != nil {
				f.log.Warn("fan-out: relayed API event not published", "channel", ch, "err", err)
			}
		}
	case controlplane.CommandChanged:
		f.applyCommand(c)
	case controlplane.AccountChanged:
		f.applyAccount(c)
	case controlplane.TenantCreated:
		tn := c.Tenant
		f.tenantCount++
		f.systemDirty = true
		f.publish(SystemAdminChannel, EventTenantCreated, map[string]any{"tenant": map[string]any{
			"id": tn.ID, "name": tn.Name, "status": tn.Status, "created_at": tn.CreatedAt,
		}})
	default:
		if !f.applyBilling(c) && !f.applyVouchers(c) && !f.applyNotifications(c) {
			f.log.Debug("fan-out: change type not broadcast", "type", fmt.Sprintf("%T", c))
		}
	}
}

// markSession records a live session for the stats.
func (f *Fanout) markSession(t *tenantState, key string, kind protocol.SessionKind) {
	if prev, ok := t.sessions[key]; !ok || prev != kind {
		t.sessions[key] = kind
		t.statsDirty = true
		f.systemDirty = true
	}
}

// Flush publishes the pending SessionUpdated batches and the stats that
// changed since the last flush.
func (f *Fanout) Flush() { f.flush() }

// flush is Flush, returning the number of events it published.
func (f *Fanout) flush() int {
	published := 0
	ids := make([]int64, 0, len(f.tenants))
	for id := range f.tenants {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		t := f.tenants[id]
		if len(t.pending) > 0 {
			published += f.flushSessions(id, t)
		}
		if t.statsDirty {
			t.statsDirty = false
			f.publish(TenantChannel(id, "dashboard-stats"), EventDashboardStatsUpdated, f.stats(t))
			published++
		}
	}
	if f.systemDirty {
		f.systemDirty = false
		all := dashboardStats{}
		routers := 0
		for _, t := range f.tenants {
			routers += len(t.routers)
			s := f.stats(t)
			all.OnlineHotspot += s.OnlineHotspot
			all.OnlinePPPoE += s.OnlinePPPoE
			all.RoutersOnline += s.RoutersOnline
			all.RoutersOffline += s.RoutersOffline
			all.RxBps += s.RxBps
			all.TxBps += s.TxBps
		}
		all.At = f.opts.Now().UTC()
		f.publish(SystemAdminChannel, EventSystemStatsUpdated, map[string]any{
			"stats":         all,
			"connections":   f.hub.ConnectionCount(),
			"tenants":       f.tenantCount,
			"routers_total": routers,
			"revenue":       f.revenue, // null until billing announces system-wide figures
		})
		published++
	}
	return published
}

// flushSessions publishes a tenant's pending session updates as deltas
// (see sessionDelta): sessions whose fields did not change since they were
// last broadcast send nothing.
func (f *Fanout) flushSessions(id int64, t *tenantState) int {
	keys := make([]string, 0, len(t.pending))
	for k, v := range t.pending {
		if prev, ok := t.sent[k]; ok && prev.sameAs(v) {
			continue // idle: counters and fields as last sent
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	published := 0
	for start := 0; start < len(keys); start += f.opts.MaxSessionsPerEvent {
		end := min(start+f.opts.MaxSessionsPerEvent, len(keys))
		list := make([]sessionDelta, 0, end-start)
		for _, k := range keys[start:end] {
			v := t.pending[k]
			prev, known := t.sent[k]
			list = append(list, newSessionDelta(prev, v, known))
			t.sent[k] = v
		}
		f.publish(TenantChannel(id, "sessions"), EventSessionUpdated, sessionUpdatedData{Sessions: list})
		published++
	}
	clear(t.pending)
	return published
}

// dashboardStats is the DashboardStatsUpdated payload.
type dashboardStats struct {
	OnlineHotspot  int       `json:"online_hotspot"`
	OnlinePPPoE    int       `json:"online_pppoe"`
	RoutersOnline  int       `json:"routers_online"`
	RoutersOffline int       `json:"routers_offline"`
	RxBps          float64   `json:"rx_bps"`
	TxBps          float64   `json:"tx_bps"`
	At             time.Time `json:"at"`
}

func (f *Fanout) stats(t *tenantState) dashboardStats {
	s := dashboardStats{At: f.opts.Now().UTC()}
	for _, kind := range t.sessions {
		switch kind {
		case protocol.KindHotspot:
			s.OnlineHotspot++
		case protocol.KindPPPoE:
			s.OnlinePPPoE++
		}
	}
	for _, r := range t.routers {
		switch r.status {
		case controlplane.RouterOnline:
			s.RoutersOnline++
			s.RxBps += r.rx
			s.TxBps += r.tx
		case controlplane.RouterOffline, controlplane.RouterPending:
			s.RoutersOffline++
		}
	}
	return s
}

// publish encodes payload once with the channel's next seq and the epoch
// (see encodePayload) and publishes it.
func (f *Fanout) publish(channel, event string, payload any) {
	data, ok := f.encodePayload(event, payload, f.seq[channel]+1)
	if !ok {
		return
	}
	f.seq[channel]++
	if err := f.hub.PublishRaw(channel, event, string(data), ""); err != nil {
		f.log.Error("fan-out: publish", "channel", channel, "event", event, "err", err)
	}
}

// sessionView is a session as broadcast: no tenant id (the channel says
// it), the user masked when it is a phone number or an email.
type sessionView struct {
	ID         string               `json:"id"` // controlplane.SessionPublicID: matches REST rows
	RouterID   string               `json:"router_id"`
	RouterOSID string               `json:"ros_id,omitempty"`
	Kind       protocol.SessionKind `json:"kind"`
	Key        string               `json:"key"`
	User       string               `json:"user"`
	Address    string               `json:"address,omitempty"`
	MAC        string               `json:"mac,omitempty"`
	Service    string               `json:"service,omitempty"`
	LoginBy    string               `json:"login_by,omitempty"`
	StartedAt  time.Time            `json:"started_at"`
	UpdatedAt  time.Time            `json:"updated_at"`
	BytesIn    uint64               `json:"bytes_in"`
	BytesOut   uint64               `json:"bytes_out"`
	PacketsIn  uint64               `json:"packets_in"`
	PacketsOut uint64               `json:"packets_out"`
	EndedAt    *time.Time           `json:"ended_at,omitempty"`
	EndReason  protocol.EndReason   `json:"end_reason,omitempty"`
}

func newSessionView(s controlplane.Session) sessionView {
	return sessionView{
		ID: controlplane.SessionPublicID(s.RouterID, s.Key), RouterOSID: s.RouterOSID,
		RouterID: s.RouterID, Kind: s.Kind, Key: maskIdentity(s.Key), User: maskIdentity(s.User),
		Address: s.Address, MAC: s.MAC, Service: s.Service, LoginBy: s.LoginBy,
		StartedAt: s.StartedAt, UpdatedAt: s.UpdatedAt,
		BytesIn: s.BytesIn, BytesOut: s.BytesOut, PacketsIn: s.PacketsIn, PacketsOut: s.PacketsOut,
	}
}

// routerView is a router as broadcast.
type routerView struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	Site            string              `json:"site"`
	Status          string              `json:"status"`
	RouterConnected bool                `json:"router_connected"`
	Identity        string              `json:"identity"`
	RouterOSVersion string              `json:"routeros_version"`
	AgentVersion    string              `json:"agent_version"`
	Board           string              `json:"board"`
	LastSeenAt      *time.Time          `json:"last_seen_at"`
	Resources       *protocol.Resources `json:"resources,omitempty"`
	// AuthMode and Radius: how the router checks logins and its RADIUS
	// copy's sync state (no secrets); absent from routers read before.
	AuthMode string                     `json:"auth_mode,omitempty"`
	Radius   *controlplane.RadiusStatus `json:"radius,omitempty"`
}

func newRouterView(r controlplane.Router) routerView {
	v := routerView{
		ID: r.ID, Name: r.Name, Site: r.Site, Status: r.Status, RouterConnected: r.RouterConnected,
		Identity: r.Identity, RouterOSVersion: r.RouterOSVersion, AgentVersion: r.AgentVersion,
		Board: r.Board, LastSeenAt: r.LastSeenAt, Resources: r.Resources, AuthMode: r.AuthMode,
	}
	if r.AuthMode != "" {
		rs := r.Radius
		v.Radius = &rs
	}
	return v
}
