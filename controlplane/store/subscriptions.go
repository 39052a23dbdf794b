package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

const subscriptionColumns = `s.id, s.tenant_id, s.customer_id, s.plan_id, p.name, s.status, s.account_id, s.username,
	s.starts_at, s.ends_at, s.reason, s.created_at, s.updated_at`

const subscriptionFrom = ` FROM subscriptions s JOIN plans p ON p.id = s.plan_id`

func scanSubscription(sc interface{ Scan(...any) error }) (controlplane.Subscription, error) {
	return scanSubscriptionWith(sc)
}

// scanSubscriptionWith scans subscriptionColumns and then the row's extra
// columns into extra.
func scanSubscriptionWith(sc interface{ Scan(...any) error }, extra ...any) (controlplane.Subscription, error) {
	var s controlplane.Subscription
	var account sql.NullInt64
	var starts, ends sql.NullTime
	err := sc.Scan(append([]any{&s.ID, &s.TenantID, &s.CustomerID, &s.PlanID, &s.PlanName, &s.Status, &account, &s.Username,
		&starts, &ends, &s.Reason, &s.CreatedAt, &s.UpdatedAt}, extra...)...)
	s.AccountID, s.StartsAt, s.EndsAt = account.Int64, timePtr(starts), timePtr(ends)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, err
}

// OpenSubscription returns the customer's subscription of the plan that
// is not cancelled, creating it pending payment. created reports which.
func (tx *Tx) OpenSubscription(ctx context.Context, tenantID, customerID, planID int64) (sub controlplane.Subscription, created bool, err error) {
	t := tx.t
	res, err := t.exec(ctx, `INSERT INTO subscriptions (tenant_id, customer_id, plan_id, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (customer_id, plan_id) WHERE status <> 'cancelled' DO NOTHING`,
		tenantID, customerID, planID, string(controlplane.SubscriptionPending), t.now)
	if err != nil {
		return sub, false, err
	}
	n, _ := res.RowsAffected()
	sub, err = scanSubscription(t.queryRow(ctx, `SELECT `+subscriptionColumns+subscriptionFrom+`
		WHERE s.customer_id = $1 AND s.plan_id = $2 AND s.status <> 'cancelled'`, customerID, planID))
	return sub, n > 0, err
}

// Subscription returns subscription id within scope, lock taking its row
// lock on PostgreSQL. ENOTFOUND otherwise.
func (tx *Tx) Subscription(ctx context.Context, scope, id int64, lock bool) (controlplane.Subscription, error) {
	return getSubscription(ctx, tx.t, scope, id, lock)
}

func getSubscription(ctx context.Context, t *dbtx, scope, id int64, lock bool) (controlplane.Subscription, error) {
	var w where
	w.add("s.id = ?", id)
	if scope != 0 {
		w.add("s.tenant_id = ?", scope)
	}
	q := `SELECT ` + subscriptionColumns + subscriptionFrom + w.sql()
	if lock && t.dialect == DialectPostgres {
		q += " FOR UPDATE OF s"
	}
	s, err := scanSubscription(t.queryRow(ctx, q, w.args...))
	return s, noRows(err, "subscription", id)
}

// UpdateSubscription stores s's status, account, username, period and
// reason.
func (tx *Tx) UpdateSubscription(ctx context.Context, s controlplane.Subscription) (controlplane.Subscription, error) {
	t := tx.t
	_, err := t.exec(ctx, `UPDATE subscriptions SET status = $1, account_id = $2, username = $3, starts_at = $4,
		ends_at = $5, reason = $6, updated_at = $7 WHERE id = $8`,
		string(s.Status), nullID(s.AccountID), s.Username, nullTime(s.StartsAt), nullTime(s.EndsAt), s.Reason, t.now, s.ID)
	if err != nil {
		return controlplane.Subscription{}, err
	}
	return getSubscription(ctx, t, 0, s.ID, false)
}

// SubscriptionByUsername returns the tenant's subscription whose account
// is named username (what a C2B payer types as the account number).
func (tx *Tx) SubscriptionByUsername(ctx context.Context, tenantID int64, username string) (controlplane.Subscription, error) {
	s, err := scanSubscription(tx.t.queryRow(ctx, `SELECT `+subscriptionColumns+subscriptionFrom+`
		WHERE s.tenant_id = $1 AND lower(s.username) = lower($2) AND s.status <> 'cancelled' ORDER BY s.id DESC LIMIT 1`,
		tenantID, username))
	return s, noRows(err, "subscription of account", username)
}

// LatestSubscription returns the customer's most recently updated
// subscription that is not cancelled.
func (tx *Tx) LatestSubscription(ctx context.Context, customerID int64) (controlplane.Subscription, error) {
	s, err := scanSubscription(tx.t.queryRow(ctx, `SELECT `+subscriptionColumns+subscriptionFrom+`
		WHERE s.customer_id = $1 AND s.status <> 'cancelled' ORDER BY s.updated_at DESC, s.id DESC LIMIT 1`, customerID))
	return s, noRows(err, "subscription of customer", customerID)
}

// UsernameTaken reports whether the tenant has an account of kind named
// name.
func (tx *Tx) UsernameTaken(ctx context.Context, tenantID int64, kind controlplane.AccountKind, name string) (bool, error) {
	var n int
	err := tx.t.queryRow(ctx, `SELECT count(*) FROM accounts WHERE tenant_id = $1 AND kind = $2 AND name = $3`,
		tenantID, string(kind), name).Scan(&n)
	return n > 0, err
}

// CountActiveSubscriptions counts the tenant's active subscriptions (every
// tenant's with 0).
func (tx *Tx) CountActiveSubscriptions(ctx context.Context, tenantID int64) (int, error) {
	var w where
	w.add("status = ?", string(controlplane.SubscriptionActive))
	if tenantID != 0 {
		w.add("tenant_id = ?", tenantID)
	}
	var n int
	err := tx.t.queryRow(ctx, `SELECT count(*) FROM subscriptions`+w.sql(), w.args...).Scan(&n)
	return n, err
}

// GetSubscription returns subscription id within scope.
func (s *Store) GetSubscription(ctx context.Context, scope, id int64) (controlplane.Subscription, error) {
	sub, err := read(ctx, s, func(t *dbtx) (controlplane.Subscription, error) { return getSubscription(ctx, t, scope, id, false) })
	if err != nil {
		return controlplane.Subscription{}, fmt.Errorf("get subscription %d: %w", id, err)
	}
	return sub, nil
}

// ListSubscriptions returns the subscriptions within scope matching f,
// newest first, and how many match.
func (s *Store) ListSubscriptions(ctx context.Context, scope int64, f controlplane.SubscriptionFilter) ([]controlplane.Subscription, int, error) {
	var w where
	if scope != 0 {
		w.add("s.tenant_id = ?", scope)
	}
	if f.CustomerID != 0 {
		w.add("s.customer_id = ?", f.CustomerID)
	}
	if f.PlanID != 0 {
		w.add("s.plan_id = ?", f.PlanID)
	}
	if f.Status != "" {
		w.add("s.status = ?", string(f.Status))
	}
	type page struct {
		rows  []controlplane.Subscription
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM subscriptions s`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		var err error
		p.rows, err = queryAll(ctx, t, scanSubscription, `SELECT `+subscriptionColumns+subscriptionFrom+cond+` ORDER BY s.id DESC`+lim, w.args...)
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list subscriptions: %w", err)
	}
	return p.rows, p.total, nil
}

// DueSubscriptions returns up to limit active subscriptions (every tenant)
// whose end plus their plan's grace is at or before now, earliest first.
func (s *Store) DueSubscriptions(ctx context.Context, now time.Time, limit int) ([]controlplane.Subscription, error) {
	return read(ctx, s, func(t *dbtx) ([]controlplane.Subscription, error) {
		// The grace is added in Go: the dialects' interval arithmetic
		// differs, and active subscriptions with a near end are few.
		type due struct {
			s     controlplane.Subscription
			grace int64
		}
		rows, err := queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (due, error) {
			var x due
			var err error
			x.s, err = scanSubscriptionWith(sc, &x.grace)
			return x, err
		}, `SELECT `+subscriptionColumns+`, p.grace_s`+subscriptionFrom+`
			WHERE s.status = $1 AND s.ends_at <= $2 ORDER BY s.ends_at, s.id LIMIT $3`,
			string(controlplane.SubscriptionActive), dbTime(now), limit*4)
		if err != nil {
			return nil, err
		}
		var out []controlplane.Subscription
		for _, x := range rows {
			if x.s.EndsAt != nil && !x.s.EndsAt.Add(time.Duration(x.grace)*time.Second).After(now) && len(out) < limit {
				out = append(out, x.s)
			}
		}
		return out, nil
	})
}

// CappedSubscription is an active subscription with a data cap and the
// bytes its account's sessions moved since it started.
type CappedSubscription struct {
	Subscription controlplane.Subscription
	CapBytes     uint64
	UsedBytes    uint64
}

// CappedSubscriptions returns the active subscriptions with a data cap
// that their sessions (ended since the subscription started, and live)
// have reached.
func (s *Store) CappedSubscriptions(ctx context.Context, limit int) ([]CappedSubscription, error) {
	return read(ctx, s, func(t *dbtx) ([]CappedSubscription, error) {
		return queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (CappedSubscription, error) {
			var x CappedSubscription
			var capB, used int64
			var err error
			x.Subscription, err = scanSubscriptionWith(sc, &capB, &used)
			x.CapBytes, x.UsedBytes = uint64(capB), uint64(used)
			return x, err
		}, `SELECT * FROM (SELECT `+subscriptionColumns+`, p.data_cap_bytes,
				COALESCE((SELECT sum(h.bytes_in + h.bytes_out) FROM session_history h
					WHERE h.tenant_id = s.tenant_id AND h.username = s.username AND h.started_at >= s.starts_at), 0) +
				COALESCE((SELECT sum(l.bytes_in + l.bytes_out) FROM sessions l
					WHERE l.tenant_id = s.tenant_id AND l.username = s.username AND l.started_at >= s.starts_at), 0) AS used`+
			subscriptionFrom+` WHERE s.status = $1 AND p.data_cap_bytes > 0 AND s.username <> '') x
			WHERE x.used >= x.data_cap_bytes LIMIT $2`, string(controlplane.SubscriptionActive), limit)
	})
}

// SubscriptionsMissingRouters returns the tenant's active subscriptions
// whose account is not on every router of the tenant that is not revoked
// (routers enrolled after the account was made).
func (tx *Tx) SubscriptionsMissingRouters(ctx context.Context, tenantID int64) ([]int64, error) {
	return queryAll(ctx, tx.t, func(sc interface{ Scan(...any) error }) (int64, error) {
		var id int64
		return id, sc.Scan(&id)
	}, `SELECT s.id FROM subscriptions s WHERE s.tenant_id = $1 AND s.status = $2 AND s.account_id IS NOT NULL
		AND EXISTS (SELECT 1 FROM routers r WHERE r.tenant_id = s.tenant_id AND r.status <> $3
			AND NOT EXISTS (SELECT 1 FROM account_routers ar WHERE ar.account_id = s.account_id AND ar.router_id = r.id))
		ORDER BY s.id`, tenantID, string(controlplane.SubscriptionActive), controlplane.RouterRevoked)
}
