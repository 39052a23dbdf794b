package daraja

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// apiError is Daraja's error body. Status is the HTTP status it is sent
// with.
type apiError struct {
	Status  int    `json:"-"`
	ID      string `json:"requestId"`
	Code    string `json:"errorCode"`
	Message string `json:"errorMessage"`
}

func (e *apiError) Error() string { return e.Code + " " + e.Message }

// Daraja's documented error codes and texts.
func errBadField(field string) *apiError {
	return &apiError{Status: 400, Code: "400.002.02", Message: "Bad Request - Invalid " + field}
}

var (
	errInvalidPayload   = &apiError{Status: 400, Code: "400.002.05", Message: "Invalid Request Payload"}
	errInvalidToken     = &apiError{Status: 404, Code: "404.001.03", Message: "Invalid Access Token"}
	errC2BInvalidToken  = &apiError{Status: 400, Code: "400.003.01", Message: "Invalid Access Token"}
	errAuthHeader       = &apiError{Status: 404, Code: "404.001.04", Message: "Invalid Authentication Header"}
	errNotFound         = &apiError{Status: 404, Code: "404.001.01", Message: "Resource not found"}
	errBasicAuth        = &apiError{Status: 400, Code: "400.008.01", Message: "Invalid Authentication passed"}
	errGrantType        = &apiError{Status: 400, Code: "400.008.02", Message: "Invalid grant type passed"}
	errNoMerchant       = &apiError{Status: 500, Code: "500.001.1001", Message: "Merchant does not exist"}
	errWrongCredentials = &apiError{Status: 500, Code: "500.001.1001", Message: "Wrong credentials"}
	errProcessing       = &apiError{Status: 500, Code: "500.001.1001", Message: "The transaction is being processed"}
	errLocked           = &apiError{Status: 500, Code: "500.001.1001", Message: "Unable to lock subscriber, a transaction is already in process for the current subscriber"}
	errURLsRegistered   = &apiError{Status: 500, Code: "500.003.1001", Message: "Urls are already registered."}
)

func errMethod(method string) *apiError {
	return &apiError{Status: 405, Code: "405.001", Message: method + " Method Not Allowed"}
}

// field is a request value Daraja accepts as a JSON string or a JSON
// number (SDKs send BusinessShortCode, Amount, PartyA… either way). It
// keeps the text as sent: numbers are never read into a float.
type field struct {
	text string
	set  bool // present and not null
}

func (f *field) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = field{}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = field{text: s, set: true}
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = field{text: n.String(), set: true}
	default:
		// Objects, arrays and booleans are kept as "not a valid value".
		*f = field{text: "\x00" + string(b), set: true}
	}
	return nil
}

var (
	reShortCode = regexp.MustCompile(`^[0-9]{5,7}$`)
	rePhone     = regexp.MustCompile(`^254(7|1)[0-9]{8}$`)
	reTimestamp = regexp.MustCompile(`^[0-9]{14}$`)
	reWhole     = regexp.MustCompile(`^[0-9]{1,12}(\.0+)?$`)
)

// wholeAmount parses an amount in whole shillings: "10", 10, "10.00" and
// 10.0 are 10; fractions, exponents, zero and negatives are not amounts.
func wholeAmount(s string) (int64, error) {
	if !reWhole.MatchString(s) {
		return 0, errors.New("not a whole number")
	}
	s, _, _ = strings.Cut(s, ".")
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	if n < 1 {
		return 0, errors.New("below 1")
	}
	return n, nil
}

// decodeStrict decodes a JSON object into v, refusing trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// fields is a request body by exact (case-sensitive) member name, as
// Daraja reads it: "businessShortCode" is not BusinessShortCode.
type fields map[string]field

// decodeFields decodes a JSON object's members.
func decodeFields(b []byte) (fields, error) {
	var raw map[string]json.RawMessage
	if err := decodeStrict(b, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, errors.New("not a JSON object")
	}
	out := make(fields, len(raw))
	for k, v := range raw {
		var f field
		if err := f.UnmarshalJSON(v); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = f
	}
	return out, nil
}

// str returns a member's text ("" when absent or null).
func (f fields) str(name string) string { return f[name].text }

// STKCallback is the stkCallback object Daraja POSTs to a CallBackURL,
// inside {"Body":{"stkCallback":…}}. ResultCode is a JSON number here.
type STKCallback struct {
	MerchantRequestID string            `json:"MerchantRequestID"`
	CheckoutRequestID string            `json:"CheckoutRequestID"`
	ResultCode        int               `json:"ResultCode"`
	ResultDesc        string            `json:"ResultDesc"`
	CallbackMetadata  *CallbackMetadata `json:"CallbackMetadata,omitempty"`
}

// CallbackMetadata holds a successful payment's items.
type CallbackMetadata struct {
	Item []CallbackItem `json:"Item"`
}

// CallbackItem is one Name/Value pair. Value is raw JSON so that the
// simulator sends exactly what Daraja does: Amount as 1.00, TransactionDate
// and PhoneNumber as numbers, MpesaReceiptNumber as a string, and Balance
// with no Value at all (nil).
type CallbackItem struct {
	Name  string          `json:"Name"`
	Value json.RawMessage `json:"Value,omitempty"`
}

type callbackEnvelope struct {
	Body struct {
		STKCallback STKCallback `json:"stkCallback"`
	} `json:"Body"`
}

// C2BNotification is the body of a C2B validation or confirmation request.
// Every field is a string, amounts included ("10.00").
type C2BNotification struct {
	TransactionType   string `json:"TransactionType"`
	TransID           string `json:"TransID"`
	TransTime         string `json:"TransTime"`
	TransAmount       string `json:"TransAmount"`
	BusinessShortCode string `json:"BusinessShortCode"`
	BillRefNumber     string `json:"BillRefNumber"`
	InvoiceNumber     string `json:"InvoiceNumber"`
	OrgAccountBalance string `json:"OrgAccountBalance"`
	ThirdPartyTransID string `json:"ThirdPartyTransID"`
	MSISDN            string `json:"MSISDN"`
	FirstName         string `json:"FirstName"`
	MiddleName        string `json:"MiddleName"`
	LastName          string `json:"LastName"`
}

// validationResponse is what a validation URL answers. ResultCode is "0"
// or 0 to accept, a C2B000xx code to reject.
type validationResponse struct {
	ResultCode        field  `json:"ResultCode"`
	ResultDesc        string `json:"ResultDesc"`
	ThirdPartyTransID string `json:"ThirdPartyTransID"`
}

// Result descriptions Daraja sends with each STK result code.
var resultDescs = map[int]string{
	0:    "The service request is processed successfully.",
	1:    "The balance is insufficient for the transaction.",
	2:    "Declined due to limit rule.",
	3:    "Declined due to limit rule: greater than the maximum transaction amount.",
	1001: "Unable to lock subscriber, a transaction is already in process for the current subscriber",
	1019: "Transaction has expired.",
	1025: "An error occurred while sending a push request.",
	1032: "Request cancelled by user",
	1037: "DS timeout user cannot be reached",
	2001: "The initiator information is invalid.",
}

// ResultDesc returns Daraja's description of an STK result code.
func ResultDesc(code int) string {
	if d, ok := resultDescs[code]; ok {
		return d
	}
	return fmt.Sprintf("The service request failed with result code %d.", code)
}

// c2bRejections are the documented validation rejection codes.
var c2bRejections = map[string]string{
	"C2B00011": "Invalid MSISDN",
	"C2B00012": "Invalid Account Number",
	"C2B00013": "Invalid Amount",
	"C2B00014": "Invalid KYC Details",
	"C2B00015": "Invalid Shortcode",
	"C2B00016": "Other Error",
}
