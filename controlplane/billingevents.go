package controlplane

// PaymentChanged announces a payment that completed, failed, was flagged
// or refunded (and a new pending one).
type PaymentChanged struct{ Payment Payment }

// SubscriptionChanged announces a subscription that was activated,
// renewed, expired, suspended or cancelled. Renewed is true when an
// active or expired subscription got more time.
type SubscriptionChanged struct {
	Subscription Subscription
	Renewed      bool
}

// PlanChanged announces a created, updated (including a per-router sync
// state) or deleted plan; Op is AccountCreated, AccountUpdated or
// AccountDeleted.
type PlanChanged struct {
	Op   string
	Plan Plan
}

// CustomerChanged announces a created or updated customer.
type CustomerChanged struct{ Customer Customer }

// BillingStatsChanged announces a tenant's new revenue figures, and the
// system-wide ones with TenantID 0.
type BillingStatsChanged struct{ Stats BillingStats }

// ChangeTenant implements Change.
func (c PaymentChanged) ChangeTenant() int64 { return c.Payment.TenantID }

// ChangeTenant implements Change.
func (c SubscriptionChanged) ChangeTenant() int64 { return c.Subscription.TenantID }

// ChangeTenant implements Change.
func (c PlanChanged) ChangeTenant() int64 { return c.Plan.TenantID }

// ChangeTenant implements Change.
func (c CustomerChanged) ChangeTenant() int64 { return c.Customer.TenantID }

// ChangeTenant implements Change.
func (c BillingStatsChanged) ChangeTenant() int64 { return c.Stats.TenantID }
