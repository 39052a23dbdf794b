package sim

import (
	"strconv"
	"strings"
	"time"
)

// The container package: /container, /container/envs, /container/mounts
// and /container/config.
//
// A container's status moves like RouterOS's: add → "extracting" →
// "stopped" after containerExtract; start → "running"; stop → "stopping" →
// "stopped" after containerStop. Start while extracting and remove while
// not stopped are refused, so a script must wait, as on a real router.
// The timed steps follow Config.Now, so a test with a fake clock decides
// when they happen; listen does not report them (print does).

const (
	containerExtract = 2 * time.Second
	containerStop    = time.Second

	// Internal attributes of a container in a timed status; hidden.
	attrUntil = ".sim-until"
	attrNext  = ".sim-next"
)

// versionBefore reports whether the simulated RouterOS version is older
// than major.minor.
func (r *Router) versionBefore(major, minor int) bool {
	v, _, _ := strings.Cut(r.cfg.Version, " ")
	parts := strings.SplitN(v, ".", 3)
	maj, _ := strconv.Atoi(parts[0])
	min := 0
	if len(parts) > 1 {
		min, _ = strconv.Atoi(parts[1])
	}
	return maj < major || maj == major && min < minor
}

// legacyContainer: RouterOS before 7.21 names env and mount lists with
// name= and gives a container mounts= instead of mountlists=.
func (r *Router) legacyContainer() bool { return r.versionBefore(7, 21) }

// listAttr returns the attribute that names an env or mount list in this
// version, after refusing the other spelling.
func listAttr(r *Router, attrs map[string]string) (string, error) {
	want, other := "list", "name"
	if r.legacyContainer() {
		want, other = other, want
	}
	if _, ok := attrs[other]; ok {
		return "", &apiError{-1, "unknown parameter " + other}
	}
	return want, nil
}

func checkListItem(required ...string) func(r *Router, t *table, attrs map[string]string, it *item) error {
	return func(r *Router, t *table, attrs map[string]string, it *item) error {
		k, err := listAttr(r, attrs)
		if err != nil {
			return err
		}
		if it == nil {
			for _, req := range append([]string{k}, required...) {
				if _, ok := attrs[req]; !ok {
					return &apiError{1, "missing value(s) of argument(s) " + req}
				}
			}
		}
		return nil
	}
}

var containerEnvsSpec = &menuSpec{
	path:     "/container/envs",
	fields:   []string{"list", "name", "key", "value"},
	writable: []string{"list", "name", "key", "value"},
	verbs:    []string{"print", "listen", "add", "set", "remove"},
	idBase:   1,
	check:    checkListItem("key"),
}

var containerMountsSpec = &menuSpec{
	path:     "/container/mounts",
	fields:   []string{"list", "name", "src", "dst"},
	writable: []string{"list", "name", "src", "dst"},
	verbs:    []string{"print", "listen", "add", "set", "remove"},
	idBase:   1,
	check:    checkListItem("src", "dst"),
}

var containerConfigSpec = &menuSpec{
	path:      "/container/config",
	fields:    []string{"registry-url", "username", "password", "layer-dir", "tmpdir", "ram-high"},
	writable:  []string{"registry-url", "username", "password", "layer-dir", "tmpdir", "ram-high"},
	hidden:    []string{"password"},
	verbs:     []string{"print", "set"},
	singleton: true,
	initial: []seedItem{{0, map[string]string{"registry-url": "https://registry-1.docker.io", "username": "",
		"layer-dir": "", "tmpdir": "", "ram-high": "0"}}},
}

var containerSpec = &menuSpec{
	path: "/container",
	fields: []string{"tag", "os", "arch", "interface", "envlist", "mountlists", "mounts", "root-dir", "workdir",
		"cmd", "entrypoint", "hostname", "domain-name", "dns", "user", "stop-signal", "memory-high",
		"auto-restart-interval", "check-certificate", "logging", "start-on-boot", "file", "remote-image",
		"status", "comment"},
	writable: []string{"interface", "envlist", "mountlists", "mounts", "root-dir", "workdir", "cmd", "entrypoint",
		"hostname", "domain-name", "dns", "user", "stop-signal", "memory-high", "auto-restart-interval",
		"check-certificate", "logging", "start-on-boot", "file", "remote-image", "comment"},
	defaults: map[string]string{"stop-signal": "15", "logging": "false", "start-on-boot": "false"},
	bools:    []string{"check-certificate", "logging", "start-on-boot"},
	hidden:   []string{attrUntil, attrNext},
	required: []string{"interface"},
	refs:     map[string]string{"interface": "/interface/veth"},
	verbs:    []string{"print", "listen", "add", "set", "remove", "start", "stop"},
	idBase:   1,
	check: func(r *Router, t *table, attrs map[string]string, it *item) error {
		other := "mounts"
		if r.legacyContainer() {
			other = "mountlists"
		}
		if _, ok := attrs[other]; ok {
			return &apiError{-1, "unknown parameter " + other}
		}
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
		if advanceContainer(it, now) {
			row["status"] = it.attrs["status"]
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
	for k := range req.attrs {
		if k != ".id" && k != "numbers" {
			return &apiError{-1, "unknown parameter " + k}
		}
	}
	items, err := r.targetsLocked(t, req)
	if err != nil {
		return err
	}
	now := r.now()
	for _, it := range items {
		advanceContainer(it, now)
		if err := fn(it, now); err != nil {
			return err
		}
		r.notifyLocked(t, it, now)
	}
	return nil
}
