package agent

import (
	"context"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/protocol"
)

// The executor's side of the router (routerAPI): commands on the command
// connection, kick marks that make an end reason "kicked", key lookups and
// requested resyncs.

func (r *router) command(ctx context.Context, words ...string) (*routeros.Reply, error) {
	r.mu.Lock()
	cc := r.cmd
	r.mu.Unlock()
	if cc == nil {
		return nil, errRouterDown
	}
	return cc.run(ctx, words...)
}

func (r *router) waitConnected(ctx context.Context) error {
	r.mu.Lock()
	ch := r.upCh
	r.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *router) markKicked(kind protocol.SessionKind, ids []string) {
	r.kickMu.Lock()
	defer r.kickMu.Unlock()
	now := time.Now()
	for k, at := range r.kicked {
		if now.Sub(at) > 10*time.Minute {
			delete(r.kicked, k)
		}
	}
	for _, id := range ids {
		r.kicked[keyRef{kind, id}] = now
	}
}

func (r *router) unmarkKicked(kind protocol.SessionKind, ids []string) {
	r.kickMu.Lock()
	defer r.kickMu.Unlock()
	for _, id := range ids {
		delete(r.kicked, keyRef{kind, id})
	}
}

// endReason is kicked when the agent removed the session itself.
func (r *router) endReason(kind protocol.SessionKind, id string, otherwise protocol.EndReason) protocol.EndReason {
	r.kickMu.Lock()
	defer r.kickMu.Unlock()
	k := keyRef{kind, id}
	if _, ok := r.kicked[k]; ok {
		delete(r.kicked, k)
		return protocol.EndKicked
	}
	return otherwise
}

func (r *router) lookupKey(key string) (protocol.SessionKind, string, bool) {
	r.keyMu.RLock()
	defer r.keyMu.RUnlock()
	k, ok := r.keys[key]
	return k.kind, k.id, ok
}

func (r *router) resync(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case r.resyncReq <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ routerAPI = (*router)(nil)
