package billing

import (
	"context"
	"time"
)

// Daraja is Safaricom's M-Pesa API as billing uses it. cmd/sitepulse
// adapts controlplane/mpesa's client to it; billing sees only these
// shapes, in shillings and minor units, never floats.
type Daraja interface {
	// STKPush asks the phone's owner to pay amount whole shillings and
	// returns Daraja's ids. A refusal is an error (Permanent reports
	// whether retrying is pointless).
	STKPush(ctx context.Context, c MpesaCredentials, r STKRequest) (STKAccepted, error)
	// STKQuery asks what became of a push: pending while the customer has
	// not answered.
	STKQuery(ctx context.Context, c MpesaCredentials, checkoutID string) (STKStatus, error)
	// RegisterC2B registers the tenant's paybill/till URLs.
	RegisterC2B(ctx context.Context, c MpesaCredentials, confirmationURL, validationURL string) error
	// DecodeSTKCallback and DecodeC2B read what Daraja POSTs (EINVALID for
	// anything malformed).
	DecodeSTKCallback(body []byte) (STKResult, error)
	DecodeC2B(body []byte) (C2BPayment, error)
	// Permanent reports whether err (from the calls above) will not go
	// away by retrying (a validation error, bad credentials).
	Permanent(err error) bool
}

// MpesaCredentials are a tenant's Daraja app and shortcode, opened from
// their sealed form just for the call.
type MpesaCredentials struct {
	ConsumerKey, ConsumerSecret, ShortCode, PassKey string
	TransactionType                                 string // CustomerPayBillOnline or CustomerBuyGoodsOnline
	PartyB                                          string // the till for buy goods; "" = ShortCode
}

// STKRequest is one STK push.
type STKRequest struct {
	Shillings        int64  // whole shillings: Daraja takes no cents
	Phone            string // 2547XXXXXXXX
	CallbackURL      string
	AccountReference string // at most 12 characters
	Description      string
}

// STKAccepted is Daraja's acceptance of a push.
type STKAccepted struct {
	MerchantRequestID, CheckoutRequestID, CustomerMessage string
}

// STKStatus is an STK query's answer.
type STKStatus struct {
	Pending    bool
	ResultCode int
	ResultDesc string
}

// STKResult is a decoded STK callback.
type STKResult struct {
	MerchantRequestID, CheckoutRequestID string
	ResultCode                           int
	ResultDesc                           string
	// On success:
	AmountMinor int64 // cents
	Receipt     string
	Phone       string // 2547XXXXXXXX
	PaidAt      time.Time
}

// C2BPayment is a decoded C2B validation or confirmation.
type C2BPayment struct {
	TransID     string
	AmountMinor int64
	ShortCode   string
	BillRef     string // the account number the customer typed
	MSISDN      string
	FirstName   string
	PaidAt      time.Time
}

// Daraja's result codes billing acts on.
const (
	ResultSuccess   = 0
	ResultCancelled = 1032
)

// STK callback and C2B replies Daraja expects.
var (
	replyAccepted = []byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`)
	c2bAccept     = []byte(`{"ResultCode":"0","ResultDesc":"Accepted"}`)
)

// c2bReject is a C2B validation refusal with Daraja's code, e.g.
// C2B00012 (invalid account number), C2B00013 (invalid amount).
func c2bReject(code string) []byte {
	return []byte(`{"ResultCode":"` + code + `","ResultDesc":"Rejected"}`)
}
