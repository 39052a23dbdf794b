package harness

import (
	"context"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// SignLocally is an Authorizer that signs private channels with the
// harness app secret, so many clients subscribe without an HTTP round
// trip each.
func SignLocally(_ context.Context, socketID, channel string) (string, error) {
	return pusher.SignChannel(PusherKey, PusherSecret, socketID, channel, ""), nil
}

// DialWS connects a Pusher client (package client) to the hub at
// httpAddr, signing private channels with SignLocally. localIP, when not
// empty, is the source address (127.0.0.x) so that many clients do not
// run out of ephemeral ports on one source address.
func DialWS(ctx context.Context, httpAddr, localIP string) (*client.Realtime, error) {
	d := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}
	if localIP != "" {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 30 * time.Second}
		d.NetDialContext = nd.DialContext
	}
	return client.DialRealtime(ctx, "ws://"+httpAddr, PusherKey, client.RealtimeOptions{
		Dialer: d, Authorize: SignLocally, ClientName: "sitepulse-bench", Version: "8.4.0",
	})
}

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
