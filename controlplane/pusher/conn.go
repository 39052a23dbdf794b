package pusher

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// closeGrace is how long the server waits for the client's close reply after
// sending a close frame before it drops the TCP connection.
const closeGrace = 2 * time.Second

// maxCloseReason is the longest close reason that fits a control frame
// (125 bytes minus the 2-byte code).
const maxCloseReason = 123

// truncateReason cuts a close reason to what fits a control frame, on a
// UTF-8 boundary.
func truncateReason(s string) string {
	if len(s) <= maxCloseReason {
		return s
	}
	s = s[:maxCloseReason]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// outMsg is one queued frame: a broadcast prepared once for all recipients,
// or bytes meant for this connection only.
type outMsg struct {
	prepared *websocket.PreparedMessage
	data     []byte
}

// conn is one client connection. The reader goroutine parses and handles
// frames; the writer goroutine owns the socket's write side, drains the send
// queue in batches and runs the activity timer.
type conn struct {
	hub      *Hub
	ws       *websocket.Conn
	nc       *batchConn
	socketID string
	send     chan outMsg

	// subs is the set of channel names c is subscribed to; guarded by
	// hub.mu.
	subs map[string]struct{}

	closeOnce sync.Once
	closing   chan struct{}
	closed    atomic.Bool
	// Set before closing is closed; read by the writer after.
	closeCode   int
	closeReason string
	closeFrames bool
	// writeBroken is set by the writer after a failed write: a partial
	// frame may be on the wire, so no close frame can follow.
	writeBroken bool

	readerDone chan struct{}
	// lastRead is the monotonic time (ns since connStart) of the last frame
	// received, for the activity timeout.
	lastRead  atomic.Int64
	connStart time.Time
	// awaitingPong is set while a server ping is unanswered; the first
	// frame after it signals answered.
	awaitingPong atomic.Bool
	answered     chan struct{}

	// Client-event token bucket; used by the reader goroutine only.
	tokens   float64
	tokensAt time.Time
}

func newConn(h *Hub, ws *websocket.Conn, nc *batchConn) *conn {
	c := &conn{
		hub:        h,
		ws:         ws,
		nc:         nc,
		socketID:   h.newSocketID(),
		send:       make(chan outMsg, h.opts.SendQueue),
		subs:       make(map[string]struct{}),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		answered:   make(chan struct{}, 1),
		connStart:  time.Now(),
		tokens:     float64(h.opts.ClientEventRate),
		tokensAt:   h.opts.Now(),
	}
	return c
}

// enqueue queues m without blocking. A full queue makes c a slow consumer:
// it is closed with 4100 and the frame is dropped. It reports whether m was
// queued.
func (c *conn) enqueue(m outMsg) bool {
	if c.closed.Load() {
		return false
	}
	select {
	case c.send <- m:
		return true
	default:
		c.hub.metrics.messagesDropped.Inc()
		if c.requestClose(CodeOverCapacity, "over capacity: client is not reading fast enough", true) {
			c.hub.metrics.slowConsumerCloses.Inc()
			c.hub.log.Info("closing slow consumer", "socket_id", c.socketID, "queue", cap(c.send))
		}
		return false
	}
}

func (c *conn) enqueueData(b []byte) bool { return c.enqueue(outMsg{data: b}) }

// requestClose asks the writer to end the connection. With frames, it first
// sends pusher:error and a close frame with code and reason; without, it
// only drops the socket (the peer is already gone). Only the first request
// counts; it reports whether this call was it. It never blocks, so it may be
// called with hub.mu held.
func (c *conn) requestClose(code int, reason string, frames bool) bool {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closeCode, c.closeReason, c.closeFrames = code, reason, frames
		c.closed.Store(true)
		close(c.closing)
		// Leave the channels now rather than when the writer gets to it:
		// it may be blocked in a write to this very (slow) client. A
		// goroutine, because the caller may hold hub.mu.
		go c.hub.unregister(c)
	})
	return first
}

// writeLoop is the writer goroutine.
func (c *conn) writeLoop() {
	defer func() {
		_ = c.ws.Close()
		c.hub.unregister(c)
	}()
	opts := &c.hub.opts
	idle := time.NewTimer(opts.ActivityTimeout)
	defer idle.Stop()
	var pingSent int64 = -1 // lastRead value when our ping went out; -1: none outstanding
	for {
		// A close request wins over queued frames.
		select {
		case <-c.closing:
			c.finish()
			return
		default:
		}
		select {
		case <-c.closing:
			c.finish()
			return
		case m := <-c.send:
			if err := c.writeBatch(m); err != nil {
				c.hub.log.Debug("write failed", "socket_id", c.socketID, "err", err)
				c.writeBroken = true
				c.requestClose(0, "", false)
				c.finish()
				return
			}
		case <-c.answered:
			// The client spoke while our ping was outstanding: the next
			// ping is due one activity timeout after that.
			pingSent = -1
			idle.Reset(max(opts.ActivityTimeout-c.idleFor(), 0))
		case <-idle.C:
			since := c.idleFor()
			switch {
			case pingSent >= 0 && c.lastRead.Load() == pingSent:
				// Nothing arrived since our ping.
				c.requestClose(CodePongNotReceived, "pong reply not received", true)
			case since < opts.ActivityTimeout:
				pingSent = -1
				idle.Reset(opts.ActivityTimeout - since)
			default:
				pingSent = c.lastRead.Load()
				c.awaitingPong.Store(true)
				if err := c.writeBatch(outMsg{data: pingFrame}); err != nil {
					c.writeBroken = true
					c.requestClose(0, "", false)
					continue
				}
				idle.Reset(opts.PongTimeout)
			}
		}
	}
}

// idleFor is how long the client has been silent.
func (c *conn) idleFor() time.Duration {
	return time.Duration(time.Since(c.connStart).Nanoseconds() - c.lastRead.Load())
}

var (
	pingFrame = encodeEvent("pusher:ping", "", "{}")
	pongFrame = encodeEvent("pusher:pong", "", "{}")
)

// writeBatch writes first and whatever else is queued (up to MaxBatch
// frames) as one socket write.
func (c *conn) writeBatch(first outMsg) error {
	opts := &c.hub.opts
	c.nc.begin()
	n := 0
	err := c.writeOne(first)
	n++
drain:
	for err == nil && n < opts.MaxBatch {
		select {
		case m := <-c.send:
			err = c.writeOne(m)
			n++
		default:
			break drain
		}
	}
	if ferr := c.nc.flush(time.Now().Add(opts.WriteTimeout)); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	c.hub.metrics.messagesSent.Add(float64(n))
	c.hub.metrics.writeBatches.Inc()
	return nil
}

func (c *conn) writeOne(m outMsg) error {
	if m.prepared != nil {
		return c.ws.WritePreparedMessage(m.prepared)
	}
	return c.ws.WriteMessage(websocket.TextMessage, m.data)
}

// finish runs the close sequence the first close request asked for. The
// connection leaves its channels first, so others see member_removed at once
// and publishers stop skipping over it.
func (c *conn) finish() {
	c.hub.unregister(c)
	if !c.closeFrames || c.writeBroken {
		return
	}
	code, reason := c.closeCode, truncateReason(c.closeReason)
	c.hub.metrics.closes.WithLabelValues(strconv.Itoa(code)).Inc()
	deadline := time.Now().Add(c.hub.opts.WriteTimeout)
	c.nc.begin()
	err := c.ws.WriteMessage(websocket.TextMessage, encodeError(code, c.closeReason))
	if err == nil {
		err = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
	}
	if ferr := c.nc.flush(deadline); err == nil {
		err = ferr
	}
	if err != nil {
		return
	}
	// Wait for the client's close reply (the reader sees it and exits) so
	// the frames are not lost to a reset; a client that never answers gets
	// dropped after the grace period.
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	}
}

// readLoop is the reader goroutine.
func (c *conn) readLoop() {
	defer func() {
		close(c.readerDone)
		c.hub.unregister(c)
		c.requestClose(0, "", false)
	}()
	limit := c.hub.opts.MaxMessageSize
	// WebSocket-level pings and pongs count as activity too ("any frame").
	c.ws.SetPingHandler(func(data string) error {
		c.touch()
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.hub.opts.WriteTimeout))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	c.ws.SetPongHandler(func(string) error { c.touch(); return nil })
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			return
		}
		if c.closed.Load() {
			// Closing: only wait for the client's close reply.
			continue
		}
		c.touch()
		buf, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return
		}
		if int64(len(buf)) > limit {
			c.hub.metrics.badFrames.Inc()
			c.requestClose(CodeFrameTooLarge, fmt.Sprintf("message larger than %d bytes", limit), true)
			// Keep reading (and discarding) until the close reply or the
			// grace period, so the error reaches the client.
			_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
			continue
		}
		if typ != websocket.TextMessage {
			c.hub.metrics.badFrames.Inc()
			c.enqueueData(encodeError(0, "binary frames are not supported: send JSON text frames"))
			continue
		}
		c.handle(buf)
	}
}

// touch records client activity for the activity timeout, and wakes the
// writer if it is waiting for an answer to its ping.
func (c *conn) touch() {
	c.lastRead.Store(time.Since(c.connStart).Nanoseconds())
	if c.awaitingPong.CompareAndSwap(true, false) {
		select {
		case c.answered <- struct{}{}:
		default:
		}
	}
}

// handle dispatches one text frame.
func (c *conn) handle(b []byte) {
	f, err := DecodeFrame(b)
	if err != nil {
		c.hub.metrics.badFrames.Inc()
		c.enqueueData(encodeError(0, "invalid frame: "+err.Error()))
		return
	}
	switch f.Event {
	case "pusher:ping":
		c.enqueueData(pongFrame)
	case "pusher:pong":
		// Activity is already recorded.
	case "pusher:subscribe":
		c.handleSubscribe(f.Data)
	case "pusher:signin":
		c.handleSignin(f.Data)
	case "pusher:unsubscribe":
		var d struct {
			Channel string `json:"channel"`
		}
		if err := decodeData(f.Data, &d); err != nil || d.Channel == "" {
			c.hub.metrics.badFrames.Inc()
			c.enqueueData(encodeError(0, `pusher:unsubscribe needs data {"channel": name}`))
			return
		}
		c.hub.unsubscribe(c, d.Channel)
	default:
		if strings.HasPrefix(f.Event, "client-") {
			c.handleClientEvent(f)
			return
		}
		c.hub.metrics.badFrames.Inc()
		c.enqueueData(encodeError(0, "unsupported event "+strconv.Quote(f.Event)))
	}
}

// subscriptionError tells the client a subscription was refused without
// closing the connection. pusher-js hands it to the channel's
// pusher:subscription_error listeners (Echo's .error()).
func (c *conn) subscriptionError(channel, reason string, status int) {
	c.enqueueData(encodeEventJSON("pusher:subscription_error", channel, struct {
		Type   string `json:"type"`
		Error  string `json:"error"`
		Status int    `json:"status"`
	}{"AuthError", reason, status}))
}

func (c *conn) handleSubscribe(data json.RawMessage) {
	var d struct {
		Channel     string          `json:"channel"`
		Auth        string          `json:"auth"`
		ChannelData json.RawMessage `json:"channel_data"`
	}
	if err := decodeData(data, &d); err != nil {
		c.hub.metrics.badFrames.Inc()
		c.enqueueData(encodeError(0, `pusher:subscribe needs data {"channel": name, "auth"?, "channel_data"?}`))
		return
	}
	if strings.HasPrefix(d.Channel, ServerToUserPrefix) {
		c.subscribeServerToUser(d.Channel)
		return
	}
	if !ValidChannelName(d.Channel) {
		c.hub.metrics.badFrames.Inc()
		c.enqueueData(encodeError(0, "invalid channel name: at most 164 characters from [-a-zA-Z0-9_=@,.;]"))
		return
	}
	kind := KindOf(d.Channel)
	if !kind.needsAuth() {
		_ = c.hub.subscribe(c, d.Channel, kind, "", nil)
		return
	}
	var channelData string
	if kind == ChannelPresence {
		if len(d.ChannelData) == 0 || d.ChannelData[0] != '"' || json.Unmarshal(d.ChannelData, &channelData) != nil {
			c.hub.metrics.authFailures.WithLabelValues("bad_channel_data").Inc()
			c.subscriptionError(d.Channel, "presence channels need channel_data (a JSON string)", 401)
			return
		}
	}
	if d.Auth == "" {
		c.hub.metrics.authFailures.WithLabelValues("missing_auth").Inc()
		c.subscriptionError(d.Channel, "auth is required for "+kind.String()+" channels", 401)
		return
	}
	opts := &c.hub.opts
	if !VerifyChannelAuth(opts.Key, opts.Secret, c.socketID, d.Channel, channelData, d.Auth) {
		c.hub.metrics.authFailures.WithLabelValues("bad_signature").Inc()
		c.subscriptionError(d.Channel, "invalid signature for this socket and channel", 401)
		return
	}
	var userID string
	var info json.RawMessage
	if kind == ChannelPresence {
		var err error
		userID, info, err = parseChannelData(channelData)
		if err != nil {
			c.hub.metrics.authFailures.WithLabelValues("bad_channel_data").Inc()
			c.subscriptionError(d.Channel, err.Error(), 401)
			return
		}
	}
	_ = c.hub.subscribe(c, d.Channel, kind, userID, info)
}

// parseChannelData extracts a presence member from channel_data
// {"user_id": string|number, "user_info"?: any}.
func parseChannelData(s string) (userID string, info json.RawMessage, err error) {
	var cd struct {
		UserID   json.RawMessage `json:"user_id"`
		UserInfo json.RawMessage `json:"user_info"`
	}
	if err := json.Unmarshal([]byte(s), &cd); err != nil {
		return "", nil, errors.New("channel_data is not a JSON object")
	}
	switch {
	case len(cd.UserID) == 0:
		return "", nil, errors.New("channel_data has no user_id")
	case cd.UserID[0] == '"':
		if err := json.Unmarshal(cd.UserID, &userID); err != nil {
			return "", nil, errors.New("channel_data user_id is not a string")
		}
	default:
		// Laravel sends numeric ids; keep their decimal text.
		var n json.Number
		if err := json.Unmarshal(cd.UserID, &n); err != nil {
			return "", nil, errors.New("channel_data user_id must be a string or a number")
		}
		userID = n.String()
	}
	if userID == "" || len(userID) > maxUserIDLength {
		return "", nil, fmt.Errorf("channel_data user_id must have 1 to %d characters", maxUserIDLength)
	}
	if len(cd.UserInfo) > maxUserInfoSize {
		return "", nil, fmt.Errorf("channel_data user_info is larger than %d bytes", maxUserInfoSize)
	}
	if string(cd.UserInfo) == "null" {
		cd.UserInfo = nil
	}
	return userID, cd.UserInfo, nil
}

// handleClientEvent relays a client-* event to the other subscribers of a
// private or presence channel, when client events are enabled.
func (c *conn) handleClientEvent(f Frame) {
	h := c.hub
	reject := func(result, message string) {
		h.metrics.clientEvents.WithLabelValues(result).Inc()
		c.enqueueData(encodeError(CodeClientEventRejected, message))
	}
	if !h.opts.ClientEvents {
		reject("disabled", "client events are disabled on this server")
		return
	}
	kind := KindOf(f.Channel)
	if kind != ChannelPrivate && kind != ChannelPresence {
		reject("wrong_channel", "client events are only allowed on private- and presence- channels")
		return
	}
	userID, ok := h.isSubscribed(c, f.Channel)
	if !ok {
		reject("not_subscribed", "client event on a channel this connection is not subscribed to")
		return
	}
	if !c.takeToken() {
		reject("rate_limited", fmt.Sprintf("client event rate limit exceeded (%d per second)", h.opts.ClientEventRate))
		return
	}
	out := outFrame{Event: f.Event, Channel: f.Channel, UserID: userID}
	if f.Data != nil {
		out.Data = f.Data
	}
	frame := mustMarshal(out)
	// Queue the webhook before anyone receives the event, so that what a
	// receiver does next (say, leave) comes after it in the webhooks.
	h.hooks.emit(WebhookEvent{Name: WebhookClientEvent, Channel: f.Channel, Event: f.Event, Data: webhookData(f.Data), SocketID: c.socketID, UserID: userID})
	h.mu.RLock()
	if ch := h.channels[f.Channel]; ch != nil {
		h.broadcastLocked(ch, frame, c)
	}
	h.mu.RUnlock()
	h.metrics.clientEvents.WithLabelValues("relayed").Inc()
}

// takeToken takes one client-event token from c's bucket (refilled at
// ClientEventRate per second, capped at the same burst).
func (c *conn) takeToken() bool {
	rate := float64(c.hub.opts.ClientEventRate)
	now := c.hub.opts.Now()
	if elapsed := now.Sub(c.tokensAt).Seconds(); elapsed > 0 {
		c.tokens += elapsed * rate
		if c.tokens > rate {
			c.tokens = rate
		}
	}
	c.tokensAt = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// webhookData is a client event's data as Pusher's client_event webhook
// carries it: a string, the client's JSON text when it sent an object.
func webhookData(data json.RawMessage) string {
	var s string
	if len(data) > 0 && data[0] == '"' && json.Unmarshal(data, &s) == nil {
		return s
	}
	return string(data)
}
