package billing

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// radiusEntries returns router's entries above from as
// "name@v:account|voucher|-".
func (e *env) radiusEntries(router string, from uint64) []string {
	e.t.Helper()
	p, err := e.st.RadiusRows(e.ctx, router, from, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, r := range p.Rows {
		what := "-"
		switch {
		case r.Account != nil:
			what = "account"
		case r.Voucher != nil:
			what = "voucher"
		}
		out = append(out, fmt.Sprintf("%s@%d:%s", r.Name, r.Version, what))
	}
	return out
}

func TestVouchersOnRadiusRouters(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		rad, _, err := e.st.CreateRouterMode(e.ctx, e.tenant.ID, "site-r", "", protocol.AuthRadius)
		if err != nil {
			t.Fatal(err)
		}
		plan := e.plan("1 hour", controlplane.PlanHotspot, 5000, "1h")
		_, vs := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 3, Length: 6})
		want := []string{vs[0].Code + "@1:voucher", vs[1].Code + "@2:voucher", vs[2].Code + "@3:voucher"}
		if got := e.radiusEntries(rad.ID, 0); !slices.Equal(got, want) {
			t.Fatalf("entries after generating %v, want %v", got, want)
		}
		for _, r := range e.routes {
			if got := e.radiusEntries(r.ID, 0); len(got) != 0 {
				t.Errorf("local router %s has entries %v", r.Name, got)
			}
		}
		// The plan's limits change: its entries get new versions.
		if _, err := e.svc.UpdatePlan(e.ctx, e.admin, plan.ID, controlplane.PlanPatch{RateLimit: ptr("4M/8M")}); err != nil {
			t.Fatal(err)
		}
		want = []string{vs[0].Code + "@4:voucher", vs[1].Code + "@5:voucher", vs[2].Code + "@6:voucher"}
		if got := e.radiusEntries(rad.ID, 3); !slices.Equal(got, want) {
			t.Fatalf("entries after the plan change %v, want %v", got, want)
		}
		if r := e.radiusRow(rad.ID, vs[0].Code); r.Plan == nil || r.Plan.RateLimit != "4M/8M" {
			t.Errorf("entry's plan %+v", r.Plan)
		}
		// Revoked: a tombstone.
		if _, err := e.svc.RevokeVoucher(e.ctx, e.admin, vs[0].ID); err != nil {
			t.Fatal(err)
		}
		if got := e.radiusEntries(rad.ID, 6); !slices.Equal(got, []string{vs[0].Code + "@7:-"}) {
			t.Errorf("entries after revoking %v", got)
		}
		// Redeemed: the account entry replaces the voucher entry.
		red, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: vs[1].Code,
			RouterID: rad.ID, MAC: "AA:BB:CC:00:00:01"})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.radiusEntries(rad.ID, 7); !slices.Equal(got, []string{vs[1].Code + "@8:account"}) {
			t.Errorf("entries after redeeming %v", got)
		}
		// The plan's profile is still a command (Mikrotik-Group names it);
		// the voucher's user is not.
		if n := e.commands(rad.ID); n[string(protocol.CmdHotspotUserAdd)] != 0 {
			t.Errorf("commands on the RADIUS router: %v, want no user add", n)
		}
		for _, r := range e.routes {
			if n := e.commands(r.ID); n[string(protocol.CmdHotspotUserAdd)] != 1 {
				t.Errorf("commands on local router %s: %v, want the user add", r.Name, n)
			}
		}
		row := e.radiusRow(rad.ID, vs[1].Code)
		if row.Account == nil || row.Account.ID != red.Voucher.AccountID || row.Plan == nil || row.Plan.ID != plan.ID {
			t.Errorf("redeemed entry %+v", row)
		}
		// Expired unused vouchers leave the copy.
		_, short := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 1, Length: 6, ValidDays: 1})
		e.clock.Advance(49 * time.Hour)
		if _, err := e.svc.EndVouchers(e.ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.radiusEntries(rad.ID, 9); !slices.Equal(got, []string{short[0].Code + "@10:-"}) {
			t.Errorf("entries after expiry %v", got)
		}
		got := changesOf[controlplane.RadiusChanged](e)
		if len(got) != 6 {
			t.Errorf("RadiusChanged %d times, want 6 (generate, plan, revoke, redeem, generate, expire)", len(got))
		}
	})
}

func (e *env) radiusRow(router, name string) store.RadiusRow {
	e.t.Helper()
	var row store.RadiusRow
	err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		var err error
		row, err = tx.RadiusEntry(e.ctx, router, protocol.KindHotspot, name)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return row
}
