package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Pusher protocol events the client handles itself or hands back to the
// caller as they are.
const (
	EventConnectionEstablished = "pusher:connection_established"
	EventSubscriptionSucceeded = "pusher_internal:subscription_succeeded"
	EventSubscriptionError     = "pusher:subscription_error"
	EventError                 = "pusher:error"
	EventPing                  = "pusher:ping"
	EventPong                  = "pusher:pong"
	EventSubscribe             = "pusher:subscribe"
	EventUnsubscribe           = "pusher:unsubscribe"
)

// Frame is one Pusher frame. Data is the event's JSON, already unwrapped
// from the string Pusher sends it as.
type Frame struct {
	Event   string
	Channel string
	Data    json.RawMessage
	// Size is the frame's length on the wire (payload bytes).
	Size int
	// At is when the frame was read.
	At time.Time
}

// Authorizer returns the auth string of a private or presence channel
// subscription for socketID. Client.AuthorizeChannel asks the control
// plane for it (what pusher-js does); a process that knows the app
// secret may sign it itself.
type Authorizer func(ctx context.Context, socketID, channel string) (string, error)

// RealtimeOptions configure a Pusher connection. The zero value is ready
// for public channels.
type RealtimeOptions struct {
	// Dialer opens the WebSocket; nil means one with a 30 s handshake
	// timeout.
	Dialer *websocket.Dialer
	// Authorize signs private- and presence- subscriptions; nil means
	// only public channels can be subscribed to.
	Authorize Authorizer
	// ClientName and Version are sent in the URL, as pusher-js does
	// ("js", "8.4.0"); empty means "sitepulse-go" and "0".
	ClientName, Version string
}

// Realtime is a Pusher protocol 7 client of the control plane's realtime
// hub: what a dashboard does with pusher-js, for Go programs. Next (or
// Events) must be called from one goroutine; Subscribe and Close may be
// called from any.
type Realtime struct {
	conn      *websocket.Conn
	socketID  string
	authorize Authorizer
	wmu       sync.Mutex

	errMu sync.Mutex
	err   error
}

// DialRealtime connects to the hub at hubURL (ws:// or wss://, host and
// port; http:// and https:// are turned into them) with the app key and
// waits for pusher:connection_established. A ctx that ends during the
// handshake stops it.
func DialRealtime(ctx context.Context, hubURL, key string, opts RealtimeOptions) (*Realtime, error) {
	u, err := url.Parse(hubURL)
	if err != nil {
		return nil, fmt.Errorf("realtime URL: %w", err)
	}
	switch u.Scheme {
	case "https", "wss":
		u.Scheme = "wss"
	case "http", "ws", "":
		u.Scheme = "ws"
	default:
		return nil, fmt.Errorf("realtime URL %s: want ws, wss, http or https", hubURL)
	}
	name, version := opts.ClientName, opts.Version
	if name == "" {
		name = "sitepulse-go"
	}
	if version == "" {
		version = "0"
	}
	u.Path = "/app/" + url.PathEscape(key)
	u.RawQuery = url.Values{"protocol": {"7"}, "client": {name}, "version": {version}, "flash": {"false"}}.Encode()
	d := opts.Dialer
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	}
	conn, res, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("connect to the realtime hub %s: %w", u.Redacted(), err)
	}
	res.Body.Close()
	r := &Realtime{conn: conn, authorize: opts.Authorize}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	f, err := r.Next(hctx)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("realtime hub: waiting for %s: %w", EventConnectionEstablished, err)
	}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	if f.Event != EventConnectionEstablished || json.Unmarshal(f.Data, &est) != nil || est.SocketID == "" {
		conn.Close()
		return nil, fmt.Errorf("realtime hub answered %s %s, not %s", f.Event, f.Data, EventConnectionEstablished)
	}
	r.socketID = est.SocketID
	return r, nil
}

// SocketID is the id the hub gave this connection; channel signatures
// are bound to it.
func (r *Realtime) SocketID() string { return r.socketID }

// Subscribe asks for channel, authorizing private- and presence- channels
// first. It does not wait: the answer (EventSubscriptionSucceeded or
// EventSubscriptionError) arrives through Next. Use SubscribeWait when no
// other goroutine reads.
func (r *Realtime) Subscribe(ctx context.Context, channel string) error {
	data := map[string]string{"channel": channel}
	if strings.HasPrefix(channel, "private-") || strings.HasPrefix(channel, "presence-") {
		if r.authorize == nil {
			return fmt.Errorf("subscribe %s: a private channel needs RealtimeOptions.Authorize", channel)
		}
		auth, err := r.authorize(ctx, r.socketID, channel)
		if err != nil {
			return fmt.Errorf("authorize %s: %w", channel, err)
		}
		data["auth"] = auth
	}
	if err := r.send(EventSubscribe, data); err != nil {
		return fmt.Errorf("subscribe %s: %w", channel, err)
	}
	return nil
}

// SubscribeWait subscribes to channel and reads frames until the hub
// confirms it; events that arrive meanwhile on other channels are
// dropped. A refused subscription is an error carrying the hub's answer.
func (r *Realtime) SubscribeWait(ctx context.Context, channel string) error {
	if err := r.Subscribe(ctx, channel); err != nil {
		return err
	}
	for {
		f, err := r.Next(ctx)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", channel, err)
		}
		switch f.Event {
		case EventSubscriptionSucceeded:
			if f.Channel == channel {
				return nil
			}
		case EventSubscriptionError, EventError:
			return fmt.Errorf("subscribe %s: %s", channel, f.Data)
		}
	}
}

// Unsubscribe leaves channel.
func (r *Realtime) Unsubscribe(channel string) error {
	return r.send(EventUnsubscribe, map[string]string{"channel": channel})
}

// Next reads the next frame. It answers pusher:ping itself and still
// returns the ping. ctx's deadline bounds the read; a ctx that ends
// closes the connection (a WebSocket read cannot be resumed after a
// timeout anyway).
func (r *Realtime) Next(ctx context.Context) (Frame, error) {
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	dl, _ := ctx.Deadline()
	_ = r.conn.SetReadDeadline(dl)
	stop := context.AfterFunc(ctx, func() { r.conn.Close() })
	_, b, err := r.conn.ReadMessage()
	stop()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return Frame{}, cerr
		}
		return Frame{}, fmt.Errorf("realtime: %w", err)
	}
	f, err := decodeFrame(b)
	if err != nil {
		return Frame{}, err
	}
	f.At = time.Now()
	if f.Event == EventPing {
		_ = r.send(EventPong, map[string]any{})
	}
	return f, nil
}

// decodeFrame parses one Pusher frame, unwrapping its data from the JSON
// string it travels as.
func decodeFrame(b []byte) (Frame, error) {
	var raw struct {
		Event   string          `json:"event"`
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Frame{}, fmt.Errorf("realtime frame %q: %w", b, err)
	}
	f := Frame{Event: raw.Event, Channel: raw.Channel, Data: raw.Data, Size: len(b)}
	if len(raw.Data) > 0 && raw.Data[0] == '"' {
		var s string
		if json.Unmarshal(raw.Data, &s) == nil {
			f.Data = json.RawMessage(s)
		}
	}
	return f, nil
}

// Events reads frames until ctx ends or the connection fails, and sends
// the application events (not the pusher: and pusher_internal: ones) to
// the returned channel, which is closed at the end; Err then says why
// the connection failed (nil when ctx ended it). Call it once, after the
// subscriptions.
func (r *Realtime) Events(ctx context.Context) <-chan Frame {
	ch := make(chan Frame, 256)
	go func() {
		defer close(ch)
		for {
			f, err := r.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.errMu.Lock()
					r.err = err
					r.errMu.Unlock()
				}
				return
			}
			if strings.HasPrefix(f.Event, "pusher:") || strings.HasPrefix(f.Event, "pusher_internal:") {
				continue
			}
			select {
			case ch <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// Err is why the channel of Events was closed: nil when its ctx ended.
func (r *Realtime) Err() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

func (r *Realtime) send(event string, data any) error {
	b, err := json.Marshal(map[string]any{"event": event, "data": data})
	if err != nil {
		return err
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return r.conn.WriteMessage(websocket.TextMessage, b)
}

// Close closes the connection; a Next in progress returns an error.
func (r *Realtime) Close() error {
	err := r.conn.Close()
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}
