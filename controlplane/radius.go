package controlplane

import "time"

// RadiusStatus is where a router's RADIUS copy stands: the newest entry
// version the control plane holds for it (Version, the head) and what its
// agent last reported holding. It carries no secrets.
type RadiusStatus struct {
	// Version is the router's head: the version of its newest entry change.
	Version uint64 `json:"version"`
	// AgentVersion and AgentCount are the version and number of live
	// entries the agent last reported (protocol.RadiusState), at AgentAt
	// (nil: never).
	AgentVersion uint64     `json:"agent_version"`
	AgentCount   int        `json:"agent_count"`
	AgentAt      *time.Time `json:"agent_at"`
	// InSync reports whether the agent holds every change (AgentVersion
	// equals Version).
	InSync bool `json:"in_sync"`
}

// RouterPatch changes a router (PATCH /api/v1/routers/{id}); nil fields
// stay as they are.
type RouterPatch struct {
	// AuthMode switches between protocol.AuthLocal (hotspot users and PPP
	// secrets provisioned into the router) and protocol.AuthRadius (the
	// router asks its agent's RADIUS server, which answers from a synced
	// copy).
	AuthMode *string `json:"auth_mode,omitempty"`
}

// RouterChange is a router change and the commands that carry it to the
// router (a mode switch removes or re-adds its local accounts).
type RouterChange struct {
	Router   Router    `json:"router"`
	Commands []Command `json:"commands"`
}

// RadiusChanged announces that entries of a router's RADIUS copy changed
// (committed); the sync sends the agent the new page(s). It is an
// in-process signal: nothing is broadcast to dashboards.
type RadiusChanged struct {
	TenantID int64
	RouterID string
}

// ChangeTenant implements Change.
func (c RadiusChanged) ChangeTenant() int64 { return c.TenantID }

// VoucherUseRecorded announces a voucher.used event that ingest recorded
// (UseID) for the RADIUS sync to reconcile.
type VoucherUseRecorded struct {
	TenantID int64
	RouterID string
	UseID    int64
}

// ChangeTenant implements Change.
func (c VoucherUseRecorded) ChangeTenant() int64 { return c.TenantID }

// VoucherDoubleUse announces a voucher used at two places: redeemed at one
// router (or by one device) and reported used offline at another.
type VoucherDoubleUse struct {
	Voucher  Voucher
	RouterID string // where the second use was
	MAC      string
	At       time.Time
}

// ChangeTenant implements Change.
func (c VoucherDoubleUse) ChangeTenant() int64 { return c.Voucher.TenantID }

// RouterRadius answers GET /api/v1/routers/{id}/radius.
type RouterRadius struct {
	RouterID string       `json:"router_id"`
	AuthMode string       `json:"auth_mode"`
	Radius   RadiusStatus `json:"radius"`
}
