package fanout

import (
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// The system overview: tenants, routers online/total, sessions and
// revenue across tenants, in one SystemStatsUpdated per flush.
func TestFanoutSystemStats(t *testing.T) {
	h, srv := newTestHub(t, nil)
	admin := dial(t, srv)
	admin.subscribeOK(SystemAdminChannel, "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})
	f.Seed([]controlplane.Session{hotspotSession(1, "a", "AA:BB:CC:00:00:01", 1), hotspotSession(2, "b", "AA:BB:CC:00:00:02", 1)},
		[]controlplane.Router{{ID: "r-1", TenantID: 1, Status: controlplane.RouterOnline}, {ID: "r-2", TenantID: 2, Status: controlplane.RouterOffline}})
	f.SeedTenants(2)

	type system struct {
		Stats        dashboardStats    `json:"stats"`
		Tenants      int               `json:"tenants"`
		RoutersTotal int               `json:"routers_total"`
		Revenue      *billingStatsView `json:"revenue"`
	}
	f.Flush()
	var got system
	admin.expect(EventSystemStatsUpdated).decode(t, &got)
	if got.Tenants != 2 || got.RoutersTotal != 2 || got.Stats.RoutersOnline != 1 || got.Stats.OnlineHotspot != 2 || got.Revenue != nil {
		t.Errorf("seeded SystemStatsUpdated = %+v", got)
	}

	// A new tenant and system-wide revenue: one coalesced event at the
	// next flush (after the immediate TenantCreated and BillingStatsUpdated).
	f.Apply(controlplane.TenantCreated{Tenant: controlplane.Tenant{ID: 3, Name: "C"}})
	f.Apply(controlplane.BillingStatsChanged{Stats: controlplane.BillingStats{Revenue30d: 123400, At: fanoutEpoch}})
	f.Apply(controlplane.BillingStatsChanged{Stats: controlplane.BillingStats{Revenue30d: 125000, At: fanoutEpoch}})
	admin.expect(EventTenantCreated)
	admin.expect(EventBillingStatsUpdated)
	admin.expect(EventBillingStatsUpdated)
	admin.alive() // nothing else before the flush
	f.Flush()
	got = system{}
	admin.expect(EventSystemStatsUpdated).decode(t, &got)
	if got.Tenants != 3 || got.Revenue == nil || got.Revenue.Revenue30d != 125000 {
		t.Errorf("SystemStatsUpdated after a tenant and revenue = %+v", got)
	}
	f.Flush()
	admin.alive() // unchanged: not republished
}
