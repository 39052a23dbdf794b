package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// EventPing is the event of a test delivery (POST …/webhooks/{id}/test);
// every endpoint receives it whatever it subscribed to.
const EventPing = "ping"

// EventTypes lists the subscribable event names: every Pusher event the
// fan-out broadcasts on a tenant's channels, billing's included.
func EventTypes() []string {
	return []string{
		fanout.EventSessionStarted, fanout.EventSessionUpdated, fanout.EventSessionEnded,
		fanout.EventRouterStatusUpdated, fanout.EventRouterLiveDataUpdated, fanout.EventDashboardStatsUpdated,
		fanout.EventCommandUpdated, fanout.EventUserCreated, fanout.EventUserUpdated, fanout.EventUserDeleted,
		fanout.EventPaymentCompleted, fanout.EventPaymentFailed, fanout.EventPaymentUpdated,
		fanout.EventSubscriptionActivated, fanout.EventSubscriptionExpired, fanout.EventSubscriptionUpdated,
		fanout.EventPlanCreated, fanout.EventPlanUpdated, fanout.EventPlanDeleted,
		fanout.EventCustomerUpdated, fanout.EventBillingStatsUpdated,
		fanout.EventVoucherBatchCreated, fanout.EventVoucherUpdated, fanout.EventPortalPurchase,
	}
}

// Event is one webhook body: {id, type, created_at, tenant_id, data}.
type Event struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	CreatedAt time.Time      `json:"created_at"`
	TenantID  int64          `json:"tenant_id"`
	Data      map[string]any `json:"data"`
}

// captured is one event the fan-out published on the capture hub.
type captured struct {
	channel, event string
	data           map[string]any
}

// captureHub is a fanout.Hub that keeps what is published, so the
// webhook events are exactly the dashboards' (encoding and masking are
// the fan-out's). The fan-out hands it each event already encoded once
// (PublishRaw); it is decoded here with json.Number so counters stay exact
// integers.
type captureHub struct {
	got []captured
	log *slog.Logger
}

func (h *captureHub) Publish(channel, event string, data any, _ string) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return h.PublishRaw(channel, event, string(b), "")
}

func (h *captureHub) PublishRaw(channel, event, data, _ string) error {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		h.log.Error("webhooks: event data is not an object", "event", event, "err", err)
		return nil
	}
	h.got = append(h.got, captured{channel, event, m})
	return nil
}

func (h *captureHub) ConnectionCount() int { return 0 }

// tenantOfChannel parses private-tenant.{t}.{topic}; ok is false for the
// system and purchase channels, which are no tenant's webhook events.
func tenantOfChannel(ch string) (int64, bool) {
	rest, ok := strings.CutPrefix(ch, "private-tenant.")
	if !ok {
		return 0, false
	}
	id, _, _ := strings.Cut(rest, ".")
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

// run turns bus changes into deliveries until ctx ends or changes closes.
func (s *Service) run(ctx context.Context, changes <-chan controlplane.Change) {
	hub := &captureHub{log: s.log}
	f := fanout.New(hub, fanout.Options{Logger: s.log, Now: s.now})
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				return
			}
			switch c.(type) {
			case controlplane.WebhookEndpointChanged:
				continue
			case fanout.RelayedAPIEvent:
				// The Pusher HTTP API's events, which are not SitePulse's.
				continue
			}
			f.Apply(c)
		case <-tick.C:
			f.Flush()
		}
		if len(hub.got) > 0 {
			got := hub.got
			hub.got = nil
			for _, e := range got {
				if err := s.enqueue(ctx, e); err != nil && ctx.Err() == nil {
					s.log.Error("webhooks: deliveries not written", "event", e.event, "err", err)
				}
			}
		}
	}
}

// eventID is deterministic in what the event says, so the same change
// read twice (relayed by another replica, replayed) has the same id.
func eventID(tenant int64, e captured, body []byte) string {
	h := sha256.New()
	h.Write([]byte(strconv.FormatInt(tenant, 10) + "\x00" + e.channel + "\x00" + e.event + "\x00"))
	h.Write(body)
	return "evt_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// enqueue writes one delivery per enabled endpoint of the event's tenant
// subscribed to it, each with its job, in one transaction.
func (s *Service) enqueue(ctx context.Context, e captured) error {
	tenant, ok := tenantOfChannel(e.channel)
	if !ok {
		return nil
	}
	var eps []controlplane.WebhookEndpoint
	if err := s.st.ReadTx(ctx, func(tx *store.Tx) error {
		all, err := tx.WebhookEndpoints(ctx, tenant)
		for _, ep := range all {
			if ep.Enabled && ep.Subscribes(e.event) {
				eps = append(eps, ep)
			}
		}
		return err
	}); err != nil || len(eps) == 0 {
		return err
	}
	data := make(map[string]any, len(e.data))
	for k, v := range e.data {
		if k != "seq" && k != "epoch" { // per channel and per process: meaningless to a webhook receiver
			data[k] = v
		}
	}
	raw, err := json.Marshal(data) // map keys sorted: deterministic
	if err != nil {
		return err
	}
	id := eventID(tenant, e, raw)
	start := time.Now()
	n, err := s.insertDeliveries(ctx, tenant, eps, e.event, id, data)
	if n > 0 {
		s.m.enqueued.Add(float64(n))
		s.m.enqueueLag.Observe(time.Since(start).Seconds())
	}
	return err
}

// insertDeliveries writes the event's delivery to each endpoint (none for
// an endpoint that already has it) and their jobs; it returns how many
// were new.
func (s *Service) insertDeliveries(ctx context.Context, tenant int64, eps []controlplane.WebhookEndpoint, event, id string, data map[string]any) (int, error) {
	if s.jobs == nil {
		return 0, controlplane.Errorf(controlplane.EUNAVAILABLE, "webhooks: no job runner")
	}
	body, err := json.Marshal(Event{ID: id, Type: event, CreatedAt: s.now().UTC().Truncate(time.Millisecond), TenantID: tenant, Data: data})
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		n = 0
		for _, ep := range eps {
			d, created, err := tx.InsertWebhookDelivery(ctx, controlplane.WebhookDelivery{TenantID: tenant, EndpointID: ep.ID,
				Event: event, EventID: id, Payload: string(body)})
			if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
				continue // deleted meanwhile
			}
			if err != nil {
				return err
			}
			if !created {
				continue
			}
			n++
			if err := s.jobs.InsertJobsTx(ctx, tx, deliverArgs{DeliveryID: d.ID, Attempt: 0}); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// EventTypes lists the subscribable event names (GET
// /api/v1/webhooks/event-types).
func (s *Service) EventTypes() []string { return EventTypes() }
