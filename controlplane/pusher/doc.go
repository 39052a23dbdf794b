// Package pusher is a Pusher Channels protocol v7 server: the WebSocket
// endpoint that pusher-js and Laravel Echo connect to, channel
// authorization, and the Pusher HTTP API that server SDKs publish through.
// It knows channels, events and signatures, nothing of what SitePulse
// broadcasts on them: controlplane/fanout renders the control plane's
// changes onto channels and decides who may join which.
//
// The package provides four HTTP handlers and the pieces behind them
// (Hub.Mount registers all four):
//
//   - [Hub] serves the WebSocket endpoint /app/{key}: connection handshake,
//     ping/pong and activity timeouts, public, private-, presence- and
//     private-encrypted- subscriptions, and (when enabled) client events.
//   - [AuthHandler] answers pusher-js channel authorization requests
//     (POST /api/broadcasting/auth) for users an [Authenticator] resolves
//     from a bearer token.
//   - [UserAuthHandler] answers pusher-js signin requests
//     (POST /api/broadcasting/user-auth) for users that implement
//     [SigninUser]; the hub then accepts pusher:signin and delivers
//     #server-to-user-{id} events (user.go).
//   - [APIHandler] is the Pusher HTTP API (/apps/{id}/events, batch_events,
//     channels…, users/{id}/terminate_connections) so that other backends
//     can publish with a Pusher server SDK.
//
// Cache channels (cache.go) replay their last event to new subscribers;
// subscription counting (count.go) tells subscribers how many there are.
// With [Peers] (controlplane/cluster) the HTTP API's channel queries and
// terminate_connections cover every replica (occupancy.go).
//
// Errors are answered as the rest of the control plane answers them: a
// controlplane error code, and the HTTP status controlplane.HTTPStatus maps
// it to. That error vocabulary is all the package takes from controlplane.
//
// # Performance design
//
// Every connection owns a bounded send queue drained by one writer goroutine.
// Publishing never blocks and never writes to a socket while holding a hub
// lock: it encodes the frame once (a shared [websocket.PreparedMessage]),
// then does a non-blocking enqueue per subscriber. A subscriber whose queue is
// full is a slow consumer and is closed with 4100 so that it reconnects later
// and refetches, instead of holding memory or slowing everybody else. The
// writer drains whatever is queued into one batch: each Pusher frame stays
// its own WebSocket message, but the batch reaches the kernel in a single
// write (see batchConn).
//
// Signatures (channel auth strings and HTTP API request signatures) are
// compared in constant time.
package pusher
