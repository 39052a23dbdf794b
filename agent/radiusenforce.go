package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/agent/radius"
	"github.com/sitepulse/sitepulse/protocol"
)

// Ending and changing RADIUS sessions on the router: Disconnect-Request
// for kicks, expiry, used-up caps and disabled or deleted entries; CoA for
// a changed rate limit or end.

// enforceAction is one Disconnect (or, with coa set, CoA) to send.
type enforceAction struct {
	sess   protocol.Session
	reason protocol.EndReason // for a Disconnect
	why    string             // for the log
	coa    *radius.Decision
}

// coaTimeout bounds one Disconnect or CoA exchange with its retries.
const coaTimeout = 10 * time.Second

func targetOf(s *protocol.Session) radius.Target {
	return radius.Target{User: s.User, AcctSessionID: s.AcctSessionID, IP: s.Address, MAC: s.MAC}
}

// enqueue queues an action without blocking the caller (accounting, the
// sync); on a full queue the next enforcement tick tries again.
func (x *radiusEdge) enqueue(a enforceAction) {
	select {
	case x.actions <- a:
	default:
		x.log.Warn("radius enforcement queue full", "why", a.why)
	}
}

func (x *radiusEdge) runActions(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-x.actions:
			actx, cancel := context.WithTimeout(ctx, coaTimeout)
			if a.coa != nil {
				_ = x.changeAuthorization(actx, &a.sess, *a.coa, a.why)
			} else if err := x.disconnect(actx, &a.sess, a.reason, a.why); err != nil {
				x.ledger.markEnding(a.sess.Key, "") // the next tick tries again
			}
			cancel()
		}
	}
}

// disconnect asks the router to end a session, having recorded why so
// that its end carries the reason.
func (x *radiusEdge) disconnect(ctx context.Context, s *protocol.Session, reason protocol.EndReason, why string) error {
	x.ledger.markEnding(s.Key, reason)
	err := x.coaClient().disconnect(ctx, targetOf(s))
	x.m.radiusDisconnects.WithLabelValues(coaResult(err)).Inc()
	if err != nil {
		x.log.Warn("radius disconnect failed", "user", s.User, "acct_session_id", s.AcctSessionID, "why", why, "err", err)
		return err
	}
	x.log.Info("radius session disconnected", "user", s.User, "acct_session_id", s.AcctSessionID, "why", why)
	return nil
}

// coaResult is the metric label of a Disconnect or CoA exchange.
func coaResult(err error) string {
	switch {
	case err == nil:
		return "ack"
	case errors.Is(err, radius.ErrNAK):
		return "nak"
	default:
		return "error"
	}
}

func (x *radiusEdge) changeAuthorization(ctx context.Context, s *protocol.Session, d radius.Decision, why string) error {
	err := x.coaClient().changeAuthorization(ctx, targetOf(s), d)
	x.m.radiusCoA.WithLabelValues(coaResult(err)).Inc()
	if err != nil {
		x.log.Warn("radius change of authorization failed", "user", s.User, "acct_session_id", s.AcctSessionID, "why", why, "err", err)
	}
	return err
}

// enforceTimes disconnects the live sessions whose end has passed. The
// router's own Session-Timeout normally ends them first; this catches an
// end moved closer by the sync and a router that ignored the timeout.
func (x *radiusEdge) enforceTimes(now time.Time) {
	due := x.ledger.live(func(e *liveSession) bool {
		return !e.endsAt.IsZero() && !now.Before(e.endsAt.Add(time.Second)) && e.reason == ""
	})
	for _, e := range due {
		x.ledger.markEnding(e.s.Key, protocol.EndExpired)
		x.enqueue(enforceAction{sess: e.s, reason: protocol.EndExpired, why: "expired"})
	}
}

// endStale ends the RADIUS sessions the API does not see and accounting
// has not mentioned for three interim intervals and a minute: the router
// lost them without a Stop (a crash, a reboot without Accounting-On).
func (x *radiusEdge) endStale(ctx context.Context, now time.Time) {
	_, interim := x.book.settings()
	x.acctMu.Lock()
	defer x.acctMu.Unlock()
	cs := x.ledger.endStale(now, 3*interim+time.Minute)
	if len(cs) == 0 {
		return
	}
	if err := x.ob.record(ctx, cs...); err != nil {
		x.log.Error("record stale radius sessions", "err", err)
		return
	}
	x.log.Info("radius sessions without accounting ended", "count", len(cs))
}

// entriesChanged acts on the live sessions of entries a sync page
// changed: a disabled, deleted or expired entry ends them; a new rate
// limit or end changes them.
func (x *radiusEdge) entriesChanged(ctx context.Context, changes []entryChange) {
	now := x.cfg.Now()
	for _, c := range changes {
		cur := c.cur
		ref := entryRef{cur.Kind, cur.Name}
		if c.old != nil && c.old.Voucher && !cur.Voucher {
			x.forgetRedemptions(ctx, ref)
		}
		live := x.ledger.live(func(e *liveSession) bool { return e.s.Kind == ref.kind && e.s.User == ref.name })
		if len(live) == 0 {
			continue
		}
		var reason protocol.EndReason
		var why string
		switch {
		case cur.Deleted:
			reason, why = protocol.EndKicked, "entry deleted"
		case cur.Disabled:
			reason, why = protocol.EndKicked, "entry disabled"
		case !cur.ExpiresAt.IsZero() && !now.Before(cur.ExpiresAt):
			reason, why = protocol.EndExpired, "expired"
		}
		if reason != "" {
			for _, e := range live {
				x.ledger.markEnding(e.s.Key, reason)
				x.enqueue(enforceAction{sess: e.s, reason: reason, why: why})
			}
			continue
		}
		var d radius.Decision
		changed := false
		if c.old != nil && cur.RateLimit != c.old.RateLimit && cur.RateLimit != "" {
			d.RateLimit, changed = cur.RateLimit, true
		}
		if c.old != nil && !cur.ExpiresAt.Equal(c.old.ExpiresAt) {
			x.ledger.setEndsAt(ref, cur.ExpiresAt)
			if !cur.ExpiresAt.IsZero() {
				d.SessionTimeout, changed = cur.ExpiresAt.Sub(now), true
			}
		}
		if !changed {
			continue
		}
		d.Accept = true
		for _, e := range live {
			dd := d
			x.enqueue(enforceAction{sess: e.s, coa: &dd, why: "entry changed"})
		}
	}
}

// radiusKicker is what the executor asks before kicking over the API.
type radiusKicker interface {
	// kickTargets returns the live RADIUS sessions a kick names while
	// the router is in radius mode; none means the API does the kick.
	kickTargets(kind protocol.SessionKind, k *protocol.Kick) []protocol.Session
	// kick sends a Disconnect-Request for each; the error carries a NAK's
	// text.
	kick(ctx context.Context, ss []protocol.Session) error
}

func (x *radiusEdge) kickTargets(kind protocol.SessionKind, k *protocol.Kick) []protocol.Session {
	if mode, _ := x.book.settings(); mode != protocol.AuthRadius {
		return nil
	}
	acct := ""
	if kind == protocol.KindHotspot && k.RouterOSID != "" {
		acct, _ = acctFromHotspotID(k.RouterOSID)
	}
	live := x.ledger.live(func(e *liveSession) bool {
		if e.s.Kind != kind {
			return false
		}
		switch {
		case k.Key != "":
			return e.s.Key == k.Key
		case k.RouterOSID != "":
			return e.s.RouterOSID == k.RouterOSID || acct != "" && e.s.AcctSessionID == acct
		default:
			return e.s.User == k.User
		}
	})
	out := make([]protocol.Session, len(live))
	for i := range live {
		out[i] = live[i].s
	}
	return out
}

func (x *radiusEdge) kick(ctx context.Context, ss []protocol.Session) error {
	for i := range ss {
		if err := x.disconnect(ctx, &ss[i], protocol.EndKicked, "kicked"); err != nil {
			x.ledger.markEnding(ss[i].Key, "")
			if errors.Is(err, radius.ErrNAK) {
				return &cmdError{protocol.CodeRouterError, truncate(err.Error(), protocol.MaxFieldLen)}
			}
			return &cmdError{protocol.CodeUnreachable, truncate(fmt.Sprintf("disconnect %s: %v", ss[i].User, err), protocol.MaxFieldLen)}
		}
	}
	return nil
}
