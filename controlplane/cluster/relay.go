package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
	"github.com/sitepulse/sitepulse/protocol"
)

// relayMessage is the payload of sp/v1/_bcast/{tenant}/{channel}.
type relayMessage struct {
	// Origin is the ReplicaID of the replica that committed the change.
	Origin string `json:"origin"`
	// Seq numbers the origin's relays per topic tenant (1, 2, …), so a
	// receiver can tell it lost one (QoS 0).
	Seq uint64 `json:"seq"`
	// Type names the Go type of Change.
	Type   string          `json:"type"`
	Change json.RawMessage `json:"change"`
}

// batchType is the Type of a relay carrying a whole applied batch (a
// group) as a relayBatch, so that it arrives in one piece.
const batchType = "Batch"

type relayBatch struct {
	Head    controlplane.BatchApplied `json:"head"`
	Changes []relayChange             `json:"changes"`
}

type relayChange struct {
	Type   string          `json:"type"`
	Change json.RawMessage `json:"change"`
}

// changeTypes decodes relayed changes by name. A replica that does not
// know a name (a newer version's) drops the relay and counts it.
var changeTypes = map[string]func([]byte) (controlplane.Change, error){
	"SessionStarted":         decodeAs[controlplane.SessionStarted],
	"SessionUpdated":         decodeAs[controlplane.SessionUpdated],
	"SessionEnded":           decodeAs[controlplane.SessionEnded],
	"RouterStatusChanged":    decodeAs[controlplane.RouterStatusChanged],
	"RouterResourcesUpdated": decodeAs[controlplane.RouterResourcesUpdated],
	"TenantCreated":          decodeAs[controlplane.TenantCreated],
	"CommandChanged":         decodeAs[controlplane.CommandChanged],
	"AccountChanged":         decodeAs[controlplane.AccountChanged],
	"PaymentChanged":         decodeAs[controlplane.PaymentChanged],
	"SubscriptionChanged":    decodeAs[controlplane.SubscriptionChanged],
	"PlanChanged":            decodeAs[controlplane.PlanChanged],
	"CustomerChanged":        decodeAs[controlplane.CustomerChanged],
	"BillingStatsChanged":    decodeAs[controlplane.BillingStatsChanged],
	"VoucherChanged":         decodeAs[controlplane.VoucherChanged],
	"PortalPurchaseChanged":  decodeAs[controlplane.PortalPurchaseChanged],
	apiEventType:             decodeAs[fanout.RelayedAPIEvent],
}

// apiEventType names relayed Pusher HTTP API events.
const apiEventType = "APIEvent"

// RelayAPIEvent sends an event published through this replica's Pusher
// HTTP API to the other replicas, whose fan-outs publish it on their hubs
// (pusher.Hub.ForwardAPIEvents).
func (c *Client) RelayAPIEvent(ev pusher.APIEvent) {
	body, err := json.Marshal(ev)
	if err != nil {
		c.log.Error("relay: marshal API event", "err", err)
		return
	}
	c.publish(apiEventType, 0, "pusher-api", body, 1)
}

func decodeAs[T controlplane.Change](b []byte) (controlplane.Change, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// route returns the type name, topic tenant (0: system-wide) and Pusher
// channel of a change, ok false for a change that is not relayed.
func route(c controlplane.Change) (name string, tenant int64, channel string, ok bool) {
	t := c.ChangeTenant()
	switch c.(type) {
	case controlplane.SessionStarted:
		return "SessionStarted", t, fanout.TenantChannel(t, "sessions"), true
	case controlplane.SessionUpdated:
		return "SessionUpdated", t, fanout.TenantChannel(t, "sessions"), true
	case controlplane.SessionEnded:
		return "SessionEnded", t, fanout.TenantChannel(t, "sessions"), true
	case controlplane.RouterStatusChanged:
		return "RouterStatusChanged", t, fanout.TenantChannel(t, "routers"), true
	case controlplane.RouterResourcesUpdated:
		return "RouterResourcesUpdated", t, fanout.TenantChannel(t, "routers"), true
	case controlplane.TenantCreated:
		return "TenantCreated", 0, fanout.SystemAdminChannel, true
	case controlplane.CommandChanged:
		return "CommandChanged", t, fanout.TenantChannel(t, "commands"), true
	case controlplane.AccountChanged:
		return "AccountChanged", t, fanout.TenantChannel(t, "users"), true
	case controlplane.PaymentChanged:
		return "PaymentChanged", t, fanout.TenantChannel(t, fanout.TopicPayments), true
	case controlplane.SubscriptionChanged:
		return "SubscriptionChanged", t, fanout.TenantChannel(t, fanout.TopicSubscriptions), true
	case controlplane.PlanChanged:
		return "PlanChanged", t, fanout.TenantChannel(t, fanout.TopicPlans), true
	case controlplane.CustomerChanged:
		return "CustomerChanged", t, fanout.TenantChannel(t, fanout.TopicCustomers), true
	case controlplane.BillingStatsChanged:
		if t == 0 {
			return "BillingStatsChanged", 0, fanout.SystemAdminChannel, true
		}
		return "BillingStatsChanged", t, fanout.TenantChannel(t, fanout.TopicStats), true
	case controlplane.VoucherChanged:
		return "VoucherChanged", t, fanout.TenantChannel(t, fanout.TopicVouchers), true
	case controlplane.PortalPurchaseChanged:
		return "PortalPurchaseChanged", t, fanout.TenantChannel(t, fanout.TopicPortal), true
	}
	return "", 0, "", false
}

// relayState is the relay's bookkeeping.
type relayState struct {
	remote chan controlplane.Change

	mu     sync.Mutex
	closed bool
	out    map[int64]uint64            // topic tenant → last seq sent
	in     map[string]map[int64]uint64 // origin → topic tenant → last seq delivered
}

func (r *relayState) init(n int) {
	r.remote = make(chan controlplane.Change, n)
	r.out = make(map[int64]uint64)
	r.in = make(map[string]map[int64]uint64)
}

func (r *relayState) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.remote)
	}
}

// Fanin relays every change read from local to the other replicas and
// returns a channel carrying local's changes and the changes other
// replicas relayed, for the realtime fan-out, with each router's batches
// in commit order (see orderer). routers are the routers as the store had
// them after sub was made, to start the ordering from. It is closed when
// ctx is done or local is closed. Start one Fanin per Client.
//
//	sub := bus.Subscribe(1024)
//	routers, _ := store.ListRouters(ctx, 0)
//	go fanout.Run(ctx, client.Fanin(ctx, sub.C, routers))
func (c *Client) Fanin(ctx context.Context, local <-chan controlplane.Change, routers []controlplane.Router) <-chan controlplane.Change {
	out := make(chan controlplane.Change)
	go func() {
		defer close(out)
		send := func(chs ...controlplane.Change) bool {
			for _, ch := range chs {
				select {
				case out <- ch:
				case <-ctx.Done():
					return false
				}
			}
			return true
		}
		ord := newOrderer(c.opts.ReorderHold, c.m, routers)
		tick := time.NewTicker(c.opts.ReorderHold / 4)
		defer tick.Stop()
		remote := c.relay.remote
		for {
			select {
			case <-ctx.Done():
				return
			case ch, ok := <-local:
				if !ok {
					return
				}
				if head, isHead := ch.(controlplane.BatchApplied); isHead {
					g, ok := readGroup(ctx, head, local)
					if !ok {
						return
					}
					c.publishGroup(g)
					if !send(ord.add(g, time.Now())...) {
						return
					}
					continue
				}
				c.publishRelay(ch)
				if !send(ch) {
					return
				}
			case ch, ok := <-remote:
				if !ok {
					// The client closed; keep passing local changes on
					// until the fan-out stops, so the bus never blocks.
					remote = nil
					continue
				}
				chs := []controlplane.Change{ch}
				if g, isGroup := ch.(*group); isGroup {
					chs = ord.add(g, time.Now())
				}
				if !send(chs...) {
					return
				}
			case now := <-tick.C:
				if ord.holding() && !send(ord.expire(now)...) {
					return
				}
			}
		}
	}()
	return out
}

// Relay sends every change read from local to the other replicas, as
// Fanin does, for a process without a realtime fan-out (a PublishOnly
// client's jobs node): its changes reach the dashboards through the
// replicas that run one. It returns when ctx is done or local is closed.
//
//	sub := bus.Subscribe(1024)
//	go client.Relay(ctx, sub.C)
func (c *Client) Relay(ctx context.Context, local <-chan controlplane.Change) {
	for {
		select {
		case <-ctx.Done():
			return
		case ch, ok := <-local:
			if !ok {
				return
			}
			if head, isHead := ch.(controlplane.BatchApplied); isHead {
				g, ok := readGroup(ctx, head, local)
				if !ok {
					return
				}
				c.publishGroup(g)
				continue
			}
			c.publishRelay(ch)
		}
	}
}

// readGroup reads the changes that follow head on local (the bus keeps
// them together).
func readGroup(ctx context.Context, head controlplane.BatchApplied, local <-chan controlplane.Change) (*group, bool) {
	g := &group{head: head, changes: make([]controlplane.Change, 0, head.Changes)}
	for len(g.changes) < head.Changes {
		select {
		case ch, ok := <-local:
			if !ok {
				return nil, false
			}
			g.changes = append(g.changes, ch)
		case <-ctx.Done():
			return nil, false
		}
	}
	return g, true
}

// publishRelay sends one committed change to the other replicas.
func (c *Client) publishRelay(ch controlplane.Change) {
	name, tenant, channel, ok := route(ch)
	if !ok {
		return
	}
	body, err := json.Marshal(ch)
	if err != nil {
		c.log.Error("relay: marshal change", "type", name, "err", err)
		return
	}
	c.publish(name, tenant, channel, body, 1)
}

// publishGroup sends one applied batch to the other replicas in one relay.
func (c *Client) publishGroup(g *group) {
	rb := relayBatch{Head: g.head, Changes: make([]relayChange, 0, len(g.changes))}
	for _, ch := range g.changes {
		name, _, _, ok := route(ch)
		if !ok {
			c.log.Error("relay: batch change not relayed", "type", fmt.Sprintf("%T", ch))
			continue
		}
		body, err := json.Marshal(ch)
		if err != nil {
			c.log.Error("relay: marshal change", "type", name, "err", err)
			return
		}
		rb.Changes = append(rb.Changes, relayChange{Type: name, Change: body})
	}
	rb.Head.Changes = len(rb.Changes)
	body, err := json.Marshal(rb)
	if err != nil {
		c.log.Error("relay: marshal batch", "err", err)
		return
	}
	c.publish(batchType, g.head.TenantID, fanout.TenantChannel(g.head.TenantID, "sessions"), body, len(g.changes))
}

// publish sends a relay at QoS 0 without waiting: a lost relay shows up as
// a seq gap at the receivers.
func (c *Client) publish(name string, tenant int64, channel string, body []byte, changes int) {
	c.relay.mu.Lock()
	c.relay.out[tenant]++
	seq := c.relay.out[tenant]
	c.relay.mu.Unlock()
	payload, err := json.Marshal(relayMessage{Origin: c.opts.ReplicaID, Seq: seq, Type: name, Change: body})
	if err != nil {
		c.log.Error("relay: marshal", "type", name, "err", err)
		return
	}
	// paho queues a QoS 0 publish while reconnecting and fails it if the
	// connection is down; either way the receivers see the gap.
	c.cl.Publish(protocol.BroadcastTopic(strconv.FormatInt(tenant, 10), channel), 0, false, payload)
	c.m.relayed.WithLabelValues("out").Add(float64(changes))
}

// onRelay hands a change relayed by another replica to Fanin. It never
// blocks paho's dispatch goroutine: with a full buffer the change is
// dropped and the next relay from that origin reports the gap.
func (c *Client) onRelay(topic string, payload []byte) {
	t, err := protocol.ParseTopic(topic)
	if err != nil || t.Kind != protocol.TopicBroadcast {
		c.m.relayDropped.WithLabelValues("topic").Inc()
		return
	}
	tenant, err := strconv.ParseInt(t.Tenant, 10, 64)
	if err != nil {
		c.m.relayDropped.WithLabelValues("topic").Inc()
		return
	}
	var m relayMessage
	if err := json.Unmarshal(payload, &m); err != nil || m.Origin == "" || m.Seq == 0 {
		c.m.relayDropped.WithLabelValues("malformed").Inc()
		return
	}
	if m.Origin == c.opts.ReplicaID {
		return // our own, already handed to the fan-out by Fanin
	}
	ch, reason := decodeRelay(m.Type, m.Change)
	if reason != "" {
		c.m.relayDropped.WithLabelValues(reason).Inc()
		return
	}

	c.relay.mu.Lock()
	defer c.relay.mu.Unlock()
	if c.relay.closed {
		return
	}
	seqs := c.relay.in[m.Origin]
	if seqs == nil {
		seqs = make(map[int64]uint64)
		c.relay.in[m.Origin] = seqs
	}
	last, seen := seqs[tenant]
	if seen && m.Seq <= last {
		c.m.relayDropped.WithLabelValues("duplicate").Inc()
		return
	}
	if seen && m.Seq > last+1 {
		// Relays from this origin were lost (QoS 0, a reconnect, a full
		// buffer): make the fan-out skip a seq so dashboards refetch.
		c.m.relayGaps.Inc()
		c.log.Warn("relay: lost changes from another replica", "origin", m.Origin, "tenant", tenant, "missing", m.Seq-last-1)
		select {
		case c.relay.remote <- controlplane.ReplicaGap{Tenant: tenant}:
		default:
			c.m.relayDropped.WithLabelValues("full").Inc()
			return // last stays: the next relay reports the gap again
		}
	}
	select {
	case c.relay.remote <- ch:
		seqs[tenant] = m.Seq
		n := 1
		if g, ok := ch.(*group); ok {
			n = len(g.changes)
		}
		c.m.relayed.WithLabelValues("in").Add(float64(n))
	default:
		c.m.relayDropped.WithLabelValues("full").Inc()
		if !seen {
			// The first relay from this origin: remember the seq before it
			// so that the next one reports the loss.
			seqs[tenant] = m.Seq - 1
		}
	}
}

// decodeRelay decodes a relayed change or batch; reason names why not.
func decodeRelay(typ string, body []byte) (ch controlplane.Change, reason string) {
	if typ != batchType {
		decode, ok := changeTypes[typ]
		if !ok {
			return nil, "unknown_type"
		}
		ch, err := decode(body)
		if err != nil {
			return nil, "malformed"
		}
		return ch, ""
	}
	var rb relayBatch
	if err := json.Unmarshal(body, &rb); err != nil || rb.Head.RouterID == "" || rb.Head.Last <= rb.Head.Prev ||
		rb.Head.Changes != len(rb.Changes) {
		return nil, "malformed"
	}
	g := &group{head: rb.Head, changes: make([]controlplane.Change, 0, len(rb.Changes))}
	for _, rc := range rb.Changes {
		ch, reason := decodeRelay(rc.Type, rc.Change)
		if reason == "" && rc.Type == batchType {
			reason = "malformed"
		}
		if reason != "" {
			return nil, reason
		}
		g.changes = append(g.changes, ch)
	}
	return g, ""
}
