package mpesa

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

func golden(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// The payloads under testdata/ are the ones in Daraja's documentation.
func TestDecodeSTKCallbackDocumented(t *testing.T) {
	cases := []struct {
		file string
		want STKCallback
	}{
		{"stk_callback_success.json", STKCallback{
			MerchantRequestID: "29115-34620561-1", CheckoutRequestID: "ws_CO_191220191020363925",
			ResultCode: 0, ResultDesc: "The service request is processed successfully.",
			Amount: 100, MpesaReceiptNumber: "NLJ7RT61SV",
			TransactionDate: time.Date(2019, 12, 19, 7, 21, 15, 0, time.UTC), PhoneNumber: "254708374149",
		}},
		{"stk_callback_balance.json", STKCallback{
			MerchantRequestID: "19465-780693-1", CheckoutRequestID: "ws_CO_27072017154747416",
			ResultCode: 0, ResultDesc: "The service request is processed successfully.",
			Amount: 100, MpesaReceiptNumber: "LGR7OWQX0R",
			TransactionDate: time.Date(2017, 7, 27, 12, 48, 0, 0, time.UTC), PhoneNumber: "254721566839",
		}},
		{"stk_callback_cancelled.json", STKCallback{
			MerchantRequestID: "29115-34620561-1", CheckoutRequestID: "ws_CO_191220191020363925",
			ResultCode: ResultCancelled, ResultDesc: "Request cancelled by user.",
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := DecodeSTKCallback(golden(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !got.TransactionDate.Equal(c.want.TransactionDate) {
				t.Fatalf("TransactionDate %v, want %v", got.TransactionDate, c.want.TransactionDate)
			}
			got.TransactionDate, c.want.TransactionDate = time.Time{}, time.Time{}
			if got != c.want {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
			if got.Success() != (c.want.ResultCode == 0) {
				t.Fatal("Success() wrong")
			}
		})
	}
}

// stk builds a callback body around a stkCallback object given as JSON.
func stk(inner string) []byte { return []byte(`{"Body":{"stkCallback":` + inner + `}}`) }

func items(list string) string {
	return `{"MerchantRequestID":"m-1","CheckoutRequestID":"ws_CO_1","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{"Item":[` + list + `]}}`
}

const (
	itAmount  = `{"Name":"Amount","Value":1.00}`
	itReceipt = `{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"}`
	itDate    = `{"Name":"TransactionDate","Value":20191219102115}`
	itPhone   = `{"Name":"PhoneNumber","Value":254708374149}`
)

func TestDecodeSTKCallbackVariants(t *testing.T) {
	cases := []struct {
		name  string
		body  []byte
		check func(STKCallback) bool
	}{
		{"amount as string with cents", stk(items(`{"Name":"Amount","Value":"10.50"},` + itReceipt + `,` + itDate)), func(c STKCallback) bool { return c.Amount == 1050 && c.PhoneNumber == "" }},
		{"amount with exponent", stk(items(`{"Name":"Amount","Value":1.5E+2},` + itReceipt + `,` + itDate)), func(c STKCallback) bool { return c.Amount == 15000 }},
		{"date as string", stk(items(itAmount + `,` + itReceipt + `,{"Name":"TransactionDate","Value":"20191219102115"}`)), func(c STKCallback) bool { return c.TransactionDate.Unix() == 1576740075 }},
		{"masked phone", stk(items(itAmount + `,` + itReceipt + `,` + itDate + `,{"Name":"PhoneNumber","Value":"2547****149"}`)), func(c STKCallback) bool { return c.PhoneNumber == "2547****149" }},
		{"unknown items ignored", stk(items(`{"Name":"Balance"},{"Name":"Other","Value":{"x":1}},` + itAmount + `,` + itReceipt + `,` + itDate)), func(c STKCallback) bool { return c.Amount == 100 }},
		{"result code as string", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":"1037","ResultDesc":"DS timeout user cannot be reached"}`), func(c STKCallback) bool { return c.ResultCode == ResultUnreachable }},
		{"failure ignores metadata", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":2001,"ResultDesc":"wrong PIN","CallbackMetadata":{"Item":[{"Name":"Amount","Value":"junk"}]}}`), func(c STKCallback) bool { return c.ResultCode == ResultWrongPIN && c.Amount == 0 }},
		{"unknown top-level fields", []byte(`{"Body":{"stkCallback":` + items(itAmount+`,`+itReceipt+`,`+itDate) + `,"Extra":1},"More":[1]}`), func(c STKCallback) bool { return c.Amount == 100 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeSTKCallback(c.body)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(got) {
				t.Fatalf("decoded %+v", got)
			}
		})
	}
}

func TestDecodeSTKCallbackRefuses(t *testing.T) {
	big := stk(items(itAmount + `,` + itReceipt + `,` + itDate + `,{"Name":"Pad","Value":"` + strings.Repeat("x", MaxBodyBytes) + `"}`))
	cases := []struct {
		name, want string
		body       []byte
	}{
		{"empty", "malformed", nil},
		{"not json", "malformed", []byte("<xml/>")},
		{"truncated", "malformed", golden(t, "stk_callback_success.json")[:100]},
		{"trailing data", "after the JSON", append(golden(t, "stk_callback_cancelled.json"), []byte(`{}`)...)},
		{"array", "malformed", []byte(`[]`)},
		{"no Body", "stkCallback is missing", []byte(`{}`)},
		{"no stkCallback", "stkCallback is missing", []byte(`{"Body":{}}`)},
		{"Body a string", "malformed", []byte(`{"Body":"x"}`)},
		{"missing checkout id", "CheckoutRequestID is missing", stk(`{"MerchantRequestID":"m","ResultCode":1032}`)},
		{"empty merchant id", "MerchantRequestID is missing", stk(`{"MerchantRequestID":"","CheckoutRequestID":"c","ResultCode":1032}`)},
		{"checkout id a number", "CheckoutRequestID must be a string", stk(`{"MerchantRequestID":"m","CheckoutRequestID":12,"ResultCode":1032}`)},
		{"checkout id an object", "must be a string", stk(`{"MerchantRequestID":"m","CheckoutRequestID":{},"ResultCode":1032}`)},
		{"missing result code", "ResultCode is missing", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c"}`)},
		{"null result code", "ResultCode is missing", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":null}`)},
		{"boolean result code", "ResultCode must be an integer", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":false}`)},
		{"fractional result code", "ResultCode", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":0.5}`)},
		{"negative result code", "ResultCode", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":-1}`)},
		{"huge result code", "ResultCode", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":99999999999999999999}`)},
		{"word result code", "ResultCode", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":"ok"}`)},
		{"success without metadata", "without CallbackMetadata", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":0}`)},
		{"success without amount", "without Amount", stk(items(itReceipt + `,` + itDate))},
		{"success without receipt", "without MpesaReceiptNumber", stk(items(itAmount + `,` + itDate))},
		{"success without date", "without TransactionDate", stk(items(itAmount + `,` + itReceipt))},
		{"amount absent value", "Amount is missing", stk(items(`{"Name":"Amount"},` + itReceipt + `,` + itDate))},
		{"amount negative", "negative", stk(items(`{"Name":"Amount","Value":-1},` + itReceipt + `,` + itDate))},
		{"amount zero", "positive", stk(items(`{"Name":"Amount","Value":0},` + itReceipt + `,` + itDate))},
		{"amount sub-cent", "more than 2 decimals", stk(items(`{"Name":"Amount","Value":1.001},` + itReceipt + `,` + itDate))},
		{"amount float noise", "more than 2 decimals", stk(items(`{"Name":"Amount","Value":0.30000000000000004},` + itReceipt + `,` + itDate))},
		{"amount huge exponent", "too large", stk(items(`{"Name":"Amount","Value":1e308},` + itReceipt + `,` + itDate))},
		{"amount NaN string", "not a decimal", stk(items(`{"Name":"Amount","Value":"NaN"},` + itReceipt + `,` + itDate))},
		{"amount boolean", "must be a string", stk(items(`{"Name":"Amount","Value":true},` + itReceipt + `,` + itDate))},
		{"amount twice", "appears twice", stk(items(itAmount + `,{"Name":"Amount","Value":1000},` + itReceipt + `,` + itDate))},
		{"receipt a number", "must be a string", stk(items(itAmount + `,{"Name":"MpesaReceiptNumber","Value":12},` + itDate))},
		{"date malformed", "YYYYMMDDHHMMSS", stk(items(itAmount + `,` + itReceipt + `,{"Name":"TransactionDate","Value":2019121910}`))},
		{"date impossible", "not a valid time", stk(items(itAmount + `,` + itReceipt + `,{"Name":"TransactionDate","Value":20191319102115}`))},
		{"item name a number", "malformed", stk(items(`{"Name":1,"Value":1}`))},
		{"items an object", "malformed", stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":0,"CallbackMetadata":{"Item":{}}}`)},
		{"oversized", "over", big},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeSTKCallback(c.body)
			if err == nil {
				t.Fatalf("decoded %+v, want an error containing %q", got, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
			code := controlplane.ErrorCode(err)
			if code != controlplane.EINVALID && code != controlplane.ETOOLARGE {
				t.Fatalf("error code %s, want invalid or too_large", code)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error echoes too much input (%d bytes)", len(err.Error()))
			}
		})
	}
	if _, err := DecodeSTKCallback(big); controlplane.ErrorCode(err) != controlplane.ETOOLARGE {
		t.Fatalf("oversized body: code %s, want too_large", controlplane.ErrorCode(err))
	}
}

func TestDecodeC2BDocumented(t *testing.T) {
	v, err := DecodeC2B(golden(t, "c2b_validation.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := C2BNotice{TransactionType: "Pay Bill", TransID: "RKTQDM7W6S", Amount: 1000, BusinessShortCode: "600638",
		BillRefNumber: "invoice008", MSISDN: "25470****149", FirstName: "John", LastName: "Doe"}
	if !v.TransTime.Equal(time.Date(2019, 11, 22, 3, 38, 45, 0, time.UTC)) {
		t.Fatalf("TransTime %v", v.TransTime)
	}
	v.TransTime = time.Time{}
	if v != want {
		t.Fatalf("got %+v\nwant %+v", v, want)
	}

	c, err := DecodeC2B(golden(t, "c2b_confirmation.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TransID != "LGR219G3EY" || c.Amount != 1000 || c.OrgAccountBalance != "49197.00" || c.ThirdPartyTransID != "1234567890" || c.MiddleName != "Doe" || c.BillRefNumber != "xyz" {
		t.Fatalf("got %+v", c)
	}
}

func c2b(mod func(m map[string]any)) []byte {
	m := map[string]any{}
	if err := json.Unmarshal([]byte(`{"TransactionType":"Pay Bill","TransID":"RKTQDM7W6S","TransTime":"20191122063845","TransAmount":"10.00","BusinessShortCode":"600638","BillRefNumber":"acc1","MSISDN":"254708374149"}`), &m); err != nil {
		panic(err)
	}
	mod(m)
	b, _ := json.Marshal(m)
	return b
}

func TestDecodeC2BRefuses(t *testing.T) {
	cases := []struct {
		name, want string
		body       []byte
	}{
		{"not json", "malformed", []byte("TransID=1")},
		{"missing TransID", "TransID is missing", c2b(func(m map[string]any) { delete(m, "TransID") })},
		{"null TransID", "TransID is missing", c2b(func(m map[string]any) { m["TransID"] = nil })},
		{"missing amount", "TransAmount is missing", c2b(func(m map[string]any) { delete(m, "TransAmount") })},
		{"missing shortcode", "BusinessShortCode is missing", c2b(func(m map[string]any) { delete(m, "BusinessShortCode") })},
		{"missing time", "TransTime is missing", c2b(func(m map[string]any) { delete(m, "TransTime") })},
		{"bad time", "not YYYYMMDDHHMMSS", c2b(func(m map[string]any) { m["TransTime"] = "2019-11-22T06:38:45" })},
		{"negative amount", "negative", c2b(func(m map[string]any) { m["TransAmount"] = "-10.00" })},
		{"sub-cent amount", "more than 2 decimals", c2b(func(m map[string]any) { m["TransAmount"] = "10.001" })},
		{"comma amount", "not a decimal", c2b(func(m map[string]any) { m["TransAmount"] = "1,000.00" })},
		{"absurd amount", "too large", c2b(func(m map[string]any) { m["TransAmount"] = "1000000000000" })},
		{"amount object", "must be a string", c2b(func(m map[string]any) { m["TransAmount"] = map[string]any{} })},
		{"account array", "must be a string", c2b(func(m map[string]any) { m["BillRefNumber"] = []any{"a"} })},
		{"name boolean", "must be a string", c2b(func(m map[string]any) { m["FirstName"] = true })},
		{"long account", "over 256 bytes", c2b(func(m map[string]any) { m["BillRefNumber"] = strings.Repeat("a", 300) })},
		{"oversized", "over", c2b(func(m map[string]any) { m["Pad"] = strings.Repeat("a", MaxBodyBytes) })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeC2B(c.body)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("DecodeC2B = %+v, %v; want an error containing %q", got, err, c.want)
			}
		})
	}
	// Amounts as JSON numbers decode exactly too.
	n, err := DecodeC2B(c2b(func(m map[string]any) { m["TransAmount"] = json.Number("10.5") }))
	if err != nil || n.Amount != 1050 {
		t.Fatalf("numeric TransAmount: %+v, %v", n, err)
	}
}

func TestReadBody(t *testing.T) {
	b, err := ReadBody(bytes.NewReader(make([]byte, MaxBodyBytes)))
	if err != nil || len(b) != MaxBodyBytes {
		t.Fatalf("body at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := ReadBody(bytes.NewReader(make([]byte, MaxBodyBytes+1))); controlplane.ErrorCode(err) != controlplane.ETOOLARGE {
		t.Fatalf("body over the limit: %v, want too_large", err)
	}
}

func TestAnswers(t *testing.T) {
	type answer struct {
		ResultCode any
		ResultDesc string
	}
	read := func(b []byte) answer {
		var a answer
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&a); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return a
	}
	if got := string(Accepted()); got != `{"ResultCode":0,"ResultDesc":"Accepted"}` {
		t.Fatalf("Accepted() = %s", got)
	}
	if a := read(C2BAccept()); a.ResultCode != "0" {
		t.Fatalf("C2BAccept() = %+v", a)
	}
	if a := read(C2BReject(C2BInvalidAccount)); a.ResultCode != "C2B00012" || a.ResultDesc != "Rejected" {
		t.Fatalf("C2BReject(invalid account) = %+v", a)
	}
	if a := read(C2BReject(C2BInvalidAmount)); a.ResultCode != "C2B00013" {
		t.Fatalf("C2BReject(invalid amount) = %+v", a)
	}
	if a := read(C2BReject(`","x":"`)); a.ResultCode != string(C2BOtherError) {
		t.Fatalf("C2BReject(unknown) = %+v, want C2B00016", a)
	}
	if a := read(C2BConfirmed()); a.ResultCode != json.Number("0") {
		t.Fatalf("C2BConfirmed() = %+v", a)
	}
}

// Fuzz properties: decoding never panics; whatever decodes has its ids
// and, for a payment, an amount that re-encodes to the same minor units.
func FuzzDecodeSTKCallback(f *testing.F) {
	for _, name := range []string{"stk_callback_success.json", "stk_callback_balance.json", "stk_callback_cancelled.json"} {
		f.Add(golden(f, name))
	}
	f.Add(stk(items(`{"Name":"Amount","Value":"10.50"},` + itReceipt + `,` + itDate + `,` + itPhone)))
	f.Add(stk(items(`{"Name":"Amount","Value":1.5E+2},` + itReceipt + `,` + itDate)))
	f.Add(stk(`{"MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":"1032"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cb, err := DecodeSTKCallback(b)
		if err != nil {
			return
		}
		if cb.MerchantRequestID == "" || cb.CheckoutRequestID == "" || cb.ResultCode < 0 {
			t.Fatalf("decoded without ids: %+v", cb)
		}
		if !cb.Success() {
			return
		}
		if cb.Amount <= 0 || cb.Amount > MaxAmountMinor || cb.MpesaReceiptNumber == "" || cb.TransactionDate.IsZero() {
			t.Fatalf("payment without its fields: %+v", cb)
		}
		if again, err := ParseAmount(FormatAmount(cb.Amount)); err != nil || again != cb.Amount {
			t.Fatalf("amount %d re-encodes to %d, %v", cb.Amount, again, err)
		}
	})
}

func FuzzDecodeC2B(f *testing.F) {
	f.Add(golden(f, "c2b_validation.json"))
	f.Add(golden(f, "c2b_confirmation.json"))
	f.Add([]byte(`{"TransID":"X","TransTime":20191122063845,"TransAmount":10.5,"BusinessShortCode":600638}`))
	f.Add([]byte(`{"TransID":"X","TransTime":"20191122063845","TransAmount":"1e2","BusinessShortCode":"600638","MSISDN":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeC2B(b)
		if err != nil {
			return
		}
		if n.TransID == "" || n.BusinessShortCode == "" || n.TransTime.IsZero() {
			t.Fatalf("decoded without ids: %+v", n)
		}
		if n.Amount <= 0 || n.Amount > MaxAmountMinor {
			t.Fatalf("amount %d out of range", n.Amount)
		}
		if again, err := ParseAmount(FormatAmount(n.Amount)); err != nil || again != n.Amount {
			t.Fatalf("amount %d re-encodes to %d, %v", n.Amount, again, err)
		}
	})
}
