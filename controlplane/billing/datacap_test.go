package billing

import (
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func TestDataCapEndsSubscription(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p, err := e.svc.CreatePlan(e.ctx, e.admin, controlplane.PlanRequest{Name: "1 GB", Kind: controlplane.PlanHotspot,
			Price: 10000, Duration: "30d", DataCapBytes: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		res := e.buy(p, "254722000001")
		e.waitStatus(res.PaymentID, controlplane.PaymentCompleted)
		e.runReconnects()
		sub := e.sub(res.SubscriptionID)
		// Sessions of the account: an ended one and a live one, 1.2 GiB
		// together (either alone is under the cap).
		now := e.clock.Now().Add(1)
		if _, err := e.st.DB().ExecContext(e.ctx, `INSERT INTO session_history (tenant_id, router_id, session_key, kind, username,
			started_at, updated_at, ended_at, end_reason, bytes_in, bytes_out) VALUES ($1, $2, 'k1', 'hotspot', $3, $4, $4, $4, 'logout', $5, $6)`,
			e.tenant.ID, e.routes[0].ID, sub.Username, now, 500<<20, 100<<20); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.ExpireDue(e.ctx); err != nil || n != 0 {
			t.Fatalf("under the cap: ExpireDue = %d, %v", n, err)
		}
		if _, err := e.st.DB().ExecContext(e.ctx, `INSERT INTO sessions (router_id, session_key, tenant_id, kind, username,
			started_at, updated_at, bytes_in, bytes_out) VALUES ($1, 'k2', $2, 'hotspot', $3, $4, $4, $5, $6)`,
			e.routes[1].ID, e.tenant.ID, sub.Username, now, 500<<20, 130<<20); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.ExpireDue(e.ctx); err != nil || n != 1 {
			t.Fatalf("over the cap: ExpireDue = %d, %v", n, err)
		}
		sub = e.sub(res.SubscriptionID)
		if sub.Status != controlplane.SubscriptionExpired || sub.Reason != controlplane.ExpiredDataCap {
			t.Fatalf("capped subscription = %+v", sub)
		}
		a, _ := e.st.GetAccount(e.ctx, 0, sub.AccountID)
		if !a.Disabled || !a.Expired {
			t.Fatalf("account after the cap = %+v", a)
		}
		if c := e.commands(e.routes[1].ID); c[string(protocol.CmdHotspotActiveKick)] != 1 {
			t.Fatalf("no kick on the router with the live session: %v", c)
		}
	})
}
