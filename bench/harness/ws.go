package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// Frame is one Pusher frame with its data decoded from the JSON string the
// protocol wraps it in.
type Frame struct {
	Event   string
	Channel string
	Data    json.RawMessage
	// Size is the frame's length on the wire (payload bytes).
	Size int
	// At is when the frame was read.
	At time.Time
}

// WSClient speaks the Pusher protocol v7 client side.
type WSClient struct {
	Conn     *websocket.Conn
	SocketID string
}

// DialWS connects to the hub at httpAddr. localIP, when not empty, is the
// source address (127.0.0.x) so that many clients do not run out of
// ephemeral ports on one source address.
func DialWS(ctx context.Context, httpAddr, localIP string) (*WSClient, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}
	if localIP != "" {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 30 * time.Second}
		d.NetDialContext = nd.DialContext
	}
	url := "ws://" + httpAddr + "/app/" + PusherKey + "?protocol=7&client=sitepulse-bench&version=8.4.0&flash=false"
	conn, res, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	res.Body.Close()
	c := &WSClient{Conn: conn}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	f, err := c.Next()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connection_established: %w", err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	var est struct {
		SocketID string `json:"socket_id"`
	}
	if f.Event != "pusher:connection_established" || json.Unmarshal(f.Data, &est) != nil {
		conn.Close()
		return nil, fmt.Errorf("first frame %s %s, want pusher:connection_established", f.Event, f.Data)
	}
	c.SocketID = est.SocketID
	return c, nil
}

// Subscribe asks for channel, signing private channels with the harness
// app secret. The answer (pusher_internal:subscription_succeeded) arrives
// through Next.
func (c *WSClient) Subscribe(channel string) error {
	data := map[string]string{"channel": channel}
	if len(channel) > 8 && channel[:8] == "private-" {
		data["auth"] = pusher.SignChannel(PusherKey, PusherSecret, c.SocketID, channel, "")
	}
	return c.Conn.WriteJSON(map[string]any{"event": "pusher:subscribe", "data": data})
}

// Next reads the next frame; it answers pusher:ping itself and still
// returns it.
func (c *WSClient) Next() (Frame, error) {
	_, b, err := c.Conn.ReadMessage()
	if err != nil {
		return Frame{}, err
	}
	at := time.Now()
	var raw struct {
		Event   string          `json:"event"`
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Frame{}, fmt.Errorf("frame %q: %w", b, err)
	}
	f := Frame{Event: raw.Event, Channel: raw.Channel, Data: raw.Data, Size: len(b), At: at}
	if len(raw.Data) > 0 && raw.Data[0] == '"' {
		var s string
		if err := json.Unmarshal(raw.Data, &s); err == nil {
			f.Data = json.RawMessage(s)
		}
	}
	if f.Event == "pusher:ping" {
		_ = c.Conn.WriteMessage(websocket.TextMessage, []byte(`{"event":"pusher:pong","data":{}}`))
	}
	return f, nil
}

// Close closes the connection.
func (c *WSClient) Close() error { return c.Conn.Close() }

// SessionEvent is the part of a SessionStarted/SessionEnded payload the
// harness matches on.
type SessionEvent struct {
	Seq     uint64 `json:"seq"`
	Session struct {
		ID         string    `json:"id"`
		RouterID   string    `json:"router_id"`
		RouterOSID string    `json:"ros_id"`
		Kind       string    `json:"kind"`
		StartedAt  time.Time `json:"started_at"`
	} `json:"session"`
}
