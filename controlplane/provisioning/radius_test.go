package provisioning

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

func (e *env) radiusRouter(tenant int64, name string) controlplane.Router {
	e.t.Helper()
	r, _, err := e.st.CreateRouterMode(context.Background(), tenant, name, "", protocol.AuthRadius)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// entries returns the router's entries above from as "kind/name@v" ("-"
// for a tombstone).
func (e *env) entries(router string, from uint64) []string {
	e.t.Helper()
	p, err := e.st.RadiusRows(context.Background(), router, from, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, r := range p.Rows {
		s := fmt.Sprintf("%s/%s@%d", r.Kind, r.Name, r.Version)
		if r.Deleted {
			s += "-"
		}
		out = append(out, s)
	}
	return out
}

// radiusChanged counts the RadiusChanged announced for router.
func (e *env) radiusChanged(router string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.changes {
		if rc, ok := c.(controlplane.RadiusChanged); ok && rc.RouterID == router {
			n++
		}
	}
	return n
}

func TestAccountsOnRadiusRouter(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, false)
		ctx := context.Background()
		a := e.tenant("A")
		loc, rad := e.router(a.ID, "local"), e.radiusRouter(a.ID, "rad")
		tech := principal(controlplane.RoleTechnician, a.ID)
		res, err := e.svc.CreateAccount(ctx, tech, controlplane.AccountRequest{Kind: controlplane.AccountPPP, Name: "bob",
			Password: "pw", RouterIDs: []string{loc.ID, rad.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(res.Commands, rad.ID); len(got) != 0 {
			t.Errorf("commands on the RADIUS router: %v, want none", got)
		}
		if got := kinds(res.Commands, loc.ID); !slices.Equal(got, []protocol.CommandKind{protocol.CmdPPPSecretAdd}) {
			t.Errorf("commands on the local router: %v", got)
		}
		if !slices.Equal(res.RadiusRouters, []string{rad.ID}) {
			t.Errorf("RadiusRouters %v", res.RadiusRouters)
		}
		if got := e.entries(rad.ID, 0); !slices.Equal(got, []string{"pppoe/bob@1"}) {
			t.Errorf("entries %v", got)
		}
		if len(e.entries(loc.ID, 0)) != 0 {
			t.Errorf("the local router has entries")
		}
		if st := routerState(res.Account, rad.ID); st.State != controlplane.SyncPending || st.CommandID != "" {
			t.Errorf("state on the RADIUS router %+v, want pending without a command", st)
		}
		e.waitFor("RadiusChanged announced", func() bool { return e.radiusChanged(rad.ID) == 1 })

		// The agent reports holding version 1: synced.
		_, changed, err := e.st.RecordRadiusState(ctx, &protocol.RadiusState{V: 1, Router: rad.ID, Version: 1, Count: 1})
		if err != nil || len(changed) != 1 || routerState(changed[0], rad.ID).State != controlplane.SyncSynced {
			t.Fatalf("RecordRadiusState: %v %v", changed, err)
		}

		// A new expiry alone: the RADIUS copy holds it, the local router
		// does not (its expiry is the control plane's job).
		later := e.clock.Now().Add(48 * time.Hour)
		res, err = e.svc.UpdateAccount(ctx, tech, res.Account.ID, controlplane.AccountPatch{ExpiresAt: &later})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Commands) != 0 {
			t.Errorf("commands for a new expiry: %v, want none", kinds(res.Commands, loc.ID))
		}
		if got := e.entries(rad.ID, 1); !slices.Equal(got, []string{"pppoe/bob@2"}) {
			t.Errorf("entries after a new expiry %v", got)
		}

		// Disabling: the entry changes and the kick is still a command.
		off := true
		res, err = e.svc.UpdateAccount(ctx, tech, res.Account.ID, controlplane.AccountPatch{Disabled: &off})
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(res.Commands, rad.ID); !slices.Equal(got, []protocol.CommandKind{protocol.CmdPPPActiveKick}) {
			t.Errorf("commands on the RADIUS router after disabling: %v, want the kick", got)
		}
		if got := e.entries(rad.ID, 2); !slices.Equal(got, []string{"pppoe/bob@3"}) {
			t.Errorf("entries after disabling %v", got)
		}
		if st := routerState(res.Account, rad.ID); st.State != controlplane.SyncPending {
			t.Errorf("state after disabling %+v, want pending", st)
		}

		// Expiry (billing's path): disable entry plus kick command.
		exp, ok, err := expireNow(e, res.Account.ID)
		if err != nil || !ok {
			t.Fatalf("expire: %v %v", ok, err)
		}
		if got := kinds(exp.Commands, rad.ID); !slices.Equal(got, []protocol.CommandKind{protocol.CmdPPPActiveKick}) {
			t.Errorf("expiry commands on the RADIUS router: %v", got)
		}
		if got := e.entries(rad.ID, 3); !slices.Equal(got, []string{"pppoe/bob@4"}) {
			t.Errorf("entries after expiry %v", got)
		}

		// Deleting: a tombstone and a kick.
		res, err = e.svc.DeleteAccount(ctx, tech, res.Account.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(res.Commands, rad.ID); !slices.Equal(got, []protocol.CommandKind{protocol.CmdPPPActiveKick}) {
			t.Errorf("delete commands on the RADIUS router: %v", got)
		}
		if got := e.entries(rad.ID, 4); !slices.Equal(got, []string{"pppoe/bob@5-"}) {
			t.Errorf("entries after delete %v", got)
		}
	})
}

func expireNow(e *env, id int64) (controlplane.AccountResult, bool, error) {
	var res controlplane.AccountResult
	var ok bool
	err := e.st.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		res, ok, err = e.svc.ExpireAccountTx(context.Background(), tx, id, "test")
		return err
	})
	return res, ok, err
}

func TestSwitchRouterAuthMode(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, false)
		ctx := context.Background()
		a := e.tenant("A")
		r := e.router(a.ID, "R")
		tech := principal(controlplane.RoleTechnician, a.ID)
		admin := principal(controlplane.RoleTenantAdmin, a.ID)
		var ids []int64
		for _, n := range []string{"u1", "u2"} {
			res, err := e.svc.CreateAccount(ctx, tech, controlplane.AccountRequest{Kind: controlplane.AccountHotspot, Name: n,
				Password: "pw", RouterIDs: []string{r.ID}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.Account.ID)
		}
		_, err := e.svc.SetRouterAuthMode(ctx, tech, r.ID, protocol.AuthRadius)
		wantCode(t, "technician", err, controlplane.EFORBIDDEN)
		_, err = e.svc.SetRouterAuthMode(ctx, principal(controlplane.RoleTenantAdmin, a.ID+1), r.ID, protocol.AuthRadius)
		wantCode(t, "another tenant", err, controlplane.ENOTFOUND)
		_, err = e.svc.SetRouterAuthMode(ctx, admin, r.ID, "tacacs")
		wantCode(t, "unknown mode", err, controlplane.EINVALID)

		ch, err := e.svc.SetRouterAuthMode(ctx, admin, r.ID, protocol.AuthRadius)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Router.AuthMode != protocol.AuthRadius || ch.Router.Radius.Version != 2 {
			t.Errorf("router after the switch: %s %+v", ch.Router.AuthMode, ch.Router.Radius)
		}
		if got := kinds(ch.Commands, r.ID); !slices.Equal(got, []protocol.CommandKind{protocol.CmdHotspotUserRemove, protocol.CmdHotspotUserRemove}) {
			t.Errorf("switch commands %v, want two removes of the local users", got)
		}
		if got := e.entries(r.ID, 0); !slices.Equal(got, []string{"hotspot/u1@1", "hotspot/u2@2"}) {
			t.Errorf("entries %v", got)
		}
		for _, id := range ids {
			acct, err := e.st.GetAccount(ctx, 0, id)
			if err != nil {
				t.Fatal(err)
			}
			if st := routerState(acct, r.ID); st.State != controlplane.SyncPending || st.CommandID != "" {
				t.Errorf("account %d state %+v, want pending on the RADIUS copy", id, st)
			}
		}
		// Again: nothing happens.
		if ch, err = e.svc.SetRouterAuthMode(ctx, admin, r.ID, protocol.AuthRadius); err != nil || len(ch.Commands) != 0 {
			t.Errorf("same mode: %v %v", ch.Commands, err)
		}
		if got := e.entries(r.ID, 2); len(got) != 0 {
			t.Errorf("same mode changed entries: %v", got)
		}

		// Back to local: tombstones and adds.
		ch, err = e.svc.SetRouterAuthMode(ctx, admin, r.ID, protocol.AuthLocal)
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(ch.Commands, r.ID); !slices.Equal(got, []protocol.CommandKind{protocol.CmdHotspotUserAdd, protocol.CmdHotspotUserAdd}) {
			t.Errorf("switch back commands %v, want two adds", got)
		}
		if got := e.entries(r.ID, 2); !slices.Equal(got, []string{"hotspot/u1@3-", "hotspot/u2@4-"}) {
			t.Errorf("entries after switching back %v", got)
		}
		acct, err := e.st.GetAccount(ctx, 0, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if st := routerState(acct, r.ID); st.State != controlplane.SyncPending || st.CommandID != ch.Commands[0].ID {
			t.Errorf("state after switching back %+v, want the add deciding", st)
		}
		audit, err := e.st.ListAudit(ctx, a.ID, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, en := range audit {
			if en.Action == "router.auth_mode" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d router.auth_mode audit entries, want 2", n)
		}
	})
}
