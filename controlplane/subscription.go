package controlplane

import "time"

// SubscriptionStatus is where a subscription is:
//
//	pending_payment → active → expired | suspended | cancelled
//	expired → active (a renewal: the reconnection)
type SubscriptionStatus string

// Subscription statuses.
const (
	SubscriptionPending   SubscriptionStatus = "pending_payment" // bought, not yet paid
	SubscriptionActive    SubscriptionStatus = "active"          // paid; its account is enabled on its routers
	SubscriptionExpired   SubscriptionStatus = "expired"         // its time (or data cap) ran out; account disabled
	SubscriptionSuspended SubscriptionStatus = "suspended"       // stopped by the tenant; account disabled
	SubscriptionCancelled SubscriptionStatus = "cancelled"       // ended for good
)

// Valid reports whether s is a known status.
func (s SubscriptionStatus) Valid() bool {
	switch s {
	case SubscriptionPending, SubscriptionActive, SubscriptionExpired, SubscriptionSuspended, SubscriptionCancelled:
		return true
	}
	return false
}

// Why a subscription expired.
const (
	ExpiredTime    = "time"     // EndsAt (plus the plan's grace) passed
	ExpiredDataCap = "data_cap" // its sessions reached the plan's data cap
)

// Subscription is a customer's purchase of a plan, renewed by later
// payments. Its account (a hotspot user or PPP secret, created on the
// first payment) carries it to the routers.
type Subscription struct {
	ID         int64              `json:"id"`
	TenantID   int64              `json:"tenant_id"`
	CustomerID int64              `json:"customer_id"`
	PlanID     int64              `json:"plan_id"`
	PlanName   string             `json:"plan_name"`
	Status     SubscriptionStatus `json:"status"`
	// AccountID is 0 until the first payment created the account;
	// Username is the account's name (the customer's login).
	AccountID int64      `json:"account_id,omitempty"`
	Username  string     `json:"username,omitempty"`
	StartsAt  *time.Time `json:"starts_at"`
	EndsAt    *time.Time `json:"ends_at"`
	// Reason is why it expired (ExpiredTime, ExpiredDataCap) or was
	// suspended.
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SubscriptionFilter selects subscriptions. Zero fields match everything.
type SubscriptionFilter struct {
	CustomerID int64
	PlanID     int64
	Status     SubscriptionStatus
	Limit      int
	Offset     int
}

// PurchaseRequest buys a plan for a phone (POST /api/v1/subscriptions):
// the customer is created if new, and an STK push goes to the phone. A
// purchase of a plan the customer already has renews that subscription.
type PurchaseRequest struct {
	TenantID int64  `json:"tenant_id,omitempty"` // system admins only
	PlanID   int64  `json:"plan_id"`
	Phone    string `json:"phone"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
}

// PurchaseResult answers a purchase with 202: the payment to watch.
type PurchaseResult struct {
	PaymentID      int64  `json:"payment_id"`
	SubscriptionID int64  `json:"subscription_id"`
	CustomerID     int64  `json:"customer_id"`
	Status         string `json:"status"` // the payment's, pending
}

// Credentials are a subscription's login, shown to staff who must read
// them to a customer (audited); never broadcast.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}
