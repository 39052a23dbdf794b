package billing

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// Purchase buys a plan for a phone: it creates the customer if new, opens
// (or reuses, for a renewal) the subscription, stores a pending payment
// and enqueues its STK push, all in one transaction. EFORBIDDEN for
// viewers; EINVALID; ENOTFOUND for a plan p cannot see; ECONFLICT for an
// inactive plan or a push already waiting for this customer and plan;
// EUNAVAILABLE when the tenant has no M-Pesa settings.
func (s *Service) Purchase(ctx context.Context, p controlplane.Principal, req controlplane.PurchaseRequest) (controlplane.PurchaseResult, error) {
	if err := needMutate(p, "sell plans"); err != nil {
		return controlplane.PurchaseResult{}, err
	}
	tenant, err := tenantOf(p, req.TenantID)
	if err != nil {
		return controlplane.PurchaseResult{}, err
	}
	cust, err := customerFields(tenant, req.Phone, req.Name, req.Email)
	if err != nil {
		return controlplane.PurchaseResult{}, err
	}
	if s.o.Daraja == nil || s.publicURL() == "" {
		return controlplane.PurchaseResult{}, controlplane.Errorf(controlplane.EUNAVAILABLE, "M-Pesa is not set up on this control plane (no --public-url)")
	}
	var res controlplane.PurchaseResult
	var changes []controlplane.Change
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		plan, err := tx.Plan(ctx, tenant, req.PlanID, false)
		if err != nil {
			return err
		}
		if !plan.Active {
			return controlplane.Errorf(controlplane.ECONFLICT, "plan %q is not on sale", plan.Name)
		}
		set, err := tx.BillingSettings(ctx, tenant)
		if err != nil {
			return err
		}
		if set.MpesaShortCode == "" || set.SealedConsumerKey == "" || set.SealedConsumerSecret == "" || set.SealedPass == "" {
			return controlplane.Errorf(controlplane.EUNAVAILABLE, "M-Pesa is not configured for this tenant")
		}
		c, changed, err := tx.UpsertCustomer(ctx, cust)
		if err != nil {
			return err
		}
		if changed {
			changes = append(changes, controlplane.CustomerChanged{Customer: c})
		}
		sub, _, err := tx.OpenSubscription(ctx, tenant, c.ID, plan.ID)
		if err != nil {
			return err
		}
		if sub.Status == controlplane.SubscriptionSuspended {
			return controlplane.Errorf(controlplane.ECONFLICT, "subscription %d is suspended; ask the operator", sub.ID)
		}
		pay, err := tx.InsertPayment(ctx, store.PaymentRow{Payment: controlplane.Payment{TenantID: tenant, CustomerID: c.ID,
			SubscriptionID: sub.ID, PlanID: plan.ID, Provider: controlplane.ProviderMpesaSTK, Amount: plan.Price,
			Phone: c.Phone, Status: controlplane.PaymentPending, Actor: p.Email}})
		if err != nil {
			return err
		}
		changes = append(changes, controlplane.PaymentChanged{Payment: pay.Payment})
		res = controlplane.PurchaseResult{PaymentID: pay.ID, SubscriptionID: sub.ID, CustomerID: c.ID, Status: string(pay.Status)}
		return s.prov.InsertJobsTx(ctx, tx, stkPushArgs{PaymentID: pay.ID})
	})
	if err != nil {
		return controlplane.PurchaseResult{}, fmt.Errorf("purchase: %w", err)
	}
	s.publish(changes...)
	return res, nil
}

// credentials opens the tenant's sealed M-Pesa credentials.
func (s *Service) credentials(set store.BillingSettingsRow) (MpesaCredentials, error) {
	c := MpesaCredentials{ShortCode: set.MpesaShortCode, TransactionType: set.MpesaTransactionType, PartyB: set.MpesaPartyB}
	for _, f := range []struct {
		dst    *string
		sealed string
		field  string
	}{{&c.ConsumerKey, set.SealedConsumerKey, "mpesa_consumer_key"}, {&c.ConsumerSecret, set.SealedConsumerSecret, "mpesa_consumer_secret"},
		{&c.PassKey, set.SealedPass, "mpesa_passkey"}} {
		if f.sealed == "" {
			return c, controlplane.Errorf(controlplane.EUNAVAILABLE, "M-Pesa is not configured for tenant %d (%s missing)", set.TenantID, f.field)
		}
		b, err := s.o.Sealer.Open(f.sealed, sealAAD(set.TenantID, f.field))
		if err != nil {
			return c, fmt.Errorf("open %s of tenant %d: %w", f.field, set.TenantID, err)
		}
		*f.dst = string(b)
	}
	return c, nil
}

// sealAAD binds a sealed secret to its tenant and field, so a ciphertext
// cannot be moved to another tenant or field.
func sealAAD(tenant int64, field string) string {
	return "tenant:" + strconv.FormatInt(tenant, 10) + ":" + field
}

// pushSTK sends payment id's STK push and records Daraja's ids. A refusal
// that retrying will not fix (or the last attempt) fails the payment.
func (s *Service) pushSTK(ctx context.Context, id int64, last bool) error {
	var pay store.PaymentRow
	var set store.BillingSettingsRow
	var sub controlplane.Subscription
	var plan controlplane.Plan
	err := s.st.ReadTx(ctx, func(tx *store.Tx) error {
		var err error
		if pay, err = tx.Payment(ctx, 0, id, false); err != nil {
			return err
		}
		if set, err = tx.BillingSettings(ctx, pay.TenantID); err != nil {
			return err
		}
		if sub, err = tx.Subscription(ctx, 0, pay.SubscriptionID, false); err != nil {
			return err
		}
		plan, err = tx.Plan(ctx, 0, pay.PlanID, false)
		return err
	})
	if err != nil {
		return err
	}
	if pay.Status != controlplane.PaymentPending || pay.CheckoutRequestID != "" {
		return nil // answered meanwhile, or pushed by an earlier attempt
	}
	creds, err := s.credentials(set)
	if err != nil {
		return s.failPayment(ctx, id, err.Error(), nil)
	}
	ref := sub.Username
	if ref == "" || len(ref) > 12 {
		ref = "SP" + strconv.FormatInt(sub.ID, 10)
	}
	desc := plan.Name
	if len(desc) > 13 {
		desc = desc[:13]
	}
	acc, err := s.o.Daraja.STKPush(ctx, creds, STKRequest{Shillings: pay.Amount.Amount / 100, Phone: controlplane.MSISDN(pay.Phone),
		CallbackURL: s.stkCallbackURL(pay.TenantID, pay.ID), AccountReference: ref, Description: desc})
	if err != nil {
		s.m.stk.WithLabelValues("push", "error").Inc()
		if s.o.Daraja.Permanent(err) || last {
			s.log.Warn("stk push refused", "payment", id, "err", err)
			return s.failPayment(ctx, id, "M-Pesa refused the request: "+err.Error(), nil)
		}
		return fmt.Errorf("stk push payment %d: %w", id, err)
	}
	s.m.stk.WithLabelValues("push", "accepted").Inc()
	return s.st.Write(ctx, func(tx *store.Tx) error {
		p, err := tx.Payment(ctx, 0, id, true)
		if err != nil {
			return err
		}
		if p.CheckoutRequestID != "" {
			return nil // the callback came first and carried the ids
		}
		p.CheckoutRequestID, p.MerchantRequestID = acc.CheckoutRequestID, acc.MerchantRequestID
		_, err = tx.UpdatePayment(ctx, p)
		return err
	})
}

// failPayment fails a pending payment with reason (and Daraja's result
// code), and announces it.
func (s *Service) failPayment(ctx context.Context, id int64, reason string, code *int) error {
	var pay store.PaymentRow
	changed := false
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if pay, err = tx.Payment(ctx, 0, id, true); err != nil {
			return err
		}
		if pay.Status != controlplane.PaymentPending {
			return nil
		}
		pay.Status, pay.Reason, pay.ResultCode = controlplane.PaymentFailed, truncate(reason, 300), code
		changed = true
		pay, err = tx.UpdatePayment(ctx, pay)
		return err
	})
	if err != nil {
		return fmt.Errorf("fail payment %d: %w", id, err)
	}
	if changed {
		s.m.payments.WithLabelValues(pay.Provider, string(pay.Status)).Inc()
		s.publish(controlplane.PaymentChanged{Payment: pay.Payment})
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
