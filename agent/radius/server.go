package radius

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"layeh.com/radius"
)

// maxInFlight bounds the requests one listener handles at once; past it
// the listener stops reading and the kernel's socket buffer queues (or
// drops) what comes, as for any overloaded RADIUS server.
const maxInFlight = 256

// Server answers one router's Access- and Accounting-Requests. Build it
// with NewServer, bind with Listen (optional) and run Serve.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
	dropLog dropLogger

	mu         sync.Mutex
	auth, acct *listener
	serving    bool
}

// listener is one UDP socket with its own duplicate cache: a request's
// Identifier is unique per socket pair, so auth and accounting never
// share entries.
type listener struct {
	conn *net.UDPConn
	acct bool
	dups *dupCache
}

// NewServer checks cfg and builds a Server; it registers its metrics on
// cfg.Registerer, so one Registerer takes one Server.
func NewServer(cfg Config) (*Server, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("radius: empty shared secret")
	}
	if cfg.Decider == nil {
		return nil, errors.New("radius: nil Decider")
	}
	if cfg.AuthAddr == "" && cfg.AcctAddr == "" {
		return nil, errors.New("radius: neither AuthAddr nor AcctAddr set")
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "radius")
	return &Server{cfg: cfg, log: log, metrics: m, now: time.Now, dropLog: dropLogger{log: log}}, nil
}

// Listen binds the configured UDP sockets, so that AuthAddr and AcctAddr
// answer (a ":0" port is then known) before Serve runs. Serve calls it
// when it was not called.
func (s *Server) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auth != nil || s.acct != nil {
		return errors.New("radius: already listening")
	}
	var lc net.ListenConfig
	bind := func(addr string, acct bool) (*listener, error) {
		if addr == "" {
			return nil, nil
		}
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, fmt.Errorf("radius: listen %s: %w", addr, err)
		}
		return &listener{conn: pc.(*net.UDPConn), acct: acct, dups: newDupCache(dupEntries, dupWindow)}, nil
	}
	auth, err := bind(s.cfg.AuthAddr, false)
	if err != nil {
		return err
	}
	acct, err := bind(s.cfg.AcctAddr, true)
	if err != nil {
		if auth != nil {
			auth.conn.Close()
		}
		return err
	}
	s.auth, s.acct = auth, acct
	return nil
}

// AuthAddr is the authentication socket's address (nil before Listen or
// when disabled).
func (s *Server) AuthAddr() net.Addr { return s.addr(func() *listener { return s.auth }) }

// AcctAddr is the accounting socket's address (nil before Listen or when
// disabled).
func (s *Server) AcctAddr() net.Addr { return s.addr(func() *listener { return s.acct }) }

func (s *Server) addr(l func() *listener) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if x := l(); x != nil {
		return x.conn.LocalAddr()
	}
	return nil
}

// Serve answers requests until ctx is done, then closes the sockets, waits
// for the requests in hand (their Decider calls see ctx done) and returns
// nil; it returns an error when a socket fails otherwise. A Server serves
// once.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("radius: Serve called twice")
	}
	s.serving = true
	listening := s.auth != nil || s.acct != nil
	s.mu.Unlock()
	if !listening {
		if err := s.Listen(ctx); err != nil {
			return err
		}
	}
	s.mu.Lock()
	ls := []*listener{s.auth, s.acct}
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, l := range ls {
		if l == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.readLoop(ctx, l); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	stop := context.AfterFunc(ctx, func() {
		for _, l := range ls {
			if l != nil {
				l.conn.Close()
			}
		}
	})
	defer stop()
	s.log.Info("radius serving", "auth", s.AuthAddr(), "acct", s.AcctAddr(),
		"require_message_authenticator", s.cfg.RequireMessageAuthenticator)
	wg.Wait()
	for _, l := range ls {
		if l != nil {
			l.conn.Close()
		}
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// readLoop reads l until its socket closes, handling each datagram in its
// own goroutine (a slow durable accounting write must not hold up logins
// or other records) with at most maxInFlight at once.
func (s *Server) readLoop(ctx context.Context, l *listener) error {
	var inflight sync.WaitGroup
	defer inflight.Wait()
	sem := make(chan struct{}, maxInFlight)
	for {
		buf := make([]byte, radius.MaxPacketLength)
		n, src, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("radius: read %s: %w", l.conn.LocalAddr(), err)
		}
		arrived := s.now()
		sem <- struct{}{}
		inflight.Add(1)
		go func() {
			defer func() { <-sem; inflight.Done() }()
			s.serveDatagram(ctx, l, src, buf[:n], arrived)
		}()
	}
}

func (s *Server) serveDatagram(ctx context.Context, l *listener, src netip.AddrPort, b []byte, arrived time.Time) {
	// A Decider that panics costs its request (left unanswered, its
	// retransmissions dropped until the duplicate entry expires), not the
	// agent.
	defer func() {
		if r := recover(); r != nil {
			s.metrics.dropped.WithLabelValues(dropInternal).Inc()
			s.log.Error("radius request handling panicked", "from", src, "panic", r)
		}
	}()
	out := s.handle(ctx, l, src, b, arrived)
	if out.reply == nil {
		return
	}
	if _, err := l.conn.WriteToUDPAddrPort(out.reply, src); err != nil && ctx.Err() == nil {
		s.log.Warn("radius reply not sent", "to", src, "err", err)
		return
	}
	if out.fresh && !l.acct {
		s.metrics.latency.Observe(time.Since(arrived).Seconds())
	}
}

// dropLogger logs dropped packets at most once a minute per reason: a
// flood of forged packets must not flood the log too (the counter has
// them all).
type dropLogger struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time
}

func (d *dropLogger) logDrop(now time.Time, reason string, src netip.AddrPort, err error) {
	d.mu.Lock()
	if d.last == nil {
		d.last = make(map[string]time.Time)
	}
	if t, ok := d.last[reason]; ok && now.Sub(t) < time.Minute {
		d.mu.Unlock()
		return
	}
	d.last[reason] = now
	d.mu.Unlock()
	attrs := []any{"reason", reason, "from", src}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	d.log.Warn("radius packet dropped (further drops for this reason are counted, logged again in a minute)", attrs...)
}
