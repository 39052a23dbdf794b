package store

import (
	"context"
	"fmt"

	"github.com/sitepulse/sitepulse/controlplane"
)

const customerColumns = `c.id, c.tenant_id, c.phone, c.name, c.email, c.created_at, c.updated_at,
	(SELECT count(*) FROM subscriptions s WHERE s.customer_id = c.id AND s.status = 'active')`

func scanCustomer(sc interface{ Scan(...any) error }) (controlplane.Customer, error) {
	var c controlplane.Customer
	err := sc.Scan(&c.ID, &c.TenantID, &c.Phone, &c.Name, &c.Email, &c.CreatedAt, &c.UpdatedAt, &c.ActiveSubscriptions)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// UpsertCustomer returns the tenant's customer with c.Phone, creating it,
// or filling in a name or email it did not have. It reports whether it
// changed anything. Phone must be E.164 already.
func (tx *Tx) UpsertCustomer(ctx context.Context, c controlplane.Customer) (controlplane.Customer, bool, error) {
	t := tx.t
	// ON CONFLICT keeps two purchases by a new phone from racing into a
	// unique violation (which would abort a PostgreSQL transaction).
	res, err := t.exec(ctx, `INSERT INTO customers (tenant_id, phone, name, email, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant_id, phone) DO NOTHING`, c.TenantID, c.Phone, c.Name, c.Email, t.now)
	if isForeignKeyViolation(err) {
		return controlplane.Customer{}, false, notFound("tenant", c.TenantID)
	}
	if err != nil {
		return controlplane.Customer{}, false, err
	}
	n, _ := res.RowsAffected()
	changed := n > 0
	if !changed && (c.Name != "" || c.Email != "") {
		res, err := t.exec(ctx, `UPDATE customers SET name = CASE WHEN $1 <> '' THEN $1 ELSE name END,
			email = CASE WHEN $2 <> '' THEN $2 ELSE email END, updated_at = $3
			WHERE tenant_id = $4 AND phone = $5 AND (($1 <> '' AND name <> $1) OR ($2 <> '' AND email <> $2))`,
			c.Name, c.Email, t.now, c.TenantID, c.Phone)
		if err != nil {
			return controlplane.Customer{}, false, err
		}
		n, _ := res.RowsAffected()
		changed = n > 0
	}
	out, err := scanCustomer(t.queryRow(ctx, `SELECT `+customerColumns+` FROM customers c WHERE c.tenant_id = $1 AND c.phone = $2`,
		c.TenantID, c.Phone))
	return out, changed, err
}

// Customer returns customer id within scope. ENOTFOUND otherwise.
func (tx *Tx) Customer(ctx context.Context, scope, id int64) (controlplane.Customer, error) {
	return getCustomer(ctx, tx.t, scope, id)
}

// CustomerByPhone returns the tenant's customer with the E.164 phone.
func (tx *Tx) CustomerByPhone(ctx context.Context, tenantID int64, phone string) (controlplane.Customer, error) {
	c, err := scanCustomer(tx.t.queryRow(ctx, `SELECT `+customerColumns+` FROM customers c WHERE c.tenant_id = $1 AND c.phone = $2`,
		tenantID, phone))
	return c, noRows(err, "customer", phone)
}

func getCustomer(ctx context.Context, t *dbtx, scope, id int64) (controlplane.Customer, error) {
	var w where
	w.add("c.id = ?", id)
	if scope != 0 {
		w.add("c.tenant_id = ?", scope)
	}
	c, err := scanCustomer(t.queryRow(ctx, `SELECT `+customerColumns+` FROM customers c`+w.sql(), w.args...))
	return c, noRows(err, "customer", id)
}

// GetCustomer returns customer id within scope. ENOTFOUND otherwise.
func (s *Store) GetCustomer(ctx context.Context, scope, id int64) (controlplane.Customer, error) {
	c, err := read(ctx, s, func(t *dbtx) (controlplane.Customer, error) { return getCustomer(ctx, t, scope, id) })
	if err != nil {
		return controlplane.Customer{}, fmt.Errorf("get customer %d: %w", id, err)
	}
	return c, nil
}

// ListCustomers returns the customers within scope matching f, newest
// first, and how many match.
func (s *Store) ListCustomers(ctx context.Context, scope int64, f controlplane.CustomerFilter) ([]controlplane.Customer, int, error) {
	var w where
	if scope != 0 {
		w.add("c.tenant_id = ?", scope)
	}
	if f.Query != "" {
		q := likeSubstring(f.Query)
		w.args = append(w.args, q)
		n := len(w.args)
		w.conds = append(w.conds, fmt.Sprintf(`(lower(c.phone) LIKE $%d ESCAPE '\' OR lower(c.name) LIKE $%d ESCAPE '\')`, n, n))
	}
	type page struct {
		rows  []controlplane.Customer
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM customers c`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		var err error
		p.rows, err = queryAll(ctx, t, scanCustomer, `SELECT `+customerColumns+` FROM customers c`+cond+` ORDER BY c.id DESC`+lim, w.args...)
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list customers: %w", err)
	}
	return p.rows, p.total, nil
}
