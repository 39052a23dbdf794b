package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

const planColumns = `id, tenant_id, name, kind, price_minor, currency, duration, duration_s, data_cap_bytes,
	rate_limit, shared_users, grace_s, active, created_at, updated_at`

func scanPlan(sc interface{ Scan(...any) error }) (controlplane.Plan, error) {
	return scanPlanWith(sc)
}

// scanPlanWith scans planColumns and then the row's extra columns into
// extra.
func scanPlanWith(sc interface{ Scan(...any) error }, extra ...any) (controlplane.Plan, error) {
	var p controlplane.Plan
	var cap int64
	err := sc.Scan(append([]any{&p.ID, &p.TenantID, &p.Name, &p.Kind, &p.Price.Amount, &p.Price.Currency, &p.Duration,
		&p.DurationSeconds, &cap, &p.RateLimit, &p.SharedUsers, &p.GraceSeconds, &p.Active, &p.CreatedAt, &p.UpdatedAt}, extra...)...)
	p.DataCapBytes = uint64(cap)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.Profile = controlplane.PlanProfile(p.ID)
	p.Routers = []controlplane.PlanRouter{}
	return p, err
}

// InsertPlan stores a new plan. ECONFLICT for a duplicate name in the
// tenant, ENOTFOUND for an unknown tenant.
func (tx *Tx) InsertPlan(ctx context.Context, p controlplane.Plan) (controlplane.Plan, error) {
	t := tx.t
	out, err := scanPlan(t.queryRow(ctx, `INSERT INTO plans (tenant_id, name, kind, price_minor, currency, duration,
		duration_s, data_cap_bytes, rate_limit, shared_users, grace_s, active, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING `+planColumns,
		p.TenantID, p.Name, string(p.Kind), p.Price.Amount, p.Price.Currency, p.Duration, p.DurationSeconds,
		int64(p.DataCapBytes), p.RateLimit, p.SharedUsers, p.GraceSeconds, p.Active, t.now))
	switch {
	case isUniqueViolation(err):
		return controlplane.Plan{}, controlplane.Errorf(controlplane.ECONFLICT, "plan %q exists", p.Name)
	case isForeignKeyViolation(err):
		return controlplane.Plan{}, notFound("tenant", p.TenantID)
	}
	return out, err
}

// UpdatePlan stores p's mutable fields. ECONFLICT for a duplicate name.
func (tx *Tx) UpdatePlan(ctx context.Context, p controlplane.Plan) (controlplane.Plan, error) {
	t := tx.t
	_, err := t.exec(ctx, `UPDATE plans SET name = $1, price_minor = $2, duration = $3, duration_s = $4,
		data_cap_bytes = $5, rate_limit = $6, shared_users = $7, grace_s = $8, active = $9, updated_at = $10
		WHERE id = $11 AND deleted = $12`,
		p.Name, p.Price.Amount, p.Duration, p.DurationSeconds, int64(p.DataCapBytes), p.RateLimit, p.SharedUsers,
		p.GraceSeconds, p.Active, t.now, p.ID, false)
	if isUniqueViolation(err) {
		return controlplane.Plan{}, controlplane.Errorf(controlplane.ECONFLICT, "plan %q exists", p.Name)
	}
	if err != nil {
		return controlplane.Plan{}, err
	}
	return getPlan(ctx, t, 0, p.ID, false)
}

// DeletePlan marks plan id deleted (its rows stay for the payments that
// name it). ECONFLICT while subscriptions or unused or active vouchers
// use it.
func (tx *Tx) DeletePlan(ctx context.Context, id int64) error {
	var n int
	if err := tx.t.queryRow(ctx, `SELECT count(*) FROM subscriptions WHERE plan_id = $1 AND status IN ($2, $3, $4)`,
		id, string(controlplane.SubscriptionPending), string(controlplane.SubscriptionActive),
		string(controlplane.SubscriptionSuspended)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return controlplane.Errorf(controlplane.ECONFLICT, "plan %d has %d live subscriptions; deactivate it instead", id, n)
	}
	// Sold vouchers would become worthless, and active ones lose their
	// profile on the routers.
	if err := tx.t.queryRow(ctx, `SELECT count(*) FROM vouchers WHERE plan_id = $1 AND status IN ($2, $3)`,
		id, string(controlplane.VoucherUnused), string(controlplane.VoucherActive)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return controlplane.Errorf(controlplane.ECONFLICT, "plan %d has %d unused or active vouchers; deactivate it instead", id, n)
	}
	_, err := tx.t.exec(ctx, `UPDATE plans SET deleted = $1, active = $2, updated_at = $3 WHERE id = $4`, true, false, tx.t.now, id)
	if err != nil {
		return err
	}
	_, err = tx.t.exec(ctx, `DELETE FROM plan_routers WHERE plan_id = $1`, id)
	return err
}

// Plan returns plan id within scope (0: any tenant), lock taking its row
// lock on PostgreSQL. ENOTFOUND if unknown or deleted.
func (tx *Tx) Plan(ctx context.Context, scope, id int64, lock bool) (controlplane.Plan, error) {
	return getPlan(ctx, tx.t, scope, id, lock)
}

func getPlan(ctx context.Context, t *dbtx, scope, id int64, lock bool) (controlplane.Plan, error) {
	var w where
	w.add("id = ?", id)
	w.add("deleted = ?", false)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	q := `SELECT ` + planColumns + ` FROM plans` + w.sql()
	if lock {
		q += t.forUpdate()
	}
	p, err := scanPlan(t.queryRow(ctx, q, w.args...))
	if err != nil {
		return controlplane.Plan{}, noRows(err, "plan", id)
	}
	p.Routers, err = queryAll(ctx, t, scanPlanRouter, `SELECT router_id, state, message, command_id, updated_at
		FROM plan_routers WHERE plan_id = $1 ORDER BY router_id`, id)
	return p, err
}

func scanPlanRouter(sc interface{ Scan(...any) error }) (controlplane.PlanRouter, error) {
	var r controlplane.PlanRouter
	err := sc.Scan(&r.RouterID, &r.State, &r.Message, &r.CommandID, &r.UpdatedAt)
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r, err
}

// SetPlanRouter records that command c now decides the plan's profile
// state on c's router.
func (tx *Tx) SetPlanRouter(ctx context.Context, planID int64, c controlplane.Command) error {
	state, msg := syncState(c)
	_, err := tx.t.exec(ctx, `INSERT INTO plan_routers (plan_id, router_id, state, message, command_id, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (plan_id, router_id) DO UPDATE SET state = $3, message = $4, command_id = $5, updated_at = $6`,
		planID, c.RouterID, state, msg, c.ID, tx.t.now)
	if isForeignKeyViolation(err) {
		return notFound("plan", planID)
	}
	return err
}

// syncPlanState updates the profile state of the plan whose command c is
// on c's router, and returns the plan then (nil when nothing changed).
func syncPlanState(ctx context.Context, t *dbtx, c controlplane.Command) (*controlplane.Plan, error) {
	if !isProfileKind(c.Kind) {
		return nil, nil
	}
	state, msg := syncState(c)
	var planID int64
	err := t.queryRow(ctx, `UPDATE plan_routers SET state = $1, message = $2, updated_at = $3
		WHERE router_id = $4 AND command_id = $5 AND (state <> $1 OR message <> $2) RETURNING plan_id`,
		state, truncate(msg, protocol.MaxFieldLen), t.now, c.RouterID, c.ID).Scan(&planID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	p, err := getPlan(ctx, t, 0, planID, false)
	if err != nil {
		return nil, nil // deleted meanwhile
	}
	return &p, nil
}

func isProfileKind(k protocol.CommandKind) bool {
	s := string(k)
	return (strings.HasPrefix(s, "hotspot.profile.") || strings.HasPrefix(s, "ppp.profile.")) &&
		k != protocol.CmdHotspotProfileLimit && k != protocol.CmdPPPProfileLimit
}

// PlansMissingOn returns, for each router of the tenant that is not
// revoked, the plans (not deleted) that have no profile state there: a
// router enrolled after the plan was created.
func (tx *Tx) PlansMissingOn(ctx context.Context, tenantID int64) (map[string][]controlplane.Plan, error) {
	type row struct {
		router string
		plan   controlplane.Plan
	}
	rows, err := queryAll(ctx, tx.t, func(sc interface{ Scan(...any) error }) (row, error) {
		var x row
		var err error
		x.plan, err = scanPlanWith(sc, &x.router)
		return x, err
	}, `SELECT `+qualified(planColumns, "p")+`, r.id
		FROM routers r JOIN plans p ON p.tenant_id = r.tenant_id AND p.deleted = $1
		WHERE r.tenant_id = $2 AND r.status <> $3
		  AND NOT EXISTS (SELECT 1 FROM plan_routers pr WHERE pr.plan_id = p.id AND pr.router_id = r.id)
		ORDER BY r.id, p.id`, false, tenantID, controlplane.RouterRevoked)
	if err != nil {
		return nil, err
	}
	out := map[string][]controlplane.Plan{}
	for _, x := range rows {
		out[x.router] = append(out[x.router], x.plan)
	}
	return out, nil
}

// TenantsWithPlans returns the tenants that have plans.
func (s *Store) TenantsWithPlans(ctx context.Context) ([]int64, error) {
	return read(ctx, s, func(t *dbtx) ([]int64, error) {
		return queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (int64, error) {
			var id int64
			return id, sc.Scan(&id)
		}, `SELECT DISTINCT tenant_id FROM plans WHERE deleted = $1 ORDER BY tenant_id`, false)
	})
}

// GetPlan returns plan id within scope. ENOTFOUND otherwise.
func (s *Store) GetPlan(ctx context.Context, scope, id int64) (controlplane.Plan, error) {
	p, err := read(ctx, s, func(t *dbtx) (controlplane.Plan, error) { return getPlan(ctx, t, scope, id, false) })
	if err != nil {
		return controlplane.Plan{}, fmt.Errorf("get plan %d: %w", id, err)
	}
	return p, nil
}

// ListPlans returns the plans within scope matching f, by kind, price and
// name, with their routers, and how many match.
func (s *Store) ListPlans(ctx context.Context, scope int64, f controlplane.PlanFilter) ([]controlplane.Plan, int, error) {
	var w where
	w.add("deleted = ?", false)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if f.Kind != "" {
		w.add("kind = ?", string(f.Kind))
	}
	if f.ActiveOnly {
		w.add("active = ?", true)
	}
	type page struct {
		rows  []controlplane.Plan
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM plans`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		var err error
		if p.rows, err = queryAll(ctx, t, scanPlan, `SELECT `+planColumns+` FROM plans`+cond+
			` ORDER BY kind, price_minor, name, id`+lim, w.args...); err != nil {
			return p, err
		}
		ids := make([]int64, len(p.rows))
		for i := range p.rows {
			ids[i] = p.rows[i].ID
		}
		byPlan, err := syncRows(ctx, t, "plan_routers", "plan_id", ids)
		for i := range p.rows {
			if rs := byPlan[p.rows[i].ID]; rs != nil {
				p.rows[i].Routers = rs
			}
		}
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list plans: %w", err)
	}
	return p.rows, p.total, nil
}

// qualified prefixes each of a comma-separated column list with alias, for
// a join.
func qualified(cols, alias string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
