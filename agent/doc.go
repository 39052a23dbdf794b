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
package agent
