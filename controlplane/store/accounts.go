package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

const accountColumns = `id, tenant_id, kind, name, password, profile, service, limit_uptime, limit_bytes_total,
	expires_at, disabled, expired, phone, email, comment, created_at, updated_at`

func scanAccount(sc interface{ Scan(...any) error }) (controlplane.Account, error) {
	var a controlplane.Account
	var bytes int64
	var expires sql.NullTime
	err := sc.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Name, &a.Password, &a.Profile, &a.Service, &a.LimitUptime, &bytes,
		&expires, &a.Disabled, &a.Expired, &a.Phone, &a.Email, &a.Comment, &a.CreatedAt, &a.UpdatedAt)
	a.LimitBytesTotal, a.ExpiresAt = uint64(bytes), timePtr(expires)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	a.Routers = []controlplane.AccountRouter{}
	return a, err
}

func scanAccountRouter(sc interface{ Scan(...any) error }) (controlplane.AccountRouter, error) {
	var r controlplane.AccountRouter
	err := sc.Scan(&r.RouterID, &r.State, &r.Message, &r.CommandID, &r.UpdatedAt)
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r, err
}

// accountArgs returns a's mutable fields in the order of the INSERT and
// UPDATE statements below.
func accountArgs(a controlplane.Account) []any {
	return []any{a.Password, a.Profile, a.Service, a.LimitUptime, int64(a.LimitBytesTotal), nullTime(a.ExpiresAt),
		a.Disabled, a.Expired, a.Phone, a.Email, a.Comment}
}

func validateAccount(a controlplane.Account) error {
	if !a.Kind.Valid() {
		return controlplane.Errorf(controlplane.EINVALID, "account kind must be hotspot or ppp")
	}
	if strings.TrimSpace(a.Name) == "" {
		return controlplane.Errorf(controlplane.EINVALID, "account name is required")
	}
	return nil
}

// InsertAccount stores a new account of a.TenantID without routers and
// returns it. ECONFLICT if the tenant has an account of that kind and name,
// ENOTFOUND if the tenant does not exist.
func (tx *Tx) InsertAccount(ctx context.Context, a controlplane.Account) (controlplane.Account, error) {
	if err := validateAccount(a); err != nil {
		return controlplane.Account{}, err
	}
	t := tx.t
	out, err := scanAccount(t.queryRow(ctx, `INSERT INTO accounts (tenant_id, kind, name, password, profile, service,
		limit_uptime, limit_bytes_total, expires_at, disabled, expired, phone, email, comment, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING `+accountColumns,
		append(append([]any{a.TenantID, string(a.Kind), a.Name}, accountArgs(a)...), t.now)...))
	switch {
	case isUniqueViolation(err):
		return controlplane.Account{}, controlplane.Errorf(controlplane.ECONFLICT, "%s account %q exists", a.Kind, a.Name)
	case isForeignKeyViolation(err):
		return controlplane.Account{}, notFound("tenant", a.TenantID)
	}
	return out, err
}

// Account returns account id with its routers if it lies within scope;
// lock takes its row lock on PostgreSQL. ENOTFOUND otherwise.
func (tx *Tx) Account(ctx context.Context, scope, id int64, lock bool) (controlplane.Account, error) {
	return getAccount(ctx, tx.t, scope, id, lock)
}

func getAccount(ctx context.Context, t *dbtx, scope, id int64, lock bool) (controlplane.Account, error) {
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	q := `SELECT ` + accountColumns + ` FROM accounts` + w.sql()
	if lock {
		q += t.forUpdate()
	}
	a, err := scanAccount(t.queryRow(ctx, q, w.args...))
	if err != nil {
		return controlplane.Account{}, noRows(err, "account", id)
	}
	a.Routers, err = queryAll(ctx, t, scanAccountRouter, `SELECT router_id, state, message, command_id, updated_at
		FROM account_routers WHERE account_id = $1 ORDER BY router_id`, id)
	return a, err
}

// UpdateAccount stores a's mutable fields (everything but tenant, kind and
// name) and returns the account with its routers. ENOTFOUND if unknown.
func (tx *Tx) UpdateAccount(ctx context.Context, a controlplane.Account) (controlplane.Account, error) {
	t := tx.t
	res, err := t.exec(ctx, `UPDATE accounts SET password = $1, profile = $2, service = $3, limit_uptime = $4,
		limit_bytes_total = $5, expires_at = $6, disabled = $7, expired = $8, phone = $9, email = $10, comment = $11,
		updated_at = $12 WHERE id = $13`, append(accountArgs(a), t.now, a.ID)...)
	if err != nil {
		return controlplane.Account{}, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = notFound("account", a.ID)
		}
		return controlplane.Account{}, err
	}
	return getAccount(ctx, t, 0, a.ID, false)
}

// DeleteAccount deletes account id and its router states. The commands
// that remove it from its routers keep running; they are recorded on their
// own rows. ENOTFOUND if unknown.
func (tx *Tx) DeleteAccount(ctx context.Context, id int64) error {
	res, err := tx.t.exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
	if err != nil {
		return err
	}
	// account_routers rows go with it (ON DELETE CASCADE; SQLite's
	// foreign_keys pragma is set on every connection).
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = notFound("account", id)
		}
		return err
	}
	return nil
}

// SetAccountRouter records that command c now decides the account's sync
// state on c's router (pending until it finishes), adding the router to the
// account if needed.
func (tx *Tx) SetAccountRouter(ctx context.Context, accountID int64, c controlplane.Command) error {
	state, msg := syncState(c)
	_, err := tx.t.exec(ctx, `INSERT INTO account_routers (account_id, router_id, state, message, command_id, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (account_id, router_id) DO UPDATE SET state = $3, message = $4, command_id = $5, updated_at = $6`,
		accountID, c.RouterID, state, msg, c.ID, tx.t.now)
	if isForeignKeyViolation(err) {
		return notFound("account", accountID)
	}
	return err
}

// RemoveAccountRouter drops a router from the account's routers.
func (tx *Tx) RemoveAccountRouter(ctx context.Context, accountID int64, routerID string) error {
	_, err := tx.t.exec(ctx, `DELETE FROM account_routers WHERE account_id = $1 AND router_id = $2`, accountID, routerID)
	return err
}

// GetAccount returns account id with its routers. ENOTFOUND if unknown or
// outside scope.
func (s *Store) GetAccount(ctx context.Context, scope, id int64) (controlplane.Account, error) {
	a, err := read(ctx, s, func(t *dbtx) (controlplane.Account, error) { return getAccount(ctx, t, scope, id, false) })
	if err != nil {
		return controlplane.Account{}, fmt.Errorf("get account %d: %w", id, err)
	}
	return a, nil
}

// ListAccounts returns the accounts within scope that match f, by kind and
// name, with their routers, and how many match in all.
func (s *Store) ListAccounts(ctx context.Context, scope int64, f controlplane.AccountFilter) ([]controlplane.Account, int, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if f.Kind != "" {
		w.add("kind = ?", string(f.Kind))
	}
	if f.Name != "" {
		w.add(`lower(name) LIKE ? ESCAPE '\'`, likeSubstring(f.Name))
	}
	if f.RouterID != "" {
		w.add("id IN (SELECT account_id FROM account_routers WHERE router_id = ?)", f.RouterID)
	}
	if f.State != "" {
		w.add("id IN (SELECT account_id FROM account_routers WHERE state = ?)", f.State)
	}
	type page struct {
		rows  []controlplane.Account
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM accounts`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		var err error
		p.rows, err = queryAll(ctx, t, scanAccount, `SELECT `+accountColumns+` FROM accounts`+cond+
			` ORDER BY kind, name, id`+lim, w.args...)
		if err != nil || len(p.rows) == 0 {
			return p, err
		}
		return p, attachAccountRouters(ctx, t, p.rows)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list accounts: %w", err)
	}
	return p.rows, p.total, nil
}

// attachAccountRouters loads the routers of as in one query.
func attachAccountRouters(ctx context.Context, t *dbtx, as []controlplane.Account) error {
	ids := make([]int64, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	byOwner, err := syncRows(ctx, t, "account_routers", "account_id", ids)
	if err != nil {
		return err
	}
	for i := range as {
		for _, r := range byOwner[as[i].ID] {
			as[i].Routers = append(as[i].Routers, controlplane.AccountRouter(r))
		}
	}
	return nil
}

// syncRows loads the per-router sync states of owners (accounts in
// account_routers, plans in plan_routers) in one query, by owner id.
func syncRows(ctx context.Context, t *dbtx, table, ownerCol string, owners []int64) (map[int64][]controlplane.PlanRouter, error) {
	out := make(map[int64][]controlplane.PlanRouter, len(owners))
	if len(owners) == 0 {
		return out, nil
	}
	ph := make([]string, len(owners))
	args := make([]any, len(owners))
	for i, id := range owners {
		ph[i] = fmt.Sprintf("$%d", i+1)
		args[i] = id
	}
	type row struct {
		owner int64
		r     controlplane.PlanRouter
	}
	rows, err := queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (row, error) {
		var x row
		err := sc.Scan(&x.owner, &x.r.RouterID, &x.r.State, &x.r.Message, &x.r.CommandID, &x.r.UpdatedAt)
		x.r.UpdatedAt = x.r.UpdatedAt.UTC()
		return x, err
	}, `SELECT `+ownerCol+`, router_id, state, message, command_id, updated_at FROM `+table+`
		WHERE `+ownerCol+` IN (`+strings.Join(ph, ", ")+`) ORDER BY `+ownerCol+`, router_id`, args...)
	if err != nil {
		return nil, err
	}
	for _, x := range rows {
		out[x.owner] = append(out[x.owner], x.r)
	}
	return out, nil
}

// ExpiringAccounts returns up to limit accounts (every tenant) whose
// expiry is at or before now and that are not yet marked expired, oldest
// expiry first, with their routers.
func (s *Store) ExpiringAccounts(ctx context.Context, now time.Time, limit int) ([]controlplane.Account, error) {
	if limit <= 0 {
		limit = 100
	}
	as, err := read(ctx, s, func(t *dbtx) ([]controlplane.Account, error) {
		as, err := queryAll(ctx, t, scanAccount, `SELECT `+accountColumns+` FROM accounts
			WHERE expired = $1 AND expires_at IS NOT NULL AND expires_at <= $2 ORDER BY expires_at, id LIMIT $3`,
			false, dbTime(now), limit)
		if err != nil || len(as) == 0 {
			return as, err
		}
		return as, attachAccountRouters(ctx, t, as)
	})
	if err != nil {
		return nil, fmt.Errorf("expiring accounts: %w", err)
	}
	return as, nil
}
