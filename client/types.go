package client

import (
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// The request and answer shapes below mirror controlplane/api's; they
// move to package controlplane (issue 12), and this file goes then.

// LoginRequest is the body of POST /api/v1/auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResponse answers a successful login; Token is the bearer token.
type LoginResponse struct {
	Token     string            `json:"token"`
	ExpiresAt *time.Time        `json:"expires_at"`
	User      controlplane.User `json:"user"`
}

// MeResponse describes the caller; Tenant is nil for system admins.
type MeResponse struct {
	User   controlplane.User    `json:"user"`
	Tenant *controlplane.Tenant `json:"tenant"`
}

// PusherConfig is what a Pusher client needs to reach the realtime hub;
// Host, Port and TLS are empty when it is on the API's origin.
type PusherConfig struct {
	Key   string `json:"key"`
	AppID string `json:"app_id"`
	Host  string `json:"host,omitempty"`
	Port  int    `json:"port,omitempty"`
	TLS   *bool  `json:"tls,omitempty"`
}

// ClientConfig answers GET /api/v1/config; Pusher is nil when realtime
// is off.
type ClientConfig struct {
	Pusher *PusherConfig `json:"pusher"`
}

// List is the envelope of an unpaginated collection.
type List[T any] struct {
	Data []T `json:"data"`
}

// Page is the envelope of a paginated collection: Total counts every
// match.
type Page[T any] struct {
	Data   []T `json:"data"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// CreateRouterRequest is the body of POST /api/v1/routers.
type CreateRouterRequest struct {
	Name     string `json:"name"`
	Site     string `json:"site"`
	TenantID *int64 `json:"tenant_id"`
}

// RouterSecret answers router creation: Secret is the agent's MQTT
// password, shown only once.
type RouterSecret struct {
	Router       controlplane.Router `json:"router"`
	Secret       string              `json:"secret"`
	AgentCommand string              `json:"agent_command"`
}

// CreateUserRequest is the body of POST /api/v1/tenants/{id}/users.
type CreateUserRequest struct {
	Email    string            `json:"email"`
	Name     string            `json:"name"`
	Role     controlplane.Role `json:"role"`
	Password string            `json:"password"`
}

// Accepted answers a mutation that completes asynchronously.
type Accepted struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

// Stats are the dashboard's figures for the caller's scope.
type Stats struct {
	OnlineHotspot  int       `json:"online_hotspot"`
	OnlinePPPoE    int       `json:"online_pppoe"`
	RoutersOnline  int       `json:"routers_online"`
	RoutersOffline int       `json:"routers_offline"`
	RoutersTotal   int       `json:"routers_total"`
	RxBps          *float64  `json:"rx_bps"`
	TxBps          *float64  `json:"tx_bps"`
	At             time.Time `json:"at"`
}

// BulkResult answers POST /api/v1/commands/bulk: one command per router.
type BulkResult struct {
	BulkID   string                 `json:"bulk_id"`
	Commands []controlplane.Command `json:"commands"`
}

// CommandRequest is the body of POST /api/v1/routers/{id}/commands.
type CommandRequest struct {
	Kind protocol.CommandKind `json:"kind"`
	controlplane.CommandParams
	// TTLSeconds bounds how long it may wait for its router; 0 means
	// the server's default.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
}

// BulkRequest is the body of POST /api/v1/commands/bulk: RouterIDs, or
// AllRouters of the caller's tenant (TenantID's for a system admin).
type BulkRequest struct {
	RouterIDs  []string       `json:"router_ids,omitempty"`
	AllRouters bool           `json:"all_routers,omitempty"`
	TenantID   int64          `json:"tenant_id,omitempty"`
	Command    CommandRequest `json:"command"`
}
