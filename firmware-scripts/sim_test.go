package firmwarescripts

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim"
)

// trapError is a RouterOS !trap as the scripts see it: the import stops
// with this message.
type trapError struct{ msg string }

func (e *trapError) Error() string { return "router: " + e.msg }

// apiRunner adapts the real go-routeros client to Runner.
type apiRunner struct{ c *routeros.Client }

func (a apiRunner) Run(sentence ...string) ([]map[string]string, error) {
	rep, err := a.c.RunArgs(sentence)
	if err != nil {
		var de *routeros.DeviceError
		if errors.As(err, &de) {
			return nil, &trapError{de.Sentence.Map["message"]}
		}
		return nil, err
	}
	out := make([]map[string]string, 0, len(rep.Re))
	for _, re := range rep.Re {
		out = append(out, re.Map)
	}
	return out, nil
}

// clock is the simulator's clock; :delay in a script advances it, so the
// container's extraction and stop take no real time.
type clock struct {
	testkit.Clock
	mu     sync.Mutex
	sleeps int
}

// Sleep advances the clock by d and counts the sleep.
func (c *clock) Sleep(d time.Duration) {
	c.mu.Lock()
	c.sleeps++
	c.mu.Unlock()
	c.Advance(d)
}

// touched are the menus the scripts change, compared whole between runs.
var touched = []string{"/user", "/user/group", "/ip/service", "/interface", "/interface/veth",
	"/interface/bridge", "/interface/bridge/port", "/ip/address", "/ip/firewall/filter", "/ip/firewall/nat",
	"/container", "/container/envs", "/container/mounts", "/container/config",
	"/radius", "/radius/incoming", "/ppp/aaa", "/ip/hotspot/profile"}

type state map[string][]map[string]string

type rig struct {
	t   *testing.T
	r   *sim.Router
	c   *routeros.Client
	clk *clock
}

func startRig(t *testing.T, version string) *rig {
	t.Helper()
	clk := &clock{}
	clk.Set(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
	r := sim.New(sim.Config{Version: version, Now: clk.Now, TrafficInterval: -1})
	if err := r.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c, err := routeros.DialTimeout(r.Addr(), "admin", "", 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetLogHandler(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { c.Close() })
	return &rig{t: t, r: r, c: c, clk: clk}
}

// script runs one script or source through the interpreter and returns
// the interpreter (for its sentences) and the error.
func (g *rig) script(name, src string) (*Interpreter, error) {
	in := &Interpreter{R: apiRunner{g.c}, Sleep: g.clk.Sleep}
	err := in.Run(src)
	if err != nil {
		err = fmt.Errorf("%s: %w", name, err)
	}
	return in, err
}

func (g *rig) print(menu string, query ...string) []map[string]string {
	g.t.Helper()
	rows, err := apiRunner{g.c}.Run(append([]string{menu + "/print"}, query...)...)
	if err != nil {
		g.t.Fatalf("print %s: %v", menu, err)
	}
	return rows
}

func (g *rig) one(menu string, query ...string) map[string]string {
	g.t.Helper()
	rows := g.print(menu, query...)
	if len(rows) != 1 {
		g.t.Fatalf("%s %v: got %d rows, want 1: %v", menu, query, len(rows), rows)
	}
	return rows[0]
}

func (g *rig) state() state {
	g.t.Helper()
	s := state{}
	for _, m := range touched {
		s[m] = g.print(m)
	}
	return s
}

// diffState lists the menus whose prints differ.
func diffState(a, b state) []string {
	var out []string
	for _, m := range touched {
		if !reflect.DeepEqual(a[m], b[m]) {
			out = append(out, fmt.Sprintf("%s:\n  before %v\n  after  %v", m, a[m], b[m]))
		}
	}
	return out
}

// unknownFindKeys returns the query keys of the find prints in sent that
// no row of their menu has. RouterOS's API matches nothing on an unknown
// key instead of failing, so a typo in [find …] would otherwise pass
// silently; run it when every menu the scripts search holds their items.
func (g *rig) unknownFindKeys(sent [][]string) []string {
	g.t.Helper()
	var bad []string
	seen := map[string]bool{}
	for _, words := range sent {
		menu, isPrint := strings.CutSuffix(words[0], "/print")
		if !isPrint {
			continue
		}
		rows := g.print(menu)
		for _, w := range words[1:] {
			k, _, ok := strings.Cut(strings.TrimPrefix(w, "?"), "=")
			if !ok || !strings.HasPrefix(w, "?") || seen[menu+" "+k] {
				continue
			}
			seen[menu+" "+k] = true
			if !slices.ContainsFunc(rows, func(r map[string]string) bool { _, ok := r[k]; return ok }) {
				bad = append(bad, menu+" "+k)
			}
		}
	}
	return bad
}

func loadScripts(t *testing.T) map[string]string {
	t.Helper()
	all, names, err := Scripts()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"01-agent-api-user.rsc", "02-container-network.rsc", "03-container-install.rsc", "04-radius.rsc", "99-uninstall.rsc", "hotspot-portal.rsc"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("scripts: got %v, want %v", names, want)
	}
	return all
}

var install = []string{"01-agent-api-user.rsc", "02-container-network.rsc", "03-container-install.rsc", "04-radius.rsc"}

func TestScriptsOnSimulator(t *testing.T) {
	scripts := loadScripts(t)
	g := startRig(t, "7.21.2 (stable)")
	initial := g.state()

	var sent [][]string
	for _, name := range install {
		in, err := g.script(name, scripts[name])
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, in.Sent...)
	}
	if g.clk.sleeps == 0 {
		t.Error("03 did not wait for the extraction: start would have been refused on RouterOS")
	}
	first := g.state()
	if bad := g.unknownFindKeys(sent); len(bad) > 0 {
		t.Errorf("[find] on attributes the menus do not have: %v", bad)
	}

	t.Run("installed", func(t *testing.T) {
		g := *g
		g.t = t
		checkInstalled(&g)
	})

	// Idempotency: a second import of 01–04 changes nothing.
	for _, name := range install {
		if _, err := g.script(name, scripts[name]); err != nil {
			t.Fatalf("second run: %v", err)
		}
	}
	if d := diffState(first, g.state()); len(d) > 0 {
		t.Errorf("second run changed the router:\n%s", strings.Join(d, "\n"))
	}

	// Uninstall: back to the router as it was, except the container
	// tmpdir, which the script leaves on purpose.
	if _, err := g.script("99-uninstall.rsc", scripts["99-uninstall.rsc"]); err != nil {
		t.Fatal(err)
	}
	after := g.state()
	if got := after["/container/config"][0]["tmpdir"]; got != "disk1/tmp" {
		t.Errorf("tmpdir after uninstall: got %q, want disk1/tmp kept", got)
	}
	after["/container/config"] = initial["/container/config"]
	if d := diffState(initial, after); len(d) > 0 {
		t.Errorf("uninstall left the router changed:\n%s", strings.Join(d, "\n"))
	}
	if u := g.one("/user", "?name=admin"); u["group"] != "full" {
		t.Errorf("admin after uninstall: %v", u)
	}
	for _, grp := range []string{"read", "write", "full"} {
		g.one("/user/group", "?name="+grp)
	}
	if got := len(g.print("/ip/service")); got != 8 {
		t.Errorf("services after uninstall: got %d, want 8", got)
	}
	for _, m := range touched {
		for _, row := range g.print(m) {
			if strings.Contains(strings.ToLower(fmt.Sprint(row)), "sitepulse") {
				t.Errorf("%s still has %v", m, row)
			}
		}
	}
}

// checkInstalled asserts what 01–04 must have configured.
func checkInstalled(g *rig) {
	t := g.t
	check := func(what string, got map[string]string, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s: got %q, want %q (row %v)", what, k, got[k], v, got)
			}
		}
	}

	check("group", g.one("/user/group", "?name=sitepulse-agent"), map[string]string{
		"policy": "read,write,api,!local,!telnet,!ssh,!ftp,!reboot,!policy,!test,!winbox,!password,!web,!sniff,!sensitive,!romon,!rest-api",
	})
	u := g.one("/user", "?name=sitepulse")
	check("user", u, map[string]string{"group": "sitepulse-agent", "address": "172.17.0.0/24", "disabled": "false"})
	if _, ok := u["password"]; ok {
		t.Errorf("user print shows a password: %v", u)
	}
	check("api service", g.one("/ip/service", "?name=api"), map[string]string{
		"address": "172.17.0.0/24", "disabled": "false", "port": "8728"})

	check("veth", g.one("/interface/veth", "?name=veth-sitepulse"), map[string]string{
		"address": "172.17.0.2/24", "gateway": "172.17.0.1", "running": "true"})
	check("bridge", g.one("/interface/bridge", "?name=br-sitepulse"), map[string]string{"comment": "SitePulse agent"})
	check("bridge port", g.one("/interface/bridge/port", "?interface=veth-sitepulse"), map[string]string{
		"bridge": "br-sitepulse"})
	check("veth in /interface", g.one("/interface", "?name=veth-sitepulse"), map[string]string{
		"type": "veth", "slave": "true"})
	check("gateway address", g.one("/ip/address", "?interface=br-sitepulse"), map[string]string{
		"address": "172.17.0.1/24", "network": "172.17.0.0"})
	check("masquerade", g.one("/ip/firewall/nat", "?comment=SitePulse agent masquerade"), map[string]string{
		"chain": "srcnat", "action": "masquerade", "src-address": "172.17.0.0/24", "disabled": "false"})

	// The API accept rule must come before every input-chain drop.
	filter := g.print("/ip/firewall/filter")
	at := slices.IndexFunc(filter, func(r map[string]string) bool { return r["comment"] == "SitePulse agent API" })
	if at < 0 {
		t.Fatalf("no API accept rule in %v", filter)
	}
	check("api accept", filter[at], map[string]string{"chain": "input", "action": "accept", "protocol": "tcp",
		"src-address": "172.17.0.0/24", "dst-port": "8728"})
	for i, r := range filter[:at] {
		if r["chain"] == "input" && r["action"] == "drop" {
			t.Errorf("input drop rule %d (%s) is above the API accept rule at %d", i, r["comment"], at)
		}
	}

	envs := map[string]string{}
	for _, e := range g.print("/container/envs", "?list=sitepulse") {
		envs[e["key"]] = e["value"]
	}
	wantEnvs := map[string]string{
		"SITEPULSE_ROUTER_ID": "r0123456789ab", "SITEPULSE_ROUTER_ADDR": "172.17.0.1:8728",
		"SITEPULSE_ROUTER_USER": "sitepulse", "SITEPULSE_ROUTER_PASSWORD": "CHANGE-ME-long-random",
		"SITEPULSE_MQTT_URL": "ssl://mqtt.example.net:8883", "SITEPULSE_MQTT_SECRET": "CHANGE-ME-agent-secret",
		"SITEPULSE_DATA_DIR": "/data",
	}
	if !reflect.DeepEqual(envs, wantEnvs) {
		t.Errorf("envs:\n got %v\nwant %v", envs, wantEnvs)
	}
	check("mount", g.one("/container/mounts", "?list=sitepulse-data"), map[string]string{
		"src": "disk1/sitepulse-data", "dst": "/data"})
	check("container", g.one("/container", "?comment=SitePulse agent"), map[string]string{
		"file": "disk1/sitepulse-agent.tar", "interface": "veth-sitepulse", "root-dir": "disk1/sitepulse-agent",
		"envlist": "sitepulse", "mountlists": "sitepulse-data", "start-on-boot": "true", "logging": "true",
		"running": "true", "stopped": "false", "extracting": "false"})
	check("container config", g.one("/container/config"), map[string]string{
		"tmpdir": "disk1/tmp", "registry-url": "https://registry-1.docker.io"})
	checkRadiusInstalled(g)
}

// checkRadiusInstalled asserts what 04 must have configured.
func checkRadiusInstalled(g *rig) {
	t := g.t
	rad := g.one("/radius", "?comment=SitePulse agent")
	for k, v := range map[string]string{"service": "ppp,hotspot", "address": "172.17.0.2", "timeout": "3s",
		"authentication-port": "1812", "accounting-port": "1813", "disabled": "false"} {
		if rad[k] != v {
			t.Errorf("/radius %s: got %q, want %q (%v)", k, rad[k], v, rad)
		}
	}
	if got := g.one("/radius/incoming"); got["accept"] != "true" || got["port"] != "3799" {
		t.Errorf("/radius incoming: %v", got)
	}
	if got := g.one("/ppp/aaa"); got["use-radius"] != "true" || got["accounting"] != "true" || got["interim-update"] != "1m" {
		t.Errorf("/ppp aaa: %v", got)
	}
	for _, p := range g.print("/ip/hotspot/profile") {
		if p["use-radius"] != "true" || p["radius-accounting"] != "true" {
			t.Errorf("hotspot profile %s: use-radius %q radius-accounting %q", p["name"], p["use-radius"], p["radius-accounting"])
		}
	}
	filter := g.print("/ip/firewall/filter")
	at := slices.IndexFunc(filter, func(r map[string]string) bool { return r["comment"] == "SitePulse agent RADIUS incoming" })
	if at < 0 {
		t.Fatalf("no RADIUS incoming accept rule in %v", filter)
	}
	if r := filter[at]; r["protocol"] != "udp" || r["dst-port"] != "3799" || r["src-address"] != "172.17.0.0/24" {
		t.Errorf("RADIUS incoming rule: %v", r)
	}
	for i, r := range filter[:at] {
		if r["chain"] == "input" && r["action"] == "drop" {
			t.Errorf("input drop rule %d is above the RADIUS incoming accept rule at %d", i, at)
		}
	}
}

// TestScriptErrorsAreCaught shows the simulator guards the scripts: a
// typo'd attribute, an unknown menu, a misspelt find key and the wrong
// RouterOS version each fail.
func TestScriptErrorsAreCaught(t *testing.T) {
	scripts := loadScripts(t)
	tests := []struct {
		name, src string
		want      string // trap message
	}{
		{"typo in attribute", "/user\nadd nmae=x group=read", "unknown parameter nmae"},
		{"typo in set", "/ip service\nset [find name=api] adress=10.0.0.0/8", "unknown parameter adress"},
		// RouterOS answers with two traps, the first naming the unknown
		// segment; go-routeros reports the last.
		{"unknown menu", "/ip adress\nadd address=10.0.0.1/24 interface=ether1", "no such command prefix"},
		{"unknown command", "/ip service\nrestart [find name=api]", "no such command"},
		{"bad policy word", "/user group\nadd name=x policy=read,apii", "input does not match any value of policy"},
		{"missing group", "/user\nadd name=x group=sitepulse-agent", "input does not match any value of group"},
		{"port before bridge", "/interface bridge port\nadd bridge=br-sitepulse interface=ether2", "input does not match any value of bridge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startRig(t, "7.21.2 (stable)")
			_, err := g.script(tt.name, tt.src)
			var te *trapError
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want trap %q", err, tt.want)
			}
			if te.msg != tt.want {
				t.Errorf("trap: got %q, want %q", te.msg, tt.want)
			}
		})
	}

	t.Run("misspelt find key", func(t *testing.T) {
		g := startRig(t, "7.21.2 (stable)")
		in, err := g.script("typo", "/ip service\nset [find nmae=api] disabled=no")
		if err != nil {
			t.Fatal(err) // RouterOS's API matches nothing; the key check must catch it
		}
		if got := g.unknownFindKeys(in.Sent); !reflect.DeepEqual(got, []string{"/ip/service nmae"}) {
			t.Errorf("unknown find keys: got %v, want [/ip/service nmae]", got)
		}
	})

	t.Run("status gone since 7.20", func(t *testing.T) {
		g := startRig(t, "7.21.2 (stable)")
		for _, name := range install {
			if _, err := g.script(name, scripts[name]); err != nil {
				t.Fatal(err)
			}
		}
		in, err := g.script("old", "/container\nstart [find comment=\"SitePulse agent\" status=stopped]")
		if err != nil {
			t.Fatal(err)
		}
		if got := g.unknownFindKeys(in.Sent); !reflect.DeepEqual(got, []string{"/container status"}) {
			t.Errorf("unknown find keys: got %v, want [/container status]", got)
		}
	})

	t.Run("RouterOS 7.20 syntax", func(t *testing.T) {
		g := startRig(t, "7.20.8 (stable)")
		for _, name := range install[:2] {
			if _, err := g.script(name, scripts[name]); err != nil {
				t.Fatal(err)
			}
		}
		_, err := g.script(install[2], scripts[install[2]])
		var te *trapError
		if !errors.As(err, &te) || te.msg != "unknown parameter list" {
			t.Errorf("03 on 7.20: got %v, want trap \"unknown parameter list\"", err)
		}
	})
}
