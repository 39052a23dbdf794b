package agent

import (
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// RouterOS rows into sessions: login times, keys, durations and numbers.

// sighting is a session as one row shows it, with the login reference
// (now - uptime) that still carries the monotonic clock reading.
type sighting struct {
	s   protocol.Session
	ref time.Time
}

// sessionFromRow builds a session from an /ip/hotspot/active or
// /ppp/active row. The login time is now - uptime; it is computed on every
// sighting but only the first one names the session (sameSession tolerates
// the rounding), so the key never changes.
func sessionFromRow(kind protocol.SessionKind, m map[string]string, now time.Time) (sighting, bool) {
	ref := now.Add(-parseDuration(m["uptime"]))
	loginAt := ref.UTC().Truncate(time.Second)
	s := protocol.Session{Kind: kind, RouterOSID: m[".id"], Address: m["address"], StartedAt: loginAt}
	switch kind {
	case protocol.KindHotspot:
		s.User = m["user"]
		s.MAC = m["mac-address"]
		s.Service = m["server"]
		s.LoginBy = m["login-by"]
		s.Key = protocol.HotspotKey(s.User, s.MAC, loginAt, s.RouterOSID)
		setCounters(&s, [4]uint64{u64(m["bytes-in"]), u64(m["bytes-out"]), u64(m["packets-in"]), u64(m["packets-out"])})
	case protocol.KindPPPoE:
		s.User = m["name"]
		s.MAC = m["caller-id"]
		s.Service = m["service"]
		s.SessionID = m["session-id"]
		sid := s.SessionID
		if sid == "" {
			sid = "t" + strconv.FormatInt(loginAt.Unix(), 10)
		}
		s.Key = protocol.PPPKey(s.User, sid)
	}
	if s.User == "" || len(s.User) > protocol.MaxFieldLen {
		return sighting{}, false
	}
	return sighting{s: s, ref: ref}, true
}

// sameSession reports whether a fresh row describes the known session:
// same user (and MAC for hotspot) and a login time within loginSlack,
// measured on the monotonic clock when both sightings are from this
// process, else on the wall clock.
func sameSession(known *tracked, cand *sighting) bool {
	k, c := &known.s, &cand.s
	if k.Kind != c.Kind || k.User != c.User {
		return false
	}
	var d time.Duration
	if !known.loginRef.IsZero() {
		d = known.loginRef.Sub(cand.ref)
	} else {
		d = k.StartedAt.Sub(c.StartedAt)
	}
	near := d <= loginSlack && d >= -loginSlack
	switch k.Kind {
	case protocol.KindHotspot:
		return k.MAC == c.MAC && near
	default:
		if k.SessionID != "" && c.SessionID != "" {
			return k.SessionID == c.SessionID
		}
		return near
	}
}

// formatInterval renders d for print =interval=: whole seconds when it is
// one, else milliseconds (tests use sub-second intervals).
func formatInterval(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(max(1, d.Milliseconds()), 10) + "ms"
}

func u64(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// parseDuration parses RouterOS durations: "1w2d3h4m5s", "150ms",
// "3d04:05:06" and "04:05:06". Unparseable input yields 0.
func parseDuration(s string) time.Duration {
	var total time.Duration
	if i := strings.IndexByte(s, ':'); i >= 0 {
		j := strings.LastIndexAny(s[:i], "dw")
		clock := s[j+1:]
		s = s[:j+1]
		var secs float64
		for _, p := range strings.Split(clock, ":") {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 {
				return 0
			}
			secs = secs*60 + f
		}
		total = time.Duration(secs * float64(time.Second))
	}
	num := 0
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			num = num*10 + int(c-'0')
			digits = true
			continue
		}
		if !digits {
			return 0
		}
		var unit time.Duration
		switch c {
		case 'w':
			unit = 7 * 24 * time.Hour
		case 'd':
			unit = 24 * time.Hour
		case 'h':
			unit = time.Hour
		case 'm':
			if i+1 < len(s) && s[i+1] == 's' {
				unit = time.Millisecond
				i++
			} else {
				unit = time.Minute
			}
		case 's':
			unit = time.Second
		default:
			return 0
		}
		total += time.Duration(num) * unit
		num, digits = 0, false
	}
	if digits {
		return 0
	}
	return total
}
