package sim

import (
	"path"
	"slices"
	"strconv"
	"strings"
)

// Hotspot server menus and the file store its HTTP side serves pages
// from: /ip/hotspot (servers), /ip/hotspot/profile (server profiles: html
// directory, login-by), /ip/hotspot/walled-garden (HTTP-level) and
// /ip/hotspot/walled-garden/ip (IP-level), and /file. A fresh simulator
// looks like a router after /ip hotspot setup on bridge-hotspot: server
// hotspot1 with profile hsprof1 and the default pages in hotspot/.

// loginByWords are the values /ip/hotspot/profile login-by accepts.
var loginByWords = []string{"mac", "cookie", "http-chap", "http-pap", "https", "trial", "mac-cookie"}

// checkLoginBy validates and normalises a login-by list (RouterOS prints
// the words in its own order whatever order they were given in).
func checkLoginBy(r *Router, t *table, attrs map[string]string, it *item) error {
	v, ok := attrs["login-by"]
	if !ok {
		return nil
	}
	var got []string
	for _, w := range strings.Split(v, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if !slices.Contains(loginByWords, w) {
			return &apiError{1, "input does not match any value of login-by"}
		}
		got = append(got, w)
	}
	var out []string
	for _, w := range loginByWords {
		if slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	attrs["login-by"] = strings.Join(out, ",")
	return nil
}

var hotspotServerProfileSpec = &menuSpec{
	path: "/ip/hotspot/profile",
	fields: []string{"name", "hotspot-address", "dns-name", "html-directory", "html-directory-override",
		"rate-limit", "http-proxy", "smtp-server", "login-by", "http-cookie-lifetime", "split-user-domain",
		"use-radius", "radius-accounting", "radius-interim-update", "nas-port-type", "radius-default-domain",
		"radius-location-id", "radius-location-name", "radius-mac-format", "default"},
	writable: []string{"name", "hotspot-address", "dns-name", "html-directory", "html-directory-override",
		"rate-limit", "http-proxy", "smtp-server", "login-by", "http-cookie-lifetime", "split-user-domain",
		"use-radius", "radius-accounting", "radius-interim-update", "nas-port-type", "radius-default-domain",
		"radius-location-id", "radius-location-name", "radius-mac-format"},
	defaults: withRadiusDefaults(map[string]string{"hotspot-address": "0.0.0.0", "dns-name": "", "html-directory": "hotspot",
		"html-directory-override": "", "http-proxy": "0.0.0.0:0", "smtp-server": "0.0.0.0",
		"login-by": "cookie,http-chap", "http-cookie-lifetime": "3d", "split-user-domain": "false",
		"use-radius": "false", "default": "false"}),
	bools: []string{"split-user-domain", "use-radius", "radius-accounting"},
	enums: map[string][]string{"nas-port-type": {"wireless-802.11", "ethernet", "cable"},
		"radius-mac-format": {"XX:XX:XX:XX:XX:XX", "XX-XX-XX-XX-XX-XX", "XXXXXX-XXXXXX", "XXXXXXXXXXXX",
			"xx:xx:xx:xx:xx:xx", "xx-xx-xx-xx-xx-xx", "xxxxxx-xxxxxx", "xxxxxxxxxxxx"}},
	key:      "name",
	dupMsg:   "failure: profile with the same name already exists",
	required: []string{"name"},
	verbs:    []string{"print", "listen", "add", "set", "remove"},
	idBase:   2,
	fixed:    []uint32{0},
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		if err := checkLoginBy(r, t, attrs, it); err != nil {
			return err
		}
		return checkRadiusInterim(attrs)
	},
	initial: []seedItem{
		{0, withRadiusDefaults(map[string]string{"name": "default", "hotspot-address": "0.0.0.0", "dns-name": "",
			"html-directory": "hotspot", "html-directory-override": "", "http-proxy": "0.0.0.0:0",
			"smtp-server": "0.0.0.0", "login-by": "cookie,http-chap", "http-cookie-lifetime": "3d",
			"split-user-domain": "false", "use-radius": "false", "default": "true"})},
		{1, withRadiusDefaults(map[string]string{"name": "hsprof1", "hotspot-address": "10.5.50.1", "dns-name": "",
			"html-directory": "hotspot", "html-directory-override": "", "http-proxy": "0.0.0.0:0",
			"smtp-server": "0.0.0.0", "login-by": "cookie,http-chap", "http-cookie-lifetime": "3d",
			"split-user-domain": "false", "use-radius": "false", "default": "false"})},
	},
}

var hotspotServerSpec = &menuSpec{
	path: "/ip/hotspot",
	fields: []string{"name", "interface", "address-pool", "profile", "idle-timeout", "keepalive-timeout",
		"login-timeout", "addresses-per-mac", "proxy-status", "invalid", "HTTPS", "disabled", "comment"},
	writable: []string{"name", "interface", "address-pool", "profile", "idle-timeout", "keepalive-timeout",
		"login-timeout", "addresses-per-mac", "disabled", "comment"},
	defaults: map[string]string{"address-pool": "none", "profile": "default", "idle-timeout": "5m",
		"keepalive-timeout": "none", "login-timeout": "none", "addresses-per-mac": "2",
		"proxy-status": "running", "invalid": "false", "HTTPS": "false", "disabled": "false"},
	bools:    []string{"disabled"},
	key:      "name",
	dupMsg:   "failure: server with such name already exists",
	required: []string{"name", "interface"},
	refs:     map[string]string{"profile": "/ip/hotspot/profile", "interface": "/interface"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   2,
	initial: []seedItem{{1, map[string]string{"name": "hotspot1", "interface": "bridge-hotspot",
		"address-pool": "hs-pool-1", "profile": "hsprof1", "idle-timeout": "5m", "keepalive-timeout": "none",
		"login-timeout": "none", "addresses-per-mac": "2", "proxy-status": "running", "invalid": "false",
		"HTTPS": "false", "disabled": "false"}}},
}

var walledGardenSpec = &menuSpec{
	path: "/ip/hotspot/walled-garden",
	fields: []string{"server", "src-address", "dst-address", "dst-host", "dst-port", "path", "method",
		"action", "hits", "dynamic", "disabled", "comment"},
	writable: []string{"server", "src-address", "dst-address", "dst-host", "dst-port", "path", "method",
		"action", "disabled", "comment"},
	defaults: map[string]string{"action": "allow", "hits": "0", "dynamic": "false", "disabled": "false"},
	bools:    []string{"disabled"},
	enums:    map[string][]string{"action": {"allow", "deny"}},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   1,
}

var walledGardenIPSpec = &menuSpec{
	path: "/ip/hotspot/walled-garden/ip",
	fields: []string{"server", "src-address", "dst-address", "dst-host", "protocol", "dst-port", "action",
		"invalid", "dynamic", "disabled", "comment"},
	writable: []string{"server", "src-address", "dst-address", "dst-host", "protocol", "dst-port", "action",
		"disabled", "comment"},
	defaults: map[string]string{"action": "accept", "invalid": "false", "dynamic": "false", "disabled": "false"},
	bools:    []string{"disabled"},
	enums:    map[string][]string{"action": {"accept", "drop", "reject"}},
	verbs:    []string{"print", "listen", "add", "set", "remove", "enable", "disable"},
	idBase:   1,
}

// fileType is what /file print shows as type: the extension with its dot
// followed by " file" (".html file"), or "file" ("directory" for
// directories).
func fileType(name string) string {
	if ext := path.Ext(name); ext != "" {
		return ext + " file"
	}
	return "file"
}

var fileSpec = &menuSpec{
	path:     "/file",
	fields:   []string{"name", "type", "size", "last-modified", "contents"},
	writable: []string{"name", "type", "contents"},
	key:      "name",
	dupMsg:   "failure: file already exists",
	required: []string{"name"},
	verbs:    []string{"print", "listen", "add", "set", "remove"},
	idBase:   1,
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		if n, ok := attrs["name"]; ok {
			n = strings.Trim(path.Clean("/"+n), "/")
			if n == "" || n == "." {
				return &apiError{1, "invalid value for argument name"}
			}
			attrs["name"] = n
			if t.hasKey(n, "", it) {
				return &apiError{-1, "failure: file already exists"}
			}
		}
		dir := attrs["type"] == "directory" || (it != nil && it.attrs["type"] == "directory")
		if typ, ok := attrs["type"]; ok && typ != "directory" && typ != "file" {
			return &apiError{1, "input does not match any value of type"}
		}
		if _, ok := attrs["contents"]; ok && dir {
			return &apiError{-1, "failure: can not set contents of a directory"}
		}
		attrs["last-modified"] = r.now().Format("2006-01-02 15:04:05")
		if dir {
			attrs["type"] = "directory"
			attrs["size"] = "0"
			return nil
		}
		name := attrs["name"]
		if it != nil && name == "" {
			name = it.attrs["name"]
		}
		attrs["type"] = fileType(name)
		if c, ok := attrs["contents"]; ok {
			attrs["size"] = strconv.Itoa(len(c))
		} else if it == nil {
			attrs["contents"], attrs["size"] = "", "0"
		}
		return nil
	},
	// RouterOS creates the directories of a new file's name.
	written: func(r *Router, t *table, it *item, old map[string]string) {
		now := r.now()
		for dir := path.Dir(it.attrs["name"]); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if t.lookup(dir) != nil {
				continue
			}
			ts := now.Format("2006-01-02 15:04:05")
			r.notifyLocked(t, t.insert(map[string]string{"name": dir, "type": "directory", "size": "0",
				"last-modified": ts}), now)
		}
	},
	// Removing a directory removes what is in it.
	removed: func(r *Router, it *item) {
		if it.attrs["type"] != "directory" {
			return
		}
		t := r.tables["/file"]
		prefix := it.attrs["name"] + "/"
		for _, f := range slices.Clone(t.items) {
			if strings.HasPrefix(f.attrs["name"], prefix) {
				t.delete(f)
				r.notifyDeadLocked(t, f.id)
			}
		}
	},
}

// seedHotspotFiles puts the default hotspot pages into /file, as
// /ip hotspot setup does on RouterOS.
func (r *Router) seedHotspotFiles() {
	t := r.tables["/file"]
	ts := r.bootAt.Format("2006-01-02 15:04:05")
	t.insert(map[string]string{"name": "hotspot", "type": "directory", "size": "0", "last-modified": ts})
	for _, name := range defaultPageNames {
		body := defaultPage(name)
		t.insert(map[string]string{"name": "hotspot/" + name, "type": fileType(name), "size": strconv.Itoa(len(body)),
			"last-modified": ts, "contents": body})
	}
}

// fileLocked returns the contents of /file name and whether it exists as
// a file.
func (r *Router) fileLocked(name string) (string, bool) {
	it := r.tables["/file"].lookup(name)
	if it == nil || it.attrs["type"] == "directory" {
		return "", false
	}
	return it.attrs["contents"], true
}

// hotspotServerLocked returns the first enabled hotspot server and its
// profile's attributes (nil profile if none), which the HTTP side plays.
func (r *Router) hotspotServerLocked() (server, profile map[string]string) {
	for _, s := range r.tables["/ip/hotspot"].items {
		if s.attrs["disabled"] == "true" {
			continue
		}
		if p := r.tables["/ip/hotspot/profile"].lookup(s.attrs["profile"]); p != nil {
			return s.attrs, p.attrs
		}
	}
	return nil, nil
}
