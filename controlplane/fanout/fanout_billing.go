package fanout

import (
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Events of billing.
const (
	// private-tenant.{t}.payments: completed; failed or flagged; pending or refunded.
	EventPaymentCompleted = "PaymentCompleted"
	EventPaymentFailed    = "PaymentFailed"
	EventPaymentUpdated   = "PaymentUpdated"
	// private-tenant.{t}.subscriptions: active (activated or renewed); expired; suspended, cancelled, pending.
	EventSubscriptionActivated = "SubscriptionActivated"
	EventSubscriptionExpired   = "SubscriptionExpired"
	EventSubscriptionUpdated   = "SubscriptionUpdated"
	// private-tenant.{t}.plans.
	EventPlanCreated = "PlanCreated"
	EventPlanUpdated = "PlanUpdated"
	EventPlanDeleted = "PlanDeleted"
	// private-tenant.{t}.customers.
	EventCustomerUpdated = "CustomerUpdated"
	// private-tenant.{t}.dashboard-stats, and private-system-admin for
	// the figures across tenants.
	EventBillingStatsUpdated = "BillingStatsUpdated"
)

// Channel topics of billing (TenantChannel's second argument).
const (
	TopicPayments      = "payments"
	TopicSubscriptions = "subscriptions"
	TopicPlans         = "plans"
	TopicCustomers     = "customers"
	TopicStats         = "dashboard-stats"
)

// PaymentEvent is the event name a payment in status s is broadcast as.
func PaymentEvent(s controlplane.PaymentStatus) string {
	switch s {
	case controlplane.PaymentCompleted:
		return EventPaymentCompleted
	case controlplane.PaymentFailed, controlplane.PaymentFlagged:
		return EventPaymentFailed
	default:
		return EventPaymentUpdated
	}
}

// SubscriptionEvent is the event name a subscription in status s is
// broadcast as.
func SubscriptionEvent(s controlplane.SubscriptionStatus) string {
	switch s {
	case controlplane.SubscriptionActive:
		return EventSubscriptionActivated
	case controlplane.SubscriptionExpired:
		return EventSubscriptionExpired
	default:
		return EventSubscriptionUpdated
	}
}

// applyBilling publishes a billing change; it reports false for a change
// that is not billing's.
func (f *Fanout) applyBilling(c controlplane.Change) bool {
	switch c := c.(type) {
	case controlplane.PaymentChanged:
		p := c.Payment
		f.publish(TenantChannel(p.TenantID, TopicPayments), PaymentEvent(p.Status), map[string]any{"payment": newPaymentView(p)})
		f.publishPurchase(p)
	case controlplane.SubscriptionChanged:
		s := c.Subscription
		f.publish(TenantChannel(s.TenantID, TopicSubscriptions), SubscriptionEvent(s.Status),
			map[string]any{"subscription": newSubscriptionView(s), "renewed": c.Renewed})
	case controlplane.PlanChanged:
		event := EventPlanUpdated
		switch c.Op {
		case controlplane.AccountCreated:
			event = EventPlanCreated
		case controlplane.AccountDeleted:
			event = EventPlanDeleted
		}
		f.publish(TenantChannel(c.Plan.TenantID, TopicPlans), event, map[string]any{"plan": newPlanView(c.Plan)})
	case controlplane.CustomerChanged:
		cu := c.Customer
		f.publish(TenantChannel(cu.TenantID, TopicCustomers), EventCustomerUpdated, map[string]any{"customer": newCustomerView(cu)})
	case controlplane.BillingStatsChanged:
		channel := SystemAdminChannel
		view := newBillingStatsView(c.Stats)
		if c.Stats.TenantID != 0 {
			channel = TenantChannel(c.Stats.TenantID, TopicStats)
		} else {
			// The system overview carries revenue too, with its other
			// figures at the next flush.
			f.revenue = &view
			f.systemDirty = true
		}
		f.publish(channel, EventBillingStatsUpdated, map[string]any{"stats": view})
	default:
		return false
	}
	return true
}

// paymentView is a payment as broadcast: no tenant id (the channel says
// it), no provider request ids, the phone masked (by publish's scrub, which
// masks every field so named: masking here too would spoil it), the staff
// actor and the provider's words masked where they hold a contact.
type paymentView struct {
	ID             int64                      `json:"id"`
	CustomerID     int64                      `json:"customer_id,omitempty"`
	SubscriptionID int64                      `json:"subscription_id,omitempty"`
	PlanID         int64                      `json:"plan_id,omitempty"`
	Provider       string                     `json:"provider"`
	Amount         controlplane.Money         `json:"amount"`
	Phone          string                     `json:"phone,omitempty"`
	Receipt        string                     `json:"receipt,omitempty"`
	Status         controlplane.PaymentStatus `json:"status"`
	Reason         string                     `json:"reason,omitempty"`
	ResultCode     *int                       `json:"result_code,omitempty"`
	Actor          string                     `json:"actor,omitempty"`
	CreatedAt      time.Time                  `json:"created_at"`
	UpdatedAt      time.Time                  `json:"updated_at"`
	CompletedAt    *time.Time                 `json:"completed_at,omitempty"`
}

func newPaymentView(p controlplane.Payment) paymentView {
	return paymentView{
		ID: p.ID, CustomerID: p.CustomerID, SubscriptionID: p.SubscriptionID, PlanID: p.PlanID,
		Provider: p.Provider, Amount: p.Amount, Phone: p.Phone, Receipt: p.Receipt, Status: p.Status,
		Reason: maskContactsIn(p.Reason), ResultCode: p.ResultCode, Actor: maskIdentity(p.Actor),
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, CompletedAt: p.CompletedAt,
	}
}

// subscriptionView is a subscription as broadcast; its username (often
// the customer's phone) masked.
type subscriptionView struct {
	ID         int64                           `json:"id"`
	CustomerID int64                           `json:"customer_id"`
	PlanID     int64                           `json:"plan_id"`
	PlanName   string                          `json:"plan_name"`
	Status     controlplane.SubscriptionStatus `json:"status"`
	AccountID  int64                           `json:"account_id,omitempty"`
	Username   string                          `json:"username,omitempty"`
	StartsAt   *time.Time                      `json:"starts_at"`
	EndsAt     *time.Time                      `json:"ends_at"`
	Reason     string                          `json:"reason,omitempty"`
	CreatedAt  time.Time                       `json:"created_at"`
	UpdatedAt  time.Time                       `json:"updated_at"`
}

func newSubscriptionView(s controlplane.Subscription) subscriptionView {
	return subscriptionView{
		ID: s.ID, CustomerID: s.CustomerID, PlanID: s.PlanID, PlanName: s.PlanName, Status: s.Status,
		AccountID: s.AccountID, Username: maskIdentity(s.Username), StartsAt: s.StartsAt, EndsAt: s.EndsAt,
		Reason: maskContactsIn(s.Reason), CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

// planView is a plan as broadcast, with its per-router profile sync state.
type planView struct {
	ID              int64              `json:"id"`
	Name            string             `json:"name"`
	Kind            string             `json:"kind"`
	Price           controlplane.Money `json:"price"`
	Duration        string             `json:"duration"`
	DurationSeconds int64              `json:"duration_seconds"`
	DataCapBytes    uint64             `json:"data_cap_bytes,omitempty"`
	RateLimit       string             `json:"rate_limit,omitempty"`
	SharedUsers     int                `json:"shared_users,omitempty"`
	GraceSeconds    int64              `json:"grace_seconds,omitempty"`
	Active          bool               `json:"active"`
	Profile         string             `json:"profile"`
	Routers         []planRouterView   `json:"routers"`
	CreatedAt       time.Time          `json:"created_at"`
	UpdatedAt       time.Time          `json:"updated_at"`
}

// planRouterView is accountRouterView's twin for a plan's profile.
type planRouterView = accountRouterView

func newPlanView(p controlplane.Plan) planView {
	v := planView{
		ID: p.ID, Name: p.Name, Kind: string(p.Kind), Price: p.Price, Duration: p.Duration, DurationSeconds: p.DurationSeconds,
		DataCapBytes: p.DataCapBytes, RateLimit: p.RateLimit, SharedUsers: p.SharedUsers, GraceSeconds: p.GraceSeconds,
		Active: p.Active, Profile: p.Profile, Routers: make([]planRouterView, 0, len(p.Routers)),
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	for _, r := range p.Routers {
		v.Routers = append(v.Routers, planRouterView{RouterID: r.RouterID, State: r.State,
			Message: maskContactsIn(r.Message), CommandID: r.CommandID, UpdatedAt: r.UpdatedAt})
	}
	return v
}

// customerView is a customer as broadcast: phone and email masked (by
// publish's scrub, as for payments), a name that is a contact masked.
type customerView struct {
	ID                  int64     `json:"id"`
	Phone               string    `json:"phone"`
	Name                string    `json:"name,omitempty"`
	Email               string    `json:"email,omitempty"`
	ActiveSubscriptions int       `json:"active_subscriptions"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func newCustomerView(c controlplane.Customer) customerView {
	return customerView{
		ID: c.ID, Phone: c.Phone, Name: maskIdentity(c.Name), Email: c.Email,
		ActiveSubscriptions: c.ActiveSubscriptions, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

// billingStatsView is the BillingStatsUpdated payload's "stats": the
// figures of GET /api/v1/billing/stats, in minor units.
type billingStatsView struct {
	TenantID            int64            `json:"tenant_id"`
	Currency            string           `json:"currency"`
	RevenueToday        int64            `json:"revenue_today"`
	Revenue7d           int64            `json:"revenue_7d"`
	Revenue30d          int64            `json:"revenue_30d"`
	PaymentsToday       int              `json:"payments_today"`
	ActiveSubscriptions int              `json:"active_subscriptions"`
	ARPU                int64            `json:"arpu"`
	ByCurrency          map[string]int64 `json:"by_currency,omitempty"`
	At                  time.Time        `json:"at"`
}

func newBillingStatsView(s controlplane.BillingStats) billingStatsView {
	return billingStatsView{
		TenantID: s.TenantID, Currency: s.Currency, RevenueToday: s.RevenueToday, Revenue7d: s.Revenue7d,
		Revenue30d: s.Revenue30d, PaymentsToday: s.PaymentsToday, ActiveSubscriptions: s.ActiveSubscriptions,
		ARPU: s.ARPU, ByCurrency: s.ByCurrency, At: s.At,
	}
}
