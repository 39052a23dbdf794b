package sim

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ---- hotspot user profiles and PPP profiles ----

// checkProfile validates the profile attributes that logins read, with
// RouterOS's wording for a value it cannot parse.
func checkProfile(r *Router, t *table, attrs map[string]string, it *item) error {
	if v, ok := attrs["shared-users"]; ok && v != "unlimited" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return &apiError{1, "invalid value for argument shared-users"}
		}
	}
	for _, k := range []string{"session-timeout", "idle-timeout"} {
		if v, ok := attrs[k]; ok {
			if _, ok := profileDuration(v); !ok {
				return &apiError{1, "invalid value for argument " + k}
			}
		}
	}
	return nil
}

// profileDuration reads a profile timeout: "", "none" and "0s" are no
// timeout (0).
func profileDuration(v string) (time.Duration, bool) {
	if v == "" || v == "none" {
		return 0, true
	}
	if strings.Contains(v, ":") {
		// [Nd]HH:MM:SS, as RouterOS also prints long timeouts.
		var days, h, m, s int
		clock := v
		if d, rest, ok := strings.Cut(v, "d"); ok {
			n, err := strconv.Atoi(d)
			if err != nil {
				return 0, false
			}
			days, clock = n, rest
		}
		if _, err := fmt.Sscanf(clock, "%02d:%02d:%02d", &h, &m, &s); err != nil || len(clock) != 8 || m > 59 || s > 59 {
			return 0, false
		}
		return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second, true
	}
	d, err := parseDuration(v)
	return d, err == nil
}

// profileInUse refuses to remove a profile that an account of accounts
// (hotspot users, PPP secrets) still names.
func profileInUse(accounts string) func(r *Router, it *item) error {
	return func(r *Router, it *item) error {
		name := it.attrs["name"]
		for _, a := range r.tables[accounts].items {
			if a.attrs["profile"] == name {
				return &apiError{-1, "failure: profile " + name + " is in use"}
			}
		}
		return nil
	}
}

// Login refusals, in RouterOS's words where it has them. They are
// returned wrapped in a *LoginError.
const (
	LoginInvalid      = "invalid username or password"
	LoginDisabled     = "user %s is disabled"
	LoginNoSessions   = "no more sessions are allowed for user %s"
	LoginUptimeLimit  = "user %s has reached uptime limit"
	LoginTrafficLimit = "user %s has reached traffic limit"
)

// LoginError is a refused login. Message is what the router tells the
// client (its hotspot login page text).
type LoginError struct {
	Message string
}

func (e *LoginError) Error() string { return "sim: login refused: " + e.Message }

// LoginHotspotPassword logs a customer in through the hotspot the way
// RouterOS checks a login page submission: the user must exist with this
// password, be enabled, be under its limit-uptime and limit-bytes-total
// (counted from ended sessions, as RouterOS folds them in), and its profile's
// shared-users must allow one more session. The session ends by itself
// (reason "expired") once the profile's session-timeout, or the rest of
// limit-uptime if sooner, passes on the simulator's clock; Tick and every
// login apply it. It returns the /ip/hotspot/active .id. Without such a
// user and with use-radius=yes it asks RADIUS: see HotspotLogin.
func (r *Router) LoginHotspotPassword(user, password, mac, address string) (string, error) {
	return r.HotspotLogin(context.Background(), HotspotLoginRequest{User: user, Password: password, MAC: mac, IP: address})
}

// LoginPPPPassword is LoginHotspotPassword for a PPPoE client: the secret
// must exist with this password and be enabled, and its profile's
// only-one=yes allows a single session. session-timeout applies as for
// hotspot. It returns the /ppp/active .id. Without such a secret and
// with /ppp aaa use-radius=yes it asks RADIUS: see DialPPPoE.
func (r *Router) LoginPPPPassword(name, password, callerID, address string) (string, error) {
	return r.DialPPPoE(context.Background(), name, password, callerID, address)
}

// ExpireSessions ends every session whose session-timeout has passed on
// the simulator's clock, as Tick does; for tests that drive the clock
// without the scenario.
func (r *Router) ExpireSessions() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked(r.now())
}

// loginVerified checks a login with the password check left to verify,
// which gets the account's password and says whether the submission
// proves it and how (login-by: http-chap, http-pap); it runs with
// Router.mu held.
func (r *Router) loginVerified(kind, user string, verify func(stored string) (loginBy string, ok bool), mac, address string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return "", errDown
	}
	now := r.now()
	r.expireLocked(now)
	accounts, profiles := r.tables["/ip/hotspot/user"], r.tables["/ip/hotspot/user/profile"]
	if kind == "pppoe" {
		accounts, profiles = r.tables["/ppp/secret"], r.tables["/ppp/profile"]
	}
	acct := accounts.lookup(user)
	// A wrong password and an unknown user read the same, as on RouterOS,
	// so the login page does not reveal which names exist.
	if acct == nil || acct.attrs["name"] != user {
		if r.radiusEnabledLocked(kind) {
			return "", errNeedRadius
		}
		return "", &LoginError{LoginInvalid}
	}
	loginBy, ok := verify(acct.attrs["password"])
	if !ok {
		return "", &LoginError{LoginInvalid}
	}
	if acct.attrs["disabled"] == "true" {
		return "", &LoginError{fmt.Sprintf(LoginDisabled, user)}
	}
	prof := profiles.lookup(acct.attrs["profile"])
	if prof == nil {
		prof = profiles.lookup("default")
	}
	var limit time.Duration
	if kind == "hotspot" {
		if lim, ok := profileDuration(acct.attrs["limit-uptime"]); ok && lim > 0 {
			used, _ := parseDuration(acct.attrs["uptime"])
			if used >= lim {
				return "", &LoginError{fmt.Sprintf(LoginUptimeLimit, user)}
			}
			limit = lim - used
		}
		if lim, _ := strconv.ParseUint(acct.attrs["limit-bytes-total"], 10, 64); lim > 0 {
			in, _ := strconv.ParseUint(acct.attrs["bytes-in"], 10, 64)
			out, _ := strconv.ParseUint(acct.attrs["bytes-out"], 10, 64)
			if in+out >= lim {
				return "", &LoginError{fmt.Sprintf(LoginTrafficLimit, user)}
			}
		}
		shared := 1
		if v := prof.attrs["shared-users"]; v == "unlimited" {
			shared = -1
		} else if n, err := strconv.Atoi(v); err == nil {
			shared = n
		}
		if shared >= 0 && r.activeBy[kind+"/"+user] >= shared {
			return "", &LoginError{fmt.Sprintf(LoginNoSessions, user)}
		}
	} else if prof.attrs["only-one"] == "yes" && r.activeBy[kind+"/"+user] > 0 {
		return "", &LoginError{fmt.Sprintf(LoginNoSessions, user)}
	}
	if st, ok := profileDuration(prof.attrs["session-timeout"]); ok && st > 0 && (limit == 0 || st < limit) {
		limit = st
	}
	s, err := r.loginLocked(kind, user, mac, address, loginBy)
	if err != nil {
		return "", err
	}
	if limit > 0 {
		s.deadline = now.Add(limit)
	}
	return formatID(s.active.id), nil
}

// expireLocked ends the sessions whose deadline is not after now.
func (r *Router) expireLocked(now time.Time) {
	for _, path := range []string{"/ip/hotspot/active", "/ppp/active"} {
		for _, it := range slices.Clone(r.tables[path].items) {
			if s := it.sess; s != nil && !s.deadline.IsZero() && !now.Before(s.deadline) {
				r.endSessionLocked(s, "expired")
			} else if s != nil && (s.rad != nil || s.totalLimit > 0) {
				r.radiusTickLocked(s, now)
			}
		}
	}
}

// HotspotProfiles returns /ip/hotspot/user/profile rows as the API would
// print them.
func (r *Router) HotspotProfiles() []map[string]string { return r.snapshot("/ip/hotspot/user/profile") }

// PPPProfiles returns /ppp/profile rows as the API would print them.
func (r *Router) PPPProfiles() []map[string]string { return r.snapshot("/ppp/profile") }
