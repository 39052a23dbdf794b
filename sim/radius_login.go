package sim

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/microsoft"
	"layeh.com/radius/vendors/mikrotik"
)

// LoginRadiusTimeout is the hotspot's error (errors.txt radius-timeout)
// when no /radius server answers.
const LoginRadiusTimeout = "RADIUS server is not responding"

// pppoeInterface is the interface the simulated PPPoE server runs on
// (NAS-Port-Id of PPPoE requests).
const pppoeInterface = "ether2"

// errNeedRadius is loginVerified's answer for an account the router does
// not have while the service uses RADIUS: as on RouterOS, the RADIUS
// server is asked only when no local user matches.
var errNeedRadius = errors.New("sim: no local account; ask radius")

// HotspotLoginRequest is a device logging in on the hotspot's login page.
type HotspotLoginRequest struct {
	User, Password string
	MAC, IP        string
	// LoginBy is "chap" or "pap"; "" is what the server profile's
	// login-by gives (http-chap unless it has only http-pap).
	LoginBy string
}

// HotspotLogin logs a device in as the login page would: a matching local
// /ip/hotspot/user is checked like LoginHotspotPassword; without one and
// with use-radius=yes on the server profile, the /radius servers with
// service hotspot are asked (CHAP: the response to a fresh challenge, as
// md5.js computes it, or PAP), and the session starts only on
// Access-Accept, with its Session-Timeout, Mikrotik-Rate-Limit,
// Mikrotik-Total-Limit and Acct-Interim-Interval applied. A refusal is a
// *LoginError whose Message is what the login page shows: the
// Reply-Message of an Access-Reject, LoginRadiusTimeout when no server
// answers. It returns the /ip/hotspot/active .id.
func (r *Router) HotspotLogin(ctx context.Context, req HotspotLoginRequest) (string, error) {
	method := strings.TrimPrefix(req.LoginBy, "http-")
	if method == "" {
		r.mu.Lock()
		_, prof := r.hotspotServerLocked()
		r.mu.Unlock()
		method = "chap"
		if prof != nil && !containsWord(prof["login-by"], "http-chap") && containsWord(prof["login-by"], "http-pap") {
			method = "pap"
		}
	}
	if method != "chap" && method != "pap" {
		return "", fmt.Errorf("sim: login-by %q: want chap or pap", req.LoginBy)
	}
	id, err := r.loginVerified("hotspot", req.User, func(stored string) (string, bool) {
		return "http-" + method, subtle.ConstantTimeCompare([]byte(stored), []byte(req.Password)) == 1
	}, req.MAC, req.IP)
	if !errors.Is(err, errNeedRadius) {
		return id, err
	}
	auth := radiusAuth{method: method, password: req.Password}
	if method == "chap" {
		var b [17]byte
		rand.Read(b[:])
		auth.chapID = b[0]
		copy(auth.chapChallenge[:], b[1:])
		auth.chapResp = chapResponse(auth.chapID, req.Password, auth.chapChallenge)
	}
	return r.radiusLogin(ctx, "hotspot", req.User, auth, req.MAC, req.IP)
}

// DialPPPoE is a PPPoE client dialling in with user and password: a
// matching local /ppp/secret is checked like LoginPPPPassword; without one
// and with /ppp aaa use-radius=yes, the /radius servers with service ppp
// get an MS-CHAPv2 Access-Request, the session starts on Access-Accept
// whose MS-CHAP2-Success proves the server knew the password, and a
// refusal is a *LoginError. It returns the /ppp/active .id.
func (r *Router) DialPPPoE(ctx context.Context, user, password, callerID, address string) (string, error) {
	id, err := r.loginVerified("pppoe", user, func(stored string) (string, bool) {
		return "", subtle.ConstantTimeCompare([]byte(stored), []byte(password)) == 1
	}, callerID, address)
	if !errors.Is(err, errNeedRadius) {
		return id, err
	}
	return r.radiusLogin(ctx, "pppoe", user, radiusAuth{method: "mschapv2", password: password}, callerID, address)
}

func chapResponse(id byte, password string, challenge [16]byte) [16]byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(password))
	h.Write(challenge[:])
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

// radiusAuth is how the client proved its password.
type radiusAuth struct {
	method        string // chap, pap, mschapv2
	password      string // pap; mschapv2 (the peer's side is played here)
	chapID        byte
	chapChallenge [16]byte
	chapResp      [16]byte
}

// radIdent is what every request about one session says about it.
type radIdent struct {
	kind                         string
	user, mac, ip                string
	nasID, nasIP, called, portID string
	nasPortType                  rfc2865.NASPortType
	acctID                       string
}

// add sets the identity attributes of RADIUS.md on p.
func (id radIdent) add(p *radius.Packet) {
	rfc2865.UserName_SetString(p, id.user)
	rfc2865.NASIdentifier_SetString(p, id.nasID)
	if ip := net.ParseIP(id.nasIP).To4(); ip != nil {
		rfc2865.NASIPAddress_Set(p, ip)
	}
	rfc2865.CallingStationID_SetString(p, id.mac)
	rfc2869.NASPortID_SetString(p, id.portID)
	rfc2866.AcctSessionID_SetString(p, id.acctID)
	rfc2865.NASPortType_Set(p, id.nasPortType)
	ip := net.ParseIP(id.ip).To4()
	if id.kind == "hotspot" {
		rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_LoginUser)
		rfc2865.CalledStationID_SetString(p, id.called)
		if ip != nil {
			rfc2865.FramedIPAddress_Set(p, ip)
			mikrotik.MikrotikHostIP_Set(p, ip)
		}
		return
	}
	rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_FramedUser)
	rfc2865.FramedProtocol_Set(p, rfc2865.FramedProtocol_Value_PPP)
}

// radiusPlan is what a RADIUS login reads from the router before asking.
type radiusPlan struct {
	servers   []radiusServer
	id        uint32 // the active row's .id, reserved
	sessionID string // PPP session-id
	ident     radIdent
	// interim is the configured interim-update period; received means the
	// Access-Accept's Acct-Interim-Interval decides (hotspot
	// radius-interim-update=received; for PPP a received one wins).
	interim    time.Duration
	received   bool
	accounting bool
}

// radiusEnabledLocked reports whether logins of kind without a local
// account go to RADIUS.
func (r *Router) radiusEnabledLocked(kind string) bool {
	if kind == "pppoe" {
		return r.tables["/ppp/aaa"].items[0].attrs["use-radius"] == "true"
	}
	_, prof := r.hotspotServerLocked()
	return prof != nil && prof["use-radius"] == "true"
}

func (r *Router) radiusPlanLocked(kind, user, mac, ip string) radiusPlan {
	service := "hotspot"
	if kind == "pppoe" {
		service = "ppp"
	}
	p := radiusPlan{servers: r.radiusServersLocked(service)}
	t := r.tables[r.activePath(kind)]
	for t.ids[t.next] != nil {
		t.next++
	}
	p.id = t.next
	t.next++
	p.ident = radIdent{kind: kind, user: user, mac: mac, ip: ip,
		nasID: r.tables["/system/identity"].items[0].attrs["name"], nasIP: "127.0.0.1"}
	if len(p.servers) > 0 && p.servers[0].src != "" {
		p.ident.nasIP = p.servers[0].src
	}
	if kind == "pppoe" {
		r.sessionNo++
		p.sessionID = fmt.Sprintf("0x%08X", 0x81A00000+r.sessionNo)
		p.ident.portID, p.ident.nasPortType = pppoeInterface, rfc2865.NASPortType_Value_Ethernet
		p.ident.acctID = acctSessionID(kind, p.id, p.sessionID)
		aaa := r.tables["/ppp/aaa"].items[0].attrs
		p.interim, _ = parseDuration(aaa["interim-update"])
		p.received = true
		p.accounting = aaa["accounting"] == "true"
		return p
	}
	server, prof := r.hotspotServerLocked()
	p.ident.called, p.ident.portID = server["name"], server["interface"]
	p.ident.mac = radiusMAC(mac, prof["radius-mac-format"])
	switch prof["nas-port-type"] {
	case "ethernet":
		p.ident.nasPortType = rfc2865.NASPortType_Value_Ethernet
	case "cable":
		p.ident.nasPortType = rfc2865.NASPortType_Value_Cable
	default:
		p.ident.nasPortType = rfc2865.NASPortType_Value_Wireless80211
	}
	p.ident.acctID = acctSessionID(kind, p.id, "")
	if v := prof["radius-interim-update"]; v == "received" {
		p.received = true
	} else {
		p.interim, _ = parseDuration(v)
	}
	p.accounting = prof["radius-accounting"] == "true"
	return p
}

// radiusMAC writes an upper-case colon MAC in a radius-mac-format.
func radiusMAC(mac, format string) string {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || format == "" {
		return mac
	}
	hexs := fmt.Sprintf("%X", []byte(hw))
	var b strings.Builder
	n := 0
	for _, c := range format {
		switch c {
		case 'X':
			b.WriteByte(hexs[n])
			n++
		case 'x':
			b.WriteString(strings.ToLower(hexs[n : n+1]))
			n++
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// accessRequest builds the Access-Request for one server.
func (p *radiusPlan) accessRequest(secret []byte, a *radiusAuth, ms *mschap) (*radius.Packet, error) {
	pkt := radius.New(radius.CodeAccessRequest, secret)
	p.ident.add(pkt)
	var err error
	switch a.method {
	case "pap":
		err = rfc2865.UserPassword_SetString(pkt, a.password)
	case "chap":
		err = errors.Join(rfc2865.CHAPPassword_Set(pkt, append([]byte{a.chapID}, a.chapResp[:]...)),
			rfc2865.CHAPChallenge_Set(pkt, a.chapChallenge[:]))
	case "mschapv2":
		resp := make([]byte, 0, 50)
		resp = append(resp, ms.ident, 0)
		resp = append(resp, ms.peer[:]...)
		resp = append(resp, make([]byte, 8)...)
		resp = append(resp, ms.nt...)
		err = errors.Join(microsoft.MSCHAPChallenge_Set(pkt, ms.auth[:]), microsoft.MSCHAP2Response_Set(pkt, resp))
	}
	return pkt, err
}

// mschap is the PPP side of one MS-CHAPv2 exchange: the router's
// (authenticator) challenge and the client's peer challenge and
// NT-Response.
type mschap struct {
	ident      byte
	auth, peer [16]byte
	nt         []byte
}

func newMSCHAP(user, password string) (*mschap, error) {
	m := &mschap{}
	var b [33]byte
	rand.Read(b[:])
	m.ident = b[0]
	copy(m.auth[:], b[1:17])
	copy(m.peer[:], b[17:])
	nt, err := rfc2759.GenerateNTResponse(m.auth[:], m.peer[:], []byte(user), []byte(password))
	if err != nil {
		return nil, err
	}
	m.nt = nt
	return m, nil
}

// verifySuccess checks MS-CHAP2-Success (ident + "S=<40 hex>") against
// the authenticator response the password gives: the client's proof that
// the server knew it.
func (m *mschap) verifySuccess(resp *radius.Packet, user, password string) bool {
	v := microsoft.MSCHAP2Success_Get(resp)
	if len(v) < 2 || v[0] != m.ident {
		return false
	}
	want, err := rfc2759.GenerateAuthenticatorResponse(m.auth[:], m.peer[:], m.nt, []byte(user), []byte(password))
	return err == nil && subtle.ConstantTimeCompare([]byte(want), v[1:min(len(v), 1+len(want))]) == 1
}

// radiusLogin asks the servers and starts the session on Access-Accept.
func (r *Router) radiusLogin(ctx context.Context, kind, user string, auth radiusAuth, mac, ip string) (string, error) {
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		return "", errDown
	}
	plan := r.radiusPlanLocked(kind, user, mac, ip)
	r.mu.Unlock()
	if len(plan.servers) == 0 {
		return "", &LoginError{LoginRadiusTimeout}
	}
	var ms *mschap
	if auth.method == "mschapv2" {
		var err error
		if ms, err = newMSCHAP(user, auth.password); err != nil {
			return "", fmt.Errorf("sim: mschapv2: %w", err)
		}
	}
	resp, server, err := r.radiusAccess(ctx, plan.servers, func(secret []byte) (*radius.Packet, error) {
		return plan.accessRequest(secret, &auth, ms)
	})
	switch {
	case errors.Is(err, errRadiusTimeout):
		return "", &LoginError{LoginRadiusTimeout}
	case err != nil:
		return "", err
	case resp.Code != radius.CodeAccessAccept:
		msg := rfc2865.ReplyMessage_GetString(resp)
		if msg == "" {
			msg = LoginInvalid
		}
		return "", &LoginError{msg}
	case ms != nil && !ms.verifySuccess(resp, user, auth.password):
		r.log.Warn("radius accept without a valid MS-CHAP2-Success: refused", "user", user)
		return "", &LoginError{LoginInvalid}
	}
	loginBy := ""
	if kind == "hotspot" {
		loginBy = "http-" + auth.method
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return "", errDown
	}
	now := r.now()
	s := r.startSessionLocked(kind, user, mac, ip, loginBy, nil, plan.id, plan.sessionID)
	r.applyAcceptLocked(s, resp, now)
	rs := &radSession{server: server, ident: plan.ident, class: rfc2865.Class_Get(resp),
		accounting: plan.accounting, interim: plan.interim}
	if v, err := rfc2869.AcctInterimInterval_Lookup(resp); err == nil && plan.received && v > 0 {
		rs.interim = time.Duration(v) * time.Second
	}
	if kind == "pppoe" && rfc2865.FramedIPAddress_Get(resp) != nil {
		s.addr = rfc2865.FramedIPAddress_Get(resp).String()
		s.active.attrs["address"] = s.addr
		rs.ident.ip = s.addr
	}
	s.rad = rs
	if rs.interim > 0 {
		rs.nextInterim = now.Add(rs.interim)
	}
	r.notifyLocked(r.tables[r.activePath(kind)], s.active, now)
	r.accountLocked(s, rfc2866.AcctStatusType_Value_Start, 0, now)
	return formatID(s.active.id), nil
}

// applyAcceptLocked applies an Access-Accept (or a CoA-Request) to a live
// session: Session-Timeout, Mikrotik-Rate-Limit, Mikrotik-Total-Limit(+
// Gigawords), and Mikrotik-Group's profile for what the packet does not
// give. It reports whether anything changed.
func (r *Router) applyAcceptLocked(s *session, p *radius.Packet, now time.Time) bool {
	changed := false
	profiles := r.tables["/ip/hotspot/user/profile"]
	if s.kind == "pppoe" {
		profiles = r.tables["/ppp/profile"]
	}
	var prof map[string]string
	if g := mikrotik.MikrotikGroup_GetString(p); g != "" {
		if it := profiles.lookup(g); it != nil {
			prof = it.attrs
		}
	}
	if st, err := rfc2865.SessionTimeout_Lookup(p); err == nil {
		s.deadline = time.Time{}
		if st > 0 {
			s.deadline = now.Add(time.Duration(st) * time.Second)
		}
		changed = true
	} else if d, ok := profileDuration(prof["session-timeout"]); ok && d > 0 {
		s.deadline = now.Add(d)
		changed = true
	}
	rate := mikrotik.MikrotikRateLimit_GetString(p)
	if rate == "" {
		rate = prof["rate-limit"]
	}
	if rate != "" {
		s.active.attrs["rate-limit"] = rate
		changed = true
	}
	lo, errLo := mikrotik.MikrotikTotalLimit_Lookup(p)
	hi, errHi := mikrotik.MikrotikTotalLimitGigawords_Lookup(p)
	if errLo == nil || errHi == nil {
		s.totalLimit = uint64(hi)<<32 | uint64(lo)
		if s.kind == "hotspot" {
			s.active.attrs["limit-bytes-total"] = fmt.Sprint(s.totalLimit)
		}
		changed = true
	}
	s.active.attrs["radius"] = "true"
	return changed
}
