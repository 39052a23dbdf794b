package sim

import (
	"bufio"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxPending bounds the reply bytes queued for one client. A client that
// stops reading while a listen streams would otherwise grow memory without
// bound; past this the connection is dropped, as a router would time it out.
const maxPending = 32 << 20

// maxUnauthenticated is how many commands a client may send before logging
// in; RouterOS answers further ones with !fatal.
const maxUnauthenticated = 10

// conn is one API connection. Reads happen on the serve goroutine; replies
// are queued and written by a separate writer so that notifications made
// under Router.mu never block on the network.
type conn struct {
	r  *Router
	nc net.Conn

	mu         sync.Mutex
	cond       *sync.Cond
	out        []byte
	closed     bool
	closeAfter bool // close once the queue is flushed (after !fatal)

	// Used only by the serve goroutine.
	loggedIn  bool
	preLogin  int
	challenge []byte

	// Guarded by Router.mu.
	running []*command
}

// command is a long-running command (listen, follow, print =interval=).
type command struct {
	c        *conn
	tag      string
	hasTag   bool
	table    *table
	proplist []string
	q        *query
	stop     chan struct{} // closed when cancelled (interval goroutine exits)
	done     bool          // guarded by Router.mu
}

func newConn(r *Router, nc net.Conn) *conn {
	c := &conn{r: r, nc: nc}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *conn) serve() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.writeLoop()
	}()
	defer func() {
		c.r.mu.Lock()
		delete(c.r.conns, c)
		c.r.dropCommandsLocked(c)
		c.r.mu.Unlock()
		c.mu.Lock()
		flush := c.closeAfter && !c.closed
		c.mu.Unlock()
		if !flush {
			c.close()
		}
		// After !fatal the writer flushes the queue and then closes.
		<-done
		c.close()
	}()
	br := bufio.NewReader(c.nc)
	for {
		words, err := readSentence(br)
		if err != nil {
			if errors.Is(err, errProtocol) {
				c.r.log.Warn("api protocol violation", "remote", c.nc.RemoteAddr().String(), "err", err)
				c.fatal("protocol error")
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.r.log.Debug("api read ended", "err", err)
			}
			return
		}
		if d := c.r.cfg.ReplyDelay; d > 0 {
			time.Sleep(d)
		}
		if !c.handle(words) {
			return
		}
	}
}

// writeLoop drains the reply queue to the socket.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		for len(c.out) == 0 && !c.closed && !c.closeAfter {
			c.cond.Wait()
		}
		if len(c.out) == 0 {
			c.mu.Unlock()
			c.nc.Close()
			return
		}
		buf := c.out
		c.out = nil
		c.mu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.nc.Write(buf); err != nil {
			c.close()
			return
		}
	}
}

// send queues one reply sentence; tag is appended when the command had one.
func (c *conn) send(tag string, hasTag bool, words ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.closeAfter {
		return
	}
	for _, w := range words {
		c.out = appendWord(c.out, w)
	}
	if hasTag {
		c.out = appendWord(c.out, ".tag="+tag)
	}
	c.out = append(c.out, 0)
	if len(c.out) > maxPending {
		c.closed = true
		c.out = nil
		c.nc.Close()
	}
	c.cond.Signal()
}

// fatal sends !fatal with a reason word and closes after flushing, as
// RouterOS does on /quit and on unrecoverable errors.
func (c *conn) fatal(reason string) {
	c.send("", false, "!fatal", reason)
	c.mu.Lock()
	c.closeAfter = true
	c.mu.Unlock()
	c.cond.Signal()
}

func (c *conn) close() {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	c.cond.Signal()
	if !already {
		c.nc.Close()
	}
}

// request is a parsed command sentence.
type request struct {
	cmd     string
	attrs   map[string]string
	order   []string // attribute names in the order given
	queries []string
	tag     string
	hasTag  bool
	bad     string // first word that is none of attribute, query, tag
}

func parseRequest(words []string) *request {
	req := &request{cmd: words[0], attrs: map[string]string{}}
	for _, w := range words[1:] {
		switch {
		case strings.HasPrefix(w, "="):
			k, v, _ := strings.Cut(w[1:], "=")
			if _, dup := req.attrs[k]; !dup {
				req.order = append(req.order, k)
			}
			req.attrs[k] = v
		case strings.HasPrefix(w, "?"):
			req.queries = append(req.queries, w)
		case strings.HasPrefix(w, ".tag="):
			req.tag, req.hasTag = w[5:], true
		default:
			if req.bad == "" {
				req.bad = w
			}
		}
	}
	return req
}

func (c *conn) reply(req *request, words ...string) {
	c.send(req.tag, req.hasTag, words...)
}

func (c *conn) done(req *request, attrs ...string) {
	c.reply(req, append([]string{"!done"}, attrs...)...)
}

// trap sends !trap (with =category= when cat >= 0) followed by !done.
func (c *conn) trap(req *request, cat int, msg string) {
	words := []string{"!trap"}
	if cat >= 0 {
		words = append(words, "=category="+strconv.Itoa(cat))
	}
	words = append(words, "=message="+msg)
	c.reply(req, words...)
	c.done(req)
}

// handle runs one command; false means the connection must end.
func (c *conn) handle(words []string) bool {
	req := parseRequest(words)
	switch req.cmd {
	case "/quit":
		c.fatal("session terminated on request")
		return false
	case "/login":
		c.login(req)
		return true
	}
	if !c.loggedIn {
		c.preLogin++
		if c.preLogin > maxUnauthenticated {
			c.fatal("not logged in")
			return false
		}
		c.trap(req, -1, "not logged in")
		return true
	}
	if req.cmd == "/cancel" {
		c.cancel(req)
		return true
	}
	c.dispatch(req)
	return true
}

func (c *conn) login(req *request) {
	name, hasName := req.attrs["name"]
	if resp, ok := req.attrs["response"]; ok {
		// Pre-6.43 challenge login, second step.
		want := ""
		if c.challenge != nil {
			h := md5.New()
			h.Write([]byte{0})
			h.Write([]byte(c.r.cfg.Password))
			h.Write(c.challenge)
			want = "00" + hex.EncodeToString(h.Sum(nil))
		}
		c.challenge = nil
		if name == c.r.cfg.User && want != "" && strings.EqualFold(resp, want) {
			c.loggedIn = true
			c.done(req)
			return
		}
		c.trap(req, -1, "invalid user name or password (6)")
		return
	}
	if !hasName {
		// Pre-6.43 challenge login, first step.
		c.challenge = make([]byte, 16)
		rand.Read(c.challenge)
		c.done(req, "=ret="+hex.EncodeToString(c.challenge))
		return
	}
	if name == c.r.cfg.User && req.attrs["password"] == c.r.cfg.Password {
		c.loggedIn = true
		c.r.log.Debug("api login", "user", name, "remote", c.nc.RemoteAddr().String())
		c.done(req)
		return
	}
	c.r.log.Info("api login failed", "user", name, "remote", c.nc.RemoteAddr().String())
	c.trap(req, -1, "invalid user name or password (6)")
}

// cancel ends running commands: the one tagged =tag=, or all of them.
func (c *conn) cancel(req *request) {
	target, one := req.attrs["tag"]
	r := c.r
	r.mu.Lock()
	var stopped []*command
	c.running = slices.DeleteFunc(c.running, func(cmd *command) bool {
		if one && (!cmd.hasTag || cmd.tag != target) {
			return false
		}
		stopped = append(stopped, cmd)
		return true
	})
	for _, cmd := range stopped {
		r.stopCommandLocked(cmd)
		c.send(cmd.tag, cmd.hasTag, "!trap", "=category=2", "=message=interrupted")
		c.send(cmd.tag, cmd.hasTag, "!done")
	}
	r.mu.Unlock()
	c.done(req)
}

// stopCommandLocked detaches a long-running command from its table.
func (r *Router) stopCommandLocked(cmd *command) {
	if cmd.done {
		return
	}
	cmd.done = true
	close(cmd.stop)
	if cmd.table != nil {
		cmd.table.listeners = slices.DeleteFunc(cmd.table.listeners, func(x *command) bool { return x == cmd })
	}
}

func (r *Router) dropCommandsLocked(c *conn) {
	for _, cmd := range c.running {
		r.stopCommandLocked(cmd)
	}
	c.running = nil
}

// dispatch resolves the menu and verb and runs the command.
func (c *conn) dispatch(req *request) {
	cut := strings.LastIndex(req.cmd, "/")
	if !strings.HasPrefix(req.cmd, "/") || cut < 0 {
		c.trap(req, -1, "no such command")
		return
	}
	dir, verb := req.cmd[:cut], req.cmd[cut+1:]
	r := c.r
	t := r.tables[dir]
	if t == nil {
		// Report the first path segment RouterOS would not know, then the
		// generic prefix trap, as RouterOS does.
		p := ""
		for _, seg := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
			p += "/" + seg
			if !knownDirs[p] {
				c.reply(req, "!trap", "=category=0", "=message=no such command or directory ("+seg+")")
				c.trap(req, -1, "no such command prefix")
				return
			}
		}
		c.trap(req, -1, "no such command")
		return
	}
	if !t.spec.has(verb) {
		c.trap(req, -1, "no such command")
		return
	}
	if req.bad != "" {
		c.trap(req, -1, "unknown parameter "+req.bad)
		return
	}
	r.countCall(req.cmd)
	switch verb {
	case "print", "getall":
		c.print(req, t)
	case "listen":
		c.listen(req, t)
	case "add":
		c.add(req, t)
	case "set":
		c.set(req, t)
	case "remove":
		c.remove(req, t)
	case "enable", "disable":
		c.enable(req, t, verb == "enable")
	default:
		act := t.spec.actions[verb]
		if act == nil {
			c.trap(req, -1, "no such command")
			return
		}
		r.mu.Lock()
		err := act(r, t, req)
		r.mu.Unlock()
		if err != nil {
			c.sendErr(req, err)
			return
		}
		c.done(req)
	}
}

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

func (c *conn) sendErr(req *request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		c.trap(req, ae.cat, ae.msg)
		return
	}
	c.trap(req, -1, err.Error())
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

func (c *conn) set(req *request, t *table) {
	r := c.r
	r.mu.Lock()
	err := r.setLocked(t, req)
	r.mu.Unlock()
	if err != nil {
		c.sendErr(req, err)
		return
	}
	c.done(req)
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
		old := maps.Clone(it.attrs)
		t.update(it, attrs)
		if t.spec.written != nil {
			t.spec.written(r, t, it, old)
		}
		r.notifyLocked(t, it, now)
	}
	return nil
}

func (c *conn) remove(req *request, t *table) {
	r := c.r
	r.mu.Lock()
	err := r.removeLocked(t, req)
	r.mu.Unlock()
	if err != nil {
		c.sendErr(req, err)
		return
	}
	c.done(req)
}

func (r *Router) removeLocked(t *table, req *request) error {
	if extra := withoutRefs(req.attrs); len(extra) > 0 {
		for k := range extra {
			return &apiError{-1, "unknown parameter " + k}
		}
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

func (c *conn) enable(req *request, t *table, on bool) {
	r := c.r
	r.mu.Lock()
	err := func() error {
		if extra := withoutRefs(req.attrs); len(extra) > 0 {
			for k := range extra {
				return &apiError{-1, "unknown parameter " + k}
			}
		}
		items, err := r.targetsLocked(t, req)
		if err != nil {
			return err
		}
		now := r.now()
		for _, it := range items {
			old := maps.Clone(it.attrs)
			t.update(it, map[string]string{"disabled": formatBool(!on)})
			if t.spec.written != nil {
				t.spec.written(r, t, it, old)
			}
			r.notifyLocked(t, it, now)
		}
		return nil
	}()
	r.mu.Unlock()
	if err != nil {
		c.sendErr(req, err)
		return
	}
	c.done(req)
}
