package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

func TestCommandLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		ten := e.tenant("A")
		r := e.router(ten.ID, "R")
		e.online(r)
		tech := principal(controlplane.RoleTechnician, ten.ID)

		c, err := e.svc.CreateCommand(ctx, tech, r.ID, addUser("+254712345678", "pw-1"))
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != controlplane.CommandQueued || c.Actor != tech.Email || c.TenantID != ten.ID ||
			!c.ExpiresAt.Equal(c.CreatedAt.Add(DefaultTTL)) {
			t.Fatalf("CreateCommand = %+v", c)
		}
		e.waitFor("the command to be published", func() bool { return len(e.br.to(r.ID)) == 1 })
		if got := e.br.all()[0]; got.ID != c.ID || got.HotspotUser.Password != "pw-1" || !got.ExpiresAt.Equal(c.ExpiresAt) {
			t.Errorf("published %+v", got)
		}
		e.waitFor("sent", func() bool { return e.command(c.ID).Status == controlplane.CommandSent })

		e.report(c, protocol.ResultRunning, "", "")
		e.report(c, protocol.ResultSucceeded, "", "")
		got := e.command(c.ID)
		if got.Status != controlplane.CommandSucceeded || got.Params.HotspotUser.Password != "" || got.Attempts != 1 {
			t.Errorf("final command = %+v", got)
		}
		// A duplicate answer changes nothing and announces nothing.
		err = e.svc.ApplyCommandResult(ctx, &protocol.CommandResult{V: 1, ID: c.ID, Router: r.ID, Status: protocol.ResultSucceeded,
			TS: time.Now(), Duplicate: true})
		if err != nil {
			t.Fatal(err)
		}
		want := statuses(controlplane.CommandQueued, controlplane.CommandSent, controlplane.CommandRunning, controlplane.CommandSucceeded)
		e.waitFor("four CommandChanged", func() bool { return len(e.commandEvents(c.ID)) >= 4 })
		if got := e.commandEvents(c.ID); !equal(got, want) {
			t.Errorf("events = %v, want %v", got, want)
		}
		es, err := e.st.ListAudit(ctx, ten.ID, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for i := len(es) - 1; i >= 0; i-- {
			if es[i].Target == "command:"+c.ID {
				actions = append(actions, es[i].Action+"/"+es[i].Actor)
			}
		}
		wantAudit := []string{"command.create/technician@example.com", "command.sent/technician@example.com",
			"command.running/technician@example.com", "command.succeeded/technician@example.com"}
		if strings.Join(actions, " ") != strings.Join(wantAudit, " ") {
			t.Errorf("audit = %v, want %v", actions, wantAudit)
		}
		for _, entry := range es {
			if strings.Contains(entry.Detail, "pw-1") {
				t.Errorf("audit entry holds the password: %+v", entry)
			}
		}
		if n := testutil.ToFloat64(e.svc.m.transitions.WithLabelValues("succeeded")); n != 1 {
			t.Errorf("succeeded transitions = %v", n)
		}
		// An unknown command id is the agent's problem, not a retry.
		err = e.svc.ApplyCommandResult(ctx, &protocol.CommandResult{V: 1, ID: "cnope", Router: r.ID, Status: protocol.ResultRunning, TS: time.Now()})
		wantCode(t, "unknown command", err, controlplane.ENOTFOUND)
	})
}

func TestOfflineRouterGetsCommandsInOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		ten := e.tenant("A")
		r := e.router(ten.ID, "R")
		tech := principal(controlplane.RoleTechnician, ten.ID)
		var ids []string
		for i := range 4 {
			c, err := e.svc.CreateCommand(ctx, tech, r.ID, addUser(fmt.Sprintf("u%d", i), "pw"))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		// Let the scheduled deliveries and deliver jobs run against the offline router.
		e.waitFor("the deliver job to finish", func() bool {
			return testutil.ToFloat64(e.svc.m.jobs.WithLabelValues(QueueProvisioning, KindDeliver, "completed")) >= 1
		})
		if got := e.br.to(r.ID); len(got) != 0 {
			t.Fatalf("published %v to an offline router", got)
		}
		for _, id := range ids {
			if st := e.command(id).Status; st != controlplane.CommandQueued {
				t.Fatalf("command %s is %s while its router is offline", id, st)
			}
		}
		e.online(r)
		e.waitFor("every command delivered", func() bool { return len(e.br.to(r.ID)) == len(ids) })
		if got := e.br.to(r.ID); !equal(got, ids) {
			t.Errorf("delivery order %v, want %v", got, ids)
		}

		// The agent acknowledged only the first; it reconnects: the other
		// three are delivered again, in order, and only they.
		e.report(e.command(ids[0]), protocol.ResultSucceeded, "", "")
		e.br.connect(r.ID, false)
		e.online(r)
		e.waitFor("redelivery", func() bool { return len(e.br.to(r.ID)) == len(ids)+3 })
		if got := e.br.to(r.ID)[len(ids):]; !equal(got, ids[1:]) {
			t.Errorf("redelivered %v, want %v", got, ids[1:])
		}
		if c := e.command(ids[1]); c.Attempts != 2 || c.Status != controlplane.CommandSent {
			t.Errorf("redelivered command = %+v", c)
		}
		// A redelivery is not a transition: one sent event per command.
		if got := e.commandEvents(ids[1]); !equal(got, statuses(controlplane.CommandQueued, controlplane.CommandSent)) {
			t.Errorf("events of a redelivered command = %v", got)
		}
	})
}

func TestExpiredCommandNeverDelivered(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		ten := e.tenant("A")
		r := e.router(ten.ID, "R")
		tech := principal(controlplane.RoleTechnician, ten.ID)
		req := addUser("late", "pw")
		req.TTLSeconds = 60
		c, err := e.svc.CreateCommand(ctx, tech, r.ID, req)
		if err != nil {
			t.Fatal(err)
		}
		keep, err := e.svc.CreateCommand(ctx, tech, r.ID, addUser("kept", "pw"))
		if err != nil {
			t.Fatal(err)
		}
		if c.TTLSeconds != 60 || keep.TTLSeconds != int64(DefaultTTL/time.Second) {
			t.Errorf("ttl_seconds = %d and %d, want 60 and the default %d", c.TTLSeconds, keep.TTLSeconds, int64(DefaultTTL/time.Second))
		}
		e.clock.Advance(61 * time.Second)
		// Online before any sweep ran: the delivery that the router's
		// return triggers ends it expired at once, with its broadcast,
		// instead of leaving it queued until the sweep.
		e.online(r)
		e.waitFor("the live command", func() bool { return len(e.br.to(r.ID)) >= 1 })
		if got := e.command(c.ID); got.Status != controlplane.CommandExpired || got.Code != protocol.CodeExpired {
			t.Errorf("command past its TTL when its router came back = %s %q, want expired before any sweep", got.Status, got.Code)
		}
		e.waitFor("the expiry broadcast", func() bool {
			return equal(e.commandEvents(c.ID), statuses(controlplane.CommandQueued, controlplane.CommandExpired))
		})
		if err := e.svc.SweepCommands(ctx); err != nil {
			t.Fatal(err)
		}
		got := e.command(c.ID)
		if got.Status != controlplane.CommandExpired || got.Code != protocol.CodeExpired {
			t.Errorf("expired command = %+v", got)
		}
		n := len(e.br.to(r.ID))
		e.online(r)
		e.waitFor("the kept command redelivered", func() bool { return len(e.br.to(r.ID)) > n })
		for _, id := range e.br.to(r.ID) {
			if id != keep.ID {
				t.Fatalf("published %s; only %s may be (an expired command never is)", id, keep.ID)
			}
		}
		for _, tc := range []struct{ ttl int }{{-1}, {int(MaxTTL/time.Second) + 1}} {
			req.TTLSeconds = tc.ttl
			_, err := e.svc.CreateCommand(ctx, tech, r.ID, req)
			wantCode(t, fmt.Sprintf("ttl %d", tc.ttl), err, controlplane.EINVALID)
		}
	})
}

func TestSweepRedeliversUnacknowledged(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true, RedeliverAfter: time.Minute}, true)
		ctx := context.Background()
		ten := e.tenant("A")
		r := e.router(ten.ID, "R")
		e.online(r)
		c, err := e.svc.CreateCommand(ctx, principal(controlplane.RoleTenantAdmin, ten.ID), r.ID, controlplane.CommandRequest{Kind: protocol.CmdResync})
		if err != nil {
			t.Fatal(err)
		}
		e.waitFor("delivery", func() bool { return e.command(c.ID).Status == controlplane.CommandSent })
		e.idle()
		n := len(e.br.to(r.ID))
		if err := e.svc.SweepCommands(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(e.br.to(r.ID)); got != n {
			t.Fatalf("the sweep redelivered a command sent just now (%d deliveries, then %d)", n, got)
		}
		e.clock.Advance(2 * time.Minute)
		if err := e.svc.SweepCommands(ctx); err != nil {
			t.Fatal(err)
		}
		got := e.br.to(r.ID)
		if len(got) != n+1 || got[n] != c.ID {
			t.Errorf("after the sweep: %v, want one more delivery of %s", got, c.ID)
		}
	})
}

func TestCommandAuthorization(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		a, b := e.tenant("A"), e.tenant("B")
		ra, rb := e.router(a.ID, "RA"), e.router(b.ID, "RB")
		raw := controlplane.CommandRequest{Kind: protocol.CmdRaw, CommandParams: controlplane.CommandParams{Raw: &protocol.RawCommand{Path: "/system/identity/print"}}}
		cases := []struct {
			name   string
			p      controlplane.Principal
			router string
			req    controlplane.CommandRequest
			code   string
		}{
			{"viewer", principal(controlplane.RoleViewer, a.ID), ra.ID, addUser("u", "p"), controlplane.EFORBIDDEN},
			{"technician of another tenant", principal(controlplane.RoleTechnician, a.ID), rb.ID, addUser("u", "p"), controlplane.ENOTFOUND},
			{"unknown router", principal(controlplane.RoleTechnician, a.ID), "r000000000000", addUser("u", "p"), controlplane.ENOTFOUND},
			{"raw by a tenant admin", principal(controlplane.RoleTenantAdmin, a.ID), ra.ID, raw, controlplane.EFORBIDDEN},
			{"missing params", principal(controlplane.RoleTechnician, a.ID), ra.ID, controlplane.CommandRequest{Kind: protocol.CmdHotspotUserAdd}, controlplane.EINVALID},
			{"unknown kind", principal(controlplane.RoleTechnician, a.ID), ra.ID, controlplane.CommandRequest{Kind: "reboot"}, controlplane.EINVALID},
			{"wrong params", principal(controlplane.RoleTechnician, a.ID), ra.ID, controlplane.CommandRequest{Kind: protocol.CmdResync,
				CommandParams: controlplane.CommandParams{Kick: &protocol.Kick{User: "x"}}}, controlplane.EINVALID},
			{"raw by a system admin", principal(controlplane.RoleSystemAdmin, 0), rb.ID, raw, ""},
			{"technician of the tenant", principal(controlplane.RoleTechnician, b.ID), rb.ID, addUser("u", "p"), ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.CreateCommand(ctx, tc.p, tc.router, tc.req)
				wantCode(t, tc.name, err, tc.code)
			})
		}
		if _, n, _ := e.svc.ListCommands(ctx, a.ID, controlplane.CommandFilter{}); n != 0 {
			t.Errorf("tenant A has %d commands after refusals only", n)
		}
		revoked := e.router(a.ID, "gone")
		if _, err := e.st.RevokeRouter(ctx, 0, revoked.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.CreateCommand(ctx, principal(controlplane.RoleTechnician, a.ID), revoked.ID, addUser("u", "p"))
		wantCode(t, "revoked router", err, controlplane.ECONFLICT)
	})
}

func TestBulkCommand(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		a, b := e.tenant("A"), e.tenant("B")
		var routers []controlplane.Router
		var ids []string
		for i := range 6 {
			r := e.router(a.ID, fmt.Sprintf("r%d", i))
			routers = append(routers, r)
			ids = append(ids, r.ID)
			if i%2 == 0 {
				e.online(r)
			}
		}
		rb := e.router(b.ID, "foreign")
		tech := principal(controlplane.RoleTechnician, a.ID)
		req := controlplane.BulkRequest{RouterIDs: append(append([]string(nil), ids[:3]...), rb.ID), Command: controlplane.CommandRequest{Kind: protocol.CmdResync}}
		_, err := e.svc.BulkCommand(ctx, tech, req)
		wantCode(t, "bulk with a foreign router", err, controlplane.ENOTFOUND)
		if _, n, _ := e.svc.ListCommands(ctx, 0, controlplane.CommandFilter{}); n != 0 {
			t.Fatalf("a refused bulk left %d commands", n)
		}
		_, err = e.svc.BulkCommand(ctx, principal(controlplane.RoleViewer, a.ID), controlplane.BulkRequest{AllRouters: true, Command: controlplane.CommandRequest{Kind: protocol.CmdResync}})
		wantCode(t, "viewer bulk", err, controlplane.EFORBIDDEN)
		_, err = e.svc.BulkCommand(ctx, tech, controlplane.BulkRequest{Command: controlplane.CommandRequest{Kind: protocol.CmdResync}})
		wantCode(t, "bulk without routers", err, controlplane.EINVALID)

		res, err := e.svc.BulkCommand(ctx, tech, controlplane.BulkRequest{AllRouters: true, Command: controlplane.CommandRequest{Kind: protocol.CmdResync}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Commands) != 6 || res.BulkID == "" {
			t.Fatalf("bulk = %+v", res)
		}
		for i, r := range routers {
			if i%2 == 0 {
				e.waitFor("delivery to an online router", func() bool { return len(e.br.to(r.ID)) >= 1 })
			}
		}
		e.idle()
		for _, r := range routers[1:2] {
			if n := len(e.br.to(r.ID)); n != 0 {
				t.Fatalf("%d deliveries to an offline router", n)
			}
			e.online(r)
			e.waitFor("the router that came back", func() bool { return len(e.br.to(r.ID)) >= 1 })
		}
		list, n, err := e.svc.ListCommands(ctx, a.ID, controlplane.CommandFilter{BulkID: res.BulkID})
		if err != nil || n != 6 {
			t.Fatalf("bulk list: %d, %v", n, err)
		}
		sent := 0
		for _, c := range list {
			if c.Status == controlplane.CommandSent {
				sent++
			}
		}
		if sent != 4 {
			t.Errorf("%d of 6 sent, want 4", sent)
		}
		// A system admin's all_routers names the tenant.
		_, err = e.svc.BulkCommand(ctx, principal(controlplane.RoleSystemAdmin, 0), controlplane.BulkRequest{AllRouters: true, Command: controlplane.CommandRequest{Kind: protocol.CmdResync}})
		wantCode(t, "admin bulk without tenant", err, controlplane.EINVALID)
		res, err = e.svc.BulkCommand(ctx, principal(controlplane.RoleSystemAdmin, 0), controlplane.BulkRequest{AllRouters: true, TenantID: b.ID, Command: controlplane.CommandRequest{Kind: protocol.CmdResync}})
		if err != nil || len(res.Commands) != 1 || res.Commands[0].RouterID != rb.ID {
			t.Errorf("admin bulk to tenant B = %+v, %v", res, err)
		}
	})
}

func TestCancelCommand(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		ten := e.tenant("A")
		r := e.router(ten.ID, "R")
		tech := principal(controlplane.RoleTechnician, ten.ID)
		c, err := e.svc.CreateCommand(ctx, tech, r.ID, addUser("u", "pw"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.CancelCommand(ctx, principal(controlplane.RoleViewer, ten.ID), c.ID)
		wantCode(t, "viewer cancel", err, controlplane.EFORBIDDEN)
		_, err = e.svc.CancelCommand(ctx, principal(controlplane.RoleTechnician, ten.ID+1), c.ID)
		wantCode(t, "foreign cancel", err, controlplane.ENOTFOUND)
		got, err := e.svc.CancelCommand(ctx, tech, c.ID)
		if err != nil || got.Status != controlplane.CommandCancelled {
			t.Fatalf("cancel = %+v, %v", got, err)
		}
		e.online(r)
		e.waitFor("the cancel event", func() bool { return len(e.commandEvents(c.ID)) == 2 })
		// Give the online delivery a chance to (wrongly) publish.
		if err := e.svc.disp.flush(ctx, r.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got := e.br.to(r.ID); len(got) != 0 {
			t.Errorf("a cancelled command was published: %v", got)
		}
	})
}

func TestDeliverJobAndFailedJobs(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, false)
		ctx := context.Background()
		ten := e.tenant("A")
		r := e.router(ten.ID, "R")
		e.br.connect(r.ID, true)
		// Created before the service runs (as if the process had crashed
		// right after the commit): its deliver job, committed with it,
		// delivers it once River starts.
		c, err := e.svc.CreateCommand(ctx, principal(controlplane.RoleTechnician, ten.ID), r.ID, addUser("u", "pw"))
		if err != nil {
			t.Fatal(err)
		}
		e.start()
		e.waitFor("the deliver job", func() bool { return len(e.br.to(r.ID)) == 1 })
		if e.br.to(r.ID)[0] != c.ID {
			t.Fatalf("published %v", e.br.to(r.ID))
		}

		// A broker that refuses: the job fails, is listed, and counted.
		// (Once the first job has completed: while it runs, River's
		// uniqueness folds a new deliver job into it.)
		e.waitFor("the first deliver job completed", func() bool {
			return testutil.ToFloat64(e.svc.m.jobs.WithLabelValues(QueueProvisioning, KindDeliver, "completed")) >= 1
		})
		e.br.setFail(errors.New("broker on fire"))
		if _, err := e.svc.CreateCommand(ctx, principal(controlplane.RoleTechnician, ten.ID), r.ID, addUser("v", "pw")); err != nil {
			t.Fatal(err)
		}
		var failed []controlplane.FailedJob
		e.waitFor("a failed job", func() bool {
			failed, err = e.svc.FailedJobs(ctx, 10)
			return err == nil && len(failed) > 0
		})
		f := failed[0]
		if f.Kind != KindDeliver || f.Queue != QueueProvisioning || f.State != "retryable" || !strings.Contains(f.Error, "broker on fire") ||
			!strings.Contains(f.Args, r.ID) {
			t.Errorf("failed job = %+v", f)
		}
		e.waitFor("the failure counted", func() bool {
			return testutil.ToFloat64(e.svc.m.jobs.WithLabelValues(QueueProvisioning, KindDeliver, "failed")) >= 1
		})
		n, err := testutil.GatherAndCount(e.reg, "sitepulse_jobs_failed")
		if err != nil || n != 6 {
			t.Errorf("sitepulse_jobs_failed series: %d, %v", n, err)
		}
		if v := gaugeValue(t, e, "sitepulse_jobs_failed", QueueProvisioning, "retryable"); v != 1 {
			t.Errorf("retryable provisioning jobs gauge = %v, want 1", v)
		}
	})
}

// gaugeValue reads one series of a gathered gauge.
func gaugeValue(t *testing.T, e *env, name, queue, state string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["queue"] == queue && labels["state"] == state {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func TestTenantActivationJob(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		ten, err := e.svc.CreateTenant(ctx, "NewISP", nil)
		if err != nil {
			t.Fatal(err)
		}
		if ten.Status != controlplane.TenantPending {
			t.Fatalf("new tenant %+v", ten)
		}
		e.waitFor("the tenant active", func() bool {
			got, err := e.st.GetTenant(ctx, 0, ten.ID)
			return err == nil && got.Status == controlplane.TenantActive
		})
		e.waitFor("TenantCreated", func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			for _, c := range e.changes {
				if tc, ok := c.(controlplane.TenantCreated); ok && tc.Tenant.ID == ten.ID && tc.Tenant.Status == controlplane.TenantActive {
					return true
				}
			}
			return false
		})
		// One job: it committed with the tenant.
		es, _ := e.st.ListAudit(ctx, ten.ID, 100, 0)
		n := 0
		for _, a := range es {
			if a.Action == "tenant.activate" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d activation audit entries, want 1", n)
		}
	})
}

// TestCreateTenantWhileClosing: Close used to remove the store's
// tenant-create hook while API handlers could still be creating tenants
// (after a timed-out http.Server.Shutdown), a data race the race detector
// reports. Tenant creation now goes through the service's own transaction
// and Close writes nothing a creation reads; every creation that returns
// nil has its activation job.
func TestCreateTenantWhileClosing(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{DisablePeriodic: true}, true)
		ctx := context.Background()
		var wg sync.WaitGroup
		created := make(chan controlplane.Tenant, 64)
		for g := range 4 {
			wg.Go(func() {
				for i := range 8 {
					if tn, err := e.svc.CreateTenant(ctx, fmt.Sprintf("ISP %d-%d", g, i), nil); err == nil {
						created <- tn
					}
					if tn, err := e.st.CreateTenant(ctx, fmt.Sprintf("Tool %d-%d", g, i)); err == nil {
						_ = tn
					}
				}
			})
		}
		if err := e.svc.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		wg.Wait()
		close(created)
		n := 0
		for tn := range created {
			n++
			if jobs := e.activationJobs(tn.ID); jobs != 1 {
				t.Errorf("tenant %d has %d activation jobs, want 1 (committed with it)", tn.ID, jobs)
			}
		}
		if n == 0 {
			t.Error("no tenant was created while closing")
		}
	})
}
