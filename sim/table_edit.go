package sim

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// ---- add / set / remove / enable / disable ----

// apiError is a trap to send: category (-1 = none) and message.
type apiError struct {
	cat int
	msg string
}

func (e *apiError) Error() string { return e.msg }

// validateLocked checks attributes for add or set on t; it for set, nil for add.
func (r *Router) validateLocked(t *table, attrs map[string]string, it *item) error {
	spec := t.spec
	// Names first, then values, each in a fixed order, so that the trap
	// for a sentence with several faults does not depend on map order.
	keys := slices.Sorted(maps.Keys(attrs))
	for _, k := range keys {
		if !slices.Contains(spec.writable, k) {
			return &apiError{-1, "unknown parameter " + k}
		}
		if v, ok := spec.since[k]; ok && !r.versionAtLeast(v) {
			return &apiError{-1, "unknown parameter " + k}
		}
	}
	for _, k := range keys {
		v := attrs[k]
		if slices.Contains(spec.bools, k) {
			b, ok := parseBool(v)
			if !ok {
				return &apiError{1, "value of " + k + " must be yes or no"}
			}
			attrs[k] = formatBool(b)
		}
		if vals, ok := spec.enums[k]; ok && !slices.Contains(vals, v) {
			return &apiError{1, "input does not match any value of " + k}
		}
		if ref, ok := spec.refs[k]; ok && r.tables[ref].lookup(v) == nil {
			return &apiError{1, "input does not match any value of " + k}
		}
	}
	if spec.key != "" {
		name, ok := attrs[spec.key]
		if !ok && it != nil {
			name = it.attrs[spec.key]
		}
		scope := attrs[spec.keyScope]
		if _, ok := attrs[spec.keyScope]; !ok {
			if it != nil {
				scope = it.attrs[spec.keyScope]
			} else {
				scope = spec.defaults[spec.keyScope]
			}
		}
		if it == nil && name == "" {
			return &apiError{1, "failure: " + spec.key + " must be set"}
		}
		if t.hasKey(name, scope, it) {
			return &apiError{-1, spec.dupMsg}
		}
	}
	if it == nil {
		for _, k := range spec.required {
			if _, ok := attrs[k]; !ok {
				return &apiError{1, "missing value(s) of argument(s) " + k}
			}
		}
	}
	if spec.check != nil {
		return spec.check(r, t, attrs, it)
	}
	return nil
}

func (r *Router) addLocked(t *table, attrs map[string]string) (*item, error) {
	if err := r.validateLocked(t, attrs, nil); err != nil {
		return nil, err
	}
	vals := make(map[string]string, len(attrs)+len(t.spec.defaults))
	for k, v := range t.spec.defaults {
		vals[k] = v
	}
	for k, v := range attrs {
		vals[k] = v
	}
	it := t.insert(vals)
	if t.spec.written != nil {
		t.spec.written(r, t, it, nil)
	}
	r.notifyLocked(t, it, r.now())
	return it, nil
}

func (c *conn) add(req *request, t *table) {
	r := c.r
	r.mu.Lock()
	it, err := r.addLocked(t, req.attrs)
	r.mu.Unlock()
	if err != nil {
		c.sendErr(req, err)
		return
	}
	c.done(req, "=ret="+formatID(it.id))
}

// targets resolves =.id= / =numbers= (comma-separated ids or names).
func (r *Router) targetsLocked(t *table, req *request) ([]*item, error) {
	if t.spec.singleton {
		return t.items, nil
	}
	ref, ok := req.attrs[".id"]
	if !ok {
		ref, ok = req.attrs["numbers"]
	}
	if !ok || ref == "" {
		return nil, &apiError{0, "no such item"}
	}
	var out []*item
	for _, p := range strings.Split(ref, ",") {
		it := t.lookup(strings.TrimSpace(p))
		if it == nil {
			return nil, &apiError{0, "no such item"}
		}
		out = append(out, it)
	}
	return out, nil
}

func withoutRefs(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if k != ".id" && k != "numbers" {
			out[k] = v
		}
	}
	return out
}

// onlyRefs rejects a command that takes nothing but =.id= / =numbers=
// (remove, enable, disable, a container's start and stop) when it is given
// anything else.
func onlyRefs(attrs map[string]string) error {
	if extra := withoutRefs(attrs); len(extra) > 0 {
		return &apiError{-1, "unknown parameter " + slices.Min(slices.Collect(maps.Keys(extra)))}
	}
	return nil
}

// writeLocked applies attrs to it, runs the menu's written hook and tells
// the listeners.
func (r *Router) writeLocked(t *table, it *item, attrs map[string]string, now time.Time) {
	old := maps.Clone(it.attrs)
	t.update(it, attrs)
	if t.spec.written != nil {
		t.spec.written(r, t, it, old)
	}
	r.notifyLocked(t, it, now)
}

func (r *Router) setLocked(t *table, req *request) error {
	items, err := r.targetsLocked(t, req)
	if err != nil {
		return err
	}
	attrs := withoutRefs(req.attrs)
	for _, it := range items {
		if err := r.validateLocked(t, attrs, it); err != nil {
			return err
		}
	}
	now := r.now()
	for _, it := range items {
		r.writeLocked(t, it, attrs, now)
	}
	return nil
}

func (r *Router) removeLocked(t *table, req *request) error {
	if err := onlyRefs(req.attrs); err != nil {
		return err
	}
	items, err := r.targetsLocked(t, req)
	if err != nil {
		return err
	}
	for _, it := range items {
		if slices.Contains(t.spec.fixed, it.id) {
			return &apiError{-1, "failure: default profile can not be removed"}
		}
		if t.spec.removable != nil {
			if err := t.spec.removable(r, it); err != nil {
				return err
			}
		}
	}
	for _, it := range items {
		if t.spec.remove != nil {
			t.spec.remove(r, it)
			continue
		}
		if t.byID(it.id) == nil {
			continue
		}
		t.delete(it)
		r.notifyDeadLocked(t, it.id)
		if t.spec.removed != nil {
			t.spec.removed(r, it)
		}
	}
	return nil
}

// enableLocked sets disabled=no (on) or disabled=yes on the targets.
func (r *Router) enableLocked(t *table, req *request, on bool) error {
	return r.eachTargetLocked(t, req, func(it *item, now time.Time) error {
		r.writeLocked(t, it, map[string]string{"disabled": formatBool(!on)}, now)
		return nil
	})
}

// eachTargetLocked runs fn on each target of a command that takes only
// =.id= / =numbers=, stopping at the first error.
func (r *Router) eachTargetLocked(t *table, req *request, fn func(it *item, now time.Time) error) error {
	if err := onlyRefs(req.attrs); err != nil {
		return err
	}
	items, err := r.targetsLocked(t, req)
	if err != nil {
		return err
	}
	now := r.now()
	for _, it := range items {
		if err := fn(it, now); err != nil {
			return err
		}
	}
	return nil
}
