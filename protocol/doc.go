// Package protocol is the wire contract between SitePulse agents and the
// control plane: MQTT topics, message types, their JSON encoding, validation
// and size limits, and the version history.
//
// It imports only the standard library so that both sides, and third-party
// tools, can depend on it without pulling in either side's code.
package protocol
