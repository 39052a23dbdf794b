package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePusherWebhooks(t *testing.T) {
	o, err := parsePusherWebhooks([]string{"https://a.example/hook", " http://b:8080/x "}, []string{"member_added", "client_event"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.URLs, []string{"https://a.example/hook", "http://b:8080/x"}) || !slices.Equal(o.Events, []string{"member_added", "client_event"}) {
		t.Errorf("got %+v", o)
	}
	for _, tt := range []struct {
		urls, events []string
		want         string
	}{
		{[]string{"ftp://x/"}, nil, "absolute http"},
		{[]string{"/relative"}, nil, "absolute http"},
		{nil, []string{"member_joined"}, "channel_occupied"},
	} {
		_, err := parsePusherWebhooks(tt.urls, tt.events)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parsePusherWebhooks(%v, %v) = %v, want an error with %q", tt.urls, tt.events, err, tt.want)
		}
	}
}
