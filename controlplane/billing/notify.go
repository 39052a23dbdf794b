package billing

import (
	"context"
	"fmt"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// Notifier queues notifications in the transaction of their cause
// (*notify.Service).
type Notifier interface {
	NotifyTx(ctx context.Context, tx *store.Tx, events ...controlplane.NotificationEvent) (int, error)
}

// notifyTx queues events when a notifier is set.
func (s *Service) notifyTx(ctx context.Context, tx *store.Tx, events ...controlplane.NotificationEvent) error {
	if s.o.Notifier == nil {
		return nil
	}
	_, err := s.o.Notifier.NotifyTx(ctx, tx, events...)
	return err
}

// receiptTx tells the customer a completed payment arrived: SMS, and
// email when known, with the provider's receipt and the new end.
func (s *Service) receiptTx(ctx context.Context, tx *store.Tx, pay store.PaymentRow, plan controlplane.Plan,
	sub controlplane.Subscription, tz string) error {
	if s.o.Notifier == nil {
		return nil
	}
	cust, err := tx.Customer(ctx, 0, pay.CustomerID)
	if err != nil {
		return err
	}
	end := ""
	if sub.EndsAt != nil {
		end = controlplane.LocalTime(*sub.EndsAt, tz)
	}
	receipt := pay.Receipt
	if receipt == "" {
		receipt = fmt.Sprintf("#%d", pay.ID)
	}
	return s.notifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: pay.TenantID, Kind: controlplane.NotifyPaymentReceipt,
		Event: fmt.Sprintf("payment:%d:receipt", pay.ID), To: controlplane.Audience{Phone: cust.Phone, Email: cust.Email},
		Data: map[string]string{"name": cust.Name, "amount": pay.Amount.String(), "receipt": receipt, "plan": plan.Name,
			"ends_at": end}})
}

// flaggedTx tells the tenant's admins that money activated nothing.
func (s *Service) flaggedTx(ctx context.Context, tx *store.Tx, pay store.PaymentRow) error {
	if s.o.Notifier == nil || pay.Status != controlplane.PaymentFlagged {
		return nil
	}
	receipt := pay.Receipt
	if receipt == "" {
		receipt = "none"
	}
	return s.notifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: pay.TenantID, Kind: controlplane.NotifyPaymentFlagged,
		Event: fmt.Sprintf("payment:%d:flagged:%s", pay.ID, pay.Reason), To: controlplane.Audience{Admins: true},
		Data: map[string]string{"amount": pay.Amount.String(), "receipt": receipt, "phone": maskPhone(pay.Phone),
			"reason": flagReasons[pay.Reason] + " (" + pay.Reason + ")", "payment_id": fmt.Sprint(pay.ID)}})
}

// flagReasons say what a flag means to a tenant admin.
var flagReasons = map[string]string{
	controlplane.FlagShort:            "less than the plan's price",
	controlplane.FlagCurrency:         "another currency than the plan's",
	controlplane.FlagUnknownAccount:   "no customer or plan matches",
	controlplane.FlagDuplicateReceipt: "this receipt already paid another payment",
	controlplane.FlagUnknownCheckout:  "a callback for no payment of ours",
	controlplane.FlagNotConfirmed:     "M-Pesa did not confirm it",
}

// maskPhone keeps a phone's country code and last three digits.
func maskPhone(p string) string {
	if len(p) < 8 {
		return strings.Repeat("•", len(p))
	}
	return p[:4] + strings.Repeat("•", len(p)-7) + p[len(p)-3:]
}
