package radius

import "strings"

// NormalizeMAC writes a MAC address as AA:BB:CC:DD:EE:FF whatever the
// separators ("aa-bb-…", "aabb.ccdd.eeff", none). Anything that is not 12
// hex digits comes back trimmed but otherwise as it was.
func NormalizeMAC(s string) string {
	s = strings.TrimSpace(s)
	var hex [12]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == '-' || c == '.':
			continue
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		default:
			return s
		}
		if n == len(hex) {
			return s
		}
		hex[n] = c
		n++
	}
	if n != len(hex) {
		return s
	}
	var b strings.Builder
	b.Grow(17)
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.Write(hex[i : i+2])
	}
	return b.String()
}
