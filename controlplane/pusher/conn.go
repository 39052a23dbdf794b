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

// outMsg is one queued frame: a broadcast prepared once for all recipients
// (data is then the same frame, unprepared), or bytes meant for this
// connection only.
type outMsg struct {
	prepared *websocket.PreparedMessage
	data     []byte
}

// conn is one client connection. The reader goroutine parses and handles
// frames for the connection's whole life. A writer goroutine runs only while
// frames are queued: enqueue starts one when the queue goes from empty to
// non-empty, and it ends when it has drained the queue, so an idle
// connection costs one goroutine and no write buffers. The activity timeout
// is a timer whose callback queues pusher:ping or closes with 4201.
type conn struct {
	hub      *Hub
	ws       *websocket.Conn
	nc       *batchConn
	socketID string
	// compressed is set when the connection negotiated permessage-deflate.
	compressed bool

	// subMu guards subs and gone. subs is the set of channel names c is
	// subscribed to; gone is set when unregister has collected them, after
	// which no subscription may be added.
	subMu sync.Mutex
	subs  map[string]struct{}
	gone  bool

	// qmu guards the send queue, the writer flag and the close request.
	qmu     sync.Mutex
	queue   []outMsg
	writing bool // a writer goroutine is running (or about to)
	// closeReq is set by the first requestClose, with what the writer's
	// close sequence must send.
	closeReq    bool
	closeCode   int
	closeReason string
	closeFrames bool
	// closed mirrors closeReq for lock-free checks.
	closed atomic.Bool
	// writeBroken is set by the writer after a failed write: a partial
	// frame may be on the wire, so no close frame can follow. Writer only.
	writeBroken bool

	readerDone chan struct{}
	// done is closed when the close sequence has run and the socket is
	// closed.
	done chan struct{}
	// lastRead is the monotonic time (ns since connStart) of the last frame
	// received, for the activity timeout.
	lastRead  atomic.Int64
	connStart time.Time

	// tmu guards the activity timer's state.
	tmu   sync.Mutex
	timer *time.Timer
	// pingSent is the lastRead value when our ping went out; -1: none
	// outstanding.
	pingSent int64

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
		subs:       make(map[string]struct{}),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
		connStart:  time.Now(),
		pingSent:   -1,
		tokens:     float64(h.opts.ClientEventRate),
		tokensAt:   h.opts.Now(),
	}
	return c
}

// enqueue queues m without blocking. A full queue (SendQueue frames) makes
// c a slow consumer: it is closed with 4100 (pusher-js backs off, then
// reconnects and the dashboard refetches) and the frame is dropped. It
// reports whether m was queued. It may be called with a shard lock held.
func (c *conn) enqueue(m outMsg) bool {
	c.qmu.Lock()
	if c.closeReq {
		c.qmu.Unlock()
		return false
	}
	if len(c.queue) >= c.hub.opts.SendQueue {
		c.qmu.Unlock()
		c.hub.metrics.messagesDropped.Inc()
		if c.requestClose(CodeOverCapacity, "over capacity: client is not reading fast enough", true) {
			c.hub.metrics.slowConsumerCloses.Inc()
			c.hub.log.Info("closing slow consumer", "socket_id", c.socketID, "queue", c.hub.opts.SendQueue)
		}
		return false
	}
	c.queue = append(c.queue, m)
	start := !c.writing
	c.writing = true
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

func (c *conn) enqueueData(b []byte) bool { return c.enqueue(outMsg{data: b}) }

// requestClose asks the writer to end the connection. With frames, it first
// sends pusher:error and a close frame with code and reason; without, it
// only drops the socket (the peer is already gone). Only the first request
// counts; it reports whether this call was it. It never blocks, so it may be
// called with a shard lock held.
func (c *conn) requestClose(code int, reason string, frames bool) bool {
	c.qmu.Lock()
	if c.closeReq {
		c.qmu.Unlock()
		return false
	}
	c.closeReq = true
	c.closeCode, c.closeReason, c.closeFrames = code, reason, frames
	c.closed.Store(true)
	start := !c.writing
	c.writing = true
	c.qmu.Unlock()
	c.tmu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.tmu.Unlock()
	// Leave the channels now rather than when the writer gets to it: it
	// may be blocked in a write to this very (slow) client. A goroutine,
	// because the caller may hold a shard lock.
	go c.hub.unregister(c)
	if start {
		go c.writeLoop()
	}
	return true
}

// writeLoop is the writer goroutine: it writes what is queued in batches
// and ends when the queue is empty, or runs the close sequence.
func (c *conn) writeLoop() {
	maxBatch := c.hub.opts.MaxBatch
	for {
		c.qmu.Lock()
		// A close request wins over queued frames.
		if c.closeReq {
			c.queue = nil
			c.qmu.Unlock()
			c.finish()
			return
		}
		if len(c.queue) == 0 {
			c.writing = false
			c.queue = nil // an idle connection keeps no queue array
			c.qmu.Unlock()
			return
		}
		n := min(len(c.queue), maxBatch)
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		c.qmu.Unlock()
		if err := c.writeBatch(batch); err != nil {
			c.hub.log.Debug("write failed", "socket_id", c.socketID, "err", err)
			c.writeBroken = true
			c.requestClose(0, "", false)
		}
	}
}

// startTimer arms the activity timeout.
func (c *conn) startTimer() {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.closed.Load() {
		return
	}
	c.timer = time.AfterFunc(c.hub.opts.ActivityTimeout, c.onTimer)
}

// onTimer runs when the client may have been silent for an activity
// timeout: it pings it, or closes with 4201 when our last ping got no
// answer.
func (c *conn) onTimer() {
	opts := &c.hub.opts
	c.tmu.Lock()
	if c.closed.Load() {
		c.tmu.Unlock()
		return
	}
	since := c.idleFor()
	switch {
	case c.pingSent >= 0 && c.lastRead.Load() == c.pingSent:
		// Nothing arrived since our ping.
		c.tmu.Unlock()
		c.requestClose(CodePongNotReceived, "pong reply not received", true)
	case since < opts.ActivityTimeout:
		c.pingSent = -1
		c.timer.Reset(opts.ActivityTimeout - since)
		c.tmu.Unlock()
	default:
		c.pingSent = c.lastRead.Load()
		c.timer.Reset(opts.PongTimeout)
		c.tmu.Unlock()
		// Outside tmu: a full queue closes c, which stops the timer.
		c.enqueueData(pingFrame)
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

// writeBatch writes the frames as one socket write.
func (c *conn) writeBatch(batch []outMsg) error {
	opts := &c.hub.opts
	c.nc.begin()
	var err error
	for _, m := range batch {
		if err = c.writeOne(m); err != nil {
			break
		}
	}
	if ferr := c.nc.flush(time.Now().Add(opts.WriteTimeout)); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	c.hub.metrics.messagesSent.Add(float64(len(batch)))
	c.hub.metrics.writeBatches.Inc()
	return nil
}

// compressMinSize is the smallest frame worth deflating: below it the
// deflate block overhead eats the gain (pings, pongs, subscription
// confirmations).
const compressMinSize = 128

func (c *conn) writeOne(m outMsg) error {
	if c.compressed {
		c.ws.EnableWriteCompression(len(m.data) >= compressMinSize)
	}
	if m.prepared != nil {
		return c.ws.WritePreparedMessage(m.prepared)
	}
	return c.ws.WriteMessage(websocket.TextMessage, m.data)
}

// finish runs the close sequence the first close request asked for, then
// closes the socket. The connection leaves its channels first, so others
// see member_removed at once and publishers stop skipping over it.
func (c *conn) finish() {
	defer close(c.done)
	defer c.ws.Close()
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
		<-c.done
		c.hub.wg.Done()
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

// touch records client activity for the activity timeout; the timer reads
// it when it fires.
func (c *conn) touch() {
	c.lastRead.Store(time.Since(c.connStart).Nanoseconds())
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
	h.enqueuePublish(publishJob{channel: f.Channel, frame: frame, skip: c})
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
