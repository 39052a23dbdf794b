// Package cluster runs a control-plane replica against an external MQTT
// broker (EMQX, HiveMQ, VerneMQ, Mosquitto ≥ 2) instead of the embedded
// one, so that several replicas can share one PostgreSQL database
// (sitepulse serve --mqtt-url).
//
// # Ingest
//
// A Client connects with paho (MQTT 3.1.1) and subscribes to
//
//	$share/sitepulse/sp/v1/+/events      QoS 1, shared: one replica applies each batch
//	$share/sitepulse/sp/v1/+/cmd/result  QoS 1, shared
//	sp/v1/+/status                       QoS 1, every replica (see below)
//	sp/v1/_bcast/#                       QoS 0, every replica (the relay)
//
// Acknowledgement follows the embedded broker's rule, with the replica's
// PUBACK to the broker in place of the broker's PUBACK to the agent:
// automatic acknowledgement is off, and a message is acknowledged only
// after the Handler (ingest) committed it or rejected it for good
// (EINVALID, ETOOLARGE, ENOTFOUND, EUNAUTHORIZED, EFORBIDDEN). On any other
// error the message is left unacknowledged, so are the messages after it
// on the same connection (they would otherwise be applied before it), and
// the client disconnects and reconnects after RetryDelay. The session is
// persistent (clean session off), so the broker resends every
// unacknowledged message, in order, on the new connection; the store's
// per-router last_seq makes a resent batch harmless. Tested with Mosquitto
// 2.0, which resends in-flight messages of shared subscriptions to the
// member that had them when it resumes its session.
//
// Because the session is persistent, the client id must be unique per
// replica and should be stable across its restarts (default "sitepulse-"
// + host name: a StatefulSet, or --mqtt-client-id). A broker keeps handing
// a share's messages to a member whose session is offline (Mosquitto
// queues them for it), so Close first leaves the shared subscriptions and
// handles what was already on its way: a replica stopped with SIGTERM (a
// Deployment's rollout) strands nothing. One that crashes and never comes
// back leaves a session holding the messages the broker had assigned to
// it; configure the broker to expire abandoned sessions (Mosquitto
// persistent_client_expiration, EMQX session expiry) and enable broker
// persistence: with an external broker the agent deletes a batch from its
// outbox when the broker, not the control plane, has it.
//
// Statuses are not shared: every replica applies every status. Writing
// the same status twice is idempotent and the store reports a change to
// only one of them, but every replica learns which agents are connected
// (Connected, used to dispatch commands) and the time of each router's
// newest status. An external broker publishes an agent's will as the
// agent stamped it, when it connected, so the store would discard it as
// older than the "online" that followed; like the embedded broker, the
// client moves an offline status that is not newer than the router's
// newest online status just after it. A retained will that reaches a
// replica which has not seen the router's online status (every replica was
// down when the agent died) is applied with its own time and may be
// ignored by the store; the router then stays online until its next
// status or the stale-router sweep.
//
// Ordering: a router's batches must be applied in seq order (last_seq
// skips anything at or below the newest applied seq, and seqs may have
// gaps after the agent coalesced its buffer). A shared subscription may
// hand two consecutive batches of one router to two replicas, which then
// race. Each batch therefore names the seq published before it
// (protocol.EventBatch.Prev), and ingest, given PredecessorWait (sitepulse
// serve sets 10 s in this mode), waits for that seq to be applied before
// applying the batch. The wait cannot deadlock: the broker hands messages
// out in one order and a batch only waits for an earlier one. A batch
// whose predecessor does not come in time is applied anyway and counted.
//
// # Commands
//
// PublishCommand and Connected give the provisioning dispatcher the same
// methods as the embedded broker: commands go to sp/v1/{router}/cmd at
// QoS 1 through the external broker.
//
// # Realtime relay
//
// Each replica runs its own realtime fan-out for the dashboards connected
// to it. Fanin feeds the fan-out with the changes its replica committed
// (from the bus) and, through sp/v1/_bcast/{tenant}/{channel}, the changes
// every other replica committed. What is relayed is the committed
// controlplane.Change, not the rendered Pusher event, for two reasons:
//
//   - every replica's fan-out sees every change, so the figures it
//     maintains (DashboardStatsUpdated, SystemStatsUpdated) count every
//     router and session, not only those its replica ingested;
//   - each replica numbers the events it sends with its own per-channel
//     seq, as a single process does. A dashboard talks to one replica, so
//     it sees one gap-free sequence per channel and refetches on a gap,
//     without knowing there are replicas. (Relaying rendered events with
//     the origin's seq would interleave several replicas' sequences on
//     one channel and defeat gap detection.)
//
// A relay carries the origin replica's id (ReplicaID: the client id plus
// a random suffix, new on every start), the change's type name and its
// JSON, and a seq per origin and topic tenant. The changes of one applied
// event batch travel in one relay, headed by their
// controlplane.BatchApplied, whose Prev and Last seqs chain a router's
// batches. A replica ignores its own relays (Fanin already handed them to
// its fan-out) and tells its fan-out about a hole in another origin's seq
// (a QoS 0 relay lost in a reconnect, or dropped because the fan-out fell
// behind) with realtime.ReplicaGap, which skips a seq on that tenant's
// channels so dashboards refetch.
//
// Fanin hands each router's batches to the fan-out in commit order,
// whichever replicas applied them: a batch whose predecessor has not
// been relayed yet is held until it has (Options.ReorderHold, 2 s by
// default), then released behind a ReplicaGap. So a dashboard on any
// replica sees a session start before its end even when two replicas
// applied them a millisecond apart. Changes that are not part of a batch
// (router status, commands, accounts, tenants) are relayed one by one and
// are not ordered between origins. SystemStatsUpdated's connection count
// is per replica.
//
// Events published through the Pusher HTTP API (/apps/{id}/events) are
// published on the receiving replica's hub and relayed (RelayAPIEvent) to
// the others, whose fan-outs publish them on theirs. Channel queries
// (/apps/{id}/channels…) answer for the receiving replica's sockets only.
//
// # Security
//
// SitePulse cannot enforce the agent ACL on an external broker. Configure
// the broker so that agent R may publish only sp/v1/R/events,
// sp/v1/R/status and sp/v1/R/cmd/result and subscribe only to
// sp/v1/R/cmd (Mosquitto: "pattern write sp/v1/%u/events" … with
// username = client id; EMQX: ACL rules with ${clientid}), that only the
// control plane's own credential may publish on sp/v1/+/cmd and use
// sp/v1/_bcast/# (relays carry subscriber data unmasked), and that agents
// authenticate with their per-router secrets (for example an HTTP or
// database authentication plugin against the SitePulse database). Rotating
// or revoking a router's secret in SitePulse cannot disconnect its live
// session at an external broker; revoked routers' messages are still
// rejected by ingest. Use TLS (ssl:// with --mqtt-ca) between replicas and
// broker.
package cluster
