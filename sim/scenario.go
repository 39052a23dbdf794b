package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// scenario drives a site: it creates the accounts, the initial sessions,
// and on every step grows traffic and applies churn. All randomness comes
// from one seeded PCG stream consumed only under Router.mu in a fixed
// order, so the same seed and the same number of steps give the same
// changes.
type scenario struct {
	r   *Router
	rng *rand.Rand

	hotspotTarget, pppTarget int
	churnPerStep             float64
	churnAcc                 float64
	// Burst model (Config.ActiveShare): per step, a moving session goes
	// quiet with toQuiet, a quiet one starts moving with toActive.
	toQuiet, toActive float64

	// Accounts the scenario logs in with, each with a stable device MAC.
	hotspotUsers []account
	pppSecrets   []account
	nextHostIP   int
	nextPPPIP    int
}

type account struct {
	name string
	mac  string
}

var (
	firstNames = []string{"john", "mary", "peter", "grace", "james", "faith", "david", "mercy", "brian",
		"joyce", "kevin", "esther", "samuel", "ann", "daniel", "lucy", "moses", "ruth", "paul", "irene"}
	lastNames = []string{"kamau", "wanjiru", "otieno", "achieng", "mwangi", "njeri", "kiptoo", "chebet",
		"omondi", "atieno", "mutua", "wambui", "kariuki", "nyambura", "kimani", "muthoni"}
	mailDomains = []string{"gmail.com", "yahoo.com", "example.com", "outlook.com"}
)

func newScenario(r *Router, cfg Config) *scenario {
	seed := uint64(cfg.Seed)
	s := &scenario{
		r:             r,
		rng:           rand.New(rand.NewPCG(seed, seed^0x5eed5eed5eed5eed)),
		hotspotTarget: max(cfg.HotspotSessions, 0),
		pppTarget:     max(cfg.PPPSessions, 0),
	}
	step := cfg.TrafficInterval
	if step <= 0 {
		step = time.Second
	}
	s.churnPerStep = max(cfg.ChurnPerMinute, 0) * step.Seconds() / 60
	if share := cfg.ActiveShare; share > 0 && share < 1 {
		// Bursts of 10 s on average; the idle stretches' length follows
		// from the share (steady state: share = toActive / (toActive + toQuiet)).
		s.toQuiet = min(step.Seconds()/10, 1)
		s.toActive = min(s.toQuiet*share/(1-share), 1)
	}
	s.setup()
	return s
}

// setup creates profiles, accounts and the initial sessions.
func (s *scenario) setup() {
	r := s.r
	if s.hotspotTarget == 0 && s.pppTarget == 0 {
		return
	}
	r.addLocked(r.tables["/ip/hotspot/user/profile"], map[string]string{"name": "1h-2M", "rate-limit": "1M/2M", "session-timeout": "1h"})
	r.addLocked(r.tables["/ip/hotspot/user/profile"], map[string]string{"name": "daily-5M", "rate-limit": "2M/5M", "session-timeout": "1d", "shared-users": "2"})
	r.addLocked(r.tables["/ppp/profile"], map[string]string{"name": "home-10M", "rate-limit": "5M/10M", "local-address": "10.10.0.1", "remote-address": "pppoe-pool"})
	r.addLocked(r.tables["/ppp/profile"], map[string]string{"name": "home-20M", "rate-limit": "10M/20M", "local-address": "10.10.0.1", "remote-address": "pppoe-pool"})

	nHotspot := accountsFor(s.hotspotTarget)
	nPPP := accountsFor(s.pppTarget)
	used := map[string]bool{}
	hsProfiles := []string{"default", "1h-2M", "daily-5M"}
	for i := 0; i < nHotspot; i++ {
		name := s.uniqueName(used)
		attrs := map[string]string{"name": name, "password": s.password(), "profile": hsProfiles[s.rng.IntN(len(hsProfiles))]}
		if s.rng.IntN(3) == 0 {
			attrs["comment"] = s.email()
		}
		if _, err := r.addLocked(r.tables["/ip/hotspot/user"], attrs); err == nil {
			s.hotspotUsers = append(s.hotspotUsers, account{name: name, mac: s.mac()})
		}
	}
	pppProfiles := []string{"default", "home-10M", "home-20M"}
	for i := 0; i < nPPP; i++ {
		name := s.uniqueName(used)
		attrs := map[string]string{"name": name, "password": s.password(), "service": "pppoe",
			"profile": pppProfiles[s.rng.IntN(len(pppProfiles))]}
		if s.rng.IntN(2) == 0 {
			attrs["comment"] = s.email()
		}
		if _, err := r.addLocked(r.tables["/ppp/secret"], attrs); err == nil {
			s.pppSecrets = append(s.pppSecrets, account{name: name, mac: s.mac()})
		}
	}
	now := r.now()
	for range s.hotspotTarget {
		s.login("hotspot", now)
	}
	for range s.pppTarget {
		s.login("pppoe", now)
	}
}

// accountsFor gives the number of accounts for a session target: all of
// them plus spares so churn has someone to log in.
func accountsFor(sessions int) int {
	if sessions <= 0 {
		return 0
	}
	return sessions + max(5, sessions/2)
}

func (s *scenario) uniqueName(used map[string]bool) string {
	for {
		var name string
		switch s.rng.IntN(4) {
		case 0:
			name = fmt.Sprintf("+2547%08d", s.rng.IntN(100_000_000))
		case 1:
			name = firstNames[s.rng.IntN(len(firstNames))] + "." + lastNames[s.rng.IntN(len(lastNames))]
		case 2:
			name = fmt.Sprintf("%s%d", firstNames[s.rng.IntN(len(firstNames))], 10+s.rng.IntN(90))
		default:
			name = fmt.Sprintf("cust-%04d", 1+s.rng.IntN(9999))
		}
		if !used[name] {
			used[name] = true
			return name
		}
	}
}

func (s *scenario) password() string {
	const letters = "abcdefghjkmnpqrstuvwxyz23456789"
	var b strings.Builder
	for range 8 {
		b.WriteByte(letters[s.rng.IntN(len(letters))])
	}
	return b.String()
}

func (s *scenario) email() string {
	return fmt.Sprintf("%s.%s@%s", firstNames[s.rng.IntN(len(firstNames))],
		lastNames[s.rng.IntN(len(lastNames))], mailDomains[s.rng.IntN(len(mailDomains))])
}

func (s *scenario) mac() string {
	// Locally administered unicast prefixes keep them plausibly phone-like.
	b := [6]byte{0x02 | byte(s.rng.IntN(64))<<2, byte(s.rng.IntN(256)), byte(s.rng.IntN(256)),
		byte(s.rng.IntN(256)), byte(s.rng.IntN(256)), byte(s.rng.IntN(256))}
	return fmt.Sprintf("%02X:%02X:%02X:%02X:%02X:%02X", b[0], b[1], b[2], b[3], b[4], b[5])
}

// login picks an idle account of kind and logs it in. It reports whether
// one was available.
func (s *scenario) login(kind string, now time.Time) bool {
	r := s.r
	accts := s.hotspotUsers
	if kind == "pppoe" {
		accts = s.pppSecrets
	}
	if len(accts) == 0 {
		return false
	}
	// Start at a random account and take the first idle one after it: one
	// random draw per login, O(1) on average, deterministic.
	start := s.rng.IntN(len(accts))
	var a account
	found := false
	for i := range accts {
		c := accts[(start+i)%len(accts)]
		if r.activeBy[kind+"/"+c.name] == 0 {
			a, found = c, true
			break
		}
	}
	if !found {
		return false
	}
	var addr string
	if kind == "hotspot" {
		s.nextHostIP++
		addr = fmt.Sprintf("10.5.%d.%d", 50+(s.nextHostIP/250)%50, 2+s.nextHostIP%250)
	} else {
		s.nextPPPIP++
		addr = fmt.Sprintf("10.10.%d.%d", 1+(s.nextPPPIP/250)%200, 2+s.nextPPPIP%250)
	}
	loginBy := "http-chap"
	if kind == "hotspot" && s.rng.IntN(4) == 0 {
		loginBy = "cookie"
	}
	_, err := r.loginLocked(kind, a.name, a.mac, addr, loginBy)
	return err == nil
}

// step grows traffic for every session and applies churn.
func (s *scenario) step(now time.Time) {
	r := s.r
	for _, path := range []string{"/ip/hotspot/active", "/ppp/active"} {
		for _, it := range r.tables[path].items {
			sess := it.sess
			if s.toQuiet > 0 {
				if sess.quiet {
					sess.quiet = s.rng.Float64() >= s.toActive
				} else {
					sess.quiet = s.rng.Float64() < s.toQuiet
				}
				if sess.quiet {
					continue // between bursts: idle-time grows
				}
			} else if s.rng.IntN(5) == 0 {
				continue // idle this step: idle-time grows
			}
			up := uint64(200 + s.rng.IntN(40_000))
			down := uint64(1_000 + s.rng.IntN(400_000))
			sess.bytesIn += up
			sess.bytesOut += down
			sess.pktsIn += up/400 + 1
			sess.pktsOut += down/1200 + 1
			sess.lastActive = now
			r.wanIn += up
			r.wanOut += down
			r.emitLocked(sess, "update", "", now)
		}
	}
	if s.churnPerStep <= 0 {
		return
	}
	s.churnAcc += s.churnPerStep
	for s.churnAcc >= 1 {
		s.churnAcc--
		s.churnOnce(now)
	}
}

// churnOnce makes one login or logout, leaning towards the target level.
func (s *scenario) churnOnce(now time.Time) {
	r := s.r
	kind := "hotspot"
	total := s.hotspotTarget + s.pppTarget
	if total == 0 {
		return
	}
	if s.rng.IntN(total) >= s.hotspotTarget {
		kind = "pppoe"
	}
	target := s.hotspotTarget
	if kind == "pppoe" {
		target = s.pppTarget
	}
	t := r.tables[r.activePath(kind)]
	n := len(t.items)
	// Probability of a login falls from 0.9 (empty) through 0.5 (at target).
	pLogin := 0.5 + 0.4*float64(target-n)/float64(max(target, 1))
	pLogin = min(max(pLogin, 0.1), 0.9)
	if n == 0 || s.rng.Float64() < pLogin {
		if s.login(kind, now) {
			return
		}
	}
	if n > 0 {
		it := t.items[s.rng.IntN(n)]
		r.endSessionLocked(it.sess, "logout")
	}
}
