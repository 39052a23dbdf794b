package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Billing sells plans and takes payments; *billing.Service implements it.
// The methods that take a principal check its role (EFORBIDDEN) and scope
// by it; the others by scope. Every method answers ENOTFOUND for another
// tenant's ids, EINVALID naming the field, ECONFLICT for a wrong state (a
// plan with live subscriptions, a second pending STK push, a refund of an
// uncompleted payment). The hooks answer ETOOLARGE, EINVALID or
// EUNAUTHORIZED (a wrong path token) and otherwise the reply to write.
type Billing interface {
	CreatePlan(ctx context.Context, p controlplane.Principal, req controlplane.PlanRequest) (controlplane.Plan, error)
	UpdatePlan(ctx context.Context, p controlplane.Principal, id int64, patch controlplane.PlanPatch) (controlplane.Plan, error)
	DeletePlan(ctx context.Context, p controlplane.Principal, id int64) error
	GetPlan(ctx context.Context, scope, id int64) (controlplane.Plan, error)
	ListPlans(ctx context.Context, scope int64, f controlplane.PlanFilter) ([]controlplane.Plan, int, error)

	UpsertCustomer(ctx context.Context, p controlplane.Principal, req controlplane.CustomerRequest) (controlplane.Customer, error)
	GetCustomer(ctx context.Context, scope, id int64) (controlplane.Customer, error)
	ListCustomers(ctx context.Context, scope int64, f controlplane.CustomerFilter) ([]controlplane.Customer, int, error)

	Purchase(ctx context.Context, p controlplane.Principal, req controlplane.PurchaseRequest) (controlplane.PurchaseResult, error)
	GetSubscription(ctx context.Context, scope, id int64) (controlplane.Subscription, error)
	ListSubscriptions(ctx context.Context, scope int64, f controlplane.SubscriptionFilter) ([]controlplane.Subscription, int, error)
	SetSubscriptionStatus(ctx context.Context, p controlplane.Principal, id int64, to controlplane.SubscriptionStatus) (controlplane.Subscription, error)
	Credentials(ctx context.Context, p controlplane.Principal, id int64) (controlplane.Credentials, error)

	GetPayment(ctx context.Context, scope, id int64) (controlplane.Payment, error)
	ListPayments(ctx context.Context, scope int64, f controlplane.PaymentFilter) ([]controlplane.Payment, int, error)
	RecordPayment(ctx context.Context, p controlplane.Principal, req controlplane.ManualPaymentRequest) (controlplane.Payment, error)
	RefundPayment(ctx context.Context, p controlplane.Principal, id int64) (controlplane.Payment, error)
	ListCallbacks(ctx context.Context, scope int64, outcome string, limit, offset int) ([]controlplane.Callback, int, error)

	Settings(ctx context.Context, p controlplane.Principal, tenantID int64) (controlplane.BillingSettings, error)
	UpdateSettings(ctx context.Context, p controlplane.Principal, patch controlplane.BillingSettingsPatch) (controlplane.BillingSettings, error)
	Stats(ctx context.Context, scope int64) (controlplane.BillingStats, error)

	STKCallback(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error)
	C2BValidation(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error)
	C2BConfirmation(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error)
	PaymentWebhook(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error)
}

// biller returns Options.Billing, or EUNAVAILABLE without one.
func (s *Server) biller() (Billing, error) {
	if s.opts.Billing == nil {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "billing is not running on this server")
	}
	return s.opts.Billing, nil
}

// billingPath returns the billing service and the {id} of a path.
func (s *Server) billingPath(r *http.Request) (Billing, int64, error) {
	b, err := s.biller()
	if err != nil {
		return nil, 0, err
	}
	id, err := pathInt(r, "id")
	return b, id, err
}

// The API checks roles before it calls billing too, so that a viewer is
// refused the same way whatever the service's checks are; the service
// checks again against its own rules. A refusal says nothing about the id,
// so it leaks no existence.

// requireBillingAdmin answers 403 unless p manages the tenant's billing:
// plans, settings, refunds and a subscription's status.
func requireBillingAdmin(p controlplane.Principal) error {
	if !p.CanManage() {
		return forbidden("role %s may not manage plans, billing settings or refunds", p.Role)
	}
	return nil
}

// requireSell answers 403 unless p may sell: purchases, customers and
// manual payments (technicians and up).
func requireSell(p controlplane.Principal) error {
	if !p.CanMutate() {
		return forbidden("role %s may only read billing", p.Role)
	}
	return nil
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }

func paymentLocation(id int64) string { return "/api/v1/payments/" + idString(id) }

// optionalID reads an optional positive integer query parameter.
func optionalID(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, invalid(name, "must be a positive integer")
	}
	return n, nil
}

// planFilter reads kind and active.
func planFilter(q url.Values, limit, offset int) (controlplane.PlanFilter, error) {
	f := controlplane.PlanFilter{Limit: limit, Offset: offset}
	if k := controlplane.PlanKind(q.Get("kind")); k != "" {
		if !k.Valid() {
			return f, invalid("kind", "must be hotspot or pppoe")
		}
		f.Kind = k
	}
	if v := q.Get("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, invalid("active", "must be true or false")
		}
		f.ActiveOnly = b
	}
	return f, nil
}

// customerFilter reads q.
func customerFilter(q url.Values, limit, offset int) (controlplane.CustomerFilter, error) {
	f := controlplane.CustomerFilter{Query: q.Get("q"), Limit: limit, Offset: offset}
	return f, checkName("q", f.Query, false)
}

// subscriptionFilter reads customer_id, plan_id and status.
func subscriptionFilter(q url.Values, limit, offset int) (controlplane.SubscriptionFilter, error) {
	f := controlplane.SubscriptionFilter{Limit: limit, Offset: offset}
	var err error
	if f.CustomerID, err = optionalID(q, "customer_id"); err != nil {
		return f, err
	}
	if f.PlanID, err = optionalID(q, "plan_id"); err != nil {
		return f, err
	}
	if st := controlplane.SubscriptionStatus(q.Get("status")); st != "" {
		if !st.Valid() {
			return f, invalid("status", "must be pending_payment, active, expired, suspended or cancelled")
		}
		f.Status = st
	}
	return f, nil
}

// paymentFilter reads status, provider, customer_id, subscription_id,
// phone, from and to.
func paymentFilter(q url.Values, limit, offset int) (controlplane.PaymentFilter, error) {
	f := controlplane.PaymentFilter{Limit: limit, Offset: offset}
	if st := controlplane.PaymentStatus(q.Get("status")); st != "" {
		if !st.Valid() {
			return f, invalid("status", "must be pending, completed, failed, flagged or refunded")
		}
		f.Status = st
	}
	switch pr := q.Get("provider"); pr {
	case "", controlplane.ProviderMpesaSTK, controlplane.ProviderMpesaC2B, controlplane.ProviderManual, controlplane.ProviderWebhook:
		f.Provider = pr
	default:
		return f, invalid("provider", "must be mpesa_stk, mpesa_c2b, manual or webhook")
	}
	var err error
	if f.CustomerID, err = optionalID(q, "customer_id"); err != nil {
		return f, err
	}
	if f.SubscriptionID, err = optionalID(q, "subscription_id"); err != nil {
		return f, err
	}
	f.Phone = q.Get("phone")
	if err := checkName("phone", f.Phone, false); err != nil {
		return f, err
	}
	if f.From, err = parseTime(q, "from"); err != nil {
		return f, err
	}
	if f.To, err = parseTime(q, "to"); err != nil {
		return f, err
	}
	return f, nil
}

// callbackFilter is what GET /payments/callbacks selects.
type callbackFilter struct {
	outcome       string
	limit, offset int
}

// parseCallbackFilter reads outcome.
func parseCallbackFilter(q url.Values, limit, offset int) (callbackFilter, error) {
	f := callbackFilter{outcome: q.Get("outcome"), limit: limit, offset: offset}
	switch f.outcome {
	case "", controlplane.CallbackApplied, controlplane.CallbackDuplicate, controlplane.CallbackFlagged, controlplane.CallbackRejected, controlplane.CallbackQueued:
		return f, nil
	}
	return f, invalid("outcome", "must be applied, duplicate, flagged, rejected or queued")
}

// Plans.

func (s *Server) handleListPlans(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	return listPage(w, r, planFilter, func() (int64, error) { return listScope(r, p) }, b.ListPlans)
}

func (s *Server) handleCreatePlan(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	if err := requireBillingAdmin(p); err != nil {
		return err
	}
	var req controlplane.PlanRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	pl, err := b.CreatePlan(r.Context(), p, req)
	if err != nil {
		// A created plan is audited with its transaction; a refused one
		// here, with the reason.
		s.audit(r, p, p.TenantID, "plan.create", "plan", err, req.Name)
		return err
	}
	w.Header().Set("Location", "/api/v1/plans/"+idString(pl.ID))
	writeJSON(w, http.StatusCreated, pl)
	return nil
}

func (s *Server) handleGetPlan(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, id, err := s.billingPath(r)
	if err != nil {
		return err
	}
	pl, err := b.GetPlan(r.Context(), p.Scope(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pl)
	return nil
}

func (s *Server) handleUpdatePlan(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, id, err := s.billingPath(r)
	if err != nil {
		return err
	}
	if err := requireBillingAdmin(p); err != nil {
		return err
	}
	var patch controlplane.PlanPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		return err
	}
	pl, err := b.UpdatePlan(r.Context(), p, id, patch)
	if err != nil {
		s.audit(r, p, p.TenantID, "plan.update", "plan:"+idString(id), err, "")
		return err
	}
	writeJSON(w, http.StatusOK, pl)
	return nil
}

func (s *Server) handleDeletePlan(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, id, err := s.billingPath(r)
	if err != nil {
		return err
	}
	if err := requireBillingAdmin(p); err != nil {
		return err
	}
	if err := b.DeletePlan(r.Context(), p, id); err != nil {
		s.audit(r, p, p.TenantID, "plan.delete", "plan:"+idString(id), err, "")
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Customers.

func (s *Server) handleListCustomers(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	return listPage(w, r, customerFilter, func() (int64, error) { return listScope(r, p) }, b.ListCustomers)
}

func (s *Server) handleUpsertCustomer(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	if err := requireSell(p); err != nil {
		return err
	}
	var req controlplane.CustomerRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := b.UpsertCustomer(r.Context(), p, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/customers/"+idString(c.ID))
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) handleGetCustomer(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, id, err := s.billingPath(r)
	if err != nil {
		return err
	}
	c, err := b.GetCustomer(r.Context(), p.Scope(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// Subscriptions.

func (s *Server) handleListSubscriptions(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	return listPage(w, r, subscriptionFilter, func() (int64, error) { return listScope(r, p) }, b.ListSubscriptions)
}

func (s *Server) handlePurchase(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	if err := requireSell(p); err != nil {
		return err
	}
	var req controlplane.PurchaseRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := b.Purchase(r.Context(), p, req)
	if err != nil {
		return err
	}
	// The STK push runs as a job: the payment says how it ends.
	w.Header().Set("Location", paymentLocation(res.PaymentID))
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

func (s *Server) handleGetSubscription(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, id, err := s.billingPath(r)
	if err != nil {
		return err
	}
	sub, err := b.GetSubscription(r.Context(), p.Scope(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sub)
	return nil
}

// handleSubscriptionStatus answers POST /subscriptions/{id}/suspend,
// resume and cancel: moving it to status to.
func (s *Server) handleSubscriptionStatus(to controlplane.SubscriptionStatus, action string) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
		b, id, err := s.billingPath(r)
		if err != nil {
			return err
		}
		if err := requireBillingAdmin(p); err != nil {
			return err
		}
		sub, err := b.SetSubscriptionStatus(r.Context(), p, id, to)
		if err != nil {
			s.audit(r, p, p.TenantID, "subscription."+action, "subscription:"+idString(id), err, "")
			return err
		}
		writeJSON(w, http.StatusOK, sub)
		return nil
	}
}

func (s *Server) handleCredentials(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, id, err := s.billingPath(r)
	if err != nil {
		return err
	}
	if err := requireSell(p); err != nil {
		return err
	}
	c, err := b.Credentials(r.Context(), p, id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, c)
	return nil
}

// Payments.

func (s *Server) handleListPayments(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	return listPage(w, r, paymentFilter, func() (int64, error) { return listScope(r, p) }, b.ListPayments)
}

func (s *Server) handleRecordPayment(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	if err := requireSell(p); err != nil {
		return err
	}
	var req controlplane.ManualPaymentRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	pay, err := b.RecordPayment(r.Context(), p, req)
	if err != nil {
		s.audit(r, p, p.TenantID, "payment.record", "payment", err, req.Reference)
		return err
	}
	w.Header().Set("Location", paymentLocation(pay.ID))
	writeJSON(w, http.StatusCreated, pay)
	return nil
}

func (s *Server) handleGetPayment(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, id, err := s.billingPath(r)
	if err != nil {
		return err
	}
	pay, err := b.GetPayment(r.Context(), p.Scope(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pay)
	return nil
}

func (s *Server) handleRefundPayment(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, id, err := s.billingPath(r)
	if err != nil {
		return err
	}
	if err := requireBillingAdmin(p); err != nil {
		return err
	}
	pay, err := b.RefundPayment(r.Context(), p, id)
	if err != nil {
		s.audit(r, p, p.TenantID, "payment.refund", "payment:"+idString(id), err, "")
		return err
	}
	writeJSON(w, http.StatusOK, pay)
	return nil
}

func (s *Server) handleListCallbacks(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	return listPage(w, r, parseCallbackFilter, func() (int64, error) { return listScope(r, p) },
		func(ctx context.Context, scope int64, f callbackFilter) ([]controlplane.Callback, int, error) {
			return b.ListCallbacks(ctx, scope, f.outcome, f.limit, f.offset)
		})
}

// Settings and figures.

func (s *Server) handleGetBillingSettings(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	tenant, err := listScope(r, p)
	if err != nil {
		return err
	}
	st, err := b.Settings(r.Context(), p, tenant)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) handleUpdateBillingSettings(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	if err := requireBillingAdmin(p); err != nil {
		return err
	}
	var patch controlplane.BillingSettingsPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		return err
	}
	st, err := b.UpdateSettings(r.Context(), p, patch)
	if err != nil {
		// The detail never holds the patch: it may carry secrets.
		s.audit(r, p, p.TenantID, "billing.settings", "billing_settings", err, "")
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) handleBillingStats(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	b, err := s.biller()
	if err != nil {
		return err
	}
	scope, err := listScope(r, p)
	if err != nil {
		return err
	}
	st, err := b.Stats(r.Context(), scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// Provider hooks: public, authenticated by the path's token (and the
// webhook's signature), which billing checks.

// hookFunc is the billing method a hook route hands its request to, as a
// method expression (Billing.STKCallback).
type hookFunc = func(Billing, context.Context, controlplane.ProviderHook) (controlplane.HookReply, error)

// handleHook reads a provider's request into a ProviderHook (at most
// controlplane.MaxHookBody bytes of body; beyond, ETOOLARGE and nothing
// more is read), hands it to billing and writes billing's reply as is.
func (s *Server) handleHook(method hookFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := s.biller()
		if err != nil {
			return err
		}
		h := controlplane.ProviderHook{
			Token:      r.PathValue("token"),
			RemoteAddr: peerIP(r.RemoteAddr),
			Timestamp:  r.Header.Get("X-SitePulse-Timestamp"),
			Signature:  r.Header.Get("X-SitePulse-Signature"),
		}
		if h.TenantID, err = pathInt(r, "tenant"); err != nil {
			return err
		}
		if r.PathValue("payment") != "" {
			if h.PaymentID, err = pathInt(r, "payment"); err != nil {
				return err
			}
		}
		if h.Body, err = readHookBody(w, r); err != nil {
			return err
		}
		reply, err := method(b, r.Context(), h)
		if err != nil {
			return err
		}
		status := reply.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(reply.Body)))
		w.WriteHeader(status)
		_, _ = w.Write(reply.Body)
		return nil
	}
}

// readHookBody reads r's body, at most controlplane.MaxHookBody bytes.
func readHookBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > controlplane.MaxHookBody {
		return nil, hookTooLarge()
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, controlplane.MaxHookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, hookTooLarge()
		}
		return nil, controlplane.Errorf(controlplane.EINVALID, "request body: %v", err)
	}
	return b, nil
}

func hookTooLarge() error {
	return controlplane.Errorf(controlplane.ETOOLARGE, "request body is larger than %d bytes", controlplane.MaxHookBody)
}

// peerIP is the TCP peer's address without its port: the hooks log and
// check the address the connection came from, never a header a proxy (or
// a forger) sets.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
