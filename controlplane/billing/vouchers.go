package billing

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// Vouchers are redeemed on use: a generated voucher is a row and a
// printed card, on no router. Redemption makes its account (a hotspot
// user named and keyed by the code) on every router of the tenant, under
// the voucher's row lock, and starts the plan's clock. Printed codes that
// are never sold therefore cost the routers nothing, a router enrolled
// later needs no voucher sync, and a revoked unused voucher has nothing to
// remove.

// codeRetries bounds the draws for one code that clash with an existing
// one: with 25^6 codes a clash is rare, ten in a row means the tenant's
// code space of that prefix and length is nearly full.
const codeRetries = 10

// drawCode makes a code's random part; tests replace it to force clashes.
var drawCode = newCode

// newCode draws n characters of controlplane.VoucherAlphabet with
// crypto/rand, without modulo bias.
func newCode(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(controlplane.VoucherAlphabet)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = controlplane.VoucherAlphabet[k.Int64()]
	}
	return string(b), nil
}

// voucherPrefix checks and upper-cases a batch's prefix.
func voucherPrefix(p string) (string, error) {
	p = strings.ToUpper(strings.TrimSpace(p))
	if len(p) > controlplane.MaxVoucherPrefix {
		return "", controlplane.Errorf(controlplane.EINVALID, "prefix: at most %d characters", controlplane.MaxVoucherPrefix)
	}
	for _, c := range p {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", controlplane.Errorf(controlplane.EINVALID, "prefix: letters and digits only")
		}
	}
	return p, nil
}

// GenerateVouchers makes a batch of unused vouchers for a hotspot plan in
// one transaction, audited. Codes are the prefix and Length characters of
// controlplane.VoucherAlphabet drawn with crypto/rand, unique per tenant
// (the unique index decides; a clash draws again). EFORBIDDEN below
// tenant admin; EINVALID; ENOTFOUND for a plan p cannot see; ECONFLICT
// for an inactive plan.
func (s *Service) GenerateVouchers(ctx context.Context, p controlplane.Principal, req controlplane.VoucherBatchRequest) (controlplane.VoucherBatch, error) {
	if err := needManage(p, "generate vouchers"); err != nil {
		return controlplane.VoucherBatch{}, err
	}
	tenant, err := tenantOf(p, req.TenantID)
	if err != nil {
		return controlplane.VoucherBatch{}, err
	}
	if req.Length == 0 {
		req.Length = controlplane.DefaultVoucherLength
	}
	prefix, err := voucherPrefix(req.Prefix)
	switch {
	case err != nil:
		return controlplane.VoucherBatch{}, err
	case req.PlanID <= 0:
		return controlplane.VoucherBatch{}, controlplane.Errorf(controlplane.EINVALID, "plan_id: required")
	case req.Count < 1 || req.Count > controlplane.MaxVoucherBatch:
		return controlplane.VoucherBatch{}, controlplane.Errorf(controlplane.EINVALID, "count: 1 to %d", controlplane.MaxVoucherBatch)
	case req.Length < controlplane.MinVoucherLength || req.Length > controlplane.MaxVoucherLength:
		return controlplane.VoucherBatch{}, controlplane.Errorf(controlplane.EINVALID, "length: %d to %d",
			controlplane.MinVoucherLength, controlplane.MaxVoucherLength)
	case req.Price != nil && *req.Price < 0:
		return controlplane.VoucherBatch{}, controlplane.Errorf(controlplane.EINVALID, "price: must not be negative")
	case req.ValidDays < 0 || req.ValidDays > 3660:
		return controlplane.VoucherBatch{}, controlplane.Errorf(controlplane.EINVALID, "valid_days: 0 (no expiry) to 3660")
	case len(req.Note) > 200 || !utf8.ValidString(req.Note):
		return controlplane.VoucherBatch{}, controlplane.Errorf(controlplane.EINVALID, "note: at most 200 bytes of UTF-8")
	}
	var b controlplane.VoucherBatch
	var radius []string
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		plan, err := tx.Plan(ctx, tenant, req.PlanID, false)
		if err != nil {
			return err
		}
		if plan.Kind != controlplane.PlanHotspot {
			return controlplane.Errorf(controlplane.EINVALID, "plan_id: vouchers are for hotspot plans")
		}
		if !plan.Active {
			return controlplane.Errorf(controlplane.ECONFLICT, "plan %q is not on sale", plan.Name)
		}
		b = controlplane.VoucherBatch{TenantID: tenant, PlanID: plan.ID, Count: req.Count, Prefix: prefix, Length: req.Length,
			Price: plan.Price, Note: req.Note, Actor: p.Email}
		if req.Price != nil {
			b.Price.Amount = *req.Price
		}
		if req.ValidDays > 0 {
			until := tx.Now().AddDate(0, 0, req.ValidDays)
			b.ExpiresAt = &until
		}
		if b, err = tx.InsertVoucherBatch(ctx, b); err != nil {
			return err
		}
		for range req.Count {
			ok := false
			for try := 0; !ok && try < codeRetries; try++ {
				code, err := drawCode(req.Length)
				if err != nil {
					return err
				}
				if ok, err = tx.InsertVoucher(ctx, b, prefix+code); err != nil {
					return err
				}
			}
			if !ok {
				return controlplane.Errorf(controlplane.ECONFLICT, "length %d with prefix %q has few codes left: choose a longer one", req.Length, prefix)
			}
		}
		if b, err = tx.VoucherBatch(ctx, 0, b.ID); err != nil {
			return err
		}
		// Routers in RADIUS mode decide logins from their agents' copies:
		// an unredeemed code is an entry there, so its first use works
		// while the cloud is unreachable.
		vs, err := tx.BatchVouchers(ctx, b.ID)
		if err != nil {
			return err
		}
		if radius, err = tx.BumpVoucherEntries(ctx, tenant, vs, false); err != nil {
			return err
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: tenant, ActorID: p.UserID, Actor: p.Email, Action: "voucher.generate",
			Target: fmt.Sprintf("voucher_batch:%d", b.ID), Result: "ok",
			Detail: fmt.Sprintf("%d vouchers of plan %d at %s", b.Count, plan.ID, b.Price)})
	})
	if err != nil {
		return controlplane.VoucherBatch{}, fmt.Errorf("generate vouchers: %w", err)
	}
	s.publish(controlplane.VoucherChanged{Batch: &b})
	s.publishRadius(tenant, radius)
	return b, nil
}

// ListVoucherBatches returns the batches within scope (every tenant's
// with 0), newest first, with their per-status counts, and the total.
func (s *Service) ListVoucherBatches(ctx context.Context, scope int64, limit, offset int) ([]controlplane.VoucherBatch, int, error) {
	return s.st.ListVoucherBatches(ctx, scope, limit, offset)
}

// ListVouchers returns the vouchers within scope matching f and the
// total. f.Code is normalised as typed (EINVALID when it cannot be a
// code).
func (s *Service) ListVouchers(ctx context.Context, scope int64, f controlplane.VoucherFilter) ([]controlplane.Voucher, int, error) {
	if f.Code != "" {
		code, err := controlplane.NormalizeVoucherCode(f.Code)
		if err != nil {
			return nil, 0, err
		}
		f.Code = code
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, 0, controlplane.Errorf(controlplane.EINVALID, "status: unknown %q", f.Status)
	}
	return s.st.ListVouchers(ctx, scope, f)
}

// RevokeVoucher cancels an unused or active voucher; an active one's
// account is disabled and its sessions kicked now. EFORBIDDEN below tenant
// admin; ENOTFOUND for a voucher p cannot see; ECONFLICT for one already
// used, expired or revoked.
func (s *Service) RevokeVoucher(ctx context.Context, p controlplane.Principal, id int64) (controlplane.Voucher, error) {
	if err := needManage(p, "revoke vouchers"); err != nil {
		return controlplane.Voucher{}, err
	}
	var v controlplane.Voucher
	var res controlplane.AccountResult
	var radius []string
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if v, err = tx.Voucher(ctx, p.Scope(), id, true); err != nil {
			return err
		}
		if v.Status != controlplane.VoucherUnused && v.Status != controlplane.VoucherActive {
			return controlplane.Errorf(controlplane.ECONFLICT, "voucher %d is %s", id, v.Status)
		}
		if v.Status == controlplane.VoucherUnused {
			if radius, err = tx.BumpVoucherEntries(ctx, v.TenantID, []controlplane.Voucher{v}, true); err != nil {
				return err
			}
		}
		if v.Status == controlplane.VoucherActive && v.AccountID != 0 {
			if res, _, err = s.prov.ExpireAccountTx(ctx, tx, v.AccountID, fmt.Sprintf("voucher %d revoked by %s", id, p.Email)); err != nil &&
				controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
				return err
			}
		}
		v.Status = controlplane.VoucherRevoked
		if v, err = tx.UpdateVoucher(ctx, v); err != nil {
			return err
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: v.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "voucher.revoke", Target: fmt.Sprintf("voucher:%d", id), Result: "ok"})
	})
	if err != nil {
		return controlplane.Voucher{}, fmt.Errorf("revoke voucher %d: %w", id, err)
	}
	s.publish(controlplane.VoucherChanged{Voucher: v})
	s.publishRadius(v.TenantID, radius)
	if res.Account.ID != 0 {
		s.prov.Announce(controlplane.AccountUpdated, res)
	}
	return v, nil
}

// notValid is the one refusal of a code that exists in no redeemable
// state.
func notValid() error {
	return controlplane.Errorf(controlplane.ENOTFOUND, "%s", controlplane.VoucherNotValid)
}

// normalMAC returns a device MAC in RouterOS's form (upper case, colons),
// "" for none.
func normalMAC(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", controlplane.Errorf(controlplane.EINVALID, "mac: not a MAC address")
	}
	return strings.ToUpper(hw.String()), nil
}

// RedeemVoucher redeems req.Code of tenant req.TenantID for the device
// req.MAC on router req.RouterID: under the voucher's row lock it makes
// the voucher's account (name = password = the code, the plan's profile,
// expiring after the plan's duration and grace) on every router of the
// tenant, marks it active, counts its price as revenue and announces it.
// The same MAC redeeming an active voucher again gets its login again
// (a re-login) while its time lasts; another MAC, or a code unknown,
// used, expired or revoked, is ENOTFOUND with one message,
// controlplane.VoucherNotValid. EINVALID for a malformed code, MAC or
// tenant; ENOTFOUND for a router not of the tenant. The portal limits and
// counts attempts, not billing.
func (s *Service) RedeemVoucher(ctx context.Context, req controlplane.RedeemRequest) (controlplane.Redemption, error) {
	var out controlplane.Redemption
	var announce func()
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		out, announce, err = s.RedeemVoucherTx(ctx, tx, req, tx.Now())
		return err
	})
	if err != nil {
		if controlplane.ErrorCode(err) == controlplane.ENOTFOUND || controlplane.ErrorCode(err) == controlplane.EINVALID {
			return controlplane.Redemption{}, err // as is: the portal shows the message
		}
		return controlplane.Redemption{}, fmt.Errorf("redeem voucher: %w", err)
	}
	announce()
	return out, nil
}

// RedeemVoucherTx is RedeemVoucher in tx, as of at: the voucher's clock
// starts then (a voucher the edge let in while the cloud was unreachable
// is redeemed as of its first use). Call announce after the commit. Errors
// as RedeemVoucher.
func (s *Service) RedeemVoucherTx(ctx context.Context, tx *store.Tx, req controlplane.RedeemRequest, at time.Time) (out controlplane.Redemption, announce func(), err error) {
	announce = func() {}
	code, err := controlplane.NormalizeVoucherCode(req.Code)
	if err != nil {
		return out, announce, err
	}
	if req.TenantID <= 0 {
		return out, announce, controlplane.Errorf(controlplane.EINVALID, "tenant_id: required")
	}
	mac, err := normalMAC(req.MAC)
	if err != nil {
		return out, announce, err
	}
	if len(req.IP) > 64 {
		return out, announce, controlplane.Errorf(controlplane.EINVALID, "ip: too long")
	}
	if req.RouterID != "" {
		if _, err := tx.Router(ctx, req.TenantID, req.RouterID); err != nil {
			return out, announce, err
		}
	}
	v, err := tx.VoucherByCode(ctx, req.TenantID, code, true)
	if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
		return out, announce, notValid()
	}
	if err != nil {
		return out, announce, err
	}
	now := at.UTC()
	switch {
	case v.Status == controlplane.VoucherActive && mac != "" && v.RedeemedBy == mac && v.AccountID != 0 &&
		v.EndsAt != nil && v.EndsAt.After(now):
		a, err := tx.Account(ctx, 0, v.AccountID, false)
		if err != nil {
			return out, announce, err
		}
		out = controlplane.Redemption{Voucher: v, Credentials: controlplane.Credentials{Username: a.Name, Password: a.Password}}
		return out, announce, nil
	case v.Status != controlplane.VoucherUnused, v.ExpiresAt != nil && !v.ExpiresAt.After(now):
		return out, announce, notValid()
	}
	plan, err := tx.Plan(ctx, req.TenantID, v.PlanID, false)
	if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
		return out, announce, notValid() // the plan was deleted
	}
	if err != nil {
		return out, announce, err
	}
	end := now.Add(time.Duration(plan.DurationSeconds) * time.Second)
	until := end.Add(time.Duration(plan.GraceSeconds) * time.Second)
	want := controlplane.Account{TenantID: v.TenantID, Kind: controlplane.AccountHotspot, Name: code, Password: code,
		Profile: plan.Profile, ExpiresAt: &until, LimitBytesTotal: plan.DataCapBytes, // the router enforces the cap
		Comment: fmt.Sprintf("SitePulse voucher %d", v.ID)}
	all, err := tx.Routers(ctx, v.TenantID)
	if err != nil {
		return out, announce, err
	}
	var routers []controlplane.Router
	for _, r := range all {
		if r.Status != controlplane.RouterRevoked {
			routers = append(routers, r)
		}
	}
	res, op, err := s.prov.ApplyAccountTx(ctx, tx, system, want, routers)
	if err != nil {
		return out, announce, err
	}
	v.Status, v.RedeemedAt, v.EndsAt = controlplane.VoucherActive, &now, &end
	v.AccountID, v.RouterID, v.RedeemedBy = res.Account.ID, req.RouterID, mac
	if v, err = tx.UpdateVoucher(ctx, v); err != nil {
		return out, announce, err
	}
	set, err := tx.BillingSettings(ctx, v.TenantID)
	if err != nil {
		return out, announce, err
	}
	if err := tx.AddRevenue(ctx, v.TenantID, day(now, set.Timezone), v.Price, 1); err != nil {
		return out, announce, err
	}
	out = controlplane.Redemption{Voucher: v, Credentials: controlplane.Credentials{Username: code, Password: code}}
	if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: v.TenantID, Actor: "voucher", Action: "voucher.redeem",
		Target: fmt.Sprintf("voucher:%d", v.ID), Result: "ok", Detail: fmt.Sprintf("router %s, account %d", req.RouterID, v.AccountID)}); err != nil {
		return out, announce, err
	}
	announce = func() {
		s.prov.Announce(op, res)
		changes := []controlplane.Change{controlplane.VoucherChanged{Voucher: v},
			controlplane.PortalPurchaseChanged{Purchase: controlplane.PortalPurchase{TenantID: v.TenantID, RouterID: v.RouterID,
				VoucherID: v.ID, PlanID: v.PlanID, MAC: v.RedeemedBy, Status: "redeemed", At: *v.RedeemedAt}}}
		s.publish(append(changes, s.statsChanges(ctx, v.TenantID)...)...)
	}
	return out, announce, nil
}

// statsChanges are the tenant's and the system's revenue figures after
// money moved.
func (s *Service) statsChanges(ctx context.Context, tenant int64) []controlplane.Change {
	var out []controlplane.Change
	for _, t := range []int64{tenant, 0} {
		st, err := s.Stats(ctx, t)
		if err != nil {
			s.log.Warn("billing stats", "tenant", t, "err", err)
			continue
		}
		out = append(out, controlplane.BillingStatsChanged{Stats: st})
	}
	return out
}

// EndVouchers is the voucher sweep: active vouchers whose time ran out
// become used (their accounts expire by themselves), unused ones past
// their batch's expiry expired. It returns how many moved.
func (s *Service) EndVouchers(ctx context.Context) (int, error) {
	var ended []controlplane.Voucher
	radius := map[int64][]string{}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if ended, err = tx.EndVouchers(ctx, s.now(), 500); err != nil {
			return err
		}
		// Unused vouchers that expired leave the RADIUS copies.
		byTenant := map[int64][]controlplane.Voucher{}
		for _, v := range ended {
			if v.Status == controlplane.VoucherExpired {
				byTenant[v.TenantID] = append(byTenant[v.TenantID], v)
			}
		}
		for t, vs := range byTenant {
			if radius[t], err = tx.BumpVoucherEntries(ctx, t, vs, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("voucher sweep: %w", err)
	}
	changes := make([]controlplane.Change, len(ended))
	for i, v := range ended {
		changes[i] = controlplane.VoucherChanged{Voucher: v}
	}
	s.publish(changes...)
	for t, ids := range radius {
		s.publishRadius(t, ids)
	}
	return len(ended), nil
}

// publishRadius tells the RADIUS sync that the copies of routers changed.
// Call it after the commit.
func (s *Service) publishRadius(tenant int64, routers []string) {
	for _, id := range routers {
		s.publish(controlplane.RadiusChanged{TenantID: tenant, RouterID: id})
	}
}
