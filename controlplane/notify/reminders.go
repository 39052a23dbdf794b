package notify

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// SweepReminders queues the expiry reminders that are due: for each
// active subscription and each of its tenant's offsets o with
// end - o <= now, once per period (a renewal's new end starts over). Only
// the nearest due offset sends when several fell due at once (the sweep
// did not run for a day, say), and none whose moment came before the
// period started (no "24 hours left" on a one-hour plan). It returns how
// many messages it queued.
func (s *Service) SweepReminders(ctx context.Context) (int, error) {
	now := s.now().UTC()
	horizon, err := s.st.MaxReminderOffset(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	const page = 200
	var after store.SubscriptionCursor
	for {
		subs, err := s.st.EndingSubscriptions(ctx, now, now.Add(time.Duration(horizon)*time.Second), after, page)
		if err != nil || len(subs) == 0 {
			return n, err
		}
		err = s.st.Write(ctx, func(tx *store.Tx) error {
			sets := map[int64]store.NotificationSettingsRow{}
			for _, sub := range subs {
				set, ok := sets[sub.TenantID]
				if !ok {
					var err error
					if set, err = tx.NotificationSettings(ctx, sub.TenantID); err != nil {
						return err
					}
					sets[sub.TenantID] = set
				}
				q, err := s.remindTx(ctx, tx, set, sub, now)
				if err != nil {
					return err
				}
				n += q
			}
			return nil
		})
		if err != nil || len(subs) < page {
			return n, err
		}
		last := subs[len(subs)-1]
		after = store.SubscriptionCursor{EndsAt: *last.EndsAt, ID: last.ID}
	}
}

func (s *Service) remindTx(ctx context.Context, tx *store.Tx, set store.NotificationSettingsRow, sub controlplane.Subscription, now time.Time) (int, error) {
	if sub.EndsAt == nil || !set.Enabled(controlplane.NotifyExpiryReminder) {
		return 0, nil
	}
	end := sub.EndsAt.UTC()
	var due []int64
	for _, o := range set.ReminderOffsets {
		at := end.Add(-time.Duration(o) * time.Second)
		if at.After(now) || (sub.StartsAt != nil && !at.After(*sub.StartsAt)) {
			continue
		}
		fresh, err := tx.MarkReminder(ctx, sub.ID, end, o)
		if err != nil {
			return 0, err
		}
		if fresh {
			due = append(due, o)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	o := slices.Min(due)
	cust, err := tx.Customer(ctx, 0, sub.CustomerID)
	if err != nil {
		return 0, err
	}
	tz := "UTC"
	if b, err := tx.BillingSettings(ctx, sub.TenantID); err == nil {
		tz = b.Timezone
	}
	return s.NotifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: sub.TenantID, Kind: controlplane.NotifyExpiryReminder,
		Event: fmt.Sprintf("subscription:%d:remind:%d:%d", sub.ID, end.Unix(), o),
		To:    controlplane.Audience{Phone: cust.Phone, Email: cust.Email},
		Data: map[string]string{"name": cust.Name, "plan": sub.PlanName, "ends_at": controlplane.LocalTime(end, tz),
			"left": controlplane.HumanDuration(end.Sub(now).Round(time.Minute))}})
}
