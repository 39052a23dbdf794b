package protocol_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// Every decoder reads bytes straight from the network, so each has a fuzz
// target. The property: decoding never panics, and whatever decodes also
// encodes, and decodes again to an equal value. `make fuzz` runs them.

func FuzzDecodeEventBatch(f *testing.F) {
	seedFuzz(f, "events", events(started(okSession)), events(snapshot(1, 2, okSession)))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, protocol.DecodeEventBatch) })
}

func FuzzDecodeStatus(f *testing.F) {
	// Offsets decode to zones other than UTC; the property must hold anyway.
	seedFuzz(f, "status", okStatus, with(okStatus, `"resources":`+okResources),
		with(okStatus, `"ts":"2026-11-27T10:40:00.5+03:00"`), with(okStatus, `"ts":"2026-11-27T07:40:00+00:00"`))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, protocol.DecodeStatus) })
}

func FuzzDecodeCommand(f *testing.F) {
	seedFuzz(f, "cmd", okCmd, cmd("raw", `"raw":{"path":"/ip/address/print","args":["=a=1"]}`),
		cmd("hotspot.profile.add", `"profile_spec":{"name":"p","rate_limit":"1M/2M 2M/4M 1M/2M 10/10 8 512k","session_timeout":"1d00:30:00","shared_users":3}`),
		cmd("ppp.profile.set", `"profile_spec":{"name":"p","idle_timeout":"4w2d3h4m5s500ms","only_one":false,"remote_address":"pool"}`))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, protocol.DecodeCommand) })
}

func FuzzDecodeCommandResult(f *testing.F) {
	seedFuzz(f, "result", okResult, with(okResult, `"rows":[{"a":"b"}]`))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, protocol.DecodeCommandResult) })
}

func FuzzDecodeRadiusSync(f *testing.F) {
	seedFuzz(f, "radiussync", `{"v":1,"router":"r1","mode":"radius","from":0,"to":0,"head":0}`,
		`{"v":1,"router":"r1","mode":"radius","from":1,"to":2,"head":2,"entries":[{"kind":"pppoe","name":"b","version":2,"nt_hash":"8846F7EAEE8FB117AD06BDD830B7586C"}]}`)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, protocol.DecodeRadiusSync) })
}

func FuzzDecodeRadiusState(f *testing.F) {
	seedFuzz(f, "radiusstate", `{"v":1,"router":"r1","version":18446744073709551615,"count":1}`)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, protocol.DecodeRadiusState) })
}

func FuzzDecodeRadiusAsk(f *testing.F) {
	seedFuzz(f, "radiusask", `{"v":1,"router":"r1","id":"1","code":"A","ts":"2026-11-27T10:40:00.5+03:00"}`)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, protocol.DecodeRadiusAsk) })
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		protocol.EventsTopic("r1"), protocol.StatusTopic("r1"), protocol.CmdTopic("r1"),
		protocol.CmdResultTopic("site-042_core"), protocol.BroadcastTopic("7", "private-tenant.7.sessions"),
		protocol.RadiusSyncTopic("r1"), protocol.RadiusStateTopic("r1"), protocol.RadiusAskTopic("r1"), "sp/v1/r1/radius/x",
		protocol.SharedEventsFilter, "sp/v1/+/events", "sp/v1/#", "sp/v1//events", "sp/v1/r1/cmd/result/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := protocol.ParseTopic(s)
		if err != nil {
			return
		}
		// A parsed topic renders back to exactly its input, so topics have
		// one spelling and ACL checks can compare strings.
		if got := tp.String(); got != s {
			t.Fatalf("ParseTopic(%q).String() = %q", s, got)
		}
		again, err := protocol.ParseTopic(tp.String())
		if err != nil || again != tp {
			t.Fatalf("reparse of %q = %+v, %v; want %+v", s, again, err, tp)
		}
	})
}

// seedFuzz adds every golden file with prefix and the extra payloads.
func seedFuzz(f *testing.F, prefix string, extra ...string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", prefix+".*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files for %s: %v", prefix, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

func roundTrip[P protocol.Message](t *testing.T, b []byte, decode func([]byte) (P, error)) {
	first, err := decode(b)
	if err != nil {
		return
	}
	enc, err := protocol.Encode(first)
	if err != nil {
		// Re-encoding may legitimately grow a payload (encoding/json writes
		// "<" as \u003c and an invalid UTF-8 byte as U+FFFD), by at most 6x,
		// so only a large input may come back too large.
		if errors.Is(err, protocol.ErrTooLarge) && len(b) > protocol.MaxPayloadSize/6 {
			return
		}
		t.Fatalf("decoded but does not encode: %v\ninput: %q", err, b)
	}
	second, err := decode(enc)
	if err != nil {
		t.Fatalf("encoding does not decode: %v\ninput: %q\nencoded: %s", err, b, enc)
	}
	normalize(reflect.ValueOf(first))
	normalize(reflect.ValueOf(second))
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("round trip changed the value\ninput:   %q\nencoded: %s\nfirst:   %+v\nsecond:  %+v", b, enc, first, second)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// normalize rewrites differences that JSON cannot carry, in place: a
// time's *Location (an offset decodes to a fresh zone, or to Local when it
// matches) is set to UTC, and empty slices and maps become nil because
// omitempty drops them.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			return
		}
		for i := range v.NumField() {
			normalize(v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := range v.Len() {
			normalize(v.Index(i))
		}
	case reflect.Map:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
}
