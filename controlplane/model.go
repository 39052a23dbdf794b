package controlplane

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// Role is what a user may do.
type Role string

// Roles, from most to least powerful.
const (
	RoleSystemAdmin Role = "system_admin" // every tenant
	RoleTenantAdmin Role = "tenant_admin" // own tenant; manages users and routers
	RoleTechnician  Role = "technician"   // own tenant; provisioning
	RoleViewer      Role = "viewer"       // own tenant; read only
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleSystemAdmin, RoleTenantAdmin, RoleTechnician, RoleViewer:
		return true
	}
	return false
}

// Tenant status values. Creating a tenant answers 202 and completes on a
// queue, so a tenant is pending until its job has run.
const (
	TenantPending = "pending"
	TenantActive  = "active"
)

// Tenant is an ISP's customer: a reseller or hotspot business.
type Tenant struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person who logs in to the dashboard, API or CLI. System admins
// have TenantID 0.
type User struct {
	ID        int64     `json:"id"`
	TenantID  int64     `json:"tenant_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	// LastLoginAt is the user's last successful dashboard login; nil
	// before the first. It is recorded off the request path (the
	// auth-tracking queue), so it may lag a login by a moment.
	LastLoginAt *time.Time `json:"last_login_at"`
	// FailedLogins is the number of failed logins for the user's email in
	// the current lockout window. Only answers to tenant and system admins
	// carry it (and only when login tracking runs); absent otherwise.
	FailedLogins *int `json:"failed_logins,omitempty"`
}

// Principal is the authenticated caller of an API request or WebSocket
// channel authorization.
type Principal struct {
	UserID   int64
	TenantID int64 // 0 for system admins
	Role     Role
	Email    string
	Name     string
}

// IsSystemAdmin reports whether p may act on every tenant.
func (p Principal) IsSystemAdmin() bool { return p.Role == RoleSystemAdmin }

// CanMutate reports whether p may change anything (viewers may not).
func (p Principal) CanMutate() bool { return p.Role.Valid() && p.Role != RoleViewer }

// CanManage reports whether p may manage users and routers of its tenant.
func (p Principal) CanManage() bool { return p.Role == RoleSystemAdmin || p.Role == RoleTenantAdmin }

// Scope returns the tenant p is limited to, or 0 for every tenant.
func (p Principal) Scope() int64 {
	if p.IsSystemAdmin() {
		return 0
	}
	return p.TenantID
}

// Router states.
const (
	RouterPending = "pending" // created, agent never connected
	RouterOnline  = "online"
	RouterOffline = "offline"
	RouterRevoked = "revoked" // credential revoked; the agent cannot connect
)

// Router is one site's MikroTik router and the agent beside it. Its ID is
// the MQTT client id and username of that agent.
type Router struct {
	ID              string              `json:"id"`
	TenantID        int64               `json:"tenant_id"`
	Name            string              `json:"name"`
	Site            string              `json:"site"`
	Status          string              `json:"status"`
	RouterConnected bool                `json:"router_connected"`
	Identity        string              `json:"identity"`
	RouterOSVersion string              `json:"routeros_version"`
	AgentVersion    string              `json:"agent_version"`
	Board           string              `json:"board"`
	LastSeq         uint64              `json:"last_seq"`
	Epoch           string              `json:"-"` // the agent's seq space of LastSeq (protocol.EventBatch.Epoch)
	LastSeenAt      *time.Time          `json:"last_seen_at"`
	Resources       *protocol.Resources `json:"resources,omitempty"`
	// AuthMode is how the router checks logins: protocol.AuthLocal
	// (accounts provisioned into it) or protocol.AuthRadius (its agent's
	// RADIUS server, from a synced copy).
	AuthMode string `json:"auth_mode"`
	// Radius is the state of the router's RADIUS copy (also kept, and
	// tombstoned, while the router is local).
	Radius    RadiusStatus `json:"radius"`
	CreatedAt time.Time    `json:"created_at"`
}

// Session is a live hotspot or PPPoE session as stored by the control plane.
type Session struct {
	// ID is SessionPublicID(RouterID, Key). The store leaves it empty; the
	// API and the realtime hub set it on what they send, so dashboards can
	// match REST rows to events whose keys are masked.
	ID         string               `json:"id"`
	TenantID   int64                `json:"tenant_id"`
	RouterID   string               `json:"router_id"`
	Kind       protocol.SessionKind `json:"kind"`
	Key        string               `json:"key"`
	RouterOSID string               `json:"ros_id,omitempty"`
	User       string               `json:"user"`
	Address    string               `json:"address,omitempty"`
	MAC        string               `json:"mac,omitempty"`
	Service    string               `json:"service,omitempty"`
	LoginBy    string               `json:"login_by,omitempty"`
	SessionID  string               `json:"session_id,omitempty"`
	StartedAt  time.Time            `json:"started_at"`
	UpdatedAt  time.Time            `json:"updated_at"`
	BytesIn    uint64               `json:"bytes_in"`
	BytesOut   uint64               `json:"bytes_out"`
	PacketsIn  uint64               `json:"packets_in"`
	PacketsOut uint64               `json:"packets_out"`
}

// SessionRecord is an ended session in the history.
type SessionRecord struct {
	Session
	EndedAt   time.Time          `json:"ended_at"`
	EndReason protocol.EndReason `json:"end_reason"`
}

// AuditEntry records who changed what, and with what result.
type AuditEntry struct {
	ID       int64     `json:"id"`
	TenantID int64     `json:"tenant_id"`
	ActorID  int64     `json:"actor_id"` // 0 for the system itself
	Actor    string    `json:"actor"`    // email or "system"
	Action   string    `json:"action"`   // e.g. "router.create", "command.create"
	Target   string    `json:"target"`   // e.g. "router:r-1a2b"
	Result   string    `json:"result"`   // "ok" or an error code
	Detail   string    `json:"detail"`   // never secrets
	At       time.Time `json:"at"`
}

// SessionPublicID is an opaque, stable id for a live session, safe to show
// and broadcast: the session key may hold a phone number or email, which
// broadcasts mask, so dashboards match REST rows and events by this id and
// kick by it.
func SessionPublicID(routerID, key string) string {
	sum := sha256.Sum256([]byte(routerID + "\x00" + key))
	return hex.EncodeToString(sum[:10])
}
