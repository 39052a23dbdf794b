package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// RADIUS at the edge: each router has a head version (routers.radius_version)
// and one row per entry its agent holds (radius_entries), stamped with the
// version of its newest change. An entry row is identity, version and
// tombstone only; RadiusRows reads the content from accounts, vouchers and
// plans when a page is built.

// RadiusKey names one entry change: Kind and Name identify the entry on
// its router; AccountID or VoucherID say where its content lives (both 0
// with Deleted).
type RadiusKey struct {
	Kind      protocol.SessionKind
	Name      string
	Deleted   bool
	AccountID int64
	VoucherID int64
}

// RadiusKind is the entry kind of an account kind.
func RadiusKind(k controlplane.AccountKind) protocol.SessionKind {
	if k == controlplane.AccountPPP {
		return protocol.KindPPPoE
	}
	return protocol.KindHotspot
}

// AccountKey is the entry of account a (a tombstone with deleted).
func AccountKey(a controlplane.Account, deleted bool) RadiusKey {
	k := RadiusKey{Kind: RadiusKind(a.Kind), Name: a.Name, Deleted: deleted}
	if !deleted {
		k.AccountID = a.ID
	}
	return k
}

// VoucherKey is the entry of unused voucher v (a tombstone with deleted).
func VoucherKey(v controlplane.Voucher, deleted bool) RadiusKey {
	k := RadiusKey{Kind: protocol.KindHotspot, Name: v.Code, Deleted: deleted}
	if !deleted {
		k.VoucherID = v.ID
	}
	return k
}

// validAuthMode checks a router's authentication mode.
func validAuthMode(m string) error {
	if m != protocol.AuthLocal && m != protocol.AuthRadius {
		return controlplane.Errorf(controlplane.EINVALID, "auth_mode: want %q or %q", protocol.AuthLocal, protocol.AuthRadius)
	}
	return nil
}

// BumpRadius gives each of keys, in order, the router's next version and
// stores it as the entry's newest state, and returns the new head (the
// router's current one when keys is empty). The UPDATE … RETURNING takes
// the router's row lock, so concurrent changes on one router get distinct,
// increasing versions that commit in order. ENOTFOUND for an unknown
// router.
func (tx *Tx) BumpRadius(ctx context.Context, routerID string, keys ...RadiusKey) (uint64, error) {
	t := tx.t
	var head int64
	err := t.queryRow(ctx, `UPDATE routers SET radius_version = radius_version + $1 WHERE id = $2 RETURNING radius_version`,
		len(keys), routerID).Scan(&head)
	if err != nil {
		return 0, noRows(err, "router", routerID)
	}
	v := head - int64(len(keys))
	for _, k := range keys {
		v++
		if k.Kind != protocol.KindHotspot && k.Kind != protocol.KindPPPoE {
			return 0, controlplane.Errorf(controlplane.EINVALID, "radius entry kind %q", k.Kind)
		}
		if _, err := t.exec(ctx, `INSERT INTO radius_entries (router_id, kind, name, version, deleted, account_id, voucher_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (router_id, kind, name) DO UPDATE SET version = $4, deleted = $5, account_id = $6, voucher_id = $7`,
			routerID, string(k.Kind), k.Name, v, k.Deleted, nullID(k.AccountID), nullID(k.VoucherID)); err != nil {
			return 0, fmt.Errorf("radius entry %s/%s of router %s: %w", k.Kind, k.Name, routerID, err)
		}
	}
	return uint64(head), nil
}

// RadiusRouters returns the tenant's routers in RADIUS mode that are not
// revoked.
func (tx *Tx) RadiusRouters(ctx context.Context, tenantID int64) ([]controlplane.Router, error) {
	return queryAll(ctx, tx.t, scanRouter, `SELECT `+routerColumns+` FROM routers
		WHERE tenant_id = $1 AND auth_mode = $2 AND status <> $3 ORDER BY id`, tenantID, protocol.AuthRadius, controlplane.RouterRevoked)
}

// BumpVoucherEntries stores vs as entries (tombstones with deleted) on
// every RADIUS router of the tenant, and returns those routers' ids.
func (tx *Tx) BumpVoucherEntries(ctx context.Context, tenantID int64, vs []controlplane.Voucher, deleted bool) ([]string, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	rs, err := tx.RadiusRouters(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	keys := make([]RadiusKey, len(vs))
	for i, v := range vs {
		keys[i] = VoucherKey(v, deleted)
	}
	var ids []string
	for _, r := range rs {
		if _, err := tx.BumpRadius(ctx, r.ID, keys...); err != nil {
			return nil, err
		}
		ids = append(ids, r.ID)
	}
	return ids, nil
}

// BatchVouchers returns the vouchers of batch id, by id.
func (tx *Tx) BatchVouchers(ctx context.Context, id int64) ([]controlplane.Voucher, error) {
	return queryAll(ctx, tx.t, scanVoucher, `SELECT `+voucherColumns+voucherFrom+` WHERE v.batch_id = $1 ORDER BY v.id`, id)
}

// BumpPlanEntries gives every live entry whose content comes from plan
// (its accounts, by profile, and its unused vouchers) a new version on its
// router, so that the agents get the plan's new limits, and returns those
// routers' ids.
func (tx *Tx) BumpPlanEntries(ctx context.Context, plan controlplane.Plan) ([]string, error) {
	type row struct {
		router string
		key    RadiusKey
	}
	rows, err := queryAll(ctx, tx.t, func(sc interface{ Scan(...any) error }) (row, error) {
		var x row
		var acc, vou sql.NullInt64
		err := sc.Scan(&x.router, &x.key.Kind, &x.key.Name, &acc, &vou)
		x.key.AccountID, x.key.VoucherID = acc.Int64, vou.Int64
		return x, err
	}, `SELECT e.router_id, e.kind, e.name, e.account_id, e.voucher_id FROM radius_entries e
		WHERE e.deleted = $1 AND (e.account_id IN (SELECT id FROM accounts WHERE tenant_id = $2 AND profile = $3)
			OR e.voucher_id IN (SELECT id FROM vouchers WHERE plan_id = $4))
		ORDER BY e.router_id, e.version`, false, plan.TenantID, plan.Profile, plan.ID)
	if err != nil {
		return nil, err
	}
	var ids []string
	byRouter := map[string][]RadiusKey{}
	for _, x := range rows {
		if _, ok := byRouter[x.router]; !ok {
			ids = append(ids, x.router)
		}
		byRouter[x.router] = append(byRouter[x.router], x.key)
	}
	for _, id := range ids {
		if _, err := tx.BumpRadius(ctx, id, byRouter[id]...); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// UnusedVouchers returns the tenant's unused vouchers, by id.
func (tx *Tx) UnusedVouchers(ctx context.Context, tenantID int64) ([]controlplane.Voucher, error) {
	return queryAll(ctx, tx.t, scanVoucher, `SELECT `+voucherColumns+voucherFrom+` WHERE v.tenant_id = $1 AND v.status = $2 ORDER BY v.id`,
		tenantID, string(controlplane.VoucherUnused))
}

// LiveRadiusKeys returns the router's entries that are not tombstones.
func (tx *Tx) LiveRadiusKeys(ctx context.Context, routerID string) ([]RadiusKey, error) {
	return queryAll(ctx, tx.t, func(sc interface{ Scan(...any) error }) (RadiusKey, error) {
		var k RadiusKey
		var acc, vou sql.NullInt64
		err := sc.Scan(&k.Kind, &k.Name, &acc, &vou)
		k.AccountID, k.VoucherID = acc.Int64, vou.Int64
		return k, err
	}, `SELECT kind, name, account_id, voucher_id FROM radius_entries WHERE router_id = $1 AND deleted = $2 ORDER BY version`,
		routerID, false)
}

// RouterAccounts returns the accounts on router id (with their routers),
// by id.
func (tx *Tx) RouterAccounts(ctx context.Context, routerID string) ([]controlplane.Account, error) {
	as, err := queryAll(ctx, tx.t, scanAccount, `SELECT `+accountColumns+` FROM accounts
		WHERE id IN (SELECT account_id FROM account_routers WHERE router_id = $1) ORDER BY id`, routerID)
	if err != nil || len(as) == 0 {
		return as, err
	}
	return as, attachAccountRouters(ctx, tx.t, as)
}

// SetAccountRouterRadius records that the account's state on router is
// decided by the RADIUS sync: pending until the agent reports holding the
// entry's version (RecordRadiusState), adding the router to the account
// if needed.
func (tx *Tx) SetAccountRouterRadius(ctx context.Context, accountID int64, routerID string) error {
	_, err := tx.t.exec(ctx, `INSERT INTO account_routers (account_id, router_id, state, message, command_id, updated_at)
		VALUES ($1, $2, $3, '', '', $4)
		ON CONFLICT (account_id, router_id) DO UPDATE SET state = $3, message = '', command_id = '', updated_at = $4`,
		accountID, routerID, controlplane.SyncPending, tx.t.now)
	if isForeignKeyViolation(err) {
		return notFound("account", accountID)
	}
	return err
}

// SetRouterAuthMode stores router id's authentication mode and returns
// the router (as locked before the change, mode updated). EINVALID for an
// unknown mode, ENOTFOUND outside scope, ECONFLICT for a revoked router.
func (tx *Tx) SetRouterAuthMode(ctx context.Context, scope int64, id, mode string) (controlplane.Router, error) {
	if err := validAuthMode(mode); err != nil {
		return controlplane.Router{}, err
	}
	r, err := getRouter(ctx, tx.t, scope, id, true)
	if err != nil {
		return r, err
	}
	if r.Status == controlplane.RouterRevoked {
		return r, controlplane.Errorf(controlplane.ECONFLICT, "router %s is revoked", id)
	}
	if _, err := tx.t.exec(ctx, `UPDATE routers SET auth_mode = $1 WHERE id = $2`, mode, id); err != nil {
		return r, err
	}
	r.AuthMode = mode
	return r, nil
}

// RadiusRow is one entry as a sync page needs it: identity and version,
// and the live content it points at (nil when it is a tombstone or its
// account or voucher is gone).
type RadiusRow struct {
	Kind    protocol.SessionKind
	Name    string
	Version uint64
	Deleted bool
	Account *controlplane.Account // the account's entry
	Voucher *controlplane.Voucher // an unredeemed voucher's entry
	// Plan is the account's plan (by its profile, sp-plan-{id}) or the
	// voucher's; nil for none.
	Plan *controlplane.Plan
	// UsedBytes is what the account's sessions moved since its
	// entitlement started, counted only when it has a data cap.
	UsedBytes uint64
}

// RadiusPage is a router's entries above a version.
type RadiusPage struct {
	Router controlplane.Router // AuthMode, Radius.Version (the head when read)
	Rows   []RadiusRow         // in version order
}

// RadiusRows returns up to limit entries of router id with a version above
// from, in version order, with their content. ENOTFOUND for an unknown
// router.
func (s *Store) RadiusRows(ctx context.Context, id string, from uint64, limit int) (RadiusPage, error) {
	if limit <= 0 || limit > protocol.MaxRadiusEntries {
		limit = protocol.MaxRadiusEntries
	}
	p, err := read(ctx, s, func(t *dbtx) (RadiusPage, error) { return radiusRows(ctx, t, id, from, limit) })
	if err != nil {
		return RadiusPage{}, fmt.Errorf("radius entries of router %s: %w", id, err)
	}
	return p, nil
}

// RadiusRows is Store.RadiusRows in tx.
func (tx *Tx) RadiusRows(ctx context.Context, id string, from uint64, limit int) (RadiusPage, error) {
	if limit <= 0 || limit > protocol.MaxRadiusEntries {
		limit = protocol.MaxRadiusEntries
	}
	return radiusRows(ctx, tx.t, id, from, limit)
}

// RadiusEntry returns one entry of router id with its content.
// ENOTFOUND when the router has no such entry.
func (s *Store) RadiusEntry(ctx context.Context, id string, kind protocol.SessionKind, name string) (RadiusRow, error) {
	return read(ctx, s, func(t *dbtx) (RadiusRow, error) { return radiusEntry(ctx, t, id, kind, name) })
}

// RadiusEntry is Store.RadiusEntry in tx.
func (tx *Tx) RadiusEntry(ctx context.Context, id string, kind protocol.SessionKind, name string) (RadiusRow, error) {
	return radiusEntry(ctx, tx.t, id, kind, name)
}

func radiusEntry(ctx context.Context, t *dbtx, id string, kind protocol.SessionKind, name string) (RadiusRow, error) {
	rows, err := loadRadiusRows(ctx, t, `SELECT kind, name, version, deleted, account_id, voucher_id FROM radius_entries
		WHERE router_id = $1 AND kind = $2 AND name = $3`, id, string(kind), name)
	if err != nil {
		return RadiusRow{}, err
	}
	if len(rows) == 0 {
		return RadiusRow{}, notFound("radius entry", name)
	}
	return rows[0], nil
}

func radiusRows(ctx context.Context, t *dbtx, id string, from uint64, limit int) (RadiusPage, error) {
	var p RadiusPage
	r, err := getRouter(ctx, t, 0, id, false)
	if err != nil {
		return p, err
	}
	p.Router = r
	p.Rows, err = loadRadiusRows(ctx, t, `SELECT kind, name, version, deleted, account_id, voucher_id FROM radius_entries
		WHERE router_id = $1 AND version > $2 AND version <= $3 ORDER BY version LIMIT $4`,
		id, int64(from), int64(r.Radius.Version), limit)
	return p, err
}

// loadRadiusRows runs an entry query and loads what each row points at.
func loadRadiusRows(ctx context.Context, t *dbtx, q string, args ...any) ([]RadiusRow, error) {
	type raw struct {
		row      RadiusRow
		acc, vou sql.NullInt64
	}
	raws, err := queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (raw, error) {
		var x raw
		var v int64
		err := sc.Scan(&x.row.Kind, &x.row.Name, &v, &x.row.Deleted, &x.acc, &x.vou)
		x.row.Version = uint64(v)
		return x, err
	}, q, args...)
	if err != nil {
		return nil, err
	}
	plans := map[int64]*controlplane.Plan{}
	plan := func(id int64) (*controlplane.Plan, error) {
		if p, ok := plans[id]; ok {
			return p, nil
		}
		p, err := scanPlan(t.queryRow(ctx, `SELECT `+planColumns+` FROM plans WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			plans[id] = nil
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		plans[id] = &p
		return &p, nil
	}
	out := make([]RadiusRow, 0, len(raws))
	for _, x := range raws {
		row := x.row
		switch {
		case row.Deleted:
		case x.acc.Valid:
			a, err := scanAccount(t.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, x.acc.Int64))
			if errors.Is(err, sql.ErrNoRows) {
				break
			}
			if err != nil {
				return nil, err
			}
			row.Account = &a
			if id, ok := planOfProfile(a.Profile); ok {
				if row.Plan, err = plan(id); err != nil {
					return nil, err
				}
			}
			if a.LimitBytesTotal > 0 || (row.Plan != nil && row.Plan.DataCapBytes > 0) {
				if row.UsedBytes, err = usedBytes(ctx, t, a); err != nil {
					return nil, err
				}
			}
		case x.vou.Valid:
			v, err := getVoucher(ctx, t, 0, x.vou.Int64, false)
			if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
				break
			}
			if err != nil {
				return nil, err
			}
			row.Voucher = &v
			if row.Plan, err = plan(v.PlanID); err != nil {
				return nil, err
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// planOfProfile reads the plan id out of a plan's profile name.
func planOfProfile(profile string) (int64, bool) {
	s, ok := strings.CutPrefix(profile, "sp-plan-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// usedBytes is what account a's sessions moved (in + out, ended and live)
// since its entitlement started: its subscription's start, else its
// voucher's redemption, else its creation.
func usedBytes(ctx context.Context, t *dbtx, a controlplane.Account) (uint64, error) {
	since := a.CreatedAt
	var sub, vou sql.NullTime
	if err := t.queryRow(ctx, `SELECT (SELECT max(starts_at) FROM subscriptions WHERE account_id = $1),
		(SELECT max(redeemed_at) FROM vouchers WHERE account_id = $1)`, a.ID).Scan(&sub, &vou); err != nil {
		return 0, err
	}
	switch {
	case sub.Valid:
		since = sub.Time
	case vou.Valid:
		since = vou.Time
	}
	var used int64
	err := t.queryRow(ctx, `SELECT
		COALESCE((SELECT sum(bytes_in + bytes_out) FROM session_history WHERE tenant_id = $1 AND username = $2 AND started_at >= $3), 0) +
		COALESCE((SELECT sum(bytes_in + bytes_out) FROM sessions WHERE tenant_id = $1 AND username = $2 AND started_at >= $3), 0)`,
		a.TenantID, a.Name, dbTime(since)).Scan(&used)
	if used < 0 {
		used = 0
	}
	return uint64(used), err
}

// RecordRadiusState stores what router st.Router's agent reports holding
// and marks the account states the RADIUS sync decides there synced up to
// that version. It returns the router and the accounts whose state
// changed. EINVALID, ENOTFOUND for an unknown router, EUNAUTHORIZED for a
// revoked one.
func (s *Store) RecordRadiusState(ctx context.Context, st *protocol.RadiusState) (controlplane.Router, []controlplane.Account, error) {
	if err := st.Validate(); err != nil {
		return controlplane.Router{}, nil, controlplane.Errorf(controlplane.EINVALID, "radius state: %v", err)
	}
	type result struct {
		r  controlplane.Router
		as []controlplane.Account
	}
	res, err := write(ctx, s, func(t *dbtx) (result, error) {
		r, err := getRouter(ctx, t, 0, st.Router, true)
		if err != nil {
			return result{}, err
		}
		if r.Status == controlplane.RouterRevoked {
			return result{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "router %s is revoked", st.Router)
		}
		if _, err := t.exec(ctx, `UPDATE routers SET radius_agent_version = $1, radius_agent_count = $2, radius_agent_at = $3 WHERE id = $4`,
			int64(st.Version), st.Count, t.now, st.Router); err != nil {
			return result{}, err
		}
		ids, err := queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (int64, error) {
			var id int64
			return id, sc.Scan(&id)
		}, `SELECT ar.account_id FROM account_routers ar JOIN radius_entries e
			ON e.router_id = ar.router_id AND e.account_id = ar.account_id
			WHERE ar.router_id = $1 AND ar.command_id = '' AND ar.state <> $2 AND e.deleted = $3 AND e.version <= $4
			ORDER BY ar.account_id`, st.Router, controlplane.SyncSynced, false, int64(st.Version))
		if err != nil {
			return result{}, err
		}
		var out result
		for _, id := range ids {
			if _, err := t.exec(ctx, `UPDATE account_routers SET state = $1, message = '', updated_at = $2
				WHERE account_id = $3 AND router_id = $4`, controlplane.SyncSynced, t.now, id, st.Router); err != nil {
				return result{}, err
			}
			a, err := getAccount(ctx, t, 0, id, false)
			if err != nil {
				return result{}, err
			}
			out.as = append(out.as, a)
		}
		out.r, err = getRouter(ctx, t, 0, st.Router, false)
		return out, err
	})
	if err != nil {
		return controlplane.Router{}, nil, fmt.Errorf("radius state of router %s: %w", st.Router, err)
	}
	return res.r, res.as, nil
}

// RadiusBehind returns the routers in RADIUS mode, not revoked, whose
// agent reported a version below the head (a page may have been lost).
func (s *Store) RadiusBehind(ctx context.Context, limit int) ([]controlplane.Router, error) {
	return read(ctx, s, func(t *dbtx) ([]controlplane.Router, error) {
		return queryAll(ctx, t, scanRouter, `SELECT `+routerColumns+` FROM routers
			WHERE auth_mode = $1 AND status = $2 AND radius_agent_version < radius_version ORDER BY id LIMIT $3`,
			protocol.AuthRadius, controlplane.RouterOnline, limit)
	})
}

// VoucherUse is a voucher.used event as recorded by ingest.
type VoucherUse struct {
	ID       int64
	TenantID int64
	RouterID string
	protocol.VoucherUse
	Result string // "" until handled
}

// Results of a handled voucher use.
const (
	VoucherUseRedeemed  = "redeemed"   // redeemed as of its time
	VoucherUseDouble    = "double_use" // already redeemed elsewhere: flagged
	VoucherUseSame      = "same"       // already redeemed by the same device and router
	VoucherUseNotValid  = "not_valid"  // unknown, expired or revoked code
	voucherUseBatchSize = 100
)

// recordVoucherUse keeps a voucher.used event for reconciliation, in the
// ingest transaction that applies it (so exactly once).
func recordVoucherUse(ctx context.Context, tx *dbtx, tenant int64, router string, u *protocol.VoucherUse) (controlplane.Change, error) {
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO radius_voucher_uses (tenant_id, router_id, code, mac, ip, used_at, ends_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, tenant, router, u.Code, u.MAC, u.IP, dbTime(u.At), dbTime(u.EndsAt)).Scan(&id)
	if err != nil {
		return nil, err
	}
	return controlplane.VoucherUseRecorded{TenantID: tenant, RouterID: router, UseID: id}, nil
}

func scanVoucherUse(sc interface{ Scan(...any) error }) (VoucherUse, error) {
	var u VoucherUse
	err := sc.Scan(&u.ID, &u.TenantID, &u.RouterID, &u.Code, &u.MAC, &u.IP, &u.At, &u.EndsAt, &u.Result)
	u.At, u.EndsAt = u.At.UTC(), u.EndsAt.UTC()
	return u, err
}

const voucherUseColumns = `id, tenant_id, router_id, code, mac, ip, used_at, ends_at, result`

// PendingVoucherUses returns up to limit voucher uses not handled yet,
// oldest first.
func (s *Store) PendingVoucherUses(ctx context.Context, limit int) ([]VoucherUse, error) {
	if limit <= 0 {
		limit = voucherUseBatchSize
	}
	return read(ctx, s, func(t *dbtx) ([]VoucherUse, error) {
		return queryAll(ctx, t, scanVoucherUse, `SELECT `+voucherUseColumns+` FROM radius_voucher_uses
			WHERE handled_at IS NULL ORDER BY id LIMIT $1`, limit)
	})
}

// TakeVoucherUse returns voucher use id with its row lock if it is not
// handled yet; ok is false when it was (by another replica, or before).
func (tx *Tx) TakeVoucherUse(ctx context.Context, id int64) (VoucherUse, bool, error) {
	u, err := scanVoucherUse(tx.t.queryRow(ctx, `SELECT `+voucherUseColumns+` FROM radius_voucher_uses
		WHERE id = $1 AND handled_at IS NULL`+tx.t.forUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return VoucherUse{}, false, nil
	}
	return u, err == nil, err
}

// FinishVoucherUse marks voucher use id handled with result.
func (tx *Tx) FinishVoucherUse(ctx context.Context, id int64, result string) error {
	_, err := tx.t.exec(ctx, `UPDATE radius_voucher_uses SET result = $1, handled_at = $2 WHERE id = $3`, result, tx.t.now, id)
	return err
}

// radiusStatus completes a scanned router's RADIUS status.
func radiusStatus(r *controlplane.Router, head, agent, count int64, at sql.NullTime) {
	r.Radius = controlplane.RadiusStatus{Version: uint64(head), AgentVersion: uint64(agent), AgentCount: int(count), AgentAt: timePtr(at)}
	r.Radius.InSync = r.Radius.AgentVersion == r.Radius.Version
}
