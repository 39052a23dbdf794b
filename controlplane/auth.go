package controlplane

import "time"

// Token is an API token's metadata; the plaintext is shown once, by
// CreateToken, and stored only as a hash.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`   // nil: never
	LastUsedAt *time.Time `json:"last_used_at"` // updated at most once a minute
	RevokedAt  *time.Time `json:"revoked_at"`
}

// LoginRequest is the body of POST /api/v1/auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResponse answers a successful login. Token is the bearer token for
// every later request; it is not retrievable again.
type LoginResponse struct {
	Token     string     `json:"token"`
	ExpiresAt *time.Time `json:"expires_at"`
	User      User       `json:"user"`
}

// MeResponse describes the caller.
type MeResponse struct {
	User   User    `json:"user"`
	Tenant *Tenant `json:"tenant"` // null for system admins
}

// TokenInfo is a bearer token without its secret.
type TokenInfo struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name string `json:"name"`
	// TTLDays is the token's lifetime; 0 means it never expires.
	TTLDays int `json:"ttl_days"`
}

// CreateTokenResponse holds the plaintext token, shown only here.
type CreateTokenResponse struct {
	TokenInfo
	Token string `json:"token"`
}
