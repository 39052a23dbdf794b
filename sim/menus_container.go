package sim

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// The container package: /container, /container/envs, /container/mounts
// and /container/config, with the attributes each RouterOS version has
// (from the field lists community.routeros keeps per version): envs take
// list= from 7.20, mounts list= and containers mountlists= from 7.21.
//
// A container's state moves like RouterOS's: add → extracting → stopped
// after containerExtract; start → running; stop → stopping → stopped after
// containerStop. Start while extracting and remove while not stopped are
// refused, so a script must wait, as on a real router. Before 7.20 print
// shows the state as status=…; from 7.20 as flags (running=true,
// stopped=false, extracting=…, starting, stopping) and there is no status
// any more (scripts that read it broke on 7.20). The timed steps follow
// Config.Now, so a test with a fake clock decides when they happen;
// listen does not report them (print does).

const (
	containerExtract = 2 * time.Second
	containerStop    = time.Second

	// Internal attributes of a container in a timed state; hidden.
	attrUntil = ".sim-until"
	attrNext  = ".sim-next"
)

// containerFlags are the state flags RouterOS 7.20+ prints.
var containerFlags = []string{"running", "starting", "stopped", "stopping", "extracting"}

// versionAtLeast reports whether the simulated RouterOS version is v
// ("7.21", "7.21.2") or newer.
func (r *Router) versionAtLeast(v string) bool {
	num := func(s string) []int {
		s, _, _ = strings.Cut(s, " ")
		var out []int
		for _, p := range strings.Split(s, ".") {
			n, _ := strconv.Atoi(p)
			out = append(out, n)
		}
		return out
	}
	have, want := num(r.cfg.Version), num(v)
	for i, w := range want {
		h := 0
		if i < len(have) {
			h = have[i]
		}
		if h != w {
			return h > w
		}
	}
	return true
}

var containerEnvsSpec = &menuSpec{
	path:     "/container/envs",
	fields:   []string{"list", "name", "key", "value", "disabled", "comment"},
	writable: []string{"list", "name", "key", "value", "disabled", "comment"},
	since:    map[string]string{"list": "7.20", "disabled": "7.21"},
	bools:    []string{"disabled"},
	required: []string{"key"},
	verbs:    []string{"print", "listen", "add", "set", "remove"},
	idBase:   1,
}

var containerMountsSpec = &menuSpec{
	path:     "/container/mounts",
	fields:   []string{"list", "name", "src", "dst", "read-only", "disabled", "comment"},
	writable: []string{"list", "name", "src", "dst", "read-only", "disabled", "comment"},
	since:    map[string]string{"list": "7.21", "read-only": "7.20", "disabled": "7.21"},
	bools:    []string{"read-only", "disabled"},
	required: []string{"src", "dst"},
	verbs:    []string{"print", "listen", "add", "set", "remove"},
	idBase:   1,
}

var containerConfigSpec = &menuSpec{
	path:      "/container/config",
	fields:    []string{"registry-url", "username", "password", "layer-dir", "tmpdir", "ram-high", "memory-high"},
	writable:  []string{"registry-url", "username", "password", "layer-dir", "tmpdir", "ram-high", "memory-high"},
	since:     map[string]string{"memory-high": "7.20"},
	hidden:    []string{"password"},
	verbs:     []string{"print", "set"},
	singleton: true,
	initial: []seedItem{{0, map[string]string{"registry-url": "https://registry-1.docker.io", "username": "",
		"layer-dir": "", "tmpdir": "", "ram-high": "0"}}},
}

var containerSpec = &menuSpec{
	path: "/container",
	fields: slices.Concat([]string{"name", "tag", "os", "arch", "interface", "envlist", "envlists", "mountlists", "mounts",
		"root-dir", "workdir", "cmd", "entrypoint", "hostname", "domain-name", "dns", "user", "stop-signal",
		"stop-time", "memory-high", "cpu-list", "auto-restart-interval", "check-certificate", "logging",
		"start-on-boot", "file", "remote-image", "status"}, containerFlags, []string{"comment"}),
	writable: []string{"name", "interface", "envlist", "envlists", "mountlists", "mounts", "root-dir", "workdir",
		"cmd", "entrypoint", "hostname", "domain-name", "dns", "user", "stop-signal", "stop-time", "memory-high",
		"cpu-list", "auto-restart-interval", "check-certificate", "logging", "start-on-boot", "file",
		"remote-image", "comment"},
	since: map[string]string{"name": "7.19", "auto-restart-interval": "7.20", "check-certificate": "7.20",
		"envlists": "7.20", "memory-high": "7.20", "cpu-list": "7.21", "mountlists": "7.21", "stop-time": "7.21"},
	defaults: map[string]string{"stop-signal": "15", "logging": "false", "start-on-boot": "false"},
	bools:    []string{"check-certificate", "logging", "start-on-boot"},
	hidden:   []string{attrUntil, attrNext},
	required: []string{"interface"},
	refs:     map[string]string{"interface": "/interface/veth"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "start", "stop"},
	idBase:   1,
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		if it != nil {
			if _, ok := attrs["file"]; ok {
				return &apiError{-1, "failure: can not change file of existing container"}
			}
			if _, ok := attrs["remote-image"]; ok {
				return &apiError{-1, "failure: can not change remote-image of existing container"}
			}
			return nil
		}
		_, file := attrs["file"]
		_, remote := attrs["remote-image"]
		if file == remote {
			return &apiError{-1, "failure: specify either file or remote-image"}
		}
		attrs["status"] = "extracting"
		attrs[attrUntil] = strconv.FormatInt(r.now().Add(containerExtract).UnixNano(), 10)
		attrs[attrNext] = "stopped"
		return nil
	},
	render: func(r *Router, it *item, now time.Time, row map[string]string) {
		advanceContainer(it, now)
		state := it.attrs["status"]
		if !r.versionAtLeast("7.20") {
			row["status"] = state
			return
		}
		delete(row, "status")
		for _, f := range containerFlags {
			row[f] = formatBool(f == state)
		}
	},
	removable: func(r *Router, it *item) error {
		advanceContainer(it, r.now())
		if s := it.attrs["status"]; s != "stopped" && s != "error" {
			return &apiError{-1, "failure: container must be stopped first"}
		}
		return nil
	},
	actions: map[string]func(*Router, *table, *request) error{
		"start": func(r *Router, t *table, req *request) error {
			return containerAction(r, t, req, func(it *item, now time.Time) error {
				switch it.attrs["status"] {
				case "running":
				case "stopped", "error":
					it.attrs["status"] = "running"
				default: // extracting, stopping
					return &apiError{-1, "failure: container not ready"}
				}
				return nil
			})
		},
		"stop": func(r *Router, t *table, req *request) error {
			return containerAction(r, t, req, func(it *item, now time.Time) error {
				if it.attrs["status"] == "running" {
					it.attrs["status"] = "stopping"
					it.attrs[attrUntil] = strconv.FormatInt(now.Add(containerStop).UnixNano(), 10)
					it.attrs[attrNext] = "stopped"
				}
				return nil
			})
		},
	},
}

// advanceContainer completes a timed status change that is due; it
// reports whether the status changed.
func advanceContainer(it *item, now time.Time) bool {
	until, ok := it.attrs[attrUntil]
	if !ok {
		return false
	}
	n, _ := strconv.ParseInt(until, 10, 64)
	if now.UnixNano() < n {
		return false
	}
	it.attrs["status"] = it.attrs[attrNext]
	delete(it.attrs, attrUntil)
	delete(it.attrs, attrNext)
	return true
}

// containerAction applies fn to each target of a start or stop.
func containerAction(r *Router, t *table, req *request, fn func(*item, time.Time) error) error {
	return r.eachTargetLocked(t, req, func(it *item, now time.Time) error {
		advanceContainer(it, now)
		if err := fn(it, now); err != nil {
			return err
		}
		r.notifyLocked(t, it, now)
		return nil
	})
}
