package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-routeros/routeros/v3"
)

// dialer opens logged-in RouterOS API connections whose every step is
// bounded by deadlines on the net.Conn: go-routeros' Login and synchronous
// Run ignore contexts, so the deadline (and a context that moves it into
// the past) is what keeps a dead router from hanging the agent.
type dialer struct {
	addr, user, password string
	tls                  *tls.Config // nil: plain API (8728)
	dialTimeout          time.Duration
	ioTimeout            time.Duration
}

// dial connects and logs in. The returned client is in synchronous mode
// and must never be switched to async mode (see wire.go).
func (d *dialer) dial(ctx context.Context) (net.Conn, *routeros.Client, error) {
	nd := &net.Dialer{Timeout: d.dialTimeout, KeepAlive: 15 * time.Second}
	var conn net.Conn
	var err error
	if d.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: nd, Config: d.tls}).DialContext(ctx, "tcp", d.addr)
	} else {
		conn, err = nd.DialContext(ctx, "tcp", d.addr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dial router %s: %w", d.addr, err)
	}
	c, err := routeros.NewClient(conn)
	if err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("router client: %w", err)
	}
	// go-routeros logs every sentence, password included, at debug level.
	c.SetLogHandler(slog.DiscardHandler)
	stop := bound(ctx, conn, d.ioTimeout)
	err = c.Login(d.user, d.password)
	stop()
	if err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("login to router %s as %s: %w", d.addr, d.user, err)
	}
	return conn, c, nil
}

// bound sets conn's deadline to now+timeout (or ctx's deadline if sooner)
// and moves it into the past if ctx ends first. The returned func clears
// it; once it returns, the context's callback has either not run or
// finished, so its past deadline cannot land on the next command.
func bound(ctx context.Context, conn net.Conn, timeout time.Duration) func() {
	dl := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = conn.SetDeadline(dl)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = conn.SetDeadline(time.Unix(1, 0))
	})
	return func() {
		// stop does not wait for a callback that already started: wait
		// for it here, or it could set its deadline after the clear.
		if !stop() {
			<-fired
		}
		_ = conn.SetDeadline(time.Time{})
	}
}

// errRouterDown is returned when there is no API session.
var errRouterDown = errors.New("no API session with the router")

// cmdConn is the command connection: one synchronous go-routeros client
// used by one caller at a time. Any error other than a !trap poisons it;
// the router session then redials.
type cmdConn struct {
	mu      sync.Mutex
	conn    net.Conn
	c       *routeros.Client
	timeout time.Duration
	broken  error
	onBreak func(error)
}

func (cc *cmdConn) run(ctx context.Context, words ...string) (*routeros.Reply, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.broken != nil {
		return nil, fmt.Errorf("%w: %v", errRouterDown, cc.broken)
	}
	stop := bound(ctx, cc.conn, cc.timeout)
	r, err := cc.c.RunArgs(words)
	stop()
	if err == nil {
		return r, nil
	}
	var de *routeros.DeviceError
	if errors.As(err, &de) && de.Sentence.Word == "!trap" {
		return r, err
	}
	cc.broken = err
	if cc.onBreak != nil {
		cc.onBreak(fmt.Errorf("command connection: %w", err))
	}
	return nil, fmt.Errorf("run %s: %w", words[0], err)
}

func (cc *cmdConn) close() {
	cc.mu.Lock()
	if cc.broken == nil {
		cc.broken = errors.New("closed")
	}
	cc.mu.Unlock()
	// Close without the lock: a run blocked in Read holds it, and closing
	// the socket is what unblocks it.
	_ = cc.conn.Close()
}
