package pusher

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Webhook event names, as Pusher sends them.
const (
	WebhookChannelOccupied = "channel_occupied"
	WebhookChannelVacated  = "channel_vacated"
	WebhookMemberAdded     = "member_added"
	WebhookMemberRemoved   = "member_removed"
	WebhookClientEvent     = "client_event"
	WebhookCacheMiss       = "cache_miss"
)

// WebhookEventNames lists every webhook event the hub can send.
var WebhookEventNames = []string{WebhookChannelOccupied, WebhookChannelVacated, WebhookMemberAdded, WebhookMemberRemoved, WebhookClientEvent, WebhookCacheMiss}

// WebhookOptions configure Pusher webhooks: the hub POSTs batches of channel
// existence, presence and client events to every URL. Zero values select the
// documented defaults; no URL means no webhooks.
type WebhookOptions struct {
	// URLs receive every batch.
	URLs []string
	// Events filters the event names sent (see WebhookEventNames). Empty
	// means all.
	Events []string
	// BatchWindow is how long the sender collects events after the first
	// one before it posts them. Zero means 250 ms.
	BatchWindow time.Duration
	// MaxBatch bounds the events in one request. Zero means 100.
	MaxBatch int
	// QueueSize bounds the events waiting to be sent, and separately the
	// removals waiting out Debounce; when either is full its oldest event
	// is dropped (and counted). Zero means 10000.
	QueueSize int
	// Attempts is how often one batch is tried per URL. Zero means 5.
	Attempts int
	// Backoff is the wait before the second attempt, doubled after each
	// failure. Zero means 500 ms.
	Backoff time.Duration
	// Timeout bounds one request. Zero means 5 s.
	Timeout time.Duration
	// Debounce delays member_removed and channel_vacated: when the member
	// (or a subscriber) comes back within it, neither the removal nor the
	// new member_added (channel_occupied) is sent. Pusher does this for 3 s
	// ("a user who disconnects and reconnects within 3 seconds" produces no
	// webhook). Zero means 3 s; negative means no delay.
	Debounce time.Duration
	// Client sends the requests. Nil means a client without redirects.
	Client *http.Client
}

func (o *WebhookOptions) setDefaults() {
	if o.BatchWindow <= 0 {
		o.BatchWindow = 250 * time.Millisecond
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 100
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 10000
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Debounce == 0 {
		o.Debounce = 3 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
}

// ValidateWebhookEvents reports an error naming the known events when names
// holds an unknown one.
func ValidateWebhookEvents(names []string) error {
	for _, n := range names {
		if !slices.Contains(WebhookEventNames, n) {
			return fmt.Errorf("unknown Pusher webhook event %q (known: %v)", n, WebhookEventNames)
		}
	}
	return nil
}

// WebhookEvent is one event of a webhook body, in Pusher's shape.
type WebhookEvent struct {
	Name     string `json:"name"`
	Channel  string `json:"channel"`
	Event    string `json:"event,omitempty"`
	Data     string `json:"data,omitempty"`
	SocketID string `json:"socket_id,omitempty"`
	UserID   string `json:"user_id,omitempty"`
}

// WebhookBody is the JSON body of one webhook request.
type WebhookBody struct {
	TimeMS int64          `json:"time_ms"`
	Events []WebhookEvent `json:"events"`
}

// SignWebhook returns the X-Pusher-Signature of body: hex HMAC-SHA256 with
// the app secret.
func SignWebhook(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// pendingEvent is a debounced removal waiting for its deadline.
type pendingEvent struct {
	key string
	ev  WebhookEvent
	due time.Time
}

// webhooks queues events from the hub and posts them from one goroutine. emit
// never blocks: the hub calls it under its lock.
type webhooks struct {
	opts    WebhookOptions
	key     string
	secret  string
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
	allowed map[string]bool

	mu      sync.Mutex
	queue   []WebhookEvent
	pending []pendingEvent
	closed  bool
	wake    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newWebhooks(opts WebhookOptions, key, secret string, log *slog.Logger, m *metrics, now func() time.Time) *webhooks {
	opts.setDefaults()
	w := &webhooks{
		opts: opts, key: key, secret: secret, log: log, metrics: m, now: now,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	if len(opts.Events) > 0 {
		w.allowed = make(map[string]bool)
		for _, n := range opts.Events {
			w.allowed[n] = true
		}
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	return w
}

func debounceKey(ev WebhookEvent) string {
	return ev.Channel + "\x00" + ev.UserID
}

// emit queues ev. Removals wait Debounce in pending; an addition matching a
// pending removal cancels both.
func (w *webhooks) emit(ev WebhookEvent) {
	if w == nil || (w.allowed != nil && !w.allowed[ev.Name]) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if w.opts.Debounce > 0 {
		switch ev.Name {
		case WebhookMemberRemoved, WebhookChannelVacated:
			if len(w.pending) >= w.opts.QueueSize {
				w.pending = w.pending[1:]
				w.metrics.webhookDropped.Inc()
			}
			w.pending = append(w.pending, pendingEvent{key: ev.Name + "\x00" + debounceKey(ev), ev: ev, due: w.now().Add(w.opts.Debounce)})
			w.signal()
			return
		case WebhookMemberAdded, WebhookChannelOccupied:
			undo := WebhookMemberRemoved
			if ev.Name == WebhookChannelOccupied {
				undo = WebhookChannelVacated
			}
			k := undo + "\x00" + debounceKey(ev)
			for i, p := range w.pending {
				if p.key == k {
					w.pending = slices.Delete(w.pending, i, i+1)
					return
				}
			}
		}
	}
	w.pushLocked(ev)
	w.signal()
}

func (w *webhooks) pushLocked(ev WebhookEvent) {
	if len(w.queue) >= w.opts.QueueSize {
		// Reslicing is O(1) under the hub's lock; append moves the queue
		// to a fresh array now and then (amortized O(1)).
		w.queue = w.queue[1:]
		w.metrics.webhookDropped.Inc()
	}
	w.queue = append(w.queue, ev)
}

func (w *webhooks) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// releaseLocked moves due removals to the queue and returns when the next
// one is due (zero when none is pending).
func (w *webhooks) releaseLocked(now time.Time) time.Time {
	var next time.Time
	kept := w.pending[:0]
	for _, p := range w.pending {
		if !p.due.After(now) {
			w.pushLocked(p.ev)
			continue
		}
		if next.IsZero() || p.due.Before(next) {
			next = p.due
		}
		kept = append(kept, p)
	}
	w.pending = kept
	return next
}

func (w *webhooks) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		w.mu.Lock()
		next := w.releaseLocked(w.now())
		n := len(w.queue)
		w.mu.Unlock()
		if n > 0 {
			// Collect for one window after the first event, unless a full
			// batch is already there.
			if n < w.opts.MaxBatch && !w.sleep(w.opts.BatchWindow) {
				w.flush()
				return
			}
			w.mu.Lock()
			w.releaseLocked(w.now())
			k := min(len(w.queue), w.opts.MaxBatch)
			batch := slices.Clone(w.queue[:k])
			w.queue = w.queue[k:]
			w.mu.Unlock()
			w.send(w.ctx, batch)
			continue
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(w.now()), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-w.wake:
		case <-timer.C:
		case <-w.ctx.Done():
			w.flush()
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// sleep waits d; false means the sender is stopping.
func (w *webhooks) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// flush sends what is queued (pending removals included) once, with one
// attempt, when the hub shuts down.
func (w *webhooks) flush() {
	w.mu.Lock()
	w.closed = true
	for _, p := range w.pending {
		w.pushLocked(p.ev)
	}
	w.pending = nil
	q := w.queue
	w.queue = nil
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.Timeout)
	defer cancel()
	for len(q) > 0 {
		k := min(len(q), w.opts.MaxBatch)
		for _, u := range w.opts.URLs {
			if err := w.post(ctx, u, q[:k]); err != nil {
				w.fail(u, q[:k], err)
			} else {
				w.metrics.webhookSent.Add(float64(k))
			}
		}
		q = q[k:]
	}
}

func (w *webhooks) fail(url string, batch []WebhookEvent, err error) {
	w.metrics.webhookFailed.Add(float64(len(batch)))
	w.log.Warn("pusher webhook failed", "url", url, "events", len(batch), "err", err)
}

// send posts batch to every URL, retrying with backoff.
func (w *webhooks) send(ctx context.Context, batch []WebhookEvent) {
	for _, u := range w.opts.URLs {
		backoff := w.opts.Backoff
		var err error
		for attempt := 1; attempt <= w.opts.Attempts; attempt++ {
			if err = w.post(ctx, u, batch); err == nil {
				break
			}
			w.log.Debug("pusher webhook attempt failed", "url", u, "attempt", attempt, "err", err)
			if attempt == w.opts.Attempts || !w.sleep(backoff) {
				break
			}
			backoff *= 2
		}
		if err != nil {
			w.fail(u, batch, err)
			continue
		}
		w.metrics.webhookSent.Add(float64(len(batch)))
	}
}

func (w *webhooks) post(ctx context.Context, url string, batch []WebhookEvent) error {
	body, err := json.Marshal(WebhookBody{TimeMS: w.now().UnixMilli(), Events: batch})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Pusher-Key", w.key)
	req.Header.Set("X-Pusher-Signature", SignWebhook(w.secret, body))
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// close stops the sender after one last best-effort flush, or when ctx ends.
func (w *webhooks) close(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.cancel()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("pusher webhooks: flush not finished"), ctx.Err())
	}
}
