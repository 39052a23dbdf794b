package agent

import (
	"context"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// deadlineConn records the deadlines set on it. A deadline in the past (the
// one bound's context callback sets) blocks until release is closed, so a
// test can hold the callback in flight.
type deadlineConn struct {
	net.Conn // nil: only the deadline methods are used
	release  chan struct{}

	mu        sync.Mutex
	deadlines []time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	if !t.IsZero() && t.Before(time.Unix(2, 0)) {
		<-c.release
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadlines = append(c.deadlines, t)
	return nil
}

func (c *deadlineConn) last() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadlines[len(c.deadlines)-1]
}

// The context ends just as the command completes: bound's callback is
// already running when the command's stop is called. Once stop returns, the
// callback's past deadline must not land on the connection any more; if it
// lands after the clear, the next command on the connection fails with an
// i/o timeout and the router session redials and resyncs for nothing.
func TestBoundStopWaitsForARunningCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := &deadlineConn{release: make(chan struct{})}
		ctx, cancel := context.WithCancel(t.Context())
		stop := bound(ctx, conn, time.Minute)
		cancel()
		synctest.Wait() // the callback is blocked in SetDeadline(past)

		stopped := make(chan struct{})
		go func() {
			stop()
			close(stopped)
		}()
		synctest.Wait() // stop has returned, or waits for the callback
		select {
		case <-stopped:
			t.Error("stop returned while the context callback was still setting its deadline")
		default:
		}
		close(conn.release)
		<-stopped
		synctest.Wait()
		if d := conn.last(); !d.IsZero() {
			t.Errorf("deadline after stop = %v, want none (the callback's past deadline landed after the clear)", d)
		}
	})
}

// Without a cancellation, stop clears the deadline bound set.
func TestBoundStopClearsTheDeadline(t *testing.T) {
	conn := &deadlineConn{release: make(chan struct{})}
	stop := bound(context.Background(), conn, time.Minute)
	if d := conn.last(); d.IsZero() || time.Until(d) > time.Minute {
		t.Fatalf("deadline while bound = %v, want within a minute", d)
	}
	stop()
	if d := conn.last(); !d.IsZero() {
		t.Fatalf("deadline after stop = %v, want none", d)
	}
}
