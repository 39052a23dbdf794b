package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const (
	testAppID  = "3"
	testKey    = "278d425bdf160c739803"
	testSecret = "7ad3773142a6692b25b8"
)

// newTestHub starts a hub, its auth endpoint (tokens from testTokens) and its
// HTTP API on a real loopback listener. mutate adjusts the
// options before the hub is created.
func newTestHub(t testing.TB, mutate func(*Options)) (*Hub, *httptest.Server) {
	t.Helper()
	opts := Options{AppID: testAppID, Key: testKey, Secret: testSecret}
	if mutate != nil {
		mutate(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	h.Mount(mux, testTokens)
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

// wsFrame is a frame as a client sees it, with data decoded from its JSON
// string.
type wsFrame struct {
	Event   string
	Channel string
	UserID  string
	// RawData is the data member as sent; Data is it decoded (the inner
	// JSON when it was a string).
	RawData json.RawMessage
	Data    json.RawMessage
	// Raw is the whole frame as received.
	Raw []byte
}

func (f wsFrame) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(f.Data, v); err != nil {
		t.Fatalf("decode data of %s %q: %v", f.Event, f.Data, err)
	}
}

// testClient is a gorilla client speaking the Pusher protocol.
type testClient struct {
	t        testing.TB
	ws       *websocket.Conn
	socketID string
}

func wsURL(srv *httptest.Server, key string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/app/" + key + "?protocol=7&client=go-test&version=8.4.0&flash=false"
}

// dialRaw opens a WebSocket without reading anything.
func dialRaw(t testing.TB, srv *httptest.Server, key string) *testClient {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, key), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	return &testClient{t: t, ws: ws}
}

// dial connects and consumes pusher:connection_established.
func dial(t testing.TB, srv *httptest.Server) *testClient {
	t.Helper()
	c := dialRaw(t, srv, testKey)
	f := c.expect("pusher:connection_established")
	var d struct {
		SocketID string `json:"socket_id"`
	}
	f.decode(t, &d)
	c.socketID = d.SocketID
	return c
}

func (c *testClient) send(event, channel string, data any) {
	c.t.Helper()
	m := map[string]any{"event": event}
	if channel != "" {
		m["channel"] = channel
	}
	if data != nil {
		m["data"] = data
	}
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatalf("send %s: %v", event, err)
	}
}

func (c *testClient) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("send raw: %v", err)
	}
}

// next reads one frame (5 s deadline).
func (c *testClient) next() (wsFrame, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return wsFrame{}, err
	}
	var raw struct {
		Event   string          `json:"event"`
		Channel string          `json:"channel"`
		UserID  string          `json:"user_id"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		c.t.Fatalf("server sent invalid JSON %q: %v", b, err)
	}
	f := wsFrame{Event: raw.Event, Channel: raw.Channel, UserID: raw.UserID, RawData: raw.Data, Data: raw.Data, Raw: b}
	if len(raw.Data) > 0 && raw.Data[0] == '"' {
		var s string
		if err := json.Unmarshal(raw.Data, &s); err != nil {
			c.t.Fatalf("data string: %v", err)
		}
		f.Data = json.RawMessage(s)
	}
	return f, nil
}

// expect reads one frame and checks its event name.
func (c *testClient) expect(event string) wsFrame {
	c.t.Helper()
	f, err := c.next()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", event, err)
	}
	if f.Event != event {
		c.t.Fatalf("got event %s (channel %q, data %s), want %s", f.Event, f.Channel, f.Data, event)
	}
	return f
}

// expectError reads a pusher:error and checks its code (0: null).
func (c *testClient) expectError(code int) string {
	c.t.Helper()
	f := c.expect("pusher:error")
	var d struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
	}
	f.decode(c.t, &d)
	got := 0
	if d.Code != nil {
		got = *d.Code
	}
	if got != code {
		c.t.Fatalf("pusher:error code = %d (%q), want %d", got, d.Message, code)
	}
	return d.Message
}

// expectClose reads until the connection closes and checks the close code.
func (c *testClient) expectClose(code int) {
	c.t.Helper()
	for {
		f, err := c.next()
		if err == nil {
			c.t.Logf("frame before close: %s", f.Event)
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("connection ended with %v, want close code %d", err, code)
		}
		if ce.Code != code {
			c.t.Fatalf("close code = %d (%q), want %d", ce.Code, ce.Text, code)
		}
		return
	}
}

// alive checks the connection still answers pings.
func (c *testClient) alive() {
	c.t.Helper()
	c.send("pusher:ping", "", map[string]any{})
	c.expect("pusher:pong")
}

func (c *testClient) subscribe(channel, auth, channelData string) {
	c.t.Helper()
	d := map[string]any{"channel": channel}
	if auth != "" {
		d["auth"] = auth
	}
	if channelData != "" {
		d["channel_data"] = channelData
	}
	c.send("pusher:subscribe", "", d)
}

// subscribeOK subscribes with a valid signature and waits for success.
func (c *testClient) subscribeOK(channel, channelData string) wsFrame {
	c.t.Helper()
	auth := ""
	if KindOf(channel).needsAuth() {
		auth = SignChannel(testKey, testSecret, c.socketID, channel, channelData)
	}
	c.subscribe(channel, auth, channelData)
	f := c.expect("pusher_internal:subscription_succeeded")
	if f.Channel != channel {
		c.t.Fatalf("subscription_succeeded for %q, want %q", f.Channel, channel)
	}
	return f
}

// closeCode returns the WebSocket close code in err, or -1.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
