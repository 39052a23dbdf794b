package billing

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// passwordAlphabet leaves out look-alikes (0/o, 1/l/i): customers type
// these on phones.
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

func newPassword() string {
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = passwordAlphabet[int(b[i])%len(passwordAlphabet)]
	}
	return string(b)
}

// reconnect puts subscription id's account on the tenant's routers as the
// subscription is now: created on the first payment, renewed (a new
// expiry, enabled again: the reconnection) after that. Already as asked →
// nothing is queued, so a retried job sends no second set of commands.
func (s *Service) reconnect(ctx context.Context, a reconnectArgs) error {
	id := a.SubscriptionID
	var res controlplane.AccountResult
	var op string
	var sub controlplane.Subscription
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if sub, err = tx.Subscription(ctx, 0, id, true); err != nil {
			return err
		}
		if sub.Status != controlplane.SubscriptionActive || sub.EndsAt == nil {
			return nil // expired, suspended or cancelled meanwhile
		}
		plan, err := tx.Plan(ctx, 0, sub.PlanID, false)
		if err != nil {
			return err
		}
		cust, err := tx.Customer(ctx, 0, sub.CustomerID)
		if err != nil {
			return err
		}
		kind := plan.Kind.AccountKind()
		until := sub.EndsAt.Add(time.Duration(plan.GraceSeconds) * time.Second)
		want := controlplane.Account{ID: sub.AccountID, TenantID: sub.TenantID, Kind: kind, Profile: plan.Profile,
			ExpiresAt: &until, Phone: cust.Phone, Email: cust.Email,
			Comment: fmt.Sprintf("SitePulse subscription %d", sub.ID)}
		if sub.AccountID != 0 {
			a, err := tx.Account(ctx, 0, sub.AccountID, false)
			if err != nil {
				return err
			}
			want.Name, want.Password, want.Service = a.Name, a.Password, a.Service
		} else {
			if want.Name, err = s.username(ctx, tx, sub, cust, kind); err != nil {
				return err
			}
			want.Password = newPassword()
		}
		all, err := tx.Routers(ctx, sub.TenantID)
		if err != nil {
			return err
		}
		var routers []controlplane.Router
		for _, r := range all {
			if r.Status != controlplane.RouterRevoked {
				routers = append(routers, r)
			}
		}
		if res, op, err = s.prov.ApplyAccountTx(ctx, tx, system, want, routers); err != nil {
			return err
		}
		tz := "UTC"
		if set, err := tx.BillingSettings(ctx, sub.TenantID); err == nil {
			tz = set.Timezone
		}
		to := controlplane.Audience{Phone: cust.Phone, Email: cust.Email}
		if sub.AccountID == 0 {
			sub.AccountID, sub.Username = res.Account.ID, res.Account.Name
			if sub, err = tx.UpdateSubscription(ctx, sub); err != nil {
				return err
			}
			// The login goes by SMS only: email is not where a password
			// should travel.
			if err := s.notifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: sub.TenantID, Kind: controlplane.NotifyCredentials,
				Event: fmt.Sprintf("subscription:%d:credentials", sub.ID), To: controlplane.Audience{Phone: cust.Phone},
				Data: map[string]string{"plan": plan.Name, "username": res.Account.Name, "password": want.Password}}); err != nil {
				return err
			}
		} else if a.Reconnected {
			if err := s.notifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: sub.TenantID, Kind: controlplane.NotifyReconnected,
				Event: fmt.Sprintf("payment:%d:reconnected", a.PaymentID), To: to,
				Data: map[string]string{"plan": plan.Name, "ends_at": controlplane.LocalTime(*sub.EndsAt, tz)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reconnect subscription %d: %w", id, err)
	}
	s.prov.Announce(op, res)
	return nil
}

// username is a new account's login: the customer's number as M-Pesa
// writes it (what C2B payers type as the account), or with the
// subscription id when the tenant already has an account of that name.
func (s *Service) username(ctx context.Context, tx *store.Tx, sub controlplane.Subscription, c controlplane.Customer,
	kind controlplane.AccountKind) (string, error) {
	name := controlplane.MSISDN(c.Phone)
	taken, err := tx.UsernameTaken(ctx, sub.TenantID, kind, name)
	if err != nil || !taken {
		return name, err
	}
	return fmt.Sprintf("%s-%d", name, sub.ID), nil
}

// ExpireDue expires the active subscriptions whose time (plus grace) is
// over or whose data cap is reached: their accounts are disabled and
// kicked on their routers. It returns how many it expired.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	n := 0
	due, err := s.st.DueSubscriptions(ctx, s.now(), 200)
	if err != nil {
		return 0, err
	}
	for _, sub := range due {
		ok, err := s.endSubscription(ctx, sub.ID, controlplane.SubscriptionExpired, controlplane.ExpiredTime, true)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	capped, err := s.st.CappedSubscriptions(ctx, 200)
	if err != nil {
		return n, err
	}
	for _, c := range capped {
		ok, err := s.endSubscription(ctx, c.Subscription.ID, controlplane.SubscriptionExpired, controlplane.ExpiredDataCap, false)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// endSubscription moves an active subscription to status (expired,
// suspended, cancelled) with reason and disables its account. onlyIfDue
// re-checks the end under the row lock (a renewal may have come in).
func (s *Service) endSubscription(ctx context.Context, id int64, status controlplane.SubscriptionStatus, reason string, onlyIfDue bool) (bool, error) {
	var res controlplane.AccountResult
	var sub controlplane.Subscription
	done := false
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if sub, err = tx.Subscription(ctx, 0, id, true); err != nil {
			return err
		}
		if sub.Status == status || sub.Status == controlplane.SubscriptionCancelled {
			return nil
		}
		if onlyIfDue {
			plan, err := tx.Plan(ctx, 0, sub.PlanID, false)
			if err != nil {
				return err
			}
			if sub.Status != controlplane.SubscriptionActive || sub.EndsAt == nil ||
				sub.EndsAt.Add(time.Duration(plan.GraceSeconds)*time.Second).After(tx.Now()) {
				return nil
			}
		}
		sub.Status, sub.Reason = status, reason
		if sub, err = tx.UpdateSubscription(ctx, sub); err != nil {
			return err
		}
		done = true
		if sub.AccountID != 0 {
			why := fmt.Sprintf("subscription %d %s (%s)", sub.ID, status, reason)
			if res, _, err = s.prov.ExpireAccountTx(ctx, tx, sub.AccountID, why); err != nil &&
				controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
				return err
			}
		}
		if status == controlplane.SubscriptionExpired && s.o.Notifier != nil {
			cust, err := tx.Customer(ctx, 0, sub.CustomerID)
			if err != nil {
				return err
			}
			end := int64(0)
			if sub.EndsAt != nil {
				end = sub.EndsAt.Unix()
			}
			why := ""
			if reason == controlplane.ExpiredDataCap {
				why = "data limit reached"
			}
			if err := s.notifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: sub.TenantID, Kind: controlplane.NotifyExpired,
				Event: fmt.Sprintf("subscription:%d:expired:%d", sub.ID, end), To: controlplane.Audience{Phone: cust.Phone, Email: cust.Email},
				Data: map[string]string{"plan": sub.PlanName, "reason": why}}); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: sub.TenantID, Actor: system.Email,
			Action: "subscription." + string(status), Target: fmt.Sprintf("subscription:%d", sub.ID), Result: "ok", Detail: reason})
	})
	if err != nil {
		return false, fmt.Errorf("end subscription %d: %w", id, err)
	}
	if done {
		if status == controlplane.SubscriptionExpired {
			s.m.expired.WithLabelValues(reason).Inc()
		}
		s.publish(controlplane.SubscriptionChanged{Subscription: sub})
		if res.Account.ID != 0 {
			s.prov.Announce(controlplane.AccountUpdated, res)
		}
	}
	return done, nil
}

// SetSubscriptionStatus suspends (active → suspended), resumes (suspended
// → active, if time is left) or cancels a subscription. Tenant admins
// only; ECONFLICT for a move its state does not allow.
func (s *Service) SetSubscriptionStatus(ctx context.Context, p controlplane.Principal, id int64, to controlplane.SubscriptionStatus) (controlplane.Subscription, error) {
	if err := needManage(p, "suspend or cancel subscriptions"); err != nil {
		return controlplane.Subscription{}, err
	}
	sub, err := s.st.GetSubscription(ctx, p.Scope(), id)
	if err != nil {
		return controlplane.Subscription{}, err
	}
	switch {
	case to == controlplane.SubscriptionSuspended && sub.Status == controlplane.SubscriptionActive,
		to == controlplane.SubscriptionCancelled && sub.Status != controlplane.SubscriptionCancelled:
		reason := "by " + p.Email
		if _, err := s.endSubscription(ctx, id, to, reason, false); err != nil {
			return controlplane.Subscription{}, err
		}
	case to == controlplane.SubscriptionActive && sub.Status == controlplane.SubscriptionSuspended:
		if sub.EndsAt == nil || !sub.EndsAt.After(s.now()) {
			return controlplane.Subscription{}, controlplane.Errorf(controlplane.ECONFLICT, "subscription %d has no time left; a payment renews it", id)
		}
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			cur, err := tx.Subscription(ctx, 0, id, true)
			if err != nil {
				return err
			}
			if cur.Status != controlplane.SubscriptionSuspended {
				return controlplane.Errorf(controlplane.ECONFLICT, "subscription %d is %s", id, cur.Status)
			}
			cur.Status, cur.Reason = controlplane.SubscriptionActive, ""
			if sub, err = tx.UpdateSubscription(ctx, cur); err != nil {
				return err
			}
			if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: sub.TenantID, ActorID: p.UserID, Actor: p.Email,
				Action: "subscription.resume", Target: fmt.Sprintf("subscription:%d", id), Result: "ok"}); err != nil {
				return err
			}
			return s.prov.InsertJobsTx(ctx, tx, reconnectArgs{SubscriptionID: id})
		})
		if err != nil {
			return controlplane.Subscription{}, fmt.Errorf("resume subscription %d: %w", id, err)
		}
		s.publish(controlplane.SubscriptionChanged{Subscription: sub, Renewed: true})
		return sub, nil
	default:
		return controlplane.Subscription{}, controlplane.Errorf(controlplane.ECONFLICT, "subscription %d is %s; cannot become %s", id, sub.Status, to)
	}
	return s.st.GetSubscription(ctx, 0, id)
}

// Credentials returns a subscription's login for staff who must read it
// to the customer; the access is audited. EFORBIDDEN for viewers;
// ENOTFOUND before the first payment created the account.
func (s *Service) Credentials(ctx context.Context, p controlplane.Principal, id int64) (controlplane.Credentials, error) {
	if err := needMutate(p, "read credentials"); err != nil {
		return controlplane.Credentials{}, err
	}
	var c controlplane.Credentials
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		sub, err := tx.Subscription(ctx, p.Scope(), id, false)
		if err != nil {
			return err
		}
		if sub.AccountID == 0 {
			return controlplane.Errorf(controlplane.ENOTFOUND, "subscription %d has no account yet (not paid)", id)
		}
		a, err := tx.Account(ctx, 0, sub.AccountID, false)
		if err != nil {
			return err
		}
		c = controlplane.Credentials{Username: a.Name, Password: a.Password}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: sub.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "subscription.credentials", Target: fmt.Sprintf("subscription:%d", id), Result: "ok"})
	})
	return c, err
}

// PaymentCredentials returns the login a completed payment of tenant
// gave: the captive portal logs the device in with it once the payment's
// subscription has its account. ENOTFOUND for another tenant's payment;
// ECONFLICT while it is not completed or the account is not made yet
// (ask again).
func (s *Service) PaymentCredentials(ctx context.Context, tenant, paymentID int64) (controlplane.Credentials, error) {
	var c controlplane.Credentials
	err := s.st.ReadTx(ctx, func(tx *store.Tx) error {
		pay, err := tx.Payment(ctx, tenant, paymentID, false)
		if err != nil {
			return err
		}
		if pay.Status != controlplane.PaymentCompleted {
			return controlplane.Errorf(controlplane.ECONFLICT, "payment %d is %s", paymentID, pay.Status)
		}
		sub, err := tx.Subscription(ctx, tenant, pay.SubscriptionID, false)
		if err != nil {
			return err
		}
		if sub.AccountID == 0 {
			return controlplane.Errorf(controlplane.ECONFLICT, "payment %d: the account is being created", paymentID)
		}
		a, err := tx.Account(ctx, 0, sub.AccountID, false)
		if err != nil {
			return err
		}
		c = controlplane.Credentials{Username: a.Name, Password: a.Password}
		return nil
	})
	return c, err
}
