package protocol

import "time"

// CommandKind names a typed provisioning command.
type CommandKind string

// Command kinds. Each names the RouterOS menu it changes.
const (
	CmdHotspotUserAdd      CommandKind = "hotspot.user.add"
	CmdHotspotUserSet      CommandKind = "hotspot.user.set"
	CmdHotspotUserRemove   CommandKind = "hotspot.user.remove"
	CmdHotspotUserEnable   CommandKind = "hotspot.user.enable"
	CmdHotspotUserDisable  CommandKind = "hotspot.user.disable"
	CmdHotspotActiveKick   CommandKind = "hotspot.active.kick"
	CmdPPPSecretAdd        CommandKind = "ppp.secret.add"
	CmdPPPSecretSet        CommandKind = "ppp.secret.set"
	CmdPPPSecretRemove     CommandKind = "ppp.secret.remove"
	CmdPPPSecretEnable     CommandKind = "ppp.secret.enable"
	CmdPPPSecretDisable    CommandKind = "ppp.secret.disable"
	CmdPPPActiveKick       CommandKind = "ppp.active.kick"
	CmdHotspotProfileLimit CommandKind = "hotspot.profile.rate_limit"
	CmdPPPProfileLimit     CommandKind = "ppp.profile.rate_limit"
	CmdResync              CommandKind = "resync"
	CmdRaw                 CommandKind = "raw"

	// The profile commands carry a ProfileSpec. They are idempotent in
	// effect on the router: add of an existing name sets it, set of a
	// missing name adds it, remove of a missing name succeeds.
	CmdHotspotProfileAdd    CommandKind = "hotspot.profile.add"
	CmdHotspotProfileSet    CommandKind = "hotspot.profile.set"
	CmdHotspotProfileRemove CommandKind = "hotspot.profile.remove"
	CmdPPPProfileAdd        CommandKind = "ppp.profile.add"
	CmdPPPProfileSet        CommandKind = "ppp.profile.set"
	CmdPPPProfileRemove     CommandKind = "ppp.profile.remove"
)

// CommandKinds lists every kind, in documentation order.
var CommandKinds = []CommandKind{
	CmdHotspotUserAdd, CmdHotspotUserSet, CmdHotspotUserRemove, CmdHotspotUserEnable, CmdHotspotUserDisable,
	CmdHotspotActiveKick,
	CmdPPPSecretAdd, CmdPPPSecretSet, CmdPPPSecretRemove, CmdPPPSecretEnable, CmdPPPSecretDisable,
	CmdPPPActiveKick,
	CmdHotspotProfileLimit, CmdPPPProfileLimit,
	CmdResync, CmdRaw,
	// Appended rather than grouped so that the golden fixtures' ids, which
	// follow this order, stay put.
	CmdHotspotProfileAdd, CmdHotspotProfileSet, CmdHotspotProfileRemove,
	CmdPPPProfileAdd, CmdPPPProfileSet, CmdPPPProfileRemove,
}

// Command is the payload of sp/v1/{router}/cmd. Exactly the params field
// that matches Kind is set (none for resync).
type Command struct {
	V      int         `json:"v"`
	ID     string      `json:"id"`
	Router string      `json:"router"`
	Kind   CommandKind `json:"kind"`
	// IssuedAt is when the command was created; ExpiresAt, when set, is
	// after which the agent must refuse to run it.
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`

	HotspotUser *HotspotUser `json:"hotspot_user,omitempty"`
	PPPSecret   *PPPSecret   `json:"ppp_secret,omitempty"`
	Kick        *Kick        `json:"kick,omitempty"`
	Profile     *ProfileRate `json:"profile,omitempty"`
	Raw         *RawCommand  `json:"raw,omitempty"`
	ProfileSpec *ProfileSpec `json:"profile_spec,omitempty"`
}

// HotspotUser is an /ip/hotspot/user entry. Name identifies it; for set,
// empty fields are left unchanged. Password is a secret: never log it.
type HotspotUser struct {
	Name            string `json:"name"`
	Password        string `json:"password,omitempty"`
	Profile         string `json:"profile,omitempty"`
	Server          string `json:"server,omitempty"`
	MAC             string `json:"mac,omitempty"`
	Email           string `json:"email,omitempty"`
	Comment         string `json:"comment,omitempty"`
	LimitUptime     string `json:"limit_uptime,omitempty"` // RouterOS duration, e.g. 1d2h
	LimitBytesTotal uint64 `json:"limit_bytes_total,omitempty"`
	Disabled        *bool  `json:"disabled,omitempty"`
}

// PPPSecret is a /ppp/secret entry. Name identifies it; for set, empty
// fields are left unchanged. Password is a secret: never log it.
type PPPSecret struct {
	Name          string `json:"name"`
	Password      string `json:"password,omitempty"`
	Service       string `json:"service,omitempty"` // default pppoe
	Profile       string `json:"profile,omitempty"`
	LocalAddress  string `json:"local_address,omitempty"`
	RemoteAddress string `json:"remote_address,omitempty"`
	CallerID      string `json:"caller_id,omitempty"`
	Comment       string `json:"comment,omitempty"`
	Disabled      *bool  `json:"disabled,omitempty"`
}

// Kick ends live sessions. It names a session by Key or RouterOSID, or every
// session of User.
type Kick struct {
	Key        string `json:"key,omitempty"`
	RouterOSID string `json:"ros_id,omitempty"`
	User       string `json:"user,omitempty"`
}

// ProfileRate changes a hotspot or PPP profile's rate limit, e.g. "512k/2M".
type ProfileRate struct {
	Name      string `json:"name"`
	RateLimit string `json:"rate_limit"`
}

// ProfileSpec is an /ip/hotspot/user/profile (hotspot.profile.*) or a
// /ppp/profile (ppp.profile.*) entry, what a billing plan maps to. Name
// identifies it. For add, empty fields take the router's defaults; for set,
// empty fields are left unchanged, so a value is cleared by sending the
// router's neutral one: RateLimit "0/0" (unlimited), SessionTimeout "0s"
// (no timeout), IdleTimeout "none" (hotspot) or "0s" (ppp), SharedUsers 1
// (the router's default); Comment cannot be cleared. Remove reads only
// Name.
type ProfileSpec struct {
	Name string `json:"name"`
	// RateLimit is RouterOS's rx-rate[/tx-rate] [rx-burst-rate[/tx-burst-rate]
	// [rx-burst-threshold[/tx-burst-threshold] [rx-burst-time[/tx-burst-time]
	// [priority] [rx-rate-min[/tx-rate-min]]]]], e.g. "2M/5M".
	RateLimit string `json:"rate_limit,omitempty"`
	// SessionTimeout and IdleTimeout are RouterOS durations (1h, 1d, 4w2d,
	// 00:30:00); IdleTimeout may also be "none".
	SessionTimeout string `json:"session_timeout,omitempty"`
	IdleTimeout    string `json:"idle_timeout,omitempty"`
	// SharedUsers (hotspot only) bounds a user's simultaneous sessions;
	// 0 leaves the router's value (1 on a new profile).
	SharedUsers int `json:"shared_users,omitempty"`
	// LocalAddress and RemoteAddress (ppp only) are an IP address or an
	// /ip/pool name.
	LocalAddress  string `json:"local_address,omitempty"`
	RemoteAddress string `json:"remote_address,omitempty"`
	// OnlyOne (ppp only) allows one session per secret; nil leaves it.
	OnlyOne *bool `json:"only_one,omitempty"`
	// Comment (ppp only: hotspot user profiles have none).
	Comment string `json:"comment,omitempty"`
}

// RawCommand is a RouterOS API sentence run as is. Agents refuse it unless
// Path is in their local allow-list.
type RawCommand struct {
	// Path is the command word, e.g. "/ip/hotspot/host/print".
	Path string `json:"path"`
	// Args are attribute words, e.g. "=.proplist=address" or "?mac-address=…".
	Args []string `json:"args,omitempty"`
}

// ResultStatus is a command's state as reported by the agent.
type ResultStatus string

// Result statuses reported by the agent.
const (
	ResultRunning   ResultStatus = "running"
	ResultSucceeded ResultStatus = "succeeded"
	ResultFailed    ResultStatus = "failed"
)

// Result codes for failed commands.
const (
	CodeRouterError = "router_error" // RouterOS answered !trap; Message has its text
	CodeRefused     = "refused"      // the agent's policy refused it (raw outside allow-list)
	CodeExpired     = "expired"      // it arrived after ExpiresAt
	CodeInvalid     = "invalid"      // it failed validation at the agent
	CodeUnreachable = "unreachable"  // the router could not be reached
	// CodeInterrupted: the agent stopped while the command ran, so its
	// effect on the router is unknown; it is never re-run automatically.
	CodeInterrupted = "interrupted"
)

// CommandResult is the payload of sp/v1/{router}/cmd/result.
type CommandResult struct {
	V      int          `json:"v"`
	ID     string       `json:"id"`
	Router string       `json:"router"`
	Status ResultStatus `json:"status"`
	TS     time.Time    `json:"ts"`
	// Code classifies a failure; Message carries the router's own text.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Ret is RouterOS's =ret= of an add (the new item's .id).
	Ret string `json:"ret,omitempty"`
	// Rows holds the reply rows of a raw print, bounded by the agent.
	Rows []map[string]string `json:"rows,omitempty"`
	// Duplicate is true when the agent answered a redelivered command from
	// its record instead of running it again.
	Duplicate bool `json:"duplicate,omitempty"`
}
