package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sitepulse/sitepulse/controlplane"
)

// pusherEvent is one event received on a subscribed channel. Data is the
// event's JSON (Pusher sends it as a string).
type pusherEvent struct {
	Channel string
	Event   string
	Data    json.RawMessage
}

// pusherConn is a Pusher protocol 7 client of the control plane's realtime
// hub, with private-channel authorization through the API: what the
// dashboard does with pusher-js, for the CLI.
type pusherConn struct {
	ws       *websocket.Conn
	socketID string
	c        *apiClient
	wmu      sync.Mutex
	events   chan pusherEvent
	done     chan struct{}
	err      error
}

type hubFrame struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel,omitempty"`
	Data    json.RawMessage `json:"data"`
}

// frameData returns a frame's data as JSON: Pusher encodes it as a string
// holding JSON.
func frameData(raw json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return json.RawMessage(s)
	}
	return raw
}

// dialPusher connects to the hub the API's /config names.
func dialPusher(ctx context.Context, c *apiClient) (*pusherConn, error) {
	var cfg controlplane.ClientConfig
	if err := c.do(ctx, "GET", "/api/v1/config", nil, &cfg); err != nil {
		return nil, err
	}
	if cfg.Pusher == nil {
		return nil, errors.New("the control plane runs without realtime")
	}
	u, err := url.Parse(c.server)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	if cfg.Pusher.Host != "" {
		u.Host = cfg.Pusher.Host
		if cfg.Pusher.Port != 0 {
			u.Host = fmt.Sprintf("%s:%d", cfg.Pusher.Host, cfg.Pusher.Port)
		}
		if cfg.Pusher.TLS != nil {
			u.Scheme = map[bool]string{true: "wss", false: "ws"}[*cfg.Pusher.TLS]
		}
	}
	u.Path = "/app/" + url.PathEscape(cfg.Pusher.Key)
	u.RawQuery = "protocol=7&client=sitepulse-cli&version=" + url.QueryEscape(Version)
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("connect to the realtime hub: %w", err)
	}
	p := &pusherConn{ws: ws, c: c, events: make(chan pusherEvent, 256), done: make(chan struct{})}
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	f, err := p.read(ctx)
	if err != nil {
		ws.Close()
		return nil, err
	}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	if f.Event != "pusher:connection_established" || json.Unmarshal(frameData(f.Data), &est) != nil || est.SocketID == "" {
		ws.Close()
		return nil, fmt.Errorf("realtime hub answered %s, not a connection", f.Event)
	}
	p.socketID = est.SocketID
	return p, nil
}

func (p *pusherConn) read(ctx context.Context) (hubFrame, error) {
	// The hub pings an idle connection well within this; ctx's end closes
	// the connection (run), which ends the read at once.
	_ = p.ws.SetReadDeadline(time.Now().Add(2 * time.Minute))
	if err := ctx.Err(); err != nil {
		return hubFrame{}, err
	}
	var f hubFrame
	_, b, err := p.ws.ReadMessage()
	if err != nil {
		return f, fmt.Errorf("realtime: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("realtime frame: %w", err)
	}
	return f, nil
}

func (p *pusherConn) send(event string, data any) error {
	b, err := json.Marshal(map[string]any{"event": event, "data": data})
	if err != nil {
		return err
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return p.ws.WriteMessage(websocket.TextMessage, b)
}

// subscribe authorizes channel through the API (POST
// /api/broadcasting/auth with the bearer token) and subscribes to it. Call
// it before run.
func (p *pusherConn) subscribe(ctx context.Context, channel string) error {
	form := url.Values{"socket_id": {p.socketID}, "channel_name": {channel}}
	req, err := http.NewRequestWithContext(ctx, "POST", p.c.server+"/api/broadcasting/auth", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+p.c.token)
	res, err := p.c.http.Do(req)
	if err != nil {
		return fmt.Errorf("authorize %s: %w", channel, err)
	}
	var auth struct {
		Auth string `json:"auth"`
	}
	err = json.NewDecoder(res.Body).Decode(&auth)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || err != nil {
		return fmt.Errorf("authorize %s: HTTP %d", channel, res.StatusCode)
	}
	if err := p.send("pusher:subscribe", map[string]string{"channel": channel, "auth": auth.Auth}); err != nil {
		return fmt.Errorf("subscribe %s: %w", channel, err)
	}
	stop := context.AfterFunc(ctx, func() { p.ws.Close() })
	defer stop()
	for {
		f, err := p.read(ctx)
		if err != nil {
			return err
		}
		switch f.Event {
		case "pusher_internal:subscription_succeeded":
			if f.Channel == channel {
				return nil
			}
		case "pusher:subscription_error", "pusher:error":
			return fmt.Errorf("subscribe %s: %s", channel, frameData(f.Data))
		case "pusher:ping":
			_ = p.send("pusher:pong", map[string]any{})
		}
	}
}

// run reads events into Events until ctx ends or the connection fails,
// answering the hub's pings; Err then says why it stopped.
func (p *pusherConn) run(ctx context.Context) {
	defer close(p.done)
	defer close(p.events)
	stop := context.AfterFunc(ctx, func() { p.ws.Close() })
	defer stop()
	for {
		f, err := p.read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.err = err
			}
			return
		}
		switch {
		case f.Event == "pusher:ping":
			_ = p.send("pusher:pong", map[string]any{})
		case strings.HasPrefix(f.Event, "pusher"):
		default:
			select {
			case p.events <- pusherEvent{Channel: f.Channel, Event: f.Event, Data: frameData(f.Data)}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (p *pusherConn) close() { p.ws.Close() }
