package client

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Billing: plans, customers, subscriptions, payments, the provider
// callback log, billing settings and figures. Money is integer minor
// units everywhere (controlplane.Money, and int64 in requests).

// Plans reads one page of plans.
func (c *Client) Plans(ctx context.Context, tenantID int64, f controlplane.PlanFilter) (controlplane.Page[controlplane.Plan], error) {
	var res controlplane.Page[controlplane.Plan]
	path := "/api/v1/plans" + query("tenant_id", id(tenantID), "kind", string(f.Kind), "active", flag(f.ActiveOnly),
		"limit", num(f.Limit), "offset", num(f.Offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllPlans reads every plan f selects, page by page (Limit and Offset
// are ignored).
func (c *Client) AllPlans(ctx context.Context, tenantID int64, f controlplane.PlanFilter) ([]controlplane.Plan, error) {
	return all(func(offset int) (controlplane.Page[controlplane.Plan], error) {
		f.Limit, f.Offset = maxPage, offset
		return c.Plans(ctx, tenantID, f)
	})
}

// Plan reads one plan with its profile sync state per router.
func (c *Client) Plan(ctx context.Context, planID int64) (controlplane.Plan, error) {
	var res controlplane.Plan
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/plans/%d", planID), nil, &res)
	return res, err
}

// CreatePlan creates a plan (tenant admins); its profile is then synced to
// the tenant's routers (Plan's Routers).
func (c *Client) CreatePlan(ctx context.Context, req controlplane.PlanRequest) (controlplane.Plan, error) {
	var res controlplane.Plan
	err := c.Do(ctx, http.MethodPost, "/api/v1/plans", req, &res)
	return res, err
}

// UpdatePlan changes a plan's fields that patch sets.
func (c *Client) UpdatePlan(ctx context.Context, planID int64, patch controlplane.PlanPatch) (controlplane.Plan, error) {
	var res controlplane.Plan
	err := c.Do(ctx, http.MethodPatch, fmt.Sprintf("/api/v1/plans/%d", planID), patch, &res)
	return res, err
}

// DeletePlan deletes a plan. ECONFLICT while it has live subscriptions.
func (c *Client) DeletePlan(ctx context.Context, planID int64) error {
	return c.Do(ctx, http.MethodDelete, fmt.Sprintf("/api/v1/plans/%d", planID), nil, nil)
}

// Customers reads one page of customers.
func (c *Client) Customers(ctx context.Context, tenantID int64, f controlplane.CustomerFilter) (controlplane.Page[controlplane.Customer], error) {
	var res controlplane.Page[controlplane.Customer]
	path := "/api/v1/customers" + query("tenant_id", id(tenantID), "q", f.Query, "limit", num(f.Limit), "offset", num(f.Offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllCustomers reads every customer f selects, page by page (Limit and
// Offset are ignored).
func (c *Client) AllCustomers(ctx context.Context, tenantID int64, f controlplane.CustomerFilter) ([]controlplane.Customer, error) {
	return all(func(offset int) (controlplane.Page[controlplane.Customer], error) {
		f.Limit, f.Offset = maxPage, offset
		return c.Customers(ctx, tenantID, f)
	})
}

// Customer reads one customer.
func (c *Client) Customer(ctx context.Context, customerID int64) (controlplane.Customer, error) {
	var res controlplane.Customer
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/customers/%d", customerID), nil, &res)
	return res, err
}

// UpsertCustomer creates a customer, or updates the one with req's phone.
func (c *Client) UpsertCustomer(ctx context.Context, req controlplane.CustomerRequest) (controlplane.Customer, error) {
	var res controlplane.Customer
	err := c.Do(ctx, http.MethodPost, "/api/v1/customers", req, &res)
	return res, err
}

// Subscriptions reads one page of subscriptions.
func (c *Client) Subscriptions(ctx context.Context, tenantID int64, f controlplane.SubscriptionFilter) (controlplane.Page[controlplane.Subscription], error) {
	var res controlplane.Page[controlplane.Subscription]
	path := "/api/v1/subscriptions" + query("tenant_id", id(tenantID), "customer_id", id(f.CustomerID), "plan_id", id(f.PlanID),
		"status", string(f.Status), "limit", num(f.Limit), "offset", num(f.Offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllSubscriptions reads every subscription f selects, page by page
// (Limit and Offset are ignored).
func (c *Client) AllSubscriptions(ctx context.Context, tenantID int64, f controlplane.SubscriptionFilter) ([]controlplane.Subscription, error) {
	return all(func(offset int) (controlplane.Page[controlplane.Subscription], error) {
		f.Limit, f.Offset = maxPage, offset
		return c.Subscriptions(ctx, tenantID, f)
	})
}

// Subscription reads one subscription.
func (c *Client) Subscription(ctx context.Context, subscriptionID int64) (controlplane.Subscription, error) {
	var res controlplane.Subscription
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/subscriptions/%d", subscriptionID), nil, &res)
	return res, err
}

// Purchase buys a plan for a phone: the answer (202) names the pending
// payment of the STK push, which Payment reads. ECONFLICT while one is
// pending for the same customer and plan.
func (c *Client) Purchase(ctx context.Context, req controlplane.PurchaseRequest) (controlplane.PurchaseResult, error) {
	var res controlplane.PurchaseResult
	err := c.Do(ctx, http.MethodPost, "/api/v1/subscriptions", req, &res)
	return res, err
}

// SuspendSubscription suspends a subscription (tenant admins): its
// account is disabled.
func (c *Client) SuspendSubscription(ctx context.Context, subscriptionID int64) (controlplane.Subscription, error) {
	return c.subscriptionAction(ctx, subscriptionID, "suspend")
}

// ResumeSubscription resumes a suspended subscription (tenant admins).
func (c *Client) ResumeSubscription(ctx context.Context, subscriptionID int64) (controlplane.Subscription, error) {
	return c.subscriptionAction(ctx, subscriptionID, "resume")
}

// CancelSubscription ends a subscription for good (tenant admins).
func (c *Client) CancelSubscription(ctx context.Context, subscriptionID int64) (controlplane.Subscription, error) {
	return c.subscriptionAction(ctx, subscriptionID, "cancel")
}

func (c *Client) subscriptionAction(ctx context.Context, subscriptionID int64, action string) (controlplane.Subscription, error) {
	var res controlplane.Subscription
	err := c.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/subscriptions/%d/%s", subscriptionID, action), nil, &res)
	return res, err
}

// SubscriptionCredentials reads a subscription's login (technicians and
// up; audited).
func (c *Client) SubscriptionCredentials(ctx context.Context, subscriptionID int64) (controlplane.Credentials, error) {
	var res controlplane.Credentials
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/subscriptions/%d/credentials", subscriptionID), nil, &res)
	return res, err
}

// Payments reads one page of payments, newest first.
func (c *Client) Payments(ctx context.Context, tenantID int64, f controlplane.PaymentFilter) (controlplane.Page[controlplane.Payment], error) {
	var res controlplane.Page[controlplane.Payment]
	path := "/api/v1/payments" + query("tenant_id", id(tenantID), "status", string(f.Status), "provider", f.Provider,
		"customer_id", id(f.CustomerID), "subscription_id", id(f.SubscriptionID), "phone", f.Phone,
		"from", rfc3339(f.From), "to", rfc3339(f.To), "limit", num(f.Limit), "offset", num(f.Offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllPayments reads every payment f selects, page by page (Limit and
// Offset are ignored).
func (c *Client) AllPayments(ctx context.Context, tenantID int64, f controlplane.PaymentFilter) ([]controlplane.Payment, error) {
	return all(func(offset int) (controlplane.Page[controlplane.Payment], error) {
		f.Limit, f.Offset = maxPage, offset
		return c.Payments(ctx, tenantID, f)
	})
}

// Payment reads one payment.
func (c *Client) Payment(ctx context.Context, paymentID int64) (controlplane.Payment, error) {
	var res controlplane.Payment
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/payments/%d", paymentID), nil, &res)
	return res, err
}

// RecordPayment records a cash or other manual payment (technicians and
// up); it completes at once. ECONFLICT for a reference already used.
func (c *Client) RecordPayment(ctx context.Context, req controlplane.ManualPaymentRequest) (controlplane.Payment, error) {
	var res controlplane.Payment
	err := c.Do(ctx, http.MethodPost, "/api/v1/payments", req, &res)
	return res, err
}

// RefundPayment marks a completed payment refunded (tenant admins).
func (c *Client) RefundPayment(ctx context.Context, paymentID int64) (controlplane.Payment, error) {
	var res controlplane.Payment
	err := c.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/payments/%d/refund", paymentID), nil, &res)
	return res, err
}

// Callbacks reads one page of the payment providers' logged requests,
// newest first; outcome "" means every outcome (controlplane.Callback*
// otherwise), limit 0 the server's default page.
func (c *Client) Callbacks(ctx context.Context, tenantID int64, outcome string, limit, offset int) (controlplane.Page[controlplane.Callback], error) {
	var res controlplane.Page[controlplane.Callback]
	path := "/api/v1/payments/callbacks" + query("tenant_id", id(tenantID), "outcome", outcome, "limit", num(limit), "offset", num(offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllCallbacks reads every logged callback with outcome, page by page.
func (c *Client) AllCallbacks(ctx context.Context, tenantID int64, outcome string) ([]controlplane.Callback, error) {
	return all(func(offset int) (controlplane.Page[controlplane.Callback], error) {
		return c.Callbacks(ctx, tenantID, outcome, maxPage, offset)
	})
}

// BillingSettings reads a tenant's billing settings (0: the caller's);
// secrets show only as whether they are set.
func (c *Client) BillingSettings(ctx context.Context, tenantID int64) (controlplane.BillingSettings, error) {
	var res controlplane.BillingSettings
	err := c.Do(ctx, http.MethodGet, "/api/v1/billing/settings"+query("tenant_id", id(tenantID)), nil, &res)
	return res, err
}

// UpdateBillingSettings changes the fields patch sets (tenant admins);
// patch.TenantID names another tenant for system admins.
func (c *Client) UpdateBillingSettings(ctx context.Context, patch controlplane.BillingSettingsPatch) (controlplane.BillingSettings, error) {
	var res controlplane.BillingSettings
	err := c.Do(ctx, http.MethodPut, "/api/v1/billing/settings", patch, &res)
	return res, err
}

// BillingStats reads the revenue figures; tenant 0 means the caller's
// scope (every tenant for a system admin).
func (c *Client) BillingStats(ctx context.Context, tenantID int64) (controlplane.BillingStats, error) {
	var res controlplane.BillingStats
	err := c.Do(ctx, http.MethodGet, "/api/v1/billing/stats"+query("tenant_id", id(tenantID)), nil, &res)
	return res, err
}

// flag encodes a filter's boolean: false is no filter.
func flag(b bool) string {
	if !b {
		return ""
	}
	return strconv.FormatBool(b)
}
