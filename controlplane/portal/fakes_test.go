package portal

import (
	"context"
	"sync"

	"github.com/sitepulse/sitepulse/controlplane"
)

// fakeStore is a hand-written Store: tenant 1 ("Kilimani WiFi") with
// router r1, ready at its zero value.
type fakeStore struct {
	mu  sync.Mutex
	set map[int64]controlplane.PortalSettings
}

func (s *fakeStore) PortalSettings(_ context.Context, t int64) (controlplane.PortalSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.set[t]; ok {
		return p, nil
	}
	return controlplane.PortalSettings{TenantID: t, PlanIDs: []int64{}}, nil
}

func (s *fakeStore) PortalSettingsBySlug(_ context.Context, slug string) (controlplane.PortalSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.set {
		if p.Slug == slug && slug != "" {
			return p, nil
		}
	}
	return controlplane.PortalSettings{}, controlplane.Errorf(controlplane.ENOTFOUND, "portal %s not found", slug)
}

func (s *fakeStore) PutPortalSettings(_ context.Context, p controlplane.PortalSettings) (controlplane.PortalSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, o := range s.set {
		if t != p.TenantID && p.Slug != "" && o.Slug == p.Slug {
			return p, controlplane.Errorf(controlplane.ECONFLICT, "taken")
		}
	}
	if s.set == nil {
		s.set = map[int64]controlplane.PortalSettings{}
	}
	s.set[p.TenantID] = p
	return p, nil
}

func (s *fakeStore) GetRouter(_ context.Context, scope int64, id string) (controlplane.Router, error) {
	if (scope == 1 || scope == 0) && id == "r1" {
		return controlplane.Router{ID: "r1", TenantID: 1}, nil
	}
	if (scope == 3 || scope == 0) && id == "r3" {
		return controlplane.Router{ID: "r3", TenantID: 3}, nil
	}
	if (scope == 2 || scope == 0) && id == "r2" {
		return controlplane.Router{ID: "r2", TenantID: 2}, nil
	}
	return controlplane.Router{}, controlplane.Errorf(controlplane.ENOTFOUND, "router %s not found", id)
}

func (s *fakeStore) GetTenant(_ context.Context, _, id int64) (controlplane.Tenant, error) {
	switch id {
	case 1:
		return controlplane.Tenant{ID: 1, Name: "Kilimani WiFi"}, nil
	case 2:
		return controlplane.Tenant{ID: 2, Name: "Other"}, nil
	case 3:
		return controlplane.Tenant{ID: 3, Name: "Suspended", Status: "suspended"}, nil
	}
	return controlplane.Tenant{}, controlplane.Errorf(controlplane.ENOTFOUND, "tenant %d not found", id)
}

// fakeBilling is a hand-written Billing: plans 7 (1 hour, KES 50) and 8
// (1 day, KES 120, inactive) of tenant 1, payments as the test sets them.
type fakeBilling struct {
	mu        sync.Mutex
	purchases []controlplane.PurchaseRequest
	actors    []controlplane.Principal
	payments  map[int64]controlplane.Payment
	// credsAfter is how many PaymentCredentials calls answer ECONFLICT
	// before the credentials.
	credsAfter int
	credCalls  int
}

func (b *fakeBilling) Purchase(_ context.Context, p controlplane.Principal, req controlplane.PurchaseRequest) (controlplane.PurchaseResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.purchases = append(b.purchases, req)
	b.actors = append(b.actors, p)
	id := int64(100 + len(b.purchases))
	if b.payments == nil {
		b.payments = map[int64]controlplane.Payment{}
	}
	b.payments[id] = controlplane.Payment{ID: id, TenantID: p.TenantID, PlanID: req.PlanID, Phone: req.Phone, Status: controlplane.PaymentPending}
	return controlplane.PurchaseResult{PaymentID: id, Status: "pending"}, nil
}

func (b *fakeBilling) setPayment(p controlplane.Payment) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.payments == nil {
		b.payments = map[int64]controlplane.Payment{}
	}
	b.payments[p.ID] = p
}

func (b *fakeBilling) GetPayment(_ context.Context, scope, id int64) (controlplane.Payment, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.payments[id]
	if !ok || (scope != 0 && p.TenantID != scope) {
		return p, controlplane.Errorf(controlplane.ENOTFOUND, "payment %d not found", id)
	}
	return p, nil
}

func (b *fakeBilling) PaymentCredentials(_ context.Context, tenant, id int64) (controlplane.Credentials, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.credCalls++
	if b.credCalls <= b.credsAfter {
		return controlplane.Credentials{}, controlplane.Errorf(controlplane.ECONFLICT, "being made")
	}
	return controlplane.Credentials{Username: "254712345678", Password: "s3cret"}, nil
}

func (b *fakeBilling) ListPlans(_ context.Context, scope int64, f controlplane.PlanFilter) ([]controlplane.Plan, int, error) {
	if scope != 1 {
		return nil, 0, nil
	}
	all := []controlplane.Plan{
		{ID: 7, TenantID: 1, Name: "1 Hour <b>Fast</b>", Kind: controlplane.PlanHotspot, Price: controlplane.KES(5000), DurationSeconds: 3600, Active: true},
		{ID: 8, TenantID: 1, Name: "Day", Kind: controlplane.PlanHotspot, Price: controlplane.KES(12000), DurationSeconds: 86400, Active: false},
		{ID: 9, TenantID: 1, Name: "Week", Kind: controlplane.PlanHotspot, Price: controlplane.KES(50000), DurationSeconds: 7 * 86400, Active: true},
		{ID: 10, TenantID: 1, Name: "Home PPPoE", Kind: controlplane.PlanPPPoE, Price: controlplane.KES(200000), DurationSeconds: 30 * 86400, Active: true},
	}
	var out []controlplane.Plan
	for _, p := range all {
		if (f.Kind == "" || p.Kind == f.Kind) && (!f.ActiveOnly || p.Active) {
			out = append(out, p)
		}
	}
	return out, len(out), nil
}

// fakeVouchers redeems "GOODCODE1" once (again for the same MAC).
type fakeVouchers struct {
	mu    sync.Mutex
	by    string
	calls int
}

func (v *fakeVouchers) RedeemVoucher(_ context.Context, req controlplane.RedeemRequest) (controlplane.Redemption, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	if req.Code != "GOODCODE1" || (v.by != "" && v.by != req.MAC) {
		return controlplane.Redemption{}, controlplane.Errorf(controlplane.ENOTFOUND, "voucher not valid")
	}
	v.by = req.MAC
	return controlplane.Redemption{Voucher: controlplane.Voucher{Code: req.Code, Status: controlplane.VoucherActive},
		Credentials: controlplane.Credentials{Username: req.Code, Password: req.Code}}, nil
}

// fakeBus records published changes.
type fakeBus struct {
	mu      sync.Mutex
	changes []controlplane.Change
}

func (b *fakeBus) Publish(cs ...controlplane.Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes = append(b.changes, cs...)
}

func (b *fakeBus) purchases() []controlplane.PortalPurchase {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []controlplane.PortalPurchase
	for _, c := range b.changes {
		if pc, ok := c.(controlplane.PortalPurchaseChanged); ok {
			out = append(out, pc.Purchase)
		}
	}
	return out
}

// fakeAccounts says an account is synced on r1 after syncedAfter calls.
type fakeAccounts struct {
	mu          sync.Mutex
	syncedAfter int
	calls       int
}

func (a *fakeAccounts) ListAccounts(_ context.Context, _ int64, f controlplane.AccountFilter) ([]controlplane.Account, int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	state := controlplane.SyncPending
	if a.calls > a.syncedAfter {
		state = controlplane.SyncSynced
	}
	return []controlplane.Account{{Name: f.Name, Routers: []controlplane.AccountRouter{{RouterID: f.RouterID, State: state}}}}, 1, nil
}
