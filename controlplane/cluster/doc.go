// Package cluster runs a control-plane replica against an external MQTT
// broker (EMQX, HiveMQ, VerneMQ, Mosquitto ≥ 2) instead of the embedded
// one, so that several replicas can share one PostgreSQL database
// (sitepulse serve --mqtt-url).
//
// A [Client] ingests from shared subscriptions, acknowledging a message
// only after ingest committed it, sends commands, tracks agents' status,
// and relays every committed change to the other replicas ([Client.Fanin])
// so that each replica's realtime fan-out (controlplane/fanout) sees them
// all, each router's batches in commit order. Why it works this way — the
// acknowledgement rule, the relay, seq gaps (controlplane.ReplicaGap),
// security — is the design note docs/scale-out.md.
package cluster
