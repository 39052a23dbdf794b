package billing

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// sourceAllowed reports whether addr is on the tenant's allow-list
// (Safaricom's documented addresses when the tenant set none).
func sourceAllowed(set store.BillingSettingsRow, addr string) bool {
	ip, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return false
	}
	list := set.AllowedSources
	if len(list) == 0 {
		list = controlplane.SafaricomSources
	}
	for _, e := range list {
		if pfx, err := netip.ParsePrefix(e); err == nil && pfx.Contains(ip.Unmap()) {
			return true
		}
		if a, err := netip.ParseAddr(e); err == nil && a == ip.Unmap() {
			return true
		}
	}
	return false
}

// checkSource applies the tenant's source policy to a callback: outside
// the allow-list it is logged and counted, and refused when strict.
func (s *Service) checkSource(set store.BillingSettingsRow, h controlplane.ProviderHook, kind string) (bool, error) {
	if sourceAllowed(set, h.RemoteAddr) {
		s.m.source.WithLabelValues("allowed").Inc()
		return true, nil
	}
	s.m.source.WithLabelValues("outside").Inc()
	s.log.Warn("payment callback from outside the allow-list", "tenant", set.TenantID, "kind", kind, "remote", h.RemoteAddr,
		"policy", set.SourcePolicy)
	if set.SourcePolicy == controlplane.SourceStrict {
		return false, controlplane.Errorf(controlplane.EFORBIDDEN, "callbacks from %s are not allowed", h.RemoteAddr)
	}
	return false, nil
}

// reject counts and logs a callback that changes nothing and answers err.
func (s *Service) reject(provider, kind string, h controlplane.ProviderHook, err error) error {
	s.m.callbacks.WithLabelValues(provider, kind, controlplane.CallbackRejected).Inc()
	s.log.Warn("payment callback rejected", "provider", provider, "kind", kind, "tenant", h.TenantID, "remote", h.RemoteAddr,
		"err", err)
	return err
}

// STKCallback handles Daraja's STK result for one payment. The path token
// authenticates it (ENOTFOUND otherwise, nothing touched); a malformed
// body is EINVALID. A duplicate answers Accepted and changes nothing; a
// result for another CheckoutRequestID is recorded as a flagged payment;
// a success from an untrusted source (per the tenant's confirm policy) is
// confirmed by STK query before anything is activated.
func (s *Service) STKCallback(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error) {
	const kind = "stk"
	if len(h.Body) > controlplane.MaxHookBody {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderMpesaSTK, kind, h,
			controlplane.Errorf(controlplane.ETOOLARGE, "body over %d bytes", controlplane.MaxHookBody))
	}
	want := s.callbackToken(h.TenantID, h.PaymentID)
	if subtle.ConstantTimeCompare([]byte(want), []byte(h.Token)) != 1 {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderMpesaSTK, kind, h,
			controlplane.Errorf(controlplane.ENOTFOUND, "no such callback"))
	}
	if s.o.Daraja == nil {
		return controlplane.HookReply{}, controlplane.Errorf(controlplane.EUNAVAILABLE, "M-Pesa is not set up")
	}
	res, err := s.o.Daraja.DecodeSTKCallback(h.Body)
	if err != nil {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderMpesaSTK, kind, h, err)
	}
	set, err := s.st.GetBillingSettings(ctx, h.TenantID)
	if err != nil {
		return controlplane.HookReply{}, err
	}
	trusted, err := s.checkSource(set, h, kind)
	if err != nil {
		return controlplane.HookReply{}, s.reject(controlplane.ProviderMpesaSTK, kind, h, err)
	}
	confirm := set.ConfirmPolicy == controlplane.ConfirmAlways || (set.ConfirmPolicy != controlplane.ConfirmNever && !trusted)
	var changes []controlplane.Change
	outcome, reason := controlplane.CallbackApplied, ""
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		pay, err := tx.Payment(ctx, h.TenantID, h.PaymentID, true)
		if err != nil {
			return err
		}
		log := controlplane.Callback{TenantID: h.TenantID, Provider: controlplane.ProviderMpesaSTK, Kind: kind,
			RemoteAddr: h.RemoteAddr, Reference: res.CheckoutRequestID, PaymentID: pay.ID}
		switch {
		case pay.CheckoutRequestID != "" && pay.CheckoutRequestID != res.CheckoutRequestID:
			// A valid token with someone else's result: keep it, apply
			// nothing.
			outcome, reason = controlplane.CallbackFlagged, controlplane.FlagUnknownCheckout
			f, err := tx.InsertPayment(ctx, store.PaymentRow{Payment: controlplane.Payment{TenantID: h.TenantID,
				Provider: controlplane.ProviderMpesaSTK, Amount: controlplane.Money{Amount: res.AmountMinor, Currency: pay.Amount.Currency},
				Phone: phoneOf(res.Phone), Status: controlplane.PaymentFlagged, Reason: controlplane.FlagUnknownCheckout,
				ResultCode: &res.ResultCode, CheckoutRequestID: res.CheckoutRequestID, MerchantRequestID: res.MerchantRequestID}})
			if err != nil {
				return err
			}
			changes = append(changes, controlplane.PaymentChanged{Payment: f.Payment})
		case pay.Status == controlplane.PaymentCompleted || pay.Status == controlplane.PaymentRefunded ||
			pay.Status == controlplane.PaymentFlagged:
			outcome = controlplane.CallbackDuplicate
			if pay.Receipt == "" && res.Receipt != "" && res.ResultCode == ResultSuccess && pay.Status == controlplane.PaymentCompleted {
				// Completed by an STK query, which carries no receipt.
				pay.Receipt = res.Receipt
				if _, err := tx.UpdatePayment(ctx, pay); err != nil && controlplane.ErrorCode(err) != controlplane.ECONFLICT {
					return err
				}
			}
		case res.ResultCode != ResultSuccess:
			if pay.Status != controlplane.PaymentPending {
				outcome = controlplane.CallbackDuplicate
				break
			}
			pay.Status, pay.Reason, pay.ResultCode = controlplane.PaymentFailed, truncate(res.ResultDesc, 300), &res.ResultCode
			pay.CheckoutRequestID, pay.MerchantRequestID = res.CheckoutRequestID, res.MerchantRequestID
			out, err := tx.UpdatePayment(ctx, pay)
			if err != nil {
				return err
			}
			changes = append(changes, controlplane.PaymentChanged{Payment: out.Payment})
		case confirm:
			// Pending, or failed after SitePulse gave up: a late success
			// still completes it, once STK query agrees.
			outcome = controlplane.CallbackQueued
			pay.CheckoutRequestID, pay.MerchantRequestID = res.CheckoutRequestID, res.MerchantRequestID
			if _, err := tx.UpdatePayment(ctx, pay); err != nil {
				return err
			}
			if err := s.prov.InsertJobsTx(ctx, tx, stkConfirmArgs{PaymentID: pay.ID, Receipt: res.Receipt, AmountMinor: res.AmountMinor}); err != nil {
				return err
			}
		default:
			pay.CheckoutRequestID, pay.MerchantRequestID = res.CheckoutRequestID, res.MerchantRequestID
			c, err := s.settleTx(ctx, tx, pay, res.Receipt, controlplane.Money{Amount: res.AmountMinor, Currency: pay.Amount.Currency})
			if err != nil {
				return err
			}
			if p, ok := c[0].(controlplane.PaymentChanged); ok && p.Payment.Status == controlplane.PaymentFlagged {
				outcome, reason = controlplane.CallbackFlagged, p.Payment.Reason
			}
			changes = append(changes, c...)
		}
		log.Outcome, log.Reason = outcome, reason
		return tx.InsertCallback(ctx, log)
	})
	if err != nil {
		if code := controlplane.ErrorCode(err); code == controlplane.ENOTFOUND {
			return controlplane.HookReply{}, s.reject(controlplane.ProviderMpesaSTK, kind, h, err)
		}
		return controlplane.HookReply{}, fmt.Errorf("stk callback of payment %d: %w", h.PaymentID, err)
	}
	s.m.callbacks.WithLabelValues(controlplane.ProviderMpesaSTK, kind, outcome).Inc()
	s.announce(ctx, h.TenantID, changes)
	return controlplane.HookReply{Status: http.StatusOK, Body: replyAccepted}, nil
}

// phoneOf turns M-Pesa's 2547… into E.164, or "" when it is not a phone.
func phoneOf(msisdn string) string {
	p, err := controlplane.NormalizePhone(msisdn)
	if err != nil {
		return ""
	}
	return p
}

// confirmSTK asks Daraja whether an untrusted callback's success is real
// before applying it; a result that disagrees flags the payment.
func (s *Service) confirmSTK(ctx context.Context, a stkConfirmArgs, last bool) error {
	pay, err := s.st.GetPaymentRow(ctx, a.PaymentID)
	if err != nil {
		return err
	}
	if pay.Status != controlplane.PaymentPending && pay.Status != controlplane.PaymentFailed {
		return nil
	}
	st, err := s.query(ctx, pay)
	if err != nil {
		return fmt.Errorf("confirm payment %d: %w", a.PaymentID, err)
	}
	if st.Pending {
		if last {
			return nil // the query sweep keeps asking
		}
		return fmt.Errorf("confirm payment %d: M-Pesa still processing", a.PaymentID)
	}
	var changes []controlplane.Change
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		pay, err := tx.Payment(ctx, 0, a.PaymentID, true)
		if err != nil {
			return err
		}
		if pay.Status != controlplane.PaymentPending && pay.Status != controlplane.PaymentFailed {
			return nil
		}
		if st.ResultCode != ResultSuccess {
			pay.Status, pay.Reason, pay.ResultCode = controlplane.PaymentFlagged, controlplane.FlagNotConfirmed, &st.ResultCode
			out, err := tx.UpdatePayment(ctx, pay)
			changes = append(changes, controlplane.PaymentChanged{Payment: out.Payment})
			return err
		}
		changes, err = s.settleTx(ctx, tx, pay, a.Receipt, controlplane.Money{Amount: a.AmountMinor, Currency: pay.Amount.Currency})
		return err
	})
	if err != nil {
		return fmt.Errorf("confirm payment %d: %w", a.PaymentID, err)
	}
	s.announce(ctx, pay.TenantID, changes)
	return nil
}

// QueryPending resolves STK pushes whose callback has not come within
// QueryAfter by asking Daraja; those still unanswered after GiveUpAfter
// fail (a late callback still completes them).
func (s *Service) QueryPending(ctx context.Context) error {
	now := s.now()
	due, err := s.st.PendingSTK(ctx, now.Add(-s.o.QueryAfter), 200)
	if err != nil {
		return err
	}
	for _, pay := range due {
		if err := s.queryOne(ctx, pay, now); err != nil {
			s.log.Warn("stk query", "payment", pay.ID, "err", err)
		}
	}
	return nil
}

// query asks Daraja what became of pay's push, with the tenant's
// credentials, and counts the answer.
func (s *Service) query(ctx context.Context, pay store.PaymentRow) (STKStatus, error) {
	set, err := s.st.GetBillingSettings(ctx, pay.TenantID)
	if err != nil {
		return STKStatus{}, err
	}
	creds, err := s.credentials(set)
	if err != nil {
		return STKStatus{}, err
	}
	st, err := s.o.Daraja.STKQuery(ctx, creds, pay.CheckoutRequestID)
	switch {
	case err != nil:
		s.m.stk.WithLabelValues("query", "error").Inc()
	case st.Pending:
		s.m.stk.WithLabelValues("query", "pending").Inc()
	default:
		s.m.stk.WithLabelValues("query", "answered").Inc()
	}
	return st, err
}

func (s *Service) queryOne(ctx context.Context, pay store.PaymentRow, now time.Time) error {
	age := now.Sub(pay.CreatedAt)
	if pay.CheckoutRequestID == "" {
		if age > s.o.GiveUpAfter {
			return s.failPayment(ctx, pay.ID, "M-Pesa never accepted the request", nil)
		}
		return nil // the push job is still trying
	}
	st, err := s.query(ctx, pay)
	if err != nil {
		return err
	}
	if st.Pending {
		if age > s.o.GiveUpAfter {
			return s.failPayment(ctx, pay.ID, "no answer from the customer in time", nil)
		}
		return nil
	}
	if st.ResultCode != ResultSuccess {
		code := st.ResultCode
		return s.failPayment(ctx, pay.ID, st.ResultDesc, &code)
	}
	// STK query confirms the money but carries no receipt or amount: the
	// push asked for the plan's price, and a late callback fills in the
	// receipt.
	var changes []controlplane.Change
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		p, err := tx.Payment(ctx, 0, pay.ID, true)
		if err != nil {
			return err
		}
		if p.Status != controlplane.PaymentPending {
			return nil
		}
		if changes, err = s.settleTx(ctx, tx, p, "", p.Amount); err != nil {
			return err
		}
		return tx.InsertCallback(ctx, controlplane.Callback{TenantID: p.TenantID, Provider: controlplane.ProviderMpesaSTK,
			Kind: "stk_query", Reference: p.CheckoutRequestID, PaymentID: p.ID, Outcome: controlplane.CallbackApplied,
			Reason: "resolved by STK query"})
	})
	if err != nil {
		return err
	}
	s.announce(ctx, pay.TenantID, changes)
	return nil
}
