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

// Cancellable reports whether a command in status s may still be
// cancelled: it has not started running (queued, or sent and possibly
// never received).
func (s CommandStatus) Cancellable() bool { return s.Pending() }

// AfterResult returns the status an agent's report moves a command in
// status s to, and false when the report does not move it (a duplicate
// answer for a finished command, a late running).
//
// running moves a pending command to running; succeeded and failed end it
// (failed with code expired ends it expired). One exception: a command
// cancelled or expired here that the agent nevertheless ran (it had been
// delivered) takes the agent's state, because what the router did is the
// truth to show.
func (s CommandStatus) AfterResult(r *protocol.CommandResult) (CommandStatus, bool) {
	ranAnyway := !r.Duplicate && (s == CommandExpired || s == CommandCancelled)
	switch r.Status {
	case protocol.ResultRunning:
		if s.Pending() || ranAnyway {
			return CommandRunning, true
		}
	case protocol.ResultSucceeded, protocol.ResultFailed:
		to := CommandSucceeded
		if r.Status == protocol.ResultFailed {
			to = CommandFailed
			if r.Code == protocol.CodeExpired {
				to = CommandExpired
			}
		}
		if !s.Final() || (ranAnyway && to != CommandExpired) {
			return to, true
		}
	}
	return "", false
}

// CommandParams are a command's typed parameters; exactly the field that
// matches its kind is set (none for resync). The JSON names are those of
// protocol.Command.
type CommandParams struct {
	HotspotUser *protocol.HotspotUser `json:"hotspot_user,omitempty"`
	PPPSecret   *protocol.PPPSecret   `json:"ppp_secret,omitempty"`
	Kick        *protocol.Kick        `json:"kick,omitempty"`
	Profile     *protocol.ProfileRate `json:"profile,omitempty"`
	ProfileSpec *protocol.ProfileSpec `json:"profile_spec,omitempty"`
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
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// TTLSeconds is the lifetime the command was given (ExpiresAt minus
	// CreatedAt): once it passes, the command is expired, never delivered.
	TTLSeconds int64      `json:"ttl_seconds"`
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
		ProfileSpec: c.Params.ProfileSpec,
		Raw:         c.Params.Raw,
	}
}

// CommandChanged announces a command's new state (every lifecycle
// transition, and the creation as queued).
type CommandChanged struct{ Command Command }

// ChangeTenant implements Change.
func (c CommandChanged) ChangeTenant() int64 { return c.Command.TenantID }

// CommandUpdate is the outcome of a state change: the command as stored,
// whether it changed, and the account whose sync state changed with it.
type CommandUpdate struct {
	Command Command
	Changed bool
	// Account is the command's account after its sync state on the
	// command's router changed; nil when nothing changed there.
	Account *Account
	// Plan is the command's plan after its profile state on the
	// command's router changed; nil when nothing changed there.
	Plan *Plan
}

// CommandRequest is a typed command as the API accepts it: the kind and
// the one parameter object that kind takes, with the JSON names of
// protocol.Command.
type CommandRequest struct {
	Kind protocol.CommandKind `json:"kind"`
	CommandParams
	// TTLSeconds bounds how long the command may wait for its router;
	// past it the command expires and never runs. 0 means the service's
	// default; at most the provisioning service's MaxTTL.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
}

// BulkRequest sends one command to many routers of a tenant, tracked as
// one command per router under a common bulk id.
type BulkRequest struct {
	// RouterIDs lists the routers; all of them must be visible to the
	// caller (ENOTFOUND otherwise) and not revoked.
	RouterIDs []string `json:"router_ids,omitempty"`
	// AllRouters targets every router of the tenant that is not revoked,
	// instead of RouterIDs.
	AllRouters bool `json:"all_routers,omitempty"`
	// TenantID names the tenant of AllRouters for a system admin; other
	// users always target their own.
	TenantID int64          `json:"tenant_id,omitempty"`
	Command  CommandRequest `json:"command"`
}

// BulkResult is the answer to a bulk command.
type BulkResult struct {
	BulkID   string    `json:"bulk_id"`
	Commands []Command `json:"commands"`
}
