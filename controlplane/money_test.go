package controlplane

import (
	"reflect"
	"testing"
)

// TestMoneyIsNeverAFloat walks every billing type the API and broadcasts
// carry: no field anywhere in them is a float.
func TestMoneyIsNeverAFloat(t *testing.T) {
	for _, v := range []any{Money{}, Plan{}, PlanRequest{}, PlanPatch{}, Customer{}, Subscription{}, PurchaseRequest{},
		PurchaseResult{}, Payment{}, ManualPaymentRequest{}, Callback{}, BillingSettings{}, BillingSettingsPatch{}, BillingStats{},
		Voucher{}, VoucherBatch{}, VoucherBatchRequest{}, Redemption{}, PortalPurchase{}, PortalSettings{}} {
		checkNoFloat(t, reflect.TypeOf(v), reflect.TypeOf(v).Name(), map[reflect.Type]bool{})
	}
}

func checkNoFloat(t *testing.T, typ reflect.Type, path string, seen map[reflect.Type]bool) {
	t.Helper()
	if seen[typ] {
		return
	}
	seen[typ] = true
	switch typ.Kind() {
	case reflect.Float32, reflect.Float64:
		t.Errorf("%s is a %s", path, typ.Kind())
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		checkNoFloat(t, typ.Elem(), path+"[]", seen)
	case reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			checkNoFloat(t, f.Type, path+"."+f.Name, seen)
		}
	}
}

func TestParseMinor(t *testing.T) {
	for in, want := range map[string]int64{"10": 1000, "10.5": 1050, "10.05": 1005, "0.01": 1, " 7 ": 700} {
		if got, err := ParseMinor(in); err != nil || got != want {
			t.Errorf("ParseMinor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.234", "-1", "1e3", "1.", ".5", "abc", "99999999999999999999"} {
		if _, err := ParseMinor(in); err == nil {
			t.Errorf("ParseMinor(%q) accepted", in)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{"0712345678": "+254712345678", "712345678": "+254712345678",
		"254712345678": "+254712345678", "+254 712 345 678": "+254712345678", "0110123456": "+254110123456",
		"+447911123456": "+447911123456"} {
		if got, err := NormalizePhone(in); err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "12345", "0812345678", "+2548", "2547123456789", "phone", "+0712"} {
		if _, err := NormalizePhone(in); err == nil {
			t.Errorf("NormalizePhone(%q) accepted", in)
		}
	}
}

func TestPlanDuration(t *testing.T) {
	for in, want := range map[string]string{"1h": "1h", "24h": "1d", "7d": "1w", "30d": "4w2d", "90m": "1h30m"} {
		d, err := ParseDuration(in)
		if err != nil || RouterOSDuration(d) != want {
			t.Errorf("%q → %v (%v) → %q, want %q", in, d, err, RouterOSDuration(d), want)
		}
	}
	for _, in := range []string{"", "0h", "-1d", "30s", "400d", "1y"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}
