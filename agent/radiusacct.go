package agent

import (
	"context"
	"time"

	"github.com/sitepulse/sitepulse/agent/radius"
	"github.com/sitepulse/sitepulse/protocol"
)

// Accounting-Request → outbox events, through the session ledger so that
// the API view of the same session adds nothing twice.

// Accounting-Status-Type values passed through besides Start, Stop and
// Interim-Update: the NAS (re)started, so its sessions are gone.
const (
	acctOn  radius.AcctStatus = 7
	acctOff radius.AcctStatus = 8
)

// endReasonForCause maps Acct-Terminate-Cause to an end reason.
func endReasonForCause(cause int) protocol.EndReason {
	switch cause {
	case 6, 10: // Admin-Reset, NAS-Request
		return protocol.EndKicked
	case 5: // Session-Timeout
		return protocol.EndExpired
	default: // User-Request (1) and the rest
		return protocol.EndLogout
	}
}

// Account implements radius.Decider. It returns nil only once what the
// record changed has committed to the outbox, so that the router's
// Accounting-Response means durable.
func (x *radiusEdge) Account(ctx context.Context, rec radius.Accounting) error {
	x.m.radiusAccounting.WithLabelValues(acctStatusName(rec.Status)).Inc()
	now := x.cfg.Now()
	if rec.Status == acctOn || rec.Status == acctOff {
		x.acctMu.Lock()
		wait, err := x.ob.recordThen(ctx, x.endAllRadius(now)...)
		x.acctMu.Unlock()
		if err != nil {
			return err
		}
		return wait()
	}
	if rec.AcctSessionID == "" || rec.User == "" {
		return nil // nothing to tie it to; acknowledged so the router stops resending
	}
	var version uint64
	var cap, usedBase uint64
	var expires time.Time
	if e, err := x.book.get(ctx, rec.Kind, rec.User); err == nil && e != nil {
		version, cap, usedBase, expires = e.Version, e.DataCapBytes, e.UsedBytes, e.ExpiresAt
	}
	// Decided and queued under acctMu, so that the outbox keeps the order
	// the ledger decided in (an Interim never lands after its Stop); the
	// commit is awaited outside it.
	x.acctMu.Lock()
	cs, overCap, sess := x.ledger.account(rec, now, entryRef{rec.Kind, rec.User}, version, cap, usedBase)
	if len(cs) == 0 {
		x.acctMu.Unlock()
		return nil
	}
	wait, err := x.ob.recordThen(ctx, cs...)
	x.acctMu.Unlock()
	if err != nil {
		return err
	}
	if err := wait(); err != nil {
		return err
	}
	if rec.Status == radius.AcctInterim && sess != nil {
		switch {
		case overCap:
			x.enqueue(enforceAction{sess: *sess, reason: protocol.EndExpired, why: "data cap reached"})
		case !expires.IsZero() && !now.Before(expires):
			x.enqueue(enforceAction{sess: *sess, reason: protocol.EndExpired, why: "expired"})
		}
	}
	return nil
}

func acctStatusName(s radius.AcctStatus) string {
	switch s {
	case radius.AcctStart:
		return "start"
	case radius.AcctInterim:
		return "interim"
	case radius.AcctStop:
		return "stop"
	case acctOn:
		return "on"
	case acctOff:
		return "off"
	}
	return "other"
}

// account applies one Start, Interim-Update or Stop to the ledger and
// returns the outbox changes it makes, whether the entry's data cap is
// now used up, and the session.
func (l *sessionLedger) account(rec radius.Accounting, now time.Time, ref entryRef, version, cap, usedBase uint64) ([]change, bool, *protocol.Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ak := keyRef{rec.Kind, rec.AcctSessionID}
	// Times are the agent's, like the API watcher's (now - uptime), so
	// that both compute the same login; the router's clock may be off.
	ts := now.UTC()
	loginAt := ts.Add(-rec.SessionTime).Truncate(time.Second)
	e := l.byAcct[ak]
	if e == nil {
		e = l.findForAcct(rec)
	}
	// A Start on a finished session's id is a new session (a reboot
	// renumbers); anything else on it is late or repeated.
	if e != nil && e.ended && rec.Status == radius.AcctStart {
		e = nil
	}
	var cs []change
	adopted := false
	if e == nil {
		e = &liveSession{s: sessionFromAcct(rec, loginAt), radius: true, at: now}
		if p, ok := l.pending[ak]; ok {
			e.endsAt = p.endsAt
			l.dropPending(ak)
		}
		setCounters(&e.s, acctCounters(rec))
		l.index(e)
		l.addUser(e)
		sess := e.s
		cs = append(cs, change{event: &protocol.Event{TS: ts, Type: protocol.EventSessionStarted, Session: &sess}})
	} else if !e.radius {
		// The API watcher saw it first: adopt its key, start nothing (an
		// update tells the control plane the Acct-Session-Id).
		adopted = true
		e.radius = true
		e.s.AcctSessionID = rec.AcctSessionID
		if p, ok := l.pending[ak]; ok {
			e.endsAt = p.endsAt
			l.dropPending(ak)
		}
		l.index(e)
		l.addUser(e)
	}
	if e.ended {
		return nil, false, nil // a late or repeated record of a finished session
	}
	e.at = now
	if rec.IP != "" {
		e.s.Address = rec.IP
	}
	old := counters(&e.s)
	setCounters(&e.s, maxCounters(old, acctCounters(rec)))

	// Usage since the entry's version, for caps and uptime budgets.
	u := l.usage[ref]
	if u == nil || u.version != version {
		u = &entryUsage{version: version}
		l.usage[ref] = u
	}
	if total := rec.InputOctets + rec.OutputOctets; total > e.counted {
		u.bytes += total - e.counted
		e.counted = total
	}
	if secs := int64(rec.SessionTime / time.Second); secs > e.countedSecs {
		u.secs += secs - e.countedSecs
		e.countedSecs = secs
	}
	overCap := cap > 0 && usedBase+u.bytes >= cap

	sess := e.s
	switch rec.Status {
	case radius.AcctStop:
		e.ended = true
		l.dropUser(e)
		reason := e.reason
		if reason == "" {
			reason = endReasonForCause(rec.TerminateCause)
		}
		ended := change{event: &protocol.Event{TS: ts, Type: protocol.EventSessionEnded, Session: &sess, Reason: reason},
			exec: forgetRadiusRow(e.s.Kind, e.s.AcctSessionID)}
		if e.api && e.s.RouterOSID != "" {
			ended.forget = sessionRef(&sess)
		}
		cs = append(cs, ended)
	default:
		// The row commits with the event that made it change.
		switch {
		case len(cs) > 0: // just started: the start carries the counters
			cs[0].exec = storeRadiusRow(e)
		case rec.Status == radius.AcctInterim || adopted:
			cs = append(cs, change{event: &protocol.Event{TS: ts, Type: protocol.EventSessionUpdated, Session: &sess}, exec: storeRadiusRow(e)})
		default:
			cs = append(cs, change{exec: storeRadiusRow(e)})
		}
	}
	return cs, overCap, &sess
}

// findForAcct finds the API's view of an accounted session: by the
// hotspot row's .id derived from Acct-Session-Id (same user and MAC), or
// by the PPP key.
//
// Failing that (an id in another format), the one live API session of the
// same user and MAC that accounting has not claimed is it.
func (l *sessionLedger) findForAcct(rec radius.Accounting) *liveSession {
	if rec.Kind == protocol.KindHotspot {
		if id, ok := hotspotIDFromAcct(rec.AcctSessionID); ok {
			if e := l.byRef[keyRef{rec.Kind, id}]; e != nil && e.s.User == rec.User && (rec.MAC == "" || e.s.MAC == rec.MAC) {
				return e
			}
			return nil // it names a row the API has not seen (yet)
		}
	} else if e := l.byKey[protocol.PPPKey(rec.User, rec.AcctSessionID)]; e != nil {
		return e
	}
	if rec.MAC == "" {
		return nil
	}
	var found *liveSession
	for _, e := range l.byKey {
		if e.api && !e.radius && !e.ended && e.s.Kind == rec.Kind && e.s.User == rec.User && e.s.MAC == rec.MAC {
			if found != nil {
				return nil // ambiguous: two sessions of one device
			}
			found = e
		}
	}
	return found
}

// sessionFromAcct names a session accounting saw first (ledger key rule).
func sessionFromAcct(rec radius.Accounting, loginAt time.Time) protocol.Session {
	s := protocol.Session{Kind: rec.Kind, User: rec.User, MAC: rec.MAC, Address: rec.IP, AcctSessionID: rec.AcctSessionID,
		StartedAt: loginAt, LoginBy: "radius"}
	if rec.Kind == protocol.KindHotspot {
		id, _ := hotspotIDFromAcct(rec.AcctSessionID)
		s.RouterOSID = id
		s.Key = protocol.HotspotKey(rec.User, rec.MAC, loginAt, id)
	} else {
		s.SessionID = rec.AcctSessionID
		s.Key = protocol.PPPKey(rec.User, rec.AcctSessionID)
	}
	return s
}

func acctCounters(rec radius.Accounting) [4]uint64 {
	return [4]uint64{rec.InputOctets, rec.OutputOctets, rec.InputPackets, rec.OutputPackets}
}

// endAllRadius ends every live session accounting told of (the NAS
// restarted: Accounting-On or -Off).
func (x *radiusEdge) endAllRadius(now time.Time) []change {
	l := x.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	var cs []change
	for _, e := range l.byAcct {
		if !e.radius || e.ended {
			continue
		}
		e.ended, e.at = true, now
		l.dropUser(e)
		sess := e.s
		c := change{event: &protocol.Event{TS: now.UTC(), Type: protocol.EventSessionEnded, Session: &sess, Reason: protocol.EndVanished},
			exec: forgetRadiusRow(e.s.Kind, e.s.AcctSessionID)}
		if e.api && e.s.RouterOSID != "" {
			c.forget = sessionRef(&sess)
		}
		cs = append(cs, c)
	}
	return cs
}

// endStale ends the RADIUS sessions, unseen by the API, whose last
// accounting is older than quiet.
func (l *sessionLedger) endStale(now time.Time, quiet time.Duration) []change {
	l.mu.Lock()
	defer l.mu.Unlock()
	var cs []change
	for _, e := range l.byAcct {
		if !e.radius || e.ended || e.api || now.Sub(e.at) < quiet {
			continue
		}
		e.ended, e.at = true, now
		l.dropUser(e)
		sess := e.s
		cs = append(cs, change{event: &protocol.Event{TS: now.UTC(), Type: protocol.EventSessionEnded, Session: &sess, Reason: protocol.EndVanished},
			exec: forgetRadiusRow(e.s.Kind, e.s.AcctSessionID)})
	}
	return cs
}
