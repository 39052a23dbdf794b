package sim

import (
	"errors"

	"fmt"
	"hash/fnv"
	"layeh.com/radius/rfc2866"
	"strconv"
	"time"
)

// ---- sessions ----

// session is one active hotspot or PPP session. Guarded by Router.mu.
type session struct {
	kind       string
	active     *item // row in /ip/hotspot/active or /ppp/active
	iface      *item // PPP only: dynamic <pppoe-NAME> interface
	user       string
	mac        string
	addr       string
	sessionID  string
	loginAt    time.Time
	lastActive time.Time
	quiet      bool // between bursts (Config.ActiveShare)
	// deadline is when session-timeout or limit-uptime ends the session
	// (zero = never); see LoginHotspotPassword.
	deadline time.Time
	bytesIn  uint64
	bytesOut uint64
	pktsIn   uint64
	pktsOut  uint64

	rad        *radSession // set when a RADIUS server let it in
	totalLimit uint64      // Mikrotik-Total-Limit(+Gigawords): bytes in+out that end it; 0 = none
}

var errDown = errors.New("sim: router is rebooting")

// Calls returns how many times API clients ran the command path (e.g.
// "/ip/hotspot/user/add"), whatever the outcome: tests use it to prove a
// command reached the router exactly once.
func (r *Router) Calls(path string) int {
	r.callsMu.Lock()
	defer r.callsMu.Unlock()
	return r.calls[path]
}

func (r *Router) countCall(path string) {
	r.callsMu.Lock()
	defer r.callsMu.Unlock()
	if r.calls == nil {
		r.calls = make(map[string]int)
	}
	r.calls[path]++
}

// LoginHotspot starts a hotspot session for an existing, enabled
// /ip/hotspot/user and returns its .id.
func (r *Router) LoginHotspot(user, mac, address string) (string, error) {
	return r.login("hotspot", user, mac, address, "http-chap")
}

// LoginPPP starts a PPPoE session for an existing, enabled /ppp/secret and
// returns its .id. It also adds the dynamic <pppoe-NAME> interface.
func (r *Router) LoginPPP(name, callerID, address string) (string, error) {
	return r.login("pppoe", name, callerID, address, "")
}

// login is LoginHotspot and LoginPPP: it refuses while rebooting.
func (r *Router) login(kind, user, mac, address, loginBy string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return "", errDown
	}
	s, err := r.loginLocked(kind, user, mac, address, loginBy)
	if err != nil {
		return "", err
	}
	return formatID(s.active.id), nil
}

// Logout ends an active hotspot or PPP session by its .id (reason "kicked",
// as an administrator's remove would; RADIUS Acct-Terminate-Cause
// Admin-Reset).
func (r *Router) Logout(id string) error { return r.logout(id, "kicked") }

// LogoutUser ends a session as its user would: the hotspot's /logout page
// or a PPPoE client hanging up (reason "logout"; Acct-Terminate-Cause
// User-Request).
func (r *Router) LogoutUser(id string) error { return r.logout(id, "logout") }

func (r *Router) logout(id, reason string) error {
	n, ok := parseID(id)
	if !ok {
		return fmt.Errorf("sim: logout: bad id %q", id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, path := range []string{"/ip/hotspot/active", "/ppp/active"} {
		if it := r.tables[path].byID(n); it != nil {
			r.endSessionLocked(it.sess, reason)
			return nil
		}
	}
	return fmt.Errorf("sim: logout %s: no such item", id)
}

// AddHotspotUser adds an /ip/hotspot/user ("" profile means default).
func (r *Router) AddHotspotUser(name, password, profile string) error {
	return r.addItem("/ip/hotspot/user", map[string]string{"name": name, "password": password, "profile": profile})
}

// AddPPPSecret adds a /ppp/secret with service pppoe ("" profile means default).
func (r *Router) AddPPPSecret(name, password, profile string) error {
	return r.addItem("/ppp/secret", map[string]string{"name": name, "password": password, "profile": profile, "service": "pppoe"})
}

func (r *Router) addItem(path string, attrs map[string]string) error {
	if attrs["profile"] == "" {
		delete(attrs, "profile")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.addLocked(r.tables[path], attrs); err != nil {
		return fmt.Errorf("sim: add %s %s: %w", path, attrs["name"], err)
	}
	return nil
}

// HotspotActive returns /ip/hotspot/active rows as the API would print them.
func (r *Router) HotspotActive() []map[string]string { return r.snapshot("/ip/hotspot/active") }

// PPPActive returns /ppp/active rows as the API would print them.
func (r *Router) PPPActive() []map[string]string { return r.snapshot("/ppp/active") }

// HotspotUsers returns /ip/hotspot/user rows as the API would print them.
func (r *Router) HotspotUsers() []map[string]string { return r.snapshot("/ip/hotspot/user") }

// PPPSecrets returns /ppp/secret rows as the API would print them.
func (r *Router) PPPSecrets() []map[string]string { return r.snapshot("/ppp/secret") }

// Interfaces returns /interface rows as the API would print them.
func (r *Router) Interfaces() []map[string]string { return r.snapshot("/interface") }

// Identity returns the current /system/identity name.
func (r *Router) Identity() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tables["/system/identity"].items[0].attrs["name"]
}

func (r *Router) snapshot(path string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tables[path]
	now := r.now()
	out := make([]map[string]string, 0, len(t.items))
	for _, it := range t.items {
		_, vals := r.row(t, it, now)
		out = append(out, vals)
	}
	return out
}

// loginLocked validates the account and creates the session rows.
func (r *Router) loginLocked(kind, user, mac, addr, loginBy string) (*session, error) {
	accounts := r.tables["/ip/hotspot/user"]
	if kind == "pppoe" {
		accounts = r.tables["/ppp/secret"]
	}
	acct := accounts.lookup(user)
	if acct == nil || acct.attrs["name"] != user {
		return nil, fmt.Errorf("sim: login %s %q: no such account", kind, user)
	}
	if acct.attrs["disabled"] == "true" {
		return nil, fmt.Errorf("sim: login %s %q: account disabled", kind, user)
	}
	return r.startSessionLocked(kind, user, mac, addr, loginBy, acct.attrs, 0, ""), nil
}

// startSessionLocked creates the session rows. acct is the local account
// (nil for a RADIUS user); id and sessionID are the .id and PPP
// session-id reserved for it (0 and "": the next ones).
func (r *Router) startSessionLocked(kind, user, mac, addr, loginBy string, acct map[string]string, id uint32, sessionID string) *session {
	now := r.now()
	s := &session{kind: kind, user: user, mac: mac, addr: addr, loginAt: now, lastActive: now}
	insert := func(t *table, attrs map[string]string) *item {
		if id == 0 {
			return t.insert(attrs)
		}
		return t.insertWithID(id, attrs)
	}
	if kind == "hotspot" {
		s.active = insert(r.tables["/ip/hotspot/active"], map[string]string{
			"server": "hotspot1", "user": user, "domain": "", "address": addr, "mac-address": mac,
			"login-by": loginBy, "keepalive-timeout": "2m", "radius": "false", "blocked": "false",
		})
	} else {
		s.sessionID = sessionID
		if s.sessionID == "" {
			r.sessionNo++
			s.sessionID = fmt.Sprintf("0x%08X", 0x81A00000+r.sessionNo)
		}
		limIn, limOut := "0", "0"
		if acct != nil {
			limIn, limOut = acct["limit-bytes-in"], acct["limit-bytes-out"]
		}
		s.active = insert(r.tables["/ppp/active"], map[string]string{
			"name": user, "service": "pppoe", "caller-id": mac, "address": addr, "encoding": "",
			"session-id": s.sessionID, "limit-bytes-in": limIn,
			"limit-bytes-out": limOut, "radius": "false",
		})
		ifs := r.tables["/interface"]
		ifName := "<pppoe-" + user + ">"
		for n := 1; ifs.lookup(ifName) != nil; n++ {
			ifName = "<pppoe-" + user + "-" + strconv.Itoa(n) + ">"
		}
		if ifs.next < 0xF00001 {
			ifs.next = 0xF00001
		}
		s.iface = ifs.insert(map[string]string{
			"name": ifName, "type": "pppoe-in", "mtu": "1480", "actual-mtu": "1480",
			"last-link-up-time": now.Format("2006-01-02 15:04:05"), "link-downs": "0",
			"running": "true", "slave": "false", "disabled": "false", "dynamic": "true",
		})
		s.iface.sess = s
		r.notifyLocked(ifs, s.iface, now)
	}
	s.active.sess = s
	r.activeBy[kind+"/"+user]++
	r.notifyLocked(r.tables[r.activePath(kind)], s.active, now)
	r.emitLocked(s, "login", "", now)
	return s
}

func (r *Router) activePath(kind string) string {
	if kind == "hotspot" {
		return "/ip/hotspot/active"
	}
	return "/ppp/active"
}

// endSessionLocked removes the session's rows, folds its counters into the
// account (as RouterOS does for hotspot users) and reports the change.
func (r *Router) endSessionLocked(s *session, reason string) {
	if s == nil {
		return
	}
	now := r.now()
	t := r.tables[r.activePath(s.kind)]
	if t.byID(s.active.id) == nil {
		return
	}
	t.delete(s.active)
	if k := s.kind + "/" + s.user; r.activeBy[k] > 1 {
		r.activeBy[k]--
	} else {
		delete(r.activeBy, k)
	}
	r.notifyDeadLocked(t, s.active.id)
	if s.iface != nil {
		ifs := r.tables["/interface"]
		ifs.delete(s.iface)
		r.notifyDeadLocked(ifs, s.iface.id)
	}
	if s.kind == "hotspot" {
		users := r.tables["/ip/hotspot/user"]
		if u := users.lookup(s.user); u != nil {
			add := func(k string, n uint64) {
				old, _ := strconv.ParseUint(u.attrs[k], 10, 64)
				u.attrs[k] = strconv.FormatUint(old+n, 10)
			}
			add("bytes-in", s.bytesIn)
			add("bytes-out", s.bytesOut)
			add("packets-in", s.pktsIn)
			add("packets-out", s.pktsOut)
			up, _ := parseDuration(u.attrs["uptime"])
			u.attrs["uptime"] = formatDuration((up + now.Sub(s.loginAt)).Truncate(time.Second))
			r.notifyLocked(users, u, now)
		}
	} else {
		secrets := r.tables["/ppp/secret"]
		if sec := secrets.lookup(s.user); sec != nil {
			sec.attrs["last-logged-out"] = now.Format("2006-01-02 15:04:05")
			sec.attrs["last-caller-id"] = s.mac
			why := "peer-request"
			if reason != "logout" {
				why = "admin-request"
			}
			sec.attrs["last-disconnect-reason"] = why
			r.notifyLocked(secrets, sec, now)
		}
	}
	r.emitLocked(s, "logout", reason, now)
	r.accountLocked(s, rfc2866.AcctStatusType_Value_Stop, terminateCause(reason), now)
}

func (r *Router) clearSessionsLocked(reason string) {
	for _, path := range []string{"/ip/hotspot/active", "/ppp/active"} {
		t := r.tables[path]
		for _, it := range append([]*item(nil), t.items...) {
			r.endSessionLocked(it.sess, reason)
		}
	}
}

func renderSession(r *Router, it *item, now time.Time, row map[string]string) {
	s := it.sess
	if s == nil {
		return
	}
	row["uptime"] = formatDuration(now.Sub(s.loginAt).Truncate(time.Second))
	if s.kind == "hotspot" && !s.deadline.IsZero() {
		row["session-time-left"] = formatDuration(max(s.deadline.Sub(now), 0).Truncate(time.Second))
	}
	if s.kind == "hotspot" {
		row["idle-time"] = formatDuration(now.Sub(s.lastActive).Truncate(time.Second))
		row["bytes-in"] = strconv.FormatUint(s.bytesIn, 10)
		row["bytes-out"] = strconv.FormatUint(s.bytesOut, 10)
		row["packets-in"] = strconv.FormatUint(s.pktsIn, 10)
		row["packets-out"] = strconv.FormatUint(s.pktsOut, 10)
	}
}

func renderInterface(r *Router, it *item, now time.Time, row map[string]string) {
	var rx, tx, rxp, txp uint64
	switch {
	case it.sess != nil:
		rx, tx, rxp, txp = it.sess.bytesIn, it.sess.bytesOut, it.sess.pktsIn, it.sess.pktsOut
	case it.attrs["name"] == "ether1":
		rx, tx = 918273645+r.wanOut, 123456789+r.wanIn
		rxp, txp = rx/1200, tx/600
	case it.attrs["running"] == "true":
		rx, tx = 5123456+r.wanIn, 48123456+r.wanOut
		rxp, txp = rx/600, tx/1200
	}
	row["rx-byte"] = strconv.FormatUint(rx, 10)
	row["tx-byte"] = strconv.FormatUint(tx, 10)
	row["rx-packet"] = strconv.FormatUint(rxp, 10)
	row["tx-packet"] = strconv.FormatUint(txp, 10)
	for _, k := range []string{"rx-drop", "tx-drop", "tx-queue-drop", "rx-error", "tx-error"} {
		row[k] = "0"
	}
	if it.sess == nil {
		row["fp-rx-byte"], row["fp-tx-byte"] = row["rx-byte"], row["tx-byte"]
		row["fp-rx-packet"], row["fp-tx-packet"] = row["rx-packet"], row["tx-packet"]
	}
}

func renderResource(r *Router, it *item, now time.Time, row map[string]string) {
	up := now.Sub(r.bootAt)
	// cpu-load follows the session count plus a little per-second noise
	// derived from the time, so it varies without touching the scenario's
	// random stream (which must stay deterministic).
	h := fnv.New32a()
	fmt.Fprint(h, now.Unix())
	active := len(r.tables["/ip/hotspot/active"].items) + len(r.tables["/ppp/active"].items)
	load := min(3+active/20+int(h.Sum32()%9), 100)
	const total = 1073741824
	free := total - 180*1024*1024 - uint64(active)*64*1024 - uint64(h.Sum32()%(2<<20))
	row["uptime"] = formatDuration(up.Truncate(time.Second))
	row["version"] = r.cfg.Version
	row["build-time"] = "2025-03-11 11:59:04"
	row["factory-software"] = "7.4.1"
	row["free-memory"] = strconv.FormatUint(free, 10)
	row["total-memory"] = strconv.Itoa(total)
	row["cpu"] = "ARM64"
	row["cpu-count"] = "4"
	row["cpu-frequency"] = "1400"
	row["cpu-load"] = strconv.Itoa(load)
	row["free-hdd-space"] = "891203584"
	row["total-hdd-space"] = "1073741824"
	row["write-sect-since-reboot"] = strconv.FormatInt(int64(up/time.Minute)*3+1024, 10)
	row["write-sect-total"] = "18812345"
	row["bad-blocks"] = "0"
	row["architecture-name"] = "arm64"
	row["board-name"] = "RB5009UG+S+"
	row["platform"] = "MikroTik"
}
