package radiussync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// HandleRadiusAsk decides a voucher's first use at a router with the
// portal's redemption (for the device's MAC, at that router) and answers in
// a page: Accept with the redeemed account's entry, or a reject with
// controlplane.VoucherNotValid. The redemption's entry changes reach the
// router's copy by the normal sync too. ENOTFOUND for an unknown router;
// other errors are transient (the agent asks again).
func (s *Service) HandleRadiusAsk(ctx context.Context, a *protocol.RadiusAsk) error {
	r, err := s.st.GetRouter(ctx, 0, a.Router)
	if err != nil {
		return err
	}
	if r.Status == controlplane.RouterRevoked {
		return controlplane.Errorf(controlplane.EUNAUTHORIZED, "router %s is revoked", a.Router)
	}
	ans := protocol.RadiusAnswer{ID: a.ID, Reason: controlplane.VoucherNotValid}
	if s.opts.Redeemer != nil {
		var red controlplane.Redemption
		announce := func() {}
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			var err error
			red, announce, err = s.opts.Redeemer.RedeemVoucherTx(ctx, tx, controlplane.RedeemRequest{TenantID: r.TenantID,
				Code: a.Code, RouterID: r.ID, MAC: a.MAC, IP: a.IP}, tx.Now())
			return err
		})
		switch controlplane.ErrorCode(err) {
		case "":
			announce()
			ans = protocol.RadiusAnswer{ID: a.ID, Accept: true}
			if row, err := s.st.RadiusEntry(ctx, r.ID, protocol.KindHotspot, red.Credentials.Username); err == nil {
				e := entryOf(row)
				if !e.Deleted {
					ans.Entry = &e
				}
			}
		case controlplane.ENOTFOUND, controlplane.EINVALID:
		default:
			return fmt.Errorf("radius ask %s of router %s: %w", a.ID, a.Router, err)
		}
	}
	label := "reject"
	if ans.Accept {
		label = "accept"
	}
	s.m.asks.WithLabelValues(label).Inc()
	pub := s.publisher()
	if pub == nil {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "radius sync not started")
	}
	v := r.Radius.AgentVersion
	msg := &protocol.RadiusSync{V: protocol.Version, Router: r.ID, Mode: r.AuthMode, From: v, To: v, Head: max(r.Radius.Version, v),
		Answers: []protocol.RadiusAnswer{ans}, InterimSeconds: s.opts.InterimSeconds}
	if ans.Entry != nil && msg.Validate() != nil {
		ans.Entry = nil // the normal sync sends it (as a deletion if refused)
		msg.Answers[0] = ans
	}
	if err := pub.PublishRadius(ctx, msg); err != nil {
		s.m.publishFailures.Inc()
		return fmt.Errorf("answer radius ask %s of router %s: %w", a.ID, a.Router, err)
	}
	return nil
}

// errRefused rolls back a reconciliation whose redemption was refused, so
// that the use is recorded as not valid in a transaction of its own.
var errRefused = errors.New("redemption refused")

// reconcileUses handles every recorded voucher use not handled yet.
func (s *Service) reconcileUses(ctx context.Context) error {
	if s.opts.Redeemer == nil {
		return nil
	}
	for {
		uses, err := s.st.PendingVoucherUses(ctx, 100)
		if err != nil {
			return err
		}
		for _, u := range uses {
			if err := s.reconcile(ctx, u.ID); err != nil {
				return fmt.Errorf("voucher use %d: %w", u.ID, err)
			}
		}
		if len(uses) < 100 {
			return nil
		}
	}
}

// reconcile handles voucher use id once, under its row lock: an unused
// voucher is redeemed as of the use; one redeemed by another device or at
// another router is flagged as a double use (audit, log, metric and a
// VoucherDoubleUse); the same device at the same router again changes
// nothing; an unknown, revoked or expired code is recorded as not valid.
func (s *Service) reconcile(ctx context.Context, id int64) error {
	var (
		announce = func() {}
		result   string
		double   *controlplane.VoucherDoubleUse
	)
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		u, ok, err := tx.TakeVoucherUse(ctx, id)
		if err != nil || !ok {
			return err // handled already
		}
		result = store.VoucherUseNotValid
		v, err := voucherOf(ctx, tx, u)
		switch {
		case controlplane.ErrorCode(err) == controlplane.ENOTFOUND || controlplane.ErrorCode(err) == controlplane.EINVALID:
		case err != nil:
			return err
		case v.Status == controlplane.VoucherUnused && (v.ExpiresAt == nil || v.ExpiresAt.After(u.At)):
			_, announce, err = s.opts.Redeemer.RedeemVoucherTx(ctx, tx, controlplane.RedeemRequest{TenantID: u.TenantID, Code: v.Code,
				RouterID: u.RouterID, MAC: u.MAC, IP: u.IP}, u.At)
			if c := controlplane.ErrorCode(err); c == controlplane.ENOTFOUND || c == controlplane.EINVALID {
				return errRefused
			}
			if err != nil {
				return err
			}
			result = store.VoucherUseRedeemed
		case v.Status == controlplane.VoucherActive || v.Status == controlplane.VoucherUsed:
			if v.RouterID == u.RouterID && sameMAC(v.RedeemedBy, u.MAC) {
				result = store.VoucherUseSame
				break
			}
			result = store.VoucherUseDouble
			double = &controlplane.VoucherDoubleUse{Voucher: v, RouterID: u.RouterID, MAC: u.MAC, At: u.At}
			if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: u.TenantID, Actor: "system", Action: "voucher.double_use",
				Target: fmt.Sprintf("voucher:%d", v.ID), Result: "flagged",
				Detail: fmt.Sprintf("used offline at router %s at %s; redeemed at router %s", u.RouterID,
					u.At.Format("2006-01-02T15:04:05Z07:00"), v.RouterID)}); err != nil {
				return err
			}
		}
		return tx.FinishVoucherUse(ctx, u.ID, result)
	})
	if errors.Is(err, errRefused) {
		result = store.VoucherUseNotValid
		err = s.st.Write(ctx, func(tx *store.Tx) error {
			if _, ok, err := tx.TakeVoucherUse(ctx, id); err != nil || !ok {
				return err
			}
			return tx.FinishVoucherUse(ctx, id, result)
		})
	}
	if err != nil {
		return err
	}
	if result == "" {
		return nil // another replica handled it
	}
	s.m.uses.WithLabelValues(result).Inc()
	announce()
	if double != nil {
		s.m.doubleUse.Inc()
		s.log.Warn("voucher used twice: redeemed at one router and reported used offline at another (or by another device)",
			"voucher", double.Voucher.ID, "tenant", double.Voucher.TenantID, "redeemed_at_router", double.Voucher.RouterID,
			"used_at_router", double.RouterID, "at", double.At)
		s.bus.Publish(*double, controlplane.VoucherChanged{Voucher: double.Voucher})
	}
	return nil
}

// voucherOf returns the voucher of use u, locked.
func voucherOf(ctx context.Context, tx *store.Tx, u store.VoucherUse) (controlplane.Voucher, error) {
	code, err := controlplane.NormalizeVoucherCode(u.Code)
	if err != nil {
		return controlplane.Voucher{}, err
	}
	return tx.VoucherByCode(ctx, u.TenantID, code, true)
}

// sameMAC compares two MACs as RouterOS would print them.
func sameMAC(a, b string) bool {
	ha, err1 := net.ParseMAC(strings.TrimSpace(a))
	hb, err2 := net.ParseMAC(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return strings.EqualFold(ha.String(), hb.String())
}
