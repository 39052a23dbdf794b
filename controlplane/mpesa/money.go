package mpesa

import (
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// MaxAmountMinor bounds every amount the package accepts, in minor units
// (cents): 100 billion shillings, far above any M-Pesa transaction or
// balance and far below int64's range, so arithmetic on amounts cannot
// overflow.
const MaxAmountMinor int64 = 100_000_000_000 * 100

// ParseAmount converts a Daraja shilling amount, as a JSON number literal
// or a decimal string ("10", "10.00", 1.0, 1e2), into integer minor units
// (cents) exactly, without going through a float. It refuses negatives,
// signs, NaN and infinities, sub-cent precision (more than two significant
// decimals), and values above MaxAmountMinor. Errors have code EINVALID.
func ParseAmount(s string) (int64, error) {
	m, err := parseAmount(s)
	if err != nil {
		return 0, controlplane.Errorf(controlplane.EINVALID, "amount %q: %s", clip(s), err.Error())
	}
	return m, nil
}

type amountError string

func (e amountError) Error() string { return string(e) }

func parseAmount(s string) (int64, error) {
	if s == "" {
		return 0, amountError("empty")
	}
	if len(s) > 64 {
		return 0, amountError("too long")
	}
	if s[0] == '-' {
		return 0, amountError("negative")
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		es := s[i+1:]
		if es != "" && (es[0] == '+' || es[0] == '-') {
			if len(es) == 1 {
				return 0, amountError("malformed exponent")
			}
			if !allDigits(es[1:]) || len(es) > 4 {
				return 0, amountError("malformed exponent")
			}
		} else if !allDigits(es) || len(es) > 3 {
			return 0, amountError("malformed exponent")
		}
		e, err := strconv.Atoi(es)
		if err != nil {
			return 0, amountError("malformed exponent")
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
		if frac == "" {
			return 0, amountError("malformed decimal")
		}
	}
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, amountError("not a decimal number")
	}
	// value = digits × 10^(exp-len(frac)); in cents that is
	// digits × 10^(exp-len(frac)+2).
	digits := strings.TrimLeft(intPart+frac, "0")
	shift := exp - len(frac) + 2
	if digits == "" {
		return 0, nil
	}
	if shift < 0 {
		cut := len(digits) + shift
		if cut < 0 || strings.TrimLeft(digits[max(cut, 0):], "0") != "" {
			return 0, amountError("more than 2 decimals")
		}
		digits = digits[:cut]
		if digits == "" {
			return 0, nil
		}
	} else {
		if len(digits)+shift > 18 {
			return 0, amountError("too large")
		}
		digits += strings.Repeat("0", shift)
	}
	if len(digits) > 18 {
		return 0, amountError("too large")
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v > MaxAmountMinor {
		return 0, amountError("too large")
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatAmount renders minor units as Daraja writes shillings, with two
// decimals ("10.00"). ParseAmount(FormatAmount(m)) == m for every m in
// [0, MaxAmountMinor].
func FormatAmount(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return sign + strconv.FormatInt(minor/100, 10) + "." + strconv.FormatInt(minor%100/10, 10) + strconv.FormatInt(minor%10, 10)
}

// ShillingsToMinor converts whole shillings to minor units, refusing
// negatives and values above MaxAmountMinor (EINVALID).
func ShillingsToMinor(shillings int64) (int64, error) {
	if shillings < 0 || shillings > MaxAmountMinor/100 {
		return 0, controlplane.Errorf(controlplane.EINVALID, "amount %d shillings out of range", shillings)
	}
	return shillings * 100, nil
}

// MinorToShillings converts minor units to the whole shillings an STK push
// carries. Daraja's STK push takes whole shillings only, so an amount with
// cents is refused (EINVALID), never rounded: a price of 49.50 cannot be
// charged by STK push.
func MinorToShillings(minor int64) (int64, error) {
	if minor <= 0 || minor > MaxAmountMinor {
		return 0, controlplane.Errorf(controlplane.EINVALID, "amount %s out of range", FormatAmount(minor))
	}
	if minor%100 != 0 {
		return 0, controlplane.Errorf(controlplane.EINVALID, "amount %s has cents: M-Pesa STK push takes whole shillings", FormatAmount(minor))
	}
	return minor / 100, nil
}

// clip shortens untrusted text quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
