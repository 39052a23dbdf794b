package billing

import (
	"context"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// verdict decides what money for plan does: completed, or flagged with a
// reason (short, wrong currency). It never activates on less than the
// price.
func verdict(plan controlplane.Plan, paid controlplane.Money) (controlplane.PaymentStatus, string) {
	switch {
	case paid.Currency != plan.Price.Currency:
		return controlplane.PaymentFlagged, controlplane.FlagCurrency
	case paid.Amount < plan.Price.Amount:
		return controlplane.PaymentFlagged, controlplane.FlagShort
	}
	return controlplane.PaymentCompleted, ""
}

// settleTx moves a pending (or given-up) payment to completed with the
// provider's receipt and amount, or to flagged, and applies a completed
// one to its subscription. A receipt that already paid another payment
// flags this one (the unique key decides). It returns the changes to
// announce after the commit.
func (s *Service) settleTx(ctx context.Context, tx *store.Tx, pay store.PaymentRow, receipt string, paid controlplane.Money) ([]controlplane.Change, error) {
	plan, err := tx.Plan(ctx, 0, pay.PlanID, false)
	status, reason := controlplane.PaymentFlagged, controlplane.FlagUnknownAccount
	if err == nil {
		status, reason = verdict(plan, paid)
	} else if controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		return nil, err
	}
	now := tx.Now()
	pay.Status, pay.Reason, pay.Amount = status, reason, paid
	if receipt != "" {
		pay.Receipt = receipt
	}
	zero := 0
	pay.ResultCode = &zero
	if status == controlplane.PaymentCompleted {
		pay.CompletedAt = &now
		pay.Applied = true
	}
	out, err := tx.UpdatePayment(ctx, pay)
	if controlplane.ErrorCode(err) == controlplane.ECONFLICT {
		pay.Status, pay.Reason, pay.CompletedAt, pay.Applied = controlplane.PaymentFlagged, controlplane.FlagDuplicateReceipt, nil, false
		out, err = tx.UpdatePayment(ctx, pay)
	}
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

// activateTx gives a completed payment's subscription its time, counts
// the revenue and enqueues the reconnection, in tx. A renewal while active
// extends from the current end; otherwise the period starts now.
func (s *Service) activateTx(ctx context.Context, tx *store.Tx, pay store.PaymentRow, plan controlplane.Plan) ([]controlplane.Change, error) {
	sub, err := tx.Subscription(ctx, 0, pay.SubscriptionID, true)
	if err != nil {
		return nil, err
	}
	now := tx.Now()
	d := time.Duration(plan.DurationSeconds) * time.Second
	renewed := sub.Status != controlplane.SubscriptionPending
	reconnected := sub.Status == controlplane.SubscriptionExpired
	if sub.Status == controlplane.SubscriptionActive && sub.EndsAt != nil && sub.EndsAt.After(now) {
		end := sub.EndsAt.Add(d)
		sub.EndsAt = &end
	} else {
		end := now.Add(d)
		sub.StartsAt, sub.EndsAt = &now, &end
	}
	if sub.Status != controlplane.SubscriptionSuspended && sub.Status != controlplane.SubscriptionCancelled {
		sub.Status, sub.Reason = controlplane.SubscriptionActive, ""
	}
	if sub, err = tx.UpdateSubscription(ctx, sub); err != nil {
		return nil, err
	}
	set, err := tx.BillingSettings(ctx, pay.TenantID)
	if err != nil {
		return nil, err
	}
	if err := tx.AddRevenue(ctx, pay.TenantID, day(now, set.Timezone), pay.Amount, 1); err != nil {
		return nil, err
	}
	if err := s.prov.InsertJobsTx(ctx, tx, reconnectArgs{SubscriptionID: sub.ID, PaymentID: pay.ID, Reconnected: reconnected}); err != nil {
		return nil, err
	}
	if err := s.receiptTx(ctx, tx, pay, plan, sub, set.Timezone); err != nil {
		return nil, err
	}
	return []controlplane.Change{controlplane.SubscriptionChanged{Subscription: sub, Renewed: renewed}}, nil
}

// announce publishes a committed payment's changes and the tenant's and
// the system's new revenue figures when money moved.
func (s *Service) announce(ctx context.Context, tenant int64, changes []controlplane.Change) {
	money := false
	for _, c := range changes {
		if pc, ok := c.(controlplane.PaymentChanged); ok {
			s.m.payments.WithLabelValues(pc.Payment.Provider, string(pc.Payment.Status)).Inc()
			money = money || pc.Payment.Status == controlplane.PaymentCompleted || pc.Payment.Status == controlplane.PaymentRefunded
		}
	}
	if money {
		for _, t := range []int64{tenant, 0} {
			st, err := s.Stats(ctx, t)
			if err != nil {
				s.log.Warn("billing stats", "tenant", t, "err", err)
				continue
			}
			changes = append(changes, controlplane.BillingStatsChanged{Stats: st})
		}
	}
	s.publish(changes...)
}

// Stats returns the revenue figures of tenant scope (every tenant's with
// 0), from the daily sums the payments keep.
func (s *Service) Stats(ctx context.Context, scope int64) (controlplane.BillingStats, error) {
	st := controlplane.BillingStats{TenantID: scope}
	err := s.st.ReadTx(ctx, func(tx *store.Tx) error {
		tz := "Africa/Nairobi"
		if scope != 0 {
			set, err := tx.BillingSettings(ctx, scope)
			if err != nil {
				return err
			}
			tz, st.Currency = set.Timezone, set.Currency
		}
		now := s.now()
		sum := func(days int) (map[string]int64, int, error) {
			return tx.Revenue(ctx, scope, day(now.AddDate(0, 0, -(days-1)), tz))
		}
		today, n, err := sum(1)
		if err != nil {
			return err
		}
		w, _, err := sum(7)
		if err != nil {
			return err
		}
		m, _, err := sum(30)
		if err != nil {
			return err
		}
		if scope == 0 {
			st.ByCurrency = m
			if len(m) == 1 {
				for c := range m {
					st.Currency = c
				}
			}
		}
		if st.Currency != "" {
			st.RevenueToday, st.Revenue7d, st.Revenue30d = today[st.Currency], w[st.Currency], m[st.Currency]
		}
		st.PaymentsToday = n
		if st.ActiveSubscriptions, err = tx.CountActiveSubscriptions(ctx, scope); err != nil {
			return err
		}
		payers, err := tx.PayingCustomers(ctx, scope, now.AddDate(0, 0, -30))
		if err != nil {
			return err
		}
		if payers > 0 {
			st.ARPU = st.Revenue30d / int64(payers)
		}
		st.At = now.UTC()
		return nil
	})
	return st, err
}

var zones sync.Map // name → *time.Location

// day is t's date in the IANA zone tz (UTC when unknown).
func day(t time.Time, tz string) string {
	loc, ok := zones.Load(tz)
	if !ok {
		l, err := time.LoadLocation(tz)
		if err != nil {
			l = time.UTC
		}
		loc, _ = zones.LoadOrStore(tz, l)
	}
	return t.In(loc.(*time.Location)).Format(time.DateOnly)
}
