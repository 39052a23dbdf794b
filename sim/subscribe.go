package sim

import (
	"sync"
	"time"
)

// ---- change subscriptions ----

// Change is one session change made by the simulator, for ground truth in
// tests and benchmarks.
type Change struct {
	Kind                  string    // "hotspot" or "pppoe"
	Op                    string    // "login", "logout" or "update" (traffic)
	Reason                string    // for logout: "logout", "kicked" (API remove or Logout), "reboot", "expired" (session-timeout or limit-uptime)
	ID                    string    // RouterOS .id of the active row
	User                  string    // hotspot user or PPP secret name
	MAC                   string    // hotspot mac-address or PPP caller-id
	Address               string    // client IP address
	SessionID             string    // PPP session-id ("" for hotspot)
	Interface             string    // PPP dynamic interface name, "<pppoe-NAME>"
	LoginTime             time.Time // when the session started
	Time                  time.Time // when the change happened
	BytesIn               uint64    // from the client (hotspot bytes-in, PPP interface rx-byte)
	BytesOut              uint64    // to the client
	PacketsIn, PacketsOut uint64
}

// subscriber queues changes without bound so the simulator never blocks on
// a slow test; the caller must drain the channel or cancel.
type subscriber struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []Change
	closed bool
	ch     chan Change
	done   chan struct{}
}

// Subscribe returns every session change from now on (login, logout,
// update) in the order the simulator made them, and a cancel function.
// The channel is closed after cancel or Close.
func (r *Router) Subscribe() (<-chan Change, func()) {
	s := &subscriber{ch: make(chan Change, 64), done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		close(s.ch)
		return s.ch, func() {}
	}
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	go s.pump()
	return s.ch, func() {
		r.mu.Lock()
		delete(r.subs, s)
		r.mu.Unlock()
		s.close()
	}
}

func (s *subscriber) push(c Change) {
	s.mu.Lock()
	s.queue = append(s.queue, c)
	s.mu.Unlock()
	s.cond.Signal()
}

func (s *subscriber) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.cond.Signal()
}

func (s *subscriber) pump() {
	defer close(s.ch)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case s.ch <- c:
			case <-s.done:
				return
			}
		}
	}
}

func (r *Router) emitLocked(s *session, op, reason string, now time.Time) {
	if len(r.subs) == 0 {
		return
	}
	c := Change{
		Kind: s.kind, Op: op, Reason: reason, ID: formatID(s.active.id), User: s.user, MAC: s.mac,
		Address: s.addr, SessionID: s.sessionID, LoginTime: s.loginAt, Time: now,
		BytesIn: s.bytesIn, BytesOut: s.bytesOut, PacketsIn: s.pktsIn, PacketsOut: s.pktsOut,
	}
	if s.iface != nil {
		c.Interface = s.iface.attrs["name"]
	}
	for sub := range r.subs {
		sub.push(c)
	}
}
