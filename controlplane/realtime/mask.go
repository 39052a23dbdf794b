package realtime

import (
	"strings"
)

// MaskPhone hides the middle of a phone number for broadcast data, keeping
// a leading "+", the first four and the last three digits:
// "+254712345678" → "+2547****678". Separators are dropped. Numbers with
// fewer than eight digits keep only their last two; anything with letters is
// not a phone number and is masked entirely.
func MaskPhone(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	plus := strings.HasPrefix(s, "+")
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '+' && i == 0, c == ' ', c == '-', c == '(', c == ')', c == '.':
		default:
			return "****"
		}
	}
	prefix := ""
	if plus {
		prefix = "+"
	}
	switch {
	case len(digits) == 0:
		return "****"
	case len(digits) < 8:
		if len(digits) <= 2 {
			return prefix + "****"
		}
		return prefix + "****" + string(digits[len(digits)-2:])
	default:
		return prefix + string(digits[:4]) + "****" + string(digits[len(digits)-3:])
	}
}

// MaskEmail hides an email's local part except its first character:
// "john@example.com" → "j***@example.com". A value without exactly one "@"
// and a non-empty domain is masked entirely.
func MaskEmail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || domain == "" || strings.Contains(domain, "@") {
		return "***"
	}
	if local == "" {
		return "***@" + domain
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}

// looksSecret reports whether a field name suggests a credential that must
// never be broadcast.
func looksSecret(name string) bool {
	n := strings.ToLower(name)
	n = strings.NewReplacer("_", "", "-", "", " ", "").Replace(n)
	for _, w := range []string{"password", "passwd", "secret", "token", "apikey", "privatekey", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// looksPhone and looksEmail decide which fields scrubValue masks.
func looksPhone(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "phone") || strings.Contains(n, "msisdn") || strings.Contains(n, "mobile")
}

func looksEmail(name string) bool { return strings.Contains(strings.ToLower(name), "email") }

// scrubValue is the fan-out's last line of defence for data it did not build
// field by field: it removes every secret-looking key and masks phone and
// email fields, recursively, in a value decoded from JSON.
func scrubValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			switch {
			case looksSecret(k):
				delete(t, k)
			case looksPhone(k):
				if s, ok := val.(string); ok {
					t[k] = MaskPhone(s)
				} else {
					t[k] = scrubValue(val)
				}
			case looksEmail(k):
				if s, ok := val.(string); ok {
					t[k] = MaskEmail(s)
				} else {
					t[k] = scrubValue(val)
				}
			default:
				t[k] = scrubValue(val)
			}
		}
		return t
	case []any:
		for i := range t {
			t[i] = scrubValue(t[i])
		}
		return t
	default:
		return v
	}
}
