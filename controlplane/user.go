package controlplane

// CreateUserRequest is the body of POST /api/v1/tenants/{id}/users.
type CreateUserRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
}

// UpdateUserRequest is the body of PATCH /api/v1/tenants/{id}/users/{user_id};
// absent fields are left unchanged.
type UpdateUserRequest struct {
	Name     *string `json:"name"`
	Role     *Role   `json:"role"`
	Disabled *bool   `json:"disabled"`
}
