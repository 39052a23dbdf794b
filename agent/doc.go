// Package agent is the SitePulse agent: it watches one MikroTik router over
// the RouterOS API, records every change in a SQLite outbox, publishes the
// outbox to the control plane over MQTT, and runs the control plane's
// provisioning commands on the router.
//
// # Router side
//
// Each API session uses two TCP connections, both logged in by
// go-routeros (v3.0.1) with deadlines on the net.Conn, because its login
// and synchronous Run ignore contexts:
//
//   - the command connection: a synchronous go-routeros client, one caller
//     at a time, for provisioning commands and /system prints;
//   - the stream connection: read by this package's own sentence reader
//     (wire.go), carrying /ip/hotspot/active/listen, /ppp/active/listen,
//     the snapshot prints and the print =interval= counter streams, told
//     apart by tag. go-routeros' async client is never used: its int64 tag
//     counter is misaligned on 32-bit ARM and panics on the first async
//     call, and it can lose replies that arrive before their tag is
//     registered.
//
// On (re)connect the agent starts both listens, then prints both tables
// and diffs them against its last known state, which is persisted in
// SQLite in the same transaction as each started and ended event (counters
// are refreshed at each diff), so that it survives restarts. Listen rows that
// arrive while a print runs are applied at once and remembered for that
// print, so a print that predates them produces neither a spurious end nor
// a spurious start. Sessions missing from a print end with
// vanished-on-resync (or kicked, when the agent removed them itself); the
// same diff runs every ResyncInterval because listen does not report every
// removal. Any error closes both connections; the agent redials with
// exponential backoff and jitter and resyncs.
//
// A session's key is computed once, when it is first seen: hotspot
// user|mac|login time (now - uptime), PPP name|session-id. Later sightings
// are matched by .id, user and MAC with ±2 s of login time, so rounding
// never changes a key.
//
// # Outbox
//
// Every event gets the router's next seq in a group commit (WAL,
// synchronous=NORMAL: durable against kill -9, see openDB) before it can be
// published, and is deleted only after its batch's PUBACK. Over
// OutboxMaxEvents or OutboxMaxBytes, session.updated and router.resources
// rows superseded by a newer row of the same key are deleted; started,
// ended and snapshot rows never are. Seqs belong to the database's epoch,
// a random id drawn when it is created and sent in every batch: a new
// database (a reinstall, a lost volume) starts at seq 1 in a new epoch,
// which the control plane takes as a restart rather than as replays. A
// commit that fails (a full disk) is retried with backoff and nothing is
// dropped, until a stop passes its ShutdownTimeout: then the outbox gives
// up, and Close logs and returns how many events were never committed.
//
// # Uplink
//
// MQTT 3.1.1, QoS 1, client id and username = router id, password = the
// router secret, a retained status with an offline will. The uplink
// reconnects by itself (not paho's AutoReconnect, see uplink) and, on
// every connection, replays the outbox from its oldest unacked event in
// seq order with a bounded number of batches in flight.
//
// # Commands
//
// Commands are recorded in SQLite before they run and answered from the
// record when redelivered, so each runs at most once; results go through
// the same store-then-publish-until-PUBACK path as events. Raw commands run
// only when their path is in the local allow-list.
//
// # RADIUS at the edge
//
// With RadiusAuthAddr or RadiusAcctAddr set, the agent serves its
// router's RADIUS (package agent/radius) and answers from a synced copy of
// the accounts that may log in there, so logins work while the cloud is
// unreachable. The copy lives in SQLite (radius_entries, keyed kind and
// name, with each entry's version and JSON; secrets are stored there and
// never logged) and is applied page by page from sp/v1/{router}/radius:
// a page whose From is the held version is applied with its new version
// in one transaction, one whose To is at or below it is a duplicate and
// dropped, one whose From is above it is a gap and makes the agent
// publish its RadiusState so that the control plane re-sends. The state
// is also published on every MQTT connect and after the last page of a
// sync (To == Head). The router's mode (local or radius) and the interim
// interval come from the page with the highest Head. In local mode every
// Access-Request is rejected ("radius not enabled for this router") and
// kicks go over the API.
//
// Decisions: a disabled entry is rejected with its Reason, a passed
// ExpiresAt with "expired", more live RADIUS sessions of the user at this
// router than SharedUsers (a device logging in again does not count
// against itself) with "already logged in on N devices", a used-up data
// cap with "data limit reached". An accept carries the profile, rate
// limit, pool, Session-Timeout = the lesser of the time to ExpiresAt and
// the uptime budget left, Mikrotik-Total-Limit = cap - used (used = the
// entry's UsedBytes + what this agent counted from accounting since that
// version) and the interim interval.
//
// Vouchers offline. A voucher's first use is asked of the control plane
// (sp/v1/{router}/radius/ask), which answers within RadiusAskTimeout
// (default 2 s) inside a sync page: accepted, its account's entry replaces
// the voucher; rejected, the login fails with its reason. When MQTT is
// down or no answer comes in time the agent applies the conservative
// rule: it lets the device in for the voucher's VoucherSeconds from now
// (within the plan's limits), remembers the redemption locally (in
// SQLite, across restarts) so that the same device may log in again
// until then while other devices are refused beyond SharedUsers, and
// records a voucher.used event in the outbox, in the same commit, which
// the control plane reconciles on return (redeeming it as of the use, or
// flagging a double use at another site). A code is never let in offline
// without that event being durable first.
//
// Accounting becomes session.started, session.updated (absolute counters)
// and session.ended (Acct-Terminate-Cause 1 logout, 6 and 10 kicked, 5
// expired, else logout; the agent's own reason when it disconnected the
// session) through the outbox, and the Accounting-Response is sent only
// once they have committed. The API watcher sees the same sessions; a
// shared session ledger (radiussessions.go) makes the two views one: the
// first to see a session names it and records its start and end, the
// other adopts its key (hotspot Acct-Session-Id "0000001A" is active row
// "*1A"; PPP's is the session-id in the key). Sessions accounting told of
// are persisted (radius_sessions) so that a restart keeps their keys; one
// the API does not see and accounting has not mentioned for three interim
// intervals and a minute ends as vanished-on-resync (the router lost it
// without a Stop).
//
// Enforcement: an interim that uses up the data cap, an end that passes
// (checked every RadiusEnforceInterval) and an entry disabled, deleted
// or expired by the sync send a Disconnect-Request to the router's
// /radius incoming (RadiusCoAAddr, default the router's host at port
// 3799); a changed rate limit or end sends a CoA-Request. A kick command
// for a session accounting told of, while the router is in radius mode,
// is a Disconnect-Request instead of the API remove: it succeeds on the
// ACK and fails with the NAK's text, exactly once like every command.
package agent
