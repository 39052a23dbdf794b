package controlplane

import (
	"sync"
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

// Bus delivers committed changes to in-process subscribers (the realtime
// fan-out, provisioning, tests). Publish blocks while a subscriber's buffer is full: changes
// are already durable, and back-pressure on ingest is preferable to a
// dashboard silently missing one. The zero value is ready to use.
type Bus struct {
	pub  sync.Mutex // one Publish at a time, so a call's changes stay contiguous
	mu   sync.RWMutex
	subs map[*BusSubscription]struct{}
}

// BusSubscription receives changes on C until Close.
type BusSubscription struct {
	C    <-chan Change
	c    chan Change
	bus  *Bus
	once sync.Once
	done chan struct{}
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

// Close ends the subscription; C is closed once no Publish is delivering.
func (s *BusSubscription) Close() {
	s.once.Do(func() {
		close(s.done)
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		close(s.c)
	})
}

// Publish delivers changes, in order, to every subscriber; no other
// Publish's changes come between them (BatchApplied relies on it).
// Subscribers must therefore not Publish from the goroutine that reads
// their subscription.
func (b *Bus) Publish(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	b.pub.Lock()
	defer b.pub.Unlock()
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		for _, c := range changes {
			select {
			case s.c <- c:
			case <-s.done:
			}
		}
	}
}
