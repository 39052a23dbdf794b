package sim

import (
	"strconv"
	"strings"
	"time"
)

// ---- print / listen ----

// printParams are the print arguments the simulator understands.
var printParams = map[string]bool{
	".proplist": true, "interval": true, "follow": true, "follow-only": true, "count-only": true,
	"detail": true, "without-paging": true, "terse": true, "brief": true, "stats": true, "as-value": true,
}

func splitProplist(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *conn) print(req *request, t *table) {
	for _, k := range req.order {
		if !printParams[k] {
			c.trap(req, -1, "unknown parameter "+k)
			return
		}
	}
	q, err := parseQuery(req.queries)
	if err != nil {
		c.trap(req, 1, "invalid query")
		return
	}
	var proplist []string
	if pl, ok := req.attrs[".proplist"]; ok {
		proplist = splitProplist(pl)
		if proplist == nil {
			proplist = []string{}
		}
	}
	r := c.r
	if iv, ok := req.attrs["interval"]; ok {
		d, err := parseDuration(iv)
		if err != nil || d <= 0 {
			c.trap(req, 1, "value of interval out of range")
			return
		}
		c.startInterval(req, t, proplist, q, max(d, 10*time.Millisecond))
		return
	}
	_, follow := req.attrs["follow"]
	_, followOnly := req.attrs["follow-only"]
	_, countOnly := req.attrs["count-only"]

	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	n := 0
	if !followOnly {
		for _, it := range t.items {
			keys, vals := r.row(t, it, now)
			if !q.match(vals) {
				continue
			}
			n++
			if !countOnly {
				c.reply(req, rowWords(keys, vals, proplist)...)
			}
		}
	}
	if follow || followOnly {
		c.addListenerLocked(req, t, proplist, q)
		return
	}
	if countOnly {
		c.done(req, "=ret="+strconv.Itoa(n))
		return
	}
	if n == 0 && !r.cfg.NoEmpty {
		c.reply(req, "!empty")
	}
	c.done(req)
}

func (c *conn) listen(req *request, t *table) {
	var proplist []string
	for _, k := range req.order {
		if k != ".proplist" {
			c.trap(req, -1, "unknown parameter "+k)
			return
		}
		proplist = splitProplist(req.attrs[k])
	}
	q, err := parseQuery(req.queries)
	if err != nil {
		c.trap(req, 1, "invalid query")
		return
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.addListenerLocked(req, t, proplist, q)
}

func (c *conn) addListenerLocked(req *request, t *table, proplist []string, q *query) {
	cmd := &command{c: c, tag: req.tag, hasTag: req.hasTag, table: t, proplist: proplist, q: q, stop: make(chan struct{})}
	t.listeners = append(t.listeners, cmd)
	c.running = append(c.running, cmd)
}

// startInterval re-prints the table every d with =.section=N until cancelled.
func (c *conn) startInterval(req *request, t *table, proplist []string, q *query, d time.Duration) {
	r := c.r
	cmd := &command{c: c, tag: req.tag, hasTag: req.hasTag, proplist: proplist, q: q, stop: make(chan struct{})}
	r.mu.Lock()
	c.running = append(c.running, cmd)
	r.mu.Unlock()
	round := func(section int) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if cmd.done {
			return false
		}
		now := r.now()
		sec := "=.section=" + strconv.Itoa(section)
		for _, it := range t.items {
			keys, vals := r.row(t, it, now)
			if q.match(vals) {
				c.reply(req, append(rowWords(keys, vals, proplist), sec)...)
			}
		}
		return true
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if !round(0) {
			return
		}
		tk := time.NewTicker(d)
		defer tk.Stop()
		for section := 1; ; section++ {
			select {
			case <-tk.C:
				if !round(section) {
					return
				}
			case <-cmd.stop:
				return
			}
		}
	}()
}

// notifyLocked streams an added or changed item to the table's listeners.
func (r *Router) notifyLocked(t *table, it *item, now time.Time) {
	if len(t.listeners) == 0 {
		return
	}
	keys, vals := r.row(t, it, now)
	for _, l := range t.listeners {
		if l.q.match(vals) {
			l.c.send(l.tag, l.hasTag, rowWords(keys, vals, l.proplist)...)
		}
	}
}

// notifyDeadLocked streams a removal, unless the menu is set to miss them.
func (r *Router) notifyDeadLocked(t *table, id uint32) {
	if t.hideRemovals {
		return
	}
	for _, l := range t.listeners {
		l.c.send(l.tag, l.hasTag, "!re", "=.id="+formatID(id), "=.dead=true")
	}
}
