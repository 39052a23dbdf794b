package controlplane

import (
	"strings"
	"testing"
)

func TestNormalizeVoucherCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ACDE-FGHJ", "ACDEFGHJ"},
		{"  acde fghj ", "ACDEFGHJ"},
		{"kah-3469-7acd", "KAH34697ACD"},
		{"abc", ""},
		{"ACDEFGH!", ""},
		{"ÄCDEFGHJ", ""},
		{strings.Repeat("A", 25), ""},
	} {
		got, err := NormalizeVoucherCode(tc.in)
		if tc.want == "" {
			if ErrorCode(err) != EINVALID {
				t.Errorf("NormalizeVoucherCode(%q) = %q, %v; want EINVALID", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeVoucherCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzNormalizeVoucherCode feeds what a portal form sends: the result is
// either EINVALID or a canonical code that normalises to itself.
func FuzzNormalizeVoucherCode(f *testing.F) {
	for _, s := range []string{"ACDE-FGHJ", " kah 3469 7acd ", "", "----", "ÄÖ", "A\x00CDEFGH", strings.Repeat("-", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeVoucherCode(s)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("%q: %v, want EINVALID", s, err)
			}
			return
		}
		if len(got) < MinVoucherLength || len(got) > maxVoucherCode {
			t.Fatalf("%q → %q: length %d", s, got, len(got))
		}
		for _, c := range got {
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("%q → %q: %q", s, got, c)
			}
		}
		if again, err := NormalizeVoucherCode(got); err != nil || again != got {
			t.Fatalf("%q → %q → %q, %v", s, got, again, err)
		}
	})
}
