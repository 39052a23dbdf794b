package sim

import (
	"context"
	"net"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
)

// RADIUS accounting of the sessions a RADIUS server let in: Start on
// login, Interim-Update every interval (checked on the simulator's clock
// whenever sessions are expired: each Tick and login), Stop with
// Acct-Terminate-Cause when the session ends. Each record is sent on its
// own goroutine with the server's timeout between retransmits of the same
// packet (same Identifier); an unanswered Start or Interim-Update is
// given up after radiusTries, an unanswered Stop is kept and sent again
// later until it is answered or the router is closed, as RouterOS keeps
// trying.

// radSession is the RADIUS side of a session.
type radSession struct {
	server      radiusServer // the one that accepted it gets its accounting
	ident       radIdent
	class       []byte // Class from the Access-Accept, echoed as RFC 2865 asks
	accounting  bool
	interim     time.Duration
	nextInterim time.Time
}

// terminateCause maps the simulator's logout reasons to Acct-Terminate-Cause.
func terminateCause(reason string) rfc2866.AcctTerminateCause {
	switch reason {
	case "logout":
		return rfc2866.AcctTerminateCause_Value_UserRequest
	case "idle":
		return rfc2866.AcctTerminateCause_Value_IdleTimeout
	case "expired":
		return rfc2866.AcctTerminateCause_Value_SessionTimeout
	case "kicked":
		return rfc2866.AcctTerminateCause_Value_AdminReset
	case "reboot":
		return rfc2866.AcctTerminateCause_Value_NASReboot
	default: // traffic-limit
		return rfc2866.AcctTerminateCause_Value_NASRequest
	}
}

// accountLocked queues one accounting record of s with its counters now.
func (r *Router) accountLocked(s *session, status rfc2866.AcctStatusType, cause rfc2866.AcctTerminateCause, now time.Time) {
	rs := s.rad
	if rs == nil || !rs.accounting || r.closed {
		return
	}
	p := radius.New(radius.CodeAccountingRequest, rs.server.secret)
	rs.ident.add(p)
	if rs.ident.kind == "pppoe" {
		if ip := net.ParseIP(s.addr).To4(); ip != nil {
			rfc2865.FramedIPAddress_Set(p, ip)
		}
	}
	rfc2866.AcctStatusType_Set(p, status)
	rfc2866.AcctAuthentic_Set(p, rfc2866.AcctAuthentic_Value_RADIUS)
	if len(rs.class) > 0 {
		rfc2865.Class_Set(p, rs.class)
	}
	rfc2869.EventTimestamp_Set(p, now)
	if status != rfc2866.AcctStatusType_Value_Start {
		rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(now.Sub(s.loginAt)/time.Second))
		rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(uint32(s.bytesIn)))
		rfc2869.AcctInputGigawords_Set(p, rfc2869.AcctInputGigawords(s.bytesIn>>32))
		rfc2866.AcctOutputOctets_Set(p, rfc2866.AcctOutputOctets(uint32(s.bytesOut)))
		rfc2869.AcctOutputGigawords_Set(p, rfc2869.AcctOutputGigawords(s.bytesOut>>32))
		rfc2866.AcctInputPackets_Set(p, rfc2866.AcctInputPackets(uint32(s.pktsIn)))
		rfc2866.AcctOutputPackets_Set(p, rfc2866.AcctOutputPackets(uint32(s.pktsOut)))
	}
	if status == rfc2866.AcctStatusType_Value_Stop {
		rfc2866.AcctTerminateCause_Set(p, cause)
	}
	r.rad.mu.Lock()
	r.rad.stats.AcctPending++
	r.rad.mu.Unlock()
	r.wg.Add(1)
	go r.sendAcct(p, rs.server, status == rfc2866.AcctStatusType_Value_Stop)
}

// sendAcct delivers one record; see the top of the file.
func (r *Router) sendAcct(p *radius.Packet, s radiusServer, keep bool) {
	defer r.wg.Done()
	ctx := r.bg
	later := max(s.timeout*radiusTries, time.Second)
	for {
		if r.acctAttempt(ctx, p, s) {
			r.radCount(func(st *RadiusStats) { st.AcctAnswered++; st.AcctPending-- })
			return
		}
		if ctx.Err() != nil || !keep {
			r.radCount(func(st *RadiusStats) {
				st.AcctPending--
				if ctx.Err() == nil {
					st.AcctDropped++
				}
			})
			if ctx.Err() == nil {
				r.log.Warn("radius accounting not answered; given up", "server", s.acct)
			}
			return
		}
		if sleepCtx(ctx, later) != nil {
			r.radCount(func(st *RadiusStats) { st.AcctPending-- })
			return
		}
	}
}

// acctAttempt sends p up to radiusTries times, timeout apart, and reports
// whether an Accounting-Response came.
func (r *Router) acctAttempt(ctx context.Context, p *radius.Packet, s radiusServer) bool {
	r.rad.mu.Lock()
	delay, deaf := r.rad.faults.Delay, r.rad.faults.DeafAccounting
	r.rad.stats.AcctSent++
	r.rad.mu.Unlock()
	if sleepCtx(ctx, delay) != nil {
		return false
	}
	if deaf {
		// The answers are lost: the server still gets every retransmit.
		r.acctDeaf(ctx, p, s)
		return false
	}
	actx, cancel := context.WithTimeout(ctx, s.timeout*radiusTries)
	defer cancel()
	resp, err := s.client().Exchange(actx, p, s.acct)
	if err != nil {
		return false
	}
	return resp.Code == radius.CodeAccountingResponse
}

// acctDeaf sends p radiusTries times, timeout apart, reading nothing.
func (r *Router) acctDeaf(ctx context.Context, p *radius.Packet, s radiusServer) {
	wire, err := p.Encode()
	if err != nil {
		return
	}
	var d net.Dialer
	if s.src != "" {
		d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(s.src)}
	}
	conn, err := d.DialContext(ctx, "udp", s.acct)
	if err != nil {
		return
	}
	defer conn.Close()
	for range radiusTries {
		conn.Write(wire)
		if sleepCtx(ctx, s.timeout) != nil {
			return
		}
	}
}

// radiusTickLocked sends due Interim-Updates and ends sessions whose
// Mikrotik-Total-Limit is used up.
func (r *Router) radiusTickLocked(s *session, now time.Time) {
	if s.totalLimit > 0 && s.bytesIn+s.bytesOut >= s.totalLimit {
		r.endSessionLocked(s, "traffic-limit")
		return
	}
	rs := s.rad
	if rs == nil || rs.interim <= 0 || now.Before(rs.nextInterim) {
		return
	}
	r.accountLocked(s, rfc2866.AcctStatusType_Value_InterimUpdate, 0, now)
	for !now.Before(rs.nextInterim) {
		rs.nextInterim = rs.nextInterim.Add(rs.interim)
	}
}
