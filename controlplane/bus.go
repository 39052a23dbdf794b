package controlplane

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// Change is something ingest or the API applied to the store, announced on
// the Bus after its transaction committed.
type Change interface {
	// ChangeTenant is the tenant the change belongs to (0 for system-wide).
	ChangeTenant() int64
}

// SessionStarted announces a new live session.
type SessionStarted struct{ Session Session }

// SessionUpdated announces new absolute counters of a live session.
type SessionUpdated struct{ Session Session }

// SessionEnded announces a session moved to history.
type SessionEnded struct{ Record SessionRecord }

// RouterStatusChanged announces a router's new status (online, offline,
// revoked) or identity.
type RouterStatusChanged struct{ Router Router }

// RouterResourcesUpdated announces a router's new resources reading.
type RouterResourcesUpdated struct {
	TenantID  int64
	RouterID  string
	Resources protocol.Resources
	At        time.Time
}

// TenantCreated announces a tenant that finished provisioning.
type TenantCreated struct{ Tenant Tenant }

// BatchApplied heads the changes of one applied event batch, in the same
// Publish: the next Changes changes a subscriber receives are that
// batch's. Prev is the router's last applied seq before the batch and Last
// the one after it, so a router's consecutive batches chain (a batch's Prev
// is the Last of the batch before it). Replicas use it to hand their
// dashboards each router's changes in commit order whichever replica
// applied them (controlplane/cluster); other subscribers ignore it.
type BatchApplied struct {
	TenantID   int64
	RouterID   string
	Epoch      string // the seq space of Prev and Last; a new one restarts the chain
	Prev, Last uint64
	Changes    int
}

// ReplicaGap announces that changes of Tenant (0: system-wide) may have
// been lost on their way from another control-plane replica
// (controlplane/cluster). The realtime fan-out skips one seq on each
// channel of the tenant it has published on, and on the system channel, so
// dashboards see a gap and refetch instead of silently missing an event.
type ReplicaGap struct{ Tenant int64 }

// ChangeTenant implements Change.
func (c SessionStarted) ChangeTenant() int64 { return c.Session.TenantID }

// ChangeTenant implements Change.
func (c SessionUpdated) ChangeTenant() int64 { return c.Session.TenantID }

// ChangeTenant implements Change.
func (c SessionEnded) ChangeTenant() int64 { return c.Record.TenantID }

// ChangeTenant implements Change.
func (c RouterStatusChanged) ChangeTenant() int64 { return c.Router.TenantID }

// ChangeTenant implements Change.
func (c RouterResourcesUpdated) ChangeTenant() int64 { return c.TenantID }

// ChangeTenant implements Change.
func (c TenantCreated) ChangeTenant() int64 { return c.Tenant.ID }

// ChangeTenant implements Change.
func (c BatchApplied) ChangeTenant() int64 { return c.TenantID }

// ChangeTenant implements Change.
func (g ReplicaGap) ChangeTenant() int64 { return g.Tenant }

// Defaults of the Bus's zero fields.
const (
	DefaultBusMaxWait    = 2 * time.Second
	DefaultBusMaxBacklog = 1 << 16
)

// Bus delivers committed changes to in-process subscribers (the realtime
// fan-out, provisioning, webhooks, tests). The changes are already durable,
// so the bus trades a subscriber's completeness for the publisher's
// latency only within bounds:
//
//   - Publish waits while a subscriber's buffer is full, so a brief stall
//     pushes back on ingest instead of costing a dashboard an event;
//   - but at most MaxWait per Publish (ingest publishes before the agent's
//     PUBACK, and agents give up on a PUBACK after 30 s). Past it, the rest
//     is queued for that subscriber without waiting, in order, in a backlog
//     that a goroutine feeds to the subscriber as it drains; while the
//     backlog is not empty every Publish queues there without waiting;
//   - a backlog may hold MaxBacklog changes. A Publish that does not fit is
//     dropped for that subscriber, whole, and replaced by a ReplicaGap for
//     each tenant it concerned, so the realtime fan-out makes dashboards
//     see a seq gap and refetch rather than silently miss a change.
//
// Stats counts what was queued and dropped. Set the fields before the first
// Publish; the zero value is ready to use.
type Bus struct {
	// MaxWait bounds how long one Publish waits for full subscribers, its
	// wait for an earlier Publish included; 0 means DefaultBusMaxWait.
	MaxWait time.Duration
	// MaxBacklog bounds the changes queued for one subscriber beyond its
	// buffer; 0 means DefaultBusMaxBacklog.
	MaxBacklog int

	pub  sync.Mutex // one Publish at a time, so a call's changes stay contiguous
	mu   sync.RWMutex
	subs map[*BusSubscription]struct{}

	deferred, dropped atomic.Uint64
	backlog           atomic.Int64
}

// BusStats are a Bus's counts since it was made.
type BusStats struct {
	Deferred uint64 // changes queued in a backlog instead of waited for
	Dropped  uint64 // changes dropped for a subscriber whose backlog was full
	Backlog  int64  // changes in backlogs now
}

// Stats returns the bus's counts.
func (b *Bus) Stats() BusStats {
	return BusStats{Deferred: b.deferred.Load(), Dropped: b.dropped.Load(), Backlog: b.backlog.Load()}
}

// BusSubscription receives changes on C until Close.
type BusSubscription struct {
	C    <-chan Change
	c    chan Change
	bus  *Bus
	once sync.Once
	done chan struct{}

	mu      sync.Mutex
	backlog []Change // fed to c by pump while pumping
	pumping bool
	gapTail map[int64]bool // tenants with a ReplicaGap at the backlog's end
	pumps   sync.WaitGroup
}

// Subscribe returns a subscription with a buffer of n changes.
func (b *Bus) Subscribe(n int) *BusSubscription {
	c := make(chan Change, n)
	s := &BusSubscription{C: c, c: c, bus: b, done: make(chan struct{})}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[*BusSubscription]struct{})
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close ends the subscription and drops its backlog; C is closed once no
// Publish is delivering.
func (s *BusSubscription) Close() {
	s.once.Do(func() {
		close(s.done)
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		s.pumps.Wait()
		s.mu.Lock()
		s.bus.backlog.Add(-int64(len(s.backlog)))
		s.backlog = nil
		s.mu.Unlock()
		close(s.c)
	})
}

// Publish delivers changes, in order, to every subscriber; no other
// Publish's changes come between them (BatchApplied relies on it).
// Subscribers must therefore not Publish from the goroutine that reads
// their subscription. It returns within about MaxWait (see Bus).
func (b *Bus) Publish(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	wait := b.MaxWait
	if wait <= 0 {
		wait = DefaultBusMaxWait
	}
	// The deadline counts from the call: waiting for the Publish ahead is
	// waiting too. That one stops waiting at its own, earlier deadline.
	deadline := time.Now().Add(wait)
	b.pub.Lock()
	defer b.pub.Unlock()
	b.mu.RLock()
	defer b.mu.RUnlock()
	var late <-chan struct{} // closed at the deadline; made when first needed
	for s := range b.subs {
		if s.queue(changes) {
			continue
		}
		for i, c := range changes {
			select {
			case s.c <- c:
				continue
			case <-s.done:
			default:
				if late == nil {
					ctx, cancel := context.WithDeadline(context.Background(), deadline)
					defer cancel()
					late = ctx.Done()
				}
				select {
				case s.c <- c:
					continue
				case <-s.done:
				case <-late:
					s.startBacklog(changes[i:])
				}
			}
			break
		}
	}
}

// queue appends changes to s's backlog, or drops them if it is full, when
// s has one; it reports whether it did.
func (s *BusSubscription) queue(changes []Change) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pumping {
		return false
	}
	b := s.bus
	limit := b.MaxBacklog
	if limit <= 0 {
		limit = DefaultBusMaxBacklog
	}
	if len(s.backlog)+len(changes) <= limit {
		s.backlog = append(s.backlog, changes...)
		clear(s.gapTail)
		b.deferred.Add(uint64(len(changes)))
		b.backlog.Add(int64(len(changes)))
		return true
	}
	b.dropped.Add(uint64(len(changes)))
	if s.gapTail == nil {
		s.gapTail = make(map[int64]bool)
	}
	for _, c := range changes {
		t := c.ChangeTenant()
		if !s.gapTail[t] {
			s.gapTail[t] = true
			s.backlog = append(s.backlog, ReplicaGap{Tenant: t})
			b.backlog.Add(1)
		}
	}
	return true
}

// startBacklog queues rest, which did not fit in s's buffer in time, and
// starts feeding s from the backlog.
func (s *BusSubscription) startBacklog(rest []Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backlog = append(s.backlog, rest...)
	s.pumping = true
	s.bus.deferred.Add(uint64(len(rest)))
	s.bus.backlog.Add(int64(len(rest)))
	s.pumps.Add(1) // before Close can wait: Publish holds bus.mu
	go s.pump()
}

// pump feeds the backlog to the subscriber until it is empty or Close.
func (s *BusSubscription) pump() {
	defer s.pumps.Done()
	for {
		s.mu.Lock()
		if len(s.backlog) == 0 {
			s.pumping = false
			s.backlog = nil
			clear(s.gapTail)
			s.mu.Unlock()
			return
		}
		c := s.backlog[0]
		s.backlog[0] = nil
		s.backlog = s.backlog[1:]
		s.mu.Unlock()
		select {
		case s.c <- c:
			s.bus.backlog.Add(-1)
		case <-s.done:
			s.bus.backlog.Add(-1)
			return
		}
	}
}
