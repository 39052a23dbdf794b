package fanout

import (
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// Events of provisioning.
const (
	EventCommandUpdated = "CommandUpdated" // private-tenant.{t}.commands: every command transition
	EventUserCreated    = "UserCreated"    // private-tenant.{t}.users: a managed hotspot user or PPP secret
	EventUserUpdated    = "UserUpdated"
	EventUserDeleted    = "UserDeleted"
)

// applyCommand publishes a command's new state on its tenant's commands
// channel.
func (f *Fanout) applyCommand(c controlplane.CommandChanged) {
	f.publish(TenantChannel(c.Command.TenantID, "commands"), EventCommandUpdated,
		map[string]any{"command": newCommandView(c.Command)})
}

// applyAccount publishes an account change on its tenant's users channel.
func (f *Fanout) applyAccount(c controlplane.AccountChanged) {
	event := EventUserUpdated
	switch c.Op {
	case controlplane.AccountCreated:
		event = EventUserCreated
	case controlplane.AccountDeleted:
		event = EventUserDeleted
	}
	f.publish(TenantChannel(c.Account.TenantID, "users"), event, map[string]any{"account": newAccountView(c.Account)})
}

// commandView is a command as broadcast: no tenant id (the channel says
// it), no passwords, no raw arguments or reply rows (they may hold
// anything), user names and the actor's email masked.
type commandView struct {
	ID         string               `json:"id"`
	RouterID   string               `json:"router_id"`
	Kind       protocol.CommandKind `json:"kind"`
	Status     string               `json:"status"`
	Target     string               `json:"target,omitempty"`
	Params     commandParamsView    `json:"params"`
	Code       string               `json:"code,omitempty"`
	Message    string               `json:"message,omitempty"`
	Ret        string               `json:"ret,omitempty"`
	BulkID     string               `json:"bulk_id,omitempty"`
	AccountID  int64                `json:"account_id,omitempty"`
	Actor      string               `json:"actor"`
	Attempts   int                  `json:"attempts"`
	CreatedAt  time.Time            `json:"created_at"`
	UpdatedAt  time.Time            `json:"updated_at"`
	ExpiresAt  time.Time            `json:"expires_at"`
	SentAt     *time.Time           `json:"sent_at,omitempty"`
	StartedAt  *time.Time           `json:"started_at,omitempty"`
	FinishedAt *time.Time           `json:"finished_at,omitempty"`
}

type commandParamsView struct {
	HotspotUser *namedView            `json:"hotspot_user,omitempty"`
	PPPSecret   *namedView            `json:"ppp_secret,omitempty"`
	Kick        *protocol.Kick        `json:"kick,omitempty"`
	Profile     *protocol.ProfileRate `json:"profile,omitempty"`
	ProfileSpec *protocol.ProfileSpec `json:"profile_spec,omitempty"`
	Raw         *rawView              `json:"raw,omitempty"`
}

// namedView is the broadcastable part of a hotspot user or PPP secret.
type namedView struct {
	Name     string `json:"name"`
	Profile  string `json:"profile,omitempty"`
	Disabled *bool  `json:"disabled,omitempty"`
}

type rawView struct {
	Path string `json:"path"`
}

func newCommandView(c controlplane.Command) commandView {
	v := commandView{
		ID: c.ID, RouterID: c.RouterID, Kind: c.Kind, Status: string(c.Status), Code: c.Code, Message: maskContactsIn(c.Message),
		Ret: c.Ret, BulkID: c.BulkID, AccountID: c.AccountID, Actor: maskIdentity(c.Actor), Attempts: c.Attempts,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, ExpiresAt: c.ExpiresAt,
		SentAt: c.SentAt, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt,
	}
	p := c.Params
	switch {
	case p.HotspotUser != nil:
		v.Params.HotspotUser = &namedView{Name: maskIdentity(p.HotspotUser.Name), Profile: p.HotspotUser.Profile, Disabled: p.HotspotUser.Disabled}
		v.Target = v.Params.HotspotUser.Name
	case p.PPPSecret != nil:
		v.Params.PPPSecret = &namedView{Name: maskIdentity(p.PPPSecret.Name), Profile: p.PPPSecret.Profile, Disabled: p.PPPSecret.Disabled}
		v.Target = v.Params.PPPSecret.Name
	case p.Kick != nil:
		k := protocol.Kick{Key: maskIdentity(p.Kick.Key), RouterOSID: p.Kick.RouterOSID, User: maskIdentity(p.Kick.User)}
		v.Params.Kick = &k
		v.Target = k.User
		if v.Target == "" {
			v.Target = k.Key
		}
	case p.Profile != nil:
		pr := *p.Profile
		v.Params.Profile = &pr
		v.Target = pr.Name
	case p.ProfileSpec != nil:
		// A plan's profile: no secrets, a comment may name a contact.
		ps := *p.ProfileSpec
		ps.Comment = maskContactsIn(ps.Comment)
		v.Params.ProfileSpec = &ps
		v.Target = ps.Name
	case p.Raw != nil:
		v.Params.Raw = &rawView{Path: p.Raw.Path}
		v.Target = p.Raw.Path
	}
	return v
}

// accountView is a managed account as broadcast: never its password; its
// name, phone and email masked (the last two by publish's scrub).
type accountView struct {
	ID              int64               `json:"id"`
	Kind            string              `json:"kind"`
	Name            string              `json:"name"`
	Profile         string              `json:"profile"`
	Service         string              `json:"service,omitempty"`
	LimitUptime     string              `json:"limit_uptime,omitempty"`
	LimitBytesTotal uint64              `json:"limit_bytes_total,omitempty"`
	ExpiresAt       *time.Time          `json:"expires_at"`
	Disabled        bool                `json:"disabled"`
	Expired         bool                `json:"expired"`
	Phone           string              `json:"phone,omitempty"`
	Email           string              `json:"email,omitempty"`
	Comment         string              `json:"comment,omitempty"`
	Routers         []accountRouterView `json:"routers"`
	CreatedAt       time.Time           `json:"created_at"`
	UpdatedAt       time.Time           `json:"updated_at"`
}

type accountRouterView struct {
	RouterID  string    `json:"router_id"`
	State     string    `json:"state"`
	Message   string    `json:"message,omitempty"`
	CommandID string    `json:"command_id,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newAccountView(a controlplane.Account) accountView {
	v := accountView{
		ID: a.ID, Kind: string(a.Kind), Name: maskIdentity(a.Name), Profile: a.Profile, Service: a.Service,
		LimitUptime: a.LimitUptime, LimitBytesTotal: a.LimitBytesTotal, ExpiresAt: a.ExpiresAt, Disabled: a.Disabled,
		// Phone and email are masked by publish's scrub, which masks
		// every field so named (masking twice would spoil the phone).
		Expired: a.Expired, Phone: a.Phone, Email: a.Email, Comment: maskContactsIn(a.Comment),
		Routers: make([]accountRouterView, 0, len(a.Routers)), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
	for _, r := range a.Routers {
		v.Routers = append(v.Routers, accountRouterView{RouterID: r.RouterID, State: r.State,
			Message: maskContactsIn(r.Message), CommandID: r.CommandID, UpdatedAt: r.UpdatedAt})
	}
	return v
}
