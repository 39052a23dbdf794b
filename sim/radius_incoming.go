package sim

import (
	"crypto/hmac"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3576"
)

// /radius incoming: with accept=yes the router listens for RFC 5176
// Disconnect-Request and CoA-Request from its /radius servers. A request
// is taken only from the address of a /radius entry and only if its
// Request Authenticator (and Message-Authenticator, when present) proves
// that entry's secret; anything else is dropped without an answer, as
// RouterOS does. The session is found by Acct-Session-Id, else by
// User-Name (narrowed by Framed-IP-Address when given), else by
// Framed-IP-Address; none found is a NAK with Error-Cause 503
// (Session-Context-Not-Found).
//
// RouterOS listens on the menu's port (3799) on every address; the
// simulator runs many routers on loopback, so it listens on
// Config.RadiusIncomingAddr (127.0.0.1:0 by default) and reports the bound
// address in RadiusIncomingAddr.

// RadiusIncomingAddr returns the address /radius incoming listens on (""
// while accept=no).
func (r *Router) RadiusIncomingAddr() string {
	r.rad.mu.Lock()
	defer r.rad.mu.Unlock()
	return r.rad.inAddr
}

// incomingSetLocked opens (on) or closes the listener.
func (r *Router) incomingSetLocked(on bool) {
	r.rad.mu.Lock()
	defer r.rad.mu.Unlock()
	if on == (r.rad.in != nil) {
		return
	}
	if !on {
		r.rad.in.Close()
		r.rad.in, r.rad.inAddr = nil, ""
		return
	}
	if r.closed {
		return
	}
	addr := r.cfg.RadiusIncomingAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		r.log.Warn("radius incoming: listen failed", "addr", addr, "err", err)
		return
	}
	r.rad.in, r.rad.inAddr = pc, pc.LocalAddr().String()
	r.log.Info("radius incoming listening", "addr", r.rad.inAddr)
	r.wg.Add(1)
	go r.serveIncoming(pc)
}

// closeIncoming stops the listener (Close).
func (r *Router) closeIncoming() {
	r.rad.mu.Lock()
	defer r.rad.mu.Unlock()
	if r.rad.in != nil {
		r.rad.in.Close()
		r.rad.in, r.rad.inAddr = nil, ""
	}
}

func (r *Router) serveIncoming(pc net.PacketConn) {
	defer r.wg.Done()
	buf := make([]byte, radius.MaxPacketLength)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		src, _ := netip.AddrFromSlice(ua.IP)
		if resp := r.HandleRadiusIncoming(buf[:n], src.Unmap()); resp != nil {
			pc.WriteTo(resp, from)
		}
	}
}

// HandleRadiusIncoming handles one /radius incoming datagram from src
// and returns the answer to send (nil: drop). The listener uses it; tests
// and fuzzing call it directly.
func (r *Router) HandleRadiusIncoming(b []byte, src netip.Addr) []byte {
	resp := r.handleIncoming(b, src)
	if resp == nil {
		r.radCount(func(st *RadiusStats) { st.IncomingDropped++ })
	}
	return resp
}

func (r *Router) handleIncoming(b []byte, src netip.Addr) []byte {
	if len(b) < 20 {
		return nil
	}
	code := radius.Code(b[0])
	if code != radius.CodeDisconnectRequest && code != radius.CodeCoARequest {
		return nil
	}
	r.mu.Lock()
	var secrets [][]byte
	for _, it := range r.tables["/radius"].items {
		host, _, _ := strings.Cut(it.attrs["address"], "@")
		if a, err := netip.ParseAddr(host); err == nil && a.Unmap() == src && it.attrs["secret"] != "" {
			secrets = append(secrets, []byte(it.attrs["secret"]))
		}
	}
	r.mu.Unlock()
	var secret []byte
	for _, s := range secrets {
		if radius.IsAuthenticRequest(b, s) {
			secret = s
			break
		}
	}
	if secret == nil {
		return nil
	}
	req, err := radius.Parse(b, secret)
	if err != nil {
		return nil
	}
	// RFC 5176 3.1: a CoA or Disconnect Message-Authenticator is computed
	// over the packet with a zero Request Authenticator.
	ma, err := rfc2869.MessageAuthenticator_Lookup(req)
	hasMA := err == nil
	if hasMA {
		want, err := messageAuthenticator(req, [16]byte{})
		if err != nil || !hmac.Equal(ma, want) {
			return nil
		}
	}
	r.radCount(func(st *RadiusStats) { st.IncomingRequests++ })

	r.mu.Lock()
	now := r.now()
	found := r.matchSessionsLocked(req)
	var out *radius.Packet
	switch {
	case len(found) == 0 && code == radius.CodeDisconnectRequest:
		out = req.Response(radius.CodeDisconnectNAK)
	case len(found) == 0:
		out = req.Response(radius.CodeCoANAK)
	case code == radius.CodeDisconnectRequest:
		for _, s := range found {
			r.endSessionLocked(s, "kicked")
		}
		out = req.Response(radius.CodeDisconnectACK)
	default:
		for _, s := range found {
			if r.applyAcceptLocked(s, req, now) {
				r.notifyLocked(r.tables[r.activePath(s.kind)], s.active, now)
			}
		}
		out = req.Response(radius.CodeCoAACK)
	}
	r.mu.Unlock()
	if len(found) == 0 {
		rfc3576.ErrorCause_Set(out, rfc3576.ErrorCause_Value_SessionContextNotFound)
	}
	r.radCount(func(st *RadiusStats) {
		switch out.Code {
		case radius.CodeDisconnectACK:
			st.DisconnectACKs++
		case radius.CodeDisconnectNAK:
			st.DisconnectNAKs++
		case radius.CodeCoAACK:
			st.CoAACKs++
		default:
			st.CoANAKs++
		}
	})
	if hasMA {
		if err := setMessageAuthenticator(out, req.Authenticator); err != nil {
			return nil
		}
	}
	wire, err := out.Encode()
	if err != nil {
		return nil
	}
	return wire
}

// matchSessionsLocked finds the sessions a CoA or Disconnect names.
func (r *Router) matchSessionsLocked(p *radius.Packet) []*session {
	var all []*session
	for _, path := range []string{"/ip/hotspot/active", "/ppp/active"} {
		for _, it := range r.tables[path].items {
			if it.sess != nil {
				all = append(all, it.sess)
			}
		}
	}
	if id, err := rfc2866.AcctSessionID_LookupString(p); err == nil {
		return slices.DeleteFunc(all, func(s *session) bool {
			if s.kind == "pppoe" {
				return s.sessionID != id
			}
			n, ok := parseHotspotAcctSessionID(id)
			return !ok || s.active.id != n
		})
	}
	user, errUser := rfc2865.UserName_LookupString(p)
	ip, errIP := rfc2865.FramedIPAddress_Lookup(p)
	if errUser != nil && errIP != nil {
		return nil
	}
	return slices.DeleteFunc(all, func(s *session) bool {
		if errUser == nil && s.user != user {
			return true
		}
		return errIP == nil && net.ParseIP(s.addr).To4().String() != ip.To4().String()
	})
}
