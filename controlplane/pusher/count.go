package pusher

import "time"

// Subscription counting (Options.SubscriptionCount): subscribers of a
// channel learn its number of subscribed connections from
// pusher_internal:subscription_count {"subscription_count": n} (pusher-js:
// channel.bind("pusher:subscription_count")) whenever it changes. As on
// Pusher, presence channels (which have member events) get none, and
// channels with more than 100 subscribers get at most one every 5 seconds:
// a change inside the interval is sent when it ends, with the count then.

const (
	// countThrottleAbove is the subscriber count above which
	// subscription_count events are throttled.
	countThrottleAbove = 100
	// countThrottleInterval is the least time between two
	// subscription_count events of a throttled channel.
	countThrottleInterval = 5 * time.Second
)

// countState is a channel's subscription_count bookkeeping; guarded by
// h.mu.
type countState struct {
	lastSent time.Time
	sent     int
	timer    *time.Timer // a deferred send is pending
}

// countChangedLocked is called with h.mu held exclusively after ch gained
// or lost a subscriber.
func (h *Hub) countChangedLocked(ch *channel) {
	if !h.opts.SubscriptionCount || ch.kind == ChannelPresence {
		return
	}
	st := h.counts[ch.name]
	n := len(ch.subs)
	if n == 0 {
		if st != nil {
			st.stop()
			delete(h.counts, ch.name)
		}
		return
	}
	if st == nil {
		if h.counts == nil {
			h.counts = make(map[string]*countState)
		}
		st = &countState{}
		h.counts[ch.name] = st
	}
	now := h.opts.Now()
	if n <= countThrottleAbove || now.Sub(st.lastSent) >= countThrottleInterval {
		st.stop()
		h.sendCountLocked(ch, st, now)
		return
	}
	if st.timer == nil {
		st.timer = time.AfterFunc(st.lastSent.Add(countThrottleInterval).Sub(now), func() { h.flushCount(ch.name, st) })
	}
}

// flushCount sends a throttled channel's count when its interval ended,
// if it differs from the last one sent.
func (h *Hub) flushCount(name string, st *countState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts[name] != st {
		return // vacated (and maybe occupied again) meanwhile
	}
	st.timer = nil
	if ch := h.channels[name]; ch != nil && len(ch.subs) != st.sent {
		h.sendCountLocked(ch, st, h.opts.Now())
	}
}

func (h *Hub) sendCountLocked(ch *channel, st *countState, now time.Time) {
	n := len(ch.subs)
	st.lastSent, st.sent = now, n
	h.metrics.countEvents.Inc()
	h.broadcastLocked(ch, encodeEventJSON("pusher_internal:subscription_count", ch.name, struct {
		SubscriptionCount int `json:"subscription_count"`
	}{n}), nil)
}

func (st *countState) stop() {
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
}
