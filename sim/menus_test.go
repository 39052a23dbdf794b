package sim_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim"
)

// rows runs a command that must succeed and returns its reply rows.
func rows(t *testing.T, c *routeros.Client, words ...string) []map[string]string {
	t.Helper()
	rep, err := c.RunArgs(words)
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(words, " "), err)
	}
	out := make([]map[string]string, 0, len(rep.Re))
	for _, re := range rep.Re {
		out = append(out, re.Map)
	}
	return out
}

// one runs a print that must return exactly one row.
func one(t *testing.T, c *routeros.Client, words ...string) map[string]string {
	t.Helper()
	rs := rows(t, c, words...)
	if len(rs) != 1 {
		t.Fatalf("%s: got %d rows, want 1: %v", strings.Join(words, " "), len(rs), rs)
	}
	return rs[0]
}

// trapTests runs commands that must each fail with the given message.
func trapTests(t *testing.T, c *routeros.Client, tests []struct {
	name  string
	words []string
	want  string
}) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.RunArgs(tt.words)
			if err == nil {
				t.Fatalf("%s succeeded, want trap %q", strings.Join(tt.words, " "), tt.want)
			}
			if got := deviceMessage(t, err); got != tt.want {
				t.Errorf("trap: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUserAndGroupMenus(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")

	// Built-in groups and the admin user.
	var names []string
	for _, g := range rows(t, c, "/user/group/print") {
		names = append(names, g["name"])
	}
	if got, want := strings.Join(names, ","), "read,write,full"; got != want {
		t.Errorf("default groups: got %s, want %s", got, want)
	}
	if got, want := one(t, c, "/user/group/print", "?name=read")["policy"],
		"local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,sensitive,api,romon,rest-api,!ftp,!write,!policy"; got != want {
		t.Errorf("read policy:\n got %s\nwant %s", got, want)
	}
	if u := one(t, c, "/user/print", "?name=admin"); u["group"] != "full" {
		t.Errorf("admin: %v", u)
	}

	// Policy words are validated and printed in RouterOS's order.
	rows(t, c, "/user/group/add", "=name=agents", "=policy=api,write,read,!ftp")
	if got, want := one(t, c, "/user/group/print", "?name=agents")["policy"],
		"read,write,api,!local,!telnet,!ssh,!ftp,!reboot,!policy,!test,!winbox,!password,!web,!sniff,!sensitive,!romon,!rest-api"; got != want {
		t.Errorf("normalised policy:\n got %s\nwant %s", got, want)
	}

	// The password is write-only: not printed, not in a proplist, not queryable.
	rows(t, c, "/user/add", "=name=agent", "=group=agents", "=password=s3cret", "=address=172.17.0.0/24")
	u := one(t, c, "/user/print", "?name=agent")
	if _, ok := u["password"]; ok {
		t.Errorf("user print shows the password: %v", u)
	}
	if u["group"] != "agents" || u["address"] != "172.17.0.0/24" || u["disabled"] != "false" {
		t.Errorf("user: %v", u)
	}
	if p := one(t, c, "/user/print", "?name=agent", "=.proplist=name,password"); len(p) != 1 {
		t.Errorf("proplist with password: got %v, want only name", p)
	}
	if got := rows(t, c, "/user/print", "?password=s3cret"); len(got) != 0 {
		t.Errorf("query by password matched %v", got)
	}

	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{
		{"unknown policy word", []string{"/user/group/add", "=name=x", "=policy=read,api,fly"}, "input does not match any value of policy"},
		{"unknown group", []string{"/user/add", "=name=y", "=group=nope"}, "input does not match any value of group"},
		{"group required", []string{"/user/add", "=name=y"}, "missing value(s) of argument(s) group"},
		{"duplicate user", []string{"/user/add", "=name=agent", "=group=read"}, "failure: user with the same name already exists"},
		{"duplicate group", []string{"/user/group/add", "=name=agents"}, "failure: group with the same name already exists"},
		{"bad address", []string{"/user/set", "=numbers=agent", "=address=300.1.1.1/24"}, "invalid value for argument address"},
		{"typo", []string{"/user/add", "=nmae=z", "=group=read"}, "unknown parameter nmae"},
		{"default group", []string{"/user/group/remove", "=numbers=full"}, "failure: can not remove default group"},
		{"group in use", []string{"/user/group/remove", "=numbers=agents"}, "failure: group is used by some user"},
	})

	rows(t, c, "/user/remove", "=numbers=agent")
	rows(t, c, "/user/group/remove", "=numbers=agents")
	if got := len(rows(t, c, "/user/group/print")); got != 3 {
		t.Errorf("groups after removal: got %d, want 3", got)
	}
}

func TestIPServiceMenu(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")
	var names []string
	for _, s := range rows(t, c, "/ip/service/print") {
		names = append(names, s["name"]+":"+s["port"])
	}
	if got, want := strings.Join(names, " "),
		"telnet:23 ftp:21 www:80 ssh:22 www-ssl:443 api:8728 winbox:8291 api-ssl:8729"; got != want {
		t.Errorf("services: got %s, want %s", got, want)
	}
	api := one(t, c, "/ip/service/print", "?name=api")
	rows(t, c, "/ip/service/set", "=.id="+api[".id"], "=address=172.17.0.0/24,10.0.0.1", "=disabled=no")
	api = one(t, c, "/ip/service/print", "?name=api")
	if api["address"] != "172.17.0.0/24,10.0.0.1" || api["disabled"] != "false" {
		t.Errorf("api after set: %v", api)
	}
	if _, ok := api["certificate"]; ok {
		t.Errorf("plain api prints a certificate: %v", api)
	}
	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{
		{"no add", []string{"/ip/service/add", "=name=api2", "=port=1"}, "no such command"},
		{"no remove", []string{"/ip/service/remove", "=numbers=api"}, "no such command"},
		{"name is read-only", []string{"/ip/service/set", "=numbers=api", "=name=x"}, "unknown parameter name"},
		{"bad port", []string{"/ip/service/set", "=numbers=api", "=port=70000"}, "invalid value for argument port"},
		{"bad address", []string{"/ip/service/set", "=numbers=api", "=address=nowhere"}, "invalid value for argument address"},
	})
	if dm := one(t, c, "/system/device-mode/print"); dm["container"] != "true" || dm["mode"] != "advanced" {
		t.Errorf("device-mode: %v", dm)
	}
}

func TestInterfaceMenus(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")

	rows(t, c, "/interface/veth/add", "=name=veth1", "=address=172.17.0.2/24", "=gateway=172.17.0.1")
	rows(t, c, "/interface/bridge/add", "=name=br1", "=comment=containers")
	v := one(t, c, "/interface/veth/print", "?name=veth1")
	if v["address"] != "172.17.0.2/24" || v["gateway"] != "172.17.0.1" || v["running"] != "true" {
		t.Errorf("veth: %v", v)
	}
	// Both show in /interface with their type.
	for name, typ := range map[string]string{"veth1": "veth", "br1": "bridge"} {
		if i := one(t, c, "/interface/print", "?name="+name); i["type"] != typ || i["slave"] != "false" {
			t.Errorf("/interface %s: %v", name, i)
		}
	}
	rows(t, c, "/interface/bridge/port/add", "=bridge=br1", "=interface=veth1")
	if got := one(t, c, "/interface/print", "?name=veth1")["slave"]; got != "true" {
		t.Errorf("veth1 slave after port add: got %s", got)
	}
	rows(t, c, "/ip/address/add", "=address=172.17.0.1/24", "=interface=br1")
	if a := one(t, c, "/ip/address/print", "?interface=br1"); a["network"] != "172.17.0.0" || a["actual-interface"] != "br1" {
		t.Errorf("address: %v", a)
	}
	rows(t, c, "/ip/address/add", "=address=172.18.0.9", "=interface=br1")
	if got := one(t, c, "/ip/address/print", "?network=172.18.0.9")["address"]; got != "172.18.0.9/32" {
		t.Errorf("bare address: got %s, want 172.18.0.9/32", got)
	}

	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{
		{"veth named like ether", []string{"/interface/veth/add", "=name=ether1"}, "failure: already have interface with such name"},
		{"bridge named like veth", []string{"/interface/bridge/add", "=name=veth1"}, "failure: already have interface with such name"},
		{"bad veth address", []string{"/interface/veth/add", "=name=v2", "=address=172.17.0.300/24"}, "invalid value for argument address"},
		{"ipv6 gateway", []string{"/interface/veth/add", "=name=v2", "=gateway=fe80::1"}, "invalid value for argument gateway"},
		{"port of unknown bridge", []string{"/interface/bridge/port/add", "=bridge=br9", "=interface=ether2"}, "input does not match any value of bridge"},
		{"port of unknown interface", []string{"/interface/bridge/port/add", "=bridge=br1", "=interface=veth9"}, "input does not match any value of interface"},
		{"bridge as port", []string{"/interface/bridge/port/add", "=bridge=br1", "=interface=bridge-hotspot"}, "input does not match any value of interface"},
		{"port twice", []string{"/interface/bridge/port/add", "=bridge=bridge-hotspot", "=interface=veth1"}, "failure: device already added as bridge port"},
		{"address on unknown interface", []string{"/ip/address/add", "=address=10.9.9.1/24", "=interface=br9"}, "input does not match any value of interface"},
		{"address twice", []string{"/ip/address/add", "=address=172.17.0.1/24", "=interface=br1"}, "failure: already have such address"},
		{"address missing interface", []string{"/ip/address/add", "=address=10.9.9.1/24"}, "missing value(s) of argument(s) interface"},
	})

	// A rename follows into the port and the address; removing the bridge
	// takes its port and frees the veth.
	br := one(t, c, "/interface/bridge/print", "?name=br1")
	rows(t, c, "/interface/bridge/set", "=.id="+br[".id"], "=name=br2")
	if p := one(t, c, "/interface/bridge/port/print", "?interface=veth1"); p["bridge"] != "br2" {
		t.Errorf("port after rename: %v", p)
	}
	if got := len(rows(t, c, "/ip/address/print", "?interface=br2")); got != 2 {
		t.Errorf("addresses on renamed bridge: got %d, want 2", got)
	}
	rows(t, c, "/interface/bridge/remove", "=numbers=br2")
	if got := rows(t, c, "/interface/bridge/port/print", "?interface=veth1"); len(got) != 0 {
		t.Errorf("port left after bridge removal: %v", got)
	}
	if got := one(t, c, "/interface/print", "?name=veth1")["slave"]; got != "false" {
		t.Errorf("veth1 slave after bridge removal: got %s", got)
	}
	rows(t, c, "/interface/veth/remove", "=numbers=veth1")
	if got := rows(t, c, "/interface/print", "?type=veth"); len(got) != 0 {
		t.Errorf("veth rows left in /interface: %v", got)
	}
}

func TestFirewallMenus(t *testing.T) {
	r := startRouter(t, sim.Config{})
	c := dial(t, r, "admin", "")
	comments := func(path string) []string {
		var out []string
		for _, rule := range rows(t, c, path+"/print", "=.proplist=comment") {
			out = append(out, rule["comment"])
		}
		return out
	}
	if got := comments("/ip/firewall/filter"); len(got) != 9 || got[4] != "defconf: drop all not coming from LAN" {
		t.Fatalf("defconf filter: %q", got)
	}
	drop := one(t, c, "/ip/firewall/filter/print", "?comment=defconf: drop invalid", "?chain=input")
	rows(t, c, "/ip/firewall/filter/add", "=chain=input", "=action=accept", "=protocol=tcp", "=dst-port=8728",
		"=src-address=172.17.0.0/24", "=comment=api", "=place-before="+drop[".id"])
	if got := comments("/ip/firewall/filter")[:3]; !reflect.DeepEqual(got, []string{
		"defconf: accept established,related,untracked", "api", "defconf: drop invalid"}) {
		t.Errorf("after place-before: %q", got)
	}
	rule := one(t, c, "/ip/firewall/filter/print", "?comment=api")
	if _, ok := rule["place-before"]; ok || rule["bytes"] != "0" || rule["dst-port"] != "8728" {
		t.Errorf("rule: %v", rule)
	}
	// move puts the rule in front of the destination; none means last.
	rows(t, c, "/ip/firewall/filter/move", "=numbers="+rule[".id"])
	if got := comments("/ip/firewall/filter"); got[len(got)-1] != "api" {
		t.Errorf("after move to end: %q", got)
	}
	first := rows(t, c, "/ip/firewall/filter/print")[0]
	rows(t, c, "/ip/firewall/filter/move", "=numbers="+rule[".id"], "=destination="+first[".id"])
	rows(t, c, "/ip/firewall/filter/move", "=numbers="+rule[".id"], "=destination="+rule[".id"])
	if got := comments("/ip/firewall/filter")[0]; got != "api" {
		t.Errorf("after move to front: first is %q", got)
	}

	rows(t, c, "/ip/firewall/nat/add", "=chain=srcnat", "=action=masquerade", "=src-address=172.17.0.0/24", "=comment=m")
	if n := one(t, c, "/ip/firewall/nat/print", "?comment=m"); n["action"] != "masquerade" || n["log"] != "false" {
		t.Errorf("nat rule: %v", n)
	}
	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{
		{"chain required", []string{"/ip/firewall/filter/add", "=action=drop"}, "missing value(s) of argument(s) chain"},
		{"bad action", []string{"/ip/firewall/filter/add", "=chain=input", "=action=masquerade"}, "input does not match any value of action"},
		{"port without protocol", []string{"/ip/firewall/filter/add", "=chain=input", "=dst-port=8728"}, "failure: ports can be specified if proto is tcp,udp,udp-lite,dccp,sctp"},
		{"bad protocol", []string{"/ip/firewall/filter/add", "=chain=input", "=protocol=tpc"}, "input does not match any value of protocol"},
		{"bad address", []string{"/ip/firewall/nat/add", "=chain=srcnat", "=src-address=172.17.0/24"}, "invalid value for argument src-address"},
		{"bad state", []string{"/ip/firewall/filter/add", "=chain=input", "=connection-state=open"}, "input does not match any value of connection-state"},
		{"unknown interface", []string{"/ip/firewall/nat/add", "=chain=srcnat", "=out-interface=wan9"}, "input does not match any value of out-interface"},
		{"place-before missing", []string{"/ip/firewall/nat/add", "=chain=srcnat", "=place-before=*99"}, "failure: item referred by 'place-before' does not exist"},
		{"place-before on set", []string{"/ip/firewall/filter/set", "=.id=" + rule[".id"], "=place-before=" + drop[".id"]}, "unknown parameter place-before"},
		{"nat only field on filter", []string{"/ip/firewall/filter/add", "=chain=input", "=to-addresses=1.2.3.4"}, "unknown parameter to-addresses"},
		{"move to nowhere", []string{"/ip/firewall/filter/move", "=numbers=" + rule[".id"], "=destination=*99"}, "no such item"},
	})
}

func TestContainerMenus(t *testing.T) {
	clk := testkit.NewClock(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
	r := startRouter(t, sim.Config{Version: "7.21.2 (stable)", Now: clk.Now})
	c := dial(t, r, "admin", "")
	if v := one(t, c, "/system/resource/print")["version"]; v != "7.21.2 (stable)" {
		t.Errorf("version: got %s", v)
	}
	rows(t, c, "/interface/veth/add", "=name=veth1", "=address=172.17.0.2/24", "=gateway=172.17.0.1")
	rows(t, c, "/container/envs/add", "=list=sp", "=key=A", "=value=1")
	rows(t, c, "/container/mounts/add", "=list=spdata", "=src=disk1/sp", "=dst=/data")
	rows(t, c, "/container/config/set", "=tmpdir=disk1/tmp", "=password=hunter2")
	cfg := one(t, c, "/container/config/print")
	if _, ok := cfg[".id"]; ok || cfg["tmpdir"] != "disk1/tmp" {
		t.Errorf("config: %v", cfg)
	}
	if _, ok := cfg["password"]; ok {
		t.Errorf("config prints the registry password: %v", cfg)
	}

	rows(t, c, "/container/add", "=file=disk1/agent.tar", "=interface=veth1", "=root-dir=disk1/agent",
		"=envlist=sp", "=mountlists=spdata", "=start-on-boot=yes", "=logging=yes", "=comment=agent")
	ct := one(t, c, "/container/print", "?comment=agent")
	if ct["extracting"] != "true" || ct["stopped"] != "false" || ct["start-on-boot"] != "true" ||
		ct["logging"] != "true" || ct["mountlists"] != "spdata" {
		t.Errorf("container after add: %v", ct)
	}
	for k := range ct {
		if strings.HasPrefix(k, ".sim") || k == "status" {
			t.Errorf("attribute %s printed on 7.21", k)
		}
	}
	id := "=.id=" + ct[".id"]
	byID := "?.id=" + ct[".id"]
	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{
		{"start while extracting", []string{"/container/start", id}, "failure: container not ready"},
		{"env key required", []string{"/container/envs/add", "=list=sp"}, "missing value(s) of argument(s) key"},
		{"file and image", []string{"/container/add", "=file=x.tar", "=remote-image=a/b", "=interface=veth1"}, "failure: specify either file or remote-image"},
		{"not a veth", []string{"/container/add", "=file=x.tar", "=interface=ether1"}, "input does not match any value of interface"},
		{"state read-only", []string{"/container/set", id, "=running=yes"}, "unknown parameter running"},
		{"change file", []string{"/container/set", id, "=file=y.tar"}, "failure: can not change file of existing container"},
	})

	clk.Advance(3 * time.Second)
	if got := one(t, c, "/container/print", "?stopped=true")[".id"]; got != ct[".id"] {
		t.Fatalf("not stopped after extraction: %v", rows(t, c, "/container/print"))
	}
	rows(t, c, "/container/start", id)
	if got := one(t, c, "/container/print", byID); got["running"] != "true" || got["stopped"] != "false" {
		t.Errorf("after start: %v", got)
	}
	trapTests(t, c, []struct {
		name  string
		words []string
		want  string
	}{{"remove running", []string{"/container/remove", id}, "failure: container must be stopped first"}})
	rows(t, c, "/container/stop", id)
	if got := one(t, c, "/container/print", byID)["stopping"]; got != "true" {
		t.Errorf("stopping after stop: got %s", got)
	}
	clk.Advance(2 * time.Second)
	rows(t, c, "/container/remove", id)
	if got := rows(t, c, "/container/print"); len(got) != 0 {
		t.Errorf("containers after remove: %v", got)
	}
}

// TestMenusFollowVersion checks the attributes and the container state
// each RouterOS version has.
func TestMenusFollowVersion(t *testing.T) {
	t.Run("7.18", func(t *testing.T) {
		r := startRouter(t, sim.Config{}) // 7.18.2
		c := dial(t, r, "admin", "")
		rows(t, c, "/interface/veth/add", "=name=veth1")
		if v := one(t, c, "/interface/veth/print"); v["mac-address"] != "" {
			t.Errorf("veth prints a mac-address before 7.20: %v", v)
		}
		rows(t, c, "/container/envs/add", "=name=sp", "=key=A", "=value=1")
		rows(t, c, "/container/mounts/add", "=name=spdata", "=src=disk1/sp", "=dst=/data")
		rows(t, c, "/container/add", "=file=x.tar", "=interface=veth1", "=mounts=spdata")
		if ct := one(t, c, "/container/print"); ct["status"] != "extracting" || ct["running"] != "" {
			t.Errorf("container state before 7.20: %v", ct)
		}
		trapTests(t, c, []struct {
			name  string
			words []string
			want  string
		}{
			{"env list", []string{"/container/envs/add", "=list=sp", "=key=B"}, "unknown parameter list"},
			{"mount list", []string{"/container/mounts/add", "=list=x", "=src=a", "=dst=/b"}, "unknown parameter list"},
			{"mountlists", []string{"/container/add", "=file=x.tar", "=interface=veth1", "=mountlists=spdata"}, "unknown parameter mountlists"},
			{"veth dhcp", []string{"/interface/veth/add", "=name=v2", "=dhcp=yes"}, "unknown parameter dhcp"},
			{"config memory-high", []string{"/container/config/set", "=memory-high=100M"}, "unknown parameter memory-high"},
		})
	})
	t.Run("7.20", func(t *testing.T) {
		r := startRouter(t, sim.Config{Version: "7.20.8 (stable)"})
		c := dial(t, r, "admin", "")
		rows(t, c, "/container/envs/add", "=list=sp", "=key=A", "=value=1")
		trapTests(t, c, []struct {
			name  string
			words []string
			want  string
		}{
			{"mount list", []string{"/container/mounts/add", "=list=x", "=src=a", "=dst=/b"}, "unknown parameter list"},
			{"mountlists", []string{"/container/add", "=file=x.tar", "=interface=veth1", "=mountlists=spdata"}, "unknown parameter mountlists"},
		})
	})
}
