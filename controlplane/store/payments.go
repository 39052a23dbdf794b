package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

const paymentColumns = `id, tenant_id, customer_id, subscription_id, plan_id, provider, amount_minor, currency, phone,
	receipt, status, reason, result_code, checkout_id, merchant_id, actor, applied, created_at, updated_at, completed_at`

// PaymentRow is a payment with what only the billing service sees: the
// hash of its callback token and whether its subscription got its time.
type PaymentRow struct {
	controlplane.Payment
	TokenHash string
	Applied   bool
}

func scanPayment(sc interface{ Scan(...any) error }) (PaymentRow, error) {
	var p PaymentRow
	var customer, sub, plan, code sql.NullInt64
	var completed sql.NullTime
	err := sc.Scan(&p.ID, &p.TenantID, &customer, &sub, &plan, &p.Provider, &p.Amount.Amount, &p.Amount.Currency, &p.Phone,
		&p.Receipt, &p.Status, &p.Reason, &code, &p.CheckoutRequestID, &p.MerchantRequestID, &p.Actor, &p.Applied,
		&p.CreatedAt, &p.UpdatedAt, &completed)
	p.CustomerID, p.SubscriptionID, p.PlanID = customer.Int64, sub.Int64, plan.Int64
	if code.Valid {
		c := int(code.Int64)
		p.ResultCode = &c
	}
	p.CompletedAt = timePtr(completed)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

func nullCode(c *int) any {
	if c == nil {
		return nil
	}
	return int64(*c)
}

// InsertPayment stores a new payment. ECONFLICT when the customer already
// has an STK push pending for the plan (customers who pay twice after a
// timeout are the commonest complaint), or the receipt already paid.
func (tx *Tx) InsertPayment(ctx context.Context, p PaymentRow) (PaymentRow, error) {
	t := tx.t
	var out PaymentRow
	err := t.savepoint(ctx, func() error {
		var err error
		out, err = scanPayment(t.queryRow(ctx, `INSERT INTO payments (tenant_id, customer_id, subscription_id, plan_id,
			provider, amount_minor, currency, phone, receipt, status, reason, result_code, checkout_id, merchant_id,
			token_hash, actor, created_at, updated_at, completed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18)
			RETURNING `+paymentColumns,
			p.TenantID, nullID(p.CustomerID), nullID(p.SubscriptionID), nullID(p.PlanID), p.Provider, p.Amount.Amount,
			p.Amount.Currency, p.Phone, p.Receipt, string(p.Status), p.Reason, nullCode(p.ResultCode), p.CheckoutRequestID,
			p.MerchantRequestID, p.TokenHash, p.Actor, t.now, nullTime(p.CompletedAt)))
		return err
	})
	if isUniqueViolation(err) {
		if p.Receipt != "" && (p.Status == controlplane.PaymentCompleted || p.Status == controlplane.PaymentRefunded) {
			return PaymentRow{}, controlplane.Errorf(controlplane.ECONFLICT, "receipt %s already paid", p.Receipt)
		}
		return PaymentRow{}, controlplane.Errorf(controlplane.ECONFLICT, "a payment for this plan is already waiting for the customer's PIN")
	}
	return out, err
}

// Payment returns payment id within scope, lock taking its row lock on
// PostgreSQL (SQLite's single writer serializes anyway). ENOTFOUND
// otherwise.
func (tx *Tx) Payment(ctx context.Context, scope, id int64, lock bool) (PaymentRow, error) {
	return getPayment(ctx, tx.t, scope, id, lock)
}

func getPayment(ctx context.Context, t *dbtx, scope, id int64, lock bool) (PaymentRow, error) {
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	q := `SELECT ` + paymentColumns + ` FROM payments` + w.sql()
	if lock {
		q += t.forUpdate()
	}
	p, err := scanPayment(t.queryRow(ctx, q, w.args...))
	return p, noRows(err, "payment", id)
}

// PaymentByToken returns the tenant's payment whose callback token hashes
// to tokenHash, locked. ENOTFOUND otherwise.
func (tx *Tx) PaymentByToken(ctx context.Context, tenantID int64, tokenHash string) (PaymentRow, error) {
	p, err := scanPayment(tx.t.queryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE tenant_id = $1 AND token_hash = $2`+
		tx.t.forUpdate(), tenantID, tokenHash))
	return p, noRows(err, "payment with that token", "")
}

// PaymentByCheckout returns the STK payment with the CheckoutRequestID,
// locked. ENOTFOUND otherwise.
func (tx *Tx) PaymentByCheckout(ctx context.Context, tenantID int64, checkoutID string) (PaymentRow, error) {
	p, err := scanPayment(tx.t.queryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE tenant_id = $1 AND checkout_id = $2
		AND provider = $3 AND reason <> $4 ORDER BY id LIMIT 1`+tx.t.forUpdate(), tenantID, checkoutID,
		controlplane.ProviderMpesaSTK, controlplane.FlagUnknownCheckout))
	return p, noRows(err, "payment with checkout", checkoutID)
}

// PaymentByReceipt returns the tenant's completed or refunded payment
// with the receipt. ENOTFOUND otherwise.
func (tx *Tx) PaymentByReceipt(ctx context.Context, tenantID int64, receipt string) (PaymentRow, error) {
	p, err := scanPayment(tx.t.queryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE tenant_id = $1 AND receipt = $2
		AND status IN ($3, $4)`, tenantID, receipt, string(controlplane.PaymentCompleted), string(controlplane.PaymentRefunded)))
	return p, noRows(err, "payment with receipt", receipt)
}

// UpdatePayment stores p's status, receipt, amount, result, checkout ids,
// links and applied flag. ECONFLICT (and nothing changed) when the receipt
// already paid another payment of the tenant: the unique key decides, not
// a read before the write, so concurrent callbacks cannot both win.
func (tx *Tx) UpdatePayment(ctx context.Context, p PaymentRow) (PaymentRow, error) {
	t := tx.t
	err := t.savepoint(ctx, func() error {
		_, err := t.exec(ctx, `UPDATE payments SET status = $1, receipt = $2, amount_minor = $3, currency = $4, reason = $5,
			result_code = $6, checkout_id = $7, merchant_id = $8, customer_id = $9, subscription_id = $10, plan_id = $11,
			applied = $12, phone = $13, completed_at = $14, updated_at = $15 WHERE id = $16`,
			string(p.Status), p.Receipt, p.Amount.Amount, p.Amount.Currency, p.Reason, nullCode(p.ResultCode),
			p.CheckoutRequestID, p.MerchantRequestID, nullID(p.CustomerID), nullID(p.SubscriptionID), nullID(p.PlanID),
			p.Applied, p.Phone, nullTime(p.CompletedAt), t.now, p.ID)
		return err
	})
	if isUniqueViolation(err) {
		return PaymentRow{}, controlplane.Errorf(controlplane.ECONFLICT, "receipt %s already paid another payment", p.Receipt)
	}
	if err != nil {
		return PaymentRow{}, err
	}
	return getPayment(ctx, t, 0, p.ID, false)
}

// GetPayment returns payment id within scope.
func (s *Store) GetPayment(ctx context.Context, scope, id int64) (controlplane.Payment, error) {
	p, err := read(ctx, s, func(t *dbtx) (PaymentRow, error) { return getPayment(ctx, t, scope, id, false) })
	if err != nil {
		return controlplane.Payment{}, fmt.Errorf("get payment %d: %w", id, err)
	}
	return p.Payment, nil
}

// ListPayments returns the payments within scope matching f, newest
// first, and how many match.
func (s *Store) ListPayments(ctx context.Context, scope int64, f controlplane.PaymentFilter) ([]controlplane.Payment, int, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.Provider != "" {
		w.add("provider = ?", f.Provider)
	}
	if f.CustomerID != 0 {
		w.add("customer_id = ?", f.CustomerID)
	}
	if f.SubscriptionID != 0 {
		w.add("subscription_id = ?", f.SubscriptionID)
	}
	if f.Phone != "" {
		w.add("phone = ?", f.Phone)
	}
	if !f.From.IsZero() {
		w.add("created_at >= ?", dbTime(f.From))
	}
	if !f.To.IsZero() {
		w.add("created_at < ?", dbTime(f.To))
	}
	type page struct {
		rows  []controlplane.Payment
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM payments`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		rows, err := queryAll(ctx, t, scanPayment, `SELECT `+paymentColumns+` FROM payments`+cond+` ORDER BY id DESC`+lim, w.args...)
		for _, r := range rows {
			p.rows = append(p.rows, r.Payment)
		}
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list payments: %w", err)
	}
	if p.rows == nil {
		p.rows = []controlplane.Payment{}
	}
	return p.rows, p.total, nil
}

// PendingSTK returns up to limit STK payments (every tenant) pending since
// before olderThan, oldest first.
func (s *Store) PendingSTK(ctx context.Context, olderThan time.Time, limit int) ([]PaymentRow, error) {
	return read(ctx, s, func(t *dbtx) ([]PaymentRow, error) {
		return queryAll(ctx, t, scanPayment, `SELECT `+paymentColumns+` FROM payments WHERE status = $1 AND provider = $2
			AND created_at < $3 ORDER BY created_at, id LIMIT $4`, string(controlplane.PaymentPending),
			controlplane.ProviderMpesaSTK, dbTime(olderThan), limit)
	})
}

// InsertCallback logs one provider callback.
func (tx *Tx) InsertCallback(ctx context.Context, c controlplane.Callback) error {
	_, err := tx.t.exec(ctx, `INSERT INTO payment_callbacks (tenant_id, provider, kind, remote_addr, reference, payment_id,
		outcome, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, c.TenantID, c.Provider, c.Kind, c.RemoteAddr,
		c.Reference, nullID(c.PaymentID), c.Outcome, c.Reason, tx.t.now)
	return err
}

// InsertCallback logs one provider callback in its own transaction.
func (s *Store) InsertCallback(ctx context.Context, c controlplane.Callback) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.InsertCallback(ctx, c) })
}

// ListCallbacks returns the tenant's latest logged callbacks (every
// tenant's with scope 0), newest first.
func (s *Store) ListCallbacks(ctx context.Context, scope int64, outcome string, limit, offset int) ([]controlplane.Callback, int, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if outcome != "" {
		w.add("outcome = ?", outcome)
	}
	type page struct {
		rows  []controlplane.Callback
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM payment_callbacks`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, limit, offset)
		var err error
		p.rows, err = queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (controlplane.Callback, error) {
			var c controlplane.Callback
			var pay sql.NullInt64
			err := sc.Scan(&c.ID, &c.TenantID, &c.Provider, &c.Kind, &c.RemoteAddr, &c.Reference, &pay, &c.Outcome, &c.Reason, &c.At)
			c.PaymentID, c.At = pay.Int64, c.At.UTC()
			return c, err
		}, `SELECT id, tenant_id, provider, kind, remote_addr, reference, payment_id, outcome, reason, at
			FROM payment_callbacks`+cond+` ORDER BY id DESC`+lim, w.args...)
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list callbacks: %w", err)
	}
	if p.rows == nil {
		p.rows = []controlplane.Callback{}
	}
	return p.rows, p.total, nil
}

// savepoint runs fn inside a savepoint and rolls back to it when fn
// fails, so that a unique violation the caller handles does not abort a
// PostgreSQL transaction.
func (t *dbtx) savepoint(ctx context.Context, fn func() error) error {
	if _, err := t.exec(ctx, `SAVEPOINT sp_write`); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rerr := t.exec(ctx, `ROLLBACK TO SAVEPOINT sp_write`); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err := t.exec(ctx, `RELEASE SAVEPOINT sp_write`)
	return err
}

// GetPaymentRow returns payment id with its billing-only fields.
func (s *Store) GetPaymentRow(ctx context.Context, id int64) (PaymentRow, error) {
	return read(ctx, s, func(t *dbtx) (PaymentRow, error) { return getPayment(ctx, t, 0, id, false) })
}
