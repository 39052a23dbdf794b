package pusher

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// countingConn counts the bytes a client reads off the wire.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// dialCounting dials with or without offering permessage-deflate and
// returns the client, the negotiated extensions and its byte counter.
func dialCounting(t *testing.T, url string, compress bool) (*testClient, string, *atomic.Int64) {
	t.Helper()
	n := &atomic.Int64{}
	d := websocket.Dialer{
		EnableCompression: compress,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, n}, nil
		},
	}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	c := &testClient{t: t, ws: ws}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	c.expect("pusher:connection_established").decode(t, &est)
	c.socketID = est.SocketID
	return c, resp.Header.Get("Sec-Websocket-Extensions"), n
}

func TestPermessageDeflate(t *testing.T) {
	h, srv := newTestHub(t, nil)
	zipped, ext, zn := dialCounting(t, wsURL(srv, testKey), true)
	if !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("Sec-WebSocket-Extensions = %q, want permessage-deflate negotiated", ext)
	}
	plain, ext2, pn := dialCounting(t, wsURL(srv, testKey), false)
	if ext2 != "" {
		t.Fatalf("a client that offers nothing got extensions %q", ext2)
	}
	zipped.subscribeOK("stats", "")
	plain.subscribeOK("stats", "")
	if got := testutil.ToFloat64(h.metrics.compressedConnections); got != 1 {
		t.Errorf("compressed_connections_total = %v, want 1", got)
	}
	// A session list, the kind of payload that compresses well.
	rows := make([]map[string]any, 40)
	for i := range rows {
		rows[i] = map[string]any{"id": i, "router_id": "r-1", "kind": "hotspot", "updated_at": "2026-12-07T10:00:00Z", "bytes_in": 1000 + i}
	}
	data, _ := json.Marshal(map[string]any{"sessions": rows})
	z0, p0 := zn.Load(), pn.Load()
	const events = 20
	for i := 0; i < events; i++ {
		if err := h.PublishRaw("stats", "SessionUpdated", string(data), ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < events; i++ {
		for _, c := range []*testClient{zipped, plain} {
			if f := c.expect("SessionUpdated"); string(f.Data) != string(data) {
				t.Fatalf("event %d: data differs after the round trip", i)
			}
		}
	}
	zb, pb := zn.Load()-z0, pn.Load()-p0
	t.Logf("%d events of %d bytes: %d bytes on the wire compressed, %d plain (%.1f× fewer)", events, len(data), zb, pb, float64(pb)/float64(zb))
	if zb*3 > pb {
		t.Errorf("compressed client read %d bytes, plain %d: want at least 3× fewer", zb, pb)
	}
	// Small frames stay uncompressed and still work.
	zipped.alive()
}

func TestCompressionCanBeDisabled(t *testing.T) {
	_, srv := newTestHub(t, func(o *Options) { o.DisableCompression = true })
	_, ext, _ := dialCounting(t, wsURL(srv, testKey), true)
	if ext != "" {
		t.Fatalf("Sec-WebSocket-Extensions = %q with compression disabled", ext)
	}
}
