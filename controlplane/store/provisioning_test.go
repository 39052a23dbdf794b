package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func init() {
	addCases(
		storeCase{"commands/lifecycle", testCommandLifecycle},
		storeCase{"commands/results", testCommandResults},
		storeCase{"commands/cancel-and-expire", testCommandCancelExpire},
		storeCase{"commands/order-and-filters", testCommandOrder},
		storeCase{"commands/write-rollback", testWriteRollback},
		storeCase{"commands/requeue", testCommandRequeue},
		storeCase{"tenants/create-in-tx", testTenantInTx},
		storeCase{"accounts/crud", testAccounts},
		storeCase{"accounts/sync-state", testAccountSync},
		storeCase{"maintenance/stale-routers", testStaleRouters},
		storeCase{"maintenance/rollup", testRollup},
		storeCase{"river/tables", testRiverTables},
	)
}

var tech = controlplane.Principal{UserID: 7, TenantID: 0, Role: controlplane.RoleTechnician, Email: "tech@example.com"}

// queue inserts a command in its own transaction.
func queue(t *testing.T, e *env, c controlplane.Command) controlplane.Command {
	t.Helper()
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = e.clock.Now().Add(time.Hour)
	}
	if c.Actor == "" {
		c.ActorID, c.Actor = tech.UserID, tech.Email
	}
	var out controlplane.Command
	err := e.s.Write(context.Background(), func(tx *Tx) error {
		var err error
		out, err = tx.InsertCommand(context.Background(), c)
		return err
	})
	if err != nil {
		t.Fatalf("InsertCommand: %v", err)
	}
	return out
}

func addUser(tenant int64, router, name, password string) controlplane.Command {
	return controlplane.Command{TenantID: tenant, RouterID: router, Kind: protocol.CmdHotspotUserAdd,
		Params: controlplane.CommandParams{HotspotUser: &protocol.HotspotUser{Name: name, Password: password, Profile: "default"}}}
}

func result(c controlplane.Command, st protocol.ResultStatus) *protocol.CommandResult {
	return &protocol.CommandResult{V: 1, ID: c.ID, Router: c.RouterID, Status: st, TS: t0}
}

func applyResult(t *testing.T, s *Store, r *protocol.CommandResult) controlplane.CommandUpdate {
	t.Helper()
	u, err := s.ApplyCommandResult(context.Background(), r)
	if err != nil {
		t.Fatalf("ApplyCommandResult %s %s: %v", r.ID, r.Status, err)
	}
	return u
}

// auditActions returns the actions recorded for target, oldest first.
func auditActions(t *testing.T, s *Store, tenant int64, target string) []string {
	t.Helper()
	es := must[[]controlplane.AuditEntry](t, "ListAudit")(s.ListAudit(context.Background(), tenant, 1000, 0))
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Target == target {
			out = append(out, es[i].Action+"/"+es[i].Actor+"/"+es[i].Result)
		}
	}
	return out
}

func testCommandLifecycle(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	c := queue(t, e, addUser(ten.ID, r.ID, "+254712345678", "pw-1"))
	if len(c.ID) != 25 || c.ID[0] != 'c' || c.Status != controlplane.CommandQueued || c.Attempts != 0 ||
		!c.CreatedAt.Equal(e.clock.Now()) || !c.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) || c.Actor != tech.Email {
		t.Fatalf("InsertCommand = %+v", c)
	}
	if c.Params.HotspotUser.Password != "pw-1" {
		t.Fatal("a queued command must keep its password until delivered")
	}
	if got := must[controlplane.Command](t, "GetCommand")(s.GetCommand(ctx, ten.ID, c.ID)); !reflect.DeepEqual(got, c) {
		t.Errorf("GetCommand = %+v, want %+v", got, c)
	}
	w := c.Wire()
	if err := w.Validate(); err != nil || w.HotspotUser.Password != "pw-1" {
		t.Errorf("Wire() = %+v, validate %v", w, err)
	}

	e.clock.Advance(time.Second)
	u := must[controlplane.CommandUpdate](t, "MarkCommandSent")(s.MarkCommandSent(ctx, c.ID, controlplane.CommandQueued))
	if !u.Changed || u.Command.Status != controlplane.CommandSent || u.Command.Attempts != 1 || u.Command.SentAt == nil {
		t.Fatalf("MarkCommandSent = %+v", u)
	}
	// A second dispatcher racing for the same queued command loses.
	if u := must[controlplane.CommandUpdate](t, "MarkCommandSent again")(s.MarkCommandSent(ctx, c.ID, controlplane.CommandQueued)); u.Changed {
		t.Fatal("a command was marked sent twice from queued")
	}
	// A redelivery counts the attempt without a transition.
	if u := must[controlplane.CommandUpdate](t, "redeliver")(s.MarkCommandSent(ctx, c.ID, controlplane.CommandSent)); !u.Changed || u.Command.Attempts != 2 {
		t.Fatalf("redelivery = %+v", u)
	}

	e.clock.Advance(time.Second)
	u = applyResult(t, s, result(c, protocol.ResultRunning))
	if !u.Changed || u.Command.Status != controlplane.CommandRunning || u.Command.StartedAt == nil {
		t.Fatalf("running = %+v", u)
	}
	// A repeated running report changes nothing.
	if u := applyResult(t, s, result(c, protocol.ResultRunning)); u.Changed {
		t.Fatal("running twice changed the command")
	}
	e.clock.Advance(time.Second)
	res := result(c, protocol.ResultSucceeded)
	res.Ret = "*1A"
	u = applyResult(t, s, res)
	if !u.Changed || u.Command.Status != controlplane.CommandSucceeded || u.Command.Ret != "*1A" || u.Command.FinishedAt == nil ||
		!u.Command.FinishedAt.Equal(e.clock.Now()) {
		t.Fatalf("succeeded = %+v", u)
	}
	if u.Command.Params.HotspotUser.Password != "" || u.Command.Params.HotspotUser.Name != "+254712345678" {
		t.Errorf("final params %+v: password must be removed, the rest kept", u.Command.Params.HotspotUser)
	}
	var raw string
	if err := s.DB().QueryRowContext(ctx, `SELECT params FROM commands WHERE id = $1`, c.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, "pw-1") {
		t.Errorf("stored params of a finished command hold the password: %s", raw)
	}
	// The agent answering a redelivery from its record changes nothing.
	dup := result(c, protocol.ResultSucceeded)
	dup.Duplicate = true
	if u := applyResult(t, s, dup); u.Changed || u.Command.Status != controlplane.CommandSucceeded {
		t.Errorf("duplicate = %+v", u)
	}
	want := []string{"command.sent/tech@example.com/ok", "command.running/tech@example.com/ok", "command.succeeded/tech@example.com/ok"}
	if got := auditActions(t, s, ten.ID, "command:"+c.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
}

func testCommandResults(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	other := newRouter(t, s, ten.ID, "S")

	fail := queue(t, e, addUser(ten.ID, r.ID, "dup", "x"))
	res := result(fail, protocol.ResultFailed)
	res.Code, res.Message = protocol.CodeRouterError, "failure: already have user with this name for this server"
	u := applyResult(t, s, res)
	if u.Command.Status != controlplane.CommandFailed || u.Command.Code != protocol.CodeRouterError || u.Command.Message != res.Message {
		t.Errorf("failed = %+v", u.Command)
	}
	if got := auditActions(t, s, ten.ID, "command:"+fail.ID); !reflect.DeepEqual(got, []string{"command.failed/tech@example.com/router_error"}) {
		t.Errorf("audit of failure = %v", got)
	}

	late := queue(t, e, addUser(ten.ID, r.ID, "late", "x"))
	res = result(late, protocol.ResultFailed)
	res.Code, res.Message = protocol.CodeExpired, "arrived after it expired"
	if u := applyResult(t, s, res); u.Command.Status != controlplane.CommandExpired || u.Command.Code != protocol.CodeExpired {
		t.Errorf("agent-expired = %+v", u.Command)
	}

	// Results naming another router, or an unknown command, are refused.
	c := queue(t, e, addUser(ten.ID, r.ID, "x", "x"))
	spoof := result(c, protocol.ResultSucceeded)
	spoof.Router = other.ID
	_, err := s.ApplyCommandResult(ctx, spoof)
	wantCode(t, "result from another router", err, controlplane.ENOTFOUND)
	_, err = s.ApplyCommandResult(ctx, &protocol.CommandResult{V: 1, ID: "cnope", Router: r.ID, Status: protocol.ResultRunning, TS: t0})
	wantCode(t, "unknown command", err, controlplane.ENOTFOUND)
	if got := must[controlplane.Command](t, "GetCommand")(s.GetCommand(ctx, 0, c.ID)); got.Status != controlplane.CommandQueued {
		t.Errorf("spoofed result changed the command to %s", got.Status)
	}

	// A lost original result: the duplicate answer finishes the command.
	d := result(c, protocol.ResultSucceeded)
	d.Duplicate = true
	if u := applyResult(t, s, d); !u.Changed || u.Command.Status != controlplane.CommandSucceeded {
		t.Errorf("duplicate for an unfinished command = %+v", u.Command)
	}
	// A late running report after the end changes nothing.
	if u := applyResult(t, s, result(c, protocol.ResultRunning)); u.Changed {
		t.Errorf("running after succeeded changed it: %+v", u.Command)
	}

	// Cancelled after delivery, but the agent had it and ran it: the
	// router's truth wins and is audited as such.
	ran := queue(t, e, addUser(ten.ID, r.ID, "ran", "x"))
	must[controlplane.CommandUpdate](t, "sent")(s.MarkCommandSent(ctx, ran.ID, controlplane.CommandQueued))
	must[controlplane.CommandUpdate](t, "cancel")(s.CancelCommand(ctx, ten.ID, ran.ID, tech))
	applyResult(t, s, result(ran, protocol.ResultRunning))
	if u := applyResult(t, s, result(ran, protocol.ResultSucceeded)); u.Command.Status != controlplane.CommandSucceeded {
		t.Errorf("ran after cancel = %+v", u.Command)
	}
	want := []string{"command.sent/tech@example.com/ok", "command.cancelled/tech@example.com/ok",
		"command.running/tech@example.com/ok", "command.succeeded/tech@example.com/ok"}
	if got := auditActions(t, s, ten.ID, "command:"+ran.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
}

func testCommandCancelExpire(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	r := newRouter(t, s, a.ID, "R")
	c := queue(t, e, addUser(a.ID, r.ID, "u", "pw"))
	_, err := s.CancelCommand(ctx, b.ID, c.ID, tech)
	wantCode(t, "cancel from another tenant", err, controlplane.ENOTFOUND)
	u := must[controlplane.CommandUpdate](t, "CancelCommand")(s.CancelCommand(ctx, a.ID, c.ID, tech))
	if u.Command.Status != controlplane.CommandCancelled || u.Command.Params.HotspotUser.Password != "" {
		t.Errorf("cancelled = %+v", u.Command)
	}
	_, err = s.CancelCommand(ctx, a.ID, c.ID, tech)
	wantCode(t, "cancel twice", err, controlplane.ECONFLICT)
	running := queue(t, e, addUser(a.ID, r.ID, "v", "pw"))
	applyResult(t, s, result(running, protocol.ResultRunning))
	_, err = s.CancelCommand(ctx, a.ID, running.ID, tech)
	wantCode(t, "cancel running", err, controlplane.ECONFLICT)

	soon := queue(t, e, controlplane.Command{TenantID: a.ID, RouterID: r.ID, Kind: protocol.CmdResync, ExpiresAt: e.clock.Now().Add(time.Minute)})
	sent := queue(t, e, controlplane.Command{TenantID: a.ID, RouterID: r.ID, Kind: protocol.CmdResync, ExpiresAt: e.clock.Now().Add(2 * time.Minute)})
	must[controlplane.CommandUpdate](t, "sent")(s.MarkCommandSent(ctx, sent.ID, controlplane.CommandQueued))
	later := queue(t, e, controlplane.Command{TenantID: a.ID, RouterID: r.ID, Kind: protocol.CmdResync, ExpiresAt: e.clock.Now().Add(time.Hour)})
	if us := must[[]controlplane.CommandUpdate](t, "ExpireCommands")(s.ExpireCommands(ctx, e.clock.Now())); len(us) != 0 {
		t.Fatalf("expired %d commands before their time", len(us))
	}
	e.clock.Advance(2 * time.Minute)
	// An expired command is never delivered, even before the sweep ran.
	if u := must[controlplane.CommandUpdate](t, "MarkCommandSent")(s.MarkCommandSent(ctx, soon.ID, controlplane.CommandQueued)); u.Changed {
		t.Fatal("an expired command was marked sent")
	}
	us := must[[]controlplane.CommandUpdate](t, "ExpireCommands")(s.ExpireCommands(ctx, e.clock.Now()))
	if len(us) != 2 || us[0].Command.ID != soon.ID || us[1].Command.ID != sent.ID {
		t.Fatalf("ExpireCommands = %+v, want soon and sent", us)
	}
	for _, u := range us {
		if u.Command.Status != controlplane.CommandExpired || u.Command.Code != protocol.CodeExpired || u.Command.FinishedAt == nil {
			t.Errorf("expired command = %+v", u.Command)
		}
	}
	if got := must[controlplane.Command](t, "later")(s.GetCommand(ctx, 0, later.ID)); got.Status != controlplane.CommandQueued {
		t.Errorf("a command with time left is %s", got.Status)
	}
	if got := auditActions(t, s, a.ID, "command:"+soon.ID); !reflect.DeepEqual(got, []string{"command.expired/tech@example.com/expired"}) {
		t.Errorf("audit of expiry = %v", got)
	}
}

func testCommandOrder(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	r, r2 := newRouter(t, s, a.ID, "R"), newRouter(t, s, a.ID, "R2")
	rb := newRouter(t, s, b.ID, "RB")
	var ids []string
	for i := range 5 {
		c := queue(t, e, addUser(a.ID, r.ID, fmt.Sprintf("u%d", i), "pw"))
		ids = append(ids, c.ID)
	}
	queue(t, e, addUser(a.ID, r2.ID, "other", "pw"))
	bulk := queue(t, e, controlplane.Command{TenantID: b.ID, RouterID: rb.ID, Kind: protocol.CmdResync, BulkID: "b1"})
	err := e.s.Write(ctx, func(tx *Tx) error {
		_, err := tx.InsertCommand(ctx, controlplane.Command{TenantID: b.ID, RouterID: r.ID, Kind: protocol.CmdResync, ExpiresAt: e.clock.Now().Add(time.Hour)})
		return err
	})
	wantCode(t, "router of another tenant", err, controlplane.ENOTFOUND)

	must[controlplane.CommandUpdate](t, "sent")(s.MarkCommandSent(ctx, ids[1], controlplane.CommandQueued))
	pend := must[[]controlplane.Command](t, "PendingCommands")(s.PendingCommands(ctx, r.ID))
	if got := commandIDs(pend); !reflect.DeepEqual(got, []string{ids[0], ids[2], ids[3], ids[4]}) {
		t.Errorf("queued = %v, want creation order without the sent one", got)
	}
	pend = must[[]controlplane.Command](t, "PendingCommands")(s.PendingCommands(ctx, r.ID, controlplane.CommandQueued, controlplane.CommandSent))
	if got := commandIDs(pend); !reflect.DeepEqual(got, ids) {
		t.Errorf("queued+sent = %v, want %v", got, ids)
	}
	e.clock.Advance(time.Minute)
	rs := must[[]string](t, "RoutersWithPendingCommands")(s.RoutersWithPendingCommands(ctx, e.clock.Now()))
	if len(rs) != 3 {
		t.Errorf("routers with pending commands = %v, want all three", rs)
	}

	list, total := must2(t, "ListCommands")(s.ListCommands(ctx, a.ID, controlplane.CommandFilter{RouterID: r.ID, Limit: 2}))
	if total != 5 || len(list) != 2 || list[0].ID != ids[4] || list[1].ID != ids[3] {
		t.Errorf("ListCommands page = %v of %d, want the two newest of 5", commandIDs(list), total)
	}
	list, total = must2(t, "ListCommands")(s.ListCommands(ctx, a.ID, controlplane.CommandFilter{Status: controlplane.CommandSent}))
	if total != 1 || list[0].ID != ids[1] {
		t.Errorf("sent = %v", commandIDs(list))
	}
	list, total = must2(t, "ListCommands")(s.ListCommands(ctx, 0, controlplane.CommandFilter{BulkID: "b1"}))
	if total != 1 || list[0].ID != bulk.ID {
		t.Errorf("bulk = %v", commandIDs(list))
	}
	if _, total = must2(t, "ListCommands")(s.ListCommands(ctx, b.ID, controlplane.CommandFilter{RouterID: r.ID})); total != 0 {
		t.Errorf("tenant B sees %d of tenant A's commands", total)
	}
	_, err = s.GetCommand(ctx, b.ID, ids[0])
	wantCode(t, "GetCommand of another tenant", err, controlplane.ENOTFOUND)
}

func must2(t *testing.T, what string) func([]controlplane.Command, int, error) ([]controlplane.Command, int) {
	return func(cs []controlplane.Command, n int, err error) ([]controlplane.Command, int) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return cs, n
	}
}

func commandIDs(cs []controlplane.Command) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func testWriteRollback(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	boom := errors.New("boom")
	err := s.Write(ctx, func(tx *Tx) error {
		c := addUser(ten.ID, r.ID, "u", "pw")
		c.ExpiresAt = tx.Now().Add(time.Hour)
		if _, err := tx.InsertCommand(ctx, c); err != nil {
			return err
		}
		if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: ten.ID, Action: "command.create", Target: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want the function's error", err)
	}
	if _, n := must2(t, "ListCommands")(s.ListCommands(ctx, 0, controlplane.CommandFilter{})); n != 0 {
		t.Errorf("%d commands after a rolled back Write", n)
	}
	if got := auditActions(t, s, ten.ID, "x"); len(got) != 0 {
		t.Errorf("audit after rollback: %v", got)
	}
}

func testTenantInTx(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	// What provisioning does: the tenant and what goes with it (its
	// activation job; here an audit entry) commit together or not at all.
	var ok controlplane.Tenant
	err := s.Write(ctx, func(tx *Tx) (err error) {
		if ok, err = tx.CreateTenant(ctx, "Fine"); err != nil {
			return err
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: ok.ID, Action: "tenant.job", Target: "tx"})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.CreateTenant(ctx, "Refused"); err != nil {
			return err
		}
		return errors.New("no job queue")
	})
	if err == nil {
		t.Fatal("Write succeeded although its second step failed")
	}
	ts := must[[]controlplane.Tenant](t, "ListTenants")(s.ListTenants(ctx))
	if len(ts) != 1 || ts[0].ID != ok.ID || ts[0].Status != controlplane.TenantPending {
		t.Errorf("tenants = %+v, want only Fine, pending", ts)
	}
	if got := auditActions(t, s, ok.ID, "tx"); len(got) != 1 {
		t.Errorf("audit = %v, want one entry committed with the tenant", got)
	}
	err = s.Write(ctx, func(tx *Tx) error { _, err := tx.CreateTenant(ctx, " fine "); return err })
	wantCode(t, "duplicate name in another case", err, controlplane.ECONFLICT)
	err = s.Write(ctx, func(tx *Tx) error { _, err := tx.CreateTenant(ctx, "  "); return err })
	wantCode(t, "blank name", err, controlplane.EINVALID)
}

func testAccounts(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	r1, r2 := newRouter(t, s, a.ID, "R1"), newRouter(t, s, a.ID, "R2")
	exp := e.clock.Now().Add(24 * time.Hour)
	in := controlplane.Account{TenantID: a.ID, Kind: controlplane.AccountHotspot, Name: "+254712345678", Password: "s3cret",
		Profile: "1h-plan", LimitUptime: "1h", LimitBytesTotal: 1 << 30, ExpiresAt: &exp, Phone: "+254712345678",
		Email: "jane@example.com", Comment: "walk-in"}
	var acct controlplane.Account
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		if acct, err = tx.InsertAccount(ctx, in); err != nil {
			return err
		}
		for _, r := range []controlplane.Router{r1, r2} {
			c, err := tx.InsertCommand(ctx, controlplane.Command{TenantID: a.ID, RouterID: r.ID, Kind: protocol.CmdHotspotUserAdd,
				AccountID: acct.ID, ExpiresAt: exp, Params: controlplane.CommandParams{HotspotUser: &protocol.HotspotUser{Name: in.Name}}})
			if err != nil {
				return err
			}
			if err := tx.SetAccountRouter(ctx, acct.ID, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := must[controlplane.Account](t, "GetAccount")(s.GetAccount(ctx, a.ID, acct.ID))
	if got.Password != "s3cret" || got.Profile != "1h-plan" || got.LimitBytesTotal != 1<<30 || got.ExpiresAt == nil ||
		!got.ExpiresAt.Equal(exp) || got.Email != "jane@example.com" || len(got.Routers) != 2 {
		t.Fatalf("GetAccount = %+v", got)
	}
	for _, ar := range got.Routers {
		if ar.State != controlplane.SyncPending || ar.CommandID == "" {
			t.Errorf("new account router state %+v, want pending with its command", ar)
		}
	}
	err = s.Write(ctx, func(tx *Tx) error { _, err := tx.InsertAccount(ctx, in); return err })
	wantCode(t, "duplicate account", err, controlplane.ECONFLICT)
	dupInB := in
	dupInB.TenantID = b.ID
	if err := s.Write(ctx, func(tx *Tx) error { _, err := tx.InsertAccount(ctx, dupInB); return err }); err != nil {
		t.Errorf("same name in another tenant: %v", err)
	}
	ppp := controlplane.Account{TenantID: a.ID, Kind: controlplane.AccountPPP, Name: "+254712345678"}
	if err := s.Write(ctx, func(tx *Tx) error { _, err := tx.InsertAccount(ctx, ppp); return err }); err != nil {
		t.Errorf("same name as a PPP secret: %v", err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		_, err := tx.InsertAccount(ctx, controlplane.Account{TenantID: a.ID, Kind: "radius", Name: "x"})
		return err
	})
	wantCode(t, "bad kind", err, controlplane.EINVALID)
	_, err = s.GetAccount(ctx, b.ID, acct.ID)
	wantCode(t, "account of another tenant", err, controlplane.ENOTFOUND)

	list, total, err := s.ListAccounts(ctx, a.ID, controlplane.AccountFilter{Kind: controlplane.AccountHotspot})
	if err != nil || total != 1 || len(list[0].Routers) != 2 || list[0].Password != "s3cret" {
		t.Errorf("ListAccounts hotspot = %+v, %d, %v", list, total, err)
	}
	if _, total, _ := s.ListAccounts(ctx, a.ID, controlplane.AccountFilter{}); total != 2 {
		t.Errorf("tenant A has %d accounts, want 2", total)
	}
	if _, total, _ := s.ListAccounts(ctx, 0, controlplane.AccountFilter{Name: "712345"}); total != 3 {
		t.Errorf("name filter over every tenant: %d, want 3", total)
	}
	if l, total, _ := s.ListAccounts(ctx, a.ID, controlplane.AccountFilter{RouterID: r2.ID}); total != 1 || l[0].ID != acct.ID {
		t.Errorf("router filter: %d", total)
	}

	e.clock.Advance(time.Minute)
	got.Profile, got.Disabled, got.Comment = "2h-plan", true, ""
	err = s.Write(ctx, func(tx *Tx) error {
		var err error
		got, err = tx.UpdateAccount(ctx, got)
		if err != nil {
			return err
		}
		return tx.RemoveAccountRouter(ctx, acct.ID, r1.ID)
	})
	if err != nil || got.Profile != "2h-plan" || !got.Disabled || got.Comment != "" || !got.UpdatedAt.Equal(e.clock.Now()) {
		t.Errorf("UpdateAccount = %+v, %v", got, err)
	}
	got = must[controlplane.Account](t, "GetAccount")(s.GetAccount(ctx, a.ID, acct.ID))
	if len(got.Routers) != 1 || got.Routers[0].RouterID != r2.ID {
		t.Errorf("routers after removing R1: %+v", got.Routers)
	}

	e.clock.Advance(24 * time.Hour)
	due := must[[]controlplane.Account](t, "ExpiringAccounts")(s.ExpiringAccounts(ctx, e.clock.Now(), 10))
	if len(due) != 2 || len(due[0].Routers)+len(due[1].Routers) != 1 {
		t.Errorf("expiring = %+v, want the account in A (with its router) and its copy in B", due)
	}

	if err := s.Write(ctx, func(tx *Tx) error { return tx.DeleteAccount(ctx, acct.ID) }); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetAccount(ctx, 0, acct.ID)
	wantCode(t, "deleted account", err, controlplane.ENOTFOUND)
	err = s.Write(ctx, func(tx *Tx) error { return tx.DeleteAccount(ctx, acct.ID) })
	wantCode(t, "delete twice", err, controlplane.ENOTFOUND)
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM account_routers WHERE account_id = $1`, acct.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d router states left after delete (%v)", n, err)
	}
}

func testAccountSync(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r1, r2 := newRouter(t, s, ten.ID, "R1"), newRouter(t, s, ten.ID, "R2")
	var acct controlplane.Account
	cmds := map[string]controlplane.Command{}
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		acct, err = tx.InsertAccount(ctx, controlplane.Account{TenantID: ten.ID, Kind: controlplane.AccountPPP, Name: "alice", Password: "pw"})
		if err != nil {
			return err
		}
		for _, r := range []controlplane.Router{r1, r2} {
			c, err := tx.InsertCommand(ctx, controlplane.Command{TenantID: ten.ID, RouterID: r.ID, Kind: protocol.CmdPPPSecretAdd,
				AccountID: acct.ID, ExpiresAt: tx.Now().Add(time.Hour),
				Params: controlplane.CommandParams{PPPSecret: &protocol.PPPSecret{Name: "alice", Password: "pw"}}})
			if err != nil {
				return err
			}
			cmds[r.ID] = c
			if err := tx.SetAccountRouter(ctx, acct.ID, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if u := applyResult(t, s, result(cmds[r1.ID], protocol.ResultRunning)); u.Account != nil {
		t.Errorf("running changed the sync state: %+v", u.Account)
	}
	u := applyResult(t, s, result(cmds[r1.ID], protocol.ResultSucceeded))
	if u.Account == nil || state(u.Account, r1.ID) != controlplane.SyncSynced || state(u.Account, r2.ID) != controlplane.SyncPending {
		t.Fatalf("after R1 succeeded: %+v", u.Account)
	}
	res := result(cmds[r2.ID], protocol.ResultFailed)
	res.Code, res.Message = protocol.CodeRouterError, "input does not match any value of profile"
	u = applyResult(t, s, res)
	if u.Account == nil || state(u.Account, r2.ID) != controlplane.SyncFailed || accountRouter(u.Account, r2.ID).Message != res.Message {
		t.Fatalf("after R2 failed: %+v", u.Account)
	}
	// A command that no longer decides the state (superseded by a newer
	// one) leaves it alone.
	var newer controlplane.Command
	err = s.Write(ctx, func(tx *Tx) error {
		var err error
		newer, err = tx.InsertCommand(ctx, controlplane.Command{TenantID: ten.ID, RouterID: r1.ID, Kind: protocol.CmdPPPSecretDisable,
			AccountID: acct.ID, ExpiresAt: tx.Now().Add(time.Hour), Params: controlplane.CommandParams{PPPSecret: &protocol.PPPSecret{Name: "alice"}}})
		if err != nil {
			return err
		}
		return tx.SetAccountRouter(ctx, acct.ID, newer)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := must[controlplane.Account](t, "GetAccount")(s.GetAccount(ctx, 0, acct.ID))
	if state(&got, r1.ID) != controlplane.SyncPending {
		t.Errorf("R1 after a new command: %s, want pending", state(&got, r1.ID))
	}
	dup := result(cmds[r1.ID], protocol.ResultSucceeded)
	if u := applyResult(t, s, dup); u.Account != nil {
		t.Errorf("an old command's report changed the state: %+v", u.Account)
	}
	must[[]controlplane.CommandUpdate](t, "ExpireCommands")(s.ExpireCommands(ctx, e.clock.Now().Add(2*time.Hour)))
	got = must[controlplane.Account](t, "GetAccount")(s.GetAccount(ctx, 0, acct.ID))
	if ar := accountRouter(&got, r1.ID); ar.State != controlplane.SyncFailed || !strings.Contains(ar.Message, "expired") {
		t.Errorf("R1 after its command expired: %+v", ar)
	}
}

func state(a *controlplane.Account, router string) string {
	if r := accountRouter(a, router); r.RouterID != "" {
		return r.State
	}
	return "absent"
}

func accountRouter(a *controlplane.Account, router string) controlplane.AccountRouter {
	for _, r := range a.Routers {
		if r.RouterID == router {
			return r
		}
	}
	return controlplane.AccountRouter{}
}

func testStaleRouters(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	stale, fresh, online, empty := newRouter(t, s, ten.ID, "stale"), newRouter(t, s, ten.ID, "fresh"),
		newRouter(t, s, ten.ID, "online"), newRouter(t, s, ten.ID, "empty")
	for _, r := range []controlplane.Router{stale, fresh, online} {
		g := &agent{router: r.ID}
		apply(t, s, g.batch(g.started(hotspot("u-"+r.Name, 1))))
	}
	status := func(r controlplane.Router, st protocol.AgentState, ts time.Time) {
		t.Helper()
		if _, _, err := s.SetRouterStatus(ctx, &protocol.Status{V: 1, Router: r.ID, State: st, TS: ts}); err != nil {
			t.Fatal(err)
		}
	}
	status(stale, protocol.StateOffline, t0)
	status(empty, protocol.StateOffline, t0)
	status(online, protocol.StateOnline, t0)
	e.clock.Advance(10 * time.Minute)
	status(fresh, protocol.StateOffline, t0)
	got := must[[]string](t, "StaleRouters")(s.StaleRouters(ctx, e.clock.Now().Add(-5*time.Minute)))
	if !reflect.DeepEqual(got, []string{stale.ID}) {
		t.Errorf("StaleRouters = %v, want only %s", got, stale.ID)
	}
}

func testRollup(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	ra, rb := newRouter(t, s, a.ID, "ra"), newRouter(t, s, b.ID, "rb")
	ga, gb := &agent{router: ra.ID}, &agent{router: rb.ID}
	// t0+1s.. : sessions end at t0 + n seconds; hotspot() starts an hour
	// before t0.
	apply(t, s, ga.batch(ga.started(hotspot("ann", 100)), ga.ended(hotspot("ann", 100), protocol.EndLogout),
		ga.started(hotspot("bob", 50)), ga.ended(hotspot("bob", 50), protocol.EndLogout),
		ga.started(pppoe("ann", "81", 10)), ga.ended(pppoe("ann", "81", 10), protocol.EndKicked)))
	apply(t, s, gb.batch(gb.started(hotspot("cy", 7)), gb.ended(hotspot("cy", 7), protocol.EndLogout)))
	hour := t0.Truncate(time.Hour)
	n := must[int](t, "RollupStats")(s.RollupStats(ctx, hour.Add(-time.Hour), hour.Add(time.Hour)))
	if n != 2 {
		t.Errorf("RollupStats wrote %d rows, want 2 (one per tenant in the hour with sessions)", n)
	}
	// Idempotent: the same range again gives the same rows.
	must[int](t, "RollupStats again")(s.RollupStats(ctx, hour, hour.Add(time.Hour)))
	hs := must[[]HourlyStats](t, "ListHourlyStats")(s.ListHourlyStats(ctx, 0, hour.Add(-time.Hour), hour.Add(time.Hour)))
	if len(hs) != 2 {
		t.Fatalf("hourly stats = %+v", hs)
	}
	wantA := HourlyStats{TenantID: a.ID, Hour: hour, Sessions: 3, HotspotSessions: 2, PPPoESessions: 1, Users: 2,
		BytesIn: 160, BytesOut: 310, Seconds: hs[0].Seconds}
	if hs[0] != wantA {
		t.Errorf("tenant A = %+v, want %+v", hs[0], wantA)
	}
	// hotspot sessions last 1h+2s and 1h+4s, the PPPoE one 2h+6s.
	if hs[0].Seconds != 3600+2+3600+4+7200+6 {
		t.Errorf("seconds = %d", hs[0].Seconds)
	}
	if hs := must[[]HourlyStats](t, "scoped")(s.ListHourlyStats(ctx, b.ID, hour, hour.Add(time.Hour))); len(hs) != 1 || hs[0].Sessions != 1 {
		t.Errorf("tenant B = %+v", hs)
	}
}

func testRiverTables(t *testing.T, e *env) {
	ctx := context.Background()
	for _, table := range []string{"river_job", "river_queue", "river_leader", "river_migration"} {
		var n int
		if err := e.s.DB().QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Errorf("River table %s: %v", table, err)
		}
	}
}

func testCommandRequeue(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	c := queue(t, e, addUser(ten.ID, r.ID, "u", "pw"))
	if u := must[controlplane.CommandUpdate](t, "requeue queued")(s.RequeueCommand(ctx, c.ID, "x")); u.Changed {
		t.Fatal("requeued a command that was never sent")
	}
	must[controlplane.CommandUpdate](t, "sent")(s.MarkCommandSent(ctx, c.ID, controlplane.CommandQueued))
	u := must[controlplane.CommandUpdate](t, "requeue")(s.RequeueCommand(ctx, c.ID, "broker not running"))
	if !u.Changed || u.Command.Status != controlplane.CommandQueued || u.Command.SentAt != nil || u.Command.Attempts != 1 ||
		u.Command.Params.HotspotUser.Password != "pw" {
		t.Fatalf("requeued = %+v", u.Command)
	}
	want := []string{"command.sent/tech@example.com/ok", "command.queued/tech@example.com/ok"}
	if got := auditActions(t, s, ten.ID, "command:"+c.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	_, err := s.RequeueCommand(ctx, "cnope", "x")
	wantCode(t, "unknown", err, controlplane.ENOTFOUND)
}
