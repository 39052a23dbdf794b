package pusher

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

// receiver is a real HTTP server that records webhook bodies after checking
// their headers and signature. fail decides, per request number (from 1),
// which status to answer.
type receiver struct {
	t    testing.TB
	srv  *httptest.Server
	mu   sync.Mutex
	got  []WebhookBody
	hits int
	fail func(n int) int
	hold chan struct{} // when set, each request waits for a value
	in   chan struct{} // when set, receives a value per request arriving
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.in != nil {
		r.in <- struct{}{}
	}
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hits++
	if r.fail != nil {
		if code := r.fail(r.hits); code != 0 {
			w.WriteHeader(code)
			return
		}
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		r.t.Errorf("Content-Type = %q", ct)
	}
	if k := req.Header.Get("X-Pusher-Key"); k != testKey {
		r.t.Errorf("X-Pusher-Key = %q", k)
	}
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(body)
	if sig := req.Header.Get("X-Pusher-Signature"); sig != hex.EncodeToString(mac.Sum(nil)) {
		r.t.Errorf("X-Pusher-Signature = %q does not sign the body", sig)
	}
	var b WebhookBody
	if err := json.Unmarshal(body, &b); err != nil {
		r.t.Errorf("body %s: %v", body, err)
	}
	r.got = append(r.got, b)
}

// events returns every event received so far, in order.
func (r *receiver) events() []WebhookEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []WebhookEvent
	for _, b := range r.got {
		out = append(out, b.Events...)
	}
	return out
}

func (r *receiver) batches() []WebhookBody {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func waitEvents(t *testing.T, r *receiver, n int) []WebhookEvent {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("%d webhook events", n), func() bool { return len(r.events()) >= n })
	return r.events()
}

func TestWebhooksFromHub(t *testing.T) {
	r := newReceiver(t)
	const ch = "presence-tenant.1.room"
	_, srv := newTestHub(t, func(o *Options) {
		o.ClientEvents = true
		o.Webhooks = WebhookOptions{URLs: []string{r.srv.URL}, Debounce: -1, BatchWindow: 20 * time.Millisecond}
	})
	a := dial(t, srv)
	a.subscribeOK(ch, memberData("u1", map[string]any{"name": "A"}))
	a.send("client-typing", ch, map[string]any{"x": 1})
	a.alive()
	a.send("pusher:unsubscribe", "", map[string]any{"channel": ch})
	want := []WebhookEvent{
		{Name: WebhookChannelOccupied, Channel: ch},
		{Name: WebhookMemberAdded, Channel: ch, UserID: "u1"},
		{Name: WebhookClientEvent, Channel: ch, Event: "client-typing", Data: `{"x":1}`, SocketID: a.socketID, UserID: "u1"},
		{Name: WebhookMemberRemoved, Channel: ch, UserID: "u1"},
		{Name: WebhookChannelVacated, Channel: ch},
	}
	got := waitEvents(t, r, len(want))
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got %+v\nwant %+v", got, want)
	}
}

func TestWebhookEventFilter(t *testing.T) {
	r := newReceiver(t)
	_, srv := newTestHub(t, func(o *Options) {
		o.Webhooks = WebhookOptions{URLs: []string{r.srv.URL}, Events: []string{WebhookChannelVacated}, Debounce: -1, BatchWindow: time.Millisecond}
	})
	a := dial(t, srv)
	a.subscribeOK("public", "")
	a.send("pusher:unsubscribe", "", map[string]any{"channel": "public"})
	got := waitEvents(t, r, 1)
	if want := []WebhookEvent{{Name: WebhookChannelVacated, Channel: "public"}}; !slices.Equal(got, want) {
		t.Errorf("events = %+v, want %+v", got, want)
	}
	if _, err := New(Options{Key: "k", Secret: "s", Webhooks: WebhookOptions{URLs: []string{r.srv.URL}, Events: []string{"nope"}}}); err == nil {
		t.Error("New accepted an unknown webhook event")
	}
}

// A member who leaves and comes back within Debounce produces no webhook, as
// with Pusher; one who stays away produces member_removed and
// channel_vacated after it.
func TestWebhookDebounce(t *testing.T) {
	r := newReceiver(t)
	const ch = "presence-x"
	_, srv := newTestHub(t, func(o *Options) {
		o.Webhooks = WebhookOptions{URLs: []string{r.srv.URL}, Debounce: 300 * time.Millisecond, BatchWindow: time.Millisecond}
	})
	a := dial(t, srv)
	a.subscribeOK(ch, memberData("u1", nil))
	a.send("pusher:unsubscribe", "", map[string]any{"channel": ch})
	a.subscribeOK(ch, memberData("u1", nil))
	a.send("pusher:unsubscribe", "", map[string]any{"channel": ch})
	want := []WebhookEvent{
		{Name: WebhookChannelOccupied, Channel: ch},
		{Name: WebhookMemberAdded, Channel: ch, UserID: "u1"},
		{Name: WebhookMemberRemoved, Channel: ch, UserID: "u1"},
		{Name: WebhookChannelVacated, Channel: ch},
	}
	got := waitEvents(t, r, len(want))
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got %+v\nwant %+v", got, want)
	}
}

func newTestWebhooks(t *testing.T, opts WebhookOptions) (*webhooks, *metrics) {
	m := newMetrics()
	w := newWebhooks(opts, testKey, testSecret, slog.New(slog.DiscardHandler), m, time.Now)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.close(ctx)
	})
	return w, m
}

func TestWebhookBatching(t *testing.T) {
	r := newReceiver(t)
	w, m := newTestWebhooks(t, WebhookOptions{URLs: []string{r.srv.URL}, MaxBatch: 3, BatchWindow: 50 * time.Millisecond, Debounce: -1})
	for i := range 7 {
		w.emit(WebhookEvent{Name: WebhookChannelOccupied, Channel: fmt.Sprint("c", i)})
	}
	waitEvents(t, r, 7)
	var sizes []int
	for i, b := range r.batches() {
		sizes = append(sizes, len(b.Events))
		if b.TimeMS == 0 {
			t.Errorf("batch %d has no time_ms", i)
		}
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Errorf("batch sizes = %v, want [3 3 1]", sizes)
	}
	// The counter moves after the response, which may be after the
	// receiver recorded the body.
	testkit.Eventually(t, 5*time.Second, "sent = 7", func() bool { return testutil.ToFloat64(m.webhookSent) == 7 })
}

// While the receiver hangs the queue stays bounded: the oldest events are
// dropped and counted, the newest are delivered once it answers again.
func TestWebhookQueueBound(t *testing.T) {
	r := newReceiver(t)
	r.in = make(chan struct{}, 10)
	r.hold = make(chan struct{})
	w, m := newTestWebhooks(t, WebhookOptions{URLs: []string{r.srv.URL}, MaxBatch: 1, QueueSize: 5, BatchWindow: time.Millisecond, Debounce: -1, Timeout: 10 * time.Second})
	w.emit(WebhookEvent{Name: WebhookChannelOccupied, Channel: "first"})
	<-r.in // the sender is now blocked on the first request
	for i := range 10 {
		w.emit(WebhookEvent{Name: WebhookChannelOccupied, Channel: fmt.Sprint("c", i)})
	}
	if got := testutil.ToFloat64(m.webhookDropped); got != 5 {
		t.Errorf("dropped = %v, want 5", got)
	}
	close(r.hold)
	got := waitEvents(t, r, 6)
	var names []string
	for _, e := range got {
		names = append(names, e.Channel)
	}
	if want := []string{"first", "c5", "c6", "c7", "c8", "c9"}; !slices.Equal(names, want) {
		t.Errorf("delivered %v, want %v", names, want)
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Run("500 twice then 200", func(t *testing.T) {
		r := newReceiver(t)
		r.fail = func(n int) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return 0
		}
		w, m := newTestWebhooks(t, WebhookOptions{URLs: []string{r.srv.URL}, BatchWindow: time.Millisecond, Backoff: 10 * time.Millisecond, Debounce: -1})
		w.emit(WebhookEvent{Name: WebhookChannelOccupied, Channel: "a"})
		waitEvents(t, r, 1)
		r.mu.Lock()
		hits := r.hits
		r.mu.Unlock()
		if hits != 3 {
			t.Errorf("attempts = %d, want 3", hits)
		}
		testkit.Eventually(t, 5*time.Second, "sent = 1", func() bool { return testutil.ToFloat64(m.webhookSent) == 1 })
	})
	t.Run("timeouts give up after Attempts", func(t *testing.T) {
		r := newReceiver(t)
		r.hold = make(chan struct{}) // never answers
		w, m := newTestWebhooks(t, WebhookOptions{URLs: []string{r.srv.URL}, BatchWindow: time.Millisecond, Backoff: 10 * time.Millisecond, Timeout: 50 * time.Millisecond, Attempts: 2, Debounce: -1})
		w.emit(WebhookEvent{Name: WebhookChannelOccupied, Channel: "a"})
		testkit.Eventually(t, 10*time.Second, "one failed event", func() bool { return testutil.ToFloat64(m.webhookFailed) == 1 })
		if got := testutil.ToFloat64(m.webhookSent); got != 0 {
			t.Errorf("sent = %v, want 0", got)
		}
	})
}

func TestWebhookData(t *testing.T) {
	for in, want := range map[string]string{`"text"`: "text", `{"a":1}`: `{"a":1}`, ``: ``, `3`: `3`} {
		if got := webhookData(json.RawMessage(in)); got != want {
			t.Errorf("webhookData(%s) = %q, want %q", in, got, want)
		}
	}
}
