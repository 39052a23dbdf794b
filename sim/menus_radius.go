package sim

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// RADIUS client menus, as on RouterOS 7: /radius (the servers, tried in
// order for each service), /radius/incoming (the CoA/Disconnect listener)
// and /ppp/aaa (whether PPP asks RADIUS and sends accounting). The hotspot
// side is use-radius, radius-accounting and radius-interim-update on
// /ip/hotspot/profile. What the client sends is in radius_client.go.

// radiusServiceWords are the values /radius service accepts, in the order
// RouterOS prints them.
var radiusServiceWords = []string{"ppp", "login", "hotspot", "wireless", "dhcp", "ipsec", "dot1x"}

// checkRadius validates and normalises a /radius entry: service as a word
// list in RouterOS's order, addresses, ports and the timeout.
func checkRadius(r *Router, t *table, attrs map[string]string, it *item) error {
	bad := func(k string) error { return &apiError{1, "invalid value for argument " + k} }
	if v, ok := attrs["service"]; ok {
		var got []string
		for _, w := range strings.Split(v, ",") {
			w = strings.TrimSpace(w)
			if w == "" {
				continue
			}
			if !slices.Contains(radiusServiceWords, w) {
				return &apiError{1, "input does not match any value of service"}
			}
			got = append(got, w)
		}
		var out []string
		for _, w := range radiusServiceWords {
			if slices.Contains(got, w) {
				out = append(out, w)
			}
		}
		attrs["service"] = strings.Join(out, ",")
	}
	for _, k := range []string{"address", "src-address"} {
		v, ok := attrs[k]
		if !ok {
			continue
		}
		host, _, _ := strings.Cut(v, "@") // ip@vrf
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return bad(k)
		}
	}
	for _, k := range []string{"authentication-port", "accounting-port"} {
		if v, ok := attrs[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				return bad(k)
			}
			attrs[k] = strconv.Itoa(n)
		}
	}
	if v, ok := attrs["timeout"]; ok {
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			return bad("timeout")
		}
		attrs["timeout"] = formatDuration(d)
	}
	return nil
}

var radiusSpec = &menuSpec{
	path: "/radius",
	fields: []string{"service", "called-id", "domain", "address", "protocol", "secret", "authentication-port",
		"accounting-port", "timeout", "accounting-backup", "realm", "src-address", "require-message-auth",
		"disabled", "comment"},
	writable: []string{"service", "called-id", "domain", "address", "protocol", "secret", "authentication-port",
		"accounting-port", "timeout", "accounting-backup", "realm", "src-address", "require-message-auth",
		"disabled", "comment"},
	defaults: map[string]string{"service": "", "called-id": "", "domain": "", "address": "0.0.0.0",
		"protocol": "udp", "secret": "", "authentication-port": "1812", "accounting-port": "1813",
		"timeout": "300ms", "accounting-backup": "false", "realm": "", "src-address": "0.0.0.0",
		"require-message-auth": "yes-for-request-resp", "disabled": "false"},
	bools: []string{"accounting-backup", "disabled"},
	enums: map[string][]string{"protocol": {"udp", "radsec"}, "require-message-auth": {"no", "yes-for-request-resp"}},
	since: map[string]string{"require-message-auth": "7.15"},
	// The shared secret is sensitive: RouterOS shows it only to users with
	// the sensitive policy, which the agent's group does not have.
	hidden: []string{"secret"},
	verbs:  []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase: 1,
	check:  checkRadius,
}

var radiusIncomingSpec = &menuSpec{
	path:      "/radius/incoming",
	fields:    []string{"accept", "port", "vrf"},
	writable:  []string{"accept", "port", "vrf"},
	bools:     []string{"accept"},
	verbs:     []string{"print", "set"},
	singleton: true,
	initial:   []seedItem{{0, map[string]string{"accept": "false", "port": "3799", "vrf": "main"}}},
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		if v, ok := attrs["port"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				return &apiError{1, "invalid value for argument port"}
			}
			attrs["port"] = strconv.Itoa(n)
		}
		return nil
	},
	// accept=yes opens the listener, accept=no closes it.
	written: func(r *Router, t *table, it *item, old map[string]string) {
		r.incomingSetLocked(it.attrs["accept"] == "true")
	},
}

var pppAAASpec = &menuSpec{
	path:      "/ppp/aaa",
	fields:    []string{"use-radius", "accounting", "interim-update", "use-circuit-id-in-nas-port-id", "enable-ipv6-accounting"},
	writable:  []string{"use-radius", "accounting", "interim-update", "use-circuit-id-in-nas-port-id", "enable-ipv6-accounting"},
	bools:     []string{"use-radius", "accounting", "use-circuit-id-in-nas-port-id", "enable-ipv6-accounting"},
	verbs:     []string{"print", "set"},
	singleton: true,
	initial: []seedItem{{0, map[string]string{"use-radius": "false", "accounting": "true", "interim-update": "0s",
		"use-circuit-id-in-nas-port-id": "false", "enable-ipv6-accounting": "false"}}},
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		if v, ok := attrs["interim-update"]; ok {
			d, err := parseDuration(v)
			if err != nil {
				return &apiError{1, "invalid value for argument interim-update"}
			}
			attrs["interim-update"] = formatDuration(d)
		}
		return nil
	},
}

// checkRadiusInterim validates a hotspot profile's radius-interim-update:
// "received" (use Acct-Interim-Interval from the Access-Accept) or a time.
func checkRadiusInterim(attrs map[string]string) error {
	v, ok := attrs["radius-interim-update"]
	if !ok || v == "received" {
		return nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return &apiError{1, "invalid value for argument radius-interim-update"}
	}
	attrs["radius-interim-update"] = formatDuration(d)
	return nil
}

// withRadiusDefaults adds the RADIUS attributes of a fresh hotspot server
// profile to a seeded one.
func withRadiusDefaults(attrs map[string]string) map[string]string {
	for k, v := range map[string]string{"radius-accounting": "true", "radius-interim-update": "received",
		"nas-port-type": "wireless-802.11", "radius-default-domain": "", "radius-location-id": "",
		"radius-location-name": "", "radius-mac-format": "XX:XX:XX:XX:XX:XX"} {
		attrs[k] = v
	}
	return attrs
}
