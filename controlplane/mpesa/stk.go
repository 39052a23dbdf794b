package mpesa

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

const (
	pathSTKPush     = "/mpesa/stkpush/v1/processrequest"
	pathSTKQuery    = "/mpesa/stkpushquery/v1/query"
	pathRegisterC2B = "/mpesa/c2b/v1/registerurl"
)

// Limits Daraja documents for the STK push's free-text fields.
const (
	MaxAccountReference = 12
	MaxDescription      = 13
)

// C2B ResponseType values: what M-Pesa does with a payment when our
// validation URL does not answer in time.
const (
	C2BCompleted = "Completed"
	C2BCancelled = "Cancelled"
)

// STKRequest is one STK push (Lipa Na M-Pesa Online) prompt.
type STKRequest struct {
	Amount           int64  // whole shillings, > 0 (see MinorToShillings)
	Phone            string // 2547XXXXXXXX or 2541XXXXXXXX, no plus sign
	CallbackURL      string // absolute http(s) URL Daraja posts the result to
	AccountReference string // 1–12 characters, shown on the prompt
	Description      string // TransactionDesc, 1–13 characters
}

// STKResponse is Daraja's acceptance of an STK push. It only says the
// prompt is on its way; the result comes in the callback or STKQuery.
type STKResponse struct {
	MerchantRequestID   string
	CheckoutRequestID   string
	ResponseCode        string // "0"
	ResponseDescription string
	CustomerMessage     string
}

// QueryResult is the state of an STK push. Pending means the customer has
// not finished (Daraja's 500.001.1001 "The transaction is being
// processed"); ResultCode is then meaningless. Otherwise ResultCode is
// the final result, with the callback's codes (ResultSuccess,
// ResultCancelled…).
type QueryResult struct {
	MerchantRequestID string
	CheckoutRequestID string
	ResultCode        int
	ResultDesc        string
	Pending           bool
}

// Result codes of an STK push, in callbacks and queries.
const (
	ResultSuccess             = 0
	ResultInsufficientBalance = 1
	ResultInProgress          = 1001 // another transaction in progress for the subscriber
	ResultExpired             = 1019
	ResultCancelled           = 1032 // cancelled by the user
	ResultUnreachable         = 1037 // the phone could not be reached
	ResultWrongPIN            = 2001
)

// password returns Daraja's Timestamp (YYYYMMDDHHMMSS, Nairobi time) and
// the matching Password, base64(ShortCode + PassKey + Timestamp).
func (c *Client) password(creds Credentials) (ts, password string) {
	ts = c.now().In(nairobi).Format("20060102150405")
	return ts, base64.StdEncoding.EncodeToString([]byte(creds.ShortCode + creds.PassKey + ts))
}

var errShortCode = controlplane.Errorf(controlplane.EINVALID, "mpesa credentials: shortcode must be 5 to 7 digits")

func validShortCode(s string) bool { return len(s) >= 5 && len(s) <= 7 && allDigits(s) }

// ValidPhone reports whether phone is a Safaricom MSISDN as Daraja takes
// it: 254 then 7XXXXXXXX or 1XXXXXXXX, no plus sign.
func ValidPhone(phone string) bool {
	return len(phone) == 12 && strings.HasPrefix(phone, "254") && (phone[3] == '7' || phone[3] == '1') && allDigits(phone)
}

func validCallbackURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}

// STKPush sends an STK push prompt to req.Phone. Input Daraja would refuse
// is refused here first (EINVALID). A timeout or network failure leaves
// the outcome unknown: do not push again before STKQuery or the callback
// has said what happened.
func (c *Client) STKPush(ctx context.Context, creds Credentials, req STKRequest) (STKResponse, error) {
	if err := checkSTKCreds(creds); err != nil {
		return STKResponse{}, err
	}
	switch {
	case req.Amount <= 0 || req.Amount > MaxAmountMinor/100:
		return STKResponse{}, controlplane.Errorf(controlplane.EINVALID, "stk push: amount %d shillings out of range", req.Amount)
	case !ValidPhone(req.Phone):
		return STKResponse{}, controlplane.Errorf(controlplane.EINVALID, "stk push: phone must be 2547XXXXXXXX or 2541XXXXXXXX")
	case !validCallbackURL(req.CallbackURL):
		return STKResponse{}, controlplane.Errorf(controlplane.EINVALID, "stk push: callback URL must be an absolute http(s) URL")
	case req.AccountReference == "" || len(req.AccountReference) > MaxAccountReference:
		return STKResponse{}, controlplane.Errorf(controlplane.EINVALID, "stk push: account reference must be 1 to %d characters", MaxAccountReference)
	case req.Description == "" || len(req.Description) > MaxDescription:
		return STKResponse{}, controlplane.Errorf(controlplane.EINVALID, "stk push: description must be 1 to %d characters", MaxDescription)
	}
	txType := creds.TransactionType
	if txType == "" {
		txType = PayBillOnline
	}
	partyB := creds.PartyB
	if partyB == "" {
		partyB = creds.ShortCode
	}
	ts, pw := c.password(creds)
	body := struct {
		BusinessShortCode string
		Password          string
		Timestamp         string
		TransactionType   string
		Amount            int64
		PartyA            string
		PartyB            string
		PhoneNumber       string
		CallBackURL       string
		AccountReference  string
		TransactionDesc   string
	}{creds.ShortCode, pw, ts, txType, req.Amount, req.Phone, partyB, req.Phone, req.CallbackURL, req.AccountReference, req.Description}
	var r STKResponse
	if err := c.call(ctx, creds, pathSTKPush, body, &r); err != nil {
		return STKResponse{}, fmt.Errorf("stk push: %w", err)
	}
	if r.ResponseCode != "0" {
		return STKResponse{}, fmt.Errorf("stk push: %w", &APIError{Status: 200, Code: r.ResponseCode, Message: r.ResponseDescription})
	}
	if r.CheckoutRequestID == "" || r.MerchantRequestID == "" {
		return STKResponse{}, fmt.Errorf("stk push: %w", &transportError{op: "decode " + pathSTKPush, err: errors.New("accepted without CheckoutRequestID or MerchantRequestID")})
	}
	return r, nil
}

func checkSTKCreds(creds Credentials) error {
	if !validShortCode(creds.ShortCode) {
		return errShortCode
	}
	if creds.PassKey == "" {
		return controlplane.Errorf(controlplane.EINVALID, "mpesa credentials: passkey is required")
	}
	switch creds.TransactionType {
	case "", PayBillOnline, BuyGoodsOnline:
	default:
		return controlplane.Errorf(controlplane.EINVALID, "mpesa credentials: transaction type must be %s or %s", PayBillOnline, BuyGoodsOnline)
	}
	if creds.PartyB != "" && !validShortCode(creds.PartyB) {
		return controlplane.Errorf(controlplane.EINVALID, "mpesa credentials: party B (till) must be 5 to 7 digits")
	}
	return nil
}

// STKQuery asks Daraja for the state of the STK push checkoutRequestID.
// A push the customer has not finished is Pending, not an error.
func (c *Client) STKQuery(ctx context.Context, creds Credentials, checkoutRequestID string) (QueryResult, error) {
	if err := checkSTKCreds(creds); err != nil {
		return QueryResult{}, err
	}
	if checkoutRequestID == "" || len(checkoutRequestID) > 64 {
		return QueryResult{}, controlplane.Errorf(controlplane.EINVALID, "stk query: checkout request id must be 1 to 64 characters")
	}
	ts, pw := c.password(creds)
	body := struct {
		BusinessShortCode string
		Password          string
		Timestamp         string
		CheckoutRequestID string
	}{creds.ShortCode, pw, ts, checkoutRequestID}
	var r struct {
		ResponseCode        json.RawMessage
		ResponseDescription string
		MerchantRequestID   string
		CheckoutRequestID   string
		ResultCode          json.RawMessage // a string ("1032") in query answers
		ResultDesc          string
	}
	err := c.call(ctx, creds, pathSTKQuery, body, &r)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == CodeProcessing {
		return QueryResult{CheckoutRequestID: checkoutRequestID, ResultDesc: ae.Message, Pending: true}, nil
	}
	if err != nil {
		return QueryResult{}, fmt.Errorf("stk query: %w", err)
	}
	if rc, err := jsonInt(r.ResponseCode); err != nil || rc != 0 {
		return QueryResult{}, fmt.Errorf("stk query: %w", &APIError{Status: 200, Code: strings.Trim(string(r.ResponseCode), `"`), Message: r.ResponseDescription})
	}
	code, err := jsonInt(r.ResultCode)
	if err != nil {
		return QueryResult{}, fmt.Errorf("stk query: %w", &transportError{op: "decode " + pathSTKQuery, err: fmt.Errorf("ResultCode: %w", err)})
	}
	return QueryResult{MerchantRequestID: r.MerchantRequestID, CheckoutRequestID: r.CheckoutRequestID, ResultCode: code, ResultDesc: r.ResultDesc}, nil
}

// jsonInt reads an integer sent as a JSON number or a string of digits.
func jsonInt(raw json.RawMessage) (int, error) {
	s := string(raw)
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	}
	if s == "" || s == "null" {
		return 0, errors.New("missing")
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a result code", clip(s))
	}
	return int(n), nil
}

// RegisterC2B registers the URLs M-Pesa calls for payments to
// creds.ShortCode made by hand: validationURL before accepting one (only
// when external validation is enabled on the shortcode), confirmationURL
// once it is complete. responseType (C2BCompleted or C2BCancelled) is what
// M-Pesa does when the validation URL does not answer.
func (c *Client) RegisterC2B(ctx context.Context, creds Credentials, confirmationURL, validationURL, responseType string) error {
	switch {
	case !validShortCode(creds.ShortCode):
		return errShortCode
	case responseType != C2BCompleted && responseType != C2BCancelled:
		return controlplane.Errorf(controlplane.EINVALID, "register c2b: response type must be %s or %s", C2BCompleted, C2BCancelled)
	case !validCallbackURL(confirmationURL) || !validCallbackURL(validationURL):
		return controlplane.Errorf(controlplane.EINVALID, "register c2b: confirmation and validation URLs must be absolute http(s) URLs")
	}
	body := struct {
		ShortCode       string
		ResponseType    string
		ConfirmationURL string
		ValidationURL   string
	}{creds.ShortCode, responseType, confirmationURL, validationURL}
	var r struct {
		ResponseCode        json.RawMessage
		ResponseDescription string
	}
	if err := c.call(ctx, creds, pathRegisterC2B, body, &r); err != nil {
		return fmt.Errorf("register c2b: %w", err)
	}
	// Older answers carry only ResponseDescription; a ResponseCode, when
	// present, must be 0.
	if len(r.ResponseCode) > 0 && string(r.ResponseCode) != "null" {
		if rc, err := jsonInt(r.ResponseCode); err != nil || rc != 0 {
			return fmt.Errorf("register c2b: %w", &APIError{Status: 200, Code: strings.Trim(string(r.ResponseCode), `"`), Message: r.ResponseDescription})
		}
	}
	return nil
}
