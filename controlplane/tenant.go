package controlplane

// CreateTenantRequest is the body of POST /api/v1/tenants.
type CreateTenantRequest struct {
	Name string `json:"name"`
	// Admin, when given, is the tenant's first admin, created with it (and
	// sent the welcome email).
	Admin *CreateUserRequest `json:"admin,omitempty"`
}

// Accepted answers a mutation that completes asynchronously: poll
// Location until Status is final.
type Accepted struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}
