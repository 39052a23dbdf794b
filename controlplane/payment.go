package controlplane

import "time"

// PaymentStatus is where a payment is:
//
//	pending → completed | failed | flagged
//	failed → completed (a callback after SitePulse gave up on it)
//	completed → refunded
type PaymentStatus string

// Payment statuses.
const (
	PaymentPending   PaymentStatus = "pending"   // waiting for the customer or the provider
	PaymentCompleted PaymentStatus = "completed" // money received; applied to its subscription once
	PaymentFailed    PaymentStatus = "failed"    // the provider said no (Reason has its words)
	PaymentFlagged   PaymentStatus = "flagged"   // money may have moved but is not applied: short, unknown, forged
	PaymentRefunded  PaymentStatus = "refunded"  // completed, then refunded by the tenant
)

// Valid reports whether s is a known status.
func (s PaymentStatus) Valid() bool {
	switch s {
	case PaymentPending, PaymentCompleted, PaymentFailed, PaymentFlagged, PaymentRefunded:
		return true
	}
	return false
}

// Payment providers.
const (
	ProviderMpesaSTK = "mpesa_stk" // Lipa Na M-Pesa Online (STK push)
	ProviderMpesaC2B = "mpesa_c2b" // paybill / till paid by hand
	ProviderManual   = "manual"    // cash or other, recorded by staff
	ProviderWebhook  = "webhook"   // another gateway through the signed webhook
)

// Why a payment is flagged.
const (
	FlagShort            = "amount_short"      // less than the plan's price
	FlagCurrency         = "currency_mismatch" // not the tenant's currency
	FlagUnknownCheckout  = "unknown_checkout"  // a callback for no payment of ours
	FlagDuplicateReceipt = "duplicate_receipt" // the receipt already paid another payment
	FlagUnknownAccount   = "unknown_account"   // a C2B payment for no customer
	FlagNotConfirmed     = "not_confirmed"     // STK query did not confirm the callback
)

// Payment is money for a subscription. A provider receipt (the M-Pesa
// receipt number) applies at most once per tenant.
type Payment struct {
	ID             int64         `json:"id"`
	TenantID       int64         `json:"tenant_id"`
	CustomerID     int64         `json:"customer_id,omitempty"`
	SubscriptionID int64         `json:"subscription_id,omitempty"`
	PlanID         int64         `json:"plan_id,omitempty"`
	Provider       string        `json:"provider"`
	Amount         Money         `json:"amount"`
	Phone          string        `json:"phone,omitempty"` // E.164; masked in broadcasts
	Receipt        string        `json:"receipt,omitempty"`
	Status         PaymentStatus `json:"status"`
	// Reason is the provider's words for a failure, or the Flag* code.
	Reason string `json:"reason,omitempty"`
	// ResultCode is M-Pesa's ResultCode (0 success, 1032 cancelled…).
	ResultCode        *int       `json:"result_code,omitempty"`
	CheckoutRequestID string     `json:"checkout_request_id,omitempty"`
	MerchantRequestID string     `json:"merchant_request_id,omitempty"`
	Actor             string     `json:"actor,omitempty"` // who recorded a manual payment
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	CompletedAt       *time.Time `json:"completed_at,omitempty"`
}

// PaymentFilter selects payments. Zero fields match everything.
type PaymentFilter struct {
	Status         PaymentStatus
	Provider       string
	CustomerID     int64
	SubscriptionID int64
	Phone          string // E.164 or as typed
	From, To       time.Time
	Limit          int
	Offset         int
}

// ManualPaymentRequest records cash or another payment taken by staff
// (POST /api/v1/payments); it completes at once and is audited.
type ManualPaymentRequest struct {
	SubscriptionID int64 `json:"subscription_id,omitempty"`
	// Or a plan and a phone, for a customer or subscription that does
	// not exist yet.
	PlanID int64  `json:"plan_id,omitempty"`
	Phone  string `json:"phone,omitempty"`
	Name   string `json:"name,omitempty"`
	// Amount in minor units of the tenant's currency.
	Amount int64 `json:"amount"`
	// Reference is the receipt (a cash book number, a bank reference);
	// unique per tenant like the providers' receipts. "" makes one up.
	Reference string `json:"reference,omitempty"`
	Note      string `json:"note,omitempty"`
}

// Callback outcomes, counted and kept in the callback log.
const (
	CallbackApplied   = "applied"   // completed or failed a payment
	CallbackDuplicate = "duplicate" // already applied: answered, nothing changed
	CallbackFlagged   = "flagged"   // recorded as a flagged payment
	CallbackRejected  = "rejected"  // forged, malformed or refused: nothing recorded but this line
	CallbackQueued    = "queued"    // waiting for an STK query to confirm it
)

// Callback is one request a payment provider made to SitePulse, as
// logged: what came, from where, and what it did.
type Callback struct {
	ID         int64     `json:"id"`
	TenantID   int64     `json:"tenant_id"`
	Provider   string    `json:"provider"`
	Kind       string    `json:"kind"` // stk, c2b_validation, c2b_confirmation, webhook
	RemoteAddr string    `json:"remote_addr"`
	Reference  string    `json:"reference,omitempty"` // CheckoutRequestID, TransID or receipt
	PaymentID  int64     `json:"payment_id,omitempty"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
}
