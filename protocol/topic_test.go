package protocol_test

import (
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/protocol"
)

func TestTopicBuilders(t *testing.T) {
	tests := []struct {
		got, want string
		parsed    protocol.Topic
	}{
		{protocol.EventsTopic("r1"), "sp/v1/r1/events", protocol.Topic{Kind: protocol.TopicEvents, Router: "r1"}},
		{protocol.StatusTopic("r1"), "sp/v1/r1/status", protocol.Topic{Kind: protocol.TopicStatus, Router: "r1"}},
		{protocol.CmdTopic("site-9_B"), "sp/v1/site-9_B/cmd", protocol.Topic{Kind: protocol.TopicCmd, Router: "site-9_B"}},
		{protocol.CmdResultTopic("r1"), "sp/v1/r1/cmd/result", protocol.Topic{Kind: protocol.TopicCmdResult, Router: "r1"}},
		{protocol.BroadcastTopic("7", "private-tenant.7.sessions"), "sp/v1/_bcast/7/private-tenant.7.sessions",
			protocol.Topic{Kind: protocol.TopicBroadcast, Tenant: "7", Channel: "private-tenant.7.sessions"}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("builder = %q, want %q", tt.got, tt.want)
		}
		p, err := protocol.ParseTopic(tt.got)
		if err != nil {
			t.Errorf("ParseTopic(%q): %v", tt.got, err)
			continue
		}
		if p != tt.parsed {
			t.Errorf("ParseTopic(%q) = %+v, want %+v", tt.got, p, tt.parsed)
		}
		if s := p.String(); s != tt.got {
			t.Errorf("ParseTopic(%q).String() = %q", tt.got, s)
		}
	}
	if got, want := protocol.SharedEventsFilter, "$share/sitepulse/sp/v1/+/events"; got != want {
		t.Errorf("SharedEventsFilter = %q, want %q", got, want)
	}
}

func TestParseTopicLimits(t *testing.T) {
	maxRouter := strings.Repeat("r", protocol.MaxRouterIDLen)
	maxSeg := strings.Repeat("s", protocol.MaxSegmentLen)
	for _, ok := range []string{
		protocol.EventsTopic(maxRouter),
		protocol.BroadcastTopic(maxSeg, maxSeg),
		protocol.StatusTopic("0"),
		protocol.CmdTopic("A-_-9"),
	} {
		if _, err := protocol.ParseTopic(ok); err != nil {
			t.Errorf("ParseTopic(%q): %v", ok, err)
		}
	}
}

func TestParseTopicRejects(t *testing.T) {
	long := strings.Repeat("s", protocol.MaxSegmentLen+1)
	tests := []struct{ name, topic string }{
		{"empty", ""},
		{"root only", "sp/v1"},
		{"root slash", "sp/v1/"},
		{"wrong root version", "sp/v2/r1/events"},
		{"wrong root", "xp/v1/r1/events"},
		{"leading slash", "/sp/v1/r1/events"},
		{"shared filter", protocol.SharedEventsFilter},
		{"plus as router", "sp/v1/+/events"},
		{"plus as kind", "sp/v1/r1/+"},
		{"plus inside router", "sp/v1/r+1/events"},
		{"hash", "sp/v1/#"},
		{"hash as kind", "sp/v1/r1/#"},
		{"hash in broadcast channel", "sp/v1/_bcast/t1/ch#"},
		{"plus in broadcast tenant", "sp/v1/_bcast/+/ch"},
		{"NUL", "sp/v1/r1\x00/events"},
		{"empty router", "sp/v1//events"},
		{"empty kind", "sp/v1/r1/"},
		{"trailing slash", "sp/v1/r1/events/"},
		{"double slash in kind", "sp/v1/r1/cmd//result"},
		{"no kind", "sp/v1/r1"},
		{"unknown kind", "sp/v1/r1/evnts"},
		{"kind case", "sp/v1/r1/Events"},
		{"extra segment", "sp/v1/r1/events/x"},
		{"result without cmd", "sp/v1/r1/result"},
		{"result extra", "sp/v1/r1/cmd/result/x"},
		{"router leading dash", "sp/v1/-r1/events"},
		{"router leading underscore", "sp/v1/_r1/events"},
		{"router dot", "sp/v1/r.1/events"},
		{"router space", "sp/v1/r 1/events"},
		{"router non-ASCII", "sp/v1/rö/events"},
		{"router too long", "sp/v1/" + strings.Repeat("r", protocol.MaxRouterIDLen+1) + "/events"},
		{"segment too long", "sp/v1/" + long + "/events"},
		{"broadcast tenant too long", "sp/v1/_bcast/" + long + "/ch"},
		{"broadcast channel too long", "sp/v1/_bcast/t1/" + long},
		{"broadcast without channel", "sp/v1/_bcast/t1"},
		{"broadcast empty channel", "sp/v1/_bcast/t1/"},
		{"broadcast empty tenant", "sp/v1/_bcast//ch"},
		{"broadcast extra", "sp/v1/_bcast/t1/ch/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := protocol.ParseTopic(tt.topic); err == nil {
				t.Errorf("ParseTopic(%q) = %+v, want an error", tt.topic, got)
			}
		})
	}
}

func TestValidRouterID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"r1", true},
		{"0", true},
		{"Site-042_core", true},
		{strings.Repeat("a", protocol.MaxRouterIDLen), true},
		{"", false},
		{strings.Repeat("a", protocol.MaxRouterIDLen+1), false},
		{"-a", false},
		{"_a", false},
		{protocol.BroadcastSegment, false},
		{"a/b", false},
		{"a+", false},
		{"a#", false},
		{"a b", false},
		{"a.b", false},
		{"$SYS", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := protocol.ValidRouterID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidRouterID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
	}
}
