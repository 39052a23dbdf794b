package protocol

// Version is the message format version carried in every envelope's "v"
// field. Decoders reject any other value, so a change that an older peer
// would misread must bump it.
//
// History:
//   - 1: initial contract: event batches (snapshot in parts, session.started,
//     session.updated with absolute counters, session.ended with a reason,
//     router.resources), retained status with an offline will, typed
//     commands (hotspot users, PPP secrets, kicks, profile rate limits,
//     resync, allow-listed raw) and command results. Unknown JSON fields are
//     ignored so that optional fields can be added without a bump.
//     Added since, without a bump: the optional event-batch "epoch" (seqs
//     restart when it changes) and "prev" (the seq published before it).
//     The profile commands hotspot.profile.{add,set,remove} and
//     ppp.profile.{add,set,remove} with their "profile_spec" params (billing
//     plans). Without a bump because the number is compared for equality:
//     raising it would make every deployed agent refuse every command, while
//     an agent that predates these kinds answers only them, failed with code
//     "invalid" (unknown command kind).
const Version = 1

// Size limits enforced before and after decoding.
const (
	// MaxPayloadSize bounds every MQTT payload; decoders refuse larger input
	// before parsing it.
	MaxPayloadSize = 256 << 10
	// MaxEventsPerBatch bounds the events in one batch.
	MaxEventsPerBatch = 1000
	// MaxSnapshotSessions bounds the sessions in one snapshot part; larger
	// snapshots are sent in several parts.
	MaxSnapshotSessions = 500
	// MaxRouterIDLen bounds a router id, which is also an MQTT client id.
	MaxRouterIDLen = 64
	// MaxSegmentLen bounds any other topic segment (tenant, channel).
	MaxSegmentLen = 128
	// MaxFieldLen bounds free-text fields such as user names and messages.
	MaxFieldLen = 1024
)
