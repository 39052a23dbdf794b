package controlplane

import "time"

// AccountRoutersRequest is the body of PUT /api/v1/accounts/{id}/routers:
// the complete list of routers the account should be on.
type AccountRoutersRequest struct {
	RouterIDs []string `json:"router_ids"`
}

// AccountRequest creates a managed hotspot user or PPP secret and
// provisions it to routers of its tenant.
type AccountRequest struct {
	// TenantID is the account's tenant. Users of a tenant may leave it 0;
	// a system admin names it, or it is taken from RouterIDs.
	TenantID int64       `json:"tenant_id,omitempty"`
	Kind     AccountKind `json:"kind"`
	Name     string      `json:"name"`
	Password string      `json:"password"`
	// Profile is the RouterOS user or PPP profile, which carries the rate
	// limit; "" means the router's default.
	Profile         string     `json:"profile,omitempty"`
	Service         string     `json:"service,omitempty"`
	LimitUptime     string     `json:"limit_uptime,omitempty"`
	LimitBytesTotal uint64     `json:"limit_bytes_total,omitempty"`
	ExpiresAt       *time.Time `json:"expires_at,omitempty"`
	Disabled        bool       `json:"disabled,omitempty"`
	Phone           string     `json:"phone,omitempty"`
	Email           string     `json:"email,omitempty"`
	Comment         string     `json:"comment,omitempty"`
	// RouterIDs are the routers to provision it to; AllRouters means every
	// router of the tenant that is not revoked.
	RouterIDs  []string `json:"router_ids,omitempty"`
	AllRouters bool     `json:"all_routers,omitempty"`
}

// AccountPatch changes an account; nil fields stay as they are. A new
// expiry in the future (or ClearExpiry) renews an expired account: it is
// enabled again unless Disabled says otherwise.
type AccountPatch struct {
	Password        *string    `json:"password,omitempty"`
	Profile         *string    `json:"profile,omitempty"`
	Service         *string    `json:"service,omitempty"`
	LimitUptime     *string    `json:"limit_uptime,omitempty"`
	LimitBytesTotal *uint64    `json:"limit_bytes_total,omitempty"`
	ExpiresAt       *time.Time `json:"expires_at,omitempty"`
	ClearExpiry     bool       `json:"clear_expiry,omitempty"`
	Disabled        *bool      `json:"disabled,omitempty"`
	Phone           *string    `json:"phone,omitempty"`
	Email           *string    `json:"email,omitempty"`
	Comment         *string    `json:"comment,omitempty"`
}

// AccountResult is an account change: the account as stored and the
// commands that carry the change to its routers.
type AccountResult struct {
	Account  Account   `json:"account"`
	Commands []Command `json:"commands"`
	// RadiusRouters are the routers in RADIUS mode whose synced copy the
	// change reached instead of a command (see RadiusChanged).
	RadiusRouters []string `json:"radius_routers,omitempty"`
}

// AccountKind says which RouterOS menu an account lives in.
type AccountKind string

// Account kinds.
const (
	AccountHotspot AccountKind = "hotspot" // /ip/hotspot/user
	AccountPPP     AccountKind = "ppp"     // /ppp/secret
)

// Valid reports whether k is a known kind.
func (k AccountKind) Valid() bool { return k == AccountHotspot || k == AccountPPP }

// Per-router sync states of an account.
const (
	SyncPending = "pending" // a command is on its way or running
	SyncSynced  = "synced"  // the router holds the account as stored
	SyncFailed  = "failed"  // the last command failed; Message has the router's text
)

// Account is a hotspot user or PPP secret the tenant manages in SitePulse
// and provisions to the routers it chooses. Its plan is its profile (which
// carries the rate limit on the router), its time and byte limits, and its
// expiry.
type Account struct {
	ID       int64       `json:"id"`
	TenantID int64       `json:"tenant_id"`
	Kind     AccountKind `json:"kind"`
	Name     string      `json:"name"`
	// Password is provisioned to the routers; it is never returned by the
	// API or broadcast (the JSON tag hides it).
	Password        string     `json:"-"`
	Profile         string     `json:"profile"`
	Service         string     `json:"service,omitempty"`      // PPP service; "" means pppoe
	LimitUptime     string     `json:"limit_uptime,omitempty"` // hotspot; RouterOS duration such as 1d2h
	LimitBytesTotal uint64     `json:"limit_bytes_total,omitempty"`
	ExpiresAt       *time.Time `json:"expires_at"`
	Disabled        bool       `json:"disabled"`
	// Expired is set when ExpiresAt passed and the account was disabled
	// and its sessions kicked on its routers.
	Expired   bool            `json:"expired"`
	Phone     string          `json:"phone,omitempty"`
	Email     string          `json:"email,omitempty"`
	Comment   string          `json:"comment,omitempty"`
	Routers   []AccountRouter `json:"routers"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// AccountRouter is an account's sync state on one router.
type AccountRouter struct {
	RouterID  string    `json:"router_id"`
	State     string    `json:"state"` // SyncPending, SyncSynced or SyncFailed
	Message   string    `json:"message,omitempty"`
	CommandID string    `json:"command_id,omitempty"` // the command that decides State
	UpdatedAt time.Time `json:"updated_at"`
}

// Account change operations.
const (
	AccountCreated = "created"
	AccountUpdated = "updated"
	AccountDeleted = "deleted"
)

// AccountChanged announces a created, updated (including a per-router sync
// state) or deleted account.
type AccountChanged struct {
	Op      string // AccountCreated, AccountUpdated or AccountDeleted
	Account Account
}

// ChangeTenant implements Change.
func (c AccountChanged) ChangeTenant() int64 { return c.Account.TenantID }
