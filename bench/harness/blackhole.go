package harness

import (
	"net"
	"sync"
)

// Blackhole is a TCP proxy that can stop forwarding without closing
// anything: while cut, bytes already read wait, new connections are
// accepted and held, and the kernel buffers fill up — what a dead link
// looks like to both ends. Restoring resumes forwarding on the held
// connections.
type Blackhole struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	cond  *sync.Cond
	cut   bool
	conns map[net.Conn]struct{}
}

// NewBlackhole listens on a free loopback port and forwards to upstream.
func NewBlackhole(upstream string) (*Blackhole, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Blackhole{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	b.cond = sync.NewCond(&b.mu)
	go b.serve()
	return b, nil
}

// Addr is where clients connect instead of upstream.
func (b *Blackhole) Addr() string { return b.ln.Addr().String() }

// SetCut stops (true) or resumes (false) forwarding.
func (b *Blackhole) SetCut(on bool) {
	b.mu.Lock()
	b.cut = on
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *Blackhole) waitOpen() {
	b.mu.Lock()
	for b.cut {
		b.cond.Wait()
	}
	b.mu.Unlock()
}

func (b *Blackhole) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.handle(c)
	}
}

func (b *Blackhole) track(c net.Conn, on bool) {
	b.mu.Lock()
	if on {
		b.conns[c] = struct{}{}
	} else {
		delete(b.conns, c)
	}
	b.mu.Unlock()
}

func (b *Blackhole) handle(c net.Conn) {
	b.track(c, true)
	defer b.track(c, false)
	b.waitOpen()
	u, err := net.Dial("tcp", b.upstream)
	if err != nil {
		c.Close()
		return
	}
	b.track(u, true)
	defer b.track(u, false)
	done := make(chan struct{})
	go func() { b.pipe(u, c); close(done) }()
	b.pipe(c, u)
	<-done
}

func (b *Blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			b.waitOpen()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			dst.Close()
			src.Close()
			return
		}
	}
}

// Close stops listening and closes every held connection.
func (b *Blackhole) Close() {
	b.ln.Close()
	b.SetCut(false)
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
}
