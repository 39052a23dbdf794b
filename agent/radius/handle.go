package radius

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
	"unicode/utf8"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/mikrotik"

	"github.com/sitepulse/sitepulse/protocol"
)

// outcome is what handling one datagram produced: the bytes to send (nil:
// no answer) and whether they were built now (not a cached retransmit).
type outcome struct {
	reply []byte
	fresh bool
}

// handle is the whole path of one datagram: parse, verify, duplicate
// check, Decider, reply. Everything it drops is counted.
func (s *Server) handle(ctx context.Context, l *listener, src netip.AddrPort, b []byte, arrived time.Time) outcome {
	typ := typeAccess
	if l.acct {
		typ = typeAccounting
	}
	drop := func(reason string, err error) outcome {
		s.metrics.requests.WithLabelValues(typ, resultDropped).Inc()
		s.metrics.dropped.WithLabelValues(reason).Inc()
		s.dropLog.logDrop(arrived, reason, src, err)
		return outcome{}
	}
	p, err := radius.Parse(b, s.cfg.Secret)
	if err != nil {
		return drop(dropMalformed, err)
	}
	b = b[:binary.BigEndian.Uint16(b[2:4])] // Parse checked the length; octets past it are padding (RFC 2865 §3)
	switch {
	case !l.acct && p.Code == radius.CodeAccessRequest:
	case l.acct && p.Code == radius.CodeAccountingRequest:
		if !radius.IsAuthenticRequest(b, s.cfg.Secret) {
			return drop(dropAuthenticator, nil)
		}
	default:
		return drop(dropCode, nil)
	}
	hasMA, err := checkMessageAuthenticator(p, hmacAuthenticator(p))
	if err != nil {
		return drop(dropMsgAuth, err)
	}
	if !hasMA && !l.acct && s.cfg.RequireMessageAuthenticator {
		return drop(dropNoMsgAuth, nil)
	}
	if l.acct {
		if _, err := rfc2866.AcctStatusType_Lookup(p); err != nil {
			return drop(dropMalformed, errors.New("no Acct-Status-Type"))
		}
	}

	key := dupKey{src: src, id: p.Identifier, auth: p.Authenticator}
	switch state, cached := l.dups.begin(key, arrived); state {
	case dupInFlight:
		s.metrics.requests.WithLabelValues(typ, resultRetransmit).Inc()
		return outcome{}
	case dupAnswered:
		s.metrics.requests.WithLabelValues(typ, resultRetransmit).Inc()
		return outcome{reply: cached}
	}

	var reply *radius.Packet
	var result string
	if l.acct {
		reply, result = s.account(ctx, p, arrived)
	} else {
		reply, result = s.access(ctx, p)
	}
	if reply == nil {
		l.dups.forget(key)
		s.metrics.requests.WithLabelValues(typ, result).Inc()
		return outcome{}
	}
	// Every Access reply is signed (BlastRADIUS); an Accounting-Response
	// when its request was.
	if !l.acct || hasMA {
		err = signMessageAuthenticator(reply, replyHMACAuthenticator(reply.Code, p.Authenticator))
	}
	var wire []byte
	if err == nil {
		wire, err = reply.Encode()
	}
	if err != nil {
		l.dups.forget(key)
		s.log.Error("radius reply not encodable", "err", err)
		return drop(dropInternal, err)
	}
	l.dups.finish(key, wire)
	s.metrics.requests.WithLabelValues(typ, result).Inc()
	return outcome{reply: wire, fresh: true}
}

// kind tells PPPoE (Framed-Protocol=PPP or Service-Type=Framed-User) from
// hotspot.
func kind(p *radius.Packet) protocol.SessionKind {
	if fp, err := rfc2865.FramedProtocol_Lookup(p); err == nil && fp == rfc2865.FramedProtocol_Value_PPP {
		return protocol.KindPPPoE
	}
	if st, err := rfc2865.ServiceType_Lookup(p); err == nil && st == rfc2865.ServiceType_Value_FramedUser {
		return protocol.KindPPPoE
	}
	return protocol.KindHotspot
}

func ipString(p *radius.Packet, t radius.Type) string {
	a, ok := p.Lookup(t)
	if !ok {
		return ""
	}
	ip, err := radius.IPAddr(a)
	if err != nil {
		return ""
	}
	return ip.String()
}

// access answers a verified Access-Request.
func (s *Server) access(ctx context.Context, p *radius.Packet) (*radius.Packet, string) {
	req := Request{
		Kind:          kind(p),
		User:          rfc2865.UserName_GetString(p),
		MAC:           NormalizeMAC(rfc2865.CallingStationID_GetString(p)),
		IP:            ipString(p, rfc2865.FramedIPAddress_Type),
		NASID:         rfc2865.NASIdentifier_GetString(p),
		NASIP:         ipString(p, rfc2865.NASIPAddress_Type),
		NASPortID:     rfc2869.NASPortID_GetString(p),
		AcctSessionID: rfc2866.AcctSessionID_GetString(p),
	}
	log := s.log.With("user", req.User, "kind", req.Kind, "mac", req.MAC, "nas", req.NASID)
	reject := func(msg, why string, extra func(*radius.Packet) error) (*radius.Packet, string) {
		r := p.Response(radius.CodeAccessReject)
		if extra != nil {
			if err := extra(r); err != nil {
				log.Error("radius reject attributes", "err", err)
			}
		}
		if msg != "" {
			_ = rfc2865.ReplyMessage_SetString(r, truncate(msg, 253))
		}
		log.Debug("radius reject", "method", req.Method, "why", why)
		return r, resultReject
	}
	m, ok := method(p)
	if !ok {
		return reject(msgInvalid, "no password attribute", nil)
	}
	req.Method = m
	if req.User == "" {
		return reject(msgInvalid, "no User-Name", nil)
	}
	sec, ok := s.cfg.Decider.Credentials(req.Kind, req.User)
	if !ok {
		return reject(msgInvalid, "unknown user", nil)
	}
	c := verify(p, m, req.User, sec)
	if !c.ok {
		return reject(c.msg, c.why, c.reject)
	}
	d := s.cfg.Decider.Decide(ctx, req)
	if !d.Accept {
		msg := d.Reason
		if msg == "" {
			msg = "access denied"
		}
		return reject(msg, "decider: "+d.Reason, nil)
	}
	r := p.Response(radius.CodeAccessAccept)
	if err := addDecision(r, d); err != nil {
		// A Decision the router cannot be told (a value too long for an
		// attribute): fail closed.
		log.Error("radius accept attributes", "err", err)
		return reject("internal error", "unencodable decision", nil)
	}
	if c.accept != nil {
		if err := c.accept(r); err != nil {
			log.Error("radius accept attributes", "err", err)
			return reject("internal error", "unencodable method attributes", nil)
		}
	}
	log.Debug("radius accept", "method", m, "profile", d.Profile, "rate_limit", d.RateLimit,
		"session_timeout", d.SessionTimeout, "total_limit", d.TotalLimit)
	return r, resultAccept
}

// addDecision puts d's limits on an Access-Accept or a CoA-Request.
func addDecision(r *radius.Packet, d Decision) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	if d.Profile != "" {
		add(mikrotik.MikrotikGroup_AddString(r, d.Profile))
	}
	if d.RateLimit != "" {
		add(mikrotik.MikrotikRateLimit_AddString(r, d.RateLimit))
	}
	if d.SessionTimeout > 0 {
		add(rfc2865.SessionTimeout_Add(r, rfc2865.SessionTimeout(seconds(d.SessionTimeout))))
	}
	if d.InterimInterval > 0 {
		add(rfc2869.AcctInterimInterval_Add(r, rfc2869.AcctInterimInterval(seconds(d.InterimInterval))))
	}
	if d.TotalLimit > 0 {
		add(mikrotik.MikrotikTotalLimit_Add(r, mikrotik.MikrotikTotalLimit(uint32(d.TotalLimit))))
		if hi := d.TotalLimit >> 32; hi > 0 {
			add(mikrotik.MikrotikTotalLimitGigawords_Add(r, mikrotik.MikrotikTotalLimitGigawords(uint32(min(hi, 1<<32-1)))))
		}
	}
	if d.FramedPool != "" {
		add(rfc2869.FramedPool_AddString(r, d.FramedPool))
	}
	return errors.Join(errs...)
}

// seconds rounds d down to whole seconds, at least 1 for a positive d and
// at most what the 32-bit attribute holds.
func seconds(d time.Duration) uint32 {
	n := int64(d / time.Second)
	return uint32(min(max(n, 1), 1<<32-1))
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// account records a verified Accounting-Request; the Accounting-Response
// is built only once the Decider says the record is durable.
func (s *Server) account(ctx context.Context, p *radius.Packet, arrived time.Time) (*radius.Packet, string) {
	rec := parseAccounting(p, arrived)
	if err := s.cfg.Decider.Account(ctx, rec); err != nil {
		s.log.Warn("radius accounting not recorded, left unanswered for the router to retransmit",
			"status", rec.Status, "session", rec.AcctSessionID, "user", rec.User, "err", err)
		return nil, resultAcctFailed
	}
	s.log.Debug("radius accounting", "status", rec.Status, "session", rec.AcctSessionID, "user", rec.User)
	return p.Response(radius.CodeAccountingResponse), resultAcct
}

// parseAccounting reads an Accounting-Request; the counters' gigawords
// (RFC 2869 §5.1) are folded into 64 bits.
func parseAccounting(p *radius.Packet, arrived time.Time) Accounting {
	st, _ := rfc2866.AcctStatusType_Lookup(p)
	rec := Accounting{
		Status:         AcctStatus(st),
		Kind:           kind(p),
		AcctSessionID:  rfc2866.AcctSessionID_GetString(p),
		User:           rfc2865.UserName_GetString(p),
		MAC:            NormalizeMAC(rfc2865.CallingStationID_GetString(p)),
		IP:             ipString(p, rfc2865.FramedIPAddress_Type),
		NASID:          rfc2865.NASIdentifier_GetString(p),
		SessionTime:    time.Duration(rfc2866.AcctSessionTime_Get(p)) * time.Second,
		InputOctets:    uint64(rfc2869.AcctInputGigawords_Get(p))<<32 | uint64(rfc2866.AcctInputOctets_Get(p)),
		OutputOctets:   uint64(rfc2869.AcctOutputGigawords_Get(p))<<32 | uint64(rfc2866.AcctOutputOctets_Get(p)),
		InputPackets:   uint64(rfc2866.AcctInputPackets_Get(p)),
		OutputPackets:  uint64(rfc2866.AcctOutputPackets_Get(p)),
		TerminateCause: int(rfc2866.AcctTerminateCause_Get(p)),
		EventTime:      arrived.Add(-time.Duration(rfc2866.AcctDelayTime_Get(p)) * time.Second).UTC(),
	}
	if t, err := rfc2869.EventTimestamp_Lookup(p); err == nil {
		rec.EventTime = t.UTC()
	}
	return rec
}
