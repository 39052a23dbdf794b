package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/cluster/clustertest"
)

// Vouchers' and the portal's changes reach the other replica's fan-out
// whole, so a dashboard on any replica sees batches, redemptions and
// portal purchases.
func TestRelayCarriesVoucherAndPortalChanges(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	a := startClient(t, broker, "cp-a", newRecorder())
	b := startClient(t, broker, "cp-b", newRecorder())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	localA := make(chan controlplane.Change)
	outA, outB := a.Fanin(ctx, localA, nil), b.Fanin(ctx, make(chan controlplane.Change), nil)

	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ends := at.Add(time.Hour)
	changes := []controlplane.Change{
		controlplane.VoucherChanged{Batch: &controlplane.VoucherBatch{ID: 9, TenantID: 7, PlanID: 3, PlanName: "Hour", Count: 5,
			Length: 8, Price: controlplane.KES(2000), ExpiresAt: &ends, Actor: "ops@isp.example", Unused: 5, CreatedAt: at}},
		controlplane.VoucherChanged{Voucher: controlplane.Voucher{ID: 41, TenantID: 7, BatchID: 9, PlanID: 3, Code: "ACDEFGHJ",
			Status: controlplane.VoucherActive, Price: controlplane.KES(2000), RedeemedAt: &at, EndsAt: &ends, AccountID: 12,
			RouterID: "r1", RedeemedBy: "02:E2:E0:00:00:77", CreatedAt: at, UpdatedAt: at}},
		controlplane.PortalPurchaseChanged{Purchase: controlplane.PortalPurchase{TenantID: 7, RouterID: "r1", PaymentID: 5, PlanID: 3,
			Phone: "+254712345678", MAC: "02:E2:E0:00:00:77", Status: "pending", At: at}},
	}
	channels := []string{"private-tenant.7.vouchers", "private-tenant.7.vouchers", "private-tenant.7.portal"}
	for i, c := range changes {
		if _, tenant, channel, ok := route(c); !ok || tenant != 7 || channel != channels[i] {
			t.Fatalf("%T: route tenant %d channel %q ok %v, want tenant 7 and %s", c, tenant, channel, ok, channels[i])
		}
		localA <- c
		if got := recv(t, outA); !sameChange(got, c) {
			t.Fatalf("A's fan-out got %#v, want its own %T", got, c)
		}
		if got := recv(t, outB); !sameChange(got, c) {
			t.Fatalf("B's fan-out got %#v, want A's %T", got, c)
		}
	}
}
