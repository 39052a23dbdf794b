// Package client is the Go client of the SitePulse control plane: its
// REST API (Client, with a bearer token) and its Pusher-protocol realtime
// hub (Realtime, on gorilla/websocket). The field-tech CLI, the demo, the
// browser and chaos tests and the benchmarks use it instead of each
// carrying its own HTTP and WebSocket code.
//
// Client's methods take a ctx, are bounded by Options.Timeout, and return
// the control plane's domain types (package controlplane). An error answer
// of the API ({"error":{"code","message"}}) is an *Error carrying the HTTP
// status; it unwraps to a *controlplane.Error, so controlplane.ErrorCode
// reads its code.
//
// Realtime speaks Pusher protocol 7 as pusher-js does: it waits for
// pusher:connection_established, subscribes to public channels as they
// are and to private ones with an auth string from an Authorizer
// (Client.AuthorizeChannel asks POST /api/broadcasting/auth), answers the
// hub's pings, and hands back frames (Next) or application events
// (Events).
//
// The package imports only controlplane and protocol of SitePulse: it is
// what an outside program would use, and it knows the API only from the
// wire.
package client
