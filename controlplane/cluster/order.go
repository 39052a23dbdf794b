package cluster

import (
	"cmp"
	"slices"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// group is one applied event batch: its controlplane.BatchApplied head and
// the changes that followed it, from this replica's bus or relayed by
// another replica.
type group struct {
	head    controlplane.BatchApplied
	changes []controlplane.Change
	since   time.Time // when the orderer started holding it
}

// ChangeTenant implements controlplane.Change, so that a relayed group can
// travel on the relay's channel of changes.
func (g *group) ChangeTenant() int64 { return g.head.TenantID }

// orderer hands each router's batches to the fan-out in commit order.
//
// Replicas apply one router's consecutive batches in turn (a shared
// subscription spreads them), and each replica hears of the others'
// batches only through the relay, after its own commit. Without ordering a
// replica could show a dashboard a session's end before its start when the
// start was committed by another replica a moment earlier. A batch's Prev
// names the batch before it (the router's last seq before the batch), so
// the orderer delivers a batch once its predecessor was delivered and
// holds it otherwise. A predecessor that does not come within hold (its
// relay was lost, QoS 0) is given up on: the held batches are delivered
// behind a controlplane.ReplicaGap, which makes dashboards refetch. A batch
// that arrives after its successor was delivered is delivered anyway,
// behind a gap too, so the fan-out's counts still add up.
//
// A router's first batch (Prev 0), or the first of a new epoch of its
// agent's seqs, is delivered at once. The orderer starts from the routers'
// last seqs as the store had them (seed), so that after a restart it need
// not wait for batches that were applied before it. Not safe for
// concurrent use (Fanin's goroutine owns it).
type orderer struct {
	hold  time.Duration
	last  map[string]uint64   // router → Last of the newest batch delivered
	epoch map[string]string   // router → the epoch of last
	held  map[string][]*group // router → batches waiting for a predecessor, by Prev
	m     *metrics
}

func newOrderer(hold time.Duration, m *metrics, seed []controlplane.Router) *orderer {
	o := &orderer{hold: hold, last: make(map[string]uint64), epoch: make(map[string]string), held: make(map[string][]*group), m: m}
	for _, r := range seed {
		if r.LastSeq > 0 {
			o.last[r.ID], o.epoch[r.ID] = r.LastSeq, r.Epoch
		}
	}
	return o
}

// add takes one batch and returns the changes to deliver now, in order.
func (o *orderer) add(g *group, now time.Time) []controlplane.Change {
	r := g.head.RouterID
	if e, known := o.epoch[r]; known && e != g.head.Epoch {
		// The agent's seqs restarted: the old chain ends here.
		var out []controlplane.Change
		for _, h := range o.held[r] {
			out = append(out, controlplane.ReplicaGap{Tenant: h.head.TenantID})
			out = append(out, h.changes...)
		}
		delete(o.held, r)
		delete(o.last, r)
		delete(o.epoch, r)
		return append(out, o.add(g, now)...)
	}
	o.epoch[r] = g.head.Epoch
	last, seen := o.last[r]
	switch {
	case (!seen && g.head.Prev == 0) || (seen && g.head.Prev == last):
		return o.drain(r, o.deliver(g, nil))
	case !seen || g.head.Prev > last:
		// A batch before it has not arrived yet (for an unseen router: it
		// is not the router's first batch, so the first is on its way).
		g.since = now
		h := o.held[r]
		i, _ := slices.BinarySearchFunc(h, g.head.Prev, func(x *group, prev uint64) int { return cmp.Compare(x.head.Prev, prev) })
		o.held[r] = slices.Insert(h, i, g)
		o.m.reorder.WithLabelValues("held").Inc()
		return nil
	default:
		// Older than what was delivered: its relay took longer than hold.
		o.m.reorder.WithLabelValues("late").Inc()
		out := append([]controlplane.Change{controlplane.ReplicaGap{Tenant: g.head.TenantID}}, g.changes...)
		if g.head.Last > last {
			o.last[r] = g.head.Last
		}
		return out
	}
}

// expire gives up on the predecessors held batches have waited for longer
// than hold and returns the changes to deliver now.
func (o *orderer) expire(now time.Time) []controlplane.Change {
	var out []controlplane.Change
	for r, h := range o.held {
		for len(h) > 0 && now.Sub(h[0].since) >= o.hold {
			o.m.reorder.WithLabelValues("expired").Inc()
			out = append(out, controlplane.ReplicaGap{Tenant: h[0].head.TenantID})
			out = o.deliver(h[0], out)
			o.held[r] = h[1:]
			out = o.drain(r, out)
			h = o.held[r]
		}
	}
	return out
}

// holding reports whether any batch is held.
func (o *orderer) holding() bool { return len(o.held) > 0 }

func (o *orderer) deliver(g *group, out []controlplane.Change) []controlplane.Change {
	if l, seen := o.last[g.head.RouterID]; !seen || g.head.Last > l {
		o.last[g.head.RouterID] = g.head.Last
	}
	return append(out, g.changes...)
}

// drain delivers r's held batches that now follow on.
func (o *orderer) drain(r string, out []controlplane.Change) []controlplane.Change {
	h := o.held[r]
	for len(h) > 0 && h[0].head.Prev <= o.last[r] {
		if h[0].head.Prev < o.last[r] {
			out = append(out, controlplane.ReplicaGap{Tenant: h[0].head.TenantID}) // overlaps: cannot happen with one store
		}
		out = o.deliver(h[0], out)
		h = h[1:]
	}
	if len(h) == 0 {
		delete(o.held, r)
	} else {
		o.held[r] = h
	}
	return out
}
