package mpesa

import (
	"math/big"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
)

func TestParseAmount(t *testing.T) {
	ok := []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1", 100}, {"1.0", 100}, {"1.00", 100}, {"10.00", 1000}, {"10.5", 1050},
		{"0.01", 1}, {"49197.00", 4919700}, {"1e2", 10000}, {"1E+2", 10000}, {"1.5e1", 1500},
		{"1234e-2", 1234}, {"12340e-3", 1234}, {"1.000", 100}, {"007", 700},
		{"250000", 25_000_000}, {"100000000000", MaxAmountMinor},
	}
	for _, c := range ok {
		got, err := ParseAmount(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"", "-1", "-0.01", "+1", "1.001", "0.005", "1e-3", "1.5e-2", "NaN", "Infinity", "inf",
		"1.", ".5", "1..0", "1,00", " 1", "1 ", "0x10", "1e", "1e+", "1e1000", "1e19",
		"100000000000.01", "100000000001", "99999999999999999999", "1.2.3", "١",
		strings.Repeat("9", 65),
	}
	for _, in := range bad {
		if got, err := ParseAmount(in); err == nil {
			t.Errorf("ParseAmount(%q) = %d, want an error", in, got)
		} else if controlplane.ErrorCode(err) != controlplane.EINVALID {
			t.Errorf("ParseAmount(%q): code %s, want EINVALID", in, controlplane.ErrorCode(err))
		}
	}
}

func TestFormatAmountRoundTrips(t *testing.T) {
	for _, m := range []int64{0, 1, 9, 10, 99, 100, 101, 4919700, MaxAmountMinor} {
		s := FormatAmount(m)
		got, err := ParseAmount(s)
		if err != nil || got != m {
			t.Errorf("ParseAmount(FormatAmount(%d) = %q) = %d, %v", m, s, got, err)
		}
	}
	if got := FormatAmount(1050); got != "10.50" {
		t.Errorf("FormatAmount(1050) = %q, want 10.50", got)
	}
}

func TestShillingsConversions(t *testing.T) {
	if sh, err := MinorToShillings(5000); err != nil || sh != 50 {
		t.Errorf("MinorToShillings(5000) = %d, %v; want 50", sh, err)
	}
	for _, m := range []int64{4950, 1, 0, -100, MaxAmountMinor + 100} {
		if _, err := MinorToShillings(m); controlplane.ErrorCode(err) != controlplane.EINVALID {
			t.Errorf("MinorToShillings(%d): %v, want EINVALID", m, err)
		}
	}
	if _, err := MinorToShillings(4950); !strings.Contains(err.Error(), "49.50") {
		t.Errorf("refusal %q should name the amount", err)
	}
	if m, err := ShillingsToMinor(50); err != nil || m != 5000 {
		t.Errorf("ShillingsToMinor(50) = %d, %v", m, err)
	}
	for _, sh := range []int64{-1, MaxAmountMinor} {
		if _, err := ShillingsToMinor(sh); err == nil {
			t.Errorf("ShillingsToMinor(%d) accepted", sh)
		}
	}
}

// FuzzParseAmount checks ParseAmount against math/big: whatever it
// accepts is exactly the decimal value times 100.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10.00", "1", "1.5E+2", "0.30000000000000004", "1e-2", "100000000000", "-1", "1.000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseAmount(s)
		if err != nil {
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("ParseAmount(%q) = %d but math/big does not read it", s, v)
		}
		r.Mul(r, big.NewRat(100, 1))
		if !r.IsInt() || r.Num().Cmp(big.NewInt(v)) != 0 || v < 0 || v > MaxAmountMinor {
			t.Fatalf("ParseAmount(%q) = %d, exact value ×100 is %s", s, v, r.RatString())
		}
		if again, err := ParseAmount(FormatAmount(v)); err != nil || again != v {
			t.Fatalf("%d re-encodes to %d, %v", v, again, err)
		}
	})
}
