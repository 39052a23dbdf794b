package controlplane

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultCurrency is a new tenant's currency: our users are mostly in
// Kenya.
const DefaultCurrency = "KES"

// Money is an amount in integer minor units (cents for KES) of an ISO 4217
// currency. It is never a float, in Go, in the database or in JSON.
type Money struct {
	Amount   int64  `json:"amount"`   // minor units: 5000 is KES 50.00
	Currency string `json:"currency"` // ISO 4217, e.g. "KES"
}

// KES returns amount minor units of Kenyan shillings.
func KES(minor int64) Money { return Money{Amount: minor, Currency: "KES"} }

// ValidCurrency reports whether c looks like an ISO 4217 code (three
// upper-case letters).
func ValidCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// String formats m for people, e.g. "KES 50.00", assuming two decimals
// (true of every currency SitePulse prices in today).
func (m Money) String() string {
	sign, a := "", m.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s %s%d.%02d", m.Currency, sign, a/100, a%100)
}

// ParseMinor parses a decimal amount such as "10", "10.5" or "10.00" into
// minor units with two decimals, exactly (no float on the way). EINVALID
// for more than two decimals, signs, exponents or overflow.
func ParseMinor(s string) (int64, error) {
	whole, frac, dot := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" || len(frac) > 2 || (dot && frac == "") {
		return 0, Errorf(EINVALID, "amount %q: want a decimal with at most two places", s)
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, Errorf(EINVALID, "amount %q: want a decimal with at most two places", s)
		}
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > (1<<53)/100 {
		return 0, Errorf(EINVALID, "amount %q: too large", s)
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt((frac + "0")[:2], 10, 64)
	}
	return w*100 + f, nil
}
