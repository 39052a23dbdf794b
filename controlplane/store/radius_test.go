package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func init() {
	addCases(
		storeCase{"radius/mode", testRadiusMode},
		storeCase{"radius/bump-pages-tombstones", testRadiusPages},
		storeCase{"radius/concurrent-bumps", testRadiusConcurrentBumps},
		storeCase{"radius/agent-state", testRadiusAgentState},
		storeCase{"radius/voucher-uses", testRadiusVoucherUses},
	)
}

func radiusRouter(t *testing.T, s *Store, tenant int64, name string) controlplane.Router {
	t.Helper()
	r, _, err := s.CreateRouterMode(context.Background(), tenant, name, "", protocol.AuthRadius)
	if err != nil {
		t.Fatalf("CreateRouterMode: %v", err)
	}
	return r
}

func testRadiusMode(t *testing.T, e *env) {
	ctx := context.Background()
	ten := newTenant(t, e.s, "A")
	local := newRouter(t, e.s, ten.ID, "local")
	if local.AuthMode != protocol.AuthLocal || local.Radius != (controlplane.RadiusStatus{InSync: true}) {
		t.Errorf("new router: mode %q radius %+v, want local and an empty copy in sync", local.AuthMode, local.Radius)
	}
	if _, _, err := e.s.CreateRouterMode(ctx, ten.ID, "x", "", "ldap"); controlplane.ErrorCode(err) != controlplane.EINVALID {
		t.Errorf("CreateRouterMode(ldap) = %v, want EINVALID", err)
	}
	rad := radiusRouter(t, e.s, ten.ID, "rad")
	if rad.AuthMode != protocol.AuthRadius {
		t.Errorf("mode %q, want radius", rad.AuthMode)
	}
	err := e.s.Write(ctx, func(tx *Tx) error {
		r, err := tx.SetRouterAuthMode(ctx, ten.ID, local.ID, protocol.AuthRadius)
		if err != nil || r.AuthMode != protocol.AuthRadius {
			return fmt.Errorf("SetRouterAuthMode = %+v, %v", r, err)
		}
		rs, err := tx.RadiusRouters(ctx, ten.ID)
		if err != nil || len(rs) != 2 {
			return fmt.Errorf("RadiusRouters = %d routers, %v; want 2", len(rs), err)
		}
		if _, err := tx.SetRouterAuthMode(ctx, ten.ID+1, local.ID, protocol.AuthLocal); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			return fmt.Errorf("another tenant's router: %v, want ENOTFOUND", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := must[controlplane.Router](t, "GetRouter")(e.s.GetRouter(ctx, 0, local.ID)); got.AuthMode != protocol.AuthRadius {
		t.Errorf("stored mode %q", got.AuthMode)
	}
}

// radiusFixture is a tenant with a plan, an account on that plan and a
// voucher batch, and a RADIUS router.
type radiusFixture struct {
	ten     controlplane.Tenant
	r       controlplane.Router
	plan    controlplane.Plan
	acc     controlplane.Account
	ppp     controlplane.Account
	voucher controlplane.Voucher
}

func newRadiusFixture(t *testing.T, e *env) radiusFixture {
	t.Helper()
	ctx := context.Background()
	var f radiusFixture
	f.ten = newTenant(t, e.s, "A")
	f.r = radiusRouter(t, e.s, f.ten.ID, "rad")
	err := e.s.Write(ctx, func(tx *Tx) error {
		var err error
		f.plan, err = tx.InsertPlan(ctx, controlplane.Plan{TenantID: f.ten.ID, Name: "1h", Kind: controlplane.PlanHotspot,
			Price: controlplane.Money{Amount: 100, Currency: "KES"}, Duration: "1h", DurationSeconds: 3600,
			RateLimit: "2M/5M", SharedUsers: 2, DataCapBytes: 1 << 30, Active: true})
		if err != nil {
			return err
		}
		until := e.clock.Now().Add(time.Hour)
		if f.acc, err = tx.InsertAccount(ctx, controlplane.Account{TenantID: f.ten.ID, Kind: controlplane.AccountHotspot,
			Name: "alice", Password: "pw", Profile: f.plan.Profile, ExpiresAt: &until}); err != nil {
			return err
		}
		if f.ppp, err = tx.InsertAccount(ctx, controlplane.Account{TenantID: f.ten.ID, Kind: controlplane.AccountPPP,
			Name: "alice", Password: "pw2", Profile: "default"}); err != nil {
			return err
		}
		b, err := tx.InsertVoucherBatch(ctx, controlplane.VoucherBatch{TenantID: f.ten.ID, PlanID: f.plan.ID, Count: 1, Length: 8,
			Price: f.plan.Price, Actor: "t"})
		if err != nil {
			return err
		}
		if ok, err := tx.InsertVoucher(ctx, b, "ACDEFGHJ"); err != nil || !ok {
			return fmt.Errorf("InsertVoucher = %v, %v", ok, err)
		}
		f.voucher, err = tx.VoucherByCode(ctx, f.ten.ID, "ACDEFGHJ", false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func bump(t *testing.T, s *Store, router string, keys ...RadiusKey) uint64 {
	t.Helper()
	var head uint64
	err := s.Write(context.Background(), func(tx *Tx) error {
		var err error
		head, err = tx.BumpRadius(context.Background(), router, keys...)
		return err
	})
	if err != nil {
		t.Fatalf("BumpRadius: %v", err)
	}
	return head
}

func rowNames(rows []RadiusRow) []string {
	var out []string
	for _, r := range rows {
		s := fmt.Sprintf("%s/%s@%d", r.Kind, r.Name, r.Version)
		if r.Deleted {
			s += "-"
		}
		out = append(out, s)
	}
	return out
}

func testRadiusPages(t *testing.T, e *env) {
	ctx := context.Background()
	f := newRadiusFixture(t, e)
	if h := bump(t, e.s, f.r.ID, AccountKey(f.acc, false), AccountKey(f.ppp, false)); h != 2 {
		t.Fatalf("head after two = %d, want 2", h)
	}
	if h := bump(t, e.s, f.r.ID, VoucherKey(f.voucher, false)); h != 3 {
		t.Fatalf("head after three = %d, want 3", h)
	}
	// alice (hotspot) changes again: one row, the newest version.
	if h := bump(t, e.s, f.r.ID, AccountKey(f.acc, false)); h != 4 {
		t.Fatalf("head = %d, want 4", h)
	}
	p := must[RadiusPage](t, "RadiusRows")(e.s.RadiusRows(ctx, f.r.ID, 0, 0))
	if got, want := fmt.Sprint(rowNames(p.Rows)), "[pppoe/alice@2 hotspot/ACDEFGHJ@3 hotspot/alice@4]"; got != want {
		t.Errorf("rows from 0 = %s, want %s", got, want)
	}
	if p.Router.Radius.Version != 4 || p.Router.AuthMode != protocol.AuthRadius {
		t.Errorf("page router %+v", p.Router.Radius)
	}
	hot := p.Rows[2]
	if hot.Account == nil || hot.Account.Password != "pw" || hot.Plan == nil || hot.Plan.ID != f.plan.ID {
		t.Errorf("hotspot row content: account %v plan %v", hot.Account, hot.Plan)
	}
	if ppp := p.Rows[0]; ppp.Account == nil || ppp.Account.ID != f.ppp.ID || ppp.Plan != nil {
		t.Errorf("ppp row: account %v plan %v (profile default has no plan)", ppp.Account, ppp.Plan)
	}
	if v := p.Rows[1]; v.Voucher == nil || v.Voucher.Code != "ACDEFGHJ" || v.Plan == nil || v.Plan.DurationSeconds != 3600 {
		t.Errorf("voucher row: voucher %v plan %v", v.Voucher, v.Plan)
	}
	// Pages: from 2, at most one row.
	p = must[RadiusPage](t, "RadiusRows")(e.s.RadiusRows(ctx, f.r.ID, 2, 1))
	if got, want := fmt.Sprint(rowNames(p.Rows)), "[hotspot/ACDEFGHJ@3]"; got != want {
		t.Errorf("rows from 2 limit 1 = %s, want %s", got, want)
	}
	// A tombstone (the account deleted) keeps its row, with no content.
	bump(t, e.s, f.r.ID, AccountKey(f.acc, true))
	err := e.s.Write(ctx, func(tx *Tx) error { return tx.DeleteAccount(ctx, f.acc.ID) })
	if err != nil {
		t.Fatal(err)
	}
	p = must[RadiusPage](t, "RadiusRows")(e.s.RadiusRows(ctx, f.r.ID, 4, 0))
	if got, want := fmt.Sprint(rowNames(p.Rows)), "[hotspot/alice@5-]"; got != want || p.Rows[0].Account != nil {
		t.Errorf("rows from 4 = %s (account %v), want %s", got, p.Rows[0].Account, want)
	}
	// Nothing above the head.
	if p = must[RadiusPage](t, "RadiusRows")(e.s.RadiusRows(ctx, f.r.ID, 5, 0)); len(p.Rows) != 0 {
		t.Errorf("rows above the head: %v", rowNames(p.Rows))
	}
	if _, err := e.s.RadiusRows(ctx, "r000000000000", 0, 0); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		t.Errorf("unknown router: %v, want ENOTFOUND", err)
	}
}

func testRadiusConcurrentBumps(t *testing.T, e *env) {
	ctx := context.Background()
	ten := newTenant(t, e.s, "A")
	r := radiusRouter(t, e.s, ten.ID, "rad")
	const n = 24
	heads := make([]uint64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.s.Write(ctx, func(tx *Tx) error {
				var err error
				heads[i], err = tx.BumpRadius(ctx, r.ID, RadiusKey{Kind: protocol.KindHotspot, Name: fmt.Sprintf("u%02d", i%6), Deleted: true})
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint64]bool{}
	for _, h := range heads {
		if h < 1 || h > n || seen[h] {
			t.Fatalf("heads %v: want each of 1..%d once", heads, n)
		}
		seen[h] = true
	}
	p := must[RadiusPage](t, "RadiusRows")(e.s.RadiusRows(ctx, r.ID, 0, 0))
	if len(p.Rows) != 6 || p.Router.Radius.Version != n {
		t.Fatalf("rows %v head %d, want 6 entries and head %d", rowNames(p.Rows), p.Router.Radius.Version, n)
	}
	// Each entry holds the version of the last transaction that changed
	// it, and the rows come in version order.
	last := map[string]uint64{}
	for i, h := range heads {
		name := fmt.Sprintf("u%02d", i%6)
		last[name] = max(last[name], h)
	}
	for i, row := range p.Rows {
		if row.Version != last[row.Name] || (i > 0 && row.Version <= p.Rows[i-1].Version) {
			t.Errorf("row %s@%d, want version %d in increasing order", row.Name, row.Version, last[row.Name])
		}
	}
}

func testRadiusAgentState(t *testing.T, e *env) {
	ctx := context.Background()
	f := newRadiusFixture(t, e)
	err := e.s.Write(ctx, func(tx *Tx) error {
		if err := tx.SetAccountRouterRadius(ctx, f.acc.ID, f.r.ID); err != nil {
			return err
		}
		if err := tx.SetAccountRouterRadius(ctx, f.ppp.ID, f.r.ID); err != nil {
			return err
		}
		_, err := tx.BumpRadius(ctx, f.r.ID, AccountKey(f.acc, false), AccountKey(f.ppp, false))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r, changed, err := e.s.RecordRadiusState(ctx, &protocol.RadiusState{V: protocol.Version, Router: f.r.ID, Version: 1, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].ID != f.acc.ID || changed[0].Routers[0].State != controlplane.SyncSynced {
		t.Fatalf("changed %+v, want alice (hotspot) synced", changed)
	}
	if r.Radius.AgentVersion != 1 || r.Radius.AgentCount != 1 || r.Radius.Version != 2 || r.Radius.InSync ||
		r.Radius.AgentAt == nil || !r.Radius.AgentAt.Equal(e.clock.Now()) {
		t.Errorf("radius status %+v", r.Radius)
	}
	a := must[controlplane.Account](t, "GetAccount")(e.s.GetAccount(ctx, 0, f.ppp.ID))
	if a.Routers[0].State != controlplane.SyncPending {
		t.Errorf("ppp state %s before the agent holds version 2", a.Routers[0].State)
	}
	behind := must[[]controlplane.Router](t, "RadiusBehind")(e.s.RadiusBehind(ctx, 10))
	if len(behind) != 0 {
		t.Errorf("behind %v: the router is not online", behind)
	}
	r, changed, err = e.s.RecordRadiusState(ctx, &protocol.RadiusState{V: protocol.Version, Router: f.r.ID, Version: 2, Count: 2})
	if err != nil || len(changed) != 1 || changed[0].ID != f.ppp.ID || !r.Radius.InSync {
		t.Errorf("state 2: changed %v in sync %v err %v", changed, r.Radius.InSync, err)
	}
	// Again: nothing changes.
	if _, changed, err = e.s.RecordRadiusState(ctx, &protocol.RadiusState{V: protocol.Version, Router: f.r.ID, Version: 2, Count: 2}); err != nil || len(changed) != 0 {
		t.Errorf("repeated state: changed %v err %v", changed, err)
	}
	if _, _, err := e.s.RecordRadiusState(ctx, &protocol.RadiusState{V: protocol.Version, Router: "r000000000000"}); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		t.Errorf("unknown router: %v", err)
	}
}

func testRadiusVoucherUses(t *testing.T, e *env) {
	ctx := context.Background()
	f := newRadiusFixture(t, e)
	at := e.clock.Now().Add(-time.Minute)
	ev := protocol.Event{Seq: 1, TS: at, Type: protocol.EventVoucherUsed, Voucher: &protocol.VoucherUse{
		Code: "ACDEFGHJ", MAC: "AA:BB:CC:DD:EE:FF", At: at, EndsAt: at.Add(time.Hour)}}
	b := &protocol.EventBatch{V: protocol.Version, Router: f.r.ID, Events: []protocol.Event{ev}}
	applied := must[controlplane.Applied](t, "ApplyBatch")(e.s.ApplyBatch(ctx, b))
	if len(applied.Changes) != 1 {
		t.Fatalf("changes %v", applied.Changes)
	}
	rec, ok := applied.Changes[0].(controlplane.VoucherUseRecorded)
	if !ok || rec.RouterID != f.r.ID || rec.TenantID != f.ten.ID {
		t.Fatalf("change %#v", applied.Changes[0])
	}
	// A replay records nothing.
	must[controlplane.Applied](t, "ApplyBatch")(e.s.ApplyBatch(ctx, b))
	uses := must[[]VoucherUse](t, "PendingVoucherUses")(e.s.PendingVoucherUses(ctx, 0))
	if len(uses) != 1 || uses[0].ID != rec.UseID || uses[0].Code != "ACDEFGHJ" || !uses[0].At.Equal(at) || uses[0].MAC != "AA:BB:CC:DD:EE:FF" {
		t.Fatalf("pending uses %+v", uses)
	}
	for i, want := range []bool{true, false} {
		err := e.s.Write(ctx, func(tx *Tx) error {
			_, ok, err := tx.TakeVoucherUse(ctx, rec.UseID)
			if err != nil || ok != want {
				return fmt.Errorf("take %d: ok %v err %v, want %v", i, ok, err, want)
			}
			if ok {
				return tx.FinishVoucherUse(ctx, rec.UseID, VoucherUseRedeemed)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if uses = must[[]VoucherUse](t, "PendingVoucherUses")(e.s.PendingVoucherUses(ctx, 0)); len(uses) != 0 {
		t.Errorf("pending after handling: %+v", uses)
	}
}
