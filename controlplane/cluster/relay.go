package cluster

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/realtime"
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
		return "SessionStarted", t, realtime.TenantChannel(t, "sessions"), true
	case controlplane.SessionUpdated:
		return "SessionUpdated", t, realtime.TenantChannel(t, "sessions"), true
	case controlplane.SessionEnded:
		return "SessionEnded", t, realtime.TenantChannel(t, "sessions"), true
	case controlplane.RouterStatusChanged:
		return "RouterStatusChanged", t, realtime.TenantChannel(t, "routers"), true
	case controlplane.RouterResourcesUpdated:
		return "RouterResourcesUpdated", t, realtime.TenantChannel(t, "routers"), true
	case controlplane.TenantCreated:
		return "TenantCreated", 0, realtime.SystemAdminChannel, true
	case controlplane.CommandChanged:
		return "CommandChanged", t, realtime.TenantChannel(t, "commands"), true
	case controlplane.AccountChanged:
		return "AccountChanged", t, realtime.TenantChannel(t, "users"), true
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
// replicas relayed, for the realtime fan-out. It is closed when ctx is done
// or local is closed. Start one Fanin per Client.
//
//	sub := bus.Subscribe(1024)
//	go fanout.Run(ctx, client.Fanin(ctx, sub.C))
func (c *Client) Fanin(ctx context.Context, local <-chan controlplane.Change) <-chan controlplane.Change {
	out := make(chan controlplane.Change)
	go func() {
		defer close(out)
		send := func(ch controlplane.Change) bool {
			select {
			case out <- ch:
				return true
			case <-ctx.Done():
				return false
			}
		}
		remote := c.relay.remote
		for {
			select {
			case <-ctx.Done():
				return
			case ch, ok := <-local:
				if !ok {
					return
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
				if !send(ch) {
					return
				}
			}
		}
	}()
	return out
}

// publishRelay sends one committed change to the other replicas at QoS 0
// without waiting: a lost relay shows up as a seq gap at the receivers.
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
	c.m.relayed.WithLabelValues("out").Inc()
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
	decode, ok := changeTypes[m.Type]
	if !ok {
		c.m.relayDropped.WithLabelValues("unknown_type").Inc()
		return
	}
	ch, err := decode(m.Change)
	if err != nil {
		c.m.relayDropped.WithLabelValues("malformed").Inc()
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
		case c.relay.remote <- realtime.ReplicaGap{Tenant: tenant}:
		default:
			c.m.relayDropped.WithLabelValues("full").Inc()
			return // last stays: the next relay reports the gap again
		}
	}
	select {
	case c.relay.remote <- ch:
		seqs[tenant] = m.Seq
		c.m.relayed.WithLabelValues("in").Inc()
	default:
		c.m.relayDropped.WithLabelValues("full").Inc()
		if !seen {
			// The first relay from this origin: remember the seq before it
			// so that the next one reports the loss.
			seqs[tenant] = m.Seq - 1
		}
	}
}
