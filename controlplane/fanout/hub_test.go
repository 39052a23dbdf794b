package fanout

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// fakeHub is a hand-written Hub that hands every published event, encoded
// as a Pusher server would, to the watchers subscribed to its channel. It
// delivers synchronously, so a test sees an event as soon as Apply or
// Flush returns.
type fakeHub struct {
	mu       sync.Mutex
	watchers []*watcher
}

// newTestHub returns a fake hub twice, as the hub and the "server" that
// dial connects watchers to; the options are those of a real hub's and
// ignored.
func newTestHub(t testing.TB, _ func(*pusher.Options)) (*fakeHub, *fakeHub) {
	t.Helper()
	h := &fakeHub{}
	return h, h
}

func (h *fakeHub) Publish(channel, event string, data any, exceptSocketID string) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return h.PublishRaw(channel, event, string(b), exceptSocketID)
}

func (h *fakeHub) PublishRaw(channel, event, data, _ string) error {
	if !pusher.ValidChannelName(channel) {
		return pusher.ErrInvalidChannel
	}
	raw, err := json.Marshal(map[string]string{"event": event, "channel": channel, "data": data})
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range h.watchers {
		if w.channels[channel] {
			w.frames = append(w.frames, wsFrame{Event: event, Channel: channel, Data: json.RawMessage(data), Raw: raw})
		}
	}
	return nil
}

func (h *fakeHub) ConnectionCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}

// wsFrame is an event as a subscriber receives it.
type wsFrame struct {
	Event, Channel string
	// Data is the event's data (the JSON text the fan-out sent).
	Data json.RawMessage
	// Raw is the whole frame as a client would receive it.
	Raw []byte
}

func (f wsFrame) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(f.Data, v); err != nil {
		t.Fatalf("decode %s data %s: %v", f.Event, f.Data, err)
	}
}

// watcher is a subscriber of a fakeHub.
type watcher struct {
	t        testing.TB
	h        *fakeHub
	channels map[string]bool
	frames   []wsFrame
}

// dial connects a new subscriber to h.
func dial(t testing.TB, h *fakeHub) *watcher {
	w := &watcher{t: t, h: h, channels: make(map[string]bool)}
	h.mu.Lock()
	h.watchers = append(h.watchers, w)
	h.mu.Unlock()
	return w
}

// subscribeOK subscribes w to channel.
func (w *watcher) subscribeOK(channel, _ string) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	w.channels[channel] = true
}

// expect returns the next event w received and fails unless it is event.
func (w *watcher) expect(event string) wsFrame {
	w.t.Helper()
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	if len(w.frames) == 0 {
		w.t.Fatalf("no event, want %s", event)
	}
	f := w.frames[0]
	w.frames = w.frames[1:]
	if f.Event != event {
		w.t.Fatalf("got event %s on %s (%s), want %s", f.Event, f.Channel, f.Data, event)
	}
	return f
}

// pending is the number of received events not yet expected.
func (w *watcher) pending() int {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	return len(w.frames)
}

// alive fails if w received an event it has not expected.
func (w *watcher) alive() {
	w.t.Helper()
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	if len(w.frames) > 0 {
		w.t.Fatalf("unexpected event %s on %s: %s", w.frames[0].Event, w.frames[0].Channel, w.frames[0].Data)
	}
}

const (
	testAppID  = "3"
	testKey    = "278d425bdf160c739803"
	testSecret = "7ad3773142a6692b25b8"
)

// newRealHub starts a real Pusher server with SitePulse's channel
// authorization (tokens from testTokens) on a loopback listener.
func newRealHub(t testing.TB) (*pusher.Hub, *httptest.Server) {
	t.Helper()
	h, err := pusher.New(pusher.Options{AppID: testAppID, Key: testKey, Secret: testSecret})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	h.Mount(mux, ChannelAuth(testTokens))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return h, srv
}
