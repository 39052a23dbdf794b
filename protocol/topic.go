package protocol

import (
	"fmt"
	"strings"
)

// TopicRoot prefixes every SitePulse MQTT topic; its last segment is the
// topic-layout version, independent of the message Version.
const TopicRoot = "sp/v1"

// TopicKind names what a topic carries.
type TopicKind string

// Topic kinds, one per row of the MQTT contract.
const (
	TopicEvents    TopicKind = "events"     // agent → control plane, QoS 1
	TopicStatus    TopicKind = "status"     // agent → control plane, QoS 1, retained
	TopicCmd       TopicKind = "cmd"        // control plane → agent, QoS 1
	TopicCmdResult TopicKind = "cmd/result" // agent → control plane, QoS 1
	TopicBroadcast TopicKind = "_bcast"     // control plane ↔ control plane, QoS 0
)

// BroadcastSegment is the reserved first segment of replica fan-out topics;
// it can never be a router id because router ids must start with a letter
// or digit.
const BroadcastSegment = "_bcast"

// Topic is a parsed SitePulse topic.
type Topic struct {
	Kind    TopicKind
	Router  string // set for agent topics
	Tenant  string // set for broadcast topics
	Channel string // set for broadcast topics
}

// String renders the topic.
func (t Topic) String() string {
	if t.Kind == TopicBroadcast {
		return BroadcastTopic(t.Tenant, t.Channel)
	}
	return TopicRoot + "/" + t.Router + "/" + string(t.Kind)
}

// EventsTopic is where router publishes event batches.
func EventsTopic(router string) string { return Topic{Kind: TopicEvents, Router: router}.String() }

// StatusTopic is where router publishes its retained status and will.
func StatusTopic(router string) string { return Topic{Kind: TopicStatus, Router: router}.String() }

// CmdTopic is where the control plane sends commands to router.
func CmdTopic(router string) string { return Topic{Kind: TopicCmd, Router: router}.String() }

// CmdResultTopic is where router reports command progress.
func CmdResultTopic(router string) string {
	return Topic{Kind: TopicCmdResult, Router: router}.String()
}

// BroadcastTopic carries realtime fan-out between control-plane replicas.
func BroadcastTopic(tenant, channel string) string {
	return TopicRoot + "/" + BroadcastSegment + "/" + tenant + "/" + channel
}

// SharedEventsFilter is the shared subscription through which replicas
// split ingest when an external broker is used.
const SharedEventsFilter = "$share/sitepulse/" + TopicRoot + "/+/events"

// ValidRouterID reports whether id may be used as a router id: 1 to
// MaxRouterIDLen characters of [A-Za-z0-9_-], starting with a letter or
// digit. It therefore never contains MQTT wildcards or separators.
func ValidRouterID(id string) error {
	if id == "" {
		return fmt.Errorf("router id is empty")
	}
	if len(id) > MaxRouterIDLen {
		return fmt.Errorf("router id longer than %d", MaxRouterIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return fmt.Errorf("router id has invalid character %q at %d", c, i)
		}
	}
	return nil
}

func validSegment(s string) error {
	if s == "" {
		return fmt.Errorf("empty segment")
	}
	if len(s) > MaxSegmentLen {
		return fmt.Errorf("segment longer than %d", MaxSegmentLen)
	}
	if strings.ContainsAny(s, "+#/\x00") {
		return fmt.Errorf("segment %q has a wildcard, separator or NUL", s)
	}
	return nil
}

// ParseTopic parses a concrete SitePulse topic. It rejects wildcards, empty
// or oversized segments, malformed router ids and unknown layouts.
func ParseTopic(s string) (Topic, error) {
	rest, ok := strings.CutPrefix(s, TopicRoot+"/")
	if !ok {
		return Topic{}, fmt.Errorf("topic %q: not under %s/", s, TopicRoot)
	}
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if err := validSegment(p); err != nil {
			return Topic{}, fmt.Errorf("topic %q: %w", s, err)
		}
	}
	if parts[0] == BroadcastSegment {
		if len(parts) != 3 {
			return Topic{}, fmt.Errorf("topic %q: broadcast topic needs tenant and channel", s)
		}
		return Topic{Kind: TopicBroadcast, Tenant: parts[1], Channel: parts[2]}, nil
	}
	if err := ValidRouterID(parts[0]); err != nil {
		return Topic{}, fmt.Errorf("topic %q: %w", s, err)
	}
	t := Topic{Router: parts[0]}
	switch strings.Join(parts[1:], "/") {
	case string(TopicEvents):
		t.Kind = TopicEvents
	case string(TopicStatus):
		t.Kind = TopicStatus
	case string(TopicCmd):
		t.Kind = TopicCmd
	case string(TopicCmdResult):
		t.Kind = TopicCmdResult
	case string(TopicRadiusSync):
		t.Kind = TopicRadiusSync
	case string(TopicRadiusState):
		t.Kind = TopicRadiusState
	case string(TopicRadiusAsk):
		t.Kind = TopicRadiusAsk
	default:
		return Topic{}, fmt.Errorf("topic %q: unknown kind", s)
	}
	return t, nil
}
