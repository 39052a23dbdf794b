package pusher

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Hub. Zero values select the documented defaults.
type Options struct {
	// AppID, Key and Secret are the Pusher app credentials. Key is the
	// public key in /app/{key}; Secret signs channel auth and API requests.
	// Key and Secret are required.
	AppID, Key, Secret string

	// ActivityTimeout is announced to clients (rounded up to whole seconds)
	// and is how long the server waits for any frame from a client before it
	// sends pusher:ping. Zero means 30 s; tests inject shorter values.
	ActivityTimeout time.Duration
	// PongTimeout is how long the server waits for an answer to its
	// pusher:ping before closing with 4201. Zero means ActivityTimeout.
	PongTimeout time.Duration

	// MaxMessageSize bounds inbound WebSocket messages in bytes. Zero means
	// Pusher's 10 KiB.
	MaxMessageSize int64

	// ClientEvents enables client-* events on private and presence
	// channels. Off by default: dashboards only listen.
	ClientEvents bool
	// ClientEventRate is the number of client events a connection may send
	// per second (burst of the same size). Zero means 10, Pusher's limit.
	ClientEventRate int

	// SendQueue is the per-connection send queue length in frames. A
	// subscriber whose queue is full is closed with 4100. Zero means 256.
	SendQueue int
	// WriteTimeout bounds one socket write (a batch). Zero means 10 s.
	WriteTimeout time.Duration
	// MaxBatch bounds how many queued frames go into one socket write.
	// Zero means 128.
	MaxBatch int

	// EncryptionMasterKey enables private-encrypted- channels in the auth
	// handler (32 bytes). Nil means such channels cannot be authorized.
	EncryptionMasterKey []byte

	// CheckOrigin decides whether a WebSocket handshake's Origin is
	// allowed. Nil allows every origin: the hub authenticates with
	// bearer-token-signed channel auth, not cookies.
	CheckOrigin func(r *http.Request) bool

	// Webhooks configure Pusher webhooks (channel_occupied, member_added,
	// client_event…); no URL means none. They are sent from their own
	// goroutine: publishing and subscribing never wait for them.
	Webhooks WebhookOptions

	// CacheTTL is how long a cache channel keeps its last event (cache.go).
	// Zero means DefaultCacheTTL, Pusher's 30 minutes.
	CacheTTL time.Duration
	// SubscriptionCount enables pusher_internal:subscription_count events
	// (count.go), an app setting on Pusher. Off by default, as there.
	SubscriptionCount bool

	// Logger receives connection-level diagnostics. Nil discards.
	Logger *slog.Logger
	// Registerer receives the hub's Prometheus collectors. Nil means the
	// metrics are kept but not registered.
	Registerer prometheus.Registerer
	// Now is the clock used for rate limits and API timestamps. Nil means
	// time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.ActivityTimeout <= 0 {
		o.ActivityTimeout = 30 * time.Second
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = o.ActivityTimeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.ClientEventRate <= 0 {
		o.ClientEventRate = 10
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 128
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Hub is the Pusher protocol server. Its ServeHTTP serves /app/{key}; it is
// safe for concurrent use.
type Hub struct {
	opts     Options
	log      *slog.Logger
	metrics  *metrics
	upgrader websocket.Upgrader

	// socketPrefix makes socket ids differ between hub instances (replicas);
	// socketSeq makes them unique within one.
	socketPrefix uint32
	socketSeq    atomic.Uint64
	forward      func(APIEvent) // see ForwardAPIEvents
	hooks        *webhooks      // nil without webhook URLs
	users        userRegistry   // signed-in connections (user.go)
	peers        Peers          // other replicas (occupancy.go); nil: none
	cache        eventCache     // last events of cache channels (cache.go)

	// mu guards channels, conns, closed and every channel's state. Publishing
	// takes it shared and only enqueues (never blocks on a socket);
	// subscription changes take it exclusively.
	mu       sync.RWMutex
	channels map[string]*channel
	conns    map[*conn]struct{}
	counts   map[string]*countState // subscription_count state (count.go)
	closed   bool
	// wg counts connection goroutine pairs, for Shutdown.
	wg sync.WaitGroup
}

// channel is the state of one occupied channel.
type channel struct {
	name string
	kind ChannelKind
	// subs maps each subscriber to its presence user id ("" elsewhere).
	subs map[*conn]string
	// members counts a presence user's connections and keeps the user_info
	// of the first one, which is what others saw in member_added.
	members map[string]*member
}

type member struct {
	info  json.RawMessage
	conns int
}

// New creates a Hub. It fails if Key or Secret is empty or the metrics cannot
// be registered.
func New(opts Options) (*Hub, error) {
	if opts.Key == "" || opts.Secret == "" {
		return nil, errors.New("pusher: Key and Secret are required")
	}
	opts.setDefaults()
	h := &Hub{
		opts:     opts,
		log:      opts.Logger,
		metrics:  newMetrics(),
		channels: make(map[string]*channel),
		conns:    make(map[*conn]struct{}),
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("pusher: socket id prefix: %w", err)
	}
	// Keep the prefix positive and below 2^31 so ids stay short decimals.
	h.socketPrefix = binary.BigEndian.Uint32(b[:]) >> 1
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      opts.CheckOrigin,
	}
	if h.upgrader.CheckOrigin == nil {
		h.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	}
	if opts.Registerer != nil {
		if err := h.metrics.register(opts.Registerer); err != nil {
			return nil, err
		}
	}
	if len(opts.Webhooks.URLs) > 0 {
		if err := ValidateWebhookEvents(opts.Webhooks.Events); err != nil {
			return nil, err
		}
		h.hooks = newWebhooks(opts.Webhooks, opts.Key, opts.Secret, opts.Logger.With("component", "pusher-webhooks"), h.metrics, opts.Now)
	}
	return h, nil
}

// Mount registers the hub's three endpoints on mux: the WebSocket at
// /app/{key}, channel authorization at POST /api/broadcasting/auth (users
// resolved by auth) and the Pusher HTTP API under /apps/.
func (h *Hub) Mount(mux *http.ServeMux, auth Authenticator) {
	mux.Handle("/app/{key}", h)
	mux.Handle("/api/broadcasting/auth", NewAuthHandler(h, auth))
	mux.Handle("/api/broadcasting/user-auth", NewUserAuthHandler(h, auth))
	mux.Handle("/apps/", NewAPIHandler(h))
}

// Key returns the app key clients connect with.
func (h *Hub) Key() string { return h.opts.Key }

// AppID returns the app id of the HTTP API.
func (h *Hub) AppID() string { return h.opts.AppID }

func (h *Hub) newSocketID() string {
	return strconv.FormatUint(uint64(h.socketPrefix), 10) + "." + strconv.FormatUint(h.socketSeq.Add(1), 10)
}

// ServeHTTP upgrades a request for /app/{key} to a Pusher connection. The key
// is the last path segment, so the hub can be mounted under any prefix
// ending in /app/.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" {
		key = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	hw := &hijackWrapper{ResponseWriter: w}
	ws, err := h.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		// The upgrader already answered with an HTTP error.
		h.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	if key != h.opts.Key {
		h.metrics.authFailures.WithLabelValues("unknown_app_key").Inc()
		if len(key) > 64 {
			key = key[:64] + "…"
		}
		h.reject(ws, CodeAppNotFound, "App key "+strconv.Quote(key)+" does not exist")
		return
	}
	c := newConn(h, ws, hw.conn)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.reject(ws, CodeReconnect, "server is shutting down")
		return
	}
	h.conns[c] = struct{}{}
	// Add under the lock: Shutdown sets closed under it, so no Add can
	// follow its Wait.
	h.wg.Add(2)
	h.metrics.connections.Inc()
	h.mu.Unlock()
	c.enqueueData(encodeEventJSON("pusher:connection_established", "", struct {
		SocketID        string `json:"socket_id"`
		ActivityTimeout int    `json:"activity_timeout"`
	}{c.socketID, ceilSeconds(h.opts.ActivityTimeout)}))
	go func() { defer h.wg.Done(); c.writeLoop() }()
	go func() { defer h.wg.Done(); c.readLoop() }()
}

// reject answers a connection the hub will not serve with a pusher:error
// and a close frame carrying the same code, waits briefly for the client's
// close reply so the frames are not lost to a TCP reset, and closes it.
func (h *Hub) reject(ws *websocket.Conn, code int, message string) {
	h.metrics.closes.WithLabelValues(strconv.Itoa(code)).Inc()
	deadline := time.Now().Add(h.opts.WriteTimeout)
	_ = ws.SetWriteDeadline(deadline)
	_ = ws.WriteMessage(websocket.TextMessage, encodeError(code, message))
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, truncateReason(message)), deadline)
	_ = ws.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	_ = ws.Close()
}

func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		return 1
	}
	return s
}

// unregister removes c from every channel, telling presence members about
// users whose last connection left. It is idempotent.
func (h *Hub) unregister(c *conn) {
	h.users.remove(c)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	h.metrics.connections.Dec()
	for name := range c.subs {
		h.removeSubLocked(c, name)
	}
	c.subs = nil
}

// removeSubLocked unsubscribes c from one channel. h.mu must be held
// exclusively.
func (h *Hub) removeSubLocked(c *conn, name string) {
	ch := h.channels[name]
	if ch == nil {
		return
	}
	userID, ok := ch.subs[c]
	if !ok {
		return
	}
	delete(ch.subs, c)
	delete(c.subs, name)
	h.metrics.subscriptions.Dec()
	if ch.kind == ChannelPresence {
		if m := ch.members[userID]; m != nil {
			m.conns--
			if m.conns == 0 {
				delete(ch.members, userID)
				h.hooks.emit(WebhookEvent{Name: WebhookMemberRemoved, Channel: name, UserID: userID})
				h.broadcastLocked(ch, encodeEventJSON("pusher_internal:member_removed", name,
					struct {
						UserID string `json:"user_id"`
					}{userID}), nil)
			}
		}
	}
	h.countChangedLocked(ch)
	if len(ch.subs) == 0 {
		delete(h.channels, name)
		h.metrics.channels.Dec()
		h.hooks.emit(WebhookEvent{Name: WebhookChannelVacated, Channel: name})
	}
}

// subscribe adds c to a channel after its authorization was checked. For
// presence channels userID and info describe the member. It returns the data
// of pusher_internal:subscription_succeeded.
func (h *Hub) subscribe(c *conn, name string, kind ChannelKind, userID string, info json.RawMessage) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return errors.New("connection closed")
	}
	if ch := h.channels[name]; ch != nil {
		if prev, ok := ch.subs[c]; ok && prev != userID {
			// Re-subscribing as another presence user: leave as the old
			// one first so member counts stay right.
			h.removeSubLocked(c, name)
		}
	}
	ch := h.channels[name]
	if ch == nil {
		ch = &channel{name: name, kind: kind, subs: make(map[*conn]string)}
		if kind == ChannelPresence {
			ch.members = make(map[string]*member)
		}
		h.channels[name] = ch
		h.metrics.channels.Inc()
		h.hooks.emit(WebhookEvent{Name: WebhookChannelOccupied, Channel: name})
	}
	_, already := ch.subs[c]
	if !already {
		ch.subs[c] = userID
		c.subs[name] = struct{}{}
		h.metrics.subscriptions.Inc()
		if kind == ChannelPresence {
			m := ch.members[userID]
			if m == nil {
				m = &member{info: info}
				ch.members[userID] = m
				h.hooks.emit(WebhookEvent{Name: WebhookMemberAdded, Channel: name, UserID: userID})
				// Tell the others before adding c's own frame, so the
				// subscriber does not see itself being added.
				h.broadcastLocked(ch, encodeEventJSON("pusher_internal:member_added", name,
					struct {
						UserID   string          `json:"user_id"`
						UserInfo json.RawMessage `json:"user_info,omitempty"`
					}{userID, info}), c)
			}
			m.conns++
		}
	}
	// Queue the confirmation under the lock: no broadcast on this channel
	// can reach c before it.
	var data []byte
	if kind == ChannelPresence {
		data = encodeEventJSON("pusher_internal:subscription_succeeded", name, presenceData(ch))
	} else {
		data = encodeEvent("pusher_internal:subscription_succeeded", name, "{}")
	}
	c.enqueueData(data)
	h.cacheReplayLocked(c, name)
	if !already {
		h.countChangedLocked(ch)
	}
	return nil
}

// presenceData builds the presence block of subscription_succeeded.
func presenceData(ch *channel) any {
	ids := make([]string, 0, len(ch.members))
	hash := make(map[string]json.RawMessage, len(ch.members))
	for id, m := range ch.members {
		ids = append(ids, id)
		info := m.info
		if len(info) == 0 {
			info = json.RawMessage("null")
		}
		hash[id] = info
	}
	sort.Strings(ids)
	type presence struct {
		IDs   []string                   `json:"ids"`
		Hash  map[string]json.RawMessage `json:"hash"`
		Count int                        `json:"count"`
	}
	return struct {
		Presence presence `json:"presence"`
	}{presence{ids, hash, len(ids)}}
}

// unsubscribe removes c from a channel; unknown channels are ignored.
func (h *Hub) unsubscribe(c *conn, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	h.removeSubLocked(c, name)
}

// isSubscribed reports whether c is subscribed to name, and as which
// presence user.
func (h *Hub) isSubscribed(c *conn, name string) (userID string, ok bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ch := h.channels[name]
	if ch == nil {
		return "", false
	}
	userID, ok = ch.subs[c]
	return userID, ok
}

// broadcastLocked queues an encoded frame to every subscriber of ch except
// skip. h.mu must be held (shared is enough). With more than one recipient
// the frame is prepared once and shared.
func (h *Hub) broadcastLocked(ch *channel, frame []byte, skip *conn) int {
	n := len(ch.subs)
	if skip != nil {
		if _, ok := ch.subs[skip]; ok {
			n--
		}
	}
	if n <= 0 {
		return 0
	}
	msg := outMsg{data: frame}
	if n > 1 {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
		if err == nil {
			msg = outMsg{prepared: pm}
		}
	}
	sent := 0
	for c := range ch.subs {
		if c == skip {
			continue
		}
		if c.enqueue(msg) {
			sent++
		}
	}
	return sent
}

// ErrInvalidChannel is returned by Publish for a malformed channel name.
var ErrInvalidChannel = errors.New("invalid channel name")

// ErrInvalidEvent is returned by Publish for an empty or too long event name.
var ErrInvalidEvent = errors.New("invalid event name")

// Publish sends event with data, marshalled to JSON, to every subscriber of
// channel except the connection whose socket id is exceptSocketID ("" means
// nobody is excluded). It never blocks on a slow subscriber. Publishing to a
// channel without subscribers is not an error.
func (h *Hub) Publish(channel, event string, data any, exceptSocketID string) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("publish %s on %s: marshal data: %w", event, channel, err)
	}
	return h.PublishRaw(channel, event, string(b), exceptSocketID)
}

// PublishRaw is Publish for data that is already encoded: the string is
// delivered to clients as it is (the HTTP API's data field).
func (h *Hub) PublishRaw(channel, event, data, exceptSocketID string) error {
	if userID, ok := strings.CutPrefix(channel, ServerToUserPrefix); ok {
		return h.sendToUserRaw(userID, event, data, exceptSocketID)
	}
	if !ValidChannelName(channel) {
		return fmt.Errorf("publish %s: %w: %q", event, ErrInvalidChannel, channel)
	}
	if !validEventName(event) {
		return fmt.Errorf("publish on %s: %w", channel, ErrInvalidEvent)
	}
	h.metrics.published.Inc()
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.cacheStoreLocked(channel, event, data)
	ch := h.channels[channel]
	if ch == nil {
		return nil
	}
	var skip *conn
	if exceptSocketID != "" {
		for c := range ch.subs {
			if c.socketID == exceptSocketID {
				skip = c
				break
			}
		}
	}
	h.broadcastLocked(ch, encodeEvent(event, channel, data), skip)
	return nil
}

// ChannelInfo describes one occupied channel.
type ChannelInfo struct {
	// Name is the channel name.
	Name string `json:"name"`
	// SubscriptionCount is the number of subscribed connections.
	SubscriptionCount int `json:"subscription_count"`
	// UserCount is the number of distinct presence users (presence
	// channels only; zero elsewhere).
	UserCount int `json:"user_count"`
}

// Channels lists the occupied channels sorted by name.
func (h *Hub) Channels() []ChannelInfo {
	h.mu.RLock()
	out := make([]ChannelInfo, 0, len(h.channels))
	for _, ch := range h.channels {
		out = append(out, ch.info())
	}
	h.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Channel returns the state of one channel; ok is false if nobody is
// subscribed to it.
func (h *Hub) Channel(name string) (info ChannelInfo, ok bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ch := h.channels[name]
	if ch == nil {
		return ChannelInfo{Name: name}, false
	}
	return ch.info(), true
}

// PresenceUsers returns the user ids present on a presence channel, sorted.
func (h *Hub) PresenceUsers(name string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ch := h.channels[name]
	if ch == nil {
		return nil
	}
	ids := make([]string, 0, len(ch.members))
	for id := range ch.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (ch *channel) info() ChannelInfo {
	return ChannelInfo{Name: ch.name, SubscriptionCount: len(ch.subs), UserCount: len(ch.members)}
}

// ConnectionCount returns the number of open connections.
func (h *Hub) ConnectionCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// Shutdown refuses new connections, closes every open one with 4200 (pusher-js
// reconnects at once, to another replica) and waits until their goroutines
// have finished or ctx is done.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.requestClose(CodeReconnect, "server is shutting down", true)
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		// The connections' vacated and member_removed events are queued
		// now: send them once before stopping.
		return h.hooks.close(ctx)
	case <-ctx.Done():
		_ = h.hooks.close(ctx)
		return fmt.Errorf("pusher shutdown: %w", ctx.Err())
	}
}
