package provisioning

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/jobs/maintenance"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

func routerState(a controlplane.Account, router string) controlplane.AccountRouter {
	for _, r := range a.Routers {
		if r.RouterID == router {
			return r
		}
	}
	return controlplane.AccountRouter{State: "absent"}
}

// kinds returns the kinds of cmds on router, in order.
func kinds(cmds []controlplane.Command, router string) []protocol.CommandKind {
	var out []protocol.CommandKind
	for _, c := range cmds {
		if c.RouterID == router {
			out = append(out, c.Kind)
		}
	}
	return out
}

func TestAccountLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		a, b := e.tenant("A"), e.tenant("B")
		r1, r2 := e.router(a.ID, "R1"), e.router(a.ID, "R2")
		rb := e.router(b.ID, "RB")
		tech := principal(controlplane.RoleTechnician, a.ID)
		exp := e.clock.Now().Add(time.Hour)
		req := controlplane.AccountRequest{Kind: controlplane.AccountHotspot, Name: "+254712345678", Password: "pw-1", Profile: "1h",
			LimitUptime: "1h", ExpiresAt: &exp, Phone: "+254712345678", Email: "jane@example.com", RouterIDs: []string{r1.ID, r2.ID}}

		_, err := e.svc.CreateAccount(ctx, principal(controlplane.RoleViewer, a.ID), req)
		wantCode(t, "viewer", err, controlplane.EFORBIDDEN)
		bad := req
		bad.RouterIDs = []string{r1.ID, rb.ID}
		_, err = e.svc.CreateAccount(ctx, tech, bad)
		wantCode(t, "foreign router", err, controlplane.ENOTFOUND)
		bad = req
		bad.Name = "bad\nname"
		_, err = e.svc.CreateAccount(ctx, tech, bad)
		wantCode(t, "control character", err, controlplane.EINVALID)
		bad = req
		bad.Kind = controlplane.AccountPPP
		_, err = e.svc.CreateAccount(ctx, tech, bad)
		wantCode(t, "PPP with a hotspot limit", err, controlplane.EINVALID)

		res, err := e.svc.CreateAccount(ctx, tech, req)
		if err != nil {
			t.Fatal(err)
		}
		acct := res.Account
		if acct.TenantID != a.ID || len(acct.Routers) != 2 || len(res.Commands) != 2 || acct.Password != "pw-1" {
			t.Fatalf("CreateAccount = %+v", res)
		}
		for _, c := range res.Commands {
			if c.Kind != protocol.CmdHotspotUserAdd || c.AccountID != acct.ID || c.Params.HotspotUser.Password != "pw-1" ||
				c.Params.HotspotUser.Profile != "1h" || c.Params.HotspotUser.LimitUptime != "1h" {
				t.Errorf("add command %+v", c)
			}
			if st := routerState(acct, c.RouterID); st.State != controlplane.SyncPending || st.CommandID != c.ID {
				t.Errorf("state on %s = %+v", c.RouterID, st)
			}
		}
		_, err = e.svc.CreateAccount(ctx, tech, req)
		wantCode(t, "duplicate", err, controlplane.ECONFLICT)

		// R1 takes it, R2 refuses it with RouterOS's message.
		e.report(res.Commands[0], protocol.ResultSucceeded, "", "")
		e.report(res.Commands[1], protocol.ResultFailed, protocol.CodeRouterError, "input does not match any value of profile")
		got, err := e.svc.GetAccount(ctx, a.ID, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s := routerState(got, res.Commands[0].RouterID); s.State != controlplane.SyncSynced {
			t.Errorf("first router: %+v", s)
		}
		if s := routerState(got, res.Commands[1].RouterID); s.State != controlplane.SyncFailed || s.Message != "input does not match any value of profile" {
			t.Errorf("second router: %+v", s)
		}
		e.waitFor("account events", func() bool { return len(e.accountEvents(acct.ID)) == 3 })
		evs := e.accountEvents(acct.ID)
		if evs[0].Op != controlplane.AccountCreated || evs[1].Op != controlplane.AccountUpdated || evs[2].Op != controlplane.AccountUpdated {
			t.Errorf("account events %+v", evs)
		}

		// A profile change becomes a set where the account is, and a retry
		// of the add where the add failed.
		prof := "2h"
		up, err := e.svc.UpdateAccount(ctx, tech, acct.ID, controlplane.AccountPatch{Profile: &prof})
		if err != nil {
			t.Fatal(err)
		}
		synced, failed := res.Commands[0].RouterID, res.Commands[1].RouterID
		if got := kinds(up.Commands, synced); !equal(got, []protocol.CommandKind{protocol.CmdHotspotUserSet}) {
			t.Errorf("update on the synced router: %v", got)
		}
		if got := kinds(up.Commands, failed); !equal(got, []protocol.CommandKind{protocol.CmdHotspotUserAdd}) {
			t.Errorf("update on the router whose add failed: %v", got)
		}
		for _, c := range up.Commands {
			if u := c.Params.HotspotUser; u.Profile != "2h" || u.Password != "pw-1" || (c.Kind == protocol.CmdHotspotUserSet && (u.Disabled == nil || *u.Disabled)) {
				t.Errorf("update command %s %+v", c.Kind, u)
			}
		}
		for _, r := range up.Account.Routers {
			if r.State != controlplane.SyncPending {
				t.Errorf("after update %+v, want pending", r)
			}
		}
		// A phone change stays in the control plane.
		phone := "+254700000001"
		up, err = e.svc.UpdateAccount(ctx, tech, acct.ID, controlplane.AccountPatch{Phone: &phone})
		if err != nil || len(up.Commands) != 0 || up.Account.Phone != phone {
			t.Errorf("phone update = %+v, %v", up, err)
		}
		// Disabling also kicks.
		yes := true
		up, err = e.svc.UpdateAccount(ctx, tech, acct.ID, controlplane.AccountPatch{Disabled: &yes})
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(up.Commands, r1.ID); !equal(got, []protocol.CommandKind{protocol.CmdHotspotUserSet, protocol.CmdHotspotActiveKick}) {
			t.Errorf("disable on R1 = %v", got)
		}
		_, err = e.svc.UpdateAccount(ctx, principal(controlplane.RoleTechnician, b.ID), acct.ID, controlplane.AccountPatch{Disabled: &yes})
		wantCode(t, "foreign update", err, controlplane.ENOTFOUND)

		// Moving it from R1 to R3: remove on R1, add on R3.
		r3 := e.router(a.ID, "R3")
		mv, err := e.svc.SetAccountRouters(ctx, tech, acct.ID, []string{r2.ID, r3.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(mv.Commands, r1.ID); !equal(got, []protocol.CommandKind{protocol.CmdHotspotUserRemove}) {
			t.Errorf("R1 commands %v", got)
		}
		if got := kinds(mv.Commands, r3.ID); !equal(got, []protocol.CommandKind{protocol.CmdHotspotUserAdd}) {
			t.Errorf("R3 commands %v", got)
		}
		if add := mv.Commands[0]; add.RouterID == r3.ID && (add.Params.HotspotUser.Disabled == nil || !*add.Params.HotspotUser.Disabled) {
			t.Errorf("a disabled account is added disabled: %+v", add.Params.HotspotUser)
		}
		if routerState(mv.Account, r1.ID).State != "absent" || len(mv.Account.Routers) != 2 {
			t.Errorf("routers after move: %+v", mv.Account.Routers)
		}

		del, err := e.svc.DeleteAccount(ctx, tech, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(del.Commands, r2.ID); !equal(got, []protocol.CommandKind{protocol.CmdHotspotUserRemove, protocol.CmdHotspotActiveKick}) {
			t.Errorf("delete on R2 = %v", got)
		}
		_, err = e.svc.GetAccount(ctx, 0, acct.ID)
		wantCode(t, "deleted", err, controlplane.ENOTFOUND)
		e.waitFor("UserDeleted", func() bool {
			evs := e.accountEvents(acct.ID)
			return len(evs) > 0 && evs[len(evs)-1].Op == controlplane.AccountDeleted
		})
	})
}

func TestAccountExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		ten := e.tenant("A")
		r := e.router(ten.ID, "R")
		tech := principal(controlplane.RoleTechnician, ten.ID)
		exp := e.clock.Now().Add(time.Hour)
		var ids []int64
		for i, kind := range []controlplane.AccountKind{controlplane.AccountHotspot, controlplane.AccountPPP} {
			res, err := e.svc.CreateAccount(ctx, tech, controlplane.AccountRequest{Kind: kind, Name: fmt.Sprintf("user%d", i), Password: "pw",
				ExpiresAt: &exp, RouterIDs: []string{r.ID}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.Account.ID)
		}
		if n, err := e.svc.ExpireAccounts(ctx); err != nil || n != 0 {
			t.Fatalf("ExpireAccounts before expiry: %d, %v", n, err)
		}
		e.clock.Advance(time.Hour)
		n, err := e.svc.ExpireAccounts(ctx)
		if err != nil || n != 2 {
			t.Fatalf("ExpireAccounts = %d, %v", n, err)
		}
		cmds, _, err := e.svc.ListCommands(ctx, ten.ID, controlplane.CommandFilter{RouterID: r.ID})
		if err != nil {
			t.Fatal(err)
		}
		// Newest first: per account, disable then kick.
		want := []protocol.CommandKind{protocol.CmdPPPActiveKick, protocol.CmdPPPSecretDisable,
			protocol.CmdHotspotActiveKick, protocol.CmdHotspotUserDisable, protocol.CmdPPPSecretAdd, protocol.CmdHotspotUserAdd}
		if got := kinds(cmds, r.ID); !equal(got, want) {
			t.Errorf("commands = %v, want %v", got, want)
		}
		if cmds[0].Actor != "system" || cmds[0].Params.Kick.User != "user1" {
			t.Errorf("kick = %+v", cmds[0])
		}
		a, err := e.svc.GetAccount(ctx, 0, ids[0])
		if err != nil || !a.Expired || !a.Disabled || routerState(a, r.ID).CommandID != cmds[2+1].ID {
			t.Errorf("expired account = %+v, %v", a, err)
		}
		if n, err := e.svc.ExpireAccounts(ctx); err != nil || n != 0 {
			t.Errorf("expiring again: %d, %v", n, err)
		}
		// Renewal enables it again on the router.
		later := e.clock.Now().Add(24 * time.Hour)
		up, err := e.svc.UpdateAccount(ctx, tech, ids[0], controlplane.AccountPatch{ExpiresAt: &later})
		if err != nil {
			t.Fatal(err)
		}
		if up.Account.Expired || up.Account.Disabled || len(up.Commands) != 1 || *up.Commands[0].Params.HotspotUser.Disabled {
			t.Errorf("renewal = %+v", up)
		}
	})
}

func TestMaintenanceJobs(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true, StaleAfter: 10 * time.Minute, HistoryRetention: 24 * time.Hour}, true)
		ctx := context.Background()
		ten := e.tenant("A")
		r := e.router(ten.ID, "R")
		now := e.clock.Now()
		sess := protocol.Session{Kind: protocol.KindPPPoE, Key: protocol.PPPKey("alice", "81"), User: "alice", SessionID: "81",
			StartedAt: now.Add(-time.Hour)}
		_, err := e.st.ApplyBatch(ctx, &protocol.EventBatch{V: 1, Router: r.ID, Events: []protocol.Event{
			{Seq: 1, TS: now.Add(-time.Hour), Type: protocol.EventSessionStarted, Session: &sess}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.st.SetRouterStatus(ctx, &protocol.Status{V: 1, Router: r.ID, State: protocol.StateOffline, TS: now}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.EndStaleSessions(ctx); err != nil || n != 0 {
			t.Fatalf("stale sweep right after going offline: %d, %v", n, err)
		}
		e.clock.Advance(11 * time.Minute)
		if n, err := e.svc.EndStaleSessions(ctx); err != nil || n != 1 {
			t.Fatalf("stale sweep: %d, %v", n, err)
		}
		hist, _, err := e.st.ListHistory(ctx, 0, controlplane.HistoryFilter{})
		if err != nil || len(hist) != 1 || hist[0].EndReason != maintenance.EndStale {
			t.Fatalf("history = %+v, %v", hist, err)
		}
		e.waitFor("SessionEnded", func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			for _, c := range e.changes {
				if se, ok := c.(controlplane.SessionEnded); ok && se.Record.User == "alice" {
					return true
				}
			}
			return false
		})
		if n, err := e.svc.RollupStats(ctx); err != nil || n != 1 {
			t.Errorf("roll-up wrote %d rows, %v", n, err)
		}
		if n, err := e.svc.PruneHistory(ctx); err != nil || n != 0 {
			t.Errorf("prune within retention: %d, %v", n, err)
		}
		e.clock.Advance(25 * time.Hour)
		if n, err := e.svc.PruneHistory(ctx); err != nil || n != 1 {
			t.Errorf("prune past retention: %d, %v", n, err)
		}
	})
}

func TestPeriodicJobsRun(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{}, true)
		// Every periodic job runs on start; each completes once.
		for _, k := range []struct{ queue, kind string }{
			{QueueProvisioning, KindCommandSweep}, {QueueProvisioning, KindAccountExpiry},
			{maintenance.Queue, maintenance.KindStaleSessions}, {maintenance.Queue, maintenance.KindPruneHistory}, {maintenance.Queue, maintenance.KindRollupStats},
		} {
			e.waitFor(k.kind+" completed", func() bool { return jobCount(e, k.queue, k.kind, "completed") >= 1 })
		}
	})
}

func jobCount(e *env, queue, kind, outcome string) float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sitepulse_jobs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["queue"] == queue && l["kind"] == kind && l["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
