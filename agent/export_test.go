package agent

import (
	"context"

	"github.com/sitepulse/sitepulse/agent/radius"
)

// FailCommits makes every outbox commit of a fail with f's error while f
// returns one (a full disk); nil restores normal commits.
func FailCommits(a *Agent, f func() error) {
	if f == nil {
		a.ob.commitFault.Store(nil)
		return
	}
	a.ob.commitFault.Store(&f)
}

// ParseDuration parses a RouterOS duration as the agent does.
var ParseDuration = parseDuration

// SetRadiusCoA replaces the agent's Disconnect/CoA client (the router's
// /radius incoming) with funcs, for tests that check what is sent.
func SetRadiusCoA(a *Agent, disconnect func(radius.Target) error, coa func(radius.Target, radius.Decision) error) {
	a.radius.coaMu.Lock()
	defer a.radius.coaMu.Unlock()
	a.radius.coa = fakeCoA{disconnect, coa}
}

type fakeCoA struct {
	d func(radius.Target) error
	c func(radius.Target, radius.Decision) error
}

func (f fakeCoA) disconnect(_ context.Context, t radius.Target) error { return f.d(t) }

func (f fakeCoA) changeAuthorization(_ context.Context, t radius.Target, d radius.Decision) error {
	return f.c(t, d)
}
