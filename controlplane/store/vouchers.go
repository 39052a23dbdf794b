package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

const voucherColumns = `v.id, v.tenant_id, v.batch_id, v.plan_id, p.name, v.code, v.status, v.price_minor, v.currency,
	v.expires_at, v.redeemed_at, v.ends_at, v.account_id, v.router_id, v.redeemed_by, v.created_at, v.updated_at`

const voucherFrom = ` FROM vouchers v JOIN plans p ON p.id = v.plan_id`

func scanVoucher(sc interface{ Scan(...any) error }) (controlplane.Voucher, error) {
	var v controlplane.Voucher
	var expires, redeemed, ends sql.NullTime
	var account sql.NullInt64
	err := sc.Scan(&v.ID, &v.TenantID, &v.BatchID, &v.PlanID, &v.PlanName, &v.Code, &v.Status, &v.Price.Amount,
		&v.Price.Currency, &expires, &redeemed, &ends, &account, &v.RouterID, &v.RedeemedBy, &v.CreatedAt, &v.UpdatedAt)
	v.ExpiresAt, v.RedeemedAt, v.EndsAt, v.AccountID = timePtr(expires), timePtr(redeemed), timePtr(ends), account.Int64
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	return v, err
}

const batchColumns = `b.id, b.tenant_id, b.plan_id, p.name, b.voucher_count, b.prefix, b.code_length, b.price_minor,
	b.currency, b.expires_at, b.note, b.actor, b.created_at`

const batchFrom = ` FROM voucher_batches b JOIN plans p ON p.id = b.plan_id`

func scanBatch(sc interface{ Scan(...any) error }) (controlplane.VoucherBatch, error) {
	var b controlplane.VoucherBatch
	var expires sql.NullTime
	err := sc.Scan(&b.ID, &b.TenantID, &b.PlanID, &b.PlanName, &b.Count, &b.Prefix, &b.Length, &b.Price.Amount,
		&b.Price.Currency, &expires, &b.Note, &b.Actor, &b.CreatedAt)
	b.ExpiresAt, b.CreatedAt = timePtr(expires), b.CreatedAt.UTC()
	return b, err
}

// InsertVoucherBatch stores a new batch (without its vouchers, which
// InsertVoucher adds). ENOTFOUND for an unknown tenant or plan.
func (tx *Tx) InsertVoucherBatch(ctx context.Context, b controlplane.VoucherBatch) (controlplane.VoucherBatch, error) {
	t := tx.t
	var id int64
	err := t.queryRow(ctx, `INSERT INTO voucher_batches (tenant_id, plan_id, voucher_count, prefix, code_length, price_minor,
		currency, expires_at, note, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		b.TenantID, b.PlanID, b.Count, b.Prefix, b.Length, b.Price.Amount, b.Price.Currency, nullTime(b.ExpiresAt), b.Note,
		b.Actor, t.now).Scan(&id)
	if isForeignKeyViolation(err) {
		return controlplane.VoucherBatch{}, notFound("plan", b.PlanID)
	}
	if err != nil {
		return controlplane.VoucherBatch{}, err
	}
	return getBatch(ctx, t, 0, id)
}

// InsertVoucher adds an unused voucher of batch b with code. It reports
// false, writing nothing, when the tenant already has that code: the
// unique index decides, and ON CONFLICT keeps PostgreSQL's transaction
// usable for the retry.
func (tx *Tx) InsertVoucher(ctx context.Context, b controlplane.VoucherBatch, code string) (bool, error) {
	t := tx.t
	res, err := t.exec(ctx, `INSERT INTO vouchers (tenant_id, batch_id, plan_id, code, status, price_minor, currency,
		expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (tenant_id, code) DO NOTHING`,
		b.TenantID, b.ID, b.PlanID, code, string(controlplane.VoucherUnused), b.Price.Amount, b.Price.Currency,
		nullTime(b.ExpiresAt), t.now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// VoucherByCode returns the tenant's voucher with code (as
// NormalizeVoucherCode returns it), lock taking its row lock on
// PostgreSQL (SQLite's single writer serializes already). ENOTFOUND
// otherwise.
func (tx *Tx) VoucherByCode(ctx context.Context, tenantID int64, code string, lock bool) (controlplane.Voucher, error) {
	q := `SELECT ` + voucherColumns + voucherFrom + ` WHERE v.tenant_id = $1 AND v.code = $2`
	if lock && tx.t.dialect == DialectPostgres {
		q += " FOR UPDATE OF v"
	}
	v, err := scanVoucher(tx.t.queryRow(ctx, q, tenantID, code))
	return v, noRows(err, "voucher", "code")
}

// Voucher returns voucher id within scope, lock taking its row lock on
// PostgreSQL. ENOTFOUND otherwise.
func (tx *Tx) Voucher(ctx context.Context, scope, id int64, lock bool) (controlplane.Voucher, error) {
	return getVoucher(ctx, tx.t, scope, id, lock)
}

func getVoucher(ctx context.Context, t *dbtx, scope, id int64, lock bool) (controlplane.Voucher, error) {
	var w where
	w.add("v.id = ?", id)
	if scope != 0 {
		w.add("v.tenant_id = ?", scope)
	}
	q := `SELECT ` + voucherColumns + voucherFrom + w.sql()
	if lock && t.dialect == DialectPostgres {
		q += " FOR UPDATE OF v"
	}
	v, err := scanVoucher(t.queryRow(ctx, q, w.args...))
	return v, noRows(err, "voucher", id)
}

// UpdateVoucher stores v's status and redemption.
func (tx *Tx) UpdateVoucher(ctx context.Context, v controlplane.Voucher) (controlplane.Voucher, error) {
	t := tx.t
	_, err := t.exec(ctx, `UPDATE vouchers SET status = $1, redeemed_at = $2, ends_at = $3, account_id = $4, router_id = $5,
		redeemed_by = $6, updated_at = $7 WHERE id = $8`,
		string(v.Status), nullTime(v.RedeemedAt), nullTime(v.EndsAt), nullID(v.AccountID), v.RouterID, v.RedeemedBy, t.now, v.ID)
	if err != nil {
		return controlplane.Voucher{}, err
	}
	return getVoucher(ctx, t, 0, v.ID, false)
}

// VoucherBatch returns batch id within scope with its per-status counts.
func (tx *Tx) VoucherBatch(ctx context.Context, scope, id int64) (controlplane.VoucherBatch, error) {
	return getBatch(ctx, tx.t, scope, id)
}

func getBatch(ctx context.Context, t *dbtx, scope, id int64) (controlplane.VoucherBatch, error) {
	var w where
	w.add("b.id = ?", id)
	if scope != 0 {
		w.add("b.tenant_id = ?", scope)
	}
	b, err := scanBatch(t.queryRow(ctx, `SELECT `+batchColumns+batchFrom+w.sql(), w.args...))
	if err != nil {
		return b, noRows(err, "voucher batch", id)
	}
	bs := []controlplane.VoucherBatch{b}
	err = batchCounts(ctx, t, bs)
	return bs[0], err
}

// batchCounts fills in the per-status counts of bs.
func batchCounts(ctx context.Context, t *dbtx, bs []controlplane.VoucherBatch) error {
	if len(bs) == 0 {
		return nil
	}
	at := map[int64]*controlplane.VoucherBatch{}
	ids := make([]string, len(bs))
	args := make([]any, len(bs))
	for i := range bs {
		at[bs[i].ID] = &bs[i]
		ids[i] = fmt.Sprintf("$%d", i+1)
		args[i] = bs[i].ID
	}
	type count struct {
		batch  int64
		status controlplane.VoucherStatus
		n      int
	}
	rows, err := queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (count, error) {
		var c count
		return c, sc.Scan(&c.batch, &c.status, &c.n)
	}, `SELECT batch_id, status, count(*) FROM vouchers WHERE batch_id IN (`+strings.Join(ids, ", ")+`) GROUP BY batch_id, status`, args...)
	if err != nil {
		return err
	}
	for _, c := range rows {
		b := at[c.batch]
		switch c.status {
		case controlplane.VoucherUnused:
			b.Unused = c.n
		case controlplane.VoucherActive:
			b.Active = c.n
		case controlplane.VoucherUsed:
			b.Used = c.n
		case controlplane.VoucherExpired:
			b.Expired = c.n
		case controlplane.VoucherRevoked:
			b.Revoked = c.n
		}
	}
	return nil
}

// ListVoucherBatches returns the batches within scope, newest first, with
// their per-status counts, and how many there are.
func (s *Store) ListVoucherBatches(ctx context.Context, scope int64, limit, offset int) ([]controlplane.VoucherBatch, int, error) {
	var w where
	if scope != 0 {
		w.add("b.tenant_id = ?", scope)
	}
	type page struct {
		rows  []controlplane.VoucherBatch
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM voucher_batches b`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, limit, offset)
		var err error
		if p.rows, err = queryAll(ctx, t, scanBatch, `SELECT `+batchColumns+batchFrom+cond+` ORDER BY b.id DESC`+lim, w.args...); err != nil {
			return p, err
		}
		return p, batchCounts(ctx, t, p.rows)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list voucher batches: %w", err)
	}
	return p.rows, p.total, nil
}

// ListVouchers returns the vouchers within scope matching f, by id (a
// batch in the order it was printed), and how many match.
func (s *Store) ListVouchers(ctx context.Context, scope int64, f controlplane.VoucherFilter) ([]controlplane.Voucher, int, error) {
	var w where
	if scope != 0 {
		w.add("v.tenant_id = ?", scope)
	}
	if f.BatchID != 0 {
		w.add("v.batch_id = ?", f.BatchID)
	}
	if f.PlanID != 0 {
		w.add("v.plan_id = ?", f.PlanID)
	}
	if f.Status != "" {
		w.add("v.status = ?", string(f.Status))
	}
	if f.Code != "" {
		w.add("v.code = ?", f.Code)
	}
	type page struct {
		rows  []controlplane.Voucher
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM vouchers v`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		var err error
		p.rows, err = queryAll(ctx, t, scanVoucher, `SELECT `+voucherColumns+voucherFrom+cond+` ORDER BY v.id`+lim, w.args...)
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list vouchers: %w", err)
	}
	return p.rows, p.total, nil
}

// EndVouchers moves up to limit vouchers (every tenant) whose time is
// over: active ones whose end is at or before now become used, unused
// ones whose expiry is at or before now expired. It returns them as
// stored.
func (tx *Tx) EndVouchers(ctx context.Context, now time.Time, limit int) ([]controlplane.Voucher, error) {
	t := tx.t
	var out []controlplane.Voucher
	for _, step := range []struct {
		from, to controlplane.VoucherStatus
		col      string
	}{{controlplane.VoucherActive, controlplane.VoucherUsed, "ends_at"}, {controlplane.VoucherUnused, controlplane.VoucherExpired, "expires_at"}} {
		ids, err := queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (int64, error) {
			var id int64
			return id, sc.Scan(&id)
		}, `SELECT id FROM vouchers WHERE status = $1 AND `+step.col+` <= $2 ORDER BY `+step.col+`, id LIMIT $3`+t.forUpdate(),
			string(step.from), dbTime(now), limit)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if _, err := t.exec(ctx, `UPDATE vouchers SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4`,
				string(step.to), t.now, id, string(step.from)); err != nil {
				return nil, err
			}
			v, err := getVoucher(ctx, t, 0, id, false)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}
