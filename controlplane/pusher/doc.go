// Package pusher is a Pusher Channels protocol v7 server: the WebSocket
// endpoint that pusher-js and Laravel Echo connect to, channel
// authorization, and the Pusher HTTP API that server SDKs publish through.
// It knows channels, events and signatures, nothing of what SitePulse
// broadcasts on them: controlplane/fanout renders the control plane's
// changes onto channels and decides who may join which.
//
// The package provides three HTTP handlers and the pieces behind them
// (Hub.Mount registers all three):
//
//   - [Hub] serves the WebSocket endpoint /app/{key}: connection handshake,
//     ping/pong and activity timeouts, public, private-, presence- and
//     private-encrypted- subscriptions, and (when enabled) client events.
//   - [AuthHandler] answers pusher-js channel authorization requests
//     (POST /api/broadcasting/auth) for users an [Authenticator] resolves
//     from a bearer token.
//   - [APIHandler] is the Pusher HTTP API (/apps/{id}/events, batch_events,
//     channels…) so that other backends can publish with a Pusher server SDK.
//
// Errors are answered as the rest of the control plane answers them: a
// controlplane error code, and the HTTP status controlplane.HTTPStatus maps
// it to. That error vocabulary is all the package takes from controlplane.
//
// # Performance design
//
// Channels are hashed to shards (Options.Shards, twice GOMAXPROCS by
// default); each shard owns its channels' subscriber sets under its own
// lock and runs one worker that fans out what is published on them.
// Publish, PublishRaw and the HTTP API only encode the frame and hand it to
// the shard's queue, so a publisher never waits for a fan-out, let alone a
// socket, and a channel with ten thousand subscribers keeps only its own
// shard busy. Events of one channel are delivered in the order published;
// there is no order across channels.
//
// The worker encodes nothing: the frame was encoded once, and with more
// than one recipient it is wrapped in one shared [websocket.PreparedMessage]
// that frames (and, for connections that negotiated permessage-deflate,
// compresses) once for all of them. It then does a non-blocking enqueue per
// subscriber. A connection's send queue is bounded (Options.SendQueue); a
// subscriber whose queue is full is a slow consumer and is closed with 4100
// (pusher-js backs off, then reconnects and the dashboard refetches)
// instead of holding memory or slowing everybody else.
//
// An idle connection costs one goroutine (its reader) and no buffers: a
// writer goroutine runs only while frames are queued and drains them into
// one socket write per batch (each Pusher frame stays its own WebSocket
// message; see batchConn), gorilla's write buffer and the batch buffer
// come from pools and go back after each write, the read buffer is 1 KiB,
// and the activity timeout is a timer, not a goroutine.
//
// Signatures (channel auth strings and HTTP API request signatures) are
// compared in constant time.
package pusher
