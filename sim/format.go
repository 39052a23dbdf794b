package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// formatID renders a RouterOS item id: "*" and upper-case hex.
func formatID(n uint32) string {
	return "*" + strings.ToUpper(strconv.FormatUint(uint64(n), 16))
}

// parseID parses "*HEX".
func parseID(s string) (uint32, bool) {
	if len(s) < 2 || s[0] != '*' || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// formatDuration renders d the way RouterOS prints durations: 1w2d3h4m5s,
// with a trailing milliseconds part only when the duration has one, and
// "0s" for zero.
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	var b strings.Builder
	units := []struct {
		d time.Duration
		s string
	}{
		{7 * 24 * time.Hour, "w"}, {24 * time.Hour, "d"}, {time.Hour, "h"},
		{time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"},
	}
	for _, u := range units {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.s)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

var errBadDuration = errors.New("bad duration")

// parseDuration parses RouterOS durations ("1w2d3h4m5s", "200ms", "10"
// meaning seconds, "0.2" fractional seconds) and Go durations ("1.5s").
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errBadDuration
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1e9 {
			return 0, errBadDuration
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, errBadDuration
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || num > 1e9 {
			return 0, errBadDuration
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		var unit time.Duration
		switch rest[:j] {
		case "w":
			unit = 7 * 24 * time.Hour
		case "d":
			unit = 24 * time.Hour
		case "h":
			unit = time.Hour
		case "m":
			unit = time.Minute
		case "s", "":
			unit = time.Second
		case "ms":
			unit = time.Millisecond
		case "us":
			unit = time.Microsecond
		default:
			return 0, errBadDuration
		}
		total += time.Duration(num * float64(unit))
		rest = rest[j:]
	}
	return total, nil
}

// parseBool accepts the spellings RouterOS accepts for booleans.
func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "yes":
		return true, true
	case "false", "no":
		return false, true
	}
	return false, false
}

func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
