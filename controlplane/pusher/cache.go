package pusher

import (
	"strings"
	"sync"
	"time"
)

// Cache channels (cache-, private-cache-, private-encrypted-cache-,
// presence-cache-) remember the last event the server published on them
// and send it to each new subscriber right after
// pusher_internal:subscription_succeeded; with none (or an expired one) the
// subscriber gets pusher:cache_miss and the app a cache_miss webhook.
// Client events are not cached, as on Pusher.

// DefaultCacheTTL is how long a cache channel keeps its last event: Pusher
// keeps it 30 minutes.
const DefaultCacheTTL = 30 * time.Minute

// cachePrefixes are the channel name prefixes of cache channels.
var cachePrefixes = []string{"cache-", "private-cache-", "private-encrypted-cache-", "presence-cache-"}

// IsCacheChannel reports whether channel is a cache channel.
func IsCacheChannel(channel string) bool {
	for _, p := range cachePrefixes {
		if strings.HasPrefix(channel, p) {
			return true
		}
	}
	return false
}

type cachedEvent struct {
	event, data string
	expires     time.Time
}

// eventCache holds the last event of each cache channel, whether occupied
// or not. Expired entries are dropped when read and, in bulk, whenever the
// table has doubled since the last sweep, so memory stays bounded by the
// channels published to within one TTL.
type eventCache struct {
	mu        sync.Mutex
	events    map[string]cachedEvent
	sweptSize int
}

func (c *eventCache) store(channel, event, data string, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events == nil {
		c.events = make(map[string]cachedEvent)
	}
	c.events[channel] = cachedEvent{event: event, data: data, expires: now.Add(ttl)}
	if len(c.events) > 2*max(c.sweptSize, 512) {
		for name, e := range c.events {
			if !now.Before(e.expires) {
				delete(c.events, name)
			}
		}
		c.sweptSize = len(c.events)
	}
}

func (c *eventCache) load(channel string, now time.Time) (cachedEvent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.events[channel]
	if ok && !now.Before(e.expires) {
		delete(c.events, channel)
		return cachedEvent{}, false
	}
	return e, ok
}

func (h *Hub) cacheTTL() time.Duration {
	if h.opts.CacheTTL > 0 {
		return h.opts.CacheTTL
	}
	return DefaultCacheTTL
}

// cacheStoreLocked remembers an event published on a cache channel. The
// caller holds h.mu (shared is enough) across this and the broadcast of the
// same event, so a subscriber (which takes h.mu exclusively) gets it either
// as the replay or as the broadcast, never both or neither.
func (h *Hub) cacheStoreLocked(channel, event, data string) {
	if IsCacheChannel(channel) {
		h.cache.store(channel, event, data, h.opts.Now(), h.cacheTTL())
	}
}

// cacheReplayLocked queues the cached event of a cache channel, or
// pusher:cache_miss, to a new subscriber c; h.mu is held exclusively, after
// c's subscription_succeeded was queued.
func (h *Hub) cacheReplayLocked(c *conn, channel string) {
	if !IsCacheChannel(channel) {
		return
	}
	if e, ok := h.cache.load(channel, h.opts.Now()); ok {
		h.metrics.cacheLookups.WithLabelValues("hit").Inc()
		c.enqueueData(encodeEvent(e.event, channel, e.data))
		return
	}
	h.metrics.cacheLookups.WithLabelValues("miss").Inc()
	c.enqueueData(mustMarshal(outFrame{Event: "pusher:cache_miss", Channel: channel}))
	h.hooks.emit(WebhookEvent{Name: WebhookCacheMiss, Channel: channel})
}
