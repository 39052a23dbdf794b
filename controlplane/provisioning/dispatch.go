package provisioning

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// maxConcurrentFlushes bounds the routers delivered to at once, so that a
// thousand agents reconnecting together do not open a thousand
// transactions at once.
const maxConcurrentFlushes = 16

// dispatcher delivers each router's pending commands in the order they
// were created. Deliveries to one router are serialized (its mutex), so
// two triggers never interleave their commands; the store's conditional
// update (MarkCommandSent) keeps two replicas from delivering the same
// command twice from queued.
//
// Triggers: a command committed (schedule, plus the deliver job inserted
// with it), a router coming online (schedule with redelivery of what it never
// acknowledged), and the periodic sweep.
type dispatcher struct {
	s   *Service
	sem chan struct{}

	mu      sync.Mutex
	locks   map[string]*sync.Mutex
	pending map[string]*scheduled
	closed  bool
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

// scheduled coalesces the requests for a delivery to one router while a delivery runs.
type scheduled struct {
	again bool
	// resendUpTo is the time of the latest request for redelivery:
	// commands sent at or before it went to a connection that may have
	// lost them; zero means no redelivery.
	resendUpTo time.Time
}

func newDispatcher(s *Service) *dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &dispatcher{
		s:       s,
		sem:     make(chan struct{}, maxConcurrentFlushes),
		locks:   make(map[string]*sync.Mutex),
		pending: make(map[string]*scheduled),
		ctx:     ctx,
		cancel:  cancel,
	}
}

// routerLock returns the mutex that serializes deliveries to router.
func (d *dispatcher) routerLock(router string) *sync.Mutex {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.locks[router]
	if l == nil {
		l = new(sync.Mutex)
		d.locks[router] = l
	}
	return l
}

// schedule starts a delivery to router in the background and returns at
// once (it is not the Kick command, which ends a session). A non-zero resendUpTo also redelivers the commands sent at or
// before it and never acknowledged: the router came online then, and what
// went to its old connection may be lost. Requests arriving while a delivery
// runs are folded into one more run.
func (d *dispatcher) schedule(router string, resendUpTo time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if st, running := d.pending[router]; running {
		st.again = true
		if resendUpTo.After(st.resendUpTo) {
			st.resendUpTo = resendUpTo
		}
		return
	}
	st := &scheduled{resendUpTo: resendUpTo}
	d.pending[router] = st
	d.wg.Add(1)
	go d.run(router, st)
}

func (d *dispatcher) run(router string, st *scheduled) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		upTo := st.resendUpTo
		st.again, st.resendUpTo = false, time.Time{}
		d.mu.Unlock()

		select {
		case d.sem <- struct{}{}:
		case <-d.ctx.Done():
			d.finish(router)
			return
		}
		if err := d.flush(d.ctx, router, upTo); err != nil && d.ctx.Err() == nil {
			// The deliver job (or the next sweep) retries.
			d.s.log.Warn("deliver commands", "router", router, "err", err)
		}
		<-d.sem

		d.mu.Lock()
		if !st.again {
			delete(d.pending, router)
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
	}
}

func (d *dispatcher) finish(router string) {
	d.mu.Lock()
	delete(d.pending, router)
	d.mu.Unlock()
}

// flush delivers router's queued commands, and redelivers those sent at
// or before resendUpTo without an answer (zero: none), in creation order.
// Commands past their expiry are ended expired first, whether or not the
// agent is connected, so that none waits as queued for the sweep. It
// delivers nothing while the router's agent is not connected: the router
// coming online triggers a delivery.
func (d *dispatcher) flush(ctx context.Context, router string, resendUpTo time.Time) error {
	pub := d.s.publisher()
	if pub == nil {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "provisioning not started")
	}
	l := d.routerLock(router)
	l.Lock()
	defer l.Unlock()

	statuses := []controlplane.CommandStatus{controlplane.CommandQueued}
	if !resendUpTo.IsZero() {
		statuses = append(statuses, controlplane.CommandSent)
	}
	cmds, err := d.s.st.PendingCommands(ctx, router, statuses...)
	if err != nil {
		return err
	}
	now := d.s.now()
	if cmds, err = d.expire(ctx, router, cmds, now); err != nil {
		return err
	}
	if len(cmds) == 0 {
		return nil
	}
	if !pub.Connected(router) {
		d.s.m.deliveries.WithLabelValues("offline").Inc()
		d.s.log.Debug("router offline; commands wait", "router", router, "pending", len(cmds))
		return nil
	}
	for _, c := range cmds {
		if c.Status == controlplane.CommandSent && c.SentAt != nil && c.SentAt.After(resendUpTo) {
			continue // sent on the current connection
		}
		u, err := d.s.st.MarkCommandSent(ctx, c.ID, c.Status)
		if err != nil {
			return err
		}
		if !u.Changed {
			continue // another dispatcher took it, or it just expired
		}
		if c.Status == controlplane.CommandQueued {
			d.s.publishUpdate(u)
		} else {
			d.s.m.deliveries.WithLabelValues("redelivered").Inc()
		}
		if err := pub.PublishCommand(ctx, u.Command.Wire()); err != nil {
			d.s.m.deliveries.WithLabelValues("error").Inc()
			// Not delivered: queued again, for the deliver job's retry.
			ru, rerr := d.s.st.RequeueCommand(context.WithoutCancel(ctx), c.ID, err.Error())
			if rerr != nil {
				d.s.log.Error("requeue undelivered command", "id", c.ID, "err", rerr)
			}
			d.s.publishUpdate(ru)
			return fmt.Errorf("publish command %s: %w", c.ID, err)
		}
		d.s.m.deliveries.WithLabelValues("published").Inc()
		d.s.log.Debug("delivered command", "id", c.ID, "router", router, "kind", c.Kind, "attempt", u.Command.Attempts)
	}
	return nil
}

// expire ends the commands of cmds past their expiry at now (with their
// audit, account state and broadcast, as the sweep does) and returns the
// others. MarkCommandSent refuses an expired command anyway; this makes its
// end visible when its delivery is considered instead of at the sweep.
func (d *dispatcher) expire(ctx context.Context, router string, cmds []controlplane.Command, now time.Time) ([]controlplane.Command, error) {
	live := cmds[:0:0]
	due := false
	for _, c := range cmds {
		if c.ExpiresAt.After(now) {
			live = append(live, c)
		} else {
			due = true
		}
	}
	if !due {
		return cmds, nil
	}
	us, err := d.s.st.ExpireRouterCommands(ctx, router, now)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		d.s.m.deliveries.WithLabelValues("expired").Inc()
		d.s.publishUpdate(u)
	}
	return live, nil
}

// close stops scheduling deliveries and waits for those running, until ctx
// ends.
func (d *dispatcher) close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return fmt.Errorf("provisioning: deliveries still running at close: %w", ctx.Err())
	}
}
