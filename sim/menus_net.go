package sim

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Network menus the container needs: /interface/veth, /interface/bridge,
// /interface/bridge/port, /ip/address, /ip/firewall/filter and
// /ip/firewall/nat. Veths and bridges also appear in /interface, as on
// RouterOS, so everything that names an interface looks it up there.

// parsePrefixOrAddr accepts "10.0.0.1", "10.0.0.0/24" and IPv6 forms.
func parsePrefixOrAddr(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// macFor derives a stable locally administered MAC for an interface the
// simulator creates (RouterOS picks a random one).
func macFor(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	s := h.Sum32()
	return fmt.Sprintf("02:%02X:%02X:%02X:%02X:%02X", byte(s>>24), byte(s>>16), byte(s>>8), byte(s), byte(len(name)))
}

// checkInterfaceName refuses a name another interface of any type has.
func checkInterfaceName(r *Router, attrs map[string]string, it *item) error {
	name, ok := attrs["name"]
	if !ok || (it != nil && it.attrs["name"] == name) {
		return nil
	}
	if r.tables["/interface"].lookup(name) != nil {
		return &apiError{-1, "failure: already have interface with such name"}
	}
	return nil
}

// mirrorInterface keeps the /interface row of a veth or bridge in step
// with it: created on add, renamed, enabled and commented on set.
func mirrorInterface(typ string, extra map[string]string) func(r *Router, t *table, it *item, old map[string]string) {
	return func(r *Router, t *table, it *item, old map[string]string) {
		ifs := r.tables["/interface"]
		now := r.now()
		running := formatBool(it.attrs["disabled"] != "true")
		if old == nil {
			attrs := map[string]string{"name": it.attrs["name"], "type": typ, "mac-address": macFor(it.attrs["name"]),
				"last-link-up-time": now.Format("2006-01-02 15:04:05"), "link-downs": "0", "running": running,
				"slave": "false", "disabled": it.attrs["disabled"], "dynamic": "false"}
			for k, v := range extra {
				attrs[k] = v
			}
			if c, ok := it.attrs["comment"]; ok {
				attrs["comment"] = c
			}
			r.notifyLocked(ifs, ifs.insert(attrs), now)
			return
		}
		row := ifs.lookup(old["name"])
		if row == nil {
			return
		}
		upd := map[string]string{"name": it.attrs["name"], "disabled": it.attrs["disabled"], "running": running}
		if c, ok := it.attrs["comment"]; ok {
			upd["comment"] = c
		}
		ifs.update(row, upd)
		r.notifyLocked(ifs, row, now)
		if o, n := old["name"], it.attrs["name"]; o != n {
			r.renameRefsLocked("/interface/bridge/port", "interface", o, n)
			r.renameRefsLocked("/ip/address", "interface", o, n)
			r.renameRefsLocked("/container", "interface", o, n)
		}
	}
}

// unmirrorInterface removes the /interface row of a removed veth or bridge.
func unmirrorInterface(r *Router, it *item) {
	ifs := r.tables["/interface"]
	if row := ifs.lookup(it.attrs["name"]); row != nil {
		ifs.delete(row)
		r.notifyDeadLocked(ifs, row.id)
	}
}

// renameRefsLocked follows a rename into the items of another menu that
// name the renamed item (RouterOS stores references by id and prints the
// current name; the simulator stores names).
func (r *Router) renameRefsLocked(path, attr, oldName, newName string) {
	t := r.tables[path]
	now := r.now()
	for _, it := range t.items {
		if it.attrs[attr] == oldName {
			t.update(it, map[string]string{attr: newName})
			r.notifyLocked(t, it, now)
		}
	}
}

// setSlaveLocked marks an /interface row as a bridge port member or not.
func (r *Router) setSlaveLocked(name string, on bool) {
	ifs := r.tables["/interface"]
	if row := ifs.lookup(name); row != nil && row.attrs["slave"] != formatBool(on) {
		ifs.update(row, map[string]string{"slave": formatBool(on)})
		r.notifyLocked(ifs, row, r.now())
	}
}

var vethSpec = &menuSpec{
	path:     "/interface/veth",
	fields:   []string{"name", "address", "gateway", "gateway6", "dhcp", "mac-address", "running", "disabled", "comment"},
	writable: []string{"name", "address", "gateway", "gateway6", "dhcp", "mac-address", "disabled", "comment"},
	since:    map[string]string{"dhcp": "7.20", "mac-address": "7.20"},
	defaults: map[string]string{"address": "", "gateway": "", "gateway6": "", "running": "true", "disabled": "false"},
	bools:    []string{"dhcp", "disabled"},
	key:      "name",
	dupMsg:   "failure: already have interface with such name",
	required: []string{"name"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   1,
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		if err := checkInterfaceName(r, attrs, it); err != nil {
			return err
		}
		if v, ok := attrs["address"]; ok && v != "" {
			for _, p := range strings.Split(v, ",") {
				if _, ok := parsePrefixOrAddr(strings.TrimSpace(p)); !ok {
					return &apiError{1, "invalid value for argument address"}
				}
			}
		}
		for k, want4 := range map[string]bool{"gateway": true, "gateway6": false} {
			if v, ok := attrs[k]; ok && v != "" {
				a, err := netip.ParseAddr(v)
				if err != nil || a.Is4() != want4 {
					return &apiError{1, "invalid value for argument " + k}
				}
			}
		}
		if _, given := attrs["mac-address"]; it == nil && !given && r.versionAtLeast("7.20") {
			attrs["mac-address"] = macFor(attrs["name"])
		}
		return nil
	},
	written: func(r *Router, t *table, it *item, old map[string]string) {
		it.attrs["running"] = formatBool(it.attrs["disabled"] != "true")
		mirrorInterface("veth", map[string]string{"mtu": "1500", "actual-mtu": "1500"})(r, t, it, old)
	},
	removed: unmirrorInterface,
}

var bridgeSpec = &menuSpec{
	path: "/interface/bridge",
	fields: []string{"name", "mtu", "actual-mtu", "l2mtu", "arp", "arp-timeout", "mac-address", "protocol-mode",
		"fast-forward", "igmp-snooping", "auto-mac", "admin-mac", "ageing-time", "priority", "max-message-age",
		"forward-delay", "transmit-hold-count", "vlan-filtering", "dhcp-snooping", "port-cost-mode", "mvrp",
		"max-learned-entries", "running", "disabled", "comment"},
	writable: []string{"name", "mtu", "arp", "arp-timeout", "protocol-mode", "fast-forward", "igmp-snooping",
		"auto-mac", "admin-mac", "ageing-time", "priority", "max-message-age", "forward-delay",
		"transmit-hold-count", "vlan-filtering", "dhcp-snooping", "port-cost-mode", "mvrp",
		"max-learned-entries", "disabled", "comment"},
	defaults: map[string]string{"mtu": "auto", "actual-mtu": "1500", "l2mtu": "65535", "arp": "enabled",
		"arp-timeout": "auto", "protocol-mode": "rstp", "fast-forward": "true", "igmp-snooping": "false",
		"auto-mac": "true", "ageing-time": "5m", "priority": "0x8000", "max-message-age": "20s",
		"forward-delay": "15s", "transmit-hold-count": "6", "vlan-filtering": "false", "dhcp-snooping": "false",
		"port-cost-mode": "long", "mvrp": "false", "max-learned-entries": "auto", "running": "true",
		"disabled": "false"},
	bools: []string{"fast-forward", "igmp-snooping", "auto-mac", "vlan-filtering", "dhcp-snooping", "mvrp", "disabled"},
	enums: map[string][]string{
		"arp":            {"disabled", "enabled", "local-proxy-arp", "proxy-arp", "reply-only"},
		"protocol-mode":  {"none", "rstp", "stp", "mstp"},
		"port-cost-mode": {"long", "short"},
	},
	key:      "name",
	dupMsg:   "failure: already have interface with such name",
	required: []string{"name"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   1,
	// The scenario's hotspot bridge (its /interface row is seeded by the router).
	initial: []seedItem{{1, map[string]string{"name": "bridge-hotspot", "mtu": "auto", "actual-mtu": "1500",
		"l2mtu": "1514", "arp": "enabled", "arp-timeout": "auto", "mac-address": "48:A9:8A:10:20:33",
		"protocol-mode": "rstp", "fast-forward": "true", "igmp-snooping": "false", "auto-mac": "true",
		"ageing-time": "5m", "priority": "0x8000", "max-message-age": "20s", "forward-delay": "15s",
		"transmit-hold-count": "6", "vlan-filtering": "false", "dhcp-snooping": "false", "port-cost-mode": "long",
		"mvrp": "false", "max-learned-entries": "auto", "running": "true", "disabled": "false"}}},
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		if it == nil {
			attrs["mac-address"] = macFor(attrs["name"])
		}
		return checkInterfaceName(r, attrs, it)
	},
	written: func(r *Router, t *table, it *item, old map[string]string) {
		it.attrs["running"] = formatBool(it.attrs["disabled"] != "true")
		mirrorInterface("bridge", map[string]string{"mtu": "auto", "actual-mtu": "1500", "l2mtu": "65535"})(r, t, it, old)
		if old != nil && old["name"] != it.attrs["name"] {
			r.renameRefsLocked("/interface/bridge/port", "bridge", old["name"], it.attrs["name"])
		}
	},
	// Removing a bridge takes its ports with it.
	removed: func(r *Router, it *item) {
		ports := r.tables["/interface/bridge/port"]
		for _, p := range slices.Clone(ports.items) {
			if p.attrs["bridge"] == it.attrs["name"] {
				ports.delete(p)
				r.notifyDeadLocked(ports, p.id)
				r.setSlaveLocked(p.attrs["interface"], false)
			}
		}
		unmirrorInterface(r, it)
	},
}

var bridgePortSpec = &menuSpec{
	path: "/interface/bridge/port",
	fields: []string{"interface", "bridge", "priority", "path-cost", "internal-path-cost", "edge", "point-to-point",
		"learn", "horizon", "hw", "auto-isolate", "restricted-role", "restricted-tcn", "pvid", "frame-types",
		"ingress-filtering", "unknown-unicast-flood", "unknown-multicast-flood", "broadcast-flood", "tag-stacking",
		"bpdu-guard", "trusted", "multicast-router", "fast-leave", "inactive", "dynamic", "disabled", "comment"},
	writable: []string{"interface", "bridge", "priority", "path-cost", "internal-path-cost", "edge", "point-to-point",
		"learn", "horizon", "hw", "auto-isolate", "restricted-role", "restricted-tcn", "pvid", "frame-types",
		"ingress-filtering", "unknown-unicast-flood", "unknown-multicast-flood", "broadcast-flood", "tag-stacking",
		"bpdu-guard", "trusted", "multicast-router", "fast-leave", "disabled", "comment"},
	defaults: portDefaults(),
	bools: []string{"hw", "auto-isolate", "restricted-role", "restricted-tcn", "ingress-filtering",
		"unknown-unicast-flood", "unknown-multicast-flood", "broadcast-flood", "tag-stacking", "bpdu-guard",
		"trusted", "fast-leave", "disabled"},
	enums: map[string][]string{
		"edge":             {"auto", "no", "no-discover", "yes", "yes-discover"},
		"point-to-point":   {"auto", "yes", "no"},
		"learn":            {"auto", "yes", "no"},
		"frame-types":      {"admit-all", "admit-only-untagged-and-priority-tagged", "admit-only-vlan-tagged"},
		"multicast-router": {"disabled", "permanent", "temporary-query"},
	},
	required: []string{"interface", "bridge"},
	refs:     map[string]string{"bridge": "/interface/bridge", "interface": "/interface"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   4,
	initial: func() []seedItem {
		var out []seedItem
		for i, name := range []string{"ether3", "ether4", "ether5"} {
			attrs := portDefaults()
			attrs["interface"], attrs["bridge"] = name, "bridge-hotspot"
			out = append(out, seedItem{uint32(i + 1), attrs})
		}
		return out
	}(),
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		name, ok := attrs["interface"]
		if !ok {
			return nil
		}
		if r.tables["/interface/bridge"].lookup(name) != nil { // a bridge is not a port
			return &apiError{1, "input does not match any value of interface"}
		}
		for _, p := range t.items {
			if p != it && p.attrs["interface"] == name {
				return &apiError{-1, "failure: device already added as bridge port"}
			}
		}
		return nil
	},
	written: func(r *Router, t *table, it *item, old map[string]string) {
		if old != nil && old["interface"] != it.attrs["interface"] {
			r.setSlaveLocked(old["interface"], false)
		}
		r.setSlaveLocked(it.attrs["interface"], true)
	},
	removed: func(r *Router, it *item) { r.setSlaveLocked(it.attrs["interface"], false) },
}

func portDefaults() map[string]string {
	return map[string]string{"priority": "0x80", "path-cost": "10", "internal-path-cost": "10", "edge": "auto",
		"point-to-point": "auto", "learn": "auto", "horizon": "none", "hw": "true", "auto-isolate": "false",
		"restricted-role": "false", "restricted-tcn": "false", "pvid": "1", "frame-types": "admit-all",
		"ingress-filtering": "true", "unknown-unicast-flood": "true", "unknown-multicast-flood": "true",
		"broadcast-flood": "true", "tag-stacking": "false", "bpdu-guard": "false", "trusted": "false",
		"multicast-router": "temporary-query", "fast-leave": "false", "inactive": "false", "dynamic": "false",
		"disabled": "false"}
}

var ipAddressSpec = &menuSpec{
	path:     "/ip/address",
	fields:   []string{"address", "network", "interface", "actual-interface", "invalid", "dynamic", "disabled", "comment"},
	writable: []string{"address", "network", "interface", "disabled", "comment"},
	defaults: map[string]string{"invalid": "false", "dynamic": "false", "disabled": "false"},
	bools:    []string{"disabled"},
	required: []string{"address", "interface"},
	refs:     map[string]string{"interface": "/interface"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   2,
	initial: []seedItem{{1, map[string]string{"address": "10.5.50.1/24", "network": "10.5.50.0",
		"interface": "bridge-hotspot", "invalid": "false", "dynamic": "false", "disabled": "false",
		"comment": "hotspot network"}}},
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		v, ok := attrs["address"]
		if ok {
			p, ok := parsePrefixOrAddr(v)
			if !ok || !p.Addr().Is4() {
				return &apiError{1, "invalid value for argument address"}
			}
			attrs["address"] = p.String()
			if _, given := attrs["network"]; !given {
				attrs["network"] = p.Masked().Addr().String()
			}
		}
		if n, ok := attrs["network"]; ok {
			if a, err := netip.ParseAddr(n); err != nil || !a.Is4() {
				return &apiError{1, "invalid value for argument network"}
			}
		}
		addr, iface := attrs["address"], attrs["interface"]
		if it != nil {
			if !ok {
				addr = it.attrs["address"]
			}
			if _, ok := attrs["interface"]; !ok {
				iface = it.attrs["interface"]
			}
		}
		for _, o := range t.items {
			if o != it && o.attrs["address"] == addr && o.attrs["interface"] == iface {
				return &apiError{-1, "failure: already have such address"}
			}
		}
		return nil
	},
	render: func(r *Router, it *item, now time.Time, row map[string]string) {
		row["actual-interface"] = row["interface"]
	},
}
