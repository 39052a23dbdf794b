package protocol

import (
	"slices"
	"strconv"
	"strings"
)

// MaxSharedUsers bounds ProfileSpec.SharedUsers.
const MaxSharedUsers = 1000

// defaultProfiles are the profiles RouterOS ships; it refuses to remove them.
var defaultProfiles = map[CommandKind][]string{
	CmdHotspotProfileRemove: {"default"},
	CmdPPPProfileRemove:     {"default", "default-encryption"},
}

func (p *ProfileSpec) validate(kind CommandKind) error {
	const f = "profile_spec."
	if err := checkName(f+"name", p.Name); err != nil {
		return err
	}
	if slices.Contains(defaultProfiles[kind], p.Name) {
		return fieldErr(f+"name", "the router's %q profile cannot be removed", p.Name)
	}
	if err := checkTexts(f,
		namedText{"rate_limit", p.RateLimit}, namedText{"session_timeout", p.SessionTimeout},
		namedText{"idle_timeout", p.IdleTimeout}, namedText{"local_address", p.LocalAddress},
		namedText{"remote_address", p.RemoteAddress}, namedText{"comment", p.Comment},
	); err != nil {
		return err
	}
	if kind == CmdHotspotProfileRemove || kind == CmdPPPProfileRemove {
		return nil // remove reads only the name; a full plan spec is accepted
	}
	hotspot := strings.HasPrefix(string(kind), "hotspot.")
	// Each menu has its own attributes; a field the menu lacks would be
	// dropped or trapped at the router, so it is refused here instead.
	for _, o := range []struct {
		name         string
		set, allowed bool
	}{
		{"shared_users", p.SharedUsers != 0, hotspot},
		{"local_address", p.LocalAddress != "", !hotspot},
		{"remote_address", p.RemoteAddress != "", !hotspot},
		{"only_one", p.OnlyOne != nil, !hotspot},
		// /ip/hotspot/user/profile has no comment property.
		{"comment", p.Comment != "", !hotspot},
	} {
		if o.set && !o.allowed {
			return fieldErr(f+o.name, "not allowed for %s", kind)
		}
	}
	if p.RateLimit != "" && !ValidRateLimit(p.RateLimit) {
		return fieldErr(f+"rate_limit", "want RouterOS rx[/tx] [burst-rate [burst-threshold [burst-time [priority [rate-min]]]]], e.g. 2M/5M")
	}
	if p.SessionTimeout != "" && !ValidDuration(p.SessionTimeout) {
		return fieldErr(f+"session_timeout", "want a RouterOS duration like 1h, 1d or 4w2d")
	}
	if p.IdleTimeout != "" && p.IdleTimeout != "none" && !ValidDuration(p.IdleTimeout) {
		return fieldErr(f+"idle_timeout", "want a RouterOS duration like 5m, or none")
	}
	if p.SharedUsers < 0 || p.SharedUsers > MaxSharedUsers {
		return fieldErr(f+"shared_users", "%d outside 1..%d", p.SharedUsers, MaxSharedUsers)
	}
	return nil
}

// ValidRateLimit reports whether s is a RouterOS rate-limit: up to six
// space-separated parts, rx-rate[/tx-rate] [rx-burst-rate[/tx-burst-rate]
// [rx-burst-threshold[/tx-burst-threshold] [rx-burst-time[/tx-burst-time]
// [priority] [rx-rate-min[/tx-rate-min]]]]]. Rates are digits with an
// optional k, M or G; burst times are seconds or a duration; priority is
// 1..8.
func ValidRateLimit(s string) bool {
	parts := strings.Split(s, " ")
	if len(parts) > 6 {
		return false
	}
	for i, part := range parts {
		if i == 4 {
			n, err := strconv.Atoi(part)
			if err != nil || n < 1 || n > 8 {
				return false
			}
			continue
		}
		halves := strings.Split(part, "/")
		if len(halves) > 2 {
			return false
		}
		for _, h := range halves {
			ok := validRate(h)
			if i == 3 {
				ok = ValidDuration(h)
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func validRate(s string) bool {
	if s != "" && strings.ContainsRune("kKMG", rune(s[len(s)-1])) {
		s = s[:len(s)-1]
	}
	return len(s) <= 12 && digits(s)
}

// ValidDuration reports whether s is a RouterOS duration: units in order
// (1w2d3h4m5s, 500ms), bare seconds (30), or [Nd]HH:MM:SS (1d00:30:00).
func ValidDuration(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		day, clock := "", s
		if d := strings.IndexByte(s, 'd'); d >= 0 {
			day, clock = s[:d], s[d+1:]
			if !digits(day) {
				return false
			}
		}
		f := strings.Split(clock, ":")
		if len(f) != 3 {
			return false
		}
		for j, x := range f {
			if len(x) != 2 || !digits(x) || (j > 0 && x[0] > '5') {
				return false
			}
		}
		return true
	}
	if digits(s) {
		return true
	}
	units := []string{"w", "d", "h", "m", "s", "ms"}
	next := 0
	for s != "" {
		n := 0
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		if n == 0 {
			return false
		}
		s = s[n:]
		u := ""
		if strings.HasPrefix(s, "ms") {
			u = "ms"
		} else if s != "" {
			u = s[:1]
		}
		j := slices.Index(units, u)
		if j < next {
			return false // unknown, missing or out of order
		}
		s = s[len(u):]
		next = j + 1
	}
	return true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
