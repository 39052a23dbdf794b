package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// MaxBodyBytes bounds a body Daraja posts to us (and an answer we read
// from Daraja). Real ones are well under 2 KiB.
const MaxBodyBytes = controlplane.MaxHookBody

// ReadBody reads a callback body of at most MaxBodyBytes from r. A larger
// body is an error (ETOOLARGE), never truncated into something that might
// decode.
func ReadBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read mpesa callback: %w", err)
	}
	if len(b) > MaxBodyBytes {
		return nil, controlplane.Errorf(controlplane.ETOOLARGE, "mpesa callback body over %d bytes", MaxBodyBytes)
	}
	return b, nil
}

// STKCallback is the result of an STK push as Daraja posts it to the
// push's CallBackURL (Body.stkCallback). The payment fields are set when
// ResultCode is ResultSuccess.
type STKCallback struct {
	MerchantRequestID string
	CheckoutRequestID string
	ResultCode        int
	ResultDesc        string

	Amount             int64     // minor units (cents)
	MpesaReceiptNumber string    // unique per payment, e.g. NLJ7RT61SV
	TransactionDate    time.Time // Daraja's 20191219102115, Nairobi time
	PhoneNumber        string    // as Daraja sent it: digits, or masked
}

// Success reports whether the callback is a completed payment.
func (cb STKCallback) Success() bool { return cb.ResultCode == ResultSuccess }

// C2BNotice is a C2B validation or confirmation request: a payment made by
// hand to the paybill or till. Validation requests leave
// OrgAccountBalance and ThirdPartyTransID empty.
type C2BNotice struct {
	TransactionType   string // e.g. "Pay Bill", "Buy Goods"
	TransID           string // M-Pesa receipt, unique per payment
	TransTime         time.Time
	Amount            int64 // TransAmount ("10.00") in minor units
	BusinessShortCode string
	BillRefNumber     string // the account number the customer typed (paybill)
	InvoiceNumber     string
	OrgAccountBalance string // as sent; not money we act on
	ThirdPartyTransID string
	MSISDN            string // as sent: Safaricom masks or hashes it nowadays
	FirstName         string
	MiddleName        string
	LastName          string
}

func invalid(what, format string, args ...any) error {
	return controlplane.Errorf(controlplane.EINVALID, "%s: %s", what, fmt.Sprintf(format, args...))
}

// decodeStrict decodes one JSON object from b into v with numbers kept as
// literals, refusing oversized bodies and trailing data.
func decodeStrict(what string, b []byte, v any) error {
	if len(b) > MaxBodyBytes {
		return controlplane.Errorf(controlplane.ETOOLARGE, "%s: body over %d bytes", what, MaxBodyBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return invalid(what, "malformed JSON: %s", jsonReason(err))
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return invalid(what, "data after the JSON object")
	}
	return nil
}

// jsonReason keeps encoding/json's message (it names the field and the
// type) without echoing much of the hostile input.
func jsonReason(err error) string { return clip2(err.Error(), 120) }

func clip2(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// scalar is a JSON value that must be a string or a number (kept as its
// literal); null or absent is "". Objects, arrays and booleans are errors.
type scalar struct {
	set    bool
	isNum  bool
	text   string
	broken string // the type found when it is not a scalar
}

// UnmarshalJSON records the value, or what kind of non-scalar it is, so
// that the field's reader can name the field in its error.
func (s *scalar) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		s.broken = "empty"
	case b[0] == '"':
		s.set = true
		return json.Unmarshal(b, &s.text)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		s.set, s.isNum, s.text = true, true, string(b)
	case string(b) == "null":
	case b[0] == '{':
		s.broken = "an object"
	case b[0] == '[':
		s.broken = "an array"
	default:
		s.broken = "a boolean"
	}
	return nil
}

func (s scalar) str(what, field string, required bool) (string, error) {
	if s.broken != "" {
		return "", invalid(what, "%s must be a string, not %s", field, s.broken)
	}
	if required && s.text == "" {
		return "", invalid(what, "%s is missing", field)
	}
	if len(s.text) > 256 {
		return "", invalid(what, "%s is over 256 bytes", field)
	}
	return s.text, nil
}

func (s scalar) strOnly(what, field string, required bool) (string, error) {
	if s.isNum {
		return "", invalid(what, "%s must be a string, not a number", field)
	}
	return s.str(what, field, required)
}

func (s scalar) amount(what, field string) (int64, error) {
	t, err := s.str(what, field, true)
	if err != nil {
		return 0, err
	}
	m, err := parseAmount(t)
	if err != nil {
		return 0, invalid(what, "%s %q: %s", field, clip(t), err.Error())
	}
	if m <= 0 {
		return 0, invalid(what, "%s must be positive", field)
	}
	return m, nil
}

// nairobiTime parses Daraja's YYYYMMDDHHMMSS, sent as a number or string.
func (s scalar) nairobiTime(what, field string) (time.Time, error) {
	t, err := s.str(what, field, true)
	if err != nil {
		return time.Time{}, err
	}
	if len(t) != 14 || !allDigits(t) {
		return time.Time{}, invalid(what, "%s %q is not YYYYMMDDHHMMSS", field, clip(t))
	}
	tm, err := time.ParseInLocation("20060102150405", t, nairobi)
	if err != nil {
		return time.Time{}, invalid(what, "%s %q is not a valid time", field, t)
	}
	return tm, nil
}

// resultCode reads a ResultCode: an integer, as a JSON number or (as
// query answers write it) a string of digits.
func (s scalar) resultCode(what string) (int, error) {
	if s.broken != "" {
		return 0, invalid(what, "ResultCode must be an integer, not %s", s.broken)
	}
	if !s.set {
		return 0, invalid(what, "ResultCode is missing")
	}
	n, err := strconv.ParseInt(s.text, 10, 32)
	if err != nil || n < 0 {
		return 0, invalid(what, "ResultCode %q is not a non-negative integer", clip(s.text))
	}
	return int(n), nil
}

// DecodeSTKCallback decodes the body Daraja posts to an STK push's
// CallBackURL. It is strict: a body over MaxBodyBytes, malformed JSON, a
// missing Body.stkCallback, MerchantRequestID or CheckoutRequestID, a
// ResultCode that is not an integer, and, for a successful result, a
// missing or invalid Amount, MpesaReceiptNumber or TransactionDate are
// errors (EINVALID, or ETOOLARGE for the size). Metadata items it does not
// know (Balance…) are ignored.
func DecodeSTKCallback(b []byte) (STKCallback, error) {
	const what = "stk callback"
	var env struct {
		Body *struct {
			StkCallback *struct {
				MerchantRequestID scalar
				CheckoutRequestID scalar
				ResultCode        scalar
				ResultDesc        scalar
				CallbackMetadata  *struct {
					Item []struct {
						Name  string
						Value scalar
					}
				}
			} `json:"stkCallback"`
		}
	}
	if err := decodeStrict(what, b, &env); err != nil {
		return STKCallback{}, err
	}
	if env.Body == nil || env.Body.StkCallback == nil {
		return STKCallback{}, invalid(what, "Body.stkCallback is missing")
	}
	raw := env.Body.StkCallback
	var cb STKCallback
	var err error
	if cb.MerchantRequestID, err = raw.MerchantRequestID.strOnly(what, "MerchantRequestID", true); err != nil {
		return STKCallback{}, err
	}
	if cb.CheckoutRequestID, err = raw.CheckoutRequestID.strOnly(what, "CheckoutRequestID", true); err != nil {
		return STKCallback{}, err
	}
	if cb.ResultCode, err = raw.ResultCode.resultCode(what); err != nil {
		return STKCallback{}, err
	}
	if cb.ResultDesc, err = raw.ResultDesc.strOnly(what, "ResultDesc", false); err != nil {
		return STKCallback{}, err
	}
	if cb.ResultCode != ResultSuccess {
		return cb, nil
	}
	if raw.CallbackMetadata == nil {
		return STKCallback{}, invalid(what, "successful result without CallbackMetadata")
	}
	seen := map[string]bool{}
	for _, it := range raw.CallbackMetadata.Item {
		switch it.Name {
		case "Amount", "MpesaReceiptNumber", "TransactionDate", "PhoneNumber":
		default:
			continue
		}
		if seen[it.Name] {
			return STKCallback{}, invalid(what, "CallbackMetadata item %s appears twice", it.Name)
		}
		seen[it.Name] = true
		switch it.Name {
		case "Amount":
			cb.Amount, err = it.Value.amount(what, "Amount")
		case "MpesaReceiptNumber":
			cb.MpesaReceiptNumber, err = it.Value.strOnly(what, "MpesaReceiptNumber", true)
		case "TransactionDate":
			cb.TransactionDate, err = it.Value.nairobiTime(what, "TransactionDate")
		case "PhoneNumber":
			cb.PhoneNumber, err = it.Value.str(what, "PhoneNumber", false)
		}
		if err != nil {
			return STKCallback{}, err
		}
	}
	for _, name := range []string{"Amount", "MpesaReceiptNumber", "TransactionDate"} {
		if !seen[name] {
			return STKCallback{}, invalid(what, "successful result without %s", name)
		}
	}
	return cb, nil
}

// DecodeC2B decodes a C2B validation or confirmation body. TransID,
// TransTime, TransAmount and BusinessShortCode are required; TransAmount
// is converted to minor units exactly. Other fields may be absent or
// null; a field of the wrong type (an object, an array, a boolean) is an
// error.
func DecodeC2B(b []byte) (C2BNotice, error) {
	const what = "c2b notice"
	var raw struct {
		TransactionType   scalar
		TransID           scalar
		TransTime         scalar
		TransAmount       scalar
		BusinessShortCode scalar
		BillRefNumber     scalar
		InvoiceNumber     scalar
		OrgAccountBalance scalar
		ThirdPartyTransID scalar
		MSISDN            scalar
		FirstName         scalar
		MiddleName        scalar
		LastName          scalar
	}
	if err := decodeStrict(what, b, &raw); err != nil {
		return C2BNotice{}, err
	}
	var n C2BNotice
	var err error
	fields := []struct {
		name     string
		dst      *string
		src      scalar
		required bool
	}{
		{"TransactionType", &n.TransactionType, raw.TransactionType, false},
		{"TransID", &n.TransID, raw.TransID, true},
		{"BusinessShortCode", &n.BusinessShortCode, raw.BusinessShortCode, true},
		{"BillRefNumber", &n.BillRefNumber, raw.BillRefNumber, false},
		{"InvoiceNumber", &n.InvoiceNumber, raw.InvoiceNumber, false},
		{"OrgAccountBalance", &n.OrgAccountBalance, raw.OrgAccountBalance, false},
		{"ThirdPartyTransID", &n.ThirdPartyTransID, raw.ThirdPartyTransID, false},
		{"MSISDN", &n.MSISDN, raw.MSISDN, false},
		{"FirstName", &n.FirstName, raw.FirstName, false},
		{"MiddleName", &n.MiddleName, raw.MiddleName, false},
		{"LastName", &n.LastName, raw.LastName, false},
	}
	for _, f := range fields {
		if *f.dst, err = f.src.str(what, f.name, f.required); err != nil {
			return C2BNotice{}, err
		}
	}
	if n.TransTime, err = raw.TransTime.nairobiTime(what, "TransTime"); err != nil {
		return C2BNotice{}, err
	}
	if n.Amount, err = raw.TransAmount.amount(what, "TransAmount"); err != nil {
		return C2BNotice{}, err
	}
	return n, nil
}

// Accepted is the answer Daraja expects to an STK callback,
// {"ResultCode":0,"ResultDesc":"Accepted"}, also for a duplicate we
// ignore: anything else makes Daraja retry.
func Accepted() []byte { return []byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`) }

// C2BRejection is a C2B validation result code that refuses a payment.
type C2BRejection string

// Daraja's documented C2B validation rejection codes.
const (
	C2BInvalidMSISDN    C2BRejection = "C2B00011"
	C2BInvalidAccount   C2BRejection = "C2B00012" // unknown account number (BillRefNumber)
	C2BInvalidAmount    C2BRejection = "C2B00013"
	C2BInvalidKYC       C2BRejection = "C2B00014"
	C2BInvalidShortCode C2BRejection = "C2B00015"
	C2BOtherError       C2BRejection = "C2B00016"
)

// C2BAccept is the validation answer that lets a payment proceed.
func C2BAccept() []byte { return []byte(`{"ResultCode":"0","ResultDesc":"Accepted"}`) }

// C2BReject is the validation answer that refuses a payment with code; an
// unknown code is sent as C2BOtherError.
func C2BReject(code C2BRejection) []byte {
	switch code {
	case C2BInvalidMSISDN, C2BInvalidAccount, C2BInvalidAmount, C2BInvalidKYC, C2BInvalidShortCode, C2BOtherError:
	default:
		code = C2BOtherError
	}
	return []byte(`{"ResultCode":"` + string(code) + `","ResultDesc":"Rejected"}`)
}

// C2BConfirmed is the answer to a C2B confirmation (M-Pesa ignores its
// content; it must be a 200 with a JSON body).
func C2BConfirmed() []byte { return []byte(`{"ResultCode":0,"ResultDesc":"Success"}`) }
