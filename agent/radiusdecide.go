package agent

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/agent/radius"
	"github.com/sitepulse/sitepulse/protocol"
)

// Reject reasons, shown on the hotspot login page.
const (
	reasonNotEnabled  = "radius not enabled for this router"
	reasonDisabled    = "disabled"
	reasonExpired     = "expired"
	reasonDataLimit   = "data limit reached"
	reasonTimeLimit   = "time limit reached"
	reasonVoucherUsed = "voucher already used on another device"
	reasonVoucherBad  = "voucher not valid"
	reasonUnavailable = "login temporarily unavailable"
	reasonUnknown     = "unknown user"
)

// Credentials implements radius.Decider: a hotspot entry's clear-text
// password, a PPP entry's NT hash (and its password, if the sync sent
// one). A voucher's password is its code.
func (x *radiusEdge) Credentials(kind protocol.SessionKind, user string) (radius.Secret, bool) {
	e, err := x.book.get(context.Background(), kind, user)
	if err != nil {
		x.log.Error("radius credentials lookup", "kind", kind, "err", err)
		return radius.Secret{}, false
	}
	if e == nil {
		return radius.Secret{}, false
	}
	s := radius.Secret{Password: e.Password}
	if e.NTHash != "" {
		if b, err := hex.DecodeString(e.NTHash); err == nil && len(b) == 16 {
			copy(s.NTHash[:], b)
			s.HasNT = true
		}
	}
	if s.Password == "" && !s.HasNT {
		return radius.Secret{}, false
	}
	return s, true
}

func reject(reason string) radius.Decision { return radius.Decision{Reason: reason} }

// Decide implements radius.Decider, once the password checked out.
func (x *radiusEdge) Decide(ctx context.Context, req radius.Request) radius.Decision {
	d := x.decide(ctx, req)
	res := "accept"
	if !d.Accept {
		res = "reject"
	}
	x.m.radiusDecisions.WithLabelValues(res).Inc()
	return d
}

func (x *radiusEdge) decide(ctx context.Context, req radius.Request) radius.Decision {
	mode, _ := x.book.settings()
	if mode != protocol.AuthRadius {
		return reject(reasonNotEnabled)
	}
	e, err := x.book.get(ctx, req.Kind, req.User)
	if err != nil {
		x.log.Error("radius entry lookup", "err", err)
		return reject(reasonUnavailable)
	}
	if e == nil {
		return reject(reasonUnknown)
	}
	now := x.cfg.Now()
	if e.Voucher {
		return x.decideVoucher(ctx, e, req, now)
	}
	return x.decideEntry(e, req, now, time.Time{})
}

// decideEntry applies an account's rules; voucherEnd, when set, also
// bounds the session (a voucher let in offline).
func (x *radiusEdge) decideEntry(e *protocol.RadiusEntry, req radius.Request, now, voucherEnd time.Time) radius.Decision {
	if e.Disabled {
		r := e.Reason
		if r == "" {
			r = reasonDisabled
		}
		return reject(r)
	}
	if !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt) {
		return reject(reasonExpired)
	}
	if !voucherEnd.IsZero() && !now.Before(voucherEnd) {
		return reject(reasonExpired)
	}
	if n := x.ledger.sharing(e.Kind, e.Name, req.MAC, now); n >= max(1, e.SharedUsers) {
		return reject(fmt.Sprintf("already logged in on %d devices", n))
	}
	ref := entryRef{e.Kind, e.Name}
	usedBytes, usedSecs := x.ledger.used(ref, e.Version)
	used := e.UsedBytes + usedBytes
	if e.DataCapBytes > 0 && used >= e.DataCapBytes {
		return reject(reasonDataLimit)
	}
	var timeout time.Duration
	var endsAt time.Time
	bound := func(t time.Time) {
		if !t.IsZero() && (endsAt.IsZero() || t.Before(endsAt)) {
			endsAt = t
		}
	}
	bound(e.ExpiresAt)
	bound(voucherEnd)
	if e.UptimeLimitSeconds > 0 {
		left := e.UptimeLimitSeconds - usedSecs
		if left <= 0 {
			return reject(reasonTimeLimit)
		}
		timeout = time.Duration(left) * time.Second
	}
	if !endsAt.IsZero() {
		if t := endsAt.Sub(now); timeout == 0 || t < timeout {
			timeout = t
		}
	}
	_, interim := x.book.settings()
	d := radius.Decision{Accept: true, Profile: e.Profile, RateLimit: e.RateLimit, SessionTimeout: timeout,
		InterimInterval: interim, FramedPool: e.FramedPool}
	if e.DataCapBytes > 0 {
		d.TotalLimit = e.DataCapBytes - used
	}
	if timeout > 0 {
		bound(now.Add(timeout))
	}
	x.ledger.accepted(req.Kind, req.AcctSessionID, req.User, req.MAC, endsAt, now)
	return d
}

// decideVoucher decides an unredeemed voucher's use. The control plane
// decides when it answers within AskTimeout; otherwise the conservative
// offline rule applies (doc.go, "Vouchers offline").
func (x *radiusEdge) decideVoucher(ctx context.Context, e *protocol.RadiusEntry, req radius.Request, now time.Time) radius.Decision {
	ref := entryRef{e.Kind, e.Name}
	x.redeemMu.Lock()
	macs := x.redeemed[ref]
	end, again := macs[req.MAC]
	full := !again && len(macs) >= max(1, e.SharedUsers)
	x.redeemMu.Unlock()
	if again {
		// The same device logging in again: within the time it was given.
		return x.decideEntry(e, req, now, end)
	}
	if full {
		return reject(reasonVoucherUsed)
	}
	if a, ok := x.ask(ctx, e.Name, req.MAC, req.IP); ok {
		if !a.Accept {
			r := a.Reason
			if r == "" {
				r = reasonVoucherBad
			}
			return reject(r)
		}
		acct := a.Entry
		if acct == nil {
			// Accepted without the account: let it in as the voucher
			// allows; the sync brings the account.
			v := *e
			v.Voucher = false
			acct = &v
			if e.VoucherSeconds > 0 {
				acct.ExpiresAt = now.Add(time.Duration(e.VoucherSeconds) * time.Second)
			}
		} else if acct.Kind != e.Kind || acct.Name != e.Name {
			if err := x.book.remove(ctx, ref); err != nil {
				x.log.Error("remove redeemed voucher", "err", err)
			}
		}
		return x.decideEntry(acct, req, now, time.Time{})
	}
	return x.admitOffline(ctx, e, req, now)
}

// admitOffline lets a voucher in for VoucherSeconds while the control
// plane cannot be asked, remembering the use (so that only SharedUsers
// devices get in and the same device may come back) and recording a
// voucher.used event in the same commit, for the control plane to redeem
// or flag.
func (x *radiusEdge) admitOffline(ctx context.Context, e *protocol.RadiusEntry, req radius.Request, now time.Time) radius.Decision {
	var end time.Time
	if e.VoucherSeconds > 0 {
		end = now.Add(time.Duration(e.VoucherSeconds) * time.Second)
	}
	d := x.decideEntry(e, req, now, end)
	if !d.Accept {
		return d
	}
	at := now.UTC()
	use := &protocol.VoucherUse{Code: e.Name, MAC: req.MAC, IP: req.IP, At: at, EndsAt: at}
	if !end.IsZero() {
		use.EndsAt = end.UTC()
	}
	kind, code, mac := string(e.Kind), e.Name, req.MAC
	err := x.ob.recordDurable(ctx, change{
		event: &protocol.Event{TS: at, Type: protocol.EventVoucherUsed, Voucher: use},
		exec: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO radius_redemptions (kind, code, mac, at, ends_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (kind, code, mac) DO UPDATE SET at = excluded.at, ends_at = excluded.ends_at`,
				kind, code, mac, at.UnixNano(), timeNano(end))
			return err
		},
	})
	if err != nil {
		// Not durable: letting the voucher in would lose its use.
		x.log.Error("record offline voucher use", "err", err)
		return reject(reasonUnavailable)
	}
	ref := entryRef{e.Kind, e.Name}
	x.redeemMu.Lock()
	if x.redeemed[ref] == nil {
		x.redeemed[ref] = map[string]time.Time{}
	}
	x.redeemed[ref][req.MAC] = end
	x.redeemMu.Unlock()
	x.m.radiusOfflineVouchers.Inc()
	x.log.Info("voucher let in offline; the control plane reconciles it", "kind", e.Kind, "mac", req.MAC, "ends_at", end)
	return d
}

func timeNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// forgetRedemptions drops the local uses of a voucher the sync replaced.
func (x *radiusEdge) forgetRedemptions(ctx context.Context, ref entryRef) {
	x.redeemMu.Lock()
	_, had := x.redeemed[ref]
	delete(x.redeemed, ref)
	x.redeemMu.Unlock()
	if !had {
		return
	}
	if _, err := x.db.ExecContext(ctx, `DELETE FROM radius_redemptions WHERE kind = ? AND code = ?`, string(ref.kind), ref.name); err != nil {
		x.log.Error("forget voucher redemptions", "err", err)
	}
}
