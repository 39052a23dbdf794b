package controlplane

// CreateRouterRequest is the body of POST /api/v1/routers.
type CreateRouterRequest struct {
	Name string `json:"name"`
	Site string `json:"site"`
	// TenantID is required for system admins and must be the caller's own
	// tenant (or absent) for everyone else.
	TenantID *int64 `json:"tenant_id"`
	// AuthMode is protocol.AuthLocal (the default when empty) or
	// protocol.AuthRadius.
	AuthMode string `json:"auth_mode,omitempty"`
}

// RouterSecret answers router creation and secret rotation. Secret is the
// agent's MQTT password and is never shown again; AgentCommand is a
// ready-to-paste command line for the site's agent.
type RouterSecret struct {
	Router       Router `json:"router"`
	Secret       string `json:"secret"`
	AgentCommand string `json:"agent_command"`
}
