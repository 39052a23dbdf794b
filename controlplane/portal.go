package controlplane

import "time"

// PortalSettings are a tenant's captive portal: its address and branding,
// and which plans it sells.
type PortalSettings struct {
	TenantID int64 `json:"tenant_id"`
	// Slug is the tenant's portal address /portal/{slug} (besides
	// /portal/{tenant}/{router}); lower-case letters, digits and dashes.
	Slug         string `json:"slug,omitempty"`
	Name         string `json:"name"`               // shown as the page title
	LogoURL      string `json:"logo_url,omitempty"` // https URL or a data: URI of at most 32 KiB
	PrimaryColor string `json:"primary_color"`      // #rrggbb
	AccentColor  string `json:"accent_color"`       // #rrggbb
	SupportPhone string `json:"support_phone,omitempty"`
	Terms        string `json:"terms,omitempty"` // plain text, at most 4 KiB
	// PlanIDs are the plans on sale at the portal, in order; empty means
	// every active hotspot plan.
	PlanIDs   []int64   `json:"plan_ids"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PortalSettingsPatch changes a tenant's portal settings (PUT
// /api/v1/portal/settings); nil fields stay.
type PortalSettingsPatch struct {
	TenantID     int64    `json:"tenant_id,omitempty"` // system admins only
	Slug         *string  `json:"slug,omitempty"`
	Name         *string  `json:"name,omitempty"`
	LogoURL      *string  `json:"logo_url,omitempty"`
	PrimaryColor *string  `json:"primary_color,omitempty"`
	AccentColor  *string  `json:"accent_color,omitempty"`
	SupportPhone *string  `json:"support_phone,omitempty"`
	Terms        *string  `json:"terms,omitempty"`
	PlanIDs      *[]int64 `json:"plan_ids,omitempty"`
}

// PortalPurchase is a purchase made at the portal, as the dashboard's live
// view shows it (phone masked in broadcasts).
type PortalPurchase struct {
	TenantID  int64     `json:"tenant_id"`
	RouterID  string    `json:"router_id"`
	PaymentID int64     `json:"payment_id,omitempty"`
	VoucherID int64     `json:"voucher_id,omitempty"`
	PlanID    int64     `json:"plan_id"`
	Phone     string    `json:"phone,omitempty"`
	MAC       string    `json:"mac,omitempty"`
	Status    string    `json:"status"` // the payment's, or "redeemed"
	At        time.Time `json:"at"`
}

// PortalPurchaseChanged announces a purchase or voucher redemption at the
// portal.
type PortalPurchaseChanged struct{ Purchase PortalPurchase }

// ChangeTenant implements Change.
func (c PortalPurchaseChanged) ChangeTenant() int64 { return c.Purchase.TenantID }
