package sim_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/internal/testkit"

	"github.com/sitepulse/sitepulse/sim"
)

// runScenario records every change of steps scenario ticks.
func runScenario(t *testing.T, seed int64, steps int) []string {
	t.Helper()
	clk := testkit.NewClock(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
	r := sim.New(sim.Config{Seed: seed, HotspotSessions: 8, PPPSessions: 6, ChurnPerMinute: 120,
		TrafficInterval: -1, Now: clk.Now})
	defer r.Close()
	ch, stop := r.Subscribe()
	defer stop()
	for range steps {
		clk.Advance(time.Second)
		r.Tick()
	}
	// Drain what was queued: Tick is synchronous, so a final sentinel
	// change (a manual login) marks the end.
	if err := r.AddHotspotUser("sentinel", "x", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoginHotspot("sentinel", "00:00:00:00:00:01", "10.9.9.9"); err != nil {
		t.Fatal(err)
	}
	var out []string
	for c := range ch {
		if c.User == "sentinel" {
			break
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %s %s %s %d/%d %s", c.Kind, c.Op, c.Reason, c.ID, c.User,
			c.MAC, c.Address, c.BytesIn, c.BytesOut, c.Time.Format(time.TimeOnly)))
	}
	return out
}

func TestScenarioDeterministic(t *testing.T) {
	a := runScenario(t, 42, 60)
	b := runScenario(t, 42, 60)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatal("same seed produced different changes")
	}
	c := runScenario(t, 43, 60)
	if strings.Join(a, "\n") == strings.Join(c, "\n") {
		t.Fatal("different seeds produced identical changes")
	}
	var logins, logouts int
	for _, line := range a {
		switch strings.Fields(line)[1] {
		case "login":
			logins++
		case "logout":
			logouts++
		}
	}
	// 120 churn/min for 60 one-second steps is 120 events.
	if logins+logouts != 120 {
		t.Errorf("churn events: got %d logins + %d logouts, want 120 in total", logins, logouts)
	}
}

func TestScenarioSessions(t *testing.T) {
	clk := testkit.NewClock(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
	r := sim.New(sim.Config{Seed: 7, HotspotSessions: 20, PPPSessions: 10, TrafficInterval: -1, Now: clk.Now})
	defer r.Close()
	hs, ppp := r.HotspotActive(), r.PPPActive()
	if len(hs) != 20 || len(ppp) != 10 {
		t.Fatalf("initial sessions: %d hotspot, %d ppp", len(hs), len(ppp))
	}
	if n := len(r.HotspotUsers()); n <= 20 {
		t.Errorf("hotspot users: %d, want spares beyond 20", n)
	}
	mac := regexp.MustCompile(`^([0-9A-F]{2}:){5}[0-9A-F]{2}$`)
	users := map[string]bool{}
	phone, email := false, false
	for _, u := range r.HotspotUsers() {
		users[u["name"]] = true
		phone = phone || strings.HasPrefix(u["name"], "+2547")
		email = email || strings.Contains(u["comment"], "@")
	}
	if !phone || !email {
		t.Errorf("want some phone-number names and email comments (phone %v, email %v)", phone, email)
	}
	for _, s := range hs {
		if !users[s["user"]] || !mac.MatchString(s["mac-address"]) || s["server"] != "hotspot1" || s["uptime"] != "0s" {
			t.Errorf("bad hotspot session %v", s)
		}
	}
	secrets := map[string]bool{}
	for _, s := range r.PPPSecrets() {
		secrets[s["name"]] = true
	}
	ifaces := map[string]bool{}
	for _, i := range r.Interfaces() {
		ifaces[i["name"]] = true
	}
	sid := regexp.MustCompile(`^0x[0-9A-F]{8}$`)
	for _, s := range ppp {
		if !secrets[s["name"]] || !mac.MatchString(s["caller-id"]) || !sid.MatchString(s["session-id"]) || !ifaces["<pppoe-"+s["name"]+">"] {
			t.Errorf("bad ppp session %v", s)
		}
	}

	for range 90 {
		clk.Advance(time.Second)
		r.Tick()
	}
	for _, s := range r.HotspotActive() {
		if s["uptime"] != "1m30s" {
			t.Errorf("uptime: got %s, want 1m30s", s["uptime"])
		}
		if n, _ := strconv.ParseUint(s["bytes-out"], 10, 64); n == 0 {
			t.Errorf("no traffic on %s", s["user"])
		}
	}
	for _, i := range r.Interfaces() {
		if strings.HasPrefix(i["name"], "<pppoe-") {
			if n, _ := strconv.ParseUint(i["tx-byte"], 10, 64); n == 0 {
				t.Errorf("no traffic on %s", i["name"])
			}
		}
	}
}

func TestScenarioBackgroundChurn(t *testing.T) {
	r := sim.New(sim.Config{Seed: 9, HotspotSessions: 5, PPPSessions: 5, ChurnPerMinute: 6000,
		TrafficInterval: 10 * time.Millisecond})
	ch, stop := r.Subscribe()
	defer stop()
	if err := r.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seen := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for !(seen["login"] && seen["logout"] && seen["update"]) {
		select {
		case c := <-ch:
			seen[c.Op] = true
		case <-timeout:
			t.Fatalf("ops seen: %v", seen)
		}
	}
}

func TestTLS(t *testing.T) {
	cert := selfSigned(t)
	r := startRouter(t, sim.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c, err := routeros.DialTLSTimeout(r.Addr(), "admin", "", &tls.Config{RootCAs: pool, ServerName: "sim.test"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rep, err := c.Run("/system/identity/print")
	if err != nil || rep.Re[0].Map["name"] != "MikroTik" {
		t.Fatalf("identity over TLS: %v %v", rep, err)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sim.test"}, DNSNames: []string{"sim.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestScenarioActiveShare: with ActiveShare the share of sessions moving
// traffic per step settles near it, in bursts (a quiet session stays quiet
// for many steps, unlike the busy default's independent 1-in-5 pauses).
func TestScenarioActiveShare(t *testing.T) {
	for _, c := range []struct {
		share, lo, hi float64
		longQuiet     bool
	}{{0, 0.75, 0.85, false}, {0.2, 0.15, 0.25, true}} {
		t.Run(fmt.Sprint(c.share), func(t *testing.T) {
			clk := testkit.NewClock(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
			r := sim.New(sim.Config{Seed: 11, HotspotSessions: 200, ActiveShare: c.share, TrafficInterval: -1, Now: clk.Now})
			defer r.Close()
			bytesByID := func() map[string]string {
				m := map[string]string{}
				for _, row := range r.HotspotActive() {
					m[row[".id"]] = row["bytes-in"]
				}
				return m
			}
			prev := bytesByID()
			quietFor := map[string]int{}
			longest := 0
			moved, seen := 0, 0
			for step := range 400 {
				clk.Advance(time.Second)
				r.Tick()
				cur := bytesByID()
				for id, b := range cur {
					if b != prev[id] {
						quietFor[id] = 0
						if step >= 100 { // past the start, where every session begins moving
							moved++
						}
					} else {
						quietFor[id]++
						longest = max(longest, quietFor[id])
					}
					if step >= 100 {
						seen++
					}
				}
				prev = cur
			}
			got := float64(moved) / float64(seen)
			if got < c.lo || got > c.hi {
				t.Errorf("share of sessions moving per step = %.3f, want %.2f..%.2f", got, c.lo, c.hi)
			}
			if c.longQuiet && longest < 30 {
				t.Errorf("longest quiet stretch %d steps, want bursts with idle stretches of 30+ steps", longest)
			}
			if !c.longQuiet && longest > 15 {
				t.Errorf("longest quiet stretch %d steps in the busy default, want short independent pauses", longest)
			}
		})
	}
}
