package pusher

import (
	"fmt"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

// TestPublishReturnsBeforeDelivery holds the shard's lock, as a fan-out to
// a huge channel would: the publisher still returns at once, and the event
// arrives once the shard is free.
func TestPublishReturnsBeforeDelivery(t *testing.T) {
	h, srv := newTestHub(t, func(o *Options) { o.Shards = 1 })
	c := dial(t, srv)
	c.subscribeOK("news", "")
	s := h.shardFor("news")
	s.mu.Lock()
	done := make(chan error, 1)
	go func() { done <- h.PublishRaw("news", "E", "1", "") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		s.mu.Unlock()
		t.Fatal("PublishRaw waited for the fan-out")
	}
	s.mu.Unlock()
	if f := c.expect("E"); string(f.Data) != "1" {
		t.Fatalf("data %s, want 1", f.Data)
	}
}

// TestShardsIsolateChannels: while one shard is busy, channels of the
// others keep delivering.
func TestShardsIsolateChannels(t *testing.T) {
	h, srv := newTestHub(t, func(o *Options) { o.Shards = 4 })
	busy := "big"
	other := ""
	for i := 0; other == ""; i++ {
		if name := fmt.Sprintf("small-%d", i); h.shardFor(name) != h.shardFor(busy) {
			other = name
		}
	}
	c := dial(t, srv)
	c.subscribeOK(busy, "")
	c.subscribeOK(other, "")
	s := h.shardFor(busy)
	s.mu.Lock()
	if err := h.PublishRaw(busy, "Big", "1", ""); err != nil {
		t.Fatal(err)
	}
	if err := h.PublishRaw(other, "Small", "2", ""); err != nil {
		t.Fatal(err)
	}
	f, err := c.next()
	s.mu.Unlock()
	if err != nil || f.Event != "Small" {
		t.Fatalf("first frame %s (%v), want Small from the free shard", f.Event, err)
	}
	c.expect("Big")
}

// TestIdleConnectionHasNoWriter: once its queue is drained, a connection
// keeps neither a writer goroutine nor a queue array.
func TestIdleConnectionHasNoWriter(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK("news", "")
	if err := h.PublishRaw("news", "E", "1", ""); err != nil {
		t.Fatal(err)
	}
	c.expect("E")
	h.mu.RLock()
	var sc *conn
	for x := range h.conns {
		sc = x
	}
	h.mu.RUnlock()
	testkit.Eventually(t, 0, "the writer of an idle connection to end", func() bool {
		sc.qmu.Lock()
		defer sc.qmu.Unlock()
		return !sc.writing && sc.queue == nil
	})
	c.alive()
}
