package sim

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// /ip/firewall/filter and /ip/firewall/nat: ordered rule lists with
// place-before on add and move, seeded with RouterOS's default
// configuration (defconf) so that a script must put its input-chain accept
// above the defconf drops to have any effect.

var portProtocols = []string{"tcp", "udp", "udp-lite", "dccp", "sctp"}

var protocolNames = []string{"tcp", "udp", "icmp", "icmpv6", "igmp", "gre", "ipsec-esp", "ipsec-ah", "ospf", "vrrp",
	"sctp", "dccp", "udp-lite", "ipip", "ipencap", "etherip", "encap", "l2tp", "pim", "rsvp", "ggp", "egp", "pup",
	"rdp", "idpr-cmtp", "ddp", "xns-idp", "xtp", "iso-tp4", "hmp", "rspf", "vmtp", "st", "ipv6", "ipv6-frag",
	"ipv6-nonxt", "ipv6-opts", "ipv6-route"}

var connStates = []string{"established", "related", "new", "invalid", "untracked"}

// ruleFields are the matchers both tables share, in print order.
var ruleMatchers = []string{"src-address", "dst-address", "protocol", "src-port", "dst-port", "port",
	"in-interface", "out-interface", "in-interface-list", "out-interface-list", "src-address-list",
	"dst-address-list", "connection-state", "connection-nat-state", "ipsec-policy"}

func ruleSpec(path string, actions, extra []string, initial []map[string]string) *menuSpec {
	fields := append([]string{"chain", "action"}, ruleMatchers...)
	fields = append(fields, extra...)
	fields = append(fields, "jump-target", "log", "log-prefix", "bytes", "packets", "invalid", "dynamic",
		"disabled", "comment")
	writable := slices.DeleteFunc(slices.Clone(fields), func(f string) bool {
		return slices.Contains([]string{"bytes", "packets", "invalid", "dynamic"}, f)
	})
	writable = append(writable, "place-before")
	defaults := map[string]string{"action": "accept", "log": "false", "log-prefix": "", "bytes": "0",
		"packets": "0", "invalid": "false", "dynamic": "false", "disabled": "false"}
	spec := &menuSpec{
		path:     path,
		fields:   fields,
		writable: writable,
		defaults: defaults,
		bools:    []string{"log", "disabled", "hw-offload"},
		enums:    map[string][]string{"action": actions},
		required: []string{"chain"},
		verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable", "move"},
		idBase:   uint32(len(initial) + 1),
		check:    checkRule,
		written:  placeBefore,
		actions:  map[string]func(*Router, *table, *request) error{"move": moveRules},
	}
	for i, attrs := range initial {
		vals := maps.Clone(defaults)
		maps.Copy(vals, attrs)
		spec.initial = append(spec.initial, seedItem{uint32(i + 1), vals})
	}
	return spec
}

var firewallFilterSpec = ruleSpec("/ip/firewall/filter",
	[]string{"accept", "add-dst-to-address-list", "add-src-to-address-list", "drop", "fasttrack-connection",
		"jump", "log", "passthrough", "reject", "return", "tarpit"},
	[]string{"hw-offload", "reject-with"},
	[]map[string]string{
		{"chain": "input", "action": "accept", "connection-state": "established,related,untracked",
			"comment": "defconf: accept established,related,untracked"},
		{"chain": "input", "action": "drop", "connection-state": "invalid", "comment": "defconf: drop invalid"},
		{"chain": "input", "action": "accept", "protocol": "icmp", "comment": "defconf: accept ICMP"},
		{"chain": "input", "action": "accept", "dst-address": "127.0.0.1",
			"comment": "defconf: accept to local loopback (for CAPsMAN)"},
		{"chain": "input", "action": "drop", "in-interface-list": "!LAN", "comment": "defconf: drop all not coming from LAN"},
		{"chain": "forward", "action": "fasttrack-connection", "connection-state": "established,related",
			"hw-offload": "true", "comment": "defconf: fasttrack"},
		{"chain": "forward", "action": "accept", "connection-state": "established,related,untracked",
			"comment": "defconf: accept established,related, untracked"},
		{"chain": "forward", "action": "drop", "connection-state": "invalid", "comment": "defconf: drop invalid"},
		{"chain": "forward", "action": "drop", "connection-state": "new", "connection-nat-state": "!dstnat",
			"in-interface-list": "WAN", "comment": "defconf: drop all from WAN not DSTNATed"},
	})

var firewallNATSpec = ruleSpec("/ip/firewall/nat",
	[]string{"accept", "add-dst-to-address-list", "add-src-to-address-list", "dst-nat", "endpoint-independent-nat",
		"jump", "log", "masquerade", "netmap", "passthrough", "redirect", "return", "same", "src-nat"},
	[]string{"to-addresses", "to-ports"},
	[]map[string]string{
		{"chain": "srcnat", "action": "masquerade", "out-interface-list": "WAN", "ipsec-policy": "out,none",
			"comment": "defconf: masquerade"},
	})

// negated strips RouterOS's "!" (not) prefix from a matcher value.
func negated(v string) string { return strings.TrimPrefix(v, "!") }

func validAddrMatcher(v string) bool {
	lo, hi, isRange := strings.Cut(negated(v), "-")
	a, ok := parsePrefixOrAddr(lo)
	if !ok || !a.Addr().Is4() {
		return false
	}
	if isRange {
		b, err := netip.ParseAddr(hi)
		return err == nil && b.Is4()
	}
	return true
}

func validPorts(v string) bool {
	num := func(n string) bool {
		p, err := strconv.Atoi(n)
		return err == nil && p >= 0 && p <= 65535
	}
	for _, part := range strings.Split(negated(v), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !num(lo) || isRange && !num(hi) {
			return false
		}
	}
	return true
}

// checkRule validates matchers and the combinations RouterOS refuses.
func checkRule(r *Router, t *table, attrs map[string]string, it *item) error {
	if _, ok := attrs["place-before"]; ok && it != nil {
		return &apiError{-1, "unknown parameter place-before"}
	}
	bad := func(k string) error { return &apiError{1, "invalid value for argument " + k} }
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[k]
		switch k {
		case "src-address", "dst-address", "to-addresses":
			if !validAddrMatcher(v) {
				return bad(k)
			}
		case "src-port", "dst-port", "port", "to-ports":
			if !validPorts(v) {
				return bad(k)
			}
		case "protocol":
			p := negated(v)
			if n, err := strconv.Atoi(p); err == nil {
				if n < 0 || n > 255 {
					return bad(k)
				}
			} else if !slices.Contains(protocolNames, p) {
				return &apiError{1, "input does not match any value of protocol"}
			}
		case "in-interface", "out-interface":
			if r.tables["/interface"].lookup(negated(v)) == nil {
				return &apiError{1, "input does not match any value of " + k}
			}
		case "connection-state":
			for _, s := range strings.Split(v, ",") {
				if !slices.Contains(connStates, negated(s)) {
					return &apiError{1, "input does not match any value of connection-state"}
				}
			}
		case "connection-nat-state":
			for _, s := range strings.Split(v, ",") {
				if s := negated(s); s != "srcnat" && s != "dstnat" {
					return &apiError{1, "input does not match any value of connection-nat-state"}
				}
			}
		case "chain":
			if v == "" || strings.ContainsAny(v, " ,") {
				return bad(k)
			}
		case "place-before":
			if t.lookup(v) == nil {
				return &apiError{-1, "failure: item referred by 'place-before' does not exist"}
			}
		}
	}
	// Ports need a protocol that has them, on the rule as it will be.
	merged := map[string]string{}
	if it != nil {
		maps.Copy(merged, it.attrs)
	}
	maps.Copy(merged, attrs)
	for _, k := range []string{"src-port", "dst-port", "port"} {
		if merged[k] != "" && !slices.Contains(portProtocols, negated(merged["protocol"])) {
			return &apiError{-1, "failure: ports can be specified if proto is tcp,udp,udp-lite,dccp,sctp"}
		}
	}
	return nil
}

// placeBefore moves a just-added rule above the one named by place-before.
func placeBefore(r *Router, t *table, it *item, old map[string]string) {
	ref, ok := it.attrs["place-before"]
	if !ok {
		return
	}
	delete(it.attrs, "place-before")
	if dest := t.lookup(ref); dest != nil {
		t.moveBefore([]*item{it}, dest)
	}
}

// moveBefore puts items, in their current relative order, just above dest,
// or at the end when dest is nil. Moving a rule in front of itself keeps it
// where it is.
func (t *table) moveBefore(items []*item, dest *item) {
	rest := slices.DeleteFunc(slices.Clone(t.items), func(x *item) bool { return slices.Contains(items, x) })
	at := len(rest)
	if dest != nil {
		if slices.Contains(items, dest) {
			// Keep the block at the position of the first moved item.
			at = 0
			for _, x := range t.items {
				if slices.Contains(items, x) {
					break
				}
				at++
			}
		} else {
			at = slices.Index(rest, dest)
		}
	}
	ordered := make([]*item, 0, len(items))
	for _, x := range t.items {
		if slices.Contains(items, x) {
			ordered = append(ordered, x)
		}
	}
	t.items = slices.Insert(rest, at, ordered...)
}

// moveRules is the move command: numbers (or .id) and an optional
// destination, both ids or rule references.
func moveRules(r *Router, t *table, req *request) error {
	for k := range req.attrs {
		if k != ".id" && k != "numbers" && k != "destination" {
			return &apiError{-1, "unknown parameter " + k}
		}
	}
	items, err := r.targetsLocked(t, req)
	if err != nil {
		return err
	}
	var dest *item
	if d, ok := req.attrs["destination"]; ok {
		if dest = t.lookup(d); dest == nil {
			return &apiError{0, "no such item"}
		}
	}
	t.moveBefore(items, dest)
	return nil
}
