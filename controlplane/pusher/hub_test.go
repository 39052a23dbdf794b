package pusher

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

func TestConnectionEstablished(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		want    int
	}{
		{"default", 0, 30},
		{"rounded up", 1500 * time.Millisecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newTestHub(t, func(o *Options) { o.ActivityTimeout = tt.timeout })
			c := dialRaw(t, srv, testKey)
			f := c.expect("pusher:connection_established")
			if f.RawData[0] != '"' {
				t.Errorf("data = %s, want a JSON-encoded string", f.RawData)
			}
			var d struct {
				SocketID        string `json:"socket_id"`
				ActivityTimeout int    `json:"activity_timeout"`
			}
			f.decode(t, &d)
			if !regexp.MustCompile(`^\d+\.\d+$`).MatchString(d.SocketID) {
				t.Errorf("socket_id = %q, want ^\\d+\\.\\d+$", d.SocketID)
			}
			if d.ActivityTimeout != tt.want {
				t.Errorf("activity_timeout = %d, want %d", d.ActivityTimeout, tt.want)
			}
		})
	}
}

func TestSocketIDsAreUnique(t *testing.T) {
	_, srv := newTestHub(t, nil)
	a, b := dial(t, srv), dial(t, srv)
	if a.socketID == b.socketID {
		t.Fatalf("two connections share socket_id %q", a.socketID)
	}
}

func TestPingPong(t *testing.T) {
	_, srv := newTestHub(t, nil)
	c := dial(t, srv)
	for i := 0; i < 3; i++ {
		c.alive()
	}
}

func TestActivityTimeout(t *testing.T) {
	t.Run("no pong closes with 4201", func(t *testing.T) {
		_, srv := newTestHub(t, func(o *Options) {
			o.ActivityTimeout = 150 * time.Millisecond
			o.PongTimeout = 150 * time.Millisecond
		})
		c := dial(t, srv)
		c.expect("pusher:ping")
		c.expectError(CodePongNotReceived)
		c.expectClose(CodePongNotReceived)
	})
	t.Run("answering pings keeps the connection", func(t *testing.T) {
		_, srv := newTestHub(t, func(o *Options) {
			o.ActivityTimeout = 100 * time.Millisecond
			o.PongTimeout = 2 * time.Second // generous: a loaded CI machine must not flake
		})
		c := dial(t, srv)
		for i := 0; i < 3; i++ {
			c.expect("pusher:ping")
			c.send("pusher:pong", "", map[string]any{})
		}
		c.alive()
	})
	t.Run("websocket pings count as activity", func(t *testing.T) {
		h, srv := newTestHub(t, func(o *Options) {
			o.ActivityTimeout = 300 * time.Millisecond
			o.PongTimeout = 100 * time.Millisecond
		})
		c := dial(t, srv)
		pongs := make(chan struct{}, 16)
		c.ws.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
		go func() { _, _, _ = c.ws.ReadMessage() }() // runs the pong handler
		// Ping a third of the activity timeout apart until twice that
		// timeout has passed: a server that ignored WebSocket pings would
		// have sent pusher:ping and closed by then.
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); <-tick.C {
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			select {
			case <-pongs:
			case <-time.After(5 * time.Second):
				t.Fatal("no pong for a websocket ping")
			}
		}
		if n := h.ConnectionCount(); n != 1 {
			t.Errorf("connections = %d, want 1 (pings kept it alive)", n)
		}
	})
}

func TestUnknownAppKey(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dialRaw(t, srv, "not-the-key")
	msg := c.expectError(CodeAppNotFound)
	if !strings.Contains(msg, "not-the-key") {
		t.Errorf("message %q does not name the key", msg)
	}
	c.expectClose(CodeAppNotFound)

	long := dialRaw(t, srv, strings.Repeat("k", 300))
	long.expectError(CodeAppNotFound)
	long.expectClose(CodeAppNotFound)
	if got := testutil.ToFloat64(h.metrics.authFailures.WithLabelValues("unknown_app_key")); got != 2 {
		t.Errorf("unknown_app_key failures = %v, want 2", got)
	}
}

func TestOversizeMessage(t *testing.T) {
	_, srv := newTestHub(t, func(o *Options) { o.MaxMessageSize = 1024 })
	c := dial(t, srv)
	c.alive()
	big := fmt.Sprintf(`{"event":"pusher:ping","data":{"pad":%q}}`, strings.Repeat("x", 2000))
	c.sendRaw([]byte(big))
	msg := c.expectError(CodeFrameTooLarge)
	if !strings.Contains(msg, "1024") {
		t.Errorf("message %q does not state the limit", msg)
	}
	c.expectClose(CodeFrameTooLarge)
}

func TestMalformedFramesKeepConnection(t *testing.T) {
	_, srv := newTestHub(t, nil)
	c := dial(t, srv)
	tests := []struct {
		name, frame, wantMsg string
	}{
		{"not json", `hello`, "invalid frame"},
		{"truncated", `{"event":"pusher:ping"`, "invalid frame"},
		{"array", `[1,2]`, "invalid frame"},
		{"no event", `{"data":{}}`, "invalid frame"},
		{"event not string", `{"event":5}`, "invalid frame"},
		{"channel not string", `{"event":"client-x","channel":{}}`, "invalid frame"},
		{"unknown pusher event", `{"event":"pusher:frobnicate"}`, "unsupported event"},
		{"subscribe without data", `{"event":"pusher:subscribe"}`, "pusher:subscribe needs"},
		{"subscribe data not object", `{"event":"pusher:subscribe","data":7}`, "pusher:subscribe needs"},
		{"bad channel name", `{"event":"pusher:subscribe","data":{"channel":"has space"}}`, "invalid channel name"},
		{"channel name too long", `{"event":"pusher:subscribe","data":{"channel":"` + strings.Repeat("a", 165) + `"}}`, "invalid channel name"},
		{"unsubscribe without channel", `{"event":"pusher:unsubscribe","data":{}}`, "pusher:unsubscribe needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.sendRaw([]byte(tt.frame))
			if msg := c.expectError(0); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMsg)
			}
			c.alive()
		})
	}
}

func TestPublicSubscribeAndPublish(t *testing.T) {
	h, srv := newTestHub(t, nil)
	a, b := dial(t, srv), dial(t, srv)
	f := a.subscribeOK("news", "")
	if string(f.Data) != "{}" {
		t.Errorf("subscription_succeeded data = %s, want {}", f.Data)
	}
	b.subscribeOK("news", "")

	if err := h.Publish("news", "Story", map[string]any{"title": "hi"}, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testClient{a, b} {
		f := c.expect("Story")
		if f.Channel != "news" || string(f.Data) != `{"title":"hi"}` {
			t.Errorf("got channel %q data %s, want news {\"title\":\"hi\"}", f.Channel, f.Data)
		}
	}

	// socket_id exclusion skips exactly that connection.
	if err := h.PublishRaw("news", "Raw", `plain text`, a.socketID); err != nil {
		t.Fatal(err)
	}
	if f := b.expect("Raw"); string(f.Data) != "plain text" {
		t.Errorf("raw data = %q, want %q", f.Data, "plain text")
	}
	a.alive() // a's next frame is the pong, not Raw.

	a.send("pusher:unsubscribe", "", map[string]any{"channel": "news"})
	a.alive()
	testkit.Eventually(t, 0, "one subscriber left", func() bool {
		info, _ := h.Channel("news")
		return info.SubscriptionCount == 1
	})
	if err := h.Publish("news", "After", 1, ""); err != nil {
		t.Fatal(err)
	}
	b.expect("After")
	a.alive()

	for _, tt := range []struct{ channel, event string }{{"bad name", "E"}, {"ok", ""}} {
		if err := h.Publish(tt.channel, tt.event, 1, ""); err == nil {
			t.Errorf("Publish(%q, %q) = nil, want error", tt.channel, tt.event)
		}
	}
	if err := h.Publish("ok", "E", make(chan int), ""); err == nil {
		t.Error("Publish of unmarshalable data = nil, want error")
	}
}

func TestPrivateChannelAuth(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	const ch = "private-tenant.1.sessions"
	tests := []struct {
		name string
		auth string
	}{
		{"missing", ""},
		{"other socket", SignChannel(testKey, testSecret, "1.1", ch, "")},
		{"wrong secret", SignChannel(testKey, "nope", c.socketID, ch, "")},
		{"wrong key", SignChannel("other", testSecret, c.socketID, ch, "")},
		{"not hex", testKey + ":zz"},
		{"no colon", "garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.subscribe(ch, tt.auth, "")
			f := c.expect("pusher:subscription_error")
			var d struct {
				Type   string `json:"type"`
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			f.decode(t, &d)
			if f.Channel != ch || d.Type != "AuthError" || d.Status != 401 || d.Error == "" {
				t.Errorf("got channel %q data %+v, want %s AuthError 401 with a message", f.Channel, d, ch)
			}
			c.alive()
		})
	}
	c.t = t
	if _, ok := h.Channel(ch); ok {
		t.Fatal("refused subscriptions occupied the channel")
	}
	if err := h.Publish(ch, "Secret", "x", ""); err != nil {
		t.Fatal(err)
	}
	c.alive() // nothing leaked to the refused subscriber
	c.subscribeOK(ch, "")
	if err := h.Publish(ch, "SessionStarted", map[string]int{"id": 1}, ""); err != nil {
		t.Fatal(err)
	}
	c.expect("SessionStarted")
}

func TestEncryptedChannelRelaysCiphertext(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK("private-encrypted-x", "")
	const payload = `{"nonce":"bm9uY2U=","ciphertext":"Y2lwaGVy"}`
	if err := h.PublishRaw("private-encrypted-x", "E", payload, ""); err != nil {
		t.Fatal(err)
	}
	if f := c.expect("E"); string(f.Data) != payload {
		t.Errorf("data = %s, want %s untouched", f.Data, payload)
	}
}

func memberData(userID string, info any) string {
	b, _ := json.Marshal(map[string]any{"user_id": userID, "user_info": info})
	return string(b)
}

func TestPresenceMembers(t *testing.T) {
	h, srv := newTestHub(t, nil)
	const ch = "presence-tenant.1.room"
	observer := dial(t, srv)
	observer.subscribeOK(ch, memberData("obs", nil))

	a1 := dial(t, srv)
	f := a1.subscribeOK(ch, memberData("7", map[string]string{"email": "a***@x.io"}))
	var succ struct {
		Presence struct {
			IDs   []string                   `json:"ids"`
			Hash  map[string]json.RawMessage `json:"hash"`
			Count int                        `json:"count"`
		} `json:"presence"`
	}
	f.decode(t, &succ)
	if succ.Presence.Count != 2 || len(succ.Presence.IDs) != 2 || string(succ.Presence.Hash["7"]) != `{"email":"a***@x.io"}` {
		t.Errorf("presence = %+v, want 2 members with 7's info", succ.Presence)
	}
	added := observer.expect("pusher_internal:member_added")
	var m struct {
		UserID   string          `json:"user_id"`
		UserInfo json.RawMessage `json:"user_info"`
	}
	added.decode(t, &m)
	if m.UserID != "7" || string(m.UserInfo) != `{"email":"a***@x.io"}` {
		t.Errorf("member_added = %+v, want user 7 with info", m)
	}

	// A second connection of user 7 (numeric id in channel_data, as Laravel
	// sends it) is not announced again.
	a2 := dial(t, srv)
	a2.subscribeOK(ch, `{"user_id":7,"user_info":{"email":"a***@x.io"}}`)
	observer.alive()
	if got := h.PresenceUsers(ch); strings.Join(got, ",") != "7,obs" {
		t.Errorf("PresenceUsers = %v, want [7 obs]", got)
	}
	if info, _ := h.Channel(ch); info.UserCount != 2 || info.SubscriptionCount != 3 {
		t.Errorf("channel info = %+v, want 2 users, 3 subscriptions", info)
	}

	a1.ws.Close()
	testkit.Eventually(t, 0, "a1 gone", func() bool { info, _ := h.Channel(ch); return info.SubscriptionCount == 2 })
	observer.alive() // no member_removed while a2 remains

	a2.send("pusher:unsubscribe", "", map[string]any{"channel": ch})
	removed := observer.expect("pusher_internal:member_removed")
	removed.decode(t, &m)
	if m.UserID != "7" {
		t.Errorf("member_removed user_id = %q, want 7", m.UserID)
	}

	t.Run("bad channel_data", func(t *testing.T) {
		c := dial(t, srv)
		for _, cd := range []string{"", `not json`, `{"user_info":{}}`, `{"user_id":""}`, `{"user_id":{}}`,
			memberData(strings.Repeat("u", 129), nil), memberData("u", strings.Repeat("i", 1100))} {
			c.subscribe(ch, SignChannel(testKey, testSecret, c.socketID, ch, cd), cd)
			c.expect("pusher:subscription_error")
		}
		c.alive()
	})
}

func TestClientEvents(t *testing.T) {
	const ch = "private-tenant.1.chat"
	t.Run("disabled", func(t *testing.T) {
		_, srv := newTestHub(t, nil)
		a, b := dial(t, srv), dial(t, srv)
		a.subscribeOK(ch, "")
		b.subscribeOK(ch, "")
		a.send("client-typing", ch, map[string]any{"x": 1})
		a.expectError(CodeClientEventRejected)
		b.alive()
	})
	t.Run("enabled", func(t *testing.T) {
		now := time.Unix(1_700_000_000, 0) // frozen clock: no token refill
		h, srv := newTestHub(t, func(o *Options) {
			o.ClientEvents = true
			o.Now = func() time.Time { return now }
		})
		a, b, outsider := dial(t, srv), dial(t, srv), dial(t, srv)
		a.subscribeOK(ch, "")
		b.subscribeOK(ch, "")
		a.subscribeOK("public", "")

		a.send("client-typing", ch, map[string]any{"x": 1})
		f := b.expect("client-typing")
		if f.Channel != ch || string(f.Data) != `{"x":1}` {
			t.Errorf("relayed %q %s, want %s {\"x\":1}", f.Channel, f.Data, ch)
		}
		a.alive() // not echoed

		a.send("client-typing", "public", map[string]any{})
		a.expectError(CodeClientEventRejected)
		outsider.send("client-typing", ch, map[string]any{})
		outsider.expectError(CodeClientEventRejected)
		b.alive()

		// One token was used above; 9 remain in the frozen bucket.
		for i := 0; i < 12; i++ {
			a.send("client-n", ch, i)
		}
		for i := 0; i < 9; i++ {
			b.expect("client-n")
		}
		for i := 0; i < 3; i++ {
			if msg := a.expectError(CodeClientEventRejected); !strings.Contains(msg, "rate limit") {
				t.Errorf("message = %q, want rate limit", msg)
			}
		}
		b.alive()
		a.alive()
		if got := testutil.ToFloat64(h.metrics.clientEvents.WithLabelValues("rate_limited")); got != 3 {
			t.Errorf("rate_limited = %v, want 3", got)
		}
	})
	t.Run("presence carries user_id", func(t *testing.T) {
		_, srv := newTestHub(t, func(o *Options) { o.ClientEvents = true })
		const pch = "presence-tenant.1.chat"
		a, b := dial(t, srv), dial(t, srv)
		a.subscribeOK(pch, memberData("alice", nil))
		b.subscribeOK(pch, memberData("bob", nil))
		a.expect("pusher_internal:member_added")
		a.send("client-hi", pch, map[string]any{})
		if f := b.expect("client-hi"); f.UserID != "alice" {
			t.Errorf("user_id = %q, want alice", f.UserID)
		}
	})
}

func TestSlowConsumerClosedWith4100(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, srv := newTestHub(t, func(o *Options) {
		o.SendQueue = 4
		o.WriteTimeout = 5 * time.Second
		o.Registerer = reg
	})
	slow, fast := dial(t, srv), dial(t, srv)
	slow.subscribeOK("firehose", "")
	fast.subscribeOK("firehose", "")

	// fast reads everything in the background and acknowledges each frame,
	// so the publisher never outruns it.
	got := make(chan error, 1)
	go func() {
		for {
			f, err := fast.next()
			got <- err
			if err != nil || f.Event == "Last" {
				return
			}
		}
	}()

	// slow never reads: once the kernel buffers are full its queue fills.
	payload := strings.Repeat("p", 8*1024)
	for i := 0; testutil.ToFloat64(h.metrics.slowConsumerCloses) == 0; i++ {
		if i > 20000 {
			t.Fatal("slow consumer never detected")
		}
		if err := h.PublishRaw("firehose", "Tick", payload, ""); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("fast subscriber failed after %d frames: %v", i, err)
		}
	}
	testkit.Eventually(t, 0, "slow consumer unsubscribed", func() bool {
		info, _ := h.Channel("firehose")
		return info.SubscriptionCount == 1
	})
	// Now read: the buffered frames, then pusher:error 4100 and close 4100.
	for {
		f, err := slow.next()
		if err != nil {
			slow.t = t
			var want = CodeOverCapacity
			ce := closeCode(err)
			if ce != want {
				t.Fatalf("slow consumer ended with %v, want close %d", err, want)
			}
			break
		}
		if f.Event == "pusher:error" {
			var d struct{ Code int }
			f.decode(t, &d)
			if d.Code != CodeOverCapacity {
				t.Fatalf("pusher:error code %d, want 4100", d.Code)
			}
		}
	}
	if err := h.PublishRaw("firehose", "Last", "x", ""); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("fast subscriber failed: %v", err)
	}
	fast.alive()
	if n, err := testutil.GatherAndCount(reg, "sitepulse_realtime_slow_consumer_closes_total"); err != nil || n != 1 {
		t.Errorf("registered slow consumer metric: count %d, err %v", n, err)
	}
	if got := testutil.ToFloat64(h.metrics.messagesDropped); got < 1 {
		t.Errorf("messages_dropped_total = %v, want >= 1", got)
	}
}

func TestWritesAreCoalesced(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK("burst", "")
	const n = 200
	for i := 0; i < n; i++ {
		if err := h.Publish("burst", "E", i, ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		f := c.expect("E")
		if string(f.Data) != fmt.Sprint(i) {
			t.Fatalf("frame %d has data %s: order broken", i, f.Data)
		}
	}
	sent := testutil.ToFloat64(h.metrics.messagesSent)
	batches := testutil.ToFloat64(h.metrics.writeBatches)
	t.Logf("%v frames in %v socket writes", sent, batches)
	if batches >= sent {
		t.Errorf("write batches = %v for %v frames: no coalescing", batches, sent)
	}
}

func TestShutdownCloses4200(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK("x", "")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.Shutdown(ctx)
	}()
	c.expectError(CodeReconnect)
	c.expectClose(CodeReconnect)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := h.ConnectionCount(); n != 0 {
		t.Errorf("connections after shutdown = %d", n)
	}
	late := dialRaw(t, srv, testKey)
	late.expectError(CodeReconnect)
	late.expectClose(CodeReconnect)
}

func TestNewValidatesOptions(t *testing.T) {
	if _, err := New(Options{Key: "k"}); err == nil {
		t.Error("New without Secret = nil error")
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Key: "k", Secret: "s", Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Key: "k", Secret: "s", Registerer: reg}); err == nil {
		t.Error("registering twice = nil error")
	}
}
