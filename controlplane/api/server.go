package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
)

// TenantCreator creates tenants: provisioning commits a pending tenant with
// the job that activates it, so POST /api/v1/tenants answers 202 and the
// job finishes the work. Errors: EINVALID (name), ECONFLICT (duplicate
// name), EUNAVAILABLE.
type TenantCreator interface {
	// CreateTenant creates the tenant and, when admin is not nil, its
	// first admin in the same transaction (validated by the API; the
	// role is tenant_admin).
	CreateTenant(ctx context.Context, name string, admin *controlplane.CreateUserRequest) (controlplane.Tenant, error)
}

// RouterInvalidator is told when a router's credential changed (rotated or
// revoked) so the MQTT broker forgets any cached verification and
// disconnects the agent's current session.
type RouterInvalidator interface {
	Invalidate(routerID string)
}

// Options configure a Server. Only Store is required.
type Options struct {
	// Store is the control plane's store.
	Store Store
	// Bus receives TenantCreated from the provisioner. nil means changes
	// made through the API are not announced.
	Bus *controlplane.Bus
	// Tenants creates tenants (provisioning.Service). nil means POST
	// /api/v1/tenants answers 503.
	Tenants TenantCreator
	// Notifications is the notification outbox; nil means no welcome or
	// invitation emails and /api/v1/notifications answers 503.
	Notifications Notifications
	// Invalidator is called after a router's secret is rotated or the
	// router revoked. nil means nobody is told.
	Invalidator RouterInvalidator
	// Provisioning serves commands, managed accounts and failed jobs. nil
	// means those endpoints answer 503.
	Provisioning Provisioning
	// Billing serves plans, customers, subscriptions, payments, billing
	// settings and figures, and the payment providers' public hooks. nil
	// means those endpoints answer 503.
	Billing Billing
	// Webhooks keeps outgoing webhook endpoints and deliveries. nil means
	// /api/v1/webhooks… answer 503.
	Webhooks Webhooks
	// Portal keeps the captive portal's settings. nil means GET/PUT
	// /api/v1/portal/settings answer 503.
	Portal PortalSettings
	// Vouchers serves the voucher endpoints. nil means Billing's, when it
	// implements Vouchers (billing.Service does); neither answers 503.
	Vouchers Vouchers
	// PublicMQTTURL is the broker URL agents dial, put in the
	// ready-to-paste agent command. "" means "tcp://HOST:1883".
	PublicMQTTURL string
	// Pusher tells dashboards how to reach the realtime hub (GET
	// /api/v1/config). A zero value means no realtime: the dashboard runs
	// on REST alone.
	Pusher controlplane.PusherConfig
	// LoginPerMinute and LoginBurst bound login attempts per client IP and
	// email. 0 means 5 per minute with a burst of 5.
	LoginPerMinute, LoginBurst int
	// Logins counts failed logins and locks accounts and client addresses
	// out (authtrack.Tracker). nil means only the in-memory rate limit
	// above applies and no last login is recorded.
	Logins LoginTracker
	// LoginTTL is the lifetime of a login token. 0 means 30 days.
	LoginTTL time.Duration
	// MaxBodyBytes bounds a request body (413 beyond). 0 means 1 MiB.
	MaxBodyBytes int64
	// Logger receives the access log and errors. nil discards.
	Logger *slog.Logger
	// Registerer receives the API's metrics. nil means they are not
	// exported.
	Registerer prometheus.Registerer
	// Now is the clock. nil means time.Now.
	Now func() time.Time
}

// Server is the REST API, an http.Handler for everything under /api/
// except what the caller mounts beside it (Pusher channel auth).
type Server struct {
	opts    Options
	store   Store
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	routes  []Route
	login   *limiter
	metrics *metrics
}

// Route is one registered endpoint.
type Route struct {
	Method string // GET, POST, PUT, PATCH, DELETE
	Path   string // ServeMux path with {wildcards}
	// Public routes need no bearer token.
	Public  bool
	handler http.Handler
}

// Pattern is the ServeMux pattern of r, e.g. "GET /api/v1/routers/{id}".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// New returns a Server. It registers its metrics on o.Registerer.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("api: Options.Store is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PublicMQTTURL == "" {
		o.PublicMQTTURL = "tcp://HOST:1883"
	}
	if o.LoginPerMinute <= 0 {
		o.LoginPerMinute = 5
	}
	if o.LoginBurst <= 0 {
		o.LoginBurst = 5
	}
	if o.LoginTTL <= 0 {
		o.LoginTTL = 30 * 24 * time.Hour
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    o,
		store:   o.Store,
		log:     o.Logger,
		now:     o.Now,
		mux:     http.NewServeMux(),
		login:   newLimiter(o.LoginPerMinute, o.LoginBurst, o.Now),
		metrics: m,
	}
	s.register()
	return s, nil
}

// Routes returns every registered endpoint, in registration order. The
// OpenAPI test walks it.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

func (s *Server) register() {
	public := func(method, path string, h handlerFunc) {
		s.routes = append(s.routes, Route{Method: method, Path: path, Public: true, handler: s.public(h)})
	}
	authed := func(method, path string, h authedFunc) {
		s.routes = append(s.routes, Route{Method: method, Path: path, handler: s.authed(h)})
	}

	public("GET", "/api/openapi.json", s.handleOpenAPI)
	public("POST", "/api/v1/auth/login", s.handleLogin)
	authed("POST", "/api/v1/auth/logout", s.handleLogout)
	authed("GET", "/api/v1/me", s.handleMe)
	authed("GET", "/api/v1/config", s.handleConfig)

	authed("GET", "/api/v1/tokens", s.handleListTokens)
	authed("POST", "/api/v1/tokens", s.handleCreateToken)
	authed("DELETE", "/api/v1/tokens/{id}", s.handleRevokeToken)

	authed("GET", "/api/v1/tenants", s.handleListTenants)
	authed("POST", "/api/v1/tenants", s.handleCreateTenant)
	authed("GET", "/api/v1/tenants/{id}", s.handleGetTenant)

	authed("GET", "/api/v1/tenants/{id}/users", s.handleListUsers)
	authed("POST", "/api/v1/tenants/{id}/users", s.handleCreateUser)
	authed("GET", "/api/v1/tenants/{id}/users/{user_id}", s.handleGetUser)
	authed("PATCH", "/api/v1/tenants/{id}/users/{user_id}", s.handleUpdateUser)

	authed("GET", "/api/v1/routers", s.handleListRouters)
	authed("POST", "/api/v1/routers", s.handleCreateRouter)
	authed("GET", "/api/v1/routers/{id}", s.handleGetRouter)
	authed("PATCH", "/api/v1/routers/{id}", s.handleUpdateRouter)
	authed("GET", "/api/v1/routers/{id}/radius", s.handleRouterRadius)
	authed("POST", "/api/v1/routers/{id}/rotate-secret", s.handleRotateSecret)
	authed("POST", "/api/v1/routers/{id}/revoke", s.handleRevokeRouter)
	authed("GET", "/api/v1/routers/{id}/sessions", s.handleRouterSessions)

	authed("GET", "/api/v1/sessions", s.handleListSessions)
	authed("GET", "/api/v1/sessions/history", s.handleListHistory)

	authed("POST", "/api/v1/routers/{id}/commands", s.handleCreateCommand)
	authed("GET", "/api/v1/commands", s.handleListCommands)
	authed("POST", "/api/v1/commands/bulk", s.handleBulkCommand)
	authed("GET", "/api/v1/commands/{id}", s.handleGetCommand)
	authed("POST", "/api/v1/commands/{id}/cancel", s.handleCancelCommand)

	authed("GET", "/api/v1/accounts", s.handleListAccounts)
	authed("POST", "/api/v1/accounts", s.handleCreateAccount)
	authed("GET", "/api/v1/accounts/{id}", s.handleGetAccount)
	authed("PATCH", "/api/v1/accounts/{id}", s.handleUpdateAccount)
	authed("DELETE", "/api/v1/accounts/{id}", s.handleDeleteAccount)
	authed("PUT", "/api/v1/accounts/{id}/routers", s.handleSetAccountRouters)

	authed("GET", "/api/v1/jobs/failed", s.handleFailedJobs)

	authed("GET", "/api/v1/plans", s.handleListPlans)
	authed("POST", "/api/v1/plans", s.handleCreatePlan)
	authed("GET", "/api/v1/plans/{id}", s.handleGetPlan)
	authed("PATCH", "/api/v1/plans/{id}", s.handleUpdatePlan)
	authed("DELETE", "/api/v1/plans/{id}", s.handleDeletePlan)

	authed("GET", "/api/v1/customers", s.handleListCustomers)
	authed("POST", "/api/v1/customers", s.handleUpsertCustomer)
	authed("GET", "/api/v1/customers/{id}", s.handleGetCustomer)

	authed("GET", "/api/v1/subscriptions", s.handleListSubscriptions)
	authed("POST", "/api/v1/subscriptions", s.handlePurchase)
	authed("GET", "/api/v1/subscriptions/{id}", s.handleGetSubscription)
	authed("POST", "/api/v1/subscriptions/{id}/suspend", s.handleSubscriptionStatus(controlplane.SubscriptionSuspended, "suspend"))
	authed("POST", "/api/v1/subscriptions/{id}/resume", s.handleSubscriptionStatus(controlplane.SubscriptionActive, "resume"))
	authed("POST", "/api/v1/subscriptions/{id}/cancel", s.handleSubscriptionStatus(controlplane.SubscriptionCancelled, "cancel"))
	authed("GET", "/api/v1/subscriptions/{id}/credentials", s.handleCredentials)

	authed("GET", "/api/v1/payments", s.handleListPayments)
	authed("POST", "/api/v1/payments", s.handleRecordPayment)
	authed("GET", "/api/v1/payments/callbacks", s.handleListCallbacks)
	authed("GET", "/api/v1/payments/{id}", s.handleGetPayment)
	authed("POST", "/api/v1/payments/{id}/refund", s.handleRefundPayment)

	authed("GET", "/api/v1/vouchers", s.handleListVouchers)
	authed("POST", "/api/v1/vouchers/redeem", s.handleRedeemVoucher)
	authed("POST", "/api/v1/vouchers/{id}/revoke", s.handleRevokeVoucher)
	authed("GET", "/api/v1/vouchers/batches", s.handleListVoucherBatches)
	authed("POST", "/api/v1/vouchers/batches", s.handleGenerateVouchers)
	authed("GET", "/api/v1/vouchers/batches/{id}/pdf", s.handleVoucherPDF)

	authed("GET", "/api/v1/billing/settings", s.handleGetBillingSettings)
	authed("PUT", "/api/v1/billing/settings", s.handleUpdateBillingSettings)
	authed("GET", "/api/v1/billing/stats", s.handleBillingStats)

	s.webhookRoutes(authed)

	authed("GET", "/api/v1/portal/settings", s.handleGetPortalSettings)
	authed("PUT", "/api/v1/portal/settings", s.handleUpdatePortalSettings)

	public("POST", "/api/v1/hooks/stk/{tenant}/{payment}/{token}", s.handleHook(Billing.STKCallback))
	public("POST", "/api/v1/hooks/c2b/{tenant}/{token}/validation", s.handleHook(Billing.C2BValidation))
	public("POST", "/api/v1/hooks/c2b/{tenant}/{token}/confirmation", s.handleHook(Billing.C2BConfirmation))
	public("POST", "/api/v1/hooks/payments/{tenant}", s.handleHook(Billing.PaymentWebhook))

	authed("GET", "/api/v1/notifications", s.handleListNotifications)
	authed("POST", "/api/v1/notifications/{id}/resend", s.handleResendNotification)
	authed("GET", "/api/v1/notifications/settings", s.handleGetNotificationSettings)
	authed("PUT", "/api/v1/notifications/settings", s.handleUpdateNotificationSettings)
	public("POST", "/api/v1/hooks/sms/{tenant}/{token}", s.handleSMSReport)

	authed("GET", "/api/v1/stats", s.handleStats)
	authed("GET", "/api/v1/stats/logins", s.handleLoginStats)
	authed("GET", "/api/v1/system/stats", s.handleSystemStats)
	authed("GET", "/api/v1/audit", s.handleListAudit)

	for _, rt := range s.routes {
		s.mux.Handle(rt.Pattern(), rt.handler)
	}
}
