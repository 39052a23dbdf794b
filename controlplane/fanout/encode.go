package fanout

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// newEpoch returns a random id for this process's seq space: every event
// carries it beside its seq, so a dashboard that reconnects to another
// replica (or to this one after a restart), whose seqs may happen to
// continue where the old ones stopped, still sees that it must refetch.
func newEpoch() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// encodePayload encodes an event's payload once, as the bytes every
// subscriber gets, with the channel's seq and the epoch appended (seq 0:
// none). Payloads are built field by field from the domain types, so their
// JSON is normally sent as it is; only when an object key looks like a
// secret, a phone number or an email does the payload take the slow path
// through scrubValue (numbers kept as json.Number, so integers stay exact).
func (f *Fanout) encodePayload(event string, payload any, seq uint64) ([]byte, bool) {
	b, err := json.Marshal(payload)
	if err != nil {
		f.log.Error("fan-out: marshal", "event", event, "err", err)
		return nil, false
	}
	if len(b) < 2 || b[0] != '{' {
		f.log.Error("fan-out: payload is not an object", "event", event)
		return nil, false
	}
	if hasSensitiveKey(b) {
		generic, ok := f.scrubbed(event, payload)
		if !ok {
			return nil, false
		}
		if b, err = json.Marshal(generic); err != nil {
			f.log.Error("fan-out: marshal", "event", event, "err", err)
			return nil, false
		}
	}
	if seq == 0 {
		return b, true
	}
	// Splice ,"seq":N,"epoch":"…" before the closing brace.
	out := make([]byte, 0, len(b)+40)
	out = append(out, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"seq":`...)
	out = strconv.AppendUint(out, seq, 10)
	out = append(out, `,"epoch":"`...)
	out = append(out, f.epoch...)
	out = append(out, `"}`...)
	return out, true
}

// hasSensitiveKey reports whether JSON text (as json.Marshal writes it: no
// insignificant whitespace) has an object key that scrubValue would touch.
func hasSensitiveKey(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		start := i + 1
		escaped := false
		j := start
		for ; j < len(b); j++ {
			if b[j] == '\\' {
				escaped = true
				j++
				continue
			}
			if b[j] == '"' {
				break
			}
		}
		if j >= len(b) {
			return true // malformed: let the slow path decide
		}
		i = j
		if j+1 >= len(b) || b[j+1] != ':' {
			continue // a string value, not a key
		}
		key := string(b[start:j])
		if escaped {
			var s string
			if json.Unmarshal(b[start-1:j+1], &s) != nil {
				return true
			}
			key = s
		}
		if looksSecret(key) || looksPhone(key) || looksEmail(key) {
			return true
		}
	}
	return false
}
