package billing

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// receivedTx records money that arrived without a pending payment (C2B, a
// webhook, cash) for sub (nil: flagged, unknown account) and applies it.
// A receipt already paid is ECONFLICT with nothing written: the unique key
// decides, so concurrent replays cannot both apply.
func (s *Service) receivedTx(ctx context.Context, tx *store.Tx, tenant int64, provider, receipt string, paid controlplane.Money,
	phone, actor string, sub *controlplane.Subscription) ([]controlplane.Change, error) {
	pay := store.PaymentRow{Payment: controlplane.Payment{TenantID: tenant, Provider: provider, Amount: paid, Phone: phone,
		Receipt: receipt, Actor: actor, Status: controlplane.PaymentFlagged, Reason: controlplane.FlagUnknownAccount}}
	var plan controlplane.Plan
	if sub != nil {
		var err error
		if plan, err = tx.Plan(ctx, 0, sub.PlanID, false); err != nil {
			return nil, err
		}
		pay.CustomerID, pay.SubscriptionID, pay.PlanID = sub.CustomerID, sub.ID, sub.PlanID
		pay.Status, pay.Reason = verdict(plan, paid)
	}
	if pay.Status == controlplane.PaymentCompleted {
		now := tx.Now()
		pay.CompletedAt = &now
	}
	if pay.Status == controlplane.PaymentFlagged {
		if _, err := tx.PaymentByReceipt(ctx, tenant, receipt); err == nil {
			return nil, controlplane.Errorf(controlplane.ECONFLICT, "receipt %s already paid", receipt)
		}
	}
	out, err := tx.InsertPayment(ctx, pay)
	if err != nil {
		return nil, err
	}
	changes := []controlplane.Change{controlplane.PaymentChanged{Payment: out.Payment}}
	if out.Status != controlplane.PaymentCompleted {
		return changes, s.flaggedTx(ctx, tx, out)
	}
	more, err := s.activateTx(ctx, tx, out, plan)
	return append(changes, more...), err
}

// subscriptionFor finds what a hand payment is for: the account number
// the customer typed (a username), or a phone number whose customer's
// latest subscription it renews.
func subscriptionFor(ctx context.Context, tx *store.Tx, tenant int64, ref, msisdn string) (*controlplane.Subscription, error) {
	ref = strings.TrimSpace(ref)
	if ref != "" {
		if sub, err := tx.SubscriptionByUsername(ctx, tenant, ref); err == nil {
			return &sub, nil
		} else if controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			return nil, err
		}
	}
	for _, p := range []string{ref, msisdn} {
		phone, err := controlplane.NormalizePhone(p)
		if err != nil {
			continue
		}
		c, err := tx.CustomerByPhone(ctx, tenant, phone)
		if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		sub, err := tx.LatestSubscription(ctx, c.ID)
		if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &sub, nil
	}
	return nil, nil
}

// c2bSettings authenticates a C2B request by its path token.
func (s *Service) c2bSettings(ctx context.Context, h controlplane.ProviderHook, kind string) (store.BillingSettingsRow, error) {
	if len(h.Body) > controlplane.MaxHookBody {
		return store.BillingSettingsRow{}, s.reject(controlplane.ProviderMpesaC2B, kind, h,
			controlplane.Errorf(controlplane.ETOOLARGE, "body over %d bytes", controlplane.MaxHookBody))
	}
	set, err := s.st.BillingSettingsByC2BToken(ctx, h.TenantID, h.Token)
	if err != nil {
		return set, s.reject(controlplane.ProviderMpesaC2B, kind, h, controlplane.Errorf(controlplane.ENOTFOUND, "no such callback"))
	}
	if s.o.Daraja == nil {
		return set, controlplane.Errorf(controlplane.EUNAVAILABLE, "M-Pesa is not set up")
	}
	_, err = s.checkSource(set, h, kind)
	return set, err
}

// C2BValidation answers Daraja's question whether to accept a paybill or
// till payment: unknown accounts (C2B00012) and amounts below the plan's
// price (C2B00013) are refused, so the customer keeps their money.
func (s *Service) C2BValidation(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error) {
	const kind = "c2b_validation"
	set, err := s.c2bSettings(ctx, h, kind)
	if err != nil {
		return controlplane.HookReply{}, err
	}
	n, err := s.o.Daraja.DecodeC2B(h.Body)
	if err != nil {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderMpesaC2B, kind, h, err)
	}
	reply, outcome, reason := c2bAccept, controlplane.CallbackApplied, ""
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		sub, err := subscriptionFor(ctx, tx, set.TenantID, n.BillRef, n.MSISDN)
		if err != nil {
			return err
		}
		if sub == nil {
			reply, outcome, reason = c2bReject("C2B00012"), controlplane.CallbackRejected, "unknown account "+truncate(n.BillRef, 40)
		} else if plan, err := tx.Plan(ctx, 0, sub.PlanID, false); err != nil {
			return err
		} else if n.AmountMinor < plan.Price.Amount {
			reply, outcome, reason = c2bReject("C2B00013"), controlplane.CallbackRejected, controlplane.FlagShort
		}
		return tx.InsertCallback(ctx, controlplane.Callback{TenantID: set.TenantID, Provider: controlplane.ProviderMpesaC2B,
			Kind: kind, RemoteAddr: h.RemoteAddr, Reference: n.TransID, Outcome: outcome, Reason: reason})
	})
	if err != nil {
		return controlplane.HookReply{}, fmt.Errorf("c2b validation: %w", err)
	}
	s.m.callbacks.WithLabelValues(controlplane.ProviderMpesaC2B, kind, outcome).Inc()
	return controlplane.HookReply{Status: http.StatusOK, Body: reply}, nil
}

// C2BConfirmation records a paybill or till payment once per TransID and
// applies it to the account it names (flagged when there is none, or
// short).
func (s *Service) C2BConfirmation(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error) {
	const kind = "c2b_confirmation"
	set, err := s.c2bSettings(ctx, h, kind)
	if err != nil {
		return controlplane.HookReply{}, err
	}
	n, err := s.o.Daraja.DecodeC2B(h.Body)
	if err != nil {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderMpesaC2B, kind, h, err)
	}
	if n.TransID == "" {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderMpesaC2B, kind, h,
			controlplane.Errorf(controlplane.EINVALID, "TransID: required"))
	}
	outcome, changes, err := s.direct(ctx, set, h, kind, controlplane.ProviderMpesaC2B, n.TransID,
		controlplane.Money{Amount: n.AmountMinor, Currency: set.Currency}, phoneOf(n.MSISDN), n.BillRef, n.MSISDN, "")
	if err != nil {
		return controlplane.HookReply{}, err
	}
	s.m.callbacks.WithLabelValues(controlplane.ProviderMpesaC2B, kind, outcome).Inc()
	s.announce(ctx, set.TenantID, changes)
	return controlplane.HookReply{Status: http.StatusOK, Body: c2bAccept}, nil
}

// direct applies money that came without a pending payment and logs the
// callback; a replay of its receipt is a duplicate that changes nothing.
func (s *Service) direct(ctx context.Context, set store.BillingSettingsRow, h controlplane.ProviderHook, kind, provider,
	receipt string, paid controlplane.Money, phone, ref, msisdn, actor string) (string, []controlplane.Change, error) {
	var changes []controlplane.Change
	outcome, reason := controlplane.CallbackApplied, ""
	var payID int64
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		if p, err := tx.PaymentByReceipt(ctx, set.TenantID, receipt); err == nil {
			outcome, payID = controlplane.CallbackDuplicate, p.ID
		} else {
			sub, err := subscriptionFor(ctx, tx, set.TenantID, ref, msisdn)
			if err != nil {
				return err
			}
			c, err := s.receivedTx(ctx, tx, set.TenantID, provider, receipt, paid, phone, actor, sub)
			switch {
			case controlplane.ErrorCode(err) == controlplane.ECONFLICT:
				outcome = controlplane.CallbackDuplicate
			case err != nil:
				return err
			default:
				changes = c
				p := c[0].(controlplane.PaymentChanged).Payment
				payID = p.ID
				if p.Status == controlplane.PaymentFlagged {
					outcome, reason = controlplane.CallbackFlagged, p.Reason
				}
			}
		}
		return tx.InsertCallback(ctx, controlplane.Callback{TenantID: set.TenantID, Provider: provider, Kind: kind,
			RemoteAddr: h.RemoteAddr, Reference: receipt, PaymentID: payID, Outcome: outcome, Reason: reason})
	})
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", kind, err)
	}
	return outcome, changes, nil
}

// WebhookPayment is the body of the generic signed payment webhook that
// other gateways (or a tenant's own systems) POST to
// /api/v1/hooks/payments/{tenant}. Amount is in minor units, an integer.
type WebhookPayment struct {
	Reference string `json:"reference"` // the gateway's receipt; unique per tenant
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Phone     string `json:"phone"`
	// Account is the username or phone the payment is for.
	Account string `json:"account,omitempty"`
}

// DecodeWebhookPayment reads a webhook body strictly: unknown fields,
// fractional or non-integer amounts and missing fields are EINVALID.
func DecodeWebhookPayment(body []byte) (WebhookPayment, error) {
	var raw struct {
		Reference string          `json:"reference"`
		Amount    json.RawMessage `json:"amount"`
		Currency  string          `json:"currency"`
		Phone     string          `json:"phone"`
		Account   string          `json:"account"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return WebhookPayment{}, controlplane.Errorf(controlplane.EINVALID, "body: %v", err)
	}
	if dec.More() {
		return WebhookPayment{}, controlplane.Errorf(controlplane.EINVALID, "body: one JSON object expected")
	}
	// Digits only: a JSON integer, never a string, fraction or exponent.
	digits := string(raw.Amount)
	if strings.TrimLeft(digits, "0123456789") != "" {
		digits = "x"
	}
	amt, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case err != nil || amt <= 0:
		return WebhookPayment{}, controlplane.Errorf(controlplane.EINVALID, "amount: a positive integer in minor units")
	case raw.Reference == "" || len(raw.Reference) > 64:
		return WebhookPayment{}, controlplane.Errorf(controlplane.EINVALID, "reference: required, at most 64 bytes")
	case !controlplane.ValidCurrency(raw.Currency):
		return WebhookPayment{}, controlplane.Errorf(controlplane.EINVALID, "currency: an ISO 4217 code")
	case raw.Phone == "" && raw.Account == "":
		return WebhookPayment{}, controlplane.Errorf(controlplane.EINVALID, "account: phone or account required")
	}
	return WebhookPayment{Reference: raw.Reference, Amount: amt, Currency: raw.Currency, Phone: raw.Phone, Account: raw.Account}, nil
}

// WebhookSignature is the X-SitePulse-Signature of body at ts with
// secret: "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<body>">".
func WebhookSignature(secret []byte, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(sign(secret, t, body))
}

func sign(secret []byte, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return mac.Sum(nil)
}

// verifySignature checks a webhook's signature header (and the separate
// timestamp header, when the signature has no t=) within skew of now.
func verifySignature(secret []byte, h controlplane.ProviderHook, now time.Time, skew time.Duration) error {
	ts, sigs := h.Timestamp, []string{}
	for _, part := range strings.Split(h.Signature, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1", "sha256":
			sigs = append(sigs, v)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return controlplane.Errorf(controlplane.EUNAUTHORIZED, "signature: missing or bad timestamp")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > skew || d < -skew {
		return controlplane.Errorf(controlplane.EUNAUTHORIZED, "signature: timestamp outside the %v tolerance", skew)
	}
	want := sign(secret, ts, h.Body)
	for _, sg := range sigs {
		got, err := hex.DecodeString(sg)
		if err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	}
	return controlplane.Errorf(controlplane.EUNAUTHORIZED, "signature: does not match")
}

// PaymentWebhook applies a payment another gateway reports, signed with
// the tenant's webhook secret (HMAC-SHA256 over "<timestamp>.<body>",
// 5-minute tolerance). A replayed reference is a duplicate; a bad
// signature is EUNAUTHORIZED with nothing touched.
func (s *Service) PaymentWebhook(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error) {
	const kind = "webhook"
	if len(h.Body) > controlplane.MaxHookBody {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderWebhook, kind, h,
			controlplane.Errorf(controlplane.ETOOLARGE, "body over %d bytes", controlplane.MaxHookBody))
	}
	set, err := s.st.GetBillingSettings(ctx, h.TenantID)
	if err != nil {
		return controlplane.HookReply{}, err
	}
	if set.SealedWebhookSecret == "" {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderWebhook, kind, h, controlplane.Errorf(controlplane.ENOTFOUND, "no such webhook"))
	}
	secret, err := s.o.Sealer.Open(set.SealedWebhookSecret, sealAAD(set.TenantID, "webhook_secret"))
	if err != nil {
		return controlplane.HookReply{}, fmt.Errorf("open webhook secret of tenant %d: %w", set.TenantID, err)
	}
	if err := verifySignature(secret, h, s.now(), s.o.WebhookSkew); err != nil {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderWebhook, kind, h, err)
	}
	w, err := DecodeWebhookPayment(h.Body)
	if err != nil {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderWebhook, kind, h, err)
	}
	ref := w.Account
	if ref == "" {
		ref = w.Phone
	}
	outcome, changes, err := s.direct(ctx, set, h, kind, controlplane.ProviderWebhook, w.Reference,
		controlplane.Money{Amount: w.Amount, Currency: w.Currency}, phoneOf(w.Phone), ref, w.Phone, "")
	if err != nil {
		return controlplane.HookReply{}, err
	}
	s.m.callbacks.WithLabelValues(controlplane.ProviderWebhook, kind, outcome).Inc()
	s.announce(ctx, set.TenantID, changes)
	return controlplane.HookReply{Status: http.StatusOK, Body: []byte(`{"status":"` + outcome + `"}`)}, nil
}

// RecordPayment records cash (or another payment taken by staff) for a
// subscription, or for a plan and a phone (opening the subscription), and
// applies it at once. Technicians and admins; audited; EINVALID for an
// amount below the plan's price (staff decide, so nothing is flagged);
// ECONFLICT for a reference already used.
func (s *Service) RecordPayment(ctx context.Context, p controlplane.Principal, req controlplane.ManualPaymentRequest) (controlplane.Payment, error) {
	if err := needMutate(p, "record payments"); err != nil {
		return controlplane.Payment{}, err
	}
	if req.Amount <= 0 {
		return controlplane.Payment{}, controlplane.Errorf(controlplane.EINVALID, "amount: a positive amount in minor units")
	}
	ref := strings.TrimSpace(req.Reference)
	if ref == "" {
		b := make([]byte, 5)
		rand.Read(b)
		ref = "CASH-" + strings.ToUpper(hex.EncodeToString(b))
	}
	if len(ref) > 64 || len(req.Note) > 200 {
		return controlplane.Payment{}, controlplane.Errorf(controlplane.EINVALID, "reference: at most 64 bytes; note: at most 200")
	}
	var changes []controlplane.Change
	var pay controlplane.Payment
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var sub controlplane.Subscription
		var err error
		switch {
		case req.SubscriptionID != 0:
			if sub, err = tx.Subscription(ctx, p.Scope(), req.SubscriptionID, false); err != nil {
				return err
			}
		case req.PlanID != 0 && req.Phone != "":
			if _, err := tx.Plan(ctx, p.Scope(), req.PlanID, false); err != nil {
				return err
			}
			plan, _ := tx.Plan(ctx, 0, req.PlanID, false)
			cf, err := customerFields(plan.TenantID, req.Phone, req.Name, "")
			if err != nil {
				return err
			}
			c, changed, err := tx.UpsertCustomer(ctx, cf)
			if err != nil {
				return err
			}
			if changed {
				changes = append(changes, controlplane.CustomerChanged{Customer: c})
			}
			if sub, _, err = tx.OpenSubscription(ctx, plan.TenantID, c.ID, plan.ID); err != nil {
				return err
			}
		default:
			return controlplane.Errorf(controlplane.EINVALID, "subscription_id: required (or plan_id and phone)")
		}
		plan, err := tx.Plan(ctx, 0, sub.PlanID, false)
		if err != nil {
			return err
		}
		if req.Amount < plan.Price.Amount {
			return controlplane.Errorf(controlplane.EINVALID, "amount: %s is below the plan's price %s",
				controlplane.Money{Amount: req.Amount, Currency: plan.Price.Currency}, plan.Price)
		}
		cust, err := tx.Customer(ctx, 0, sub.CustomerID)
		if err != nil {
			return err
		}
		c, err := s.receivedTx(ctx, tx, sub.TenantID, controlplane.ProviderManual, ref,
			controlplane.Money{Amount: req.Amount, Currency: plan.Price.Currency}, cust.Phone, p.Email, &sub)
		if err != nil {
			return err
		}
		changes = append(changes, c...)
		pay = c[0].(controlplane.PaymentChanged).Payment
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: sub.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "payment.record", Target: fmt.Sprintf("payment:%d", pay.ID), Result: "ok",
			Detail: fmt.Sprintf("%s for subscription %d, reference %s %s", pay.Amount, sub.ID, ref, req.Note)})
	})
	if err != nil {
		return controlplane.Payment{}, fmt.Errorf("record payment: %w", err)
	}
	s.announce(ctx, pay.TenantID, changes)
	return pay, nil
}

// RefundPayment marks a completed payment refunded and takes it out of
// the revenue figures. The subscription keeps its time (suspend or cancel
// it separately). Tenant admins only; ECONFLICT unless completed.
func (s *Service) RefundPayment(ctx context.Context, p controlplane.Principal, id int64) (controlplane.Payment, error) {
	if err := needManage(p, "refund payments"); err != nil {
		return controlplane.Payment{}, err
	}
	var out store.PaymentRow
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		pay, err := tx.Payment(ctx, p.Scope(), id, true)
		if err != nil {
			return err
		}
		if pay.Status != controlplane.PaymentCompleted {
			return controlplane.Errorf(controlplane.ECONFLICT, "payment %d is %s; only completed payments are refunded", id, pay.Status)
		}
		pay.Status = controlplane.PaymentRefunded
		if out, err = tx.UpdatePayment(ctx, pay); err != nil {
			return err
		}
		set, err := tx.BillingSettings(ctx, pay.TenantID)
		if err != nil {
			return err
		}
		when := tx.Now()
		if pay.CompletedAt != nil {
			when = *pay.CompletedAt
		}
		if err := tx.AddRevenue(ctx, pay.TenantID, day(when, set.Timezone), controlplane.Money{Amount: -pay.Amount.Amount,
			Currency: pay.Amount.Currency}, 0); err != nil {
			return err
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: pay.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "payment.refund", Target: fmt.Sprintf("payment:%d", id), Result: "ok", Detail: pay.Amount.String()})
	})
	if err != nil {
		return controlplane.Payment{}, fmt.Errorf("refund payment %d: %w", id, err)
	}
	s.announce(ctx, out.TenantID, []controlplane.Change{controlplane.PaymentChanged{Payment: out.Payment}})
	return out.Payment, nil
}
