package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// Payload builders for the invalid table. They start from valid JSON and
// append a key that is already present: encoding/json keeps the last value
// of a repeated key, so with(okSession, `"kind":"x"`) is okSession with kind
// replaced. That keeps each case down to the one thing it breaks.

const okSession = `{"kind":"hotspot","key":"hotspot:alice|AA:BB:CC:00:11:22|1795760100","user":"alice","started_at":"2026-11-27T06:15:00Z","bytes_in":1,"bytes_out":2}`

const okResources = `{"uptime_s":60,"cpu_load":3,"free_memory":10,"total_memory":20}`

// with appends fields to the JSON object obj.
func with(obj string, fields ...string) string {
	return strings.TrimSuffix(obj, "}") + "," + strings.Join(fields, ",") + "}"
}

// ev is a valid-looking event header with extra fields appended.
func ev(seq int, typ string, extra ...string) string {
	e := fmt.Sprintf(`{"seq":%d,"ts":"2026-11-27T07:40:00Z","type":%q}`, seq, typ)
	if len(extra) == 0 {
		return e
	}
	return with(e, extra...)
}

// events wraps events in a version-1 batch from router r1.
func events(evs ...string) string {
	return `{"v":1,"router":"r1","events":[` + strings.Join(evs, ",") + `]}`
}

// snapshot builds a snapshot event whose part holds sessions.
func snapshot(part, parts int, sessions ...string) string {
	return ev(1, "snapshot", fmt.Sprintf(`"snapshot":{"id":"s1","part":%d,"parts":%d,"sessions":[%s]}`, part, parts, strings.Join(sessions, ",")))
}

func started(session string) string { return ev(1, "session.started", `"session":`+session) }

const (
	okStatus = `{"v":1,"router":"r1","state":"online","ts":"2026-11-27T07:40:00Z","router_connected":true}`
	okCmd    = `{"v":1,"id":"c1","router":"r1","kind":"resync","issued_at":"2026-11-27T07:40:00Z"}`
	okResult = `{"v":1,"id":"c1","router":"r1","status":"running","ts":"2026-11-27T07:40:00Z"}`
)

// cmd builds a command of kind with extra fields.
func cmd(kind string, extra ...string) string {
	return with(okCmd, append([]string{`"kind":` + fmt.Sprintf("%q", kind)}, extra...)...)
}

func repeat(s string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

type decoderFunc func([]byte) error

var (
	decEvents  decoderFunc = func(b []byte) error { _, err := protocol.DecodeEventBatch(b); return err }
	decStatus  decoderFunc = func(b []byte) error { _, err := protocol.DecodeStatus(b); return err }
	decCmd     decoderFunc = func(b []byte) error { _, err := protocol.DecodeCommand(b); return err }
	decResult  decoderFunc = func(b []byte) error { _, err := protocol.DecodeCommandResult(b); return err }
	allDecoder             = map[string]decoderFunc{"events": decEvents, "status": decStatus, "cmd": decCmd, "result": decResult}
)

// TestDecodeValidBuilders guards the builders above: the invalid cases
// only prove something if the payloads they start from are valid.
func TestDecodeValidBuilders(t *testing.T) {
	for name, c := range map[string]struct {
		dec     decoderFunc
		payload string
	}{
		"started":                 {decEvents, events(started(okSession))},
		"snapshot":                {decEvents, events(snapshot(1, 1, okSession))},
		"resources":               {decEvents, events(ev(1, "router.resources", `"resources":`+okResources))},
		"status":                  {decStatus, okStatus},
		"cmd":                     {decCmd, okCmd},
		"cmd-kick":                {decCmd, cmd("ppp.active.kick", `"kick":{"user":"bob"}`)},
		"cmd-profile-remove-spec": {decCmd, cmd("hotspot.profile.remove", `"profile_spec":{"name":"p","rate_limit":"1M/1M","shared_users":3}`)},
		"result":                  {decResult, okResult},
	} {
		if err := c.dec([]byte(c.payload)); err != nil {
			t.Errorf("%s: %v\npayload: %s", name, err, c.payload)
		}
	}
}

// TestDecodeInvalid checks that each broken payload is refused with the
// right error type, field and metric reason. Each case is decoded several
// times: validation must name the same field on every run.
func TestDecodeInvalid(t *testing.T) {
	const (
		tooLarge  = "too_large"
		version   = "version"
		field     = "invalid_field"
		malformed = "malformed"
	)
	long := strings.Repeat("x", protocol.MaxFieldLen+1)
	hugeGarbage := strings.Repeat("\x00garbage{[", protocol.MaxPayloadSize/10+1)
	hugeValid := events(started(okSession)) + strings.Repeat(" ", protocol.MaxPayloadSize)

	tests := []struct {
		name    string
		dec     decoderFunc
		payload string
		reason  string
		field   string // for invalid_field: the exact FieldError.Field
		version int    // for version: VersionError.Got
	}{
		// Size is checked before any parsing, whatever the bytes are.
		{name: "events garbage over limit", dec: decEvents, payload: hugeGarbage, reason: tooLarge},
		{name: "events valid JSON padded over limit", dec: decEvents, payload: hugeValid, reason: tooLarge},
		{name: "status garbage over limit", dec: decStatus, payload: hugeGarbage, reason: tooLarge},
		{name: "cmd garbage over limit", dec: decCmd, payload: hugeGarbage, reason: tooLarge},
		{name: "result garbage over limit", dec: decResult, payload: hugeGarbage, reason: tooLarge},

		// Malformed JSON.
		{name: "empty", dec: decEvents, payload: ``, reason: malformed},
		{name: "truncated", dec: decEvents, payload: `{"v":1,"router":"r1",`, reason: malformed},
		{name: "array", dec: decEvents, payload: `[1,2]`, reason: malformed},
		{name: "trailing data", dec: decStatus, payload: okStatus + `{}`, reason: malformed},
		{name: "bad time", dec: decEvents, payload: events(ev(1, "router.resources", `"ts":"yesterday"`, `"resources":`+okResources)), reason: malformed},

		// Version is checked before the rest, so a newer peer is named as such.
		{name: "v missing", dec: decEvents, payload: `{"router":"r1"}`, reason: field, field: "v"},
		{name: "v null", dec: decStatus, payload: `{"v":null}`, reason: field, field: "v"},
		{name: "v string", dec: decCmd, payload: `{"v":"1"}`, reason: field, field: "v"},
		{name: "v fraction", dec: decResult, payload: `{"v":1.5}`, reason: field, field: "v"},
		{name: "v 2", dec: decEvents, payload: `{"v":2,"router":"r1","events":[]}`, reason: version, version: 2},
		{name: "v 2 with fields v1 cannot parse", dec: decEvents, payload: `{"v":2,"events":"a string now"}`, reason: version, version: 2},
		{name: "v 0", dec: decStatus, payload: with(okStatus, `"v":0`), reason: version, version: 0},
		{name: "cmd v 3", dec: decCmd, payload: with(okCmd, `"v":3`), reason: version, version: 3},
		{name: "result v -1", dec: decResult, payload: with(okResult, `"v":-1`), reason: version, version: -1},

		// Event batches.
		{name: "router missing", dec: decEvents, payload: `{"v":1,"events":[` + started(okSession) + `]}`, reason: field, field: "router"},
		{name: "router with slash", dec: decEvents, payload: with(events(started(okSession)), `"router":"r/1"`), reason: field, field: "router"},
		{name: "router wildcard", dec: decEvents, payload: with(events(started(okSession)), `"router":"+"`), reason: field, field: "router"},
		{name: "router leading dash", dec: decEvents, payload: with(events(started(okSession)), `"router":"-r1"`), reason: field, field: "router"},
		{name: "router too long", dec: decEvents, payload: with(events(started(okSession)), `"router":"`+strings.Repeat("r", protocol.MaxRouterIDLen+1)+`"`), reason: field, field: "router"},
		{name: "events empty", dec: decEvents, payload: events(), reason: field, field: "events"},
		{name: "epoch not hex", dec: decEvents, payload: `{"v":1,"router":"r1","epoch":"Z1","events":[` + started(okSession) + `]}`, reason: field, field: "epoch"},
		{name: "epoch too long", dec: decEvents, payload: `{"v":1,"router":"r1","epoch":"` + strings.Repeat("a", 33) + `","events":[` + started(okSession) + `]}`, reason: field, field: "epoch"},
		{name: "prev not below the first seq", dec: decEvents, payload: `{"v":1,"router":"r1","prev":1,"events":[` + started(okSession) + `]}`, reason: field, field: "prev"},
		{name: "prev negative", dec: decEvents, payload: `{"v":1,"router":"r1","prev":-1,"events":[` + started(okSession) + `]}`, reason: field, field: "prev"},
		{name: "epoch not a string", dec: decEvents, payload: `{"v":1,"router":"r1","epoch":7,"events":[` + started(okSession) + `]}`, reason: field, field: "epoch"},
		{name: "events missing", dec: decEvents, payload: `{"v":1,"router":"r1"}`, reason: field, field: "events"},
		{name: "events not a list", dec: decEvents, payload: `{"v":1,"router":"r1","events":{}}`, reason: field, field: "events"},
		{name: "too many events", dec: decEvents, payload: events(eventsN(protocol.MaxEventsPerBatch + 1)...), reason: field, field: "events"},
		{name: "seq zero", dec: decEvents, payload: events(ev(0, "router.resources", `"resources":`+okResources)), reason: field, field: "events[0].seq"},
		{name: "seq repeated", dec: decEvents, payload: events(ev(5, "router.resources", `"resources":`+okResources), ev(5, "router.resources", `"resources":`+okResources)), reason: field, field: "events[1].seq"},
		{name: "seq negative", dec: decEvents, payload: events(ev(-1, "router.resources", `"resources":`+okResources)), reason: field, field: "events.seq"},
		{name: "seq string", dec: decEvents, payload: events(ev(1, "router.resources", `"seq":"1"`, `"resources":`+okResources)), reason: field, field: "events.seq"},
		{name: "ts missing", dec: decEvents, payload: events(`{"seq":1,"type":"router.resources","resources":` + okResources + `}`), reason: field, field: "events[0].ts"},
		{name: "type missing", dec: decEvents, payload: events(`{"seq":1,"ts":"2026-11-27T07:40:00Z"}`), reason: field, field: "events[0].type"},
		{name: "type unknown", dec: decEvents, payload: events(ev(1, "session.paused", `"session":`+okSession)), reason: field, field: "events[0].type"},
		{name: "started without session", dec: decEvents, payload: events(ev(1, "session.started")), reason: field, field: "events[0].session"},
		{name: "started with reason", dec: decEvents, payload: events(ev(1, "session.started", `"session":`+okSession, `"reason":"logout"`)), reason: field, field: "events[0].reason"},
		{name: "updated with snapshot", dec: decEvents, payload: events(ev(1, "session.updated", `"session":`+okSession, `"snapshot":{"id":"s","part":1,"parts":1}`)), reason: field, field: "events[0].snapshot"},
		{name: "ended without reason", dec: decEvents, payload: events(ev(1, "session.ended", `"session":`+okSession)), reason: field, field: "events[0].reason"},
		{name: "ended unknown reason", dec: decEvents, payload: events(ev(1, "session.ended", `"session":`+okSession, `"reason":"bored"`)), reason: field, field: "events[0].reason"},
		{name: "ended with resources", dec: decEvents, payload: events(ev(1, "session.ended", `"session":`+okSession, `"reason":"logout"`, `"resources":`+okResources)), reason: field, field: "events[0].resources"},
		{name: "session kind missing", dec: decEvents, payload: events(started(with(okSession, `"kind":""`))), reason: field, field: "events[0].session.kind"},
		{name: "session kind unknown", dec: decEvents, payload: events(started(with(okSession, `"kind":"dhcp"`))), reason: field, field: "events[0].session.kind"},
		{name: "session key missing", dec: decEvents, payload: events(started(with(okSession, `"key":""`))), reason: field, field: "events[0].session.key"},
		{name: "session key of other kind", dec: decEvents, payload: events(started(with(okSession, `"kind":"pppoe"`))), reason: field, field: "events[0].session.key"},
		{name: "session user missing", dec: decEvents, payload: events(started(with(okSession, `"user":""`))), reason: field, field: "events[0].session.user"},
		{name: "session user too long", dec: decEvents, payload: events(started(with(okSession, `"user":"`+long+`"`))), reason: field, field: "events[0].session.user"},
		{name: "session mac with NUL", dec: decEvents, payload: events(started(with(okSession, `"mac":"AA\u0000"`))), reason: field, field: "events[0].session.mac"},
		{name: "session first bad optional field wins", dec: decEvents, payload: events(started(with(okSession, `"session_id":"`+long+`"`, `"ros_id":"`+long+`"`, `"login_by":"`+long+`"`))), reason: field, field: "events[0].session.ros_id"},
		{name: "session started_at missing", dec: decEvents, payload: events(started(with(okSession, `"started_at":"0001-01-01T00:00:00Z"`))), reason: field, field: "events[0].session.started_at"},
		{name: "session bytes negative", dec: decEvents, payload: events(started(with(okSession, `"bytes_in":-5`))), reason: field, field: "events.session.bytes_in"},
		{name: "session in second event", dec: decEvents, payload: events(started(okSession), ev(2, "session.updated", `"session":`+with(okSession, `"user":""`))), reason: field, field: "events[1].session.user"},
		{name: "snapshot without snapshot", dec: decEvents, payload: events(ev(1, "snapshot")), reason: field, field: "events[0].snapshot"},
		{name: "snapshot with session", dec: decEvents, payload: events(with(snapshot(1, 1), `"session":`+okSession)), reason: field, field: "events[0].session"},
		{name: "snapshot with reason", dec: decEvents, payload: events(with(snapshot(1, 1), `"reason":"logout"`)), reason: field, field: "events[0].reason"},
		{name: "snapshot with resources", dec: decEvents, payload: events(with(snapshot(1, 1), `"resources":`+okResources)), reason: field, field: "events[0].resources"},
		{name: "snapshot id missing", dec: decEvents, payload: events(ev(1, "snapshot", `"snapshot":{"part":1,"parts":1}`)), reason: field, field: "events[0].snapshot.id"},
		{name: "snapshot parts zero", dec: decEvents, payload: events(snapshot(1, 0)), reason: field, field: "events[0].snapshot.parts"},
		{name: "snapshot part zero", dec: decEvents, payload: events(snapshot(0, 2)), reason: field, field: "events[0].snapshot.part"},
		{name: "snapshot part beyond parts", dec: decEvents, payload: events(snapshot(3, 2)), reason: field, field: "events[0].snapshot.part"},
		{name: "snapshot too many sessions", dec: decEvents, payload: events(snapshot(1, 1, repeat(okSession, protocol.MaxSnapshotSessions+1))), reason: field, field: "events[0].snapshot.sessions"},
		{name: "snapshot bad session", dec: decEvents, payload: events(snapshot(1, 1, okSession, with(okSession, `"key":"pppoe:x"`))), reason: field, field: "events[0].snapshot.sessions[1].key"},
		{name: "resources missing", dec: decEvents, payload: events(ev(1, "router.resources")), reason: field, field: "events[0].resources"},
		{name: "resources with snapshot", dec: decEvents, payload: events(ev(1, "router.resources", `"resources":`+okResources, `"snapshot":{"id":"s","part":1,"parts":1}`)), reason: field, field: "events[0].snapshot"},
		{name: "resources with reason", dec: decEvents, payload: events(ev(1, "router.resources", `"resources":`+okResources, `"reason":"logout"`)), reason: field, field: "events[0].reason"},
		{name: "resources cpu over 100", dec: decEvents, payload: events(ev(1, "router.resources", `"resources":`+with(okResources, `"cpu_load":101`))), reason: field, field: "events[0].resources.cpu_load"},
		{name: "resources uptime negative", dec: decEvents, payload: events(ev(1, "router.resources", `"resources":`+with(okResources, `"uptime_s":-1`))), reason: field, field: "events[0].resources.uptime_s"},
		{name: "resources free above total", dec: decEvents, payload: events(ev(1, "router.resources", `"resources":`+with(okResources, `"free_memory":21`))), reason: field, field: "events[0].resources.free_memory"},
		{name: "resources identity too long", dec: decEvents, payload: events(ev(1, "router.resources", `"resources":`+with(okResources, `"identity":"`+long+`"`))), reason: field, field: "events[0].resources.identity"},

		// Status.
		{name: "status router bad", dec: decStatus, payload: with(okStatus, `"router":"a b"`), reason: field, field: "router"},
		{name: "status state missing", dec: decStatus, payload: with(okStatus, `"state":""`), reason: field, field: "state"},
		{name: "status state unknown", dec: decStatus, payload: with(okStatus, `"state":"sleeping"`), reason: field, field: "state"},
		{name: "status ts missing", dec: decStatus, payload: `{"v":1,"router":"r1","state":"online"}`, reason: field, field: "ts"},
		{name: "status agent_version too long", dec: decStatus, payload: with(okStatus, `"agent_version":"`+long+`"`), reason: field, field: "agent_version"},
		{name: "status resources bad", dec: decStatus, payload: with(okStatus, `"resources":`+with(okResources, `"cpu_load":-1`)), reason: field, field: "resources.cpu_load"},
		{name: "status connected not bool", dec: decStatus, payload: with(okStatus, `"router_connected":"yes"`), reason: field, field: "router_connected"},

		// Commands.
		{name: "cmd id missing", dec: decCmd, payload: with(okCmd, `"id":""`), reason: field, field: "id"},
		{name: "cmd router bad", dec: decCmd, payload: with(okCmd, `"router":"r1#"`), reason: field, field: "router"},
		{name: "cmd issued_at missing", dec: decCmd, payload: `{"v":1,"id":"c1","router":"r1","kind":"resync"}`, reason: field, field: "issued_at"},
		{name: "cmd expires before issued", dec: decCmd, payload: with(okCmd, `"expires_at":"2026-11-27T07:39:59Z"`), reason: field, field: "expires_at"},
		{name: "cmd kind missing", dec: decCmd, payload: cmd(""), reason: field, field: "kind"},
		{name: "cmd kind unknown", dec: decCmd, payload: cmd("system.reboot"), reason: field, field: "kind"},
		{name: "cmd params missing", dec: decCmd, payload: cmd("hotspot.user.add"), reason: field, field: "hotspot_user"},
		{name: "cmd wrong params", dec: decCmd, payload: cmd("hotspot.user.add", `"ppp_secret":{"name":"bob"}`), reason: field, field: "ppp_secret"},
		{name: "cmd extra params", dec: decCmd, payload: cmd("hotspot.user.add", `"hotspot_user":{"name":"a"}`, `"profile":{"name":"p","rate_limit":"1M/1M"}`), reason: field, field: "profile"},
		{name: "cmd resync first stray param wins", dec: decCmd, payload: cmd("resync", `"raw":{"path":"/x"}`, `"profile":{"name":"p"}`, `"kick":{"user":"u"}`, `"ppp_secret":{"name":"b"}`), reason: field, field: "ppp_secret"},
		{name: "cmd user name missing", dec: decCmd, payload: cmd("hotspot.user.remove", `"hotspot_user":{}`), reason: field, field: "hotspot_user.name"},
		{name: "cmd user name control char", dec: decCmd, payload: cmd("hotspot.user.remove", `"hotspot_user":{"name":"a\nb"}`), reason: field, field: "hotspot_user.name"},
		{name: "cmd user password NUL", dec: decCmd, payload: cmd("hotspot.user.add", `"hotspot_user":{"name":"a","password":"x\u0000"}`), reason: field, field: "hotspot_user.password"},
		{name: "cmd user first bad field wins", dec: decCmd, payload: cmd("hotspot.user.set", `"hotspot_user":{"name":"a","limit_uptime":"`+long+`","comment":"`+long+`","server":"`+long+`"}`), reason: field, field: "hotspot_user.server"},
		{name: "cmd user limit not a number", dec: decCmd, payload: cmd("hotspot.user.set", `"hotspot_user":{"name":"a","limit_bytes_total":"1G"}`), reason: field, field: "hotspot_user.limit_bytes_total"},
		{name: "cmd secret name missing", dec: decCmd, payload: cmd("ppp.secret.add", `"ppp_secret":{"password":"p"}`), reason: field, field: "ppp_secret.name"},
		{name: "cmd secret first bad field wins", dec: decCmd, payload: cmd("ppp.secret.set", `"ppp_secret":{"name":"b","comment":"`+long+`","caller_id":"`+long+`","profile":"`+long+`"}`), reason: field, field: "ppp_secret.profile"},
		{name: "cmd kick empty", dec: decCmd, payload: cmd("hotspot.active.kick", `"kick":{}`), reason: field, field: "kick"},
		{name: "cmd kick first bad field wins", dec: decCmd, payload: cmd("ppp.active.kick", `"kick":{"user":"`+long+`","ros_id":"`+long+`"}`), reason: field, field: "kick.ros_id"},
		{name: "cmd profile name missing", dec: decCmd, payload: cmd("ppp.profile.rate_limit", `"profile":{"rate_limit":"1M/1M"}`), reason: field, field: "profile.name"},
		{name: "cmd profile rate missing", dec: decCmd, payload: cmd("hotspot.profile.rate_limit", `"profile":{"name":"p"}`), reason: field, field: "profile.rate_limit"},
		{name: "cmd profile_spec missing", dec: decCmd, payload: cmd("hotspot.profile.add"), reason: field, field: "profile_spec"},
		{name: "cmd profile_spec on old kind", dec: decCmd, payload: cmd("hotspot.profile.rate_limit", `"profile":{"name":"p","rate_limit":"1M/1M"}`, `"profile_spec":{"name":"p"}`), reason: field, field: "profile_spec"},
		{name: "cmd profile_spec name missing", dec: decCmd, payload: cmd("ppp.profile.set", `"profile_spec":{"rate_limit":"1M/1M"}`), reason: field, field: "profile_spec.name"},
		{name: "cmd profile_spec name control char", dec: decCmd, payload: cmd("ppp.profile.add", `"profile_spec":{"name":"a\tb"}`), reason: field, field: "profile_spec.name"},
		{name: "cmd profile_spec remove default hotspot", dec: decCmd, payload: cmd("hotspot.profile.remove", `"profile_spec":{"name":"default"}`), reason: field, field: "profile_spec.name"},
		{name: "cmd profile_spec remove default-encryption", dec: decCmd, payload: cmd("ppp.profile.remove", `"profile_spec":{"name":"default-encryption"}`), reason: field, field: "profile_spec.name"},
		{name: "cmd profile_spec rate words", dec: decCmd, payload: cmd("hotspot.profile.add", `"profile_spec":{"name":"p","rate_limit":"fast"}`), reason: field, field: "profile_spec.rate_limit"},
		{name: "cmd profile_spec rate three halves", dec: decCmd, payload: cmd("hotspot.profile.add", `"profile_spec":{"name":"p","rate_limit":"1M/2M/3M"}`), reason: field, field: "profile_spec.rate_limit"},
		{name: "cmd profile_spec rate two suffixes", dec: decCmd, payload: cmd("ppp.profile.add", `"profile_spec":{"name":"p","rate_limit":"5kM/1M"}`), reason: field, field: "profile_spec.rate_limit"},
		{name: "cmd profile_spec rate priority 9", dec: decCmd, payload: cmd("ppp.profile.set", `"profile_spec":{"name":"p","rate_limit":"1M/1M 2M/2M 1M/1M 8/8 9"}`), reason: field, field: "profile_spec.rate_limit"},
		{name: "cmd profile_spec rate seven parts", dec: decCmd, payload: cmd("ppp.profile.set", `"profile_spec":{"name":"p","rate_limit":"1M 2M 1M 8 1 1M 1M"}`), reason: field, field: "profile_spec.rate_limit"},
		{name: "cmd profile_spec rate double space", dec: decCmd, payload: cmd("ppp.profile.set", `"profile_spec":{"name":"p","rate_limit":"1M  2M"}`), reason: field, field: "profile_spec.rate_limit"},
		{name: "cmd profile_spec session timeout unit", dec: decCmd, payload: cmd("hotspot.profile.set", `"profile_spec":{"name":"p","session_timeout":"1y"}`), reason: field, field: "profile_spec.session_timeout"},
		{name: "cmd profile_spec session timeout order", dec: decCmd, payload: cmd("hotspot.profile.set", `"profile_spec":{"name":"p","session_timeout":"1h2d"}`), reason: field, field: "profile_spec.session_timeout"},
		{name: "cmd profile_spec session timeout none", dec: decCmd, payload: cmd("hotspot.profile.set", `"profile_spec":{"name":"p","session_timeout":"none"}`), reason: field, field: "profile_spec.session_timeout"},
		{name: "cmd profile_spec idle timeout clock", dec: decCmd, payload: cmd("ppp.profile.set", `"profile_spec":{"name":"p","idle_timeout":"00:61:00"}`), reason: field, field: "profile_spec.idle_timeout"},
		{name: "cmd profile_spec shared users negative", dec: decCmd, payload: cmd("hotspot.profile.add", `"profile_spec":{"name":"p","shared_users":-1}`), reason: field, field: "profile_spec.shared_users"},
		{name: "cmd profile_spec shared users 1001", dec: decCmd, payload: cmd("hotspot.profile.add", `"profile_spec":{"name":"p","shared_users":1001}`), reason: field, field: "profile_spec.shared_users"},
		{name: "cmd profile_spec shared users fraction", dec: decCmd, payload: cmd("hotspot.profile.add", `"profile_spec":{"name":"p","shared_users":1.5}`), reason: field, field: "profile_spec.shared_users"},
		{name: "cmd profile_spec shared users on ppp", dec: decCmd, payload: cmd("ppp.profile.add", `"profile_spec":{"name":"p","shared_users":2}`), reason: field, field: "profile_spec.shared_users"},
		{name: "cmd profile_spec local address on hotspot", dec: decCmd, payload: cmd("hotspot.profile.add", `"profile_spec":{"name":"p","local_address":"10.0.0.1"}`), reason: field, field: "profile_spec.local_address"},
		{name: "cmd profile_spec remote address on hotspot", dec: decCmd, payload: cmd("hotspot.profile.set", `"profile_spec":{"name":"p","remote_address":"pool1"}`), reason: field, field: "profile_spec.remote_address"},
		{name: "cmd profile_spec only_one on hotspot", dec: decCmd, payload: cmd("hotspot.profile.set", `"profile_spec":{"name":"p","only_one":true}`), reason: field, field: "profile_spec.only_one"},
		{name: "cmd profile_spec comment on hotspot", dec: decCmd, payload: cmd("hotspot.profile.add", `"profile_spec":{"name":"p","comment":"plan"}`), reason: field, field: "profile_spec.comment"},
		{name: "cmd profile_spec comment too long", dec: decCmd, payload: cmd("ppp.profile.add", `"profile_spec":{"name":"p","comment":"`+long+`"}`), reason: field, field: "profile_spec.comment"},
		{name: "cmd raw path missing", dec: decCmd, payload: cmd("raw", `"raw":{}`), reason: field, field: "raw.path"},
		{name: "cmd raw path relative", dec: decCmd, payload: cmd("raw", `"raw":{"path":"ip/address/print"}`), reason: field, field: "raw.path"},
		{name: "cmd raw path with attribute", dec: decCmd, payload: cmd("raw", `"raw":{"path":"/ip/address/print =x=1"}`), reason: field, field: "raw.path"},
		{name: "cmd raw arg bare word", dec: decCmd, payload: cmd("raw", `"raw":{"path":"/ip/address/print","args":["=a=1","detail"]}`), reason: field, field: "raw.args[1]"},
		{name: "cmd raw arg tag", dec: decCmd, payload: cmd("raw", `"raw":{"path":"/ip/address/print","args":[".tag=7"]}`), reason: field, field: "raw.args[0]"},
		{name: "cmd raw arg empty", dec: decCmd, payload: cmd("raw", `"raw":{"path":"/ip/address/print","args":[""]}`), reason: field, field: "raw.args[0]"},
		{name: "cmd raw too many args", dec: decCmd, payload: cmd("raw", `"raw":{"path":"/ip/address/print","args":[`+repeat(`"=a=1"`, 65)+`]}`), reason: field, field: "raw.args"},

		// Command results.
		{name: "result id missing", dec: decResult, payload: with(okResult, `"id":""`), reason: field, field: "id"},
		{name: "result router bad", dec: decResult, payload: with(okResult, `"router":""`), reason: field, field: "router"},
		{name: "result status missing", dec: decResult, payload: with(okResult, `"status":""`), reason: field, field: "status"},
		{name: "result status unknown", dec: decResult, payload: with(okResult, `"status":"queued"`), reason: field, field: "status"},
		{name: "result failed without code", dec: decResult, payload: with(okResult, `"status":"failed"`), reason: field, field: "code"},
		{name: "result ts missing", dec: decResult, payload: `{"v":1,"id":"c1","router":"r1","status":"running"}`, reason: field, field: "ts"},
		{name: "result message too long", dec: decResult, payload: with(okResult, `"message":"`+long+`"`), reason: field, field: "message"},
		{name: "result ret too long", dec: decResult, payload: with(okResult, `"ret":"`+long+`"`), reason: field, field: "ret"},
		{name: "result too many rows", dec: decResult, payload: with(okResult, `"rows":[`+repeat(`{}`, 1001)+`]`), reason: field, field: "rows"},
		{name: "result row value not string", dec: decResult, payload: with(okResult, `"rows":[{"a":1}]`), reason: field, field: "rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 {
				err := tt.dec([]byte(tt.payload))
				if err == nil {
					t.Fatalf("decoded without error; payload: %.300s", tt.payload)
				}
				if got := protocol.Reason(err); got != tt.reason {
					t.Fatalf("Reason = %q, want %q (err: %v)", got, tt.reason, err)
				}
				var fe *protocol.FieldError
				var ve *protocol.VersionError
				switch tt.reason {
				case tooLarge:
					if !errors.Is(err, protocol.ErrTooLarge) {
						t.Fatalf("err = %v, want ErrTooLarge", err)
					}
				case version:
					if !errors.As(err, &ve) {
						t.Fatalf("err = %v, want *VersionError", err)
					}
					if ve.Got != tt.version {
						t.Fatalf("VersionError.Got = %d, want %d", ve.Got, tt.version)
					}
				case field:
					if !errors.As(err, &fe) {
						t.Fatalf("err = %T %v, want *FieldError", err, err)
					}
					if fe.Field != tt.field {
						t.Fatalf("FieldError.Field = %q, want %q (err: %v)", fe.Field, tt.field, err)
					}
				case malformed:
					if errors.As(err, &fe) || errors.As(err, &ve) || errors.Is(err, protocol.ErrTooLarge) {
						t.Fatalf("err = %v, want a plain malformed-JSON error", err)
					}
				}
			}
		})
	}
}

// eventsN returns n valid router.resources events with seqs 1..n.
func eventsN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = ev(i+1, "router.resources", `"resources":`+okResources)
	}
	return out
}

// TestDecodeSizeBoundary checks that MaxPayloadSize itself is accepted and
// one byte more is not.
func TestDecodeSizeBoundary(t *testing.T) {
	base := events(started(okSession))
	atLimit := []byte(base + strings.Repeat(" ", protocol.MaxPayloadSize-len(base)))
	if _, err := protocol.DecodeEventBatch(atLimit); err != nil {
		t.Errorf("payload of exactly MaxPayloadSize: %v", err)
	}
	over := append(atLimit, ' ')
	if _, err := protocol.DecodeEventBatch(over); !errors.Is(err, protocol.ErrTooLarge) {
		t.Errorf("payload of MaxPayloadSize+1: err = %v, want ErrTooLarge", err)
	}
}

// TestDecodeIgnoresUnknownFields keeps the promise in Version's history:
// optional fields can be added without a version bump.
func TestDecodeIgnoresUnknownFields(t *testing.T) {
	for prefix, dec := range allDecoder {
		files, err := filepath.Glob(filepath.Join("testdata", prefix+".*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no golden files for %s: %v", prefix, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.TrimSpace(b)
			extended := with(string(b), `"added_in_a_later_minor":{"x":[1,2,3]}`)
			if err := dec([]byte(extended)); err != nil {
				t.Errorf("%s with an unknown field: %v", f, err)
			}
		}
	}
}

// TestEncodeRefuses checks that Encode never emits what a decoder rejects:
// invalid messages and messages over MaxPayloadSize.
func TestEncodeRefuses(t *testing.T) {
	ts := time.Date(2026, 11, 27, 7, 40, 0, 0, time.UTC)
	s := hotspotSession()
	// Each session is ~1.2 KiB with a long comment-like service name, so
	// MaxEventsPerBatch of them exceed MaxPayloadSize while staying valid.
	s.Service = strings.Repeat("s", protocol.MaxFieldLen)
	big := &protocol.EventBatch{V: protocol.Version, Router: "r1"}
	for i := range protocol.MaxEventsPerBatch {
		big.Events = append(big.Events, protocol.Event{Seq: uint64(i + 1), TS: ts, Type: protocol.EventSessionUpdated, Session: &s})
	}
	tests := []struct {
		name   string
		msg    protocol.Message
		reason string
	}{
		{"too large", big, "too_large"},
		{"wrong version", &protocol.Status{V: 2, Router: "r1", State: protocol.StateOnline, TS: ts}, "version"},
		{"invalid field", &protocol.Status{V: 1, Router: "r1", State: "asleep", TS: ts}, "invalid_field"},
		{"empty batch", &protocol.EventBatch{V: 1, Router: "r1"}, "invalid_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := protocol.Encode(tt.msg)
			if err == nil {
				t.Fatalf("Encode succeeded with %d bytes", len(b))
			}
			if got := protocol.Reason(err); got != tt.reason {
				t.Errorf("Reason(%v) = %q, want %q", err, got, tt.reason)
			}
		})
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{protocol.ErrTooLarge, "too_large"},
		{fmt.Errorf("decode: %w", protocol.ErrTooLarge), "too_large"},
		{&protocol.VersionError{Got: 9}, "version"},
		{fmt.Errorf("decode: %w", &protocol.FieldError{Field: "x", Reason: "bad"}), "invalid_field"},
		{errors.New("unexpected end of JSON input"), "malformed"},
	}
	for _, tt := range tests {
		if got := protocol.Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	if got, want := (&protocol.VersionError{Got: 2}).Error(), "unsupported version 2 (want 1)"; got != want {
		t.Errorf("VersionError = %q, want %q", got, want)
	}
	if got, want := (&protocol.FieldError{Field: "events[0].seq", Reason: "must be > 0"}).Error(), "events[0].seq: must be > 0"; got != want {
		t.Errorf("FieldError = %q, want %q", got, want)
	}
}

func TestSessionKeys(t *testing.T) {
	at := time.Date(2026, 11, 27, 6, 15, 0, 999_000_000, time.FixedZone("EAT", 3*3600))
	if got, want := protocol.HotspotKey("alice", "AA:BB:CC:00:11:22", at, ""), "hotspot:alice|AA:BB:CC:00:11:22|1795749300"; got != want {
		t.Errorf("HotspotKey = %q, want %q", got, want)
	}
	// The key must not depend on the zone or sub-second part of the login time.
	if a, b := protocol.HotspotKey("u", "m", at, ""), protocol.HotspotKey("u", "m", at.UTC().Truncate(time.Second), ""); a != b {
		t.Errorf("HotspotKey depends on zone or fraction: %q vs %q", a, b)
	}
	// A re-login from the same device within the same second is another
	// session: the RouterOS .id of its active row tells them apart.
	if got, want := protocol.HotspotKey("alice", "AA:BB:CC:00:11:22", at, "*1F"), "hotspot:alice|AA:BB:CC:00:11:22|1795749300|*1F"; got != want {
		t.Errorf("HotspotKey with .id = %q, want %q", got, want)
	}
	if protocol.HotspotKey("u", "m", at, "*1") == protocol.HotspotKey("u", "m", at, "*2") {
		t.Error("two active rows in the same second share a key")
	}
	if got, want := protocol.PPPKey("bob-home", "0x81A00017"), "pppoe:bob-home|0x81A00017"; got != want {
		t.Errorf("PPPKey = %q, want %q", got, want)
	}
}

// TestProfileGrammar pins the rate-limit and duration forms RouterOS
// accepts and some it does not.
func TestProfileGrammar(t *testing.T) {
	for _, tt := range []struct {
		s         string
		rate, dur bool
	}{
		{"2M/5M", true, false},
		{"512k", true, false},
		{"0/0", true, false},
		{"1G/1G 2G/2G 1G/1G 10/10 1 100M/100M", true, false},
		{"1M/1M 2M/2M 1M/1M 8s/8s 8", true, false},
		{"1.5M/2M", false, false},
		{"", false, false},
		{"1h", false, true},
		{"4w2d", false, true},
		{"30d", false, true},
		{"0s", false, true},
		{"30", true, true},
		{"500ms", false, true},
		{"1d00:30:00", false, true},
		{"00:30:00", false, true},
		{"1h1h", false, false},
		{"h", false, false},
		{"1:30", false, false},
	} {
		if got := protocol.ValidRateLimit(tt.s); got != tt.rate {
			t.Errorf("ValidRateLimit(%q) = %v, want %v", tt.s, got, tt.rate)
		}
		if got := protocol.ValidDuration(tt.s); got != tt.dur {
			t.Errorf("ValidDuration(%q) = %v, want %v", tt.s, got, tt.dur)
		}
	}
}
