package pusher

import (
	"errors"
	"strings"
	"testing"
)

func TestValidChannelName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"private-tenant.1.sessions", true},
		{"presence-tenant.12.room", true},
		{"a-zA-Z0-9_=@,.;", true},
		{strings.Repeat("a", 164), true},
		{strings.Repeat("a", 165), false},
		{"", false},
		{"with space", false},
		{"slash/no", false},
		{"colon:no", false},
		{"é", false},
		{"#server-to-user-1", false},
	}
	for _, tt := range tests {
		if got := ValidChannelName(tt.name); got != tt.want {
			t.Errorf("ValidChannelName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		name string
		want ChannelKind
	}{
		{"news", ChannelPublic},
		{"private-x", ChannelPrivate},
		{"private-encrypted-x", ChannelPrivateEncrypted},
		{"presence-x", ChannelPresence},
		{"privatex", ChannelPublic},
	}
	for _, tt := range tests {
		if got := KindOf(tt.name); got != tt.want {
			t.Errorf("KindOf(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestValidSocketID(t *testing.T) {
	for id, want := range map[string]bool{"1.2": true, "123456.7890": true, "1.": false, ".1": false, "a.b": false, "1.2.3": false, "1.2\n": false, "": false} {
		if got := ValidSocketID(id); got != want {
			t.Errorf("ValidSocketID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Frame
		wantErr error
	}{
		{"subscribe", `{"event":"pusher:subscribe","data":{"channel":"a"}}`, Frame{Event: "pusher:subscribe", Data: []byte(`{"channel":"a"}`)}, nil},
		{"client event", ` {"event":"client-x","channel":"private-a","data":"s"} `, Frame{Event: "client-x", Channel: "private-a", Data: []byte(`"s"`)}, nil},
		{"null channel and data", `{"event":"pusher:ping","channel":null,"data":null}`, Frame{Event: "pusher:ping"}, nil},
		{"unknown fields ignored", `{"event":"e","x":[1]}`, Frame{Event: "e"}, nil},
		{"empty", ``, Frame{}, ErrFrameNotJSON},
		{"array", `[]`, Frame{}, ErrFrameNotJSON},
		{"string", `"event"`, Frame{}, ErrFrameNotJSON},
		{"trailing garbage", `{"event":"e"}x`, Frame{}, ErrFrameNotJSON},
		{"no event", `{}`, Frame{}, ErrFrameNoEvent},
		{"empty event", `{"event":""}`, Frame{}, ErrFrameNoEvent},
		{"event number", `{"event":1}`, Frame{}, ErrFrameNoEvent},
		{"long event", `{"event":"` + strings.Repeat("e", 201) + `"}`, Frame{}, ErrFrameLongEvent},
		{"channel number", `{"event":"e","channel":1}`, Frame{}, ErrFrameBadField},
		{"invalid utf8 is replaced", "{\"event\":\"e\xff\"}", Frame{Event: "e\uFFFD"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeFrame([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got.Event != tt.want.Event || got.Channel != tt.want.Channel || string(got.Data) != string(tt.want.Data) {
				t.Errorf("got %+v (data %s), want %+v (data %s)", got, got.Data, tt.want, tt.want.Data)
			}
		})
	}
}

func TestDecodeDataAcceptsObjectOrString(t *testing.T) {
	for _, in := range []string{`{"channel":"a"}`, `"{\"channel\":\"a\"}"`} {
		var d struct{ Channel string }
		if err := decodeData([]byte(in), &d); err != nil || d.Channel != "a" {
			t.Errorf("decodeData(%s) = %+v, %v; want channel a", in, d, err)
		}
	}
	var d struct{}
	for _, in := range []string{``, `"not json"`, `[`} {
		if err := decodeData([]byte(in), &d); err == nil {
			t.Errorf("decodeData(%q) = nil error", in)
		}
	}
}

// FuzzDecodeFrame checks that the client frame decoder never panics and that
// whatever it accepts satisfies its contract.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"event":"pusher:subscribe","data":{"channel":"private-a","auth":"k:s"}}`,
		`{"event":"pusher:ping","data":{}}`,
		`{"event":"client-x","channel":"presence-a","data":"{\"a\":1}"}`,
		`{"event":"e","data":"\u0000"}`,
		`{`, `[]`, `null`, `{"event":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if fr.Event == "" || len(fr.Event) > MaxEventNameLength {
			t.Fatalf("accepted frame with event %q", fr.Event)
		}
		if fr.Data != nil && string(fr.Data) == "null" {
			t.Fatal("null data not normalised to nil")
		}
		// Accepted data must survive the nested decode path without panics.
		var v map[string]any
		_ = decodeData(fr.Data, &v)
	})
}
