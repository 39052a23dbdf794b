package radius

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Duplicate detection (RFC 5080 §2.2.2): a request with the same source
// address and port, Identifier and Request Authenticator as one seen in
// the last dupWindow is a retransmission. It gets the reply already sent,
// byte for byte, and the Decider is not asked again; while the first copy
// is still being handled, copies are dropped (the router retransmits
// again and then gets the reply).
const (
	dupWindow  = 30 * time.Second
	dupEntries = 8192 // bound on remembered requests, oldest evicted first
)

type dupKey struct {
	src  netip.AddrPort
	id   byte
	auth [16]byte
}

type dupEntry struct {
	key     dupKey
	reply   []byte // nil while the request is being handled
	expires time.Time
	elem    *list.Element
}

// dupCache is safe for concurrent use. Its zero value is not ready: use
// newDupCache.
type dupCache struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	entries map[dupKey]*dupEntry
	order   *list.List // of *dupEntry, oldest first
}

func newDupCache(max int, window time.Duration) *dupCache {
	return &dupCache{max: max, window: window, entries: make(map[dupKey]*dupEntry), order: list.New()}
}

// dupState is what begin found.
type dupState int

const (
	dupNew      dupState = iota // first copy: handle it, then finish or forget
	dupInFlight                 // the first copy is being handled: drop
	dupAnswered                 // answered: resend the returned reply
)

// begin looks k up at now and, for a first copy, records it as in flight.
func (c *dupCache) begin(k dupKey, now time.Time) (dupState, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f := c.order.Front(); f != nil; f = c.order.Front() {
		e := f.Value.(*dupEntry)
		if now.Before(e.expires) && c.order.Len() < c.max {
			break
		}
		c.removeLocked(e)
	}
	if e, ok := c.entries[k]; ok {
		if e.reply == nil {
			return dupInFlight, nil
		}
		return dupAnswered, e.reply
	}
	e := &dupEntry{key: k, expires: now.Add(c.window)}
	e.elem = c.order.PushBack(e)
	c.entries[k] = e
	return dupNew, nil
}

// finish stores the reply sent for k.
func (c *dupCache) finish(k dupKey, reply []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		e.reply = reply
	}
}

// forget drops k, so that a retransmission is handled afresh: for a
// request that got no answer (accounting not yet durable).
func (c *dupCache) forget(k dupKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		c.removeLocked(e)
	}
}

func (c *dupCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *dupCache) removeLocked(e *dupEntry) {
	c.order.Remove(e.elem)
	delete(c.entries, e.key)
}
