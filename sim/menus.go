package sim

import (
	"slices"
	"strings"
	"time"
)

// A menuSpec describes one RouterOS menu in data, so adding a menu is a
// table entry rather than code: its path, the attributes it prints (in
// order), which of them add/set accept, defaults, the unique key and its
// duplicate message, references to other menus, and the verbs it supports.
type menuSpec struct {
	path     string
	fields   []string          // print order after .id
	writable []string          // attributes accepted by add and set
	defaults map[string]string // values an added item gets unless given
	bools    []string          // writable attributes that must be yes/no/true/false
	enums    map[string][]string

	key      string // unique attribute, also accepted in place of .id ("" = none)
	keyScope string // key is unique per value of this attribute (hotspot users per server)
	dupMsg   string // trap message when the key is taken
	required []string
	// refs maps an attribute to the menu whose key values it must name;
	// a miss traps "input does not match any value of ATTR".
	refs map[string]string

	verbs     []string   // supported commands; print implies getall
	idBase    uint32     // first .id handed out
	singleton bool       // one row, no .id (system/identity, system/resource)
	fixed     []uint32   // ids that cannot be removed (default profiles)
	initial   []seedItem // items a fresh router has (default profiles)

	// render overlays computed attributes (uptime, counters) at print time.
	render func(r *Router, it *item, now time.Time, row map[string]string)
	// remove runs instead of a plain delete (kicking an active session).
	remove func(r *Router, it *item)

	// since gates writable attributes by RouterOS version ("7.21"): on an
	// older Config.Version they are unknown parameters.
	since map[string]string
	// hidden attributes are write-only (passwords): add and set take them,
	// print, listen and queries never show them.
	hidden []string
	// check runs after the generic validation of add (it == nil) and set,
	// for rules a table entry cannot say (policy words, addresses, names
	// shared with other menus). It may normalise attrs in place.
	check func(r *Router, t *table, attrs map[string]string, it *item) error
	// written runs after an add (old == nil) or a set, for effects on other
	// menus (a veth also appears in /interface).
	written func(r *Router, t *table, it *item, old map[string]string)
	// removable refuses a remove before anything is deleted (a default
	// group, a running container); nil allows it.
	removable func(r *Router, it *item) error
	// removed runs after a plain delete, to undo what written did.
	removed func(r *Router, it *item)
	// actions are menu-specific commands (start, stop, move), run with
	// Router.mu held; their names must also be in verbs.
	actions map[string]func(r *Router, t *table, req *request) error
}

func (m *menuSpec) has(verb string) bool {
	if verb == "getall" {
		verb = "print"
	}
	return slices.Contains(m.verbs, verb)
}

// seedItem is an item present from boot, with its fixed .id.
type seedItem struct {
	id    uint32
	attrs map[string]string
}

// An item is one row of a menu.
type item struct {
	id    uint32
	attrs map[string]string
	sess  *session // set on active-session rows and their dynamic interfaces
}

// A table is the live contents of one menu. Guarded by Router.mu.
type table struct {
	spec         *menuSpec
	items        []*item // print order
	ids          map[uint32]*item
	keys         map[string][]*item // key attribute value → items (several only across key scopes)
	next         uint32
	listeners    []*command
	hideRemovals bool
}

func newTable(spec *menuSpec) *table {
	return &table{spec: spec, next: spec.idBase, ids: map[uint32]*item{}, keys: map[string][]*item{}}
}

func (t *table) insert(attrs map[string]string) *item {
	for t.ids[t.next] != nil {
		t.next++
	}
	it := t.insertWithID(t.next, attrs)
	t.next++
	return it
}

func (t *table) insertWithID(id uint32, attrs map[string]string) *item {
	it := &item{id: id, attrs: attrs}
	t.items = append(t.items, it)
	t.ids[id] = it
	t.index(it)
	return it
}

func (t *table) index(it *item) {
	if t.spec.key != "" {
		k := it.attrs[t.spec.key]
		t.keys[k] = append(t.keys[k], it)
	}
}

func (t *table) unindex(it *item) {
	if t.spec.key == "" {
		return
	}
	k := it.attrs[t.spec.key]
	rest := slices.DeleteFunc(t.keys[k], func(x *item) bool { return x == it })
	if len(rest) == 0 {
		delete(t.keys, k)
	} else {
		t.keys[k] = rest
	}
}

// update sets attributes on an item, keeping the key index right.
func (t *table) update(it *item, attrs map[string]string) {
	_, rekey := attrs[t.spec.key]
	rekey = rekey && t.spec.key != ""
	if rekey {
		t.unindex(it)
	}
	for k, v := range attrs {
		it.attrs[k] = v
	}
	if rekey {
		t.index(it)
	}
}

func (t *table) byID(id uint32) *item {
	return t.ids[id]
}

// lookup resolves one reference the way RouterOS does: *HEX, or the value of
// the key attribute (usually name).
func (t *table) lookup(ref string) *item {
	if id, ok := parseID(ref); ok {
		return t.byID(id)
	}
	if t.spec.key == "" {
		return nil
	}
	if its := t.keys[ref]; len(its) > 0 {
		return its[0]
	}
	return nil
}

func (t *table) delete(it *item) {
	if t.ids[it.id] != it {
		return
	}
	delete(t.ids, it.id)
	t.unindex(it)
	t.items = slices.DeleteFunc(t.items, func(x *item) bool { return x == it })
}

// hasKey reports whether another item already uses key value v in scope.
func (t *table) hasKey(v, scope string, except *item) bool {
	for _, it := range t.keys[v] {
		if it == except {
			continue
		}
		if t.spec.keyScope == "" || it.attrs[t.spec.keyScope] == scope {
			return true
		}
	}
	return false
}

// row renders an item as print would: .id first (except singletons), then
// the spec's fields that are present, with computed values overlaid.
func (r *Router) row(t *table, it *item, now time.Time) ([]string, map[string]string) {
	vals := make(map[string]string, len(it.attrs)+8)
	for k, v := range it.attrs {
		vals[k] = v
	}
	if t.spec.render != nil {
		t.spec.render(r, it, now, vals)
	}
	for _, h := range t.spec.hidden {
		delete(vals, h)
	}
	keys := make([]string, 0, len(t.spec.fields)+1)
	if !t.spec.singleton {
		vals[".id"] = formatID(it.id)
		keys = append(keys, ".id")
	}
	for _, f := range t.spec.fields {
		if _, ok := vals[f]; ok {
			keys = append(keys, f)
		}
	}
	return keys, vals
}

// rowWords turns a rendered row into reply words, honouring .proplist.
func rowWords(keys []string, vals map[string]string, proplist []string) []string {
	if proplist != nil {
		keys = proplist
	}
	words := make([]string, 0, len(keys)+2)
	words = append(words, "!re")
	for _, k := range keys {
		if v, ok := vals[k]; ok {
			words = append(words, "="+k+"="+v)
		}
	}
	return words
}

var hotspotUserProfileSpec = &menuSpec{
	path: "/ip/hotspot/user/profile",
	fields: []string{"name", "address-pool", "idle-timeout", "keepalive-timeout", "status-autorefresh",
		"shared-users", "rate-limit", "session-timeout", "mac-cookie-timeout", "add-mac-cookie",
		"transparent-proxy", "address-list", "incoming-filter", "outgoing-filter", "parent-queue",
		"on-login", "on-logout", "default"},
	writable: []string{"name", "address-pool", "idle-timeout", "keepalive-timeout", "status-autorefresh",
		"shared-users", "rate-limit", "session-timeout", "mac-cookie-timeout", "add-mac-cookie",
		"transparent-proxy", "address-list", "incoming-filter", "outgoing-filter", "parent-queue",
		"on-login", "on-logout"},
	defaults: map[string]string{"idle-timeout": "none", "keepalive-timeout": "2m", "status-autorefresh": "1m",
		"shared-users": "1", "mac-cookie-timeout": "3d", "add-mac-cookie": "true", "transparent-proxy": "false",
		"default": "false"},
	bools:     []string{"add-mac-cookie", "transparent-proxy"},
	key:       "name",
	dupMsg:    "failure: profile with the same name already exists",
	required:  []string{"name"},
	verbs:     []string{"print", "listen", "add", "set", "remove"},
	idBase:    1,
	fixed:     []uint32{0},
	check:     checkProfile,
	removable: profileInUse("/ip/hotspot/user"),
	initial: []seedItem{{0, map[string]string{
		"name": "default", "idle-timeout": "none", "keepalive-timeout": "2m", "status-autorefresh": "1m",
		"shared-users": "1", "mac-cookie-timeout": "3d", "add-mac-cookie": "true",
		"transparent-proxy": "false", "default": "true"}}},
}

var hotspotUserSpec = &menuSpec{
	path: "/ip/hotspot/user",
	fields: []string{"name", "server", "password", "profile", "address", "mac-address", "email",
		"limit-uptime", "limit-bytes-in", "limit-bytes-out", "limit-bytes-total", "uptime",
		"bytes-in", "bytes-out", "packets-in", "packets-out", "dynamic", "disabled", "comment"},
	writable: []string{"name", "server", "password", "profile", "address", "mac-address", "email",
		"limit-uptime", "limit-bytes-in", "limit-bytes-out", "limit-bytes-total", "routes", "disabled", "comment"},
	defaults: map[string]string{"server": "all", "profile": "default", "uptime": "0s", "bytes-in": "0",
		"bytes-out": "0", "packets-in": "0", "packets-out": "0", "dynamic": "false", "disabled": "false"},
	bools:    []string{"disabled"},
	key:      "name",
	keyScope: "server",
	dupMsg:   "failure: already have user with this name for this server",
	required: []string{"name"},
	refs:     map[string]string{"profile": "/ip/hotspot/user/profile"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   1,
}

var hotspotActiveSpec = &menuSpec{
	path: "/ip/hotspot/active",
	fields: []string{"server", "user", "domain", "address", "mac-address", "login-by", "uptime",
		"idle-time", "session-time-left", "idle-timeout", "keepalive-timeout", "limit-bytes-total", "rate-limit",
		"bytes-in", "bytes-out", "packets-in", "packets-out", "radius", "blocked"},
	verbs:  []string{"print", "listen", "remove"},
	idBase: 1,
	render: renderSession,
	remove: func(r *Router, it *item) { r.endSessionLocked(it.sess, "kicked") },
}

var pppProfileSpec = &menuSpec{
	path: "/ppp/profile",
	fields: []string{"name", "local-address", "remote-address", "bridge", "change-tcp-mss", "only-one",
		"use-compression", "use-encryption", "use-mpls", "use-upnp", "rate-limit", "session-timeout",
		"idle-timeout", "address-list", "dns-server", "incoming-filter", "outgoing-filter", "on-up",
		"on-down", "default", "comment"},
	writable: []string{"name", "local-address", "remote-address", "bridge", "change-tcp-mss", "only-one",
		"use-compression", "use-encryption", "use-mpls", "use-upnp", "rate-limit", "session-timeout",
		"idle-timeout", "address-list", "dns-server", "incoming-filter", "outgoing-filter", "on-up",
		"on-down", "comment"},
	defaults: map[string]string{"change-tcp-mss": "default", "only-one": "default", "use-compression": "default",
		"use-encryption": "default", "use-mpls": "default", "use-upnp": "default", "default": "false"},
	enums: map[string][]string{
		"change-tcp-mss": {"default", "yes", "no"}, "only-one": {"default", "yes", "no"},
		"use-compression": {"default", "yes", "no"}, "use-encryption": {"default", "yes", "no", "required"},
		"use-mpls": {"default", "yes", "no", "required"}, "use-upnp": {"default", "yes", "no"},
	},
	key:       "name",
	dupMsg:    "failure: profile with the same name already exists",
	required:  []string{"name"},
	verbs:     []string{"print", "listen", "add", "set", "remove"},
	idBase:    1,
	fixed:     []uint32{0, 0xFFFFFFFE},
	check:     checkProfile,
	removable: profileInUse("/ppp/secret"),
	initial: []seedItem{
		{0, map[string]string{"name": "default", "change-tcp-mss": "yes", "only-one": "default",
			"use-compression": "default", "use-encryption": "default", "use-mpls": "default",
			"use-upnp": "default", "default": "true"}},
		{0xFFFFFFFE, map[string]string{"name": "default-encryption", "change-tcp-mss": "yes",
			"only-one": "default", "use-compression": "default", "use-encryption": "yes",
			"use-mpls": "default", "use-upnp": "default", "default": "true"}},
	},
}

var pppSecretSpec = &menuSpec{
	path: "/ppp/secret",
	fields: []string{"name", "service", "caller-id", "password", "profile", "local-address", "remote-address",
		"routes", "limit-bytes-in", "limit-bytes-out", "last-logged-out", "last-caller-id",
		"last-disconnect-reason", "disabled", "comment"},
	writable: []string{"name", "service", "caller-id", "password", "profile", "local-address",
		"remote-address", "routes", "limit-bytes-in", "limit-bytes-out", "disabled", "comment"},
	defaults: map[string]string{"service": "any", "profile": "default", "limit-bytes-in": "0",
		"limit-bytes-out": "0", "last-logged-out": "1970-01-01 00:00:00", "disabled": "false"},
	bools:    []string{"disabled"},
	enums:    map[string][]string{"service": {"any", "async", "l2tp", "ovpn", "pppoe", "pptp", "sstp"}},
	key:      "name",
	dupMsg:   "failure: secret with the same name already exists",
	required: []string{"name"},
	refs:     map[string]string{"profile": "/ppp/profile"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   1,
}

var pppActiveSpec = &menuSpec{
	path: "/ppp/active",
	fields: []string{"name", "service", "caller-id", "address", "uptime", "encoding", "session-id",
		"limit-bytes-in", "limit-bytes-out", "rate-limit", "radius"},
	verbs:  []string{"print", "listen", "remove"},
	idBase: 0x80000001,
	render: renderSession,
	remove: func(r *Router, it *item) { r.endSessionLocked(it.sess, "kicked") },
}

var interfaceSpec = &menuSpec{
	path: "/interface",
	fields: []string{"name", "default-name", "type", "mtu", "actual-mtu", "l2mtu", "max-l2mtu", "mac-address",
		"last-link-up-time", "link-downs", "rx-byte", "tx-byte", "rx-packet", "tx-packet", "rx-drop",
		"tx-drop", "tx-queue-drop", "rx-error", "tx-error", "fp-rx-byte", "fp-tx-byte", "fp-rx-packet",
		"fp-tx-packet", "running", "slave", "disabled", "dynamic", "comment"},
	key:    "name",
	verbs:  []string{"print", "listen"},
	idBase: 1,
	render: renderInterface,
}

var identitySpec = &menuSpec{
	path:      "/system/identity",
	fields:    []string{"name"},
	writable:  []string{"name"},
	verbs:     []string{"print", "set"},
	singleton: true,
}

var resourceSpec = &menuSpec{
	path: "/system/resource",
	fields: []string{"uptime", "version", "build-time", "factory-software", "free-memory", "total-memory",
		"cpu", "cpu-count", "cpu-frequency", "cpu-load", "free-hdd-space", "total-hdd-space",
		"write-sect-since-reboot", "write-sect-total", "bad-blocks", "architecture-name", "board-name",
		"platform"},
	verbs:     []string{"print"},
	singleton: true,
	render:    renderResource,
}

// menuSpecs is the menu table. A new menu is one more entry here (and a
// spec above); generic print/listen/add/set/remove/enable/disable handle it.
var menuSpecs = []*menuSpec{
	hotspotUserProfileSpec, hotspotUserSpec, hotspotActiveSpec,
	pppProfileSpec, pppSecretSpec, pppActiveSpec,
	interfaceSpec, identitySpec, resourceSpec,
	userGroupSpec, userSpec, ipServiceSpec, deviceModeSpec,
	vethSpec, bridgeSpec, bridgePortSpec, ipAddressSpec, firewallFilterSpec, firewallNATSpec,
	containerSpec, containerEnvsSpec, containerMountsSpec, containerConfigSpec,
	hotspotServerProfileSpec, hotspotServerSpec, walledGardenSpec, walledGardenIPSpec, fileSpec,
	radiusSpec, radiusIncomingSpec, pppAAASpec,
}

// knownDirs holds every directory prefix of the menu table, so an unknown
// path can be reported at the first segment RouterOS would not recognise.
var knownDirs = func() map[string]bool {
	dirs := map[string]bool{"": true}
	for _, m := range menuSpecs {
		p := m.path
		for p != "" {
			dirs[p] = true
			p = p[:strings.LastIndex(p, "/")]
		}
	}
	return dirs
}()
