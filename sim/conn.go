package sim

import (
	"bufio"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
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
		c.runLocked(req, func() error { return r.setLocked(t, req) })
	case "remove":
		c.runLocked(req, func() error { return r.removeLocked(t, req) })
	case "enable", "disable":
		c.runLocked(req, func() error { return r.enableLocked(t, req, verb == "enable") })
	default:
		act := t.spec.actions[verb]
		if act == nil {
			c.trap(req, -1, "no such command")
			return
		}
		c.runLocked(req, func() error { return act(r, t, req) })
	}
}

func (c *conn) sendErr(req *request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		c.trap(req, ae.cat, ae.msg)
		return
	}
	c.trap(req, -1, err.Error())
}

// runLocked runs fn under Router.mu and answers !done, or the trap for its
// error.
func (c *conn) runLocked(req *request, fn func() error) {
	c.r.mu.Lock()
	err := fn()
	c.r.mu.Unlock()
	if err != nil {
		c.sendErr(req, err)
		return
	}
	c.done(req)
}
