package controlplane

import (
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// CommandStatus is where a provisioning command is in its lifecycle:
//
//	queued → sent → running → succeeded | failed
//	queued | sent → expired | cancelled
//
// The command row in the store is the source of truth; the agent only
// reports running, succeeded and failed.
type CommandStatus string

// Command statuses.
const (
	CommandQueued    CommandStatus = "queued"    // stored, not yet delivered (its router may be offline)
	CommandSent      CommandStatus = "sent"      // published to the agent, not yet acknowledged
	CommandRunning   CommandStatus = "running"   // the agent started it
	CommandSucceeded CommandStatus = "succeeded" // the router applied it
	CommandFailed    CommandStatus = "failed"    // the router or the agent refused it; Code and Message say why
	CommandExpired   CommandStatus = "expired"   // its TTL passed before it ran; it never reaches the router
	CommandCancelled CommandStatus = "cancelled" // cancelled before it ran
)

// CommandStatuses lists every status in lifecycle order.
var CommandStatuses = []CommandStatus{
	CommandQueued, CommandSent, CommandRunning, CommandSucceeded, CommandFailed, CommandExpired, CommandCancelled,
}

// Valid reports whether s is a known status.
func (s CommandStatus) Valid() bool {
	for _, v := range CommandStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Final reports whether s is an end state.
func (s CommandStatus) Final() bool {
	switch s {
	case CommandSucceeded, CommandFailed, CommandExpired, CommandCancelled:
		return true
	}
	return false
}

// Pending reports whether s is a state from which the command may still be
// delivered: queued, or sent without an answer yet.
func (s CommandStatus) Pending() bool { return s == CommandQueued || s == CommandSent }

// CommandParams are a command's typed parameters; exactly the field that
// matches its kind is set (none for resync). The JSON names are those of
// protocol.Command.
type CommandParams struct {
	HotspotUser *protocol.HotspotUser `json:"hotspot_user,omitempty"`
	PPPSecret   *protocol.PPPSecret   `json:"ppp_secret,omitempty"`
	Kick        *protocol.Kick        `json:"kick,omitempty"`
	Profile     *protocol.ProfileRate `json:"profile,omitempty"`
	Raw         *protocol.RawCommand  `json:"raw,omitempty"`
}

// Redacted returns a copy of p without passwords, for API answers,
// broadcasts and the stored row of a finished command.
func (p CommandParams) Redacted() CommandParams {
	if p.HotspotUser != nil && p.HotspotUser.Password != "" {
		u := *p.HotspotUser
		u.Password = ""
		p.HotspotUser = &u
	}
	if p.PPPSecret != nil && p.PPPSecret.Password != "" {
		s := *p.PPPSecret
		s.Password = ""
		p.PPPSecret = &s
	}
	return p
}

// Command is a provisioning command addressed to one router.
type Command struct {
	// ID is the wire id the agent records; random, so that a restored or
	// rebuilt database never reuses one an agent remembers.
	ID       string               `json:"id"`
	TenantID int64                `json:"tenant_id"`
	RouterID string               `json:"router_id"`
	Kind     protocol.CommandKind `json:"kind"`
	Params   CommandParams        `json:"params"`
	Status   CommandStatus        `json:"status"`
	// BulkID groups the per-router commands of one bulk request.
	BulkID string `json:"bulk_id,omitempty"`
	// AccountID is the managed account the command provisions, if any.
	AccountID int64  `json:"account_id,omitempty"`
	ActorID   int64  `json:"actor_id"` // 0 for the system (expiry)
	Actor     string `json:"actor"`    // email or "system"
	// Code and Message describe a failure (protocol.Code* or "expired",
	// "cancelled"); Message is the router's own text for router errors.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Ret is the RouterOS .id an add created; Rows the reply of a raw print.
	Ret  string              `json:"ret,omitempty"`
	Rows []map[string]string `json:"rows,omitempty"`
	// Attempts counts deliveries to the agent.
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	SentAt     *time.Time `json:"sent_at,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Wire returns the protocol message that delivers c.
func (c Command) Wire() *protocol.Command {
	return &protocol.Command{
		V:           protocol.Version,
		ID:          c.ID,
		Router:      c.RouterID,
		Kind:        c.Kind,
		IssuedAt:    c.CreatedAt,
		ExpiresAt:   c.ExpiresAt,
		HotspotUser: c.Params.HotspotUser,
		PPPSecret:   c.Params.PPPSecret,
		Kick:        c.Params.Kick,
		Profile:     c.Params.Profile,
		Raw:         c.Params.Raw,
	}
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

// CommandChanged announces a command's new state (every lifecycle
// transition, and the creation as queued).
type CommandChanged struct{ Command Command }

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
func (c CommandChanged) ChangeTenant() int64 { return c.Command.TenantID }

// ChangeTenant implements Change.
func (c AccountChanged) ChangeTenant() int64 { return c.Account.TenantID }
