package sim

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2869"
)

// The RADIUS client: how the simulated RouterOS asks /radius servers
// (Access-Request, in order, failing over on timeout) and keeps its
// counters and test faults. Logins are in radius_login.go, accounting in
// radius_acct.go and /radius incoming in radius_incoming.go; the packets
// follow the conventions of /work/wt/RADIUS.md ("What the simulated
// RouterOS sends").

// radiusTries is how many times one server gets a request (the first send
// and its retransmits, /radius timeout apart) before the next is tried.
const radiusTries = 3

// RadiusStats are the RADIUS client's counters since New.
type RadiusStats struct {
	AccessRequests uint64 `json:"access_requests"` // Access-Requests sent (one per server tried, retransmits not counted)
	Accepts        uint64 `json:"accepts"`
	Rejects        uint64 `json:"rejects"`
	Timeouts       uint64 `json:"timeouts"`      // a server that did not answer in time (or a dropped request)
	BadResponses   uint64 `json:"bad_responses"` // answers dropped: wrong authenticator or Message-Authenticator
	AcctSent       uint64 `json:"acct_sent"`     // Accounting-Request attempts (retransmits within one attempt not counted)
	AcctAnswered   uint64 `json:"acct_answered"`
	AcctPending    int    `json:"acct_pending"` // records not yet answered (Stop records are retried until they are)
	AcctDropped    uint64 `json:"acct_dropped"` // Start/Interim records given up after their retries

	IncomingRequests uint64 `json:"incoming_requests"` // Disconnect/CoA requests that passed the authenticator check
	IncomingDropped  uint64 `json:"incoming_dropped"`  // malformed, unknown code or wrong secret: dropped silently
	DisconnectACKs   uint64 `json:"disconnect_acks"`
	DisconnectNAKs   uint64 `json:"disconnect_naks"`
	CoAACKs          uint64 `json:"coa_acks"`
	CoANAKs          uint64 `json:"coa_naks"`
}

// RadiusFaults script what goes wrong between the router and its RADIUS
// servers, for tests.
type RadiusFaults struct {
	// DropAccess makes the next N Access-Requests vanish on the way (each
	// costs that server its whole timeout, then the next server is tried).
	DropAccess int `json:"drop_access"`
	// Delay is waited before every request is sent (Access and Accounting).
	Delay time.Duration `json:"delay"`
	// DeafAccounting loses every Accounting-Response on the way back: the
	// server sees the requests (and their retransmits), the router does
	// not see an answer, so Stop records stay pending and are retried.
	DeafAccounting bool `json:"deaf_accounting"`
}

// radiusState is the client's state. Its mutex may be taken while holding
// Router.mu, never the other way round.
type radiusState struct {
	mu     sync.Mutex
	stats  RadiusStats
	faults RadiusFaults

	// The /radius incoming listener.
	in     net.PacketConn
	inAddr string
}

// RadiusStats returns the RADIUS client's counters.
func (r *Router) RadiusStats() RadiusStats {
	r.rad.mu.Lock()
	defer r.rad.mu.Unlock()
	return r.rad.stats
}

// SetRadiusFaults replaces the fault script.
func (r *Router) SetRadiusFaults(f RadiusFaults) {
	r.rad.mu.Lock()
	defer r.rad.mu.Unlock()
	r.rad.faults = f
}

func (r *Router) radCount(f func(s *RadiusStats)) {
	r.rad.mu.Lock()
	defer r.rad.mu.Unlock()
	f(&r.rad.stats)
}

// radiusServer is one enabled /radius entry for a service.
type radiusServer struct {
	auth, acct  string // host:port
	secret      []byte
	timeout     time.Duration
	src         string // src-address, "" = any
	requireAuth bool   // require-message-auth=yes-for-request-resp
}

// radiusServersLocked returns the enabled /radius entries with service
// (hotspot, ppp, login), in order.
func (r *Router) radiusServersLocked(service string) []radiusServer {
	var out []radiusServer
	for _, it := range r.tables["/radius"].items {
		a := it.attrs
		if a["disabled"] == "true" || !containsWord(a["service"], service) {
			continue
		}
		host, _, _ := strings.Cut(a["address"], "@")
		timeout, err := parseDuration(a["timeout"])
		if err != nil || timeout <= 0 {
			timeout = 300 * time.Millisecond
		}
		s := radiusServer{
			auth:        net.JoinHostPort(host, a["authentication-port"]),
			acct:        net.JoinHostPort(host, a["accounting-port"]),
			secret:      []byte(a["secret"]),
			timeout:     timeout,
			requireAuth: a["require-message-auth"] != "no",
		}
		if src := a["src-address"]; src != "" && src != "0.0.0.0" && src != "::" {
			s.src = src
		}
		out = append(out, s)
	}
	return out
}

func containsWord(list, w string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == w {
			return true
		}
	}
	return false
}

func (s radiusServer) client() *radius.Client {
	c := &radius.Client{Retry: s.timeout, MaxPacketErrors: 10}
	if s.src != "" {
		c.Dialer.LocalAddr = &net.UDPAddr{IP: net.ParseIP(s.src)}
	}
	return c
}

// errRadiusTimeout is every server failing to answer.
var errRadiusTimeout = errors.New("sim: radius: no server answered")

// radiusAccess sends the Access-Request build makes (per server: the
// secret differs) to each server in turn until one answers, as RouterOS
// does: a server that does not answer within timeout×tries is skipped.
func (r *Router) radiusAccess(ctx context.Context, servers []radiusServer, build func(secret []byte) (*radius.Packet, error)) (*radius.Packet, radiusServer, error) {
	for _, s := range servers {
		pkt, err := build(s.secret)
		if err != nil {
			return nil, s, err
		}
		if err := setMessageAuthenticator(pkt, pkt.Authenticator); err != nil {
			return nil, s, err
		}
		r.rad.mu.Lock()
		r.rad.stats.AccessRequests++
		delay := r.rad.faults.Delay
		drop := r.rad.faults.DropAccess > 0
		if drop {
			r.rad.faults.DropAccess--
		}
		r.rad.mu.Unlock()
		if err := sleepCtx(ctx, delay); err != nil {
			return nil, s, err
		}
		wait := s.timeout * radiusTries
		if drop {
			// Lost on the way: the router waits out the timeout.
			if err := sleepCtx(ctx, wait); err != nil {
				return nil, s, err
			}
			r.radCount(func(st *RadiusStats) { st.Timeouts++ })
			r.log.Warn("radius server is not responding", "server", s.auth, "fault", "dropped")
			continue
		}
		actx, cancel := context.WithTimeout(ctx, wait)
		resp, err := s.client().Exchange(actx, pkt, s.auth)
		cancel()
		if err == nil && !checkResponseAuth(resp, pkt, s.requireAuth) {
			r.radCount(func(st *RadiusStats) { st.BadResponses++; st.Timeouts++ })
			r.log.Warn("radius answer dropped: missing or wrong Message-Authenticator (require-message-auth)", "server", s.auth)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, s, ctx.Err()
			}
			r.radCount(func(st *RadiusStats) { st.Timeouts++ })
			r.log.Warn("radius server is not responding", "server", s.auth, "err", err)
			continue
		}
		switch resp.Code {
		case radius.CodeAccessAccept:
			r.radCount(func(st *RadiusStats) { st.Accepts++ })
		case radius.CodeAccessReject:
			r.radCount(func(st *RadiusStats) { st.Rejects++ })
		}
		return resp, s, nil
	}
	return nil, radiusServer{}, errRadiusTimeout
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setMessageAuthenticator adds Message-Authenticator (RFC 3579 3.2):
// HMAC-MD5 with the shared secret over the packet with the attribute
// zeroed and auth in the authenticator field (the request's own for a
// request, the request's for a response).
func setMessageAuthenticator(p *radius.Packet, auth [16]byte) error {
	var zero [16]byte
	if err := rfc2869.MessageAuthenticator_Set(p, zero[:]); err != nil {
		return err
	}
	sum, err := messageAuthenticator(p, auth)
	if err != nil {
		return err
	}
	return rfc2869.MessageAuthenticator_Set(p, sum)
}

// messageAuthenticator computes the Message-Authenticator p should carry
// (its own one zeroed in a copy).
func messageAuthenticator(p *radius.Packet, auth [16]byte) ([]byte, error) {
	q := *p
	q.Attributes = make(radius.Attributes, len(p.Attributes))
	copy(q.Attributes, p.Attributes)
	var zero [16]byte
	for i, avp := range q.Attributes {
		if avp.Type == rfc2869.MessageAuthenticator_Type {
			q.Attributes[i] = &radius.AVP{Type: avp.Type, Attribute: zero[:]}
		}
	}
	q.Authenticator = auth
	b, err := q.MarshalBinary()
	if err != nil {
		return nil, err
	}
	h := hmac.New(md5.New, p.Secret)
	h.Write(b)
	return h.Sum(nil), nil
}

// checkResponseAuth checks a response's Message-Authenticator against the
// request's authenticator: a present one must be right, and require
// demands one (RouterOS 7.15+ require-message-auth=yes-for-request-resp,
// the BlastRADIUS defence).
func checkResponseAuth(resp, req *radius.Packet, require bool) bool {
	got, err := rfc2869.MessageAuthenticator_Lookup(resp)
	if err != nil {
		return !require
	}
	want, err := messageAuthenticator(resp, req.Authenticator)
	return err == nil && hmac.Equal(got, want)
}

// acctSessionID is the Acct-Session-Id of a session: a hotspot session's
// active .id as 8 upper-case hex digits (*1A → 0000001A), a PPP session's
// session-id as /ppp/active shows it (0x81A00001).
func acctSessionID(kind string, id uint32, pppSessionID string) string {
	if kind == "pppoe" {
		return pppSessionID
	}
	return fmt.Sprintf("%08X", id)
}

// parseAcctSessionID reverses acctSessionID for hotspot ids.
func parseHotspotAcctSessionID(s string) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 16, 32)
	return uint32(n), err == nil
}
