// Package chaos is SitePulse's fault-injection suite. Its test, behind the
// "chaos" build tag so `make test` does not run it, drives simulated
// routers (package sim, whose Subscribe is the ground truth of every
// login and logout) with steady churn through the real sitepulse-agent
// binary, a TCP proxy per agent that can blackhole the agent's link, and
// the real `sitepulse serve` process, while a Pusher WebSocket client
// follows the tenant's sessions channel. During the churn it kills the
// agent with SIGKILL, kills and restarts the control plane, drops the
// router's API connections, cuts the agent's network for a while and, in
// full mode against a PostgreSQL it started itself, restarts PostgreSQL.
// Afterwards the store's live sessions and history and the WebSocket
// client's view must match the simulator: nothing lost, nothing
// duplicated.
//
//	make chaos-short   # SQLite, short outages, a couple of minutes (CI)
//	make chaos         # also PostgreSQL and its restart, longer outages
//
// A session that both started and ended while its agent could not see the
// router (agent dead, or router API dropped, until the agent's next
// snapshot) cannot be observed by any design; the suite counts such
// sessions separately as unobservable instead of lost, and fails on any
// other difference.
//
// The WebSocket client dedupes nothing. It follows the dashboard's rule:
// on (re)connect and on a per-channel seq gap it refetches the live
// sessions over REST; events that arrive while that refetch is in flight
// (and for a short grace period after it) are applied idempotently, since
// the refetch may already contain them. Outside those windows a second
// SessionStarted for a live session, or a SessionEnded for a session not
// live, is counted as a duplicate and fails the run.
package chaos
