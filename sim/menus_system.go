package sim

import (
	"slices"
	"strconv"
	"strings"
)

// Router access menus: /user, /user/group, /ip/service and
// /system/device-mode, as the firmware scripts configure them.

// policyWords are the /user/group policy words of RouterOS 7 in the order
// it prints them. A group prints its granted words in this order and then
// every other word with a "!" (read: "local,telnet,…,!ftp,!write,!policy").
var policyWords = []string{"local", "telnet", "ssh", "ftp", "reboot", "read", "write", "policy", "test",
	"winbox", "password", "web", "sniff", "sensitive", "api", "romon", "rest-api"}

// normalizePolicy parses a comma-separated policy ("read,write,!ftp") the
// way RouterOS does: a word grants, "!word" revokes, unknown words are
// refused, and the result is printed in canonical form.
func normalizePolicy(v string) (string, bool) {
	granted := map[string]bool{}
	for _, w := range strings.Split(v, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		on := !strings.HasPrefix(w, "!")
		w = strings.TrimPrefix(w, "!")
		if !slices.Contains(policyWords, w) {
			return "", false
		}
		granted[w] = on
	}
	out := make([]string, 0, len(policyWords))
	for _, w := range policyWords {
		if granted[w] {
			out = append(out, w)
		}
	}
	for _, w := range policyWords {
		if !granted[w] {
			out = append(out, "!"+w)
		}
	}
	return strings.Join(out, ","), true
}

// mustPolicy is normalizePolicy for the built-in groups.
func mustPolicy(v string) string {
	p, ok := normalizePolicy(v)
	if !ok {
		panic("sim: bad built-in policy " + v)
	}
	return p
}

// checkAddressList validates attrs[k] as RouterOS address lists such as
// /user address and /ip/service address: comma-separated IPv4/IPv6
// addresses or prefixes, or empty for "any".
func checkAddressList(attrs map[string]string, k string) error {
	v, ok := attrs[k]
	if !ok || v == "" {
		return nil
	}
	for _, p := range strings.Split(v, ",") {
		if _, ok := parsePrefixOrAddr(strings.TrimSpace(p)); !ok {
			return &apiError{1, "invalid value for argument " + k}
		}
	}
	return nil
}

var userGroupSpec = &menuSpec{
	path:     "/user/group",
	fields:   []string{"name", "policy", "skin", "comment"},
	writable: []string{"name", "policy", "skin", "comment"},
	defaults: map[string]string{"skin": "default"},
	key:      "name",
	dupMsg:   "failure: group with the same name already exists",
	required: []string{"name"},
	verbs:    []string{"print", "listen", "add", "set", "remove"},
	idBase:   4,
	initial: []seedItem{
		{1, map[string]string{"name": "read", "skin": "default",
			"policy": mustPolicy("local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,sensitive,api,romon,rest-api")}},
		{2, map[string]string{"name": "write", "skin": "default",
			"policy": mustPolicy("local,telnet,ssh,reboot,read,write,test,winbox,password,web,sniff,sensitive,api,romon,rest-api")}},
		{3, map[string]string{"name": "full", "skin": "default", "policy": mustPolicy(strings.Join(policyWords, ","))}},
	},
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		v, ok := attrs["policy"]
		if !ok && it != nil {
			return nil
		}
		p, ok := normalizePolicy(v) // a new group without policy may do nothing
		if !ok {
			return &apiError{1, "input does not match any value of policy"}
		}
		attrs["policy"] = p
		return nil
	},
	removable: func(r *Router, it *item) error {
		if it.id <= 3 {
			return &apiError{-1, "failure: can not remove default group"}
		}
		for _, u := range r.tables["/user"].items {
			if u.attrs["group"] == it.attrs["name"] {
				return &apiError{-1, "failure: group is used by some user"}
			}
		}
		return nil
	},
}

var userSpec = &menuSpec{
	path: "/user",
	fields: []string{"name", "group", "address", "last-logged-in", "inactivity-timeout", "inactivity-policy",
		"disabled", "comment"},
	writable: []string{"name", "group", "password", "address", "inactivity-timeout", "inactivity-policy",
		"disabled", "comment"},
	defaults: map[string]string{"address": "", "inactivity-timeout": "10m", "inactivity-policy": "none",
		"disabled": "false"},
	bools:    []string{"disabled"},
	enums:    map[string][]string{"inactivity-policy": {"none", "lockscreen", "logout"}},
	hidden:   []string{"password"},
	key:      "name",
	dupMsg:   "failure: user with the same name already exists",
	required: []string{"name", "group"},
	refs:     map[string]string{"group": "/user/group"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   2,
	initial: []seedItem{{1, map[string]string{"name": "admin", "group": "full", "address": "",
		"last-logged-in": "2025-03-11 12:00:00", "inactivity-timeout": "10m", "inactivity-policy": "none",
		"disabled": "false", "comment": "system default user"}}},
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		return checkAddressList(attrs, "address")
	},
}

// services are the fixed /ip/service items in print order: name, port and
// whether the service takes a certificate.
var services = []struct {
	name string
	port int
	ssl  bool
}{
	{"telnet", 23, false}, {"ftp", 21, false}, {"www", 80, false}, {"ssh", 22, false},
	{"www-ssl", 443, true}, {"api", 8728, false}, {"winbox", 8291, false}, {"api-ssl", 8729, true},
}

var ipServiceSpec = &menuSpec{
	path: "/ip/service",
	fields: []string{"name", "port", "address", "certificate", "tls-version", "vrf", "max-sessions", "proto",
		"invalid", "dynamic", "disabled"},
	writable: []string{"port", "address", "certificate", "tls-version", "vrf", "max-sessions", "disabled"},
	bools:    []string{"disabled"},
	enums:    map[string][]string{"tls-version": {"any", "only-1.2"}},
	key:      "name",
	// No add or remove: the services are built in, as on RouterOS.
	verbs:  []string{"print", "listen", "set", "enable", "disable"},
	idBase: uint32(len(services)),
	initial: func() []seedItem {
		out := make([]seedItem, 0, len(services))
		for i, s := range services {
			attrs := map[string]string{"name": s.name, "port": strconv.Itoa(s.port), "address": "",
				"vrf": "main", "max-sessions": "20", "proto": "tcp", "invalid": "false", "dynamic": "false",
				"disabled": formatBool(s.name == "www-ssl")}
			if s.ssl {
				attrs["certificate"] = "none"
				attrs["tls-version"] = "any"
			}
			out = append(out, seedItem{uint32(i), attrs})
		}
		return out
	}(),
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		for _, k := range []string{"port", "max-sessions"} {
			if v, ok := attrs[k]; ok {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 65535 {
					return &apiError{1, "invalid value for argument " + k}
				}
				attrs[k] = strconv.Itoa(n)
			}
		}
		_, cert := attrs["certificate"]
		_, tlsv := attrs["tls-version"]
		if (cert || tlsv) && it != nil && !strings.HasSuffix(it.attrs["name"], "-ssl") {
			return &apiError{-1, "failure: this service does not use certificates"}
		}
		return checkAddressList(attrs, "address")
	},
}

// deviceModeSpec is /system/device-mode on a router whose owner has
// enabled containers (the firmware scripts need container=yes). Changing it
// needs physical confirmation, so the simulator only prints it.
var deviceModeSpec = &menuSpec{
	path: "/system/device-mode",
	fields: []string{"mode", "allowed-versions", "flagged", "flagging-enabled", "scheduler", "socks", "fetch",
		"pptp", "l2tp", "bandwidth-test", "traffic-gen", "sniffer", "ipsec", "romon", "proxy", "hotspot",
		"smb", "email", "zerotier", "container", "install-any-version", "partitions", "routerboard",
		"attempt-count"},
	verbs:     []string{"print"},
	singleton: true,
	initial: []seedItem{{0, map[string]string{"mode": "advanced", "allowed-versions": "7.13+,6.49.8+",
		"flagged": "false", "flagging-enabled": "true", "scheduler": "true", "socks": "true", "fetch": "true",
		"pptp": "true", "l2tp": "true", "bandwidth-test": "true", "traffic-gen": "false", "sniffer": "true",
		"ipsec": "true", "romon": "true", "proxy": "true", "hotspot": "true", "smb": "true", "email": "true",
		"zerotier": "true", "container": "true", "install-any-version": "false", "partitions": "false",
		"routerboard": "true", "attempt-count": "0"}}},
}
