package protocol

import "time"

// AgentState is the agent's connection state as published on the retained
// status topic.
type AgentState string

// Agent states. StateOffline is also the MQTT will.
const (
	StateOnline  AgentState = "online"
	StateOffline AgentState = "offline"
)

// Status is the payload of the retained sp/v1/{router}/status topic.
type Status struct {
	V      int        `json:"v"`
	Router string     `json:"router"`
	State  AgentState `json:"state"`
	TS     time.Time  `json:"ts"`
	// AgentVersion is the agent build's version string.
	AgentVersion string `json:"agent_version,omitempty"`
	// RouterConnected tells whether the agent currently has an API session
	// with its router.
	RouterConnected bool `json:"router_connected"`
	// Resources holds identity, board and RouterOS version when known.
	Resources *Resources `json:"resources,omitempty"`
	// LastSeq is the newest event seq the agent has recorded.
	LastSeq uint64 `json:"last_seq,omitempty"`
}
