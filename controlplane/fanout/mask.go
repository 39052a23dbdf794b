package fanout

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

// maskIdentity masks phone numbers and emails in an identifier: the whole
// value when it is one (hotspot usernames often are), else every embedded
// token that is one (session keys contain the username). Masking is
// deterministic, so masked keys still match between SessionStarted,
// SessionUpdated and SessionEnded.
func maskIdentity(s string) string {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' || c == ' ' || c == '-':
		default:
			return maskContactsIn(s)
		}
	}
	if digits >= 9 {
		return MaskPhone(s)
	}
	return s
}

// maskContactsIn masks each token of s (a run of [A-Za-z0-9._%+@-]) that is
// an email or a phone number of at least nine digits.
func maskContactsIn(s string) string {
	isTokenByte := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '@'
	}
	var out []byte
	for i := 0; i < len(s); {
		if !isTokenByte(s[i]) {
			out = append(out, s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isTokenByte(s[j]) {
			j++
		}
		tok := s[i:j]
		switch {
		case strings.Contains(tok, "@"):
			tok = MaskEmail(tok)
		case isPhoneToken(tok):
			tok = MaskPhone(tok)
		}
		out = append(out, tok...)
		i = j
	}
	return string(out)
}

func isPhoneToken(tok string) bool {
	digits := strings.TrimPrefix(tok, "+")
	if len(digits) < 9 {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}
