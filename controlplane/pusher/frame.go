package pusher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Pusher protocol error codes used by the hub, both in pusher:error frames and
// as WebSocket close codes. pusher-js decides from the range what to do after a
// close: 4000–4099 stop, 4100–4199 back off, 4200–4299 reconnect at once.
const (
	// CodeAppNotFound closes a connection whose app key is unknown.
	CodeAppNotFound = 4001
	// CodeFrameTooLarge closes a connection that sent a frame over the size
	// limit. Pusher has no dedicated "message too large" code; its 4009
	// ("connection is unauthorized") is the closest listed one in the "do not
	// reconnect unchanged" range, which is what a client that sends frames
	// the server will never accept deserves (1009 would make pusher-js
	// reconnect and resend in a loop).
	CodeFrameTooLarge = 4009
	// CodeOverCapacity closes a slow consumer: its send queue was full.
	// pusher-js reconnects after a back-off and the dashboard refetches.
	CodeOverCapacity = 4100
	// CodeReconnect closes connections on server shutdown: reconnect now.
	CodeReconnect = 4200
	// CodePongNotReceived closes a connection that did not answer the
	// server's pusher:ping within the pong timeout.
	CodePongNotReceived = 4201
	// CodeClientEventRejected reports a refused client event; it never closes
	// the connection.
	CodeClientEventRejected = 4301
)

// Limits of the Pusher protocol that the hub enforces.
const (
	// MaxChannelNameLength is the longest accepted channel name.
	MaxChannelNameLength = 164
	// MaxEventNameLength is the longest accepted event name.
	MaxEventNameLength = 200
	// DefaultMaxMessageSize is Pusher's 10 KiB limit for inbound frames and
	// for the data of events published through the HTTP API.
	DefaultMaxMessageSize = 10 * 1024
	// maxUserInfoSize bounds a presence member's user_info (Pusher: 1 KB).
	maxUserInfoSize = 1024
	// maxUserIDLength bounds a presence user_id (Pusher: 128 characters).
	maxUserIDLength = 128
)

// Channel name prefixes that select a channel's kind.
const (
	prefixPrivate          = "private-"
	prefixPresence         = "presence-"
	prefixPrivateEncrypted = "private-encrypted-"
)

// ChannelKind tells which authorization a channel needs.
type ChannelKind int

// Channel kinds, decided by the channel name's prefix.
const (
	ChannelPublic ChannelKind = iota
	ChannelPrivate
	ChannelPresence
	ChannelPrivateEncrypted
)

// String names the kind as in logs and metrics.
func (k ChannelKind) String() string {
	switch k {
	case ChannelPrivate:
		return "private"
	case ChannelPresence:
		return "presence"
	case ChannelPrivateEncrypted:
		return "private-encrypted"
	default:
		return "public"
	}
}

// KindOf returns the kind of a channel from its name's prefix.
func KindOf(channel string) ChannelKind {
	switch {
	// private-encrypted- also starts with private-: test it first.
	case strings.HasPrefix(channel, prefixPrivateEncrypted):
		return ChannelPrivateEncrypted
	case strings.HasPrefix(channel, prefixPrivate):
		return ChannelPrivate
	case strings.HasPrefix(channel, prefixPresence):
		return ChannelPresence
	default:
		return ChannelPublic
	}
}

// needsAuth reports whether subscribing to a channel of this kind needs an
// auth signature.
func (k ChannelKind) needsAuth() bool { return k != ChannelPublic }

// ValidChannelName reports whether name is a Pusher channel name: 1 to 164
// characters from [-a-zA-Z0-9_=@,.;].
func ValidChannelName(name string) bool {
	if len(name) == 0 || len(name) > MaxChannelNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !channelNameByte[name[i]] {
			return false
		}
	}
	return true
}

var channelNameByte = func() (t [256]bool) {
	for _, r := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=@,.;" {
		t[r] = true
	}
	return t
}()

// validEventName reports whether name can be published: non-empty and at
// most 200 bytes.
func validEventName(name string) bool {
	return name != "" && len(name) <= MaxEventNameLength
}

var socketIDPattern = regexp.MustCompile(`^\d+\.\d+$`)

// ValidSocketID reports whether id has the form the server SDKs accept
// ("123.456").
func ValidSocketID(id string) bool {
	return len(id) <= 64 && socketIDPattern.MatchString(id)
}

// Frame is one Pusher protocol message received from a client. Data holds the
// raw JSON value of the "data" member (nil when absent); clients usually send
// an object, some send a JSON-encoded string.
type Frame struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Errors returned by DecodeFrame, so the hub can tell the client what was
// wrong with its frame.
var (
	ErrFrameNotJSON   = errors.New("frame is not a JSON object")
	ErrFrameNoEvent   = errors.New(`frame has no "event" string`)
	ErrFrameBadField  = errors.New("frame has a field of the wrong type")
	ErrFrameLongEvent = errors.New("event name longer than 200 bytes")
)

// DecodeFrame parses a client frame. It accepts exactly one JSON object with
// a non-empty string "event", an optional string "channel" and any "data"
// value; anything else is an error (never a panic), which the hub reports to
// the client in a pusher:error frame.
func DecodeFrame(b []byte) (Frame, error) {
	var raw struct {
		Event   json.RawMessage `json:"event"`
		Channel json.RawMessage `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Frame{}, ErrFrameNotJSON
	}
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return Frame{}, fmt.Errorf("%w: %v", ErrFrameNotJSON, err)
	}
	var f Frame
	if len(raw.Event) == 0 || raw.Event[0] != '"' {
		return Frame{}, ErrFrameNoEvent
	}
	if err := json.Unmarshal(raw.Event, &f.Event); err != nil || f.Event == "" {
		return Frame{}, ErrFrameNoEvent
	}
	if len(f.Event) > MaxEventNameLength {
		return Frame{}, ErrFrameLongEvent
	}
	if len(raw.Channel) > 0 && !bytes.Equal(raw.Channel, []byte("null")) {
		if raw.Channel[0] != '"' {
			return Frame{}, fmt.Errorf("%w: channel", ErrFrameBadField)
		}
		if err := json.Unmarshal(raw.Channel, &f.Channel); err != nil {
			return Frame{}, fmt.Errorf("%w: channel", ErrFrameBadField)
		}
	}
	if len(raw.Data) > 0 && !bytes.Equal(raw.Data, []byte("null")) {
		f.Data = raw.Data
	}
	return f, nil
}

// decodeData unmarshals a frame's data into v. The data may be the object
// itself or a JSON string that contains it (both occur in the wild).
func decodeData(data json.RawMessage, v any) error {
	if len(data) == 0 {
		return errors.New("missing data")
	}
	if data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("decode data string: %w", err)
		}
		data = json.RawMessage(s)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode data: %w", err)
	}
	return nil
}

// outFrame is a frame the server sends. Data is a JSON-encoded string for
// events, as the protocol requires; UserID is set on client events relayed
// on presence channels.
type outFrame struct {
	Event   string `json:"event"`
	Channel string `json:"channel,omitempty"`
	Data    any    `json:"data,omitempty"`
	UserID  string `json:"user_id,omitempty"`
}

// encodeEvent encodes an event whose data is already a string (the protocol
// puts JSON inside a JSON string).
func encodeEvent(event, channel, data string) []byte {
	return mustMarshal(outFrame{Event: event, Channel: channel, Data: data})
}

// encodeEventJSON encodes an event whose data is a Go value: it is marshalled
// to JSON and sent as a string.
func encodeEventJSON(event, channel string, data any) []byte {
	return encodeEvent(event, channel, string(mustMarshal(data)))
}

// errorData is the data of a pusher:error frame. Code is null for errors
// that have no Pusher code (malformed frames).
type errorData struct {
	Code    *int   `json:"code"`
	Message string `json:"message"`
}

// encodeError encodes a pusher:error frame; code 0 means no code. Pusher
// sends the data of pusher:error as an object, not a string, and pusher-js
// accepts both.
func encodeError(code int, message string) []byte {
	d := errorData{Message: message}
	if code != 0 {
		d.Code = &code
	}
	return mustMarshal(outFrame{Event: "pusher:error", Data: d})
}

// mustMarshal marshals values whose types cannot fail to encode (structs of
// strings, ints and json.RawMessage produced by this package).
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("pusher: marshal %T: %v", v, err))
	}
	return b
}
