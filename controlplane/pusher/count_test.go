package pusher

import (
	"encoding/json"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// memConn is a connection without a socket: the hub queues to it, the test
// reads the queue. Enough for hub bookkeeping that never writes.
func memConn(h *Hub, n int) *conn {
	c := &conn{
		hub: h, socketID: "1." + strconv.Itoa(n), send: make(chan outMsg, 1024),
		subs: make(map[string]struct{}), closing: make(chan struct{}), readerDone: make(chan struct{}),
	}
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	return c
}

// counts drains c's queue and returns the subscription_count values in it.
func counts(t *testing.T, c *conn) []int {
	t.Helper()
	var out []int
	for {
		select {
		case m := <-c.send:
			var f struct {
				Event string `json:"event"`
				Data  string `json:"data"`
			}
			b := m.data
			if m.prepared != nil {
				t.Fatal("prepared messages are not expected with a single reader")
			}
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			if f.Event != "pusher_internal:subscription_count" {
				continue
			}
			var d struct {
				N int `json:"subscription_count"`
			}
			if err := json.Unmarshal([]byte(f.Data), &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, d.N)
		default:
			return out
		}
	}
}

func TestSubscriptionCountThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := New(Options{Key: testKey, Secret: testSecret, SubscriptionCount: true})
		if err != nil {
			t.Fatal(err)
		}
		// sent reports the broadcasts since the last call and the count
		// the last one carried. (With several subscribers the frame is
		// shared, so the bookkeeping is read rather than the queues.)
		var seen float64
		sent := func() (int, int) {
			t.Helper()
			n := testutil.ToFloat64(h.metrics.countEvents) - seen
			seen += n
			h.mu.RLock()
			defer h.mu.RUnlock()
			st := h.counts["room"]
			if st == nil {
				return int(n), 0
			}
			return int(n), st.sent
		}
		first := memConn(h, 0)
		if err := h.subscribe(first, "room", ChannelPublic, "", nil); err != nil {
			t.Fatal(err)
		}
		// A lone subscriber's frame is its own: check the wire format.
		if got := counts(t, first); len(got) != 1 || got[0] != 1 {
			t.Fatalf("first subscriber got counts %v, want [1]", got)
		}
		sent()
		// Up to 100 subscribers every change is sent at once.
		conns := []*conn{first}
		for i := 1; i < 100; i++ {
			c := memConn(h, i)
			conns = append(conns, c)
			if err := h.subscribe(c, "room", ChannelPublic, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		if n, last := sent(); n != 99 || last != 100 {
			t.Fatalf("subscribers 2..100: %d events, last %d; want 99 and 100", n, last)
		}
		lastAt := time.Now()

		// The 101st and 102nd within 5 s: nothing now, one event when
		// the 5 s are over, with the count then.
		c101, c102 := memConn(h, 101), memConn(h, 102)
		if err := h.subscribe(c101, "room", ChannelPublic, "", nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := h.subscribe(c102, "room", ChannelPublic, "", nil); err != nil {
			t.Fatal(err)
		}
		if n, _ := sent(); n != 0 {
			t.Fatalf("throttled channel sent %d events at once", n)
		}
		time.Sleep(time.Until(lastAt.Add(countThrottleInterval)) - time.Nanosecond)
		synctest.Wait()
		if n, _ := sent(); n != 0 {
			t.Fatalf("sent %d events before the interval ended", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if n, last := sent(); n != 1 || last != 102 {
			t.Fatalf("after the interval: %d events, last %d; want 1 and 102", n, last)
		}
		// A change more than 5 s after the last event goes out at once.
		time.Sleep(countThrottleInterval)
		h.unsubscribe(c102, "room")
		if n, last := sent(); n != 1 || last != 101 {
			t.Fatalf("unthrottled change: %d events, last %d; want 1 and 101", n, last)
		}
		// Back to 100: at once again, though within 5 s.
		h.unsubscribe(c101, "room")
		if n, last := sent(); n != 1 || last != 100 {
			t.Fatalf("back to 100: %d events, last %d; want 1 and 100", n, last)
		}
		// Presence channels get no count events.
		p := memConn(h, 200)
		if err := h.subscribe(p, "presence-x", ChannelPresence, "u1", nil); err != nil {
			t.Fatal(err)
		}
		if n, _ := sent(); n != 0 {
			t.Fatalf("presence channel: %d count events", n)
		}
		// Vacating forgets the channel's state.
		for _, c := range conns {
			h.unsubscribe(c, "room")
		}
		h.mu.RLock()
		_, ok := h.counts["room"]
		h.mu.RUnlock()
		if ok {
			t.Fatal("count state kept for a vacated channel")
		}
	})
}

func TestSubscriptionCountOff(t *testing.T) {
	h, err := New(Options{Key: testKey, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	c := memConn(h, 1)
	if err := h.subscribe(c, "room", ChannelPublic, "", nil); err != nil {
		t.Fatal(err)
	}
	if got := counts(t, c); len(got) != 0 {
		t.Fatalf("counts %v without SubscriptionCount", got)
	}
}
