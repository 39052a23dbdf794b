// Package harness holds what the benchmark report (bench/) and the chaos
// suite (chaos/) share: building the real binaries, running them as
// processes and reading their RSS and CPU from /proc, a throw-away
// PostgreSQL, a control-plane fixture (tenant, routers, an admin token)
// written through the store, and a minimal Pusher protocol v7 WebSocket
// client that signs private channels itself with the app secret.
//
// It is test and benchmark tooling: nothing in the product imports it.
package harness
