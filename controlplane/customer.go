package controlplane

import (
	"strings"
	"time"
)

// Customer is a tenant's paying subscriber, known by phone number.
type Customer struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Phone    string `json:"phone"` // E.164, e.g. +254712345678; masked in broadcasts
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"` // masked in broadcasts
	// ActiveSubscriptions counts the customer's active subscriptions.
	ActiveSubscriptions int       `json:"active_subscriptions"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// CustomerRequest creates or updates (by phone) a customer.
type CustomerRequest struct {
	TenantID int64  `json:"tenant_id,omitempty"` // system admins only
	Phone    string `json:"phone"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
}

// CustomerFilter selects customers. Zero fields match everything.
type CustomerFilter struct {
	Query  string // substring of the phone or the name
	Limit  int
	Offset int
}

// NormalizePhone returns p in E.164 form, accepting what Kenyan customers
// type: 0712345678, 712345678, 254712345678 and +254712345678 (also with
// spaces or dashes). Other countries must be given with their +code.
// EINVALID otherwise.
func NormalizePhone(p string) (string, error) {
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, strings.TrimSpace(p))
	plus := strings.HasPrefix(s, "+")
	s = strings.TrimPrefix(s, "+")
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", Errorf(EINVALID, "phone: %q is not a phone number", p)
		}
	}
	switch {
	case !plus && len(s) == 10 && s[0] == '0' && (s[1] == '7' || s[1] == '1'):
		s = "254" + s[1:]
	case !plus && len(s) == 9 && (s[0] == '7' || s[0] == '1'):
		s = "254" + s
	case !plus && strings.HasPrefix(s, "254") && len(s) == 12:
	case plus && len(s) >= 8 && len(s) <= 15 && s[0] != '0':
	default:
		return "", Errorf(EINVALID, "phone: %q is not a phone number (want e.g. +254712345678)", p)
	}
	if strings.HasPrefix(s, "254") && (len(s) != 12 || (s[3] != '7' && s[3] != '1')) {
		return "", Errorf(EINVALID, "phone: %q is not a Kenyan mobile number", p)
	}
	return "+" + s, nil
}

// MSISDN returns an E.164 phone without its +, the form M-Pesa uses
// (254712345678).
func MSISDN(e164 string) string { return strings.TrimPrefix(e164, "+") }
