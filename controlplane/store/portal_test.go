package store

import (
	"context"
	"slices"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
)

func init() {
	addCases(storeCase{"portal/settings", testPortalSettings})
}

func testPortalSettings(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, err := s.CreateTenant(ctx, "Kilimani")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateTenant(ctx, "Westlands")
	if err != nil {
		t.Fatal(err)
	}
	def, err := s.PortalSettings(ctx, a.ID)
	if err != nil || def.TenantID != a.ID || def.Slug != "" || def.PlanIDs == nil || len(def.PlanIDs) != 0 {
		t.Fatalf("defaults = %+v, %v", def, err)
	}
	// Two tenants without a slug do not collide.
	for _, id := range []int64{a.ID, b.ID} {
		if _, err := s.PutPortalSettings(ctx, controlplane.PortalSettings{TenantID: id, Name: "x"}); err != nil {
			t.Fatalf("no slug for tenant %d: %v", id, err)
		}
	}
	want := controlplane.PortalSettings{TenantID: a.ID, Slug: "kilimani", Name: "Kilimani WiFi", LogoURL: "https://x.example/l.png",
		PrimaryColor: "#112233", AccentColor: "#445566", SupportPhone: "0700000111", Terms: "Be nice.", PlanIDs: []int64{9, 3, 12}}
	got, err := s.PutPortalSettings(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if got.UpdatedAt.IsZero() {
		t.Error("updated_at not set")
	}
	if got.Slug != want.Slug || got.Name != want.Name || !slices.Equal(got.PlanIDs, want.PlanIDs) || got.Terms != want.Terms ||
		got.PrimaryColor != want.PrimaryColor || got.LogoURL != want.LogoURL || got.SupportPhone != want.SupportPhone {
		t.Errorf("stored %+v, want %+v", got, want)
	}
	by, err := s.PortalSettingsBySlug(ctx, "kilimani")
	if err != nil || by.TenantID != a.ID {
		t.Errorf("by slug = %+v, %v", by, err)
	}
	if _, err := s.PortalSettingsBySlug(ctx, "nobody"); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		t.Errorf("unknown slug: %v, want ENOTFOUND", err)
	}
	if _, err := s.PutPortalSettings(ctx, controlplane.PortalSettings{TenantID: b.ID, Slug: "kilimani"}); controlplane.ErrorCode(err) != controlplane.ECONFLICT {
		t.Errorf("taken slug: %v, want ECONFLICT", err)
	}
	if _, err := s.PutPortalSettings(ctx, controlplane.PortalSettings{TenantID: 999999, Slug: "ghost"}); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		t.Errorf("unknown tenant: %v, want ENOTFOUND", err)
	}
	// Clearing the slug frees it.
	want.Slug, want.PlanIDs = "", nil
	if got, err = s.PutPortalSettings(ctx, want); err != nil || got.Slug != "" || len(got.PlanIDs) != 0 {
		t.Fatalf("clear slug = %+v, %v", got, err)
	}
	if _, err := s.PutPortalSettings(ctx, controlplane.PortalSettings{TenantID: b.ID, Slug: "kilimani"}); err != nil {
		t.Errorf("freed slug: %v", err)
	}
}
