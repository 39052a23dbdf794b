package pusher

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCacheChannels(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h, srv := newTestHub(t, func(o *Options) { o.Now = clock })
	for _, channel := range []string{"cache-prices", "private-cache-tenant.1.x", "presence-cache-tenant.1.room"} {
		t.Run(channel, func(t *testing.T) {
			channelData := ""
			if KindOf(channel) == ChannelPresence {
				channelData = `{"user_id":"7"}`
			}
			// Nothing cached yet: pusher:cache_miss right after success.
			c := dial(t, srv)
			c.subscribeOK(channel, channelData)
			if f := c.expect("pusher:cache_miss"); f.Channel != channel {
				t.Fatalf("cache_miss on %q", f.Channel)
			}
			// Published while nobody else listens, replayed to the next.
			if code, body := (apiCall{method: http.MethodPost, path: "/apps/3/events", body: triggerBody([]string{channel}, "Price", `{"p":1}`, "")}).do(t, srv.URL); code != 200 {
				t.Fatalf("trigger: %d %s", code, body)
			}
			c.expect("Price")
			if err := h.PublishRaw(channel, "Price", `{"p":2}`, ""); err != nil {
				t.Fatal(err)
			}
			c.expect("Price")
			late := dial(t, srv)
			late.subscribeOK(channel, channelData)
			f := late.expect("Price")
			if f.Channel != channel || string(f.Data) != `{"p":2}` {
				t.Fatalf("replayed %s on %s: %s", f.Event, f.Channel, f.Data)
			}
			late.alive() // the replay came once
		})
	}
	// An ordinary channel gets neither.
	c := dial(t, srv)
	if err := h.PublishRaw("prices", "Price", `{}`, ""); err != nil {
		t.Fatal(err)
	}
	c.subscribeOK("prices", "")
	c.alive()

	// After Pusher's 30 minutes the event is gone.
	mu.Lock()
	now = now.Add(DefaultCacheTTL)
	mu.Unlock()
	c.subscribeOK("cache-prices", "")
	c.expect("pusher:cache_miss")
	if hits, misses := testutil.ToFloat64(h.metrics.cacheLookups.WithLabelValues("hit")), testutil.ToFloat64(h.metrics.cacheLookups.WithLabelValues("miss")); hits != 3 || misses != 4 {
		t.Fatalf("cache hits %v misses %v, want 3 and 4", hits, misses)
	}
}

func TestCacheMissWebhook(t *testing.T) {
	r := newReceiver(t)
	_, srv := newTestHub(t, func(o *Options) {
		o.Webhooks = WebhookOptions{URLs: []string{r.srv.URL}, Events: []string{WebhookCacheMiss}, BatchWindow: time.Millisecond}
	})
	c := dial(t, srv)
	c.subscribeOK("cache-x", "")
	c.expect("pusher:cache_miss")
	evs := waitEvents(t, r, 1)
	if len(evs) != 1 || evs[0].Name != WebhookCacheMiss || evs[0].Channel != "cache-x" {
		t.Fatalf("webhook events %+v", evs)
	}
}
